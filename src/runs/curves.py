"""Training curves from a run's metrics history: each loss term and the dev score against the epoch, for one
run (curves.png, drawn when a stage finishes) or several overlaid (`src/plot_results.py --curves`)."""



def pyplot():
    """matplotlib's pyplot on the Agg backend: files only, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_terms(history: list[dict]) -> list[str]:
    """The train loss keys of a history (`train_loss`, then its terms: `train_loss_attn`, ...)."""
    return sorted({k for entry in history for k in entry if k.startswith("train_loss")},
                  key=lambda k: (k != "train_loss", k))


def dev_key(metrics: dict) -> str:
    """The history key of the run's dev main metric (accuracy when metrics.json names none)."""
    return f"dev_{metrics.get('main_metric') or 'accuracy'}"


def has_dev(metrics: dict) -> bool:
    """Whether the run's history has dev scores (TinyBERT stage 1 and general distillation have none)."""
    return any(dev_key(metrics) in entry for entry in metrics.get("history") or [])


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The optimizer steps and values of `key` in the history entries that have it."""
    points = [(entry["step"], entry[key]) for entry in history if entry.get(key) is not None]
    return [step for step, _ in points], [value for _, value in points]


def plot_history(axes, metrics: dict, name: str = "") -> None:
    """One run's curves: every loss term on axes[0]; its dev main metric on axes[1], when there is one, with the
    kept checkpoint (metrics' `dev`, a masked LM's `heldout_after`) starred. `name` prefixes the legend."""
    history, prefix = metrics.get("history") or [], f"{name}: " if name else ""
    for key in loss_terms(history):
        axes[0].plot(*series(history, key), marker="o", markersize=3, label=prefix + key)
    if len(axes) < 2 or not has_dev(metrics):
        return
    key = dev_key(metrics)
    (line,) = axes[1].plot(*series(history, key), marker="o", markersize=3, label=prefix + key)
    best, metric = metrics.get("dev") or metrics.get("heldout_after") or {}, key[len("dev_"):]
    if best.get("step") is not None and best.get(metric) is not None:
        axes[1].plot([best["step"]], [best[metric]], marker="*", markersize=14, linestyle="none",
                     color=line.get_color(), label=f"{prefix}kept checkpoint (step {best['step']})")


def curves_figure(runs: list[tuple[str, dict]], path: str, title: str | None = None) -> None:
    """The training curves of the (name, metrics) `runs` in one PNG at `path`: losses left, and right the dev main
    metric when any run has a dev history (TinyBERT stage 1 and general distillation have none)."""
    plt = pyplot()
    with_dev = any(has_dev(metrics) for _, metrics in runs)
    fig, axes = plt.subplots(1, 2 if with_dev else 1, figsize=(12 if with_dev else 6.5, 4.5), dpi=120, squeeze=False)
    axes = axes[0]
    for name, metrics in runs:
        plot_history(axes, metrics, name)
    axes[0].set(xlabel="optimizer step", ylabel="train loss (epoch mean)", title="training losses")
    if with_dev:
        names = sorted({dev_key(metrics).replace("_", " ", 1) for _, metrics in runs if has_dev(metrics)})
        axes[1].set(xlabel="optimizer step", ylabel=" / ".join(names), title="dev main metric")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def draw_curves(metrics: dict, path: str) -> None:
    """A run's curves.png from its metrics.json `history`: the train loss terms, the dev main metric, the kept
    checkpoint."""
    curves_figure([("", metrics)], path)
