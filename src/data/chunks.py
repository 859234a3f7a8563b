"""A long output file written in numbered chunks, so that a kill loses at most the chunk being written.

The chunks of `<output>` live in `<output>.parts/`, each written under a temporary name and renamed when
complete; `key.json` there records the settings that made them. A rerun with --resume writes only the missing
chunks (refusing parts made with other settings, and naming them), and the output is joined, again under a
temporary name, only once every chunk is there. Chunk i belongs to process i mod the number of processes, so
several processes write their own chunks and the main one joins them.
"""

import os
import shutil
from functools import partial

from src.common.cli import InputError
from src.common.files import load_json, save_json, write_atomically
from src.data.examples import Example, write_examples


def parts_dir(output: str) -> str:
    return f"{output}.parts"


def chunk_path(parts: str, i: int) -> str:
    return os.path.join(parts, f"{i:06d}.tsv")


def start_parts(output: str, key: dict, resume: bool) -> str:
    """The parts directory of `output` (called by the main process only): made with its `key.json` when there
    is none; an existing one is refused without `resume`, or when its key differs from `key` (JSON values)."""
    parts = parts_dir(output)
    key_file = os.path.join(parts, "key.json")
    if os.path.isdir(parts):
        if not resume:
            raise InputError(f"{parts} holds the chunks of an interrupted run: add --resume to continue it, or "
                             f"delete it to start again")
        old = load_json(key_file) if os.path.isfile(key_file) else {}
        changed = [f"{k} {old.get(k)!r} -> {key.get(k)!r}" for k in sorted(key.keys() | old.keys())
                   if old.get(k) != key.get(k)]
        if changed:
            raise InputError(f"{parts} was started with other settings ({'; '.join(changed)}): rerun with those, "
                             f"or delete it to start again")
    else:
        os.makedirs(parts)
        write_atomically(key_file, partial(save_json, key))
    return parts


def missing_chunks(parts: str, n_chunks: int, rank: int = 0, world: int = 1) -> list[int]:
    """The chunks of process `rank` (of `world`) not yet written."""
    return [i for i in range(rank, n_chunks, world) if not os.path.isfile(chunk_path(parts, i))]


def write_chunk(parts: str, i: int, rows: list[Example]) -> None:
    """Chunk i's rows in the project's layout, complete or not at all."""
    write_atomically(chunk_path(parts, i), lambda tmp: write_examples(tmp, rows))


def join_parts(parts: str, n_chunks: int, output: str, head: list[Example]) -> int:
    """Write `output`: the `head` rows (and the header line), then every chunk's rows in order; then remove
    the parts. Returns the number of chunk rows."""
    counts = []

    def join(tmp):
        write_examples(tmp, head)
        with open(tmp, "a", encoding="utf-8", newline="\n") as out:
            for i in range(n_chunks):
                with open(chunk_path(parts, i), encoding="utf-8") as f:
                    lines = f.readlines()[1:]  # each chunk repeats the header
                counts.append(len(lines))
                out.writelines(lines)

    write_atomically(output, join)
    shutil.rmtree(parts)
    return sum(counts)
