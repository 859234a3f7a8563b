"""The GLUE/CLUE task table from the metrics.json files that bench/run_tasks.sh keeps under results/tasks/: per
task, its kind, the teacher's main metric on dev and test, and for each student (the 3-layer TinyBERT, the
BiLSTM on gold labels, the distilled BiLSTM) its test score, its share of the teacher's and its CPU speed-up
at batch 64; written as results/tasks/tasks.md and tasks.json, and printed.

    python bench/tasks_table.py --results_dir results/tasks
"""

import argparse
import os

from src.runs import load_json, save_json


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="results/tasks", help="one sub-directory per task, one per run in it")
    return p.parse_args(argv)


STUDENTS = {"tinybert": "tinybert_trunc3", "bilstm_gold": "bilstm_distill0", "bilstm_distilled": "bilstm_distill1"}


def student_cells(task_dir: str, run: str, metric: str, teacher_test: float) -> dict:
    """A student's test score, its share of the teacher's, and its CPU speed-ups (batch 64 and 1), or {}."""
    path = os.path.join(task_dir, run, "metrics.json")
    if not os.path.isfile(path):
        return {}
    m = load_json(path)
    speed = m.get("speed") or {}
    return {"test": m["test"][metric], "share": m["test"][metric] / teacher_test,
            "speedup_64": speed.get("speedup_batch_64"), "speedup_1": speed.get("speedup_batch_1")}


def task_row(task_dir: str) -> dict | None:
    """What the table says of one task: None until its teacher has finished."""
    teacher_file = os.path.join(task_dir, "teacher", "metrics.json")
    if not os.path.isfile(teacher_file):
        return None
    teacher = load_json(teacher_file)
    metric = teacher["main_metric"]
    kind = ("pairs" if teacher["text_pair"] else "texts") + (
        ", scores" if teacher["labels"] == ["score"] else f", {len(teacher['labels'])} classes")
    return {"task": os.path.basename(task_dir), "kind": kind, "train": teacher["num_train_examples"], "metric": metric,
            "teacher_dev": teacher["dev"][metric], "teacher_test": teacher["test"][metric],
            **{name: student_cells(task_dir, run, metric, teacher["test"][metric]) for name, run in STUDENTS.items()}}


def cell(student: dict) -> str:
    """`score (share of the teacher, speed-up at batch 64)`, or - for a run that has not finished."""
    if not student:
        return "-"
    speed = f", {student['speedup_64']:.0f}x" if student.get("speedup_64") else ""
    return f"{100 * student['test']:.1f} ({100 * student['share']:.0f} %{speed})"


def markdown(rows: list[dict]) -> str:
    lines = ["| task | kind | train | metric | teacher dev / test | TinyBERT 3L | BiLSTM, gold labels | "
             "BiLSTM, distilled |", "|---" * 8 + "|"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['kind']} | {r['train']} | {r['metric']} | {100 * r['teacher_dev']:.1f} / "
                     f"{100 * r['teacher_test']:.1f} | " + " | ".join(cell(r[name]) for name in STUDENTS) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    tasks = sorted(d for d in os.listdir(args.results_dir) if os.path.isdir(os.path.join(args.results_dir, d)))
    rows = [row for task in tasks if (row := task_row(os.path.join(args.results_dir, task)))]
    table = markdown(rows)
    with open(os.path.join(args.results_dir, "tasks.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    save_json(rows, os.path.join(args.results_dir, "tasks.json"))
    print(table)


if __name__ == "__main__":
    main()
