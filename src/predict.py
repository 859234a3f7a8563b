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


import numpy as np

from src.common.cli import ArgumentParser, InputError, exits_on_input_error, logger, run_script, setup_logging
from src.data.examples import SCORE_LABELS, Example, add_data_format_args, data_format, encode_labels
from src.serve.labelling import check_output, label_input, write_predictions
from src.train.evaluation import task_metrics


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


# ----------------------------------------------------------------------------
# Output


# ----------------------------------------------------------------------------

@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    check_output(args.output, args.model, args.input)
    texts, gold, outputs, labels = label_input(args.model, args.input, data_format(args), args.batch_size,
                                               args.device, need_labels=args.eval)
    scores = task_scores(texts, gold, outputs, labels, args.input) if args.eval else None  # refused before writing
    if args.output or not args.eval:
        write_predictions(args.output, texts, outputs, labels)
    if scores:
        print("| " + " | ".join(scores) + " |\n" + "|---" * len(scores) + "|\n| " + " | ".join(
            str(v) if isinstance(v, int) else f"{v:.4f}" for v in scores.values()) + " |")


def task_scores(texts: list, gold: list, outputs: list, labels: list[str], source: str) -> dict:
    """The task's metrics of the rows that have a text and a label."""
    scored = [i for i, (g, p) in enumerate(zip(gold, outputs)) if g is not None and p is not None]
    if not scored:
        raise InputError(f"--eval: {source} has no row with both a text and a label")
    gold_ids = encode_labels([Example("", gold[i]) for i in scored], labels, source)
    regression = labels == SCORE_LABELS
    preds = [float(outputs[i][0]) if regression else int(outputs[i].argmax()) for i in scored]
    logger.info(f"scored {len(scored)} of {len(texts)} rows (the others are blank or unlabelled)")
    return task_metrics(np.array(gold_ids), np.array(preds), regression)


if __name__ == "__main__":
    run_script(main)
