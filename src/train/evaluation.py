"""Scoring classifiers and regressors: the GLUE/CLUE metrics (sklearn, scipy), the evaluation pass of a BERT
model, and the paired comparison of two classifiers on the same test set."""

from math import comb

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from src.common.cli import progress


def classification_metrics(y_true, y_pred) -> dict:
    """Accuracy, macro-F1 (many classes: TNEWS) and Matthews' correlation (CoLA), with two classes also the F1 of
    class 1 (MRPC, QQP: the paraphrase), and the number of examples scored (a check that no rank dropped or
    repeated any)."""
    scores = {"accuracy": float(accuracy_score(y_true, y_pred)),
              "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
              "mcc": float(matthews_corrcoef(y_true, y_pred))}
    if set(np.unique(y_true)) | set(np.unique(y_pred)) <= {0, 1}:
        scores["f1"] = float(f1_score(y_true, y_pred, pos_label=1, zero_division=0))
    return {**scores, "examples": len(y_true)}


def regression_metrics(y_true, y_pred) -> dict:
    """Pearson's and Spearman's correlation (STS-B) and the mean squared error, with the number of examples.
    A constant prediction has no correlation: 0."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    constant = np.ptp(y_pred) == 0 or np.ptp(y_true) == 0
    return {"pearson": 0.0 if constant else float(pearsonr(y_true, y_pred)[0]),
            "spearman": 0.0 if constant else float(spearmanr(y_true, y_pred)[0]),
            "mse": float(np.mean((y_true - y_pred) ** 2)), "examples": len(y_true)}


def task_metrics(y_true, y_pred, regression: bool) -> dict:
    """`regression_metrics` of scores, or `classification_metrics` of class ids."""
    return (regression_metrics if regression else classification_metrics)(y_true, y_pred)


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


def is_regressor(model) -> bool:
    """A BERT model with one output scoring a regression (STS-B), not a classifier."""
    return model.config.num_labels == 1


@torch.no_grad()
def evaluate(model, loader, accelerator=None, desc: str = "eval") -> dict:
    """`task_metrics` and the mean loss (cross-entropy, or squared error for a regressor) of a BERT model over
    batches with `labels`.

    Under several processes, predictions are gathered with `gather_for_metrics`, which drops the samples
    the distributed sampler repeated to even out the last batch.
    """
    model.eval()
    regression = is_regressor(model)
    preds, golds, losses = [], [], []
    for batch in progress(loader, desc=desc, leave=False, disable=not _is_main(accelerator)):
        logits, gold = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float(), batch["labels"]
        if regression:  # (B, 1) scores
            out = (logits[:, 0], gold, F.mse_loss(logits[:, 0], gold.float(), reduction="none"))
        else:
            out = (logits.argmax(-1), gold, F.cross_entropy(logits, gold, reduction="none"))
        if accelerator is not None:
            out = accelerator.gather_for_metrics(out)
        for store, tensor in zip((preds, golds, losses), out):
            store.append(tensor.cpu())
    return {**task_metrics(torch.cat(golds).numpy(), torch.cat(preds).numpy(), regression),
            "loss": float(torch.cat(losses).mean())}


def _is_main(accelerator):
    return accelerator is None or accelerator.is_main_process
