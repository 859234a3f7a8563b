r"""Export a trained classifier to ONNX: a BiLSTM student, or a BERT-family teacher or TinyBERT student.

    python src/export.py --model models/sst2/bilstm --output_dir exports/bilstm
    python src/export.py --model models/sst2/teacher --output_dir exports/teacher --int8 --eval_data data/sst2
    python src/export.py --model models/sst2/tinybert --output exports/tinybert.onnx     # several in one folder
Then run it with onnxruntime:
    python src/predict.py --model exports/bilstm --input texts.txt          # or exports/bilstm/model.onnx
    python src/predict.py --model exports/tinybert.onnx --input texts.txt
Tiny CPU run (seconds), on any trained directory, e.g. one of the tests' tiny models:
    python src/export.py --model /tmp/bilstm --output_dir /tmp/bilstm_onnx --int8

Two layouts (HF optimum's file names), both read by src/predict.py (src/serve/predictors.py `export_files`):
  --output_dir DIR   DIR/model.onnx (fp32), with --int8 also DIR/model_quantized.onnx, and the side files in DIR.
                     DIR belongs to the export: refused if it exists and is not empty.
  --output F/S.onnx  F/S.onnx (fp32), with --int8 also F/S_quantized.onnx, and the side files in the directory
                     F/S/; other exports may share the folder F. These three paths are refused if one exists.
Both refuse to replace an earlier export unless --overwrite_output_dir. Everything is written into a staging
directory beside it (`.DIR.tmp`, `.S.tmp`), checked there and then moved into place: a failure leaves the
earlier export as it was. The side files are the check `export.json` (below, versions) and what turns texts
into the graph's inputs (`config.json` and `vocab.txt` for a BiLSTM; `config.json`, the tokenizer and
`args.json` for a BERT).

Graph: inputs `input_ids (B, L)` and `lengths (B,)` for a BiLSTM (packed sequences replaced by an equal
computation on padded rows), the tokenizer's inputs for a BERT (`token_type_ids` among them: a pair model
reads sentence pairs); output `logits (B, C)` (a regressor's score: C = 1); batch and sequence axes dynamic.
The check: onnxruntime against PyTorch logits on --check_texts (default: a few built-in English and Chinese
strings, paired up for a pair model; a file's two text columns give pairs), largest absolute difference
logged and written; with --eval_data, the task's metrics (accuracy and macro-F1, or Pearson and Spearman) of
PyTorch, ONNX fp32 and ONNX int8 on a labelled file. The last line on stdout sums it up.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import os
import shutil

import numpy as np

from src.common.cli import (
    ArgumentParser,
    InputError,
    exits_on_input_error,
    logger,
    number,
    positive,
    run_script,
    setup_logging,
)
from src.common.files import check_apart, check_output_dir, publish_dir, save_json, staging_dir
from src.data.examples import SCORE_LABELS, Text, check_input_kind, encode_labels
from src.data.reading import read_examples, read_texts
from src.runs.summary import print_summary
from src.serve.onnx_export import export_model
from src.serve.predictors import (
    EXPORT_GRAPH,
    INT8_SUFFIX,
    batched_logits,
    int8_twin,
    model_kind,
    onnx_predictor,
    predictor_metrics,
    reads_pairs_at,
    require_onnx,
    sample_inputs,
    torch_predictor,
    versions,
)

CHECK_FILE = "export.json"  # the check, among the side files


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="BiLSTM student or BERT classifier directory")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--output_dir", default=None,
                       help="directory of the export: model.onnx, model_quantized.onnx (--int8), the side files")
    where.add_argument("--output", default=None,
                       help="F/S.onnx: the graph, S_quantized.onnx (--int8) beside it, the side files in F/S/")
    p.add_argument("--int8", action="store_true",
                   help="also write the dynamically quantized int8 graph (model_quantized.onnx or S_quantized.onnx)")
    p.add_argument("--check_texts", default=None,
                   help="texts to compare ONNX and PyTorch logits on (default: built-in sample strings)")
    p.add_argument("--eval_data", default=None,
                   help="labelled .tsv, or a data directory (its test.tsv), to compare accuracies on")
    p.add_argument("--opset", type=number(int, 14, 20), default=17,
                   help="ONNX opset version (14 to 20: what the TorchScript exporter writes)")
    p.add_argument("--batch_size", type=positive(int), default=64, help="texts per forward pass in the checks")
    p.add_argument("--overwrite_output_dir", action="store_true",
                   help="replace an earlier export at --output_dir or --output")
    args = p.parse_args(argv)
    return args


# ----------------------------------------------------------------------------
# Where the export goes

def layout(args) -> tuple[str, str, list[str]]:
    """(fp32 graph, side directory, the paths the export owns: what it refuses to replace and then replaces)."""
    if args.output_dir is not None:
        out_dir = os.path.normpath(args.output_dir)
        return os.path.join(out_dir, EXPORT_GRAPH), out_dir, [os.path.abspath(out_dir)]  # abspath: `.` has a name
    if not args.output.endswith(".onnx") or os.path.basename(args.output) == ".onnx":
        raise InputError(f"--output {args.output} must be a file name ending in .onnx")
    if args.output.endswith(INT8_SUFFIX + ".onnx"):  # reserved, so that S_quantized.onnx always reads S/
        raise InputError(f"--output {args.output}: names ending in {INT8_SUFFIX}.onnx are the int8 graphs of "
                         f"--int8; choose another name")
    side = args.output[:-len(".onnx")]
    return args.output, side, [side, args.output, int8_twin(args.output)]


def check_layout(args) -> tuple[str, str, list[str]]:
    """Refuse what cannot be exported or where it must not go; returns `layout(args)`."""
    if model_kind(args.model) in ("onnx", "linear"):
        what = "already an ONNX model" if model_kind(args.model) == "onnx" else "a linear teacher (scikit-learn)"
        raise InputError(f"{args.model} is {what}; --model takes a BiLSTM or BERT directory")
    graph, side, owned = layout(args)
    output_flag = "--output_dir" if args.output_dir else "--output"
    for path in owned:
        check_apart({output_flag: path}, {"--model": args.model})
        if os.path.isdir(path):
            check_output_dir(path, args.overwrite_output_dir)
        elif os.path.lexists(path) and not args.overwrite_output_dir:
            raise InputError(f"{path} exists (use --overwrite_output_dir to replace it)")
    return graph, side, owned


def in_staging(path: str, tmp: str, owned: list[str]) -> str:
    """Where `path` (an owned path or below one) is written inside the staging directory `tmp`."""
    return os.path.join(tmp, os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(owned[0]))))


def publish(tmp: str, owned: list[str]) -> None:
    """Move each owned path from the staging directory into place, replacing an earlier export's (which is
    deleted only once the new one is in place); an earlier int8 graph that this export does not replace goes
    too: its check is gone."""
    for path in owned:
        staged = in_staging(path, tmp, owned)
        if os.path.lexists(staged):
            publish_dir(staged, path)
        elif os.path.lexists(path):
            os.replace(path, f"{staged}.old")  # deleted with the staging directory
    shutil.rmtree(tmp)


def eval_examples(path: str, labels: list[str]) -> tuple[list[Text], list[int] | list[float]]:
    """Texts (or pairs) and label ids (or scores) of a labelled file (or `<dir>/test.tsv`) in the model's label
    order."""
    if os.path.isdir(path):
        path = os.path.join(path, "test.tsv")
    examples = read_examples(path)
    return [ex.input for ex in examples], encode_labels(examples, labels, path)


def compare(reference: np.ndarray, predict, texts: list[str], batch_size: int) -> dict:
    """Largest absolute logit difference to `reference` and the share of texts with the same label."""
    logits = batched_logits(predict, texts, batch_size, reference.shape[1])
    return {"max_abs_diff": float(np.abs(logits - reference).max()),
            "same_label": float((logits.argmax(1) == reference.argmax(1)).mean())}


def scores(predictors: dict, texts: list[Text], gold: list, batch_size: int, labels: list[str]) -> dict:
    """task_metrics of each named predictor on labelled texts (or pairs): a classifier's, or a regressor's."""
    return {name: predictor_metrics(predict, labels, texts, gold, batch_size) for name, predict in predictors.items()}


def export_and_check(args, graph: str, side: str, torch_predict, labels: list[str], check_texts: list[str],
                     evaluation: tuple | None) -> dict:
    """Export into `graph` and `side`, compare the graphs with PyTorch and write the report (`CHECK_FILE`)."""
    info = export_model(args.model, graph, side, args.int8, args.opset)
    onnx = {"onnx_fp32": onnx_predictor(info["path"])[0]}
    if args.int8:
        onnx["onnx_int8"] = onnx_predictor(info["int8_path"])[0]
    reference = batched_logits(torch_predict, check_texts, args.batch_size, len(labels))
    checks = {key: compare(reference, predict, check_texts, args.batch_size) for key, predict in onnx.items()}
    report = {"source": os.path.abspath(args.model), "kind": info["kind"], "onnx": os.path.basename(graph),
              "int8_onnx": os.path.basename(info["int8_path"]) if args.int8 else None, "int8": args.int8,
              "opset": args.opset, "inputs": info["inputs"], "check_texts": len(check_texts),
              "max_abs_diff": checks["onnx_fp32"]["max_abs_diff"], "checks": checks, "versions": versions()}
    if evaluation:
        report["eval"] = scores({"pytorch": torch_predict, **onnx}, *evaluation, args.batch_size, labels)
    save_json(report, os.path.join(side, CHECK_FILE))
    return report


def summary_facts(report: dict) -> tuple[str, ...]:
    """The summary line's facts: each graph's largest logit difference to PyTorch and, with --eval_data, its
    accuracy (a regressor's Pearson)."""
    facts = []
    for key, what in (("onnx_fp32", ""), ("onnx_int8", f"int8 {report['int8_onnx']}: ")):
        if key in report["checks"]:
            metric = "pearson" if "pearson" in report.get("eval", {}).get(key, {}) else "accuracy"
            score = f", {metric} {report['eval'][key][metric]:.4f}" if "eval" in report else ""
            facts.append(f"{what}max |logit difference| {report['checks'][key]['max_abs_diff']:.1e}{score}")
    return tuple(facts)


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    require_onnx()
    graph, side, owned = check_layout(args)
    pairs = reads_pairs_at(args.model)
    check_texts = read_texts(args.check_texts) if args.check_texts else sample_inputs(pairs)
    check_input_kind(check_texts, pairs, args.model, f"--check_texts {args.check_texts}")
    torch_predict, labels = torch_predictor(args.model)
    evaluation = eval_examples(args.eval_data, labels) if args.eval_data else None

    # --- export into a staging directory, check it there, then move it into place
    tmp = staging_dir(owned[0])
    try:
        report = export_and_check(args, in_staging(graph, tmp, owned), in_staging(side, tmp, owned), torch_predict,
                                  labels, check_texts, evaluation)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish(tmp, owned)

    for key, check in report["checks"].items():
        logger.info(f"{key}: max |logit difference| to PyTorch {check['max_abs_diff']:.2e} on {len(check_texts)} "
                    f"texts, same label on {check['same_label']:.1%}")
    logger.info(f"wrote {', '.join(p for p in owned if os.path.lexists(p))}")
    if evaluation:
        print(f"\n{len(evaluation[0])} labelled texts of {args.eval_data}\n")
        columns = ["pearson", "spearman"] if labels == SCORE_LABELS else ["accuracy", "macro_f1"]
        print(f"| model | {' | '.join(columns)} |\n|---{'|---' * len(columns)}|")
        for key, m in report["eval"].items():
            print(f"| {key} | " + " | ".join(f"{m[c]:.4f}" for c in columns) + " |")
    print_summary("ONNX export", graph, facts=summary_facts(report))


if __name__ == "__main__":
    run_script(main)
