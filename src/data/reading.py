"""Reading data files: .tsv, .csv and JSON lines, with or without a header, in any encoding the user names,
a chunk of rows at a time; finding the text, second text and label columns; the malformed-line policy; and the
splits of a data directory read into inputs and label ids."""

import codecs
import csv
import io
import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from src.common.cli import InputError, logger
from src.data.examples import (
    DEFAULT_ENCODING,
    LABEL_COLUMNS,
    PAIR_COLUMNS,
    TEXT_COLUMNS,
    Example,
    Text,
    clean_text,
    encode_labels,
    label_list_from,
    split_file,
)

NO_GOLD_LABEL = "-"  # OCNLI and MNLI rows whose annotators did not agree: no gold label, dropped


JSON_LINES = (".jsonl", ".json")  # one JSON object per line (CLUE ships OCNLI as .json)


# the headers `write_examples` writes: single texts or pairs, labelled or not
WRITTEN_HEADERS = (("label", "text"), ("text",), ("label", "text_a", "text_b"), ("text_a", "text_b"))


# A file where more than this share of lines is unusable is refused rather than silently thinned.
MAX_BAD_LINE_FRACTION = 0.01


CHUNK_ROWS = 65536  # rows of a data file parsed at a time (its columns are found from the first chunk)


# A word that can name a column: `label`, `content`, `sentence1`, `text_a`.
COLUMN_WORD = re.compile(r"[a-z][a-z0-9_]{0,31}")


Row = tuple[int, list[str]]  # (line number where the row starts, its fields)


@dataclass
class Columns:
    text: int
    label: int | None  # None where the file has no label column
    n_fields: int
    text_b: int | None = None  # a pair's second text


def read_text(path: str, what: str = "data file", encoding: str = DEFAULT_ENCODING) -> str:
    """The text of a file, a leading BOM dropped; a missing file is an InputError, and so is what
    `decode_text` refuses."""
    if not os.path.isfile(path):
        raise InputError(f"{what} {path} does not exist")
    with open(path, "rb") as f:
        return decode_text(f.read(), path, encoding)


def decode_text(data: bytes, source: str, encoding: str = DEFAULT_ENCODING, offset: int = 0) -> str:
    """`data` (read from `source`, a file or stdin) as text, a leading BOM dropped; an unknown encoding or bytes
    that do not decode are an InputError (with a hint when the bytes decode as GBK). `offset`: where `data`
    starts in `source` (a file read a line at a time), so the error names the file's byte."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        kind = "UTF-8" if name.startswith("utf-8") else encoding
        message = f"{source} is not {kind} text (byte {offset + e.start}: {e.reason})"
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


def iter_lines(path: str, what: str = "data file", encoding: str = DEFAULT_ENCODING) -> Iterator[str]:
    """The lines of a text file (blank ones kept), as `read_lines` splits and checks them, read lazily a line at
    a time, so that a file of millions of lines is never held whole; an encoding whose line break is not the
    byte \\n (UTF-16) is read whole."""
    try:
        whole = not "a\n".encode(encoding).endswith(b"a\n")
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    if whole:
        yield from read_lines(path, what, encoding)
        return
    if not os.path.isfile(path):
        raise InputError(f"{what} {path} does not exist")
    offset = 0
    with open(path, "rb") as f:
        for raw in f:  # up to each \n; a lone \r also ends a line, as in `split_lines`
            yield from split_lines(decode_text(raw, path, encoding, offset))
            offset += len(raw)


def _csv_rows(path: str, encoding: str) -> list[Row]:
    """The non-blank rows of a .csv file read by the csv module (quoted fields may hold commas and line
    breaks)."""
    reader = csv.reader(io.StringIO(read_text(path, encoding=encoding), newline=""))
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


def _text_columns(header: list[str], text_column: str | None, text_b_column: str | None) -> tuple[str | None, ...]:
    """The text column and a pair's second one (None for single texts): the flags' names; else the first pair
    layout whose two columns the header has; else the first single-text name. With --text_b_column alone, the
    first text is its pair layout's partner, or else the first single-text name."""
    a, b = (c.strip().lower() if c else None for c in (text_column, text_b_column))
    if a is None and b is None:
        pair = next(((x, y) for x, y in PAIR_COLUMNS if x in header and y in header), None)
        return pair or (next((n for n in TEXT_COLUMNS if n in header), None), None)
    if a is None:
        partners = [x for x, y in PAIR_COLUMNS if y == b] + list(TEXT_COLUMNS)
        a = next((n for n in partners if n in header and n != b), None)
    return a, b


