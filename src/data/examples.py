"""What a data set is made of: examples (single texts or sentence pairs, with class labels or scores), the
column names and formats of data files, the data-format flags, writing examples in the project's own layout,
label ids, the split files of a data directory, and the CJK check. Reading files is `src/data/reading.py`."""

import argparse
import hashlib
import os
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from src.common.cli import InputError

TEXT_COLUMNS = ("sentence", "text", "review", "text_a")  # text_a: PaddleNLP's ChnSentiCorp layout
# (first, second) text columns of the pair layouts: PaddleNLP/CLUE, GLUE RTE/WNLI/STS-B/MNLI and BQ/AFQMC/OCNLI,
# QQP, MRPC, query-title matching, QNLI
PAIR_COLUMNS = (("text_a", "text_b"), ("sentence1", "sentence2"), ("question1", "question2"),
                ("#1 string", "#2 string"), ("query", "title"), ("question", "sentence"))
LABEL_COLUMNS = ("label", "gold_label", "score", "is_duplicate", "quality")  # GLUE, MNLI, STS-B, QQP, MRPC
SCORE_LABELS = ["score"]  # the label list of a regressor: one output, the score
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, a leading BOM (as Excel and WPS write it) dropped
FORMATS = (".tsv", ".csv", ".jsonl")


SPLITS = ("train", "dev", "test")


Text = str | tuple[str, str]  # what a model reads: one text, or a sentence pair (text_a, text_b)


@dataclass
class Example:
    text: str  # the text, or a pair's first text (text_a)
    label: str | None  # a class name or a score as written; None where the labels are withheld (unlabeled.tsv)
    text_b: str | None = None  # a pair's second text

    @property
    def input(self) -> Text:
        return self.text if self.text_b is None else (self.text, self.text_b)


def is_pairs(inputs: list[Text]) -> bool:
    """Whether `inputs` (of `Example.input`) are sentence pairs."""
    return bool(inputs) and isinstance(inputs[0], tuple)


def input_kind(inputs: list[Text]) -> str:
    """'sentence pairs' or 'single texts', for messages."""
    return "sentence pairs" if is_pairs(inputs) else "single texts"


def check_input_kind(inputs: list[Text], pairs: bool, model: str, source: str, pair_hint: str = "") -> None:
    """Refuse single texts for a model trained on sentence pairs (`pairs`), and pairs for one trained on texts;
    `pair_hint` says how to give pairs."""
    if inputs and is_pairs(inputs) != pairs:
        wanted = f"sentence pairs{pair_hint}" if pairs else "single texts"
        raise InputError(f"{source} holds {input_kind(inputs)}, but {model} was trained on {wanted}")


def iter_texts(inputs: Iterable[Text]) -> Iterator[str]:
    """Every text of `inputs`, lazily: the texts, or both texts of each pair."""
    return (t for x in inputs for t in ((x,) if isinstance(x, str) else x))


def all_texts(inputs: list[Text]) -> list[str]:
    """Every text of `inputs` (`iter_texts`) as a list."""
    return list(iter_texts(inputs))


def input_key(x: Text) -> str:
    """One string per input, for hashing and deduplication: the text, or a pair's two texts joined by a tab
    (no cleaned text holds one)."""
    return x if isinstance(x, str) else "\t".join(x)


def clean_text(text: str) -> str:
    return " ".join(text.split())


def add_data_format_args(p: argparse.ArgumentParser) -> None:
    """Flags of the stages that read data files: which columns hold the texts and the label, the task type, and
    the encoding."""
    p.add_argument("--text_column", default=None,
                   help="the text column (a pair's first) of data files with a header, instead of the default names "
                        f"({', '.join(TEXT_COLUMNS)}, or a pair layout's: {', '.join(a for a, _ in PAIR_COLUMNS)})")
    p.add_argument("--text_b_column", default=None,
                   help="a pair's second text column, instead of the pair layouts' "
                        f"({', '.join(b for _, b in PAIR_COLUMNS)})")
    p.add_argument("--label_column", default=None,
                   help=f"the label (or score) column, instead of the default names ({', '.join(LABEL_COLUMNS)})")
    p.add_argument("--columns", default=None,
                   help="the column names of headerless files, comma-separated in file order (e.g. GLUE CoLA: "
                        "source,label,mark,sentence; TNEWS: text,label); default: label,text, or text_a,text_b,label "
                        "for three fields")
    p.add_argument("--task_type", choices=("auto", "classification", "regression"), default="auto",
                   help="auto: a regression when the labels are numbers and not all whole (STS-B's 0-5 scores)")
    p.add_argument("--encoding", default=DEFAULT_ENCODING,
                   help="encoding of the data files, e.g. gbk (default: UTF-8, a leading BOM dropped)")


