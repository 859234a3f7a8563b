"""Tokenized inputs on disk: a transfer set's BERT input ids and token types, or a corpus packed into sequences,
in memory-mapped stores (`src/data/ragged.py`), written a chunk at a time and read a row at a time, so memory does
not grow with the rows.

A set at `<path>` is its stores, then `<path>.json`, renamed into place last: its presence marks the set
complete. A transfer set (`write_encoded`): `<path>.input_ids` (int32) and `<path>.token_type_ids` (uint8; empty
rows for a tokenizer without token types); its JSON holds the rows, the number truncated and whether there are
token types. A packed corpus (`write_corpus`): `<path>.input_ids` and, for whole-word masking, `<path>.word_start`
(uint8); its JSON holds the lines, sequences and tokens, and `"token_types": "zeros"` (one segment: built on read).
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import islice

import numpy as np
import torch

from src.common.cli import progress
from src.common.files import save_json, write_atomically
from src.data.corpus import pack_sequences
from src.data.examples import Text, input_hashes
from src.data.masking import word_pieces
from src.data.ragged import Ragged, RaggedWriter
from src.modeling.bert import encode_texts, tokenizer_key


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
    _write_json(path, {"rows": len(inputs), "truncated": truncated, "token_types": token_types})


def _write_json(path: str, meta: dict) -> None:
    """The set's JSON, under a temporary name and then renamed: the last step, which marks the set complete."""
    write_atomically(f"{path}.json", partial(save_json, meta))


def write_corpus(path: str, tokenizer, lines: Iterable[str], max_seq_length: int, whole_word: bool = False,
                 chunk_size: int = 4096) -> None:
    """Tokenize corpus lines `chunk_size` at a time, pack them (`pack_sequences`: the sequences a list of the
    lines would give) and stream each sequence into the stores at `path`: its input ids, and with `whole_word`
    its word starts (without, every piece is a word, as `mlm_batch` assumes). Only a chunk of lines and one
    sequence are held at a time."""
    lines, n_lines = iter(lines), 0

    def line_pieces():  # each line's word pieces and word starts, a chunk of lines tokenized at a time
        nonlocal n_lines
        while chunk := list(islice(lines, chunk_size)):
            n_lines += len(chunk)
            yield from zip(*word_pieces(tokenizer, chunk, whole_word))

    stores = {"input_ids": np.int32, **({"word_start": np.uint8} if whole_word else {})}
    sequences = tokens = 0
    with contextlib.ExitStack() as stack:
        writers = {name: stack.enter_context(RaggedWriter(f"{path}.{name}", dtype)) for name, dtype in stores.items()}
        packed = pack_sequences(line_pieces(), tokenizer.cls_token_id, tokenizer.sep_token_id, max_seq_length,
                                whole_word)
        for feature in progress(packed, desc="packing", unit=" sequences", leave=False):
            for name, writer in writers.items():
                writer.append(feature[name])
            sequences += 1
            tokens += len(feature["input_ids"])
    _write_json(path, {"lines": n_lines, "sequences": sequences, "tokens": tokens, "token_types": "zeros",
                       "word_start": whole_word})


class Encoded(torch.utils.data.Dataset):
    """A set written by `write_encoded` or `write_corpus`: row i as the feature dict `DataCollatorWithPadding`
    pads (the same `encode_texts` or `pack_sequences` gives), plus with `row_index` its row number `idx` (its
    row of the teacher's logits). `meta`: the set's JSON."""

    def __init__(self, path: str, row_index: bool = False):
        with open(f"{path}.json", encoding="utf-8") as f:
            self.meta = json.load(f)
        self.input_ids = Ragged(f"{path}.input_ids", np.int32)
        # token types: stored (True), none (False: a DistilBERT or RoBERTa tokenizer), or "zeros" (a packed corpus)
        self.token_types = self.meta["token_types"]
        self.token_type_ids = Ragged(f"{path}.token_type_ids", np.uint8) if self.token_types is True else None
        self.word_start = Ragged(f"{path}.word_start", np.uint8) if self.meta.get("word_start") else None
        self.row_index = row_index

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        ids = self.input_ids[i].tolist()
        row = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if self.token_type_ids is not None:
            row["token_type_ids"] = self.token_type_ids[i].tolist()
        elif self.token_types:  # "zeros"
            row["token_type_ids"] = [0] * len(ids)
        if self.word_start is not None:
            row["word_start"] = self.word_start[i].tolist()
        if self.row_index:
            row["idx"] = i
        return row

    def lengths(self) -> np.ndarray:
        """Every row's number of tokens, from the offsets alone (no row is read)."""
        return self.input_ids.lengths()


def _open_or_write(path: str, write: Callable[[str], None], row_index: bool = False) -> Encoded:
    """The set at `path`, written first by `write(path)` unless a complete one is there."""
    if not exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write(path)
    return Encoded(path, row_index)


def encode_to_disk(tokenizer, inputs: Sequence[Text], max_seq_length: int, directory: str,
                   row_index: bool = False, chunk_size: int = 4096) -> tuple[Encoded, int]:
    """The inputs tokenized into a set in `directory` (`encoded_path`), written unless a complete one is there,
    and opened. Returns (dataset, number truncated)."""
    dataset = _open_or_write(encoded_path(directory, tokenizer, inputs, max_seq_length),
                             lambda path: write_encoded(path, tokenizer, inputs, max_seq_length, chunk_size), row_index)
    return dataset, dataset.meta["truncated"]


def corpus_to_disk(tokenizer, lines: Iterable[str], key: dict, max_seq_length: int, directory: str,
                   whole_word: bool = False, chunk_size: int = 4096) -> Encoded:
    """Corpus lines packed into a set in `directory` (`write_corpus`), written unless a complete one is there
    (then `lines` is never read), and opened. Keyed by `key` (what picks the lines: `corpus_digest`, a held-out
    draw), the tokenizer (vocabulary, casing), the length and `whole_word`, so that no other corpus, tokenizer,
    length or masking reuses it."""
    digest = hashlib.sha1(json.dumps([key, whole_word], sort_keys=True).encode())
    digest.update(tokenizer_key(tokenizer, max_seq_length))
    path = os.path.join(directory, f"corpus_{digest.hexdigest()[:20]}")
    return _open_or_write(path, lambda p: write_corpus(p, tokenizer, lines, max_seq_length, whole_word, chunk_size))


def stores_dir(args: argparse.Namespace) -> str:
    """Where a stage's sets live: `args.cache_dir` where the stage has that flag and it is given, kept for later
    runs; else `.<output_dir name>.stores/` beside `args.output_dir`, removed at the end (`remove_stores`). A
    fixed name rather than a `tempfile` one, so that every rank of a torchrun finds the main process's sets, and
    a --resume after a kill reuses them; beside the output directory, never inside the staging directory that
    `publish_dir` moves into place."""
    if cache_dir := getattr(args, "cache_dir", None):
        return cache_dir
    output_dir = os.path.abspath(args.output_dir)
    return os.path.join(os.path.dirname(output_dir), f".{os.path.basename(output_dir)}.stores")


def remove_stores(args: argparse.Namespace) -> None:
    """Delete the run's own `stores_dir` (not a --cache_dir); call it once every rank is done with them."""
    if not getattr(args, "cache_dir", None):
        shutil.rmtree(stores_dir(args), ignore_errors=True)
