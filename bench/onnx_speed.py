r"""PyTorch fp32 against ONNX Runtime fp32 and dynamic int8: inference speed of a teacher, a BiLSTM student and
a TinyBERT student (each optional) on the same texts, in one process.

    python bench/onnx_speed.py --teacher models/sst2/teacher --bilstm models/sst2/bilstm_distill \
        --tinybert models/sst2/tinybert --data data/sst2/test.tsv --output results/sst2/onnx_speed.json
Tiny check (seconds):
    python bench/onnx_speed.py --bilstm /tmp/bilstm --data data/sst2/dev.tsv --num_texts 64 --repeats 1 \
        --output /tmp/onnx_speed.json

Each directory is exported (src/serve/predictors.py's `export_model`, fp32 and int8, into a temporary directory), then
timed with each of --threads (torch.set_num_threads and onnxruntime's intra-op threads alike): batch 64 over
--num_texts texts and batch 1 over a quarter of them, tokenisation included (src.speed.inference_speed: one
warm-up pass, median of --repeats). PyTorch runs the serving path of src/predict.py (a BiLSTM its folded LSTM).
`same label` is the share of the texts where a runtime gives PyTorch's label. Prints a Markdown table and
writes the rows as JSON.
"""

import argparse
import os
import tempfile

import torch

from src.common.cli import HelpFormatter, exits_on_input_error, logger, setup_logging
from src.common.files import save_json
from src.data.reading import read_texts
from src.serve.onnx_export import export_model
from src.serve.predictors import EXPORT_GRAPH, batched_logits, onnx_predictor, require_onnx, torch_predictor, versions
from src.serve.speed import inference_speed


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--teacher", default=None, help="fine-tuned BERT teacher directory")
    p.add_argument("--bilstm", default=None, help="BiLSTM student directory")
    p.add_argument("--tinybert", default=None, help="TinyBERT student directory")
    p.add_argument("--data", default="data/sst2/test.tsv", help="texts to time on (any file src/data.read_texts reads)")
    p.add_argument("--num_texts", type=int, default=512, help="texts at batch 64 (a quarter of them at batch 1)")
    p.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts")
    p.add_argument("--repeats", type=int, default=3, help="timed passes (median reported)")
    p.add_argument("--output", default="logs/onnx_speed.json", help="where the rows are written as JSON")
    args = p.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    if not (args.teacher or args.bilstm or args.tinybert):
        p.error("give at least one of --teacher, --bilstm, --tinybert")
    return args


def time_model(name: str, model_dir: str, texts: list[str], threads: list[int], repeats: int) -> list[dict]:
    """One row per (runtime, thread count) for a model directory, exported to ONNX on the fly."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        info = export_model(model_dir, os.path.join(tmp, EXPORT_GRAPH), tmp, int8=True)
        torch_predict, labels = torch_predictor(model_dir)
        reference = batched_logits(torch_predict, texts, 64, len(labels)).argmax(1)
        same_label = {}
        for n in threads:
            torch.set_num_threads(n)
            runtimes = {"pytorch": torch_predict, "onnx_fp32": onnx_predictor(info["path"], n)[0],
                        "onnx_int8": onnx_predictor(info["int8_path"], n)[0]}
            for runtime, predict in runtimes.items():
                if runtime not in same_label:
                    labels_here = batched_logits(predict, texts, 64, len(labels)).argmax(1)
                    same_label[runtime] = float((labels_here == reference).mean())
                rows.append({"model": name, "runtime": runtime, "threads": n, "same_label": same_label[runtime],
                             "batch_64": inference_speed(predict, texts, 64, repeats=repeats),
                             "batch_1": inference_speed(predict, texts[:max(len(texts) // 4, 1)], 1, repeats=repeats)})
                logger.info(f"timed {name} {runtime} with {n} thread(s)")
    return rows


def print_table(rows: list[dict]) -> None:
    base = {(r["model"], r["threads"]): r for r in rows if r["runtime"] == "pytorch"}
    print("| model | runtime | threads | ex/s b64 | ms/batch b64 | ex/s b1 | ms b1 | vs PyTorch b64 | vs PyTorch b1 "
          "| same label |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b64, b1, ref = r["batch_64"], r["batch_1"], base[(r["model"], r["threads"])]
        print(f"| {r['model']} | {r['runtime']} | {r['threads']} | {b64['examples_per_s']:.0f} | "
              f"{b64['ms_per_batch']:.1f} | {b1['examples_per_s']:.0f} | {b1['ms_per_batch']:.2f} | "
              f"{b64['examples_per_s'] / ref['batch_64']['examples_per_s']:.2f}x | "
              f"{b1['examples_per_s'] / ref['batch_1']['examples_per_s']:.2f}x | {r['same_label']:.1%} |")


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    require_onnx()
    texts = read_texts(args.data)[:args.num_texts]
    rows = []
    for name in ("teacher", "bilstm", "tinybert"):
        if getattr(args, name):
            rows += time_model(name, getattr(args, name), texts, args.threads, args.repeats)
    print(f"\n{len(texts)} texts of {args.data}, tokenisation included, median of {args.repeats}\n")
    print_table(rows)
    save_json({"data": args.data, "num_texts": len(texts), "repeats": args.repeats, "rows": rows,
               "versions": versions()}, args.output)
    logger.info(f"wrote {args.output}")


if __name__ == "__main__":
    main()
