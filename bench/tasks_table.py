"""The GLUE/CLUE task table from the metrics.json files that bench/run_tasks.sh keeps under results/tasks/: per
task, its kind, the teacher's and the 3-layer TinyBERT's main metric on test, the student's share of the
teacher, and its CPU speed-up; written as results/tasks/tasks.md and tasks.json, and printed.

    python bench/tasks_table.py --results_dir results/tasks
"""

import argparse
import logging
import os

from src.runs import load_json, save_json

logger = logging.getLogger("kd")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="results/tasks", help="one sub-directory per task, one per run in it")
    p.add_argument("--student", default="tinybert_trunc3", help="the run to set against the teacher")
    return p.parse_args(argv)


def task_row(task_dir: str, student: str) -> dict | None:
    """What the table says of one task: None until its teacher has finished."""
    teacher_file, student_file = (os.path.join(task_dir, run, "metrics.json") for run in ("teacher", student))
    if not os.path.isfile(teacher_file):
        return None
    teacher = load_json(teacher_file)
    metric = teacher["main_metric"]
    row = {"task": os.path.basename(task_dir), "kind": ("pairs" if teacher["text_pair"] else "single texts") + (
        ", scores" if teacher["labels"] == ["score"] else f", {len(teacher['labels'])} classes"),
        "train": teacher["num_train_examples"], "metric": metric, "teacher_dev": teacher["dev"][metric],
        "teacher_test": teacher["test"][metric], "teacher_train_min": teacher["train_time_s"] / 60}
    if os.path.isfile(student_file):
        m = load_json(student_file)
        row.update(student_test=m["test"][metric], share=m["test"][metric] / teacher["test"][metric],
                   speedup_64=m["speed"]["speedup_batch_64"], speedup_1=m["speed"]["speedup_batch_1"],
                   student_params=m["num_params"], teacher_params=m["teacher_num_params"])
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| task | kind | train | metric | teacher dev | teacher test | TinyBERT 3L test | % of teacher | "
             "speed-up b64 / b1 |", "|---" * 9 + "|"]
    for r in rows:
        student = (f"{100 * r['student_test']:.1f} | {100 * r['share']:.1f} | {r['speedup_64']:.1f}x / "
                   f"{r['speedup_1']:.1f}x" if "share" in r else "- | - | -")
        lines.append(f"| {r['task']} | {r['kind']} | {r['train']} | {r['metric']} | {100 * r['teacher_dev']:.1f} | "
                     f"{100 * r['teacher_test']:.1f} | {student} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    tasks = sorted(d for d in os.listdir(args.results_dir) if os.path.isdir(os.path.join(args.results_dir, d)))
    rows = [row for task in tasks if (row := task_row(os.path.join(args.results_dir, task), args.student))]
    table = markdown(rows)
    with open(os.path.join(args.results_dir, "tasks.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    save_json(rows, os.path.join(args.results_dir, "tasks.json"))
    print(table)


if __name__ == "__main__":
    main()
