"""Pretrained word vectors in word2vec/GloVe text format: one reader for the BiLSTM's embeddings and for
TinyBERT's augmentation candidates."""

import os

import numpy as np

from src.cli import InputError


def read_word_vectors(path: str, keep: set[str] | None = None) -> tuple[list[str], np.ndarray]:
    """(words, vectors (n, d) float32) of a GloVe (no header) or word2vec (`count dim` header) text file.

    With `keep`, only those words are kept (a large file then costs little memory). Raises InputError
    for a missing file, a malformed line, vectors of different widths, or no vector at all.
    """
    if not os.path.isfile(path):
        raise InputError(f"word-vector file {path} does not exist")
    words, rows = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.rstrip().split(" ")
            if line_no == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue  # word2vec header
            if keep is not None and fields[0] not in keep:
                continue
            try:
                rows.append(np.asarray(fields[1:], dtype=np.float32))
            except ValueError:
                raise InputError(f"{path}:{line_no}: expected a word followed by numbers") from None
            words.append(fields[0])
    if not rows:
        raise InputError(f"{path}: no word vectors" + (f" for any of the {len(keep)} words asked for" if keep else ""))
    if len({len(r) for r in rows}) != 1:
        raise InputError(f"{path}: vectors of different widths")
    return words, np.stack(rows)
