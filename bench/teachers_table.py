"""The several-teachers table (issue 30) from the runs of bench/run_teachers.sh: for each review set, the test
accuracy of the BERT teacher, the linear teacher and their ensemble, and of the BiLSTM and TinyBERT (3 layers)
students distilled from each, with their CPU speed-up over the BERT teacher at batch 64 (each student's
examples/s against the BERT teacher's, both timed in the BERT-taught student's run: the linear-taught run times
its student against the linear teacher). Reads results/teachers/<set>/*/metrics.json; prints Markdown and writes
results/teachers/teachers.md.

    python bench/teachers_table.py
"""

import argparse
import os

from src.common.files import load_json

SETS = {"hotel": "hotel 8:1:1", "hotel_181": "hotel 1:8:1", "chnsenticorp": "ChnSentiCorp"}
TEACHERS = ("bert", "linear", "ensemble")  # the runs' suffixes; bilstm_ensemble_dev: weights picked on dev


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="results/teachers", help="results/teachers/<set>/<run>/metrics.json")
    return p.parse_args(argv)


def metrics(results_dir: str, name: str, run: str) -> dict | None:
    path = os.path.join(results_dir, name, run, "metrics.json")
    return load_json(path) if os.path.isfile(path) else None


def teacher_scores(results_dir: str, name: str) -> dict:
    """Test accuracy of each teacher and of the equal-weight ensemble, from the ensemble-taught students'
    records, and of the ensemble whose weights dev picked (with the weights)."""
    scores = {}
    for run in ("bilstm_ensemble", "tinybert_ensemble"):
        if m := metrics(results_dir, name, run):
            bert, linear = (t["test"]["accuracy"] for t in m["teachers"])
            scores = {"bert": f"{100 * bert:.1f}", "linear": f"{100 * linear:.1f}",
                      "ensemble": f"{100 * m['ensemble']['test']['accuracy']:.1f}"}
            break
    if m := metrics(results_dir, name, "bilstm_ensemble_dev"):
        weights = ", ".join(f"{t['weight']:g}" for t in m["teachers"])
        scores["ensemble_dev"] = f"{100 * m['ensemble']['test']['accuracy']:.1f} ({weights})"
    return scores


def student_cell(results_dir: str, name: str, student: str, teacher: str) -> str:
    """`test accuracy (speed-up over the BERT teacher at batch 64)`, or - when the run has not finished."""
    m, timed = metrics(results_dir, name, f"{student}_{teacher}"), metrics(results_dir, name, f"{student}_bert")
    if m is None:
        return "-"
    cell = f"{100 * m['test']['accuracy']:.1f}"
    if m.get("speed") and timed and timed.get("speed"):
        bert_speed = timed["speed"]["teacher"]["batch_64"]["examples_per_s"]
        cell += f" ({m['speed']['student']['batch_64']['examples_per_s'] / bert_speed:.0f}x)"
    return cell


def table(results_dir: str) -> str:
    head = ("| set | BERT teacher | linear teacher | ensemble | ensemble, dev weights (BERT, linear) | BiLSTM from "
            "BERT | from linear | from ensemble | from ensemble, dev weights | TinyBERT 3L from BERT | from linear | "
            "from ensemble |")
    lines = [head, "|---" * (head.count(" | ") + 1) + "|"]
    for name, title in SETS.items():
        if not os.path.isdir(os.path.join(results_dir, name)):
            continue
        scores = teacher_scores(results_dir, name)
        cells = [scores.get(t, "-") for t in (*TEACHERS, "ensemble_dev")]
        cells += [student_cell(results_dir, name, "bilstm", t) for t in (*TEACHERS, "ensemble_dev")]
        cells += [student_cell(results_dir, name, "tinybert", t) for t in TEACHERS]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    text = table(args.results_dir)
    with open(os.path.join(args.results_dir, "teachers.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
