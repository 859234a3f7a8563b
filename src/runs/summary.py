"""What a stage tells its user at the end: one summary line, and a warning when a model learned nothing
beyond the majority class."""

from collections import Counter

import numpy as np

from src.common.cli import logger
from src.train.evaluation import task_metrics


def summary_line(stage: str, output: str, *, dev: dict | None = None, test: dict | None = None,
                 metric: str = "accuracy", teacher_test: dict | None = None, floor: float | None = None,
                 speed: dict | None = None, facts: tuple[str, ...] = ()) -> str:
    """`done: <stage> | dev <metric> x, test <metric> y | z % of the teacher | n x faster | <facts> | -> <output>`:
    the scores of the kept checkpoint, the student's test score as a share of its teacher's and, given the
    majority-class `floor`, of the teacher's gain over it ("the teacher is at chance" where it has none), the CPU
    speed-up at batch 64 (a `compare_speed` result), free-form facts; the parts a stage does not have are left
    out."""
    parts = [f"done: {stage}"]
    scored = [f"{split} {metric} {scores[metric]:.4f}" for split, scores in (("dev", dev), ("test", test))
              if scores and scores.get(metric) is not None]
    if scored:
        parts.append(", ".join(scored))
    if test and teacher_test and floor is not None and teacher_test[metric] <= floor:
        parts.append(f"the teacher is at chance (test {metric} {teacher_test[metric]:.4f}; always answering the "
                     f"majority class {floor:.4f})")
    elif test and teacher_test and teacher_test.get(metric):
        share = f"{test[metric] / teacher_test[metric]:.1%} of the teacher's test {metric}"
        if floor:  # a floor of 0 (MCC, Pearson) makes the share of the gain the share of the score
            gain = gain_share(test[metric], teacher_test[metric], floor)
            share += f", {gain:.1%} of its gain over the majority class"
        parts.append(share)
    if speed:
        parts.append(f"{speed['speedup_batch_64']:.1f}x the teacher's speed (batch 64, CPU)")
    return " | ".join([*parts, *facts, f"-> {output}"])


def print_summary(stage: str, output: str, **kwargs) -> None:
    """Print `summary_line` on stdout: the stage's result, after its log lines."""
    print(summary_line(stage, output, **kwargs), flush=True)


def majority_floor(train_labels: list, test_labels: list, metric: str) -> float:
    """`metric` on `test_labels` of always answering the majority class of `train_labels` (class ids): what a
    model that learned nothing scores. 0 for correlations (MCC, Pearson, Spearman) and for a regressor."""
    if metric in ("mcc", "pearson", "spearman") or not train_labels or isinstance(train_labels[0], float):
        return 0.0
    majority = Counter(train_labels).most_common(1)[0][0]
    return task_metrics(np.array(test_labels), np.full(len(test_labels), majority), False)[metric]


def gain_share(student: float, teacher: float, floor: float) -> float | None:
    """(student - floor) / (teacher - floor): the share of what the teacher learned beyond the majority-class floor
    that the student kept; None where the teacher is not above the floor."""
    return (student - floor) / (teacher - floor) if teacher > floor else None


def vs_teacher(test: dict, teacher_scores: dict | None, metric: str = "accuracy", floor: float | None = None
               ) -> dict:
    """The student's test `metric` as a share of its teacher's (`teacher_scores` {"test": ...}; None without)
    and, given the majority-class `floor` (`majority_floor`), `share_of_teacher_gain` (`gain_share`)."""
    teacher_test = (teacher_scores or {}).get("test") or {}
    out = {f"test_{metric}_vs_teacher": test[metric] / teacher_test[metric] if teacher_test.get(metric) else None}
    if floor is not None:
        out.update(majority_floor=floor, share_of_teacher_gain=gain_share(test[metric], teacher_test[metric], floor)
                   if teacher_test.get(metric) is not None else None)
    return out


MIN_PEARSON = 0.1  # a regressor whose dev scores correlate less with the gold ones has learned next to nothing
# A classifier whose predictions correlate less with the labels (Matthews) has learned next to nothing, even
# when its accuracy is a hair above the majority rate (AFQMC's teacher: 68.07 % against 68.05 %, MCC 0.03).
MIN_MCC = 0.05


def chance_check(dev: dict, dev_labels: list, metric: str = "accuracy") -> dict:
    """Whether the kept checkpoint is no better than chance: a classifier's dev accuracy no better than always
    answering the majority class of `dev_labels`, or its Matthews correlation below MIN_MCC; a regressor's
    (`metric` pearson) dev Pearson below MIN_PEARSON.
    Logs one WARNING line saying what to try. Returns the entries metrics.json records: `at_chance`, and for a
    classifier `majority_rate`."""
    hint = "try more epochs, a higher learning rate or more data"
    if metric == "pearson":
        at_chance = dev["pearson"] < MIN_PEARSON
        if at_chance:
            logger.warning(f"WARNING: dev Pearson {dev['pearson']:.4f} is below {MIN_PEARSON}: the scores barely "
                           f"follow the gold ones; {hint}")
        return {"at_chance": at_chance}
    majority = Counter(dev_labels).most_common(1)[0][1] / len(dev_labels) if dev_labels else 0.0
    at_majority, weak = bool(dev_labels) and dev["accuracy"] <= majority, dev.get("mcc", 1.0) < MIN_MCC
    if at_majority:
        logger.warning(f"WARNING: dev accuracy {dev['accuracy']:.4f} is not above the majority-class rate "
                       f"{majority:.4f}: the model learned nothing beyond the largest class; {hint}")
    elif weak:
        logger.warning(f"WARNING: dev MCC {dev['mcc']:.4f} is below {MIN_MCC} (accuracy {dev['accuracy']:.4f}, "
                       f"majority-class rate {majority:.4f}): the predictions barely follow the labels; {hint}")
    return {"at_chance": at_majority or weak, "majority_rate": majority}
