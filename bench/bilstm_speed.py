"""Training speed of the BiLSTM student: plain shuffled batches (the paper's, --length_buckets 0) against
batches of similar length (--length_buckets 1), in training examples/s and dev accuracy.

    OMP_NUM_THREADS=1 python bench/bilstm_speed.py --data_dir /tmp/sst2_small --teacher_model models/sst2/teacher \
        --max_train_examples 10000 --num_train_epochs 3 [--batch_sizes 50,100] [any distill.py flag]

Each row is one run of distill.py in a subprocess (--distill 0 unless a flag given here says otherwise, so
the teacher serves only for its label names; no speed comparison) with --threads torch threads, the
same seed for every row. Flags this script does not know go to every run. Prints a Markdown table: the
examples/s of training (evaluation left out), the dev accuracy after the last epoch and the best one.
"""

import argparse
import os
import subprocess
import sys
import tempfile

from src.common.cli import HelpFormatter
from src.common.files import load_json

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "src", "distill_task_specific_bert", "distill.py")


def run_distill(flags: list[str], threads: int, output_dir: str) -> dict:
    """metrics.json of one distill.py run; its stderr is shown when it fails."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, SCRIPT, "--output_dir", output_dir, "--speed_texts", "0", "--no_cuda", *flags]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"distill.py failed:\n{result.stderr[-3000:]}")
    return load_json(os.path.join(output_dir, "metrics.json"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--data_dir", required=True, help="train/dev/test.tsv")
    p.add_argument("--teacher_model", required=True, help="a fine-tuned teacher (its label names are used)")
    p.add_argument("--max_train_examples", type=int, default=10_000, help="training examples per run")
    p.add_argument("--num_train_epochs", type=int, default=3, help="epochs per run")
    p.add_argument("--batch_sizes", default="50", help="comma-separated --train_batch_size values")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads of each run")
    args, extra = p.parse_known_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size in args.batch_sizes.split(","):
            for buckets in ("0", "1"):
                flags = ["--data_dir", args.data_dir, "--teacher_model", args.teacher_model, "--distill", "0",
                         "--max_train_examples", str(args.max_train_examples),
                         "--num_train_epochs", str(args.num_train_epochs), "--train_batch_size", batch_size,
                         "--length_buckets", buckets, *extra]
                m = run_distill(flags, args.threads, os.path.join(tmp, f"b{batch_size}_{buckets}"))
                rows.append((buckets, batch_size, m["train_examples_per_s"], m["train_time_s"],
                             m["history"][-1]["dev_accuracy"], m["dev"]["accuracy"]))
                print(f"done: length_buckets {buckets}, batch {batch_size}", file=sys.stderr, flush=True)
    print(f"{args.max_train_examples} training examples, {args.num_train_epochs} epochs, {args.threads} thread(s)\n")
    print("| length_buckets | batch | train examples/s | train s | dev acc, last epoch | best dev acc |")
    print("|---|---|---|---|---|---|")
    for buckets, batch_size, speed, seconds, last, best in rows:
        print(f"| {buckets} | {batch_size} | {speed:.0f} | {seconds:.0f} | {last:.4f} | {best:.4f} |")


if __name__ == "__main__":
    main()
