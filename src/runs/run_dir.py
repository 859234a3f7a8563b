"""What a finished run directory holds and how it gets there: args.json, the training curves, the model card and
metrics.json (written last: its presence marks the run finished), then the staging directory published."""

import os
from functools import partial

from src.common.cli import logger
from src.common.files import publish_run, save_json
from src.runs.curves import draw_curves
from src.runs.model_card import model_card

# stage scripts are named from the repository root, three levels above this file
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def finish_run(tmp_dir: str, output_dir: str, args: dict, metrics: dict, *, script: str) -> None:
    """Write args.json, the run's curves.png and model card README.md (`write_run_report`; `script` is the stage's
    file, `__file__`), then metrics.json (its presence marks the run finished) into the staging directory and
    publish it (`publish_run`)."""
    save_json(args, os.path.join(tmp_dir, "args.json"))
    write_run_report(tmp_dir, args, metrics, os.path.relpath(os.path.abspath(script), REPO_ROOT))
    save_json(metrics, os.path.join(tmp_dir, "metrics.json"))
    publish_run(tmp_dir, output_dir)


def write_run_report(run_dir: str, args: dict, metrics: dict, script: str) -> None:
    """curves.png (`draw_curves`) and README.md (`model_card`) in `run_dir`. Neither may cost a finished run its
    model: a file that fails is left out with a WARNING and its traceback, and the run goes on."""
    def write_card(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(model_card(args, metrics, script))

    for name, write in (("curves.png", partial(draw_curves, metrics)), ("README.md", write_card)):
        path = os.path.join(run_dir, name)
        try:
            write(path)
        except Exception:
            logger.warning(f"WARNING: could not write {name}; the run is kept without it", exc_info=True)
            if os.path.exists(path):
                os.remove(path)
