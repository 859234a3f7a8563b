"""Labelling texts with any trained model: reading the input (a .txt or stdin a text or pair a line, or a data
file), predicting each usable row (blank rows stay empty rows, so that output row i is input row i), and
writing the rows as TSV or JSON lines. `src/predict.py` is its command line; stages that label a file call
`label_input` and `write_predictions` directly."""

import json
import os
import sys
import time

from src.common.cli import InputError, logger
from src.common.files import check_apart, write_atomically
from src.data.examples import FORMATS, SCORE_LABELS, Text, check_input_kind, is_pairs
from src.data.reading import decode_text, read_examples, read_lines, split_lines
from src.serve.predictors import batched_logits, export_files, load_predictor, model_kind, reads_pairs_at, softmax

OUTPUT_FORMATS = (".tsv", ".jsonl")


PAIR_HINT = " (two text columns, or two tab-separated texts a line)"


def clean(text: str) -> str:
    return " ".join(text.split())


def read_input(path: str, fmt: dict, pairs: bool, model: str) -> tuple[list[Text], list[str | None], bool]:
    """(inputs, labels, has_labels): a .tsv/.csv/.jsonl data file read as every stage reads one (`read_examples`:
    header or `label<TAB>text`, pair columns, named columns, encoding), one entry per data row; anything else
    (or `-`) one entry per line, a blank line as "", for a pair model (`pairs`) the line's two tab-separated
    texts (a blank line as ("", "")). Input of the other kind than `model` reads is refused at its first line."""
    if os.path.splitext(path)[1].lower() in FORMATS:
        examples = read_examples(path, require_label=False, keep_rows=True, **fmt)
        labels = [ex.label for ex in examples]
        inputs = [ex.input for ex in examples]
        check_input_kind([x for x in inputs if has_text(x)], pairs, model, path, PAIR_HINT)
        return inputs, labels, any(label is not None for label in labels)
    source = "stdin" if path == "-" else path
    if path == "-":
        lines = split_lines(decode_text(sys.stdin.buffer.read(), "stdin", fmt["encoding"]))
    else:
        lines = read_lines(path, what="input file", encoding=fmt["encoding"])
    rows = [[clean(f) for f in line.split("\t")] if line.strip() else [] for line in lines]
    for number, fields in enumerate(rows, 1):
        if fields and (len(fields) == 2 and all(fields)) != pairs:
            held = ("a single text" if len(fields) == 1 else "two tab-separated texts" if not pairs else
                    "an empty text in its pair" if len(fields) == 2 else f"{len(fields)} tab-separated fields")
            wanted = f"sentence pairs{PAIR_HINT}" if pairs else "single texts"
            raise InputError(f"{source} line {number} holds {held}, but {model} was trained on {wanted}")
    inputs = [tuple(f) if f else ("", "") for f in rows] if pairs else [clean(line) for line in lines]
    return inputs, [None] * len(lines), False


def has_text(x: Text) -> bool:
    """A usable input: a non-empty text, or a pair of two."""
    return all(x) if isinstance(x, tuple) else bool(x)


def tsv_rows(texts, outputs, labels):
    """`label<TAB>p_<label>...<TAB>text` rows (a regressor: `score<TAB>text`; pairs: `text_a<TAB>text_b`)."""
    regression, pairs = labels == SCORE_LABELS, is_pairs(texts)
    values = ["score"] if regression else ["label", *(f"p_{label}" for label in labels)]
    yield "\t".join([*values, *(["text_a", "text_b"] if pairs else ["text"])])
    for text, p in zip(texts, outputs):
        fields = list(text) if pairs else [text]
        if p is None:
            yield "\t".join([""] * len(values) + [""] * len(fields))
        else:
            yield "\t".join([f"{p[0]:.6f}"] if regression else [labels[int(p.argmax())], *(f"{x:.6f}" for x in p)]
                            ) + "\t" + "\t".join(fields)


def jsonl_rows(texts, outputs, labels):
    """{"text", "label", "probs"} per row (a regressor: {"text", "score"}; pairs: "text_a" and "text_b")."""
    for text, p in zip(texts, outputs):
        row = {"text_a": text[0], "text_b": text[1]} if isinstance(text, tuple) else {"text": text}
        if labels == SCORE_LABELS:
            row["score"] = None if p is None else float(p[0])
        else:
            row["label"] = None if p is None else labels[int(p.argmax())]
            row["probs"] = None if p is None else {label: float(x) for label, x in zip(labels, p)}
        yield json.dumps(row, ensure_ascii=False)


def format_rows(output: str | None, texts: list[Text], outputs: list, labels: list[str]):
    """Output lines: JSON for a .jsonl --output, else TSV; `outputs[i]` (probabilities, or a regressor's score)
    is None for a blank row."""
    return (jsonl_rows if output and output.lower().endswith(".jsonl") else tsv_rows)(texts, outputs, labels)


def label_input(model: str, source: str, fmt: dict, batch_size: int = 64, device: str = "cpu",
                need_labels: bool = False) -> tuple[list[Text], list[str | None], list, list[str]]:
    """(inputs, gold labels (None where a row has none), outputs (probabilities, or a regressor's [score]; None
    for a blank row), the model's label names) of every row of `source` (`read_input`). Refused before the
    model loads: input of the other kind than the model reads, input with no text, and, with `need_labels`,
    input without a label column."""
    texts, gold, has_labels = read_input(source, fmt, reads_pairs_at(model), model)
    keep = [i for i, t in enumerate(texts) if has_text(t)]
    if not keep:
        raise InputError(f"{source} holds no text to label ({len(texts)} blank rows)" if texts else
                         f"{source} is empty: nothing to label")
    if need_labels and not has_labels:
        raise InputError(f"--eval: {source} has no label column")
    predict, labels = load_predictor(model, device)
    start = time.perf_counter()
    logits = batched_logits(predict, [texts[i] for i in keep], batch_size, len(labels))
    probs = logits if labels == SCORE_LABELS else softmax(logits)
    logger.info(f"labelled {len(keep)} texts ({len(texts) - len(keep)} blank rows) with {model} "
                f"in {time.perf_counter() - start:.1f} s")
    outputs = [None] * len(texts)
    for i, p in zip(keep, probs):
        outputs[i] = p
    return texts, gold, outputs, labels


def write_predictions(output: str | None, texts: list[Text], outputs: list, labels: list[str]) -> None:
    """The rows (`format_rows`) to `output` (written whole or not at all), or as TSV to standard output."""
    rows = format_rows(output, texts, outputs, labels)
    if output is None:
        sys.stdout.writelines(row + "\n" for row in rows)
        return
    write_rows(output, rows)
    logger.info(f"wrote {output}")


def write_rows(path: str, rows) -> None:
    """Write lines to a temporary name beside `path`, then rename: never a partial file at `path`."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(row + "\n" for row in rows)

    write_atomically(path, write)


def check_output(output: str | None, model: str, source: str) -> None:
    """Refuse an output of unknown format, or one over the input file or the model's files."""
    if output is None:
        return
    model_files = [model, export_files(model)[1]] if model_kind(model) == "onnx" else [model]
    check_apart({"--output": output}, {"--input": None if source == "-" else source, "--model": model_files})
    if os.path.splitext(output)[1].lower() not in OUTPUT_FORMATS:
        raise InputError(f"--output {output}: unknown format; use one of {OUTPUT_FORMATS}")
