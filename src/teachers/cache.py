"""The teacher's logits for a list of texts or pairs: batched, length-sorted, and cached on disk per input."""

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import torch

from src.common.files import write_atomically
from src.data.examples import Text, input_hashes
from src.modeling.bert import Rows, predict_logits, tokenizer_key


def bert_cache_key(teacher, tokenizer, max_seq_length: int) -> str:
    """What a BERT teacher's logits depend on: its weights, its tokenizer's vocabulary and casing, the length;
    not its files' names or times (a copy over a directory can keep both)."""
    key = hashlib.sha1(tokenizer_key(tokenizer, max_seq_length))
    for name, tensor in sorted(teacher.state_dict().items()):
        key.update(name.encode())
        key.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return key.hexdigest()


def cache_file(cache_dir: str, key: str) -> str:
    """The cache file of one teacher (`key`: a hex digest of what its outputs depend on, e.g. `bert_cache_key`)."""
    return os.path.join(cache_dir, f"teacher_logits_{key[:20]}.bin")


def read_cache(path: str | None, num_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys (n,) uint64, sorted; logits (n, C) float32) of a cache file, memory-mapped; empty when absent.
    The file is n (int64), then the keys, then the logits."""
    if not path or not os.path.isfile(path):
        return np.empty(0, dtype=np.uint64), np.empty((0, num_labels), dtype=np.float32)
    n = int(np.fromfile(path, dtype=np.int64, count=1)[0])
    keys = np.memmap(path, dtype=np.uint64, mode="r", offset=8, shape=(n,)) if n else np.empty(0, dtype=np.uint64)
    logits = np.memmap(path, dtype=np.float32, mode="r", offset=8 + 8 * n, shape=(n, num_labels)) if n \
        else np.empty((0, num_labels), dtype=np.float32)
    return keys, logits


def write_cache(path: str, keys: np.ndarray, logits: np.ndarray) -> None:
    """Write keys (sorted) and their logits as one file, complete or absent (`write_atomically`)."""
    def write(tmp):
        with open(tmp, "wb") as f:
            np.array([len(keys)], dtype=np.int64).tofile(f)
            np.ascontiguousarray(keys, dtype=np.uint64).tofile(f)
            np.ascontiguousarray(logits, dtype=np.float32).tofile(f)

    write_atomically(path, write)


def find_keys(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found (N,) bool, pos (N,)): which of `keys` are in `sorted_keys`, and where (binary search)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    pos = np.searchsorted(sorted_keys, keys).clip(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == keys, pos


def cached_outputs(compute, texts: Sequence[Text], num_labels: int, path: str | None
                   ) -> tuple[torch.Tensor, int]:
    """A teacher's outputs (N, C) for `texts` (or pairs: any sequence of inputs), each distinct input computed
    once by `compute(inputs) -> (n, C) array` and kept in the cache file `path` (None: nothing kept).

    The file holds a row per input keyed by `input_hashes`, sorted, so any set of inputs (train, augmented
    copies, another stage's transfer set) finds its rows by binary search in the memory-mapped file, and memory
    holds only the N rows returned. Returns (outputs, n_computed).
    """
    keys = input_hashes(texts)
    cached_keys, cached = read_cache(path, num_labels)
    found, pos = find_keys(cached_keys, keys)
    new_keys, first, inverse = np.unique(keys[~found], return_index=True, return_inverse=True)
    out = np.empty((len(texts), num_labels), dtype=np.float32)
    out[found] = cached[pos[found]]
    if len(new_keys):
        todo = np.flatnonzero(~found)[first]  # one input per distinct new key
        new = np.asarray(compute(Rows(texts, todo)), dtype=np.float32)
        out[~found] = new[inverse.ravel()]
        if path:
            merged = np.concatenate([cached_keys, new_keys])
            order = np.argsort(merged, kind="stable")
            write_cache(path, merged[order], np.concatenate([cached, new])[order])
    return torch.from_numpy(out), len(new_keys)


def cached_teacher_logits(teacher, tokenizer, texts: Sequence[Text], max_seq_length: int, batch_size: int,
                          cache_dir: str | None) -> tuple[torch.Tensor, int]:
    """A BERT teacher's logits (N, C) for `texts` (`predict_logits`), cached in `cache_dir` (None: not kept) in one
    file per teacher, sequence length and casing (`cached_outputs`). Returns (logits, n_computed)."""
    path = cache_file(cache_dir, bert_cache_key(teacher, tokenizer, max_seq_length)) if cache_dir else None
    return cached_outputs(lambda rows: predict_logits(teacher, tokenizer, rows, max_seq_length, batch_size).numpy(),
                          texts, teacher.config.num_labels, path)
