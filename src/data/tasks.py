"""GLUE and CLUE tasks by name: the layout of their files where the file alone does not tell it, and the metric
that picks the best checkpoint (each benchmark's own: Wang et al. 2019 for GLUE, Xu et al. 2020 for CLUE)."""

import os
from dataclasses import dataclass

from src.common.cli import InputError
from src.common.files import load_json


@dataclass(frozen=True)
class Task:
    metric: str = "accuracy"  # the main metric: the best dev checkpoint is chosen by it
    columns: str | None = None  # the column names of its headerless files (read_examples' `columns`)
    test_file: str = "dev"  # the labelled file a task directory holds besides train; it serves as test here
    language: str = "en"  # GLUE's are English, CLUE's and the other Chinese sets Chinese (tables group by it)


TASKS = {
    "cola": Task("mcc", columns="source,label,mark,sentence"),
    "sst-2": Task(),
    "mrpc": Task("f1"),
    "sts-b": Task("pearson"),
    "qqp": Task("f1"),
    "mnli": Task(test_file="dev_matched"),
    "qnli": Task(),
    "rte": Task(),
    "wnli": Task(),
    "chnsenticorp": Task(language="zh"),
    "lcqmc": Task(columns="text_a,text_b,label", language="zh"),
    "bq": Task(language="zh"),
    "afqmc": Task(language="zh"),
    "xnli": Task(language="zh"),
    "ocnli": Task(language="zh"),
    "tnews": Task(columns="text,label", language="zh"),
}
# other spellings of the names: GLUE's directory names, the CLUE/Chinese folders' names
ALIASES = {"sst2": "sst-2", "stsb": "sts-b", "bq_corpus": "bq", "xnli_zh": "xnli"}


def task_name(name: str | None) -> str | None:
    """The TASKS key of a task name in any of its spellings (`STS-B`, `stsb`, `xnli_zh`), or None."""
    if not name:
        return None
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in TASKS else None


def task_data_dir(root: str, name: str) -> str:
    """The directory of task `name` under `root` (TinyBERT's --glue_dir and --task_name): the first that exists of
    `name` as given, lower-cased, and every spelling of its task (`sst-2`: sst-2, sst2), else `<root>/<name>`."""
    key = task_name(name)
    spellings = [name, name.lower(), *([key, *(a for a, k in ALIASES.items() if k == key)] if key else [])]
    return next((os.path.join(root, s) for s in spellings if os.path.isdir(os.path.join(root, s))),
                os.path.join(root, name))


def task_of_path(path: str) -> str | None:
    """The task a file or directory belongs to, by the directory's name (`glue_data/MRPC/train.tsv` or
    `data/mrpc` is mrpc), or None."""
    path = os.path.abspath(path)
    return task_name(os.path.basename(path)) or task_name(os.path.basename(os.path.dirname(path)))


def data_task(data_dir: str, name: str | None = None) -> str | None:
    """The task of a data directory: `name` (TinyBERT's --task_name) when it is a known task, else the one
    prepare_data.py recorded in prepare.json, else the directory's own name."""
    record = os.path.join(data_dir, "prepare.json")
    recorded = load_json(record).get("task") if os.path.isfile(record) else None
    return task_name(name) or task_name(recorded) or task_of_path(data_dir)


CORRELATIONS = ("pearson", "spearman")  # a regressor's metrics; the others are a classifier's
METRICS = ("accuracy", "f1", "macro_f1", "mcc", *CORRELATIONS)


def main_metric(task: str | None, regression: bool, chosen: str = "auto") -> str:
    """The metric that picks the best checkpoint: `chosen` (a --metric flag), or by default Pearson's r for a
    regression, else the task's, or accuracy. A classifier's metric for a regressor, or the reverse, is an
    InputError."""
    if chosen != "auto":
        if regression != (chosen in CORRELATIONS):
            kind = "scores" if regression else "classes"
            raise InputError(f"--metric {chosen} does not score {kind}; use one of "
                             f"{', '.join(CORRELATIONS if regression else METRICS[:4])}")
        return chosen
    if regression:
        return "pearson"
    return TASKS[task].metric if task is not None else "accuracy"
