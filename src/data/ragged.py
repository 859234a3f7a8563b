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

from src.common.cli import InputError


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


class RaggedWriter:
    """Appends rows to a new store at `path`, holding at most `chunk_rows` of them before writing; used as a
    context manager. Both files are written under temporary names, and the offsets file, renamed last on a
    clean exit, marks the store complete. An exception removes the temporary files; a failed write (a full
    disk) becomes one line, an InputError naming the store."""

    def __init__(self, path: str, dtype, chunk_rows: int = 65536):
        self.path, self.dtype, self.chunk_rows = path, dtype, chunk_rows
        self.offsets, self.total, self.chunk = [np.zeros(1, dtype=np.int64)], 0, []

    def __enter__(self):
        self.data = open(f"{self.path}.data.tmp", "wb")
        return self

    def append(self, row) -> None:
        self.chunk.append(row)
        if len(self.chunk) == self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        lengths = np.fromiter(map(len, self.chunk), dtype=np.int64, count=len(self.chunk))
        if lengths.sum():
            np.concatenate([np.asarray(r, dtype=self.dtype) for r in self.chunk]).astype(self.dtype).tofile(self.data)
        self.offsets.append(self.total + np.cumsum(lengths))
        self.total += int(lengths.sum())
        self.chunk.clear()

    def __exit__(self, error_type, error, traceback):
        if error is None:
            try:
                self.flush()
                self.data.close()
                np.concatenate(self.offsets).tofile(f"{self.path}.offsets.tmp")
                os.replace(f"{self.path}.data.tmp", f"{self.path}.data")
                os.replace(f"{self.path}.offsets.tmp", f"{self.path}.offsets")
                return
            except OSError as e:
                error = e
        self.data.close()
        for tmp in (f"{self.path}.data.tmp", f"{self.path}.offsets.tmp"):
            if os.path.exists(tmp):
                os.remove(tmp)
        if isinstance(error, OSError):  # a full disk: one line, and no half store left behind
            raise InputError(f"could not write {self.path}: {error.strerror or error}") from None


def write_ragged(path: str, rows: Iterable, dtype, chunk_rows: int = 65536) -> None:
    """Write `rows` (arrays or lists) as a store at `path`, streaming (`RaggedWriter`)."""
    with RaggedWriter(path, dtype, chunk_rows) as writer:
        for row in rows:
            writer.append(row)


def encode_text(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def write_texts(path: str, texts: Iterable[str]) -> None:
    """Texts as a store of their UTF-8 bytes."""
    write_ragged(path, map(encode_text, texts), np.uint8)


class Texts(Ragged):
    """A store of texts written by `write_texts`: row i decoded; a slice gives a list."""

    def __init__(self, path: str):
        super().__init__(path, np.uint8)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return super().__getitem__(i).tobytes().decode("utf-8")

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Inputs(Texts):
    """A store of model inputs written by `write_inputs`: texts, or with `pairs` sentence pairs (tuples of two
    texts, kept tab-joined: a cleaned text holds no tab)."""

    def __init__(self, path: str, pairs: bool):
        super().__init__(path)
        self.pairs = pairs

    def __getitem__(self, i):
        x = super().__getitem__(i)
        return tuple(x.split("\t")) if self.pairs and not isinstance(i, slice) else x


def write_inputs(path: str, inputs: Iterable) -> None:
    """Texts or pairs (`Inputs`) as a store."""
    write_texts(path, (x if isinstance(x, str) else "\t".join(x) for x in inputs))
