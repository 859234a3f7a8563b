"""The GLUE/CLUE task table from the metrics.json files that bench/run_tasks.sh keeps under results/tasks/: per
task, its kind, the teacher's main metric on dev and test, and for each student (the 3-layer TinyBERT, the
BiLSTM on gold labels, the distilled BiLSTM, the one distilled on an augmented transfer set, and one with half
the loss on the gold labels, α 0.5) its test
score, its share of the teacher's and its CPU speed-ups at batch 64 and 1; written as results/tasks/tasks.md
(with a compact one-row-per-task table for the README) and tasks.json, and printed. Per language, a figure of
the share of the teacher's score against the speed-up (results/tasks/pareto_<language>.png): one small marker
per task and method, one large per method (its mean share at its median speed-up), and the Pareto front of
the methods.

    python bench/tasks_table.py --results_dir results/tasks
"""

import argparse
import os
import statistics

from src.common.files import load_json, save_json
from src.data.reading import load_split
from src.data.tasks import TASKS, task_name
from src.runs.curves import pyplot
from src.runs.selection import pareto_front
from src.runs.summary import gain_share, majority_floor


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="results/tasks", help="one sub-directory per task, one per run in it")
    p.add_argument("--also", nargs="*", default=["mrpc=accuracy"], metavar="TASK=METRIC",
                   help="a second row for a task, scored by another metric (MRPC's F1 hides how little a student "
                        "keeps beyond always answering 'paraphrase')")
    p.add_argument("--data_root", default="data/tasks",
                   help="the tasks' data directories (bench/run_tasks.sh prepares them): the majority-class floor of "
                        "each task's metric is counted on their train and test labels")
    return p.parse_args(argv)


STUDENTS = {"tinybert": "tinybert_trunc3", "tinybert_pairs": "tinybert_trunc3_pairs", "bilstm_gold": "bilstm_distill0",
            "bilstm_distilled": "bilstm_distill1", "bilstm_augmented": "bilstm_aug",
            "bilstm_alpha": "bilstm_distill1_alpha05", "bilstm_pairs": "bilstm_pairs"}
NAMES = {"teacher": "teacher (MiniLM-L6)", "tinybert": "TinyBERT 3L", "tinybert_pairs": "TinyBERT 3L + new pairs",
         "bilstm_gold": "BiLSTM, gold labels", "bilstm_distilled": "BiLSTM, distilled",
         "bilstm_augmented": "BiLSTM, distilled + augmentation", "bilstm_alpha": "BiLSTM, distilled, α 0.5",
         "bilstm_pairs": "BiLSTM, distilled + new pairs"}
# the distilled students, by what they learned from (the compact table names the best one's)
DISTILLED = {"bilstm_distilled": "train", "bilstm_augmented": "train + augmentation",
             "bilstm_alpha": "train, α 0.5 on gold labels", "bilstm_pairs": "train + 4x new pairs"}
TINYBERTS = {"tinybert": "train", "tinybert_pairs": "train + 4x new pairs"}


def task_floor(data_dir: str, teacher: dict, teacher_args: dict, metric: str) -> float | None:
    """`metric` on test of always answering the majority class of the labels the teacher trained on (0 for
    correlations), or None when the data directory is not there."""
    if metric in ("mcc", "pearson", "spearman"):
        return 0.0
    if not os.path.isfile(os.path.join(data_dir, "prepare.json")):
        return None
    train = load_split(data_dir, "train", teacher["labels"], teacher_args.get("max_train_examples"))[1]
    return majority_floor(train, load_split(data_dir, "test", teacher["labels"])[1], metric)