def _header_columns(path: str, header: list[str], text_column: str | None, text_b_column: str | None,
                    label_column: str | None, require_label: bool) -> Columns:
    """The positions of the text, second text and label columns in `header`: the ones the flags name, else the
    default names (`_text_columns`, LABEL_COLUMNS). An InputError when one is missing, saying which flag names
    it: a misspelt --text_column must not quietly fall back to a default column and train on the wrong text.
    The project's own layout (what `write_examples` writes, so what every stage reads after prepare_data.py) is
    read as such whatever the flags, so that the flags given to prepare_data.py may be repeated. The columns
    found under default names are logged: a wrong guess is seen."""
    if own_layout := tuple(header) in WRITTEN_HEADERS:
        unused = [f"--{flag} {name}" for flag, name in (("text_column", text_column), ("text_b_column", text_b_column),
                                                        ("label_column", label_column)) if name]
        if unused:
            logger.warning(f"WARNING: {path} has the project's own header {header}, which is read as such: "
                           f"{', '.join(unused)} is not used")
        text_column = text_b_column = label_column = None
    named = (("--text_column", text_column, True), ("--text_b_column", text_b_column, True),
             ("--label_column", label_column, require_label))
    for flag, name, needed in named:
        if name and needed and name.strip().lower() not in header:
            raise InputError(f"{path}: no column '{name.strip().lower()}' ({flag}); its columns are {header}")
    text, text_b = _text_columns(header, text_column, text_b_column)
    label_names = _names(label_column, LABEL_COLUMNS)
    label = next((name for name in label_names if name in header), None)
    if text is None:
        rest = [h for h in header if h not in label_names]  # beside a label column, two of them may be a pair
        pair = (f"; for sentence pairs --text_column {rest[0]} --text_b_column {rest[1]}"
                if label and len(rest) > 1 else "")
        raise InputError(f"{path}: header {header} names no text column; known: {', '.join(TEXT_COLUMNS)}; "
                         f"use --text_column {_others(header, set(label_names))}{pair}")
    if label is None and require_label:
        raise InputError(f"{path}: header {header} has no label column (known: {', '.join(LABEL_COLUMNS)}); "
                         f"use --label_column {_others(header, {text, text_b})}")
    if not own_layout:
        chosen = [f"{kind} column: {name}" + ("" if flag else " (default)") for kind, name, flag in
                  (("text", text, text_column), ("second text", text_b, text_b_column), ("label", label, label_column))
                  if name]
        logger.info(f"{path}: {', '.join(chosen)}")
    index = {name: header.index(name) for name in (text, text_b, label) if name}
    return Columns(index[text], index.get(label), len(header), index.get(text_b))


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


def _headerless_columns(path: str, rows: list[Row]) -> Columns:
    """The columns of a file without a header, by its usual number of fields: `label<TAB>text` (see
    `_check_not_swapped`) or, with three, `text_a<TAB>text_b<TAB>label` (LCQMC); any other number must be named
    with --columns (a text column read from the wrong field would train on the wrong text)."""
    n_fields = Counter(len(fields) for _, fields in rows).most_common(1)[0][0]
    if n_fields == 3:
        return Columns(text=0, text_b=1, label=2, n_fields=3)
    if n_fields > 3:
        raise InputError(f"{path} has no header row and {n_fields} fields a row: name its columns with --columns "
                         f"(e.g. GLUE CoLA: --columns source,label,mark,sentence)")
    _check_not_swapped(path, rows)
    return Columns(text=1, label=0, n_fields=2)


