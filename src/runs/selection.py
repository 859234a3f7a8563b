"""Choosing a student: the Pareto front of score against speed-up, the pick by a share of the teacher's score
to keep, and the report of a choice (Markdown and a figure)."""

import math

from src.runs.curves import pyplot


def pareto_front(rows: list[dict], score: str = "test_accuracy", speed: str = "speedup_batch_64") -> list[dict]:
    """The rows no other row beats on both `score` and `speed`, fastest first: for a given latency budget, the one
    to pick is on this front. Rows without a speed are left out."""
    timed = sorted((r for r in rows if r[speed] is not None), key=lambda r: (-r[speed], -r[score]))
    front, best = [], -math.inf
    for r in timed:
        if r[score] > best:
            front.append(r)
            best = r[score]
    return front


def pick(rows: list[dict], keep: float, by: str = "share") -> tuple[dict, bool]:
    """(the fastest row, by `speedup_batch_64`, whose `by` share — of the teacher's dev score, or of its gain over
    the majority class — is at least `keep`, True), or (the best-scoring row, False) when none keeps that much."""
    kept = [r for r in rows if r[by] is not None and r[by] >= keep]
    if kept:
        return max(kept, key=lambda r: (r["speedup_batch_64"], r["dev"])), True
    return max(rows, key=lambda r: (r["dev"], r["speedup_batch_64"])), False


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _speed(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}x"


def candidates_table(rows: list[dict], metric: str, picked: str) -> str:
    """One row per candidate: dev score, shares of the teacher's score and gain, speed-ups over the teacher (PyTorch
    against PyTorch, ONNX int8 against the teacher's ONNX int8; batch 64 and 1), parameters, and the estimated and
    measured training time."""
    lines = [f"| candidate | dev {metric} | share of teacher | share of gain | speed-up b64 / b1 | ONNX int8 "
             f"b64 / b1 (vs int8 teacher) | params | time est. / measured |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = f"**{r['name']}** (pick)" if r["name"] == picked else r["name"]
        measured = "-" if r["seconds"] is None else f"{r['seconds'] / 60:.1f} min"
        lines.append(f"| {name} | {100 * r['dev']:.1f} | {_pct(r['share'])} | {_pct(r['gain_share'])} | "
                     f"{_speed(r['speedup_batch_64'])} / {_speed(r['speedup_batch_1'])} | "
                     f"{_speed(r['onnx_speedup_batch_64'])} / {_speed(r['onnx_speedup_batch_1'])} | "
                     f"{r['params'] / 1e6:.2f}M | {r['estimate_s'] / 60:.1f} min / {measured} |")
    return "\n".join(lines)


def pareto_figure(rows: list[dict], picked: str, keep: float, path: str, title: str, by: str = "share") -> None:
    """Share of the teacher's dev score (`by="gain_share"`: of its gain over the majority class) against the CPU
    speed-up at batch 64 (log scale): the teacher, every candidate, the Pareto front, the pick (a star) and the
    share asked to keep (a dotted line)."""
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    rows = [r for r in rows if r[by] is not None]  # no gain share where the teacher is not above the floor
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax.scatter(1.0, 100.0, s=60, marker="s", color="grey", zorder=3, label="teacher")
    for r in rows:
        star = r["name"] == picked
        ax.scatter(r["speedup_batch_64"], 100 * r[by], s=220 if star else 60, marker="*" if star else "o",
                   zorder=3, label=f"{r['name']}{' (pick)' if star else ''}")
    # the teacher is on the front too: a front of one candidate would draw no line
    front = sorted(pareto_front([{"speedup_batch_64": 1.0, by: 1.0}, *rows], score=by),
                   key=lambda r: r["speedup_batch_64"])
    ax.step([r["speedup_batch_64"] for r in front], [100 * r[by] for r in front], where="pre", color="grey",
            linestyle="--", linewidth=1, label="Pareto front")
    ax.axhline(100 * keep, color="grey", linestyle=":", linewidth=1, label=f"asked to keep {100 * keep:.0f} %")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_formatter(NullFormatter())  # the log axis' minor labels overlap
    ax.set_xlabel("CPU speed-up over the teacher (batch 64, one thread, log scale)")
    ax.set_ylabel("share of the teacher's dev " + ("gain over the majority (%)" if by == "gain_share" else "score (%)"))
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
