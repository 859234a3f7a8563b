"""The table of a pair-transfer run directory (bench/run_pair_transfer.sh): each student's test score by the
teacher's main metric (and, for classes, accuracy and MCC), its share of the teacher's score and of the teacher's
gain over always answering the majority class, its transfer set and its CPU speed-up, from the metrics.json
files the runs wrote (the accuracy floor is counted on the run's data directory).

    python bench/pair_table.py models/pair_transfer/sts-b
"""

import glob
import os
import sys

from src.common.files import load_json
from src.data.reading import load_split
from src.runs.summary import gain_share, majority_floor


def shares(score: float, teacher: float, floor: float) -> str:
    gain = gain_share(score, teacher, floor)
    return f"{score / teacher:.0%} / {'teacher at chance' if gain is None else f'{gain:.0%}'}"


def row(m: dict, name: str, teacher: dict, floors: dict, metrics: list[str]) -> str:
    cells = " | ".join(f"{100 * m['test'][k]:.1f} ({shares(m['test'][k], teacher['test'][k], floors[k])})"
                       for k in metrics)
    speed = (m.get("speed") or {}).get("speedup_batch_64")
    transfer = (f"{m['num_transfer_examples']:,} ({m.get('num_new_pairs', 0):,} new pairs)"
                if "num_transfer_examples" in m else f"{m['num_train_examples']:,}")
    return f"| {name} | {cells} | {transfer} | {'1x' if name == 'teacher' else f'{speed:.0f}x' if speed else '-'} |"


def main(run_dir: str) -> None:
    paths = sorted(glob.glob(os.path.join(run_dir, "*", "metrics.json")), key=lambda p: ("teacher" not in p, p))
    runs = {os.path.basename(os.path.dirname(p)): load_json(p) for p in paths}
    runs = {name: m for name, m in runs.items() if "test" in m}  # TinyBERT's stage 1 has no scores
    teacher = runs["teacher"]
    metrics = [teacher["main_metric"], *(k for k in ("accuracy", "mcc") if k in teacher["test"]
                                         and k != teacher["main_metric"])]
    labels = teacher["labels"]
    train, test = (load_split(teacher["data_dir"], split, labels)[1] for split in ("train", "test"))
    floors = {k: majority_floor(train, test, k) for k in metrics}
    print(f"Test scores (share of the teacher's / share of its gain over the majority class; floors "
          f"{', '.join(f'{k} {100 * v:.1f}' for k, v in floors.items())}):\n")
    print("| model | " + " | ".join(f"test {k}" for k in metrics) + " | transfer set | CPU speed-up (batch 64) |")
    print("|---" * (len(metrics) + 3) + "|")
    print("\n".join(row(m, name, teacher, floors, metrics) for name, m in runs.items()))


if __name__ == "__main__":
    main(sys.argv[1])