def student_cells(task_dir: str, run: str, metric: str, teacher_test: float, floor: float | None) -> dict:
    """A student's test score, its share of the teacher's and of the teacher's gain over the majority-class floor
    (None where the floor is unknown or the teacher not above it), and its CPU speed-ups (batch 64 and 1), or {}."""
    path = os.path.join(task_dir, run, "metrics.json")
    if not os.path.isfile(path):
        return {}
    m = load_json(path)
    speed = m.get("speed") or {}
    gain = None if floor is None else gain_share(m["test"][metric], teacher_test, floor)
    return {"test": m["test"][metric], "share": m["test"][metric] / teacher_test, "gain": gain,
            "speedup_64": speed.get("speedup_batch_64"), "speedup_1": speed.get("speedup_batch_1"),
            "num_transfer_examples": m.get("num_transfer_examples"), "at_chance": at_chance(m)}


def at_chance(m: dict) -> bool:
    """A run that learned nothing beyond the majority class: flagged by the run itself, or (runs older than that
    rule) a classifier's test MCC below 0.05."""
    return bool(m.get("at_chance")) or m["test"].get("mcc", 1.0) < 0.05


def task_row(task_dir: str, data_root: str, metric: str | None = None) -> dict | None:
    """What the table says of one task, by its main metric or `metric`: None until its teacher has finished."""
    teacher_file = os.path.join(task_dir, "teacher", "metrics.json")
    if not os.path.isfile(teacher_file):
        return None
    teacher = load_json(teacher_file)
    metric, task = metric or teacher["main_metric"], os.path.basename(task_dir)
    kind = ("pairs" if teacher["text_pair"] else "texts") + (
        ", scores" if teacher["labels"] == ["score"] else f", {len(teacher['labels'])} classes")
    language = TASKS[task_name(task)].language if task_name(task) else "en"
    teacher_args = load_json(os.path.join(task_dir, "teacher", "args.json"))
    # a teacher at chance has no gain to share: its students' gain shares would be noise
    floor = None if at_chance(teacher) else task_floor(os.path.join(data_root, task), teacher, teacher_args, metric)
    return {"task": task, "language": language, "kind": kind, "train": teacher["num_train_examples"],
            "metric": metric, "teacher_dev": teacher["dev"][metric], "teacher_test": teacher["test"][metric],
            "teacher_at_chance": at_chance(teacher), "floor": floor,
            **{name: student_cells(task_dir, run, metric, teacher["test"][metric], floor)
               for name, run in STUDENTS.items()}}


def cell(student: dict) -> str:
    """`score (share of the teacher's score, of its gain over the majority class; speed-ups at batch 64 and 1; at
    chance)`, or - for a run not finished."""
    if not student:
        return "-"
    speed = f"; {student['speedup_64']:.0f}x, {student['speedup_1']:.0f}x" if student.get("speedup_64") else ""
    chance = "; at chance" if student["at_chance"] else ""
    gain = "" if student.get("gain") is None else f", {100 * student['gain']:.0f} % of gain"
    return f"{100 * student['test']:.1f} ({100 * student['share']:.0f} %{gain}{speed}{chance})"


def markdown(rows: list[dict]) -> str:
    lines = ["| task | kind | train | metric | teacher dev / test | " + " | ".join(NAMES[s] for s in STUDENTS) + " |",
             "|---" * (5 + len(STUDENTS)) + "|"]
    for r in rows:
        chance = " (at chance)" if r["teacher_at_chance"] else ""
        floor = "" if r.get("floor") is None else f" (floor {100 * r['floor']:.1f})"
        lines.append(f"| {r['task']} | {r['kind']} | {r['train']} | {r['metric']} | {100 * r['teacher_dev']:.1f} / "
                     f"{100 * r['teacher_test']:.1f}{floor}{chance} | "
                     + " | ".join(cell(r[s]) for s in STUDENTS) + " |")
    return "\n".join(lines)


