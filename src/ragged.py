"""Rows of different lengths (token ids, UTF-8 texts) in memory-mapped numpy files, written once as a stream.

A store at `<path>` is two files: `<path>.data`, every row's values one after another, and `<path>.offsets`
(int64, n + 1), so row i is data[offsets[i]:offsets[i + 1]]. Reading maps both files: a row is a view of the
page cache, and resident memory does not grow with the number of rows. numpy's memmap rather than Arrow (the
`datasets` library): the rows are plain integer arrays read by index, numpy is already a dependency, and the
files are two flat arrays that any process (each rank of a torchrun) maps without a copy.
"""

import os
from collections.abc import Iterable

import numpy as np


class Ragged:
    """A store written by `write_ragged`, opened read-only."""

    def __init__(self, path: str, dtype):
        self.path = path
        self.offsets = np.memmap(f"{path}.offsets", dtype=np.int64, mode="r")
        size = int(self.offsets[-1])
        # a memmap of 0 bytes is refused: an all-empty store has no data to map
        self.data = np.memmap(f"{path}.data", dtype=dtype, mode="r") if size else np.empty(0, dtype=dtype)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.data[self.offsets[i]:self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def exists(path: str) -> bool:
    """A complete store is at `path` (its offsets file is renamed into place last)."""
    return os.path.isfile(f"{path}.offsets")


def write_ragged(path: str, rows: Iterable, dtype, chunk_rows: int = 65536) -> None:
    """Write `rows` (arrays or lists) as a store at `path`, streaming: at most `chunk_rows` rows are held at once.
    Both files are written under temporary names; the offsets file, renamed last, marks the store complete."""
    offsets, total, chunk = [np.zeros(1, dtype=np.int64)], 0, []
    with open(f"{path}.data.tmp", "wb") as data:
        def flush():
            nonlocal total
            if chunk:
                lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
                values = np.concatenate([np.asarray(r, dtype=dtype) for r in chunk]) if lengths.sum() else ()
                np.asarray(values, dtype=dtype).tofile(data)
                offsets.append(total + np.cumsum(lengths))
                total += int(lengths.sum())
                chunk.clear()

        for row in rows:
            chunk.append(row)
            if len(chunk) == chunk_rows:
                flush()
        flush()
    np.concatenate(offsets).tofile(f"{path}.offsets.tmp")
    os.replace(f"{path}.data.tmp", f"{path}.data")
    os.replace(f"{path}.offsets.tmp", f"{path}.offsets")


def write_texts(path: str, texts: Iterable[str]) -> None:
    """Texts as a store of their UTF-8 bytes."""
    write_ragged(path, (np.frombuffer(t.encode("utf-8"), dtype=np.uint8) for t in texts), np.uint8)


class Texts(Ragged):
    """A store of texts written by `write_texts`: row i decoded."""

    def __init__(self, path: str):
        super().__init__(path, np.uint8)

    def __getitem__(self, i: int) -> str:
        return super().__getitem__(i).tobytes().decode("utf-8")

    def __iter__(self):
        return (self[i] for i in range(len(self)))
