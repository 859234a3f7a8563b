"""Chains of stage scripts, as a user would run them: each stage is its script in a subprocess with its flags,
and its output tells whether it is done, so a rerun skips finished stages and continues a killed training
stage from its last checkpoint (`--resume`). One process a stage: its memory and threads end with it, and
a failure stops the chain with the stage's own error above."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from src.common.cli import InputError, logger
from src.common.files import checkpoint_dir, staging_dir
from src.train.engine import STATE_FILE

ROOT = str(Path(__file__).resolve().parents[2])  # the repository: PYTHONPATH of the stages


@dataclass
class Stage:
    name: str
    output: str  # a run directory, or a data file or directory
    script: str  # relative to the repository, e.g. src/tinybert/task_distill.py
    flags: list[str]


def finished(output: str) -> bool:
    """A stage is done when its directory holds metrics.json (a data directory its test.tsv, a corpus its
    corpus.txt, compress.py its report.json), or its file exists."""
    if output.endswith(".tsv"):
        return os.path.isfile(output)
    return any(os.path.isfile(os.path.join(output, f)) for f in ("metrics.json", "test.tsv", "corpus.txt",
                                                                  "report.json"))


def interrupted(output: str) -> bool:
    """Whether a training stage writing `output` was killed after a checkpoint (it then resumes)."""
    return os.path.isfile(os.path.join(checkpoint_dir(staging_dir(output, create=False)), STATE_FILE))


def command_line(stage: Stage) -> str:
    """The stage as one shell line (paths shown relative to the repository where they are inside it)."""
    def shown(arg: str) -> str:
        return os.path.relpath(arg, ROOT) if os.path.isabs(arg) and arg.startswith(ROOT + os.sep) else arg
    return " ".join(["python", stage.script, *map(shown, stage.flags)])


def run_stage(stage: Stage) -> float | None:
    """Run one stage unless it is finished; its seconds, or None when skipped. A failed stage is an InputError."""
    if finished(stage.output):
        logger.info(f"== {stage.name}: {stage.output} exists, skipped")
        return None
    logger.info(f"== {stage.name}: {command_line(stage)}")
    resume = ["--resume"] if interrupted(stage.output) else []
    if resume:
        logger.info(f"{stage.output}: an interrupted run, continued from its last checkpoint")
    start = time.perf_counter()
    code = execute(os.path.join(ROOT, stage.script), [*stage.flags, *resume])
    if code in (130, -2):  # Ctrl-C (SIGINT): the stage said so; its checkpoint is kept
        raise InputError(f"stage '{stage.name}' was interrupted; rerun the same command to continue it")
    if code != 0:
        raise InputError(f"stage '{stage.name}' failed (its error is above); fix it and rerun: finished stages "
                         f"are kept")
    return time.perf_counter() - start


def execute(script: str, flags: list[str]) -> int:
    """Run a script in its own process, the repository on its PYTHONPATH; its exit code."""
    return subprocess.run([sys.executable, script, *flags], env={**os.environ, "PYTHONPATH": ROOT}).returncode


def timings_table(timings: list[tuple[str, float | None]]) -> str:
    """Markdown table of each stage's seconds ('skipped' for a finished one) and the total."""
    rows = [f"| {name} | {'skipped' if s is None else f'{s:.0f}'} |" for name, s in timings]
    return "\n".join(["| stage | seconds |", "|---|---|", *rows, f"| total | {sum(s or 0 for _, s in timings):.0f} |"])
