"""Scoring classifiers: accuracy and macro-F1 (sklearn), the evaluation pass of a BERT classifier, and the
paired comparison of two classifiers on the same test set."""

from math import comb

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score

from src.cli import progress


def classification_metrics(y_true, y_pred) -> dict:
    """Accuracy and macro-F1, with the number of examples scored (a check that no rank dropped or repeated any)."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro")), "examples": len(y_true)}


def paired_comparison(y_true, pred_A, pred_B, resamples: int = 10_000, seed: int = 0) -> dict:
    """How B's accuracy differs from A's on the same examples, whether the difference is noise, and how
    often B predicts what A does (`agreement`: a student's fidelity to its teacher).

    Only the examples where exactly one of them is right tell them apart: `A_only` (A right, B wrong) and
    `B_only`. McNemar's exact test: under "equally accurate" each of those n = A_only + B_only examples is
    B's with probability 1/2, so p = P(Binomial(n, 1/2) at least as far from n/2 as B_only), two-sided:
    2 sum_{k <= min(A_only, B_only)} C(n, k) / 2^n, at most 1. The 95 % interval of acc_B - acc_A comes
    from resampling the examples with replacement (paired bootstrap). A resample's difference depends only
    on how many B_only and A_only examples it draws, so the counts are drawn (multinomial) instead of the
    indices: the same distribution in O(resamples) memory, whatever the test set's size.
    """
    y_true, pred_A, pred_B = map(np.asarray, (y_true, pred_A, pred_B))
    right_A, right_B = pred_A == y_true, pred_B == y_true
    A_only, B_only = int((right_A & ~right_B).sum()), int((right_B & ~right_A).sum())
    n = A_only + B_only
    p = min(1.0, 2 * sum(comb(n, k) for k in range(min(A_only, B_only) + 1)) / 2 ** n)  # exact integers
    m = len(y_true)
    counts = np.random.default_rng(seed).multinomial(m, [B_only / m, A_only / m, 1 - n / m], size=resamples)
    diffs = (counts[:, 0] - counts[:, 1]) / m
    return {"examples": len(y_true), "accuracy_A": float(right_A.mean()), "accuracy_B": float(right_B.mean()),
            "agreement": float((pred_A == pred_B).mean()), "A_only": A_only, "B_only": B_only, "mcnemar_p": float(p),
            "diff_95": [float(x) for x in np.percentile(diffs, [2.5, 97.5])]}


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
