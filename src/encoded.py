"""Tokenized inputs on disk: a transfer set's BERT input ids and token types in memory-mapped stores
(`src/ragged.py`), written a chunk at a time and read a row at a time, so memory does not grow with the rows.

A set at `<path>` is the stores `<path>.input_ids` (int32) and `<path>.token_type_ids` (uint8; empty rows for a
tokenizer without token types), then `<path>.json` (rows, number truncated, whether there are token types),
renamed into place last: its presence marks the set complete.
"""

import hashlib
import json
import os
from collections.abc import Sequence

import numpy as np
import torch

from src.cli import progress
from src.data import Text
from src.modeling import encode_texts
from src.ragged import Ragged, RaggedWriter
from src.teacher_logits import input_hashes, tokenizer_key


def encoded_path(directory: str, tokenizer, inputs: Sequence[Text], max_seq_length: int) -> str:
    """Where the set of these inputs, tokenizer (vocabulary, casing) and length lives in `directory`: keyed by
    all of them, so another tokenizer, length or data never reuses it."""
    key = hashlib.sha1(input_hashes(inputs).tobytes())
    key.update(tokenizer_key(tokenizer, max_seq_length))
    return os.path.join(directory, f"encoded_{key.hexdigest()[:20]}")


def exists(path: str) -> bool:
    """A complete set is at `path` (its JSON is renamed into place last)."""
    return os.path.isfile(f"{path}.json")


def write_encoded(path: str, tokenizer, inputs: Sequence[Text], max_seq_length: int, chunk_size: int = 4096) -> None:
    """Tokenize texts or pairs `chunk_size` at a time with `encode_texts` (its longest-first truncation, counted)
    and stream the rows into the stores at `path`; only a chunk of tokenized rows is held at a time."""
    truncated = 0
    token_types = "token_type_ids" in tokenizer.model_input_names  # not for a DistilBERT or RoBERTa tokenizer
    with (RaggedWriter(f"{path}.input_ids", np.int32) as ids,
          RaggedWriter(f"{path}.token_type_ids", np.uint8) as types):
        for start in progress(range(0, len(inputs), chunk_size), desc="tokenizing", leave=False):
            # rows one by one, not a slice: a store of pairs (`ragged.Inputs`) gives pairs only per row
            chunk = [inputs[i] for i in range(start, min(start + chunk_size, len(inputs)))]
            features, n = encode_texts(tokenizer, chunk, max_seq_length)
            truncated += n
            for feature in features:
                ids.append(feature["input_ids"])
                types.append(feature["token_type_ids"] if token_types else ())
    with open(f"{path}.json.tmp", "w", encoding="utf-8") as f:
        json.dump({"rows": len(inputs), "truncated": truncated, "token_types": token_types}, f)
    os.replace(f"{path}.json.tmp", f"{path}.json")


class Encoded(torch.utils.data.Dataset):
    """A set written by `write_encoded`: row i as the feature dict `DataCollatorWithPadding` pads (the same
    `encode_texts` gives), plus with `row_index` its row number `idx` (its row of the teacher's logits)."""

    def __init__(self, path: str, row_index: bool = False):
        self.input_ids = Ragged(f"{path}.input_ids", np.int32)
        self.token_type_ids = Ragged(f"{path}.token_type_ids", np.uint8)
        self.row_index = row_index
        with open(f"{path}.json", encoding="utf-8") as f:
            meta = json.load(f)
        self.num_truncated, self.token_types = meta["truncated"], meta["token_types"]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        ids = self.input_ids[i].tolist()
        row = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if self.token_types:
            row["token_type_ids"] = self.token_type_ids[i].tolist()
        if self.row_index:
            row["idx"] = i
        return row

    def lengths(self) -> np.ndarray:
        """Every row's number of tokens, from the offsets alone (no row is read)."""
        return self.input_ids.lengths()


def encode_to_disk(tokenizer, inputs: Sequence[Text], max_seq_length: int, directory: str,
                   row_index: bool = False, chunk_size: int = 4096) -> tuple[Encoded, int]:
    """The inputs tokenized into a set in `directory` (`encoded_path`), written unless a complete one is there,
    and opened. Returns (dataset, number truncated)."""
    path = encoded_path(directory, tokenizer, inputs, max_seq_length)
    if not exists(path):
        os.makedirs(directory, exist_ok=True)
        write_encoded(path, tokenizer, inputs, max_seq_length, chunk_size)
    dataset = Encoded(path, row_index)
    return dataset, dataset.num_truncated
