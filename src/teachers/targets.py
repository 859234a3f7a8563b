"""The teachers of a distillation, one or several, and the targets a student learns from them.

A teacher is a fine-tuned BERT-family classifier (a `save_pretrained` directory or a hub id) or a linear TF-IDF
model (`src/linear_teacher.py`, a directory with model.joblib). Each teacher's outputs on a set of inputs are
cached on disk per teacher (`src/teachers/cache.py`): a BERT's logits, a linear teacher's log-probabilities.
One teacher's outputs are the targets as they are (Tang et al. and TinyBERT learn the raw logits); several
teachers' targets are the weighted mean of their log-probabilities (`ensemble_targets`).
"""

import argparse
import hashlib
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from src.common.cli import InputError, logger
from src.common.files import load_json
from src.data.examples import SCORE_LABELS, Text, check_input_kind, input_hashes
from src.modeling.bert import (
    classifier_predictor,
    count_parameters,
    load_classifier,
    load_tokenizer,
    model_label_list,
    reads_pairs,
)
from src.modeling.linear import LINEAR_FILE, is_linear, linear_log_probs, load_linear
from src.teachers.cache import cache_file, cached_outputs, cached_teacher_logits, find_keys, read_cache
from src.train.evaluation import task_metrics

CROSS_FIT_FILE = "train_log_probs.bin"  # its training texts' out-of-fold log-probabilities (`read_cache` format)
DEFAULT_TEACHER_LENGTH = 128  # word pieces of a teacher without an args.json (a hub id)
WEIGHT_STEPS = 10  # --teacher_weights_on_dev tries weights in multiples of 1/10


@dataclass
class Teacher:
    """One teacher: where it came from, its label names (in logit order), the model (a transformers classifier,
    or a fitted scikit-learn pipeline), and for a BERT its tokenizer and the word pieces it reads."""
    source: str
    labels: list[str]
    model: Any
    tokenizer: Any = None
    max_seq_length: int = DEFAULT_TEACHER_LENGTH

    @property
    def kind(self) -> str:
        return "bert" if self.tokenizer is not None else "linear"

    @property
    def pairs(self) -> bool:
        return self.kind == "bert" and reads_pairs(self.model.config)

    @property
    def num_params(self) -> int:
        if self.kind == "bert":
            return count_parameters(self.model)
        classifier = self.model[-1]  # the pipeline's logistic regression
        return int(classifier.coef_.size + classifier.intercept_.size)


def load_teacher(source: str, device: torch.device | str = "cpu", max_seq_length: int | None = None,
                 do_lower_case: bool = False, **bert_kwargs) -> Teacher:
    """A teacher from its directory (or hub id). A BERT goes to `device` in eval mode and reads `max_seq_length`
    word pieces, else its own from its args.json, else 128; `bert_kwargs` go to `load_classifier`."""
    if is_linear(source):
        pipeline, labels = load_linear(source)
        return Teacher(source, labels, pipeline)
    model = load_classifier(source, **bert_kwargs).to(device).eval()
    args_path = os.path.join(source, "args.json")
    length = max_seq_length or (load_json(args_path).get("max_seq_length", DEFAULT_TEACHER_LENGTH)
                                if os.path.isfile(args_path) else DEFAULT_TEACHER_LENGTH)
    return Teacher(source, model_label_list(model), model, load_tokenizer(source, do_lower_case), length)


def check_same_labels(teachers: list[Teacher]) -> None:
    """Teachers must share their label names, in the same order, since their outputs are averaged column by
    column; refused in one line otherwise."""
    for t in teachers[1:]:
        if t.labels != teachers[0].labels:
            raise InputError(f"the teachers disagree on the labels: {teachers[0].source} has {teachers[0].labels}, "
                             f"{t.source} has {t.labels}; train them on the same label set")


def load_teachers(sources: list[str], **kwargs) -> list[Teacher]:
    """The teachers of `sources` (`load_teacher`), checked to share their labels (`check_same_labels`)."""
    teachers = [load_teacher(source, **kwargs) for source in sources]
    check_same_labels(teachers)
    return teachers


def first_bert(sources: list[str]) -> str | None:
    """The first of `sources` that is a BERT (not a linear teacher), or None."""
    return next((s for s in sources if not is_linear(s)), None)


def check_teachers_read(teachers: list[Teacher], inputs: list[Text], source: str) -> None:
    """Refuse inputs of the other kind (single texts or pairs) than any teacher reads, in one line."""
    for t in teachers:
        check_input_kind(inputs, t.pairs, t.source, source)