def _find_columns(path: str, rows: list[Row], fmt: dict, require_label: bool) -> tuple[Columns, list[Row]]:
    """The columns of a .tsv/.csv file and its data rows: the names --columns gives a headerless file; a header
    naming a text column (or looking like one: `_looks_like_header`); or else no header (`_headerless_columns`),
    which a column flag cannot name."""
    flags = {k: fmt.get(k) for k in ("text_column", "text_b_column", "label_column")}
    if fmt.get("columns"):
        header = [c.strip().lower() for c in fmt["columns"].split(",")]
        return _header_columns(path, header, **flags, require_label=require_label), rows
    first = [f.strip().lower() for f in rows[0][1]]
    text_names = _names(flags["text_column"], TEXT_COLUMNS + tuple(c for pair in PAIR_COLUMNS for c in pair))
    label_names = _names(flags["label_column"], LABEL_COLUMNS)
    if any(name in first for name in text_names) or _looks_like_header(first, rows[1:], text_names + label_names):
        return _header_columns(path, first, **flags, require_label=require_label), rows[1:]
    if any(flags.values()):
        named = " and ".join(f"--{k}" for k, v in flags.items() if v)
        raise InputError(f"{path} has no header row, so {named} names no column; add a header, name the columns "
                         f"with --columns, or leave the flag out")
    return _headerless_columns(path, rows), rows


def _parse_rows(path: str, body: list[Row], columns: Columns, keep: bool = False
                ) -> tuple[list[Example], dict[str, list[int]]]:
    """Examples of the data rows, and the line numbers of the rows `joined` (extra fields), `skipped` (malformed
    or empty) and without a gold label (`no_gold`, label "-"). A pair row whose second text is missing is an
    InputError naming its line, as is one with fewer fields than the columns (which text is missing cannot be
    told): one text is no pair. With `keep` (labelling a file), every row gives an example, a skipped one
    its text (or "") and label None, so that rows stay aligned; only a blank row may lack its second text."""
    lines = {"joined": [], "skipped": [], "no_gold": []}
    examples = []
    sep = "," if path.lower().endswith(".csv") else "\t"
    for line_no, fields in body:
        if len(fields) > columns.n_fields and columns.text == columns.n_fields - 1:
            fields = fields[:columns.text] + [sep.join(fields[columns.text:])]
            lines["joined"].append(line_no)
        if columns.text_b is not None and (not keep or any(map(clean_text, fields))) and not (
                len(fields) >= columns.n_fields and clean_text(fields[columns.text_b])):
            raise InputError(f"{path}:{line_no}: the pair's second text is missing (expected {columns.n_fields} "
                             f"fields, the second text in field {columns.text_b + 1}; found {len(fields)})")
        ok = len(fields) == columns.n_fields
        text = clean_text(fields[columns.text]) if ok else ""
        text_b = clean_text(fields[columns.text_b]) if ok and columns.text_b is not None else None
        label = fields[columns.label].strip() if ok and columns.label is not None else None
        if label == NO_GOLD_LABEL:
            lines["no_gold"].append(line_no)
        elif not ok or not text or (columns.label is not None and not label):
            lines["skipped"].append(line_no)
        else:
            examples.append(Example(text, label, text_b))
            continue
        if keep:
            examples.append(Example(text, None, text_b))
    return examples, lines


