"""The teacher's logits for a list of texts or pairs: batched, length-sorted, and cached on disk per input."""

import hashlib
import json
import os

import torch

from src.cli import progress
from src.data import Text, input_key
from src.modeling import tokenize


@torch.no_grad()
def predict_logits(model, tokenizer, texts: list[Text], max_seq_length: int = 128, batch_size: int = 64,
                   show_progress: bool = True) -> torch.Tensor:
    """Logits (n_texts, num_labels) of a classifier (or scores (n_texts, 1) of a regressor) for a list of texts
    or pairs, computed in batches, pairs cut longest-first.

    Inputs are sorted by length so each batch pads little; the output keeps the input order.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(input_key(texts[i])))
    out = torch.empty(len(texts), model.config.num_labels)
    for start in progress(range(0, len(texts), batch_size), desc="teacher logits", leave=False,
                      disable=not show_progress):
        idx = order[start:start + batch_size]
        batch = tokenize(tokenizer, [texts[i] for i in idx], truncation="longest_first", max_length=max_seq_length,
                         padding=True, return_tensors="pt").to(device)
        out[idx] = model(**batch).logits.float().cpu()
    return out


def _cache_file(cache_dir: str, teacher, tokenizer, max_seq_length: int) -> str:
    """The cache file of one teacher, length and casing. The teacher is known by a hash of its weights and its
    tokenizer's vocabulary, not by its files' names or times (a copy over a directory can keep both)."""
    key = hashlib.sha1(json.dumps([max_seq_length, getattr(tokenizer, "do_lower_case", None),
                                   sorted(tokenizer.get_vocab().items())]).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        key.update(name.encode())
        key.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return os.path.join(cache_dir, f"teacher_logits_{key.hexdigest()[:20]}.pt")


def cached_teacher_logits(teacher, tokenizer, texts: list[Text], max_seq_length: int, batch_size: int,
                          cache_dir: str | None) -> tuple[torch.Tensor, int]:
    """The teacher's logits (N, C) for `texts` (or pairs), each distinct input computed once and kept in
    `cache_dir`.

    One file per teacher (its weights and vocabulary), sequence length and casing, holding a row per input keyed
    by the hash of its text, or of both texts of a pair (`input_key`): any set of inputs (train, augmented
    copies, another stage's transfer set) reuses what is there. `cache_dir=None` keeps nothing on disk.
    Returns (logits, n_computed).
    """
    hashes = [hashlib.sha1(input_key(t).encode("utf-8")).hexdigest() for t in texts]
    path = _cache_file(cache_dir, teacher, tokenizer, max_seq_length) if cache_dir else None
    rows = {}
    if path and os.path.exists(path):
        saved = torch.load(path, weights_only=True)
        rows = dict(zip(saved["hashes"], saved["logits"]))
    todo = {h: t for h, t in zip(hashes, texts) if h not in rows}  # distinct texts not cached yet
    if todo:
        new = predict_logits(teacher, tokenizer, list(todo.values()), max_seq_length, batch_size)
        rows.update(zip(todo, new))
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"  # a crash never leaves a half-written cache
            torch.save({"hashes": list(rows), "logits": torch.stack(list(rows.values()))}, tmp)
            os.replace(tmp, path)
    return torch.stack([rows[h] for h in hashes]) if texts else torch.empty(0, teacher.config.num_labels), len(todo)
