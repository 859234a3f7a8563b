"""Data files and labels: reading and writing a data directory's `train/dev/test/unlabeled` files (`.tsv`,
`.csv` or `.jsonl`), label ids, the CJK check."""

import argparse
import codecs
import csv
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass

from src.cli import InputError, logger

TEXT_COLUMNS = ("sentence", "text", "review", "text_a")  # text_a: PaddleNLP's ChnSentiCorp layout
LABEL_COLUMN = "label"
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, a leading BOM (as Excel and WPS write it) dropped
FORMATS = (".tsv", ".csv", ".jsonl")
WRITTEN_HEADERS = (("label", "text"), ("text",))  # the headers `write_examples` writes


SPLITS = ("train", "dev", "test")


# A file where more than this share of lines is unusable is refused rather than silently thinned.
MAX_BAD_LINE_FRACTION = 0.01

# A word that can name a column: `label`, `content`, `sentence1`, `text_a`.
COLUMN_WORD = re.compile(r"[a-z][a-z0-9_]{0,31}")

Row = tuple[int, list[str]]  # (line number where the row starts, its fields)


@dataclass
class Example:
    text: str
    label: str | None  # None where the labels are withheld (unlabeled.tsv)


@dataclass
class Columns:
    text: int
    label: int | None  # None where the file has no label column
    n_fields: int


def _clean_text(text: str) -> str:
    return " ".join(text.split())


def add_data_format_args(p: argparse.ArgumentParser) -> None:
    """Flags of the stages that read data files: which columns hold the text and the label, and the encoding."""
    p.add_argument("--text_column", default=None,
                   help="the text column of data files with a header, looked for before the default names "
                        f"({', '.join(TEXT_COLUMNS)})")
    p.add_argument("--label_column", default=None,
                   help=f"the label column of data files with a header, looked for before the default '{LABEL_COLUMN}'")
    p.add_argument("--encoding", default=DEFAULT_ENCODING,
                   help="encoding of the data files, e.g. gbk (default: UTF-8, a leading BOM dropped)")


def data_format(args: argparse.Namespace) -> dict:
    """The keyword arguments of `read_examples`/`load_split`/`load_unlabeled` set by `add_data_format_args`."""
    return {"text_column": args.text_column, "label_column": args.label_column, "encoding": args.encoding}


def read_text(path: str, what: str = "data file", encoding: str = DEFAULT_ENCODING) -> str:
    """The text of a file, a leading BOM dropped; a missing file is an InputError, and so is what
    `decode_text` refuses."""
    if not os.path.isfile(path):
        raise InputError(f"{what} {path} does not exist")
    with open(path, "rb") as f:
        return decode_text(f.read(), path, encoding)


def decode_text(data: bytes, source: str, encoding: str = DEFAULT_ENCODING) -> str:
    """`data` (read from `source`, a file or stdin) as text, a leading BOM dropped; an unknown encoding or bytes
    that do not decode are an InputError (with a hint when the bytes decode as GBK)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        kind = "UTF-8" if name.startswith("utf-8") else encoding
        message = f"{source} is not {kind} text (byte {e.start}: {e.reason})"
    try:
        data.decode("gbk")
    except UnicodeDecodeError:
        raise InputError(message) from None
    raise InputError(f"{message}; the bytes look like GBK (try --encoding gbk)")


def split_lines(text: str) -> list[str]:
    """Lines at \\n, \\r\\n and \\r only: str.splitlines also breaks at U+2028, \\x85, \\x0c and others, which can
    sit inside a text (a review pasted from a web page) and would shift every later line."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines[-1] == "" else lines


def read_lines(path: str, what: str = "data file", encoding: str = DEFAULT_ENCODING) -> list[str]:
    """The lines of a text file (blank ones kept); see `read_text` for the errors."""
    return split_lines(read_text(path, what, encoding))


def _delimited_rows(path: str, encoding: str) -> list[Row]:
    """The non-blank rows of a .tsv (or any non-.csv) file split at tabs, or of a .csv file read by the csv module
    (quoted fields may hold commas and line breaks)."""
    text = read_text(path, encoding=encoding)
    if not path.lower().endswith(".csv"):
        return [(i, line.split("\t")) for i, line in enumerate(split_lines(text), start=1) if line.strip()]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, start = [], 1
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as e:
        raise InputError(f"{path}: not a readable csv file (line {reader.line_num}: {e})") from None
    return rows


