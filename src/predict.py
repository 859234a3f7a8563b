r"""Label texts with a trained classifier: a BiLSTM student, a BERT-family teacher or TinyBERT student
(`save_pretrained` directory), or a model exported by src/export.py (its directory or .onnx file, run with
onnxruntime).

    python src/predict.py --model models/sst2/bilstm --input texts.txt
    python src/predict.py --model models/sst2/teacher --input data/sst2/test.tsv --output preds.jsonl
    python src/predict.py --model models/sst2/tinybert --input data/sst2/test.tsv --eval
    python src/predict.py --model exports/bilstm/model.onnx --input texts.txt --output preds.tsv
    python src/predict.py --model exports/teacher --input texts.txt       # an export directory: its model.onnx
    echo "a gripping , funny film" | python src/predict.py --model models/sst2/bilstm --input -

Input: `-` (stdin) or any file other than the three below holds one text per line; a blank line gets an
empty row (no label, no probabilities), so that output row i is input line i. A `.tsv`, `.csv` or `.jsonl`
file is read as every stage reads data (a header naming the text column, `text`, `sentence`, `review`, `text_a`
or --text_column, and optionally `label`; or headerless `label<TAB>text`): one output row per data row.
A model trained on sentence pairs reads a file's two text columns (`text_a`/`text_b`, `sentence1`/`sentence2`, ...,
or --text_b_column), or two tab-separated texts a line:
    printf 'how do I learn?\thow to learn?\n' | python src/predict.py --model models/tasks/mrpc/teacher --input -
Output (stdout, or --output `.tsv`/`.jsonl`, written whole or not at all): TSV `label<TAB>p_<label>...<TAB>text`
with a header, or one JSON object per line {"text", "label", "probs": {label: p}}; probabilities are the softmax
of the logits. A regressor (STS-B) gives `score<TAB>text` / {"text", "score"}; pairs give `text_a<TAB>text_b` /
"text_a", "text_b". BERT models truncate at the length they were trained with (args.json `max_seq_length`),
pairs longest-first. --eval scores a labelled input with the task's metrics (accuracy, macro-F1, MCC, F1 of
class 1; a regressor Pearson, Spearman, MSE) and prints the table instead of the predictions, unless --output
is given.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import json
import os
import sys
import time

import numpy as np

from src.cli import ArgumentParser, InputError, exits_on_input_error, logger, run_script, setup_logging
from src.data import (FORMATS, SCORE_LABELS, Example, Text, add_data_format_args, check_input_kind, data_format,
                      decode_text, encode_labels, is_pairs, read_examples, read_lines, split_lines)
from src.evaluation import task_metrics
from src.runs import check_apart, write_atomically
from src.serving import batched_logits, export_files, load_predictor, model_kind, reads_pairs_at, softmax

OUTPUT_FORMATS = (".tsv", ".jsonl")
PAIR_HINT = " (two text columns, or two tab-separated texts a line)"


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True,
                   help="BiLSTM or BERT model directory, or an export of src/export.py: its directory or a .onnx file")
    p.add_argument("--input", required=True, help="texts: - for stdin, a .txt (one per line), .tsv, .csv or .jsonl")
    p.add_argument("--output", default=None, help="predictions file, .tsv or .jsonl (default: TSV on stdout)")
    p.add_argument("--batch_size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--eval", action="store_true",
                   help="print the task's metrics against the input's labels (accuracy, macro-F1, MCC, F1; for a "
                        "regressor Pearson, Spearman, MSE)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (PyTorch models; .onnx runs on the CPU)")
    add_data_format_args(p)
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error("--batch_size must be at least 1")
    return args


# ----------------------------------------------------------------------------
# Input: rows of (text, label); "" for a blank line, label None where there is none

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
    for number, line in enumerate(lines, 1):
        fields = [clean(f) for f in line.split("\t")] if line.strip() else []
        if fields and (len(fields) == 2 and all(fields)) != pairs:
            held = "two tab-separated texts" if len(fields) > 1 and not pairs else "a single text"
            wanted = f"sentence pairs{PAIR_HINT}" if pairs else "single texts"
            raise InputError(f"{source} line {number} holds {held}, but {model} was trained on {wanted}")
    if pairs:
        return [tuple(clean(f) for f in line.split("\t")) if line.strip() else ("", "") for line in lines
                ], [None] * len(lines), False
    return [clean(line) for line in lines], [None] * len(lines), False


def has_text(x: Text) -> bool:
    """A usable input: a non-empty text, or a pair of two."""
    return all(x) if isinstance(x, tuple) else bool(x)


# ----------------------------------------------------------------------------
# Output

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


# ----------------------------------------------------------------------------

@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    check_output(args.output, args.model, args.input)
    pairs = reads_pairs_at(args.model)
    texts, gold, has_labels = read_input(args.input, data_format(args), pairs, args.model)
    keep = [i for i, t in enumerate(texts) if has_text(t)]
    if not keep:
        raise InputError(f"{args.input} holds no text to label ({len(texts)} blank rows)" if texts else
                         f"{args.input} is empty: nothing to label")
    if args.eval and not has_labels:
        raise InputError(f"--eval: {args.input} has no label column")

    predict, labels = load_predictor(args.model, args.device)
    scored = [i for i in keep if gold[i] is not None] if args.eval else []
    if args.eval and not scored:
        raise InputError(f"--eval: {args.input} has no row with both a text and a label")
    gold_ids = encode_labels([Example("", gold[i]) for i in scored], labels, args.input)

    start = time.perf_counter()
    logits = batched_logits(predict, [texts[i] for i in keep], args.batch_size, len(labels))
    probs = logits if labels == SCORE_LABELS else softmax(logits)
    logger.info(f"labelled {len(keep)} texts ({len(texts) - len(keep)} blank rows) with {args.model} "
                f"in {time.perf_counter() - start:.1f} s")
    per_row = [None] * len(texts)
    for i, p in zip(keep, probs):
        per_row[i] = p

    rows = format_rows(args.output, texts, per_row, labels)
    if args.output:
        write_rows(args.output, rows)
        logger.info(f"wrote {args.output}")
    elif not args.eval:
        sys.stdout.writelines(row + "\n" for row in rows)
    if args.eval:
        regression = labels == SCORE_LABELS
        preds = [float(per_row[i][0]) if regression else int(per_row[i].argmax()) for i in scored]
        m = task_metrics(np.array(gold_ids), np.array(preds), regression)
        logger.info(f"scored {len(scored)} of {len(texts)} rows (the others are blank or unlabelled)")
        print("| " + " | ".join(m) + " |\n" + "|---" * len(m) + "|\n| " + " | ".join(
            str(v) if isinstance(v, int) else f"{v:.4f}" for v in m.values()) + " |")



if __name__ == "__main__":
    run_script(main)