def read_examples(path: str, require_label: bool = True, *, text_column: str | None = None,
                  text_b_column: str | None = None, label_column: str | None = None, columns: str | None = None,
                  encoding: str = DEFAULT_ENCODING, keep_rows: bool = False) -> list[Example]:
    """Read a data file (.tsv, .csv, or .jsonl or .json for JSON lines, by its extension; anything else is read
    as .tsv) and return a list of `Example`: single texts or sentence pairs, with a class label or a score.

    Columns: a header naming the text column(s) and the label column, in any order and among others (GLUE's
    SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI files as GLUE ships them; CLUE's `sentence1,sentence2,label`;
    PaddleNLP's `label<TAB>text_a`), found under the flags' names or the defaults (TEXT_COLUMNS, PAIR_COLUMNS,
    LABEL_COLUMNS); or no header: `columns` names the fields (CoLA, TNEWS), else `label<TAB>text` (the
    reference repo's data/hotel) or three fields `text_a<TAB>text_b<TAB>label` (LCQMC). A .jsonl file has one
    object per line; the first object's keys are its header. A label column is optional when `require_label`
    is False (unlabeled files).

    Refused rather than misread: a named column the file lacks; a first row that looks like a header but names
    no known text column (never read as a data row whose label becomes a class); headerless columns that look
    swapped (text, then label); a headerless file of more than three fields without `columns`; a pair row
    without its second text.

    Malformed-line policy: a line with extra fields whose text column is last has them joined back into the
    text (real reviews contain tabs); a line with a missing field or an empty text is skipped. Both are
    counted and logged. More than 1 % unusable lines is an error. A row labelled "-" (no gold label: OCNLI,
    MNLI) is dropped and counted. With `keep_rows` (labelling a file, one output row per data row), a skipped
    line gives an example with text "" (or its text) and label None.
    """
    return [ex for chunk in iter_example_chunks(path, require_label, text_column=text_column,
                                                text_b_column=text_b_column, label_column=label_column,
                                                columns=columns, encoding=encoding, keep_rows=keep_rows)
            for ex in chunk]


def _file_rows(path: str, fmt: dict, encoding: str, require_label: bool
               ) -> tuple[Columns | None, Iterator[Row], list[Row]]:
    """(columns, the data rows after the first chunk, the first chunk's data rows) of a data file. A .tsv (or any
    other non-.csv, non-JSON-lines file) is read lazily, its columns found from its first CHUNK_ROWS rows; a .csv
    or .jsonl file is read whole (its rows are the first chunk). Columns None: the file is empty."""
    if path.lower().endswith(JSON_LINES):
        header, body = _jsonl_rows(path, encoding)
        fmt = {k: v for k, v in fmt.items() if k != "columns"}
        return (_header_columns(path, header, **fmt, require_label=require_label) if body else None), iter(()), body
    if path.lower().endswith(".csv"):
        rows = iter(_csv_rows(path, encoding))
    else:
        rows = ((i, line.split("\t")) for i, line in enumerate(iter_lines(path, encoding=encoding), start=1)
                if line.strip())
    first = list(itertools.islice(rows, CHUNK_ROWS))
    found, body = _find_columns(path, first, fmt, require_label) if first else (None, [])
    return found, rows, body


def iter_example_chunks(path: str, require_label: bool = True, *, text_column: str | None = None,
                        text_b_column: str | None = None, label_column: str | None = None, columns: str | None = None,
                        encoding: str = DEFAULT_ENCODING, keep_rows: bool = False) -> Iterator[list[Example]]:
    """`read_examples` as lists of at most CHUNK_ROWS examples, read lazily from a .tsv file (csv and JSON
    lines are read whole), so that a transfer set of millions of rows is never held whole. The same columns,
    policies and errors; the share of malformed lines is checked when the file is done, so a caller that writes
    the examples somewhere must do so complete-or-absent (`ragged.RaggedWriter`)."""
    fmt = {"text_column": text_column, "text_b_column": text_b_column, "label_column": label_column,
           "columns": columns}
    found, rows, body = _file_rows(path, fmt, encoding, require_label)
    if found is None:
        raise InputError(f"{path} is empty")
    lines, n_rows, n_examples = {"joined": [], "skipped": [], "no_gold": []}, 0, 0
    while body:
        examples, found_lines = _parse_rows(path, body, found, keep_rows)
        for kind, line_nos in found_lines.items():
            lines[kind] += line_nos
        n_rows, n_examples = n_rows + len(body), n_examples + len(examples)
        yield examples
        body = list(itertools.islice(rows, CHUNK_ROWS))
    _report_lines(path, lines, n_rows, n_examples, text_column, label_column)


