"""Masked-LM pretraining: masking by hand-checked rules, whole words, and a run that lowers held-out loss."""

import pytest
import torch

from src import pretrain_mlm
from src.common.files import load_json
from src.data.masking import mask_tokens, mlm_batch, word_pieces
from src.distill_task_specific_bert import bert_classification
from src.modeling.bert import load_classifier, load_masked_lm, load_tokenizer
from tests.tiny import VOCAB, kill_then_resume, toy_examples, write_tiny_bert, write_toy_data


def test_mask_tokens_80_10_10_and_specials_untouched():
    B, L, mask_id = 256, 50, 4
    ids = torch.randint(5, 40, (B, L))
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    inputs, labels = mask_tokens(ids, torch.ones(B, L, dtype=torch.long), special, mask_id, vocab_size=40,
                                 generator=torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert not chosen[special].any() and torch.equal(labels[chosen], ids[chosen])
    assert 0.13 < chosen.float().mean() < 0.17  # 15 % of the 48 real positions per row
    masked = (inputs == mask_id)[chosen].float().mean()
    kept = (inputs == ids)[chosen].float().mean()  # the 10 % kept, plus random draws equal to the original
    assert 0.76 < masked < 0.84 and 0.08 < kept < 0.13
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_whole_words_are_masked_together():
    ids = torch.arange(10, 22).view(1, 12)
    starts = torch.tensor([[1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1]])  # words: 0 | 1-3 | 4-5 | 6 | 7-10 | 11
    for seed in range(20):
        _, labels = mask_tokens(ids, starts, torch.zeros(1, 12, dtype=torch.bool), 4, 40, p=0.5,
                                generator=torch.Generator().manual_seed(seed))
        chosen = (labels != -100)[0].tolist()
        for word in ([1, 2, 3], [4, 5], [7, 8, 9, 10]):
            assert len({chosen[i] for i in word}) == 1  # all of a word or none of it


def test_rows_without_word_starts_are_masked_by_pieces():
    """A packed corpus stored without word starts (no whole-word masking) is masked as if every piece began a
    word, the same draws as rows that carry word starts of 1."""
    rows = [{"input_ids": [2, 10, 11, 12, 3], "token_type_ids": [0] * 5, "attention_mask": [1] * 5},
            {"input_ids": [2, 13, 3], "token_type_ids": [0] * 3, "attention_mask": [1] * 3}]
    starts = [{**row, "word_start": [1] * len(row["input_ids"])} for row in rows]
    a, b = (mlm_batch(features, pad_id=0, mask_id=4, vocab_size=40, special_ids=[0, 2, 3], p=0.5,
                      generator=torch.Generator().manual_seed(0)) for features in (rows, starts))
    assert a.keys() == b.keys() == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_word_starts_follow_jieba_words_and_word_pieces(tmp_path):
    tokenizer = load_tokenizer(write_tiny_bert(tmp_path / "bert"))
    (ids,), (starts,) = word_pieces(tokenizer, ["我们很好"], whole_word=True)  # jieba: 我们 | 很 | 好
    assert tokenizer.convert_ids_to_tokens(ids) == ["我", "们", "很", "好"] and starts == [1, 0, 1, 1]
    assert word_pieces(tokenizer, ["我们很好"], whole_word=False)[1] == [[1, 1, 1, 1]]


def test_pretraining_gives_a_trained_head_and_lowers_heldout_loss(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(text for _, text in toy_examples(300, lang="zh")) + "\n", encoding="utf-8")
    encoder = write_tiny_bert(tmp_path / "encoder", vocab=[w for w in VOCAB if w not in "电影"])  # no MLM head
    out = tmp_path / "mlm"
    pretrain_mlm.main(["--bert_model", encoder, "--corpus", str(corpus), "--output_dir", str(out), "--extend_vocab",
                       "--whole_word_mask", "--max_seq_length", "32", "--train_batch_size", "16", "--num_train_epochs",
                       "4", "--learning_rate", "3e-3", "--warmup_proportion", "0", "--heldout_lines", "40",
                       "--no_cuda"])
    metrics = load_json(out / "metrics.json")
    assert metrics["added_tokens"] == 2  # 电 and 影 were unknown
    assert (out / "curves.png").exists() and (out / "README.md").exists()
    before, after = metrics["heldout_before"], metrics["heldout_after"]
    assert capsys.readouterr().out == (f"done: masked-LM pretraining | held-out masked-token accuracy "
                                       f"{before['accuracy']:.4f} -> {after['accuracy']:.4f} | perplexity "
                                       f"{before['perplexity']:.1f} -> {after['perplexity']:.1f} | -> {out}\n")
    # a random head scores about 1/40; the filler characters are random, so the trained one stays far below 1
    assert after["loss"] < before["loss"] - 0.2 and after["accuracy"] > before["accuracy"] + 0.1
    model, missing_head = load_masked_lm(str(out))
    assert missing_head == [] and len(load_tokenizer(str(out))) == model.config.vocab_size
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied decoder

    # a teacher fine-tuned from it keeps the characters the pretraining learned: none added, none re-initialised
    data = write_toy_data(tmp_path / "zh", lang="zh")
    bert_classification.main(["--data_dir", data, "--bert_model", str(out), "--output_dir", str(tmp_path / "teacher"),
                              "--extend_vocab", "--num_train_epochs", "1", "--max_seq_length", "32", "--no_cuda"])
    assert load_json(tmp_path / "teacher" / "metrics.json")["added_tokens"] == 0
    teacher = load_classifier(str(tmp_path / "teacher"))
    assert teacher.config.vocab_size == model.config.vocab_size


def test_killed_run_resumes_to_the_same_metrics(tmp_path, monkeypatch, caplog):
    """The masking draws are restored with the checkpoint, and the tied decoder too: a resumed run repeats a
    straight one, without accelerate's warning about the tied tensor at every checkpoint."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(text for _, text in toy_examples(200, lang="zh")) + "\n", encoding="utf-8")
    encoder = write_tiny_bert(tmp_path / "encoder")

    def train(out, *extra):
        pretrain_mlm.main(["--bert_model", encoder, "--corpus", str(corpus), "--output_dir", str(out),
                           "--max_seq_length", "32", "--train_batch_size", "16", "--num_train_epochs", "2",
                           "--learning_rate", "3e-3", "--heldout_lines", "40", "--save_steps", "2", "--no_cuda",
                           *extra])
        return load_json(out / "metrics.json")

    straight = train(tmp_path / "straight")
    resumed = kill_then_resume(monkeypatch, train, tmp_path / "killed", torch.optim.AdamW, kill_at=4)
    assert resumed["history"] == straight["history"] and resumed["heldout_after"] == straight["heldout_after"]
    assert "Removed shared tensor" not in caplog.text


def test_too_small_corpus_is_refused(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("一\n二\n")
    with pytest.raises(SystemExit, match="error: corpus .* has 2 lines: too few to keep 1000 out"):
        pretrain_mlm.main(["--bert_model", write_tiny_bert(tmp_path / "b"), "--corpus", str(corpus),
                           "--output_dir", str(tmp_path / "o"), "--max_seq_length", "64"])