def data_format(args: argparse.Namespace) -> dict:
    """The keyword arguments of `read_examples` (and `load_split`, `load_unlabeled`) set by `add_data_format_args`."""
    return {"text_column": args.text_column, "text_b_column": args.text_b_column, "label_column": args.label_column,
            "columns": args.columns, "encoding": args.encoding}


def write_examples(path: str, examples: list[Example]) -> None:
    """Write examples in the project's own layout (WRITTEN_HEADERS): a `label<TAB>text` header, or
    `label<TAB>text_a<TAB>text_b` for pairs; without the label column when every label is None."""
    with_labels = any(ex.label is not None for ex in examples)
    pairs = any(ex.text_b is not None for ex in examples)
    header = (["label"] if with_labels else []) + (["text_a", "text_b"] if pairs else ["text"])
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for ex in examples:
            texts = [ex.text, ex.text_b or ""] if pairs else [ex.text]
            fields = ([str(ex.label)] if with_labels else []) + [clean_text(t) for t in texts]  # no tabs or newlines
            f.write("\t".join(fields) + "\n")


def _number(label: str) -> float | None:
    try:
        return float(label)
    except ValueError:
        return None


def is_regression(labels: list[str]) -> bool:
    """Scores rather than classes: at least 90 % of the labels are numbers (the rest is then refused by
    `encode_labels`, not turned into classes) and some are not whole numbers (STS-B's 3.8; a 1-5 star rating
    of whole numbers stays five classes)."""
    numbers = [x for x in map(_number, labels) if x is not None]
    return len(numbers) >= 0.9 * len(labels) and any(not x.is_integer() for x in numbers)


def label_list_from(examples: list[Example], task_type: str = "auto") -> list[str]:
    """The label list of a model trained on `examples`: SCORE_LABELS for a regression (`task_type`, or detected
    by `is_regression`), else the sorted label set (numerically when every label is an integer)."""
    labels = [ex.label for ex in examples]
    if task_type == "regression" or (task_type == "auto" and is_regression(labels)):
        return SCORE_LABELS
    distinct = set(labels)
    if all(label.lstrip("-").isdigit() for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def encode_labels(examples: list[Example], label_list: list[str], path: str) -> list[int] | list[float]:
    """Map labels to ids, or for a regressor (SCORE_LABELS) to float scores; an unknown label, or a score that is
    no number, is an InputError naming the file (and the example)."""
    if label_list == SCORE_LABELS:
        scores = [_number(ex.label) for ex in examples]
        if None in scores:
            i = scores.index(None)
            raise InputError(f"{path}: the score of example {i + 1} ({examples[i].label!r}) is not a number")
        return scores
    label2id = {label: i for i, label in enumerate(label_list)}
    unknown = sorted({ex.label for ex in examples} - set(label2id))
    if unknown:
        raise InputError(f"{path}: label(s) {unknown[:5]} not in the training label set {label_list}")
    return [label2id[ex.label] for ex in examples]


def split_file(data_dir: str, split: str) -> str | None:
    """The file of `split` in `data_dir` (`<split>.tsv`, `.csv` or `.jsonl`), or None when there is none; two
    files for one split are an InputError naming both."""
    found = [path for ext in FORMATS if os.path.isfile(path := os.path.join(data_dir, split + ext))]
    if len(found) > 1:
        raise InputError(f"{data_dir} has {' and '.join(found)} for the {split} split; keep only one")
    return found[0] if found else None


def data_files(data_dir: str | None, splits: tuple[str, ...] = (*SPLITS, "unlabeled", "train_aug", "unlabeled_aug")
               ) -> list[str]:
    """The files of `splits` that `data_dir` holds, in every format (what a stage reading it must not write over)."""
    if not data_dir:
        return []
    return [path for split in splits for ext in FORMATS if os.path.isfile(path := os.path.join(data_dir, split + ext))]


def is_cjk_char(char: str) -> bool:
    """A CJK ideograph (by its Unicode name)."""
    return unicodedata.name(char, "").startswith("CJK")


def is_cjk(text: str, threshold: float = 0.3) -> bool:
    """True when at least `threshold` of the non-space characters are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and sum(map(is_cjk_char, chars)) / len(chars) >= threshold


def input_hashes(texts: Sequence[Text]) -> np.ndarray:
    """(N,) uint64 keys of inputs: the first 8 bytes of the SHA-1 of each text, or of both texts of a pair
    (`input_key`). Two of a million inputs share a key with probability about 3e-8."""
    return np.fromiter((int.from_bytes(hashlib.sha1(input_key(t).encode("utf-8")).digest()[:8], "little")
                        for t in texts), dtype=np.uint64, count=len(texts))
