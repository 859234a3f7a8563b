"""Run directories: refusing to overwrite, staging a run beside its output and publishing it when done,
and the `args.json`/`metrics.json` records."""

import json
import os
import shutil

from src.cli import InputError, logger

def check_output_dir(path: str, overwrite: bool = False) -> None:
    """Refuse to write into an existing non-empty directory unless asked to overwrite it."""
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise InputError(f"output directory {path} exists and is not empty (use --overwrite_output_dir)")


def is_within(path: str, directory: str) -> bool:
    """`path` is `directory` or lies below it (links resolved)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def checkpoint_dir(run_dir: str) -> str:
    """Where a run keeps its resume checkpoint (`src.engine.save_checkpoint`)."""
    return os.path.join(run_dir, "resume")


def is_finished(output_dir: str) -> bool:
    """A run directory is finished once its metrics.json is written (it is written last)."""
    return os.path.isfile(os.path.join(output_dir, "metrics.json"))


def staging_dir(output_dir: str, create: bool = True) -> str:
    """A sibling directory to write into (made fresh when `create`); `publish_dir` moves it into place when
    the run is done, so a crash never leaves a half-written model where a good one was."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(output_dir)), f".{os.path.basename(output_dir)}.tmp")
    if create:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    return tmp


def publish_dir(tmp: str, output_dir: str) -> None:
    """Replace `output_dir` by the finished `tmp`; the old content is deleted only once the new is in place."""
    if os.path.exists(output_dir):
        old = f"{tmp}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(output_dir, old)
    os.replace(tmp, output_dir)
    shutil.rmtree(f"{tmp}.old", ignore_errors=True)  # also one that a kill left behind earlier


def finish_run(tmp_dir: str, output_dir: str, args: dict, metrics: dict) -> None:
    """Write args.json and then metrics.json (its presence marks the run finished) into the staging
    directory and publish it (`publish_run`)."""
    save_json(args, os.path.join(tmp_dir, "args.json"))
    save_json(metrics, os.path.join(tmp_dir, "metrics.json"))
    publish_run(tmp_dir, output_dir)


def publish_run(tmp_dir: str, output_dir: str) -> None:
    """Move a finished staging directory into place, then drop its resume checkpoint (a finished model needs
    no optimizer state). In this order a kill at any point leaves a finished run somewhere: `start_run` then
    completes the move."""
    publish_dir(tmp_dir, output_dir)
    shutil.rmtree(checkpoint_dir(output_dir), ignore_errors=True)
    logger.info(f"wrote {output_dir}")


def save_json(obj, path: str) -> None:
    """`obj` as indented UTF-8 JSON at `path`, its directory made if missing (a bench's --output under logs/)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


def load_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
