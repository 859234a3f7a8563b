"""Files and directories written whole or not at all, and the paths a run may touch: JSON, atomic writes, a
run's staging directory beside its output and its publication when done, and the checks that a run reads what
exists and never writes over what it reads or over an earlier result."""

import json
import os
import shutil
from collections.abc import Callable

from src.common.cli import InputError, logger


def check_output_dir(path: str, overwrite: bool = False) -> None:
    """Refuse to write into an existing non-empty directory unless asked to overwrite it."""
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise InputError(f"output directory {path} exists and is not empty (use --overwrite_output_dir)")


def is_within(path: str, directory: str) -> bool:
    """`path` is `directory` or lies below it (links resolved)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def check_apart(outputs: dict[str, str | None], inputs: dict[str, str | list[str] | None]) -> None:
    """Refuse (InputError) an output path that is, lies inside or holds one of the run's inputs, whatever
    --overwrite_output_dir says: a run replaces its own earlier outputs, never what it reads. Both are keyed by
    their flag (`{"--output_dir": path}`); an input may be a list of paths (repeated flags, a data directory's
    files: `src.data.examples.data_files`) or None."""
    for out_flag, out in outputs.items():
        for in_flag, paths in inputs.items():
            for path in [paths] if isinstance(paths, str) else paths or []:
                inside, holds = out is not None and is_within(out, path), out is not None and is_within(path, out)
                if not (inside or holds):
                    continue
                relation = "is" if inside and holds else "lies inside" if inside else "holds"
                raise InputError(f"{out_flag} {out} {relation} {in_flag} {path}: a run never writes over what it "
                                 f"reads; choose another {out_flag}")


def check_paths(dirs: dict | None = None, files: dict | None = None, new_dirs: dict | None = None) -> None:
    """Refuse, in one line naming the flag, an input that is missing or of the wrong kind, before any work: each
    dict maps a flag to a path, a list of paths or None (not given). `dirs` and `files` must exist as such;
    `new_dirs` are made when missing, so only a file there is refused."""
    checks = [(dirs, os.path.isdir, "a directory", True), (files, os.path.isfile, "a file", True),
              (new_dirs, os.path.isdir, "a directory", False)]
    for paths, is_kind, kind, required in checks:
        for flag, values in (paths or {}).items():
            for path in [values] if isinstance(values, str) else values or []:
                if not os.path.exists(path):
                    if required:
                        raise InputError(f"{flag} {path} does not exist")
                elif not is_kind(path):
                    raise InputError(f"{flag} {path} is not {kind}")


def checkpoint_dir(run_dir: str) -> str:
    """Where a run keeps its resume checkpoint (`src.train.engine.save_checkpoint`)."""
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


def publish_run(tmp_dir: str, output_dir: str) -> None:
    """Move a finished staging directory into place, then drop its resume checkpoint (a finished model needs
    no optimizer state). In this order a kill at any point leaves a finished run somewhere: `start_run` then
    completes the move."""
    publish_dir(tmp_dir, output_dir)
    shutil.rmtree(checkpoint_dir(output_dir), ignore_errors=True)
    logger.info(f"wrote {output_dir}")


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """`write(tmp)` to a temporary name beside `path` (unique to the process), then rename it to `path`: `path`
    is complete or absent, never half written. A failed write (a full disk) removes the temporary file and is
    one line, an InputError naming `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise InputError(f"could not write {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_json(obj, path: str) -> None:
    """`obj` as indented UTF-8 JSON at `path`, its directory made if missing (a bench's --output under logs/)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


def load_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
