r"""Export a trained classifier to ONNX: a BiLSTM student, or a BERT-family teacher or TinyBERT student.

    python src/export.py --model models/sst2/bilstm --output exports/bilstm/model.onnx
    python src/export.py --model models/sst2/teacher --output exports/teacher/model.onnx --int8 \
        --eval_data data/sst2
Then run it with onnxruntime:
    python src/predict.py --model exports/bilstm/model.onnx --input texts.txt

The output's directory belongs to the export (refused if it exists and is not empty, unless
--overwrite_output_dir; written beside it and moved into place when done): the graph, `<name>.onnx.json`
(the check below, versions) and what turns texts into the graph's inputs (`config.json` and `vocab.txt`
for a BiLSTM; `config.json`, the tokenizer and `args.json` for a BERT). With --int8 the output is the
dynamically quantized graph (int8 weights) and the fp32 graph is kept as `<name>.fp32.onnx`.

Graph: inputs `input_ids (B, L)` and `lengths (B,)` for a BiLSTM (packed sequences replaced by an equal
computation on padded rows), the tokenizer's inputs for a BERT; output `logits (B, C)`; batch and sequence
axes dynamic. The check: onnxruntime against PyTorch logits on --check_texts (default: a few built-in
English and Chinese strings), largest absolute difference logged and written; with --eval_data, accuracy
of PyTorch, ONNX fp32 and ONNX int8 on a labelled file.
"""

import os
import shutil

import numpy as np

from src.cli import ArgumentParser, InputError, exits_on_input_error, logger, positive, run_script, setup_logging
from src.data import encode_labels, read_examples, read_texts
from src.evaluation import classification_metrics
from src.runs import check_output_dir, is_within, publish_dir, save_json, staging_dir
from src.serving import (SAMPLE_TEXTS, batched_logits, export_model, model_kind, onnx_predictor,
                         require_onnx, torch_predictor, versions)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="BiLSTM student or BERT classifier directory")
    p.add_argument("--output", required=True, help="DIR/NAME.onnx; DIR gets the graph and its side files")
    p.add_argument("--int8", action="store_true",
                   help="write a dynamically quantized int8 graph (the fp32 one is kept as NAME.fp32.onnx)")
    p.add_argument("--check_texts", default=None,
                   help="texts to compare ONNX and PyTorch logits on (default: built-in sample strings)")
    p.add_argument("--eval_data", default=None,
                   help="labelled .tsv, or a data directory (its test.tsv), to compare accuracies on")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (14 or later)")
    p.add_argument("--batch_size", type=positive(int), default=64, help="texts per forward pass in the checks")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty output directory")
    args = p.parse_args(argv)
    if args.opset < 14:  # scaled_dot_product_attention exports from opset 14 on
        p.error(f"--opset {args.opset}: use 14 or later")
    return args


def check_paths(args) -> str:
    """Refuse what cannot be exported or where it must not go; returns the output directory."""
    if model_kind(args.model) == "onnx":
        raise InputError(f"{args.model} is already an ONNX model; --model takes a BiLSTM or BERT directory")
    if not args.output.endswith(".onnx") or os.path.basename(args.output) == ".onnx":
        raise InputError(f"--output {args.output} must be a file name ending in .onnx")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if is_within(out_dir, args.model) or is_within(args.model, out_dir):
        raise InputError(f"--output {args.output}: its directory and the model directory {args.model} must be "
                         "apart (the export replaces its whole directory)")
    check_output_dir(out_dir, args.overwrite_output_dir)
    return out_dir


def eval_examples(path: str, labels: list[str]) -> tuple[list[str], list[int]]:
    """Texts and label ids of a labelled file (or `<dir>/test.tsv`) in the model's label order."""
    if os.path.isdir(path):
        path = os.path.join(path, "test.tsv")
    examples = read_examples(path)
    return [ex.text for ex in examples], encode_labels(examples, labels, path)


def compare(reference: np.ndarray, predict, texts: list[str], batch_size: int) -> dict:
    """Largest absolute logit difference to `reference` and the share of texts with the same label."""
    logits = batched_logits(predict, texts, batch_size, reference.shape[1])
    return {"max_abs_diff": float(np.abs(logits - reference).max()),
            "same_label": float((logits.argmax(1) == reference.argmax(1)).mean())}


def accuracies(predictors: dict, texts: list[str], gold: list[int], batch_size: int, num_labels: int) -> dict:
    """classification_metrics of each named predictor on labelled texts."""
    return {name: classification_metrics(gold, batched_logits(predict, texts, batch_size, num_labels).argmax(1))
            for name, predict in predictors.items()}


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    require_onnx()
    out_dir = check_paths(args)
    name = os.path.basename(args.output)
    check_texts = read_texts(args.check_texts) if args.check_texts else SAMPLE_TEXTS
    torch_predict, labels = torch_predictor(args.model)
    evaluation = eval_examples(args.eval_data, labels) if args.eval_data else None

    # --- export into a staging directory, check it there, then move it into place
    tmp = staging_dir(out_dir)
    try:
        info = export_model(args.model, tmp, name, args.int8, args.opset)
        onnx = {"onnx_fp32": onnx_predictor(info["fp32_path"])[0]}
        if args.int8:
            onnx["onnx_int8"] = onnx_predictor(info["path"])[0]
        reference = batched_logits(torch_predict, check_texts, args.batch_size, len(labels))
        checks = {key: compare(reference, predict, check_texts, args.batch_size) for key, predict in onnx.items()}
        report = {"source": os.path.abspath(args.model), "kind": info["kind"], "onnx": name,
                  "fp32_onnx": os.path.basename(info["fp32_path"]), "int8": args.int8, "opset": args.opset,
                  "inputs": info["inputs"], "check_texts": len(check_texts),
                  "max_abs_diff": checks["onnx_int8" if args.int8 else "onnx_fp32"]["max_abs_diff"],
                  "checks": checks, "versions": versions()}
        if evaluation:
            report["eval"] = accuracies({"pytorch": torch_predict, **onnx}, *evaluation, args.batch_size, len(labels))
        save_json(report, os.path.join(tmp, f"{name}.json"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_dir(tmp, out_dir)

    for key, check in checks.items():
        logger.info(f"{key}: max |logit difference| to PyTorch {check['max_abs_diff']:.2e} on {len(check_texts)} "
                    f"texts, same label on {check['same_label']:.1%}")
    logger.info(f"wrote {args.output} and {args.output}.json")
    if evaluation:
        print(f"\n{len(evaluation[0])} labelled texts of {args.eval_data}\n")
        print("| model | accuracy | macro-F1 |\n|---|---|---|")
        for key, m in report["eval"].items():
            print(f"| {key} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |")


if __name__ == "__main__":
    run_script(main)