def add_teacher_args(p: argparse.ArgumentParser, teacher_help: str) -> None:
    """--teacher_model (repeatable: several teachers), --teacher_weights and --teacher_weights_on_dev."""
    p.add_argument("--teacher_model", action="append", default=None, help=teacher_help)
    p.add_argument("--teacher_weights", default=None,
                   help="comma-separated weight of each --teacher_model, in order (default: equal weights)")
    p.add_argument("--teacher_weights_on_dev", action="store_true",
                   help="several teachers: the weights (multiples of 0.1 summing to 1) whose ensemble scores best on "
                        "dev, instead of --teacher_weights")


def check_teacher_weights(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--teacher_weights as a list of floats, one per --teacher_model (`parse_weights`), or the parser's error."""
    try:
        args.teacher_weights = parse_weights(args.teacher_weights, len(args.teacher_model or []))
    except ValueError as e:
        p.error(str(e))


def parse_weights(text: str | None, n: int) -> list[float]:
    """--teacher_weights: comma-separated non-negative numbers, one per teacher, not all 0; None: equal.
    Raises ValueError, for the parser to report."""
    if text is None:
        return [1.0] * n
    try:
        weights = [float(w) for w in text.split(",")]
    except ValueError:
        weights = []
    if len(weights) != n or min(weights) < 0 or not sum(weights):
        raise ValueError(f"--teacher_weights {text}: give {n} non-negative numbers, one per --teacher_model, "
                         "not all 0 (e.g. 1,1)")
    return weights


def ensemble_targets(outputs_T: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """The targets z_T (N, C) a student learns from K teachers' outputs z_T^k (each (N, C)).

    One teacher (K = 1): its outputs unchanged, the logits of the papers. Several classifiers:
        z_T = sum_k w_k log softmax(z_T^k) / sum_k w_k,
    the weighted mean of the teachers' log-probabilities: raw logits are not comparable across teachers (a
    linear teacher's are log-probabilities, a BERT's have any scale and a per-row shift), while log-probabilities
    are; softmax(z_T) is the weighted geometric mean of the teachers' probabilities, renormalised (a product
    of experts). Regressors (C = 1): the weighted mean of their scores.
    """
    if len(outputs_T) == 1:
        return outputs_T[0]
    w = torch.tensor(weights, dtype=torch.float32) / sum(weights)  # (K,)
    stacked = torch.stack(outputs_T).float()  # (K, N, C)
    if stacked.shape[-1] > 1:
        stacked = stacked.log_softmax(-1)
    return torch.einsum("k,knc->nc", w, stacked)


def linear_cache_key(teacher: Teacher) -> str:
    """What a linear teacher's outputs depend on: the bytes of its fitted pipeline and out-of-fold rows."""
    key = hashlib.sha1(b"linear")
    for name in (LINEAR_FILE, CROSS_FIT_FILE):
        if os.path.isfile(path := os.path.join(teacher.source, name)):
            with open(path, "rb") as f:
                key.update(hashlib.file_digest(f, "sha1").digest())
    return key.hexdigest()


def linear_outputs(teacher: Teacher, inputs: Sequence[str]) -> np.ndarray:
    """A linear teacher's log-probabilities (N, C) of `inputs`; a training text's are its out-of-fold ones
    (CROSS_FIT_FILE, from linear_teacher.py --cross_fit), where the teacher has them."""
    out = linear_log_probs(teacher.model, inputs)
    keys, held_out = read_cache(os.path.join(teacher.source, CROSS_FIT_FILE), out.shape[1])
    found, pos = find_keys(keys, input_hashes(inputs))
    out[found] = held_out[pos[found]]
    return out


def teacher_outputs(teacher: Teacher, inputs: Sequence[Text], batch_size: int, cache_dir: str | None
                    ) -> tuple[torch.Tensor, int]:
    """One teacher's outputs (N, C) on `inputs`, cached per teacher in `cache_dir`: a BERT's logits, a linear
    teacher's log-probabilities. Returns (outputs, n_computed)."""
    if teacher.kind == "bert":
        return cached_teacher_logits(teacher.model, teacher.tokenizer, inputs, teacher.max_seq_length, batch_size,
                                     cache_dir)
    path = cache_file(cache_dir, linear_cache_key(teacher)) if cache_dir else None
    return cached_outputs(lambda rows: linear_outputs(teacher, rows), inputs, len(teacher.labels), path)


def teacher_targets(teachers: list[Teacher], weights: list[float], inputs: Sequence[Text], batch_size: int,
                    cache_dir: str | None) -> tuple[torch.Tensor, int]:
    """The targets (N, C) of `ensemble_targets` on `inputs`, each teacher's outputs from the cache where it has
    them. Returns (targets, outputs computed over all teachers)."""
    outputs, computed = zip(*(teacher_outputs(t, inputs, batch_size, cache_dir) for t in teachers))
    for t, n in zip(teachers, computed):
        logger.info(f"teacher {t.source} ({t.kind}): {n} outputs computed, {len(inputs) - n} from the cache")
    return ensemble_targets(list(outputs), weights), sum(computed)


def weight_grid(k: int, steps: int = WEIGHT_STEPS) -> list[list[float]]:
    """Every weighting of `k` teachers in multiples of 1/steps that sums to 1, the most even first."""
    grid = [[n / steps for n in w] for w in itertools.product(range(steps + 1), repeat=k) if sum(w) == steps]
    return sorted(grid, key=lambda w: max(w) - min(w))


def pick_weights(outputs_dev: list[torch.Tensor], labels: list, metric: str) -> tuple[list[float], dict[str, float]]:
    """The teacher weights (`weight_grid`) whose ensemble (`ensemble_targets`) scores best on dev by `metric`,
    the most even one among ties; and every weighting's dev score."""
    regression = outputs_dev[0].shape[-1] == 1
    tried = {}
    for w in weight_grid(len(outputs_dev)):
        preds = predictions(ensemble_targets(outputs_dev, w))
        tried[",".join(f"{x:g}" for x in w)] = task_metrics(np.array(labels), preds, regression)[metric]
    best = max(tried, key=tried.get)  # the first maximum: the most even weighting among ties
    return [float(x) for x in best.split(",")], tried


def dev_weights(teachers: list[Teacher], weights: list[float], on_dev: bool, dev: tuple[list, list], metric: str,
                batch_size: int, cache_dir: str | None) -> tuple[list[float], dict]:
    """The teachers' weights: `weights` (--teacher_weights), or with `on_dev` (--teacher_weights_on_dev) and
    several teachers the ones `pick_weights` finds on `dev` (inputs, gold labels). Returns (weights, its
    metrics.json entries)."""
    if not on_dev or len(teachers) == 1:
        return weights, {}
    outputs = [teacher_outputs(t, dev[0], batch_size, cache_dir)[0] for t in teachers]
    picked, tried = pick_weights(outputs, dev[1], metric)
    logger.info(f"teacher weights picked on dev: {picked} (dev {metric} {max(tried.values()):.4f}; equal weights "
                f"{tried[next(iter(tried))]:.4f})")
    return picked, {"teacher_weights_by_dev": tried}


def predictions(outputs: torch.Tensor) -> np.ndarray:
    """Class ids (argmax) of classifier outputs (N, C), or a regressor's scores (N, 1)."""
    return outputs[:, 0].numpy() if outputs.shape[-1] == 1 else outputs.argmax(-1).numpy()


def score_teachers(teachers: list[Teacher], weights: list[float], splits: dict[str, tuple[list, list]],
                   batch_size: int, cache_dir: str | None) -> dict:
    """What metrics.json records of the teachers: `teachers` (each one's source, kind, weight, parameters and
    `task_metrics` on each split of `splits` {name: (inputs, gold labels)}), `ensemble` (the targets' scores, with
    several teachers) and `teacher_scores`, the scores of what the student learns from (the one teacher, or the
    ensemble)."""
    regression = teachers[0].labels == SCORE_LABELS
    outputs = [{name: teacher_outputs(t, x, batch_size, cache_dir)[0] for name, (x, _) in splits.items()}
               for t in teachers]

    def scores(by_split: dict) -> dict:
        return {name: task_metrics(np.array(splits[name][1]), predictions(out), regression)
                for name, out in by_split.items()}

    record = {"teachers": [{"model": t.source, "kind": t.kind, "weight": w, "num_params": t.num_params, **scores(o)}
                           for t, w, o in zip(teachers, weights, outputs)]}
    if len(teachers) > 1:
        record["ensemble"] = scores({name: ensemble_targets([o[name] for o in outputs], weights) for name in splits})
    record["teacher_scores"] = record.get("ensemble") or {name: record["teachers"][0][name] for name in splits}
    return record


def teacher_predictor(teacher: Teacher) -> Callable[[list[Text]], torch.Tensor]:
    """texts -> outputs (B, C) on the CPU, tokenisation included: what a speed comparison times."""
    if teacher.kind == "bert":
        return classifier_predictor(teacher.model.cpu(), teacher.tokenizer, teacher.max_seq_length)
    return lambda texts: torch.from_numpy(linear_log_probs(teacher.model, texts))


def describe(teachers: list[Teacher], weights: list[float]) -> str:
    """`a (bert, 22.7M params, weight 1)` for each teacher, for the run's banner."""
    return "; ".join(f"{t.source} ({t.kind}, {t.num_params / 1e6:.2f}M params, weight {w:g})"
                     for t, w in zip(teachers, weights))
