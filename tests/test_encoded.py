"""Tokenized inputs on disk (`src/train/encoded.py`): the same rows, truncation and batches as `encode_texts`' lists."""

import os

import pytest
import torch

import src.train.encoded
from src.modeling.bert import encode_texts, load_tokenizer, make_loader
from src.train.encoded import encode_to_disk, encoded_path
from tests.tiny import VOCAB, toy_examples, write_tiny_bert

TEXTS = [text for _, text in toy_examples(9)] + ["good", "bad film ."]  # 3 to 11 pieces, a pair 11 to 20
PAIRS = list(zip(TEXTS, reversed(TEXTS)))


@pytest.fixture
def tokenizer(tmp_path):
    return load_tokenizer(write_tiny_bert(tmp_path / "bert"))


@pytest.mark.parametrize("inputs, max_len", [(TEXTS, 9), (PAIRS, 16)], ids=["texts", "pairs"])
def test_rows_are_encode_texts_features_across_chunk_boundaries(tmp_path, tokenizer, inputs, max_len):
    features, n_truncated = encode_texts(tokenizer, inputs, max_len)
    dataset, n = encode_to_disk(tokenizer, inputs, max_len, str(tmp_path / "s"), row_index=True, chunk_size=3)
    assert 0 < n == n_truncated < len(inputs)
    assert [dataset[i] for i in range(len(dataset))] == [{**f, "idx": i} for i, f in enumerate(features)]
    assert dataset.lengths().tolist() == [len(f["input_ids"]) for f in features]
    assert "idx" not in encode_to_disk(tokenizer, inputs, max_len, str(tmp_path / "s"))[0][0]  # stage 1: no row index


@pytest.mark.parametrize("length_buckets", [False, True])
def test_training_batches_over_the_store_equal_those_over_the_features(tmp_path, tokenizer, length_buckets):
    features = encode_texts(tokenizer, PAIRS, 16)[0]
    dataset = encode_to_disk(tokenizer, PAIRS, 16, str(tmp_path / "s"), chunk_size=4)[0]
    listed, stored = (list(make_loader(tokenizer, rows, 4, shuffle=True, length_buckets=length_buckets))
                      for rows in (features, dataset))
    assert len(listed) == len(stored) == 3
    for a, b in zip(listed, stored):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any((b["attention_mask"] == 0).any() for b in stored)  # rows of different lengths were padded


def test_a_set_is_keyed_by_inputs_tokenizer_and_length_and_reused(tmp_path, tokenizer, monkeypatch):
    directory = str(tmp_path / "s")
    path = encoded_path(directory, tokenizer, TEXTS, 8)
    other = load_tokenizer(write_tiny_bert(tmp_path / "other", vocab=VOCAB + ["plot2"]))
    assert len({path, encoded_path(directory, tokenizer, TEXTS, 16), encoded_path(directory, tokenizer, TEXTS[1:], 8),
                encoded_path(directory, other, TEXTS, 8)}) == 4
    encode_to_disk(tokenizer, TEXTS, 8, directory)
    monkeypatch.setattr(src.train.encoded, "write_encoded", None)  # a second call must only open the set
    assert len(encode_to_disk(tokenizer, TEXTS, 8, directory)[0]) == len(TEXTS)
    os.remove(f"{path}.json")  # as a kill before the last rename leaves it: incomplete, written again
    monkeypatch.undo()
    assert encode_to_disk(tokenizer, TEXTS, 8, directory)[1] > 0
