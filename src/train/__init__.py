"""Training: the one engine every stage's loop runs in (`engine.fit`), the distillation losses, evaluation by
the task's metrics, and tokenized training sets on disk."""
