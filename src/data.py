"""Data files and labels: reading and writing `train/dev/test/unlabeled.tsv`, label ids, the CJK check."""

import os
import unicodedata
from dataclasses import dataclass

from src.cli import InputError, logger

TEXT_COLUMNS = ("sentence", "text", "review")


SPLITS = ("train", "dev", "test")


# A file where more than this share of lines is unusable is refused rather than silently thinned.
MAX_BAD_LINE_FRACTION = 0.01


@dataclass
class Example:
    text: str
    label: str | None  # None where the labels are withheld (unlabeled.tsv)


def _clean_text(text: str) -> str:
    return " ".join(text.split())


def read_lines(path: str, what: str = "data file") -> list[str]:
    """The lines of a UTF-8 text file (blank ones kept); a missing or non-UTF-8 file is an InputError."""
    if not os.path.isfile(path):
        raise InputError(f"{what} {path} does not exist")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None


def read_examples(path: str, require_label: bool = True) -> list[Example]:
    """Read a data file in either layout and return a list of `Example`.

    Layouts: a header naming a text column (`sentence`, `text` or `review`) and `label`, in any order
    (GLUE SST-2); or no header and `label<TAB>text` per line (the reference repo's data/hotel).
    A label column is optional when `require_label` is False (unlabeled.tsv).

    Malformed-line policy: a line with extra tab-separated fields whose text column is last has them
    joined back into the text with a space (real reviews contain tabs); a line with a missing field or
    an empty text is skipped. Both are counted and logged. More than 1 % unusable lines is an error.
    """
    lines = [line for line in read_lines(path) if line.strip()]
    if not lines:
        raise InputError(f"{path} is empty")

    header = [h.strip().lower() for h in lines[0].split("\t")]
    text_cols = [c for c in TEXT_COLUMNS if c in header]
    if text_cols:
        text_idx = header.index(text_cols[0])
        label_idx = header.index("label") if "label" in header else None
        if label_idx is None and require_label:
            raise InputError(f"{path}: header {header} has no 'label' column")
        body, first_line_no, n_fields = lines[1:], 2, len(header)
    else:  # headerless label<TAB>text
        label_idx, text_idx, body, first_line_no, n_fields = 0, 1, lines, 1, 2

    examples, joined, skipped = [], [], []
    for line_no, line in enumerate(body, start=first_line_no):
        fields = line.split("\t")
        if len(fields) > n_fields and text_idx == n_fields - 1:
            fields = fields[:text_idx] + [" ".join(fields[text_idx:])]
            joined.append(line_no)
        if len(fields) != n_fields:
            skipped.append(line_no)
            continue
        text = _clean_text(fields[text_idx])
        label = fields[label_idx].strip() if label_idx is not None else None
        if not text or (label_idx is not None and not label):
            skipped.append(line_no)
            continue
        examples.append(Example(text, label))

    if joined:
        logger.warning(f"{path}: {len(joined)} line(s) had extra tab-separated fields, joined into the text "
                       f"(lines {joined[:5]})")
    if skipped:
        logger.warning(f"{path}: skipped {len(skipped)} malformed or empty line(s) (lines {skipped[:5]})")
    if len(skipped) > MAX_BAD_LINE_FRACTION * max(len(body), 1) or not examples:
        raise InputError(f"{path}: {len(skipped)} of {len(body)} lines are malformed or empty "
                         f"(first at line {skipped[0] if skipped else '-'}); expected 'label<TAB>text' or a header "
                         f"with 'label' and one of {TEXT_COLUMNS}")
    return examples


def read_texts(path: str) -> list[str]:
    """Texts to label: a file whose header names a text column (any layout `read_examples` reads), or else
    one text per line (blank lines dropped)."""
    lines = read_lines(path, what="file")
    if lines and {h.strip().lower() for h in lines[0].split("\t")} & set(TEXT_COLUMNS):
        return [ex.text for ex in read_examples(path, require_label=False)]
    texts = [_clean_text(line) for line in lines]
    if not any(texts):
        raise InputError(f"{path} has no text")
    return [t for t in texts if t]


def write_examples(path: str, examples: list[Example]) -> None:
    """Write examples with a `label<TAB>text` header (or `text` alone when every label is None)."""
    with_labels = any(ex.label is not None for ex in examples)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("label\ttext\n" if with_labels else "text\n")
        for ex in examples:
            text = _clean_text(ex.text)  # no tabs or newlines left
            f.write(f"{ex.label}\t{text}\n" if with_labels else f"{text}\n")


def label_list_from(examples: list[Example]) -> list[str]:
    """The sorted label set of the training examples (numerically when every label is an integer)."""
    labels = {ex.label for ex in examples}
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def encode_labels(examples: list[Example], label_list: list[str], path: str) -> list[int]:
    """Map labels to ids; an unknown label is an InputError naming the file and the known set."""
    label2id = {label: i for i, label in enumerate(label_list)}
    unknown = sorted({ex.label for ex in examples} - set(label2id))
    if unknown:
        raise InputError(f"{path}: label(s) {unknown[:5]} not in the training label set {label_list}")
    return [label2id[ex.label] for ex in examples]


def load_split(data_dir: str, split: str, label_list: list[str] | None = None,
               max_examples: int | None = None) -> tuple[list[str], list[int], list[str]]:
    """Read `<data_dir>/<split>.tsv` and return (texts, label_ids, label_list).

    The label list comes from the argument (a trained model's labels) or, when None, from this file.
    """
    if not os.path.isdir(data_dir):
        raise InputError(f"data directory {data_dir} does not exist")
    path = os.path.join(data_dir, f"{split}.tsv")
    examples = read_examples(path)[:max_examples]
    label_list = label_list or label_list_from(examples)
    return [ex.text for ex in examples], encode_labels(examples, label_list, path), label_list


def load_unlabeled(data_dir: str) -> list[str]:
    """Texts of `<data_dir>/unlabeled.tsv`, or [] when there is none; any labels in it are ignored."""
    path = os.path.join(data_dir, "unlabeled.tsv")
    return [ex.text for ex in read_examples(path, require_label=False)] if os.path.exists(path) else []


def is_cjk_char(char: str) -> bool:
    """A CJK ideograph (by its Unicode name)."""
    return unicodedata.name(char, "").startswith("CJK")


def is_cjk(text: str, threshold: float = 0.3) -> bool:
    """True when at least `threshold` of the non-space characters are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and sum(map(is_cjk_char, chars)) / len(chars) >= threshold
