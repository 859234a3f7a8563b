import torch

from src.data.batching import LengthBatchSampler, length_chunks
from src.modeling.bert import load_tokenizer, make_loader
from tests.tiny import write_tiny_bert


def test_length_batches_cover_every_index_once_with_one_length_each():
    lengths = [i % 10 + 1 for i in range(300)]  # 30 texts of each length 1..10
    generator = torch.Generator()
    sampler = LengthBatchSampler(lengths, 10, generator)
    generator.manual_seed(1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 30
    assert sorted(i for b in batches for i in b) == list(range(300))
    assert all(len({lengths[i] for i in b}) == 1 for b in batches)  # equal lengths: no padding at all
    generator.manual_seed(1)
    assert list(sampler) == batches  # the generator's state decides everything
    generator.manual_seed(2)
    other = list(sampler)
    assert other != batches and [b[0] for b in other] != [b[0] for b in batches]  # batch order reshuffled
    assert {tuple(sorted(b)) for b in other} != {tuple(sorted(b)) for b in batches}  # and their members


def test_length_batches_with_a_short_last_batch():
    lengths = [5, 1, 3, 3, 2, 9, 1, 4, 4, 7, 2]
    generator = torch.Generator().manual_seed(0)
    batches = list(LengthBatchSampler(lengths, 3, generator))
    assert sorted(len(b) for b in batches) == [2, 3, 3, 3]
    assert sorted(i for b in batches for i in b) == list(range(11))
    spans = sorted(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spans == [1, 1, 1, 2]  # sorted lengths 1 1 2 | 2 3 3 | 4 4 5 | 7 9, whatever the draw


def test_bert_loader_with_length_buckets_pads_less_and_keeps_every_row(tmp_path):
    tokenizer = load_tokenizer(write_tiny_bert(tmp_path / "bert"))
    lengths = [2 + i % 30 for i in range(120)]  # 30 distinct lengths, [CLS] and [SEP] included
    features = [{"input_ids": [2] + [5] * (n - 2) + [3], "labels": i % 2, "idx": i} for i, n in enumerate(lengths)]
    padded = {}
    for buckets in (False, True):
        loader = make_loader(tokenizer, features, 8, shuffle=True, length_buckets=buckets)
        loader.generator.manual_seed(0)
        batches = list(loader)
        assert sorted(i for b in batches for i in b["idx"].tolist()) == list(range(120))
        for b in batches:  # padding added, never a real token lost
            assert b["attention_mask"].sum(1).tolist() == [lengths[i] for i in b["idx"].tolist()]
        padded[buckets] = sum(b["input_ids"].numel() for b in batches) - sum(lengths)
    assert padded[True] < padded[False] / 4


def test_evaluation_loader_goes_shortest_first_and_keeps_every_row(tmp_path):
    tokenizer = load_tokenizer(write_tiny_bert(tmp_path / "bert"))
    lengths = [2 + (7 * i) % 13 for i in range(40)]
    features = [{"input_ids": [2] + [5] * (n - 2) + [3], "labels": 0, "idx": i} for i, n in enumerate(lengths)]
    batches = list(make_loader(tokenizer, features, 8))
    assert sorted(i for b in batches for i in b["idx"].tolist()) == list(range(40))
    ordered = sorted(lengths)
    assert [b["input_ids"].shape[1] for b in batches] == [max(ordered[i:i + 8]) for i in range(0, 40, 8)]


def test_length_chunks_bound_padding_and_size():
    lengths = [10] * 5 + [11] * 5 + [40] + [3] * 7
    chunks = length_chunks(lengths, max_size=4)
    assert sorted(i for c in chunks for i in c) == list(range(len(lengths)))
    assert all(len(c) <= 4 for c in chunks)
    assert [c for c in chunks if 10 in c] == [[10]]  # the one long text is padded with no other
    for c in chunks:  # at most 25 % padding over the real positions
        assert max(lengths[i] for i in c) * len(c) <= 1.25 * sum(lengths[i] for i in c)
    assert length_chunks(lengths, max_size=1) == [[i] for i in sorted(range(18), key=lengths.__getitem__)]