def _jsonl_rows(path: str, encoding: str) -> tuple[list[str], list[Row]]:
    """The keys of the first object of a .jsonl file, and each non-blank line's values under those keys
    (a missing key is ""; a line that is not a JSON object has no fields, so it counts as malformed)."""
    rows, keys = [], None
    for line_no, line in enumerate(read_lines(path, encoding=encoding), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if keys is None:
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{line_no}: expected one JSON object per line")
            keys = list(obj)
        values = [obj.get(k) for k in keys] if isinstance(obj, dict) else []
        rows.append((line_no, ["" if v is None else str(v) for v in values]))
    return [k.strip().lower() for k in keys or []], rows


def _names(preferred: str | None, defaults: tuple[str, ...]) -> tuple[str, ...]:
    """The column names to look for: the one given (--text_column/--label_column) first, then the defaults."""
    return (preferred.strip().lower(), *defaults) if preferred else defaults


def _others(header: list[str], taken: set[str]) -> str:
    rest = [h for h in header if h not in taken]
    return rest[0] if len(rest) == 1 else f"<one of {rest}>" if rest else "<name>"


def _header_columns(path: str, header: list[str], text_column: str | None, label_column: str | None,
                    require_label: bool) -> Columns:
    """The positions of the text and label columns in `header`: the ones the flags name, else the first default
    name found. An InputError when one is missing, saying which flag names it: a misspelt --text_column must not
    quietly fall back to a default column and train on the wrong text. The project's own layout (what
    `write_examples` writes, so what every stage reads after prepare_data.py) is exempt, so that the flags given
    to prepare_data.py may be repeated. A column found under a default name is logged: a wrong guess is seen."""
    own_layout = tuple(header) in WRITTEN_HEADERS
    for flag, name, needed in (("--text_column", text_column, True), ("--label_column", label_column, require_label)):
        if name and needed and not own_layout and name.strip().lower() not in header:
            raise InputError(f"{path}: no column '{name.strip().lower()}' ({flag}); its columns are {header}")
    text_names, label_names = _names(text_column, TEXT_COLUMNS), _names(label_column, (LABEL_COLUMN,))
    text = next((name for name in text_names if name in header), None)
    label = next((name for name in label_names if name in header), None)
    if text is None:
        raise InputError(f"{path}: header {header} names no text column; known: {', '.join(text_names)}; "
                         f"use --text_column {_others(header, set(label_names))}")
    if label is None and require_label:
        raise InputError(f"{path}: header {header} has no '{label_names[0]}' column; "
                         f"use --label_column {_others(header, {text})}")
    if not own_layout:
        defaults = [f"{kind} column: {name}" + ("" if flag else " (default)")
                    for kind, name, flag in (("text", text, text_column), ("label", label, label_column)) if name]
        logger.info(f"{path}: {', '.join(defaults)}")
    return Columns(header.index(text), header.index(label) if label else None, len(header))


def _looks_like_header(first: list[str], body: list[Row], known: tuple[str, ...]) -> bool:
    """A first row that names no text column is still a header (never a data row whose label becomes a class)
    when its label field (the first) is no label of the other rows, and it names a known column or has two or
    more fields that are all column-like words (`label`, `content`, `sentence1`: a lowercase ASCII identifier)."""
    labels = {fields[0].strip().lower() for _, fields in body}
    words = len(first) > 1 and all(map(COLUMN_WORD.fullmatch, first))
    return first[0] not in labels and (any(f in known for f in first) or words)


def _check_not_swapped(path: str, rows: list[Row]) -> None:
    """Headerless `text<TAB>label` instead of `label<TAB>text` is an InputError. The rule: every first field
    differs (no class has two examples), the second fields repeat, and each second field is a token of at most
    20 characters without spaces, shorter than the first field of its line."""
    pairs = [(line_no, fields[0].strip(), fields[1].strip()) for line_no, fields in rows if len(fields) == 2]
    firsts, seconds = {a for _, a, _ in pairs}, {b for _, _, b in pairs}
    swapped = (len(pairs) >= 2 and len(firsts) == len(pairs) and len(seconds) < len(pairs)
               and all(0 < len(b) <= 20 and len(b.split()) == 1 and len(a) > len(b) for _, a, b in pairs))
    if not swapped:
        return
    line_no, text, label = pairs[0]
    raise InputError(f"{path}: the columns look swapped (text, then label): the first field never repeats and the "
                     f"second is a short repeated token (line {line_no}: {[text, label]}); put the label first, or "
                     f"add a header naming the columns (e.g. 'text' and 'label', or your own names with "
                     f"--text_column and --label_column)")


def _find_columns(path: str, rows: list[Row], text_column: str | None, label_column: str | None,
                  require_label: bool) -> tuple[Columns, list[Row]]:
    """The columns of a .tsv/.csv file and its data rows: a header naming a text column, or else (no header)
    `label<TAB>text`, which a column flag cannot name. See `_looks_like_header` and `_check_not_swapped` for the
    two other refusals."""
    first = [f.strip().lower() for f in rows[0][1]]
    text_names, label_names = _names(text_column, TEXT_COLUMNS), _names(label_column, (LABEL_COLUMN,))
    if any(name in first for name in text_names) or _looks_like_header(first, rows[1:], text_names + label_names):
        return _header_columns(path, first, text_column, label_column, require_label), rows[1:]
    if text_column or label_column:
        flags = " and ".join(f for f, v in (("--text_column", text_column), ("--label_column", label_column)) if v)
        raise InputError(f"{path} has no header row ('label<TAB>text' lines), so {flags} names no column; add a "
                         f"header or leave the flag out")
    _check_not_swapped(path, rows)
    return Columns(text=1, label=0, n_fields=2), rows


def _parse_rows(body: list[Row], columns: Columns, sep: str, keep: bool = False
                ) -> tuple[list[Example], list[int], list[int]]:
    """Examples of the data rows, and the line numbers of the rows joined (extra fields) and skipped. With
    `keep`, a skipped row still gives an example (its text, or "", and label None), so that rows stay aligned."""
    examples, joined, skipped = [], [], []
    text_idx, label_idx, n_fields = columns.text, columns.label, columns.n_fields
    for line_no, fields in body:
        if len(fields) > n_fields and text_idx == n_fields - 1:
            fields = fields[:text_idx] + [sep.join(fields[text_idx:])]
            joined.append(line_no)
        if len(fields) != n_fields:
            skipped.append(line_no)
            if keep:
                examples.append(Example("", None))
            continue
        text = _clean_text(fields[text_idx])
        label = fields[label_idx].strip() if label_idx is not None else None
        if not text or (label_idx is not None and not label):
            skipped.append(line_no)
            if keep:
                examples.append(Example(text, None))
            continue
        examples.append(Example(text, label))
    return examples, joined, skipped


def read_examples(path: str, require_label: bool = True, *, text_column: str | None = None,
                  label_column: str | None = None, encoding: str = DEFAULT_ENCODING,
                  keep_rows: bool = False) -> list[Example]:
    """Read a data file (.tsv, .csv or .jsonl, by its extension; anything else is read as .tsv) and return a list
    of `Example`.

    Columns: a header naming a text column (`text_column` if given, else the first of TEXT_COLUMNS found) and
    the label column (`label_column` if given, else `label`), in any order (GLUE SST-2, PaddleNLP's
    `label<TAB>text_a`); or no header and `label<TAB>text` (or `label,text`) per line (the reference repo's
    data/hotel). A .jsonl file has one object per line; the first object's keys are its header. A label
    column is optional when `require_label` is False (unlabeled files).

    Refused rather than misread: a first row that looks like a header but names no known text column (it is
    never read as a data row whose label becomes a class); headerless columns that look swapped (text, then
    label). See `_looks_like_header` and `_check_not_swapped` for the exact rules.

    Malformed-line policy: a line with extra fields whose text column is last has them joined back into the
    text (real reviews contain tabs); a line with a missing field or an empty text is skipped. Both are
    counted and logged. More than 1 % unusable lines is an error. With `keep_rows` (labelling a file, one output
    row per data row), a skipped line gives an example with text "" (or its text) and label None.
    """
    if path.lower().endswith(".jsonl"):
        header, body = _jsonl_rows(path, encoding)
        columns = _header_columns(path, header, text_column, label_column, require_label) if body else None
    else:
        rows = _delimited_rows(path, encoding)
        columns, body = _find_columns(path, rows, text_column, label_column, require_label) if rows else (None, [])
    if columns is None:
        raise InputError(f"{path} is empty")
    sep = "," if path.lower().endswith(".csv") else "\t"
    examples, joined, skipped = _parse_rows(body, columns, sep, keep_rows)
    if joined:
        logger.warning(f"{path}: {len(joined)} line(s) had extra {'comma' if sep == ',' else 'tab'}-separated "
                       f"fields, joined into the text (lines {joined[:5]})")
    if skipped:
        logger.warning(f"{path}: skipped {len(skipped)} malformed or empty line(s) (lines {skipped[:5]})")
    if len(skipped) > MAX_BAD_LINE_FRACTION * max(len(body), 1) or not examples:
        raise InputError(f"{path}: {len(skipped)} of {len(body)} lines are malformed or empty "
                         f"(first at line {skipped[0] if skipped else '-'}); expected 'label<TAB>text' or a header "
                         f"with '{label_column or LABEL_COLUMN}' and one of {_names(text_column, TEXT_COLUMNS)}")
    return examples


def read_texts(path: str, text_column: str | None = None, encoding: str = DEFAULT_ENCODING) -> list[str]:
    """Texts to label: a .csv/.jsonl file, a file whose header names a text column, or a .tsv with tabs (any
    layout `read_examples` reads, e.g. a headerless `label<TAB>text` test file: its labels are not texts), or
    else one text per line (blank lines dropped)."""
    lines = read_lines(path, what="file", encoding=encoding)
    header = {h.strip().lower() for h in lines[0].split("\t")} if lines else set()
    tabbed_tsv = path.lower().endswith(".tsv") and bool(lines) and "\t" in lines[0]
    if path.lower().endswith((".csv", ".jsonl")) or tabbed_tsv or header & set(_names(text_column, TEXT_COLUMNS)):
        examples = read_examples(path, require_label=False, text_column=text_column, encoding=encoding)
        return [ex.text for ex in examples]
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


def split_file(data_dir: str, split: str) -> str | None:
    """The file of `split` in `data_dir` (`<split>.tsv`, `.csv` or `.jsonl`), or None when there is none; two
    files for one split are an InputError naming both."""
    found = [path for ext in FORMATS if os.path.isfile(path := os.path.join(data_dir, split + ext))]
    if len(found) > 1:
        raise InputError(f"{data_dir} has {' and '.join(found)} for the {split} split; keep only one")
    return found[0] if found else None


def load_split(data_dir: str, split: str, label_list: list[str] | None = None, max_examples: int | None = None, *,
               text_column: str | None = None, label_column: str | None = None,
               encoding: str = DEFAULT_ENCODING) -> tuple[list[str], list[int], list[str]]:
    """Read `<data_dir>/<split>.tsv` (or .csv, or .jsonl) and return (texts, label_ids, label_list).

    The label list comes from the argument (a trained model's labels) or, when None, from this file.
    """
    if not os.path.isdir(data_dir):
        raise InputError(f"data directory {data_dir} does not exist")
    path = split_file(data_dir, split)
    if path is None:
        raise InputError(f"data file {os.path.join(data_dir, split)}.tsv does not exist "
                         f"(nor {split}.csv or {split}.jsonl)")
    examples = read_examples(path, text_column=text_column, label_column=label_column, encoding=encoding)
    examples = examples[:max_examples]
    label_list = label_list or label_list_from(examples)
    return [ex.text for ex in examples], encode_labels(examples, label_list, path), label_list


def load_unlabeled(data_dir: str, *, text_column: str | None = None, label_column: str | None = None,
                   encoding: str = DEFAULT_ENCODING) -> list[str]:
    """Texts of `<data_dir>/unlabeled.tsv` (or .csv, or .jsonl), or [] when there is none; any labels in it are
    ignored."""
    path = split_file(data_dir, "unlabeled")
    if path is None:
        return []
    examples = read_examples(path, require_label=False, text_column=text_column, label_column=label_column,
                             encoding=encoding)
    return [ex.text for ex in examples]


def is_cjk_char(char: str) -> bool:
    """A CJK ideograph (by its Unicode name)."""
    return unicodedata.name(char, "").startswith("CJK")


def is_cjk(text: str, threshold: float = 0.3) -> bool:
    """True when at least `threshold` of the non-space characters are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return bool(chars) and sum(map(is_cjk_char, chars)) / len(chars) >= threshold