def _report_lines(path: str, lines: dict[str, list[int]], n_rows: int, n_examples: int, text_column: str | None,
                  label_column: str | None) -> None:
    """Log the joined, skipped and label-less lines of a data file; refuse one without data rows, without an
    example, or with more than MAX_BAD_LINE_FRACTION of its lines unusable."""
    if not n_rows:
        raise InputError(f"{path} has a header row but no data rows")
    joined, skipped = lines["joined"], lines["skipped"]
    if joined:
        logger.warning(f"{path}: {len(joined)} line(s) had extra {'comma' if path.endswith('.csv') else 'tab'}-"
                       f"separated fields, joined into the text (lines {joined[:5]})")
    if skipped:
        logger.warning(f"{path}: skipped {len(skipped)} malformed or empty line(s) (lines {skipped[:5]})")
    if lines["no_gold"]:
        logger.info(f"{path}: dropped {len(lines['no_gold'])} row(s) without a gold label ('-')")
    if len(skipped) > MAX_BAD_LINE_FRACTION * n_rows or not n_examples:
        raise InputError(f"{path}: {len(skipped)} of {n_rows} lines are malformed or empty "
                         f"(first at line {skipped[0] if skipped else '-'}); expected 'label<TAB>text' or a header "
                         f"with '{label_column or LABEL_COLUMNS[0]}' and one of {_names(text_column, TEXT_COLUMNS)}")


def read_texts(path: str, encoding: str = DEFAULT_ENCODING, **fmt) -> list[Text]:
    """Texts to label: a .csv/.jsonl file, a file whose header names a text column, or a .tsv with tabs (any
    layout `read_examples` reads with `fmt`'s columns, e.g. a headerless `label<TAB>text` test file: its labels
    are not texts; pairs give pairs), or else one text per line (blank lines dropped)."""
    lines = read_lines(path, what="file", encoding=encoding)
    header = {h.strip().lower() for h in lines[0].split("\t")} if lines else set()
    tabbed_tsv = path.lower().endswith(".tsv") and bool(lines) and "\t" in lines[0]
    if path.lower().endswith((".csv", *JSON_LINES)) or tabbed_tsv or header & set(_names(fmt.get("text_column"),
                                                                                        TEXT_COLUMNS)):
        return [ex.input for ex in read_examples(path, require_label=False, encoding=encoding, **fmt)]
    texts = [clean_text(line) for line in lines]
    if not any(texts):
        raise InputError(f"{path} has no text")
    return [t for t in texts if t]


def load_split(data_dir: str, split: str, label_list: list[str] | None = None, max_examples: int | None = None, *,
               task_type: str = "auto", **fmt) -> tuple[list[Text], list[int] | list[float], list[str]]:
    """Read `<data_dir>/<split>.tsv` (or .csv, or .jsonl; columns as `read_examples` with `fmt`) and return
    (inputs, label ids or scores, label_list); an input is a text or a pair (`Example.input`).

    The label list comes from the argument (a trained model's labels) or, when None, from this file
    (`label_list_from` with `task_type`).
    """
    if not os.path.isdir(data_dir):
        raise InputError(f"data directory {data_dir} does not exist")
    path = split_file(data_dir, split)
    if path is None:
        raise InputError(f"data file {os.path.join(data_dir, split)}.tsv does not exist "
                         f"(nor {split}.csv or {split}.jsonl)")
    examples = read_examples(path, **fmt)[:max_examples]
    label_list = label_list or label_list_from(examples, task_type)
    return [ex.input for ex in examples], encode_labels(examples, label_list, path), label_list


def load_unlabeled(data_dir: str, **fmt) -> list[Text]:
    """Inputs of `<data_dir>/unlabeled.tsv` (or .csv, or .jsonl), or [] when there is none; any labels in it are
    ignored."""
    path = split_file(data_dir, "unlabeled")
    if path is None:
        return []
    return [ex.input for ex in read_examples(path, require_label=False, **fmt)]
