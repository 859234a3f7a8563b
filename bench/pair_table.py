"""The table of a pair-transfer run directory (bench/run_pair_transfer.sh): each student's test score by the
task's main metric, its share of the teacher's score and of the teacher's gain over the majority class, its
transfer set and its CPU speed-up, from the metrics.json files the runs wrote.

    python bench/pair_table.py models/pair_transfer/sts-b
"""

import glob
import os
import sys

from src.common.files import load_json


def row(path: str) -> str:
    m = load_json(path)
    metric, name = m["main_metric"], os.path.basename(os.path.dirname(path))
    if "distill" not in m:  # the teacher
        return f"| {name} | {100 * m['test'][metric]:.1f} | 100 % | 100 % | {m['num_train_examples']:,} | 1x |"
    gain = m.get("share_of_teacher_gain")
    share = m.get(f"test_{metric}_vs_teacher")
    speed = (m.get("speed") or {}).get("speedup_batch_64")
    return (f"| {name} | {100 * m['test'][metric]:.1f} | {'-' if share is None else f'{share:.0%}'} | "
            f"{'teacher at chance' if gain is None else f'{gain:.0%}'} | {m['num_transfer_examples']:,} "
            f"({m.get('num_new_pairs', 0):,} new pairs) | {'-' if speed is None else f'{speed:.0f}x'} |")


def main(run_dir: str) -> None:
    paths = sorted(glob.glob(os.path.join(run_dir, "*", "metrics.json")), key=lambda p: ("teacher" not in p, p))
    metric = load_json(paths[0])["main_metric"]
    print(f"| model | test {metric} | share of the teacher's | share of its gain over the majority class | "
          f"transfer set | CPU speed-up (batch 64) |\n|---|---|---|---|---|---|")
    print("\n".join(row(p) for p in paths))


if __name__ == "__main__":
    main(sys.argv[1])