def compact(rows: list[dict]) -> str:
    """One row per task whose teacher learned it, for the README: the teacher's test score, TinyBERT's, the
    gold-label BiLSTM's and the best distilled BiLSTM's (`DISTILLED`, named), each with its share of the
    teacher's; then one line naming the tasks whose teacher is at chance."""
    lines = ["| task (metric) | teacher | TinyBERT, 3 layers | BiLSTM, gold labels | BiLSTM distilled (transfer set) |",
             "|---|---|---|---|---|"]
    for r in (r for r in rows if not r["teacher_at_chance"]):
        lines.append(f"| {r['task']} ({r['metric']}) | {100 * r['teacher_test']:.1f} | {best_of(r, TINYBERTS)} | "
                     f"{cell(r['bilstm_gold'])} | {best_of(r, DISTILLED)} |")
    at_chance = [f"{r['task']} ({r['metric']} {100 * r['teacher_test']:.1f})" for r in rows if r["teacher_at_chance"]]
    return "\n".join(lines) + (f"\n\nTeachers at chance: {', '.join(at_chance)}." if at_chance else "")


def best_of(row: dict, runs: dict) -> str:
    """The cell of the best-scoring of `runs` (name -> what it learned from) that finished, with its transfer
    set named when there is a choice."""
    done = [(name, row[name]) for name in runs if row[name]]
    if not done:
        return "-"
    name, best = max(done, key=lambda run: run[1]["test"])
    return cell(best) + (f" ({runs[name]})" if len(runs) > 1 else "")


def method_points(rows: list[dict]) -> list[dict]:
    """Per method, over the tasks whose teacher learned (not at chance): its mean share of the teacher's score
    and its median speed-up at batch 64; the teacher at (1x, 100 %)."""
    learned = [r for r in rows if not r["teacher_at_chance"]]
    points = [{"model": "teacher", "speedup_batch_64": 1.0, "share": 1.0, "tasks": len(learned)}]
    for name in STUDENTS:
        cells = [r[name] for r in learned if r[name].get("speedup_64")]
        if cells:
            points.append({"model": name, "speedup_batch_64": statistics.median(c["speedup_64"] for c in cells),
                           "share": statistics.fmean(c["share"] for c in cells), "tasks": len(cells)})
    return points


def pareto_figure(rows: list[dict], language: str, path: str) -> None:
    """Share of the teacher's test score against CPU speed-up for one language's tasks (see the module doc)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 5), dpi=120)
    points = method_points(rows)
    colours = dict(zip(["teacher", *STUDENTS], plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for name in STUDENTS:
        cells = [r[name] for r in rows if r[name].get("speedup_64") and not r["teacher_at_chance"]]
        ax.scatter([c["speedup_64"] for c in cells], [100 * c["share"] for c in cells], s=18, alpha=0.5,
                   color=colours[name])
    for p in points:
        ax.scatter(p["speedup_batch_64"], 100 * p["share"], s=120, marker="D", color=colours[p["model"]],
                   edgecolor="black", label=f"{NAMES[p['model']]}, {p['tasks']} tasks")
    front = pareto_front(points, score="share")
    ax.step([p["speedup_batch_64"] for p in front], [100 * p["share"] for p in front], where="post", color="grey",
            linestyle="--", linewidth=1, label="Pareto front of the methods")
    ax.set_xscale("log")
    ax.set_xlabel("CPU inference speed-up over the teacher (batch 64, log scale)")
    ax.set_ylabel("test score, % of the teacher's (task's main metric)")
    tasks = ", ".join(r["task"] for r in rows if not r["teacher_at_chance"])
    ax.set_title(f"{language}: {tasks} (teachers at chance left out)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    tasks = sorted(d for d in os.listdir(args.results_dir) if os.path.isdir(os.path.join(args.results_dir, d)))
    also = [item.split("=", 1) for item in args.also]
    rows = [row for task in tasks for metric in [None, *(m for t, m in also if t == task)]
            if (row := task_row(os.path.join(args.results_dir, task), args.data_root, metric))]
    table = markdown(rows)
    with open(os.path.join(args.results_dir, "tasks.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n\nCompact (README):\n\n" + compact(rows) + "\n")
    save_json(rows, os.path.join(args.results_dir, "tasks.json"))
    for language in sorted({r["language"] for r in rows}):
        pareto_figure([r for r in rows if r["language"] == language], language,
                      os.path.join(args.results_dir, f"pareto_{language}.png"))
    print(table)


if __name__ == "__main__":
    main()
