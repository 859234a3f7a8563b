"""Results of one run directory: a Markdown table, its JSON, and a figure of accuracy against CPU speed-up; or
the training curves of several runs in one figure.

    python src/plot_results.py --run_dir models/sst2 --output img.png --results_dir results/sst2
    python src/plot_results.py --curves models/sst2/bilstm_baseline models/sst2/bilstm_distill --output curves.png

Reads `<run_dir>/*/metrics.json` as the stage scripts wrote them: the teacher (`--teacher_name`) and every
student. A student's speed-up is the one it measured against the teacher in its own run (same process,
same inputs, same threads); the teacher sits at 1x. Nothing is typed in: every number comes from a file.
--curves draws each run's loss terms and dev main metric against the optimizer step from its metrics.json
history (`draw_curves` draws one run's curves.png when a stage finishes).
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import glob
import os

from src.common.cli import ArgumentParser, InputError, exits_on_input_error, logger, run_script, setup_logging
from src.common.files import check_apart, check_paths, load_json, save_json
from src.runs.curves import curves_figure, pyplot
from src.runs.selection import pareto_front


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--run_dir", help="directory whose sub-directories hold metrics.json files")
    runs.add_argument("--curves", nargs="+", metavar="RUN_DIR",
                      help="draw these runs' training curves into one figure (--output) instead")
    p.add_argument("--teacher_name", default="teacher", help="sub-directory of the teacher")
    p.add_argument("--output", default=None, help="PNG to write (default: <run_dir>/results.png)")
    p.add_argument("--results_dir", default=None, help="also write results.md and results.json here")
    p.add_argument("--title", default=None, help="figure title (default: the data set and the teacher)")
    args = p.parse_args(argv)
    if args.curves and not args.output:
        p.error("--curves needs --output, the PNG to write")
    return args


def collect_rows(run_dir, teacher_name="teacher"):
    """One row per model with metrics.json: name, params, dev/test accuracy, % of teacher, speed-ups."""
    teacher_path = os.path.join(run_dir, teacher_name, "metrics.json")
    if not os.path.isfile(teacher_path):
        raise InputError(f"no teacher metrics at {teacher_path}")
    teacher = load_json(teacher_path)
    rows = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*", "metrics.json"))):
        name = os.path.basename(os.path.dirname(path))
        m = load_json(path)
        if "test" not in m:  # an intermediate stage (TinyBERT stage 1) has no test score
            continue
        speed = m.get("speed") or {}
        is_teacher = name == teacher_name
        rows.append({
            "model": name,
            "params": m.get("num_params"),
            "dev_accuracy": m["dev"]["accuracy"],
            "test_accuracy": m["test"]["accuracy"],
            "test_macro_f1": m["test"]["macro_f1"],
            "pct_of_teacher": 100 * m["test"]["accuracy"] / teacher["test"]["accuracy"],
            "speedup_batch_64": 1.0 if is_teacher else speed.get("speedup_batch_64"),
            "speedup_batch_1": 1.0 if is_teacher else speed.get("speedup_batch_1"),
            "examples_per_s_batch_64": speed.get("student", {}).get("batch_64", {}).get("examples_per_s"),
            "threads": m.get("threads"),
        })
    rows.sort(key=lambda r: (r["model"] != teacher_name, r["model"]))
    return rows, teacher


def model_name(path):
    """A readable name for a model path: its directory, or the package above a generic `model` folder."""
    parts = os.path.normpath(path).split(os.sep)
    return parts[-2] if parts[-1] == "model" and len(parts) > 1 else parts[-1]


def _fmt(value, spec, suffix=""):
    return "-" if value is None else format(value, spec) + suffix


def markdown_table(rows):
    lines = ["| model | params | dev acc | test acc | test macro-F1 | % of teacher | CPU speed-up b64 | b1 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {_fmt(r['params'] and r['params'] / 1e6, '.2f', 'M')} | "
                     f"{100 * r['dev_accuracy']:.1f} | {100 * r['test_accuracy']:.1f} | "
                     f"{100 * r['test_macro_f1']:.1f} | "
                     f"{r['pct_of_teacher']:.1f} | {_fmt(r['speedup_batch_64'], '.1f', 'x')} | "
                     f"{_fmt(r['speedup_batch_1'], '.1f', 'x')} |")
    return "\n".join(lines)


def plot(rows, path, title):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    markers = "o^sDvP*Xh<>"
    for i, r in enumerate(rows):
        if r["speedup_batch_64"] is None:
            continue
        ax.scatter(r["speedup_batch_64"], 100 * r["test_accuracy"], s=70, marker=markers[i % len(markers)],
                   label=f"{r['model']} ({_fmt(r['params'] and r['params'] / 1e6, '.1f', 'M')} params)")
    front = pareto_front(rows)
    ax.step([r["speedup_batch_64"] for r in front], [100 * r["test_accuracy"] for r in front], where="post",
            color="grey", linestyle="--", linewidth=1, label="Pareto front (best accuracy at a speed-up)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: no marker hidden
    ax.set_xscale("log")
    ax.set_xlabel("CPU inference speed-up over the teacher (batch 64, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def overlay_curves(run_dirs: list[str], path: str, title: str | None = None) -> None:
    """The curves of finished run directories in one figure (e.g. the BiLSTM with and without distillation)."""
    runs = []
    for run_dir in run_dirs:
        metrics_file = os.path.join(run_dir, "metrics.json")
        if not os.path.isfile(metrics_file):
            raise InputError(f"no metrics at {metrics_file}: not a finished run directory")
        runs.append((model_name(run_dir), load_json(metrics_file)))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    curves_figure(runs, path, title)
    logger.info(f"wrote {path}")


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    check_paths(dirs={"--run_dir": args.run_dir, "--curves": args.curves},
                new_dirs={"--results_dir": args.results_dir})
    if args.curves:
        return overlay_curves(args.curves, args.output, args.title)
    metrics = glob.glob(os.path.join(args.run_dir, "*", "metrics.json"))
    check_apart({"--output": args.output}, {"--run_dir": metrics})
    rows, teacher = collect_rows(args.run_dir, args.teacher_name)
    table = markdown_table(rows)
    print(table)
    data = os.path.basename(os.path.normpath(teacher.get("data_dir", args.run_dir)))
    title = args.title or (f"{data}: students distilled from {model_name(teacher['model'])} "
                           f"(test accuracy {100 * teacher['test']['accuracy']:.1f})")
    output = args.output or os.path.join(args.run_dir, "results.png")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    plot(rows, output, title)
    logger.info(f"wrote {output}")
    if args.results_dir:
        os.makedirs(args.results_dir, exist_ok=True)
        with open(os.path.join(args.results_dir, "results.md"), "w", encoding="utf-8") as f:
            f.write(f"# {title}\n\n{table}\n")
        save_json(rows, os.path.join(args.results_dir, "results.json"))


if __name__ == "__main__":
    run_script(main)
