"""Scoring classifiers: accuracy and macro-F1 (sklearn), and the evaluation pass of a BERT classifier."""

import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score

from src.cli import progress


def classification_metrics(y_true, y_pred) -> dict:
    """Accuracy and macro-F1, with the number of examples scored (a check that no rank dropped or repeated any)."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro")), "examples": len(y_true)}


@torch.no_grad()
def evaluate(model, loader, accelerator=None, desc: str = "eval") -> dict:
    """Accuracy, macro-F1 and mean cross-entropy of a sequence classifier over batches with `labels`.

    Under several processes, predictions are gathered with `gather_for_metrics`, which drops the samples
    the distributed sampler repeated to even out the last batch.
    """
    model.eval()
    preds, golds, losses = [], [], []
    for batch in progress(loader, desc=desc, leave=False, disable=not _is_main(accelerator)):
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        out = (logits.argmax(-1), batch["labels"], F.cross_entropy(logits.float(), batch["labels"], reduction="none"))
        if accelerator is not None:
            out = accelerator.gather_for_metrics(out)
        for store, tensor in zip((preds, golds, losses), out):
            store.append(tensor.cpu())
    return {**classification_metrics(torch.cat(golds).numpy(), torch.cat(preds).numpy()),
            "loss": float(torch.cat(losses).mean())}


def _is_main(accelerator):
    return accelerator is None or accelerator.is_main_process
