import math
import os
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import src.distill_task_specific_bert.distill as distill
import src.teachers.cache as utils
from src import export, predict
from src.common.cli import InputError
from src.common.files import load_json
from src.data.ragged import Ragged, write_ragged
from src.distill_task_specific_bert import bert_classification, student, transfer
from src.modeling.bert import load_classifier, load_tokenizer
from src.modeling.bilstm import BiLSTMClassifier, BiLSTMConfig, load_student, pad_batch
from tests.tiny import FAST_BILSTM as FAST
from tests.tiny import kill_then_resume, torchrun, write_tiny_bert, write_toy_data, write_toy_pairs


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    """A tiny BERT fine-tuned on the toy task (better than chance), and the toy data."""
    root = tmp_path_factory.mktemp("distill")
    data = write_toy_data(root / "toy")
    bert_classification.main(["--data_dir", data, "--bert_model", write_tiny_bert(root / "bert"),
                              "--output_dir", str(root / "teacher"), "--num_train_epochs", "6",
                              "--learning_rate", "3e-3", "--train_batch_size", "8", "--max_seq_length", "32",
                              "--warmup_proportion", "0", "--no_cuda"])
    return str(root / "teacher"), data


def run(teacher, data, out, *extra):
    distill.main(["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(out),
                  "--cache_dir", str(out) + "_cache", *FAST, *extra])
    return load_json(os.path.join(out, "metrics.json"))


def test_loss_hand_checked_values():
    z_T = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    no_labels = torch.tensor([-1, -1])
    assert distill.distill_loss(z_T.clone(), z_T, no_labels, alpha=0.0).item() == 0.0
    # ((1-0)^2 + (2-4)^2 + (0-0)^2 + (-1-1)^2) / 2 rows = (1 + 4 + 0 + 4) / 2
    z_S = torch.tensor([[0.0, 4.0], [0.0, 1.0]])
    assert distill.distill_loss(z_S, z_T, no_labels, alpha=0.0).item() == pytest.approx(4.5)
    labels = torch.tensor([1, 0])
    ce = F.cross_entropy(z_S, labels).item()
    assert distill.distill_loss(z_S, z_T, labels, alpha=1.0).item() == pytest.approx(ce)
    # alpha = 0.5, row 0 labelled 1, row 1 unlabelled: its CE target is the teacher's argmax of [0, -1], class 0.
    # CE row 0 = logsumexp(0, 4) - 4 = log(1 + e^-4) = 0.018150; row 1 = logsumexp(0, 1) - 0 = log(1 + e) = 1.313262
    # loss = 0.5 * (0.018150 + 1.313262) / 2 + 0.5 * 4.5 = 0.332853 + 2.25 = 2.582853
    mixed = distill.distill_loss(z_S, z_T, torch.tensor([1, -1]), alpha=0.5).item()
    assert mixed == pytest.approx(2.582853, abs=1e-6)
    # the gold label wins over the teacher: row 1 labelled 1 against the teacher's 0 gives log(1 + e^-1) = 0.313262
    assert distill.distill_loss(z_S, z_T, torch.tensor([1, 1]), alpha=1.0).item() == pytest.approx(
        (0.018150 + 0.313262) / 2, abs=1e-6)


def test_student_loss_uses_the_teacher_only_when_the_batch_has_its_logits():
    torch.manual_seed(0)
    model = BiLSTMClassifier(BiLSTMConfig(vocab_size=10, num_labels=2, embedding_dim=4, hidden_size=3, fc_dim=3,
                                          dropout=0.0))
    ids, lengths = pad_batch([[3, 4, 5], [6, 7]])
    batch = {"input_ids": ids, "lengths": lengths, "labels": torch.tensor([1, 0])}
    logits_S = model(ids, lengths)
    gold = distill.student_loss(model, batch, alpha=0.0)["loss"]
    torch.testing.assert_close(gold, F.cross_entropy(logits_S, batch["labels"]))  # --distill 0: alpha plays no part
    logits_T = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    kd = distill.student_loss(model, {**batch, "logits_T": logits_T}, alpha=0.25)["loss"]
    torch.testing.assert_close(kd, distill.distill_loss(logits_S, logits_T, batch["labels"], 0.25))


def test_teacher_logits_are_cached(tiny_bert, tmp_path, monkeypatch):
    calls = []
    real = utils.predict_logits

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(utils, "predict_logits", counting)
    model, tok = load_classifier(tiny_bert), load_tokenizer(tiny_bert)
    texts = ["a good movie", "the bad plot .", "a good movie"]
    first, computed = utils.cached_teacher_logits(model, tok, texts, 32, 8, str(tmp_path / "c"))
    assert computed == 2 and len(calls) == 1  # the repeated text is computed once
    torch.testing.assert_close(first[0], first[2])
    again, computed = utils.cached_teacher_logits(model, tok, texts, 32, 8, str(tmp_path / "c"))
    assert computed == 0 and len(calls) == 1
    torch.testing.assert_close(first, again)
    utils.cached_teacher_logits(model, tok, texts, 16, 8, str(tmp_path / "c"))  # other length
    _, computed = utils.cached_teacher_logits(model, tok, texts[:1] + ["new text"], 32, 8, str(tmp_path / "c"))
    assert computed == 1 and len(calls) == 3  # only the new text
    # another teacher with the same architecture (copied over the first, its file names and times kept) is
    # another cache: its logits are computed, not the first teacher's returned
    other = load_classifier(write_tiny_bert(tmp_path / "other", seed=1))
    theirs, computed = utils.cached_teacher_logits(other, tok, texts, 32, 8, str(tmp_path / "c"))
    assert computed == 2 and not torch.allclose(theirs, first)
    assert not [f for f in os.listdir(tmp_path / "c") if f.endswith(".tmp")]
    # the file: sorted 64-bit keys and their rows, mapped from disk, not loaded
    keys, rows = utils.read_cache(utils.cache_file(str(tmp_path / "c"), utils.bert_cache_key(other, tok, 32)), 2)
    assert isinstance(rows, np.memmap) and keys.tolist() == sorted(keys.tolist())
    torch.testing.assert_close(torch.from_numpy(rows[np.searchsorted(keys, utils.input_hashes(texts))]), theirs)


def test_baseline_and_distilled_end_to_end(teacher_and_data, tmp_path, capsys):
    teacher, data = teacher_and_data
    base = run(teacher, data, tmp_path / "base", "--distill", "0")
    assert base["at_chance"] is False
    assert capsys.readouterr().out.startswith(f"done: BiLSTM student (gold labels only) | dev accuracy "
                                              f"{base['dev']['accuracy']:.4f}, test accuracy ")
    assert {"config.json", "vocab.txt", "model.pt", "args.json", "metrics.json", "curves.png",
            "README.md"} <= set(os.listdir(tmp_path / "base"))
    assert base["test"]["accuracy"] >= 0.8  # chance is 0.5: one token decides the label
    assert base["num_transfer_examples"] == 64 and base["student_tokenizer"] == "whitespace"
    assert base["dev"]["accuracy"] == max(h["dev_accuracy"] for h in base["history"])
    assert [h["epoch"] for h in base["history"]] == list(range(1, 9))
    assert all("train_loss" in h for h in base["history"])
    assert base["train_examples_per_s"] == pytest.approx(64 * 8 / base["train_time_s"])  # 8 epochs of 64 examples
    speed = base["speed"]
    assert speed["num_texts"] == 16  # --speed_texts; batch 1 times a quarter of them
    assert speed["student_max_seq_length"] == 128 and speed["teacher_max_seq_length"] == 32
    assert base["mean_student_tokens"] == pytest.approx(base["mean_teacher_pieces"])  # toy words are pieces too
    assert 4 <= base["mean_student_tokens"] <= 9 and base["dev_cut_by_student"] == base["dev_cut_by_teacher"] == 0
    for b, size, n in (("batch_64", 64, 16), ("batch_1", 1, 4)):
        of_S, of_T = speed["student"][b], speed["teacher"][b]
        for s in (of_S, of_T):  # examples/s x seconds per batch = examples per batch
            assert s["batch_size"] == size
            assert s["examples_per_s"] * s["ms_per_batch"] / 1000 == pytest.approx(n / math.ceil(n / size))
        assert speed[f"speedup_{b}"] == pytest.approx(of_S["examples_per_s"] / of_T["examples_per_s"])
    assert not os.path.exists(tmp_path / ".base.tmp")

    kd = run(teacher, data, tmp_path / "kd", "--distill", "1", "--augment", "mask,ngram", "--n_iter", "2",
             "--student_tokenizer", "teacher", "--init_from_teacher")
    assert kd["test"]["accuracy"] >= 0.7 and kd["teacher_scores"]["test"]["accuracy"] >= 0.8
    assert kd["num_augmented"] > 0 and kd["num_transfer_examples"] == 64 + kd["num_augmented"]
    assert kd["embedding_init"] == "teacher input embeddings"
    assert kd["teacher_logits_computed"] == kd["num_transfer_examples"]
    teacher_test = kd["teacher_scores"]["test"]["accuracy"]
    assert kd["test_accuracy_vs_teacher"] == pytest.approx(kd["test"]["accuracy"] / teacher_test)
    assert kd["majority_floor"] == 0.5  # 16 of the 32 test labels are the training set's first majority class
    gain = kd["share_of_teacher_gain"]
    assert gain == pytest.approx((kd["test"]["accuracy"] - 0.5) / (teacher_test - 0.5)) if teacher_test > 0.5 else None
    kept = (f"{kd['test_accuracy_vs_teacher']:.1%} of the teacher's test accuracy, {gain:.1%} of its gain over the "
            f"majority class" if gain is not None else f"the teacher is at chance (test accuracy {teacher_test:.4f}; "
            f"always answering the majority class 0.5000)")
    assert capsys.readouterr().out == (
        f"done: BiLSTM student (distilled) | dev accuracy {kd['dev']['accuracy']:.4f}, test accuracy "
        f"{kd['test']['accuracy']:.4f} | {kept} | "
        f"{kd['speed']['speedup_batch_64']:.1f}x the teacher's speed (batch 64, CPU) | -> {tmp_path / 'kd'}\n")

    # a rerun reads every teacher logit from the cache
    rerun = run(teacher, data, tmp_path / "kd", "--distill", "1", "--augment", "mask,ngram", "--n_iter", "2",
                "--student_tokenizer", "teacher", "--init_from_teacher", "--overwrite_output_dir")
    assert rerun["teacher_logits_computed"] == 0

    # prediction with the distilled student (teacher tokenizer carried in its directory)
    texts = tmp_path / "texts.txt"
    texts.write_text("the movie was good\nbad plot .\nit was really good !\n")
    predict.main(["--model", str(tmp_path / "kd"), "--input", str(texts), "--output", str(tmp_path / "pred.tsv")])
    lines = (tmp_path / "pred.tsv").read_text().splitlines()
    assert lines[0] == "label\tp_0\tp_1\ttext" and len(lines) == 4
    assert [line.split("\t")[-1] for line in lines[1:]] == texts.read_text().splitlines()
    assert {line.split("\t")[0] for line in lines[1:]} <= {"0", "1"}
    (tmp_path / "cues.txt").write_text("good\nbad\n")
    predict.main(["--model", str(tmp_path / "base"), "--input", str(tmp_path / "cues.txt"), "--output",
                  str(tmp_path / "cues.tsv")])
    assert [line.split("\t")[0] for line in (tmp_path / "cues.tsv").read_text().splitlines()[1:]] == ["1", "0"]


def test_student_length_covers_what_the_teacher_reads(teacher_and_data, tmp_path):
    def two_pieces_a_word(texts, **kwargs):
        return {"input_ids": [[0] * (2 * len(t.split())) for t in texts]}

    texts = ["a b c", "d e f g h"]
    # 16 pieces for 8 words: the teacher's 32 - 2 = 30 pieces cover 15 words
    assert student.coverage_length([t.split() for t in texts], texts, two_pieces_a_word, 32) == 15
    # 12 student tokens for 16 pieces: ceil(30 * 12 / 16) = ceil(22.5) = 23
    assert student.coverage_length([["t"] * 4, ["t"] * 8], texts, two_pieces_a_word, 32) == 23

    teacher, data = teacher_and_data  # toy words are single pieces, so the student reads the teacher's 30
    matched = run(teacher, data, tmp_path / "m", "--distill", "0", "--num_train_epochs", "1",
                  "--match_teacher_coverage")
    assert matched["student_max_seq_length"] == matched["speed"]["student_max_seq_length"] == 30
    assert load_student(str(tmp_path / "m"))[1].max_seq_length == 30  # serving cuts where training did


def test_killed_run_resumes_to_the_same_metrics(teacher_and_data, tmp_path, monkeypatch):
    teacher, data = teacher_and_data
    args = ["--num_train_epochs", "3", "--save_steps", "5", "--augment", "mask", "--n_iter", "1", "--speed_texts", "0",
            "--match_teacher_coverage"]  # its computed length is no flag change on --resume
    straight = run(teacher, data, tmp_path / "straight", *args)
    # 8 batches per epoch: step 20 is mid-epoch 3, after the checkpoint of step 15
    resumed = kill_then_resume(monkeypatch, lambda out, *extra: run(teacher, data, out, *args, *extra),
                               tmp_path / "killed", torch.optim.Adam, kill_at=20)
    assert resumed["history"] == straight["history"] and resumed["test"] == straight["test"]
    assert resumed["num_transfer_examples"] == straight["num_transfer_examples"] > 64
    weights_a, weights_b = (torch.load(tmp_path / d / "model.pt") for d in ("straight", "killed"))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


@pytest.mark.slow
def test_torchrun_two_cpu_processes(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    out = tmp_path / "ddp"
    torchrun("src/distill_task_specific_bert/distill.py", "--data_dir", data, "--teacher_model", teacher,
             "--output_dir", out, "--cache_dir", tmp_path / "cache", *FAST)
    metrics = load_json(out / "metrics.json")
    assert metrics["num_processes"] == 2 and metrics["test"]["examples"] == 32
    assert metrics["test"]["accuracy"] >= 0.7  # the ranks trained one model together
    assert not os.path.exists(tmp_path / ".ddp.tmp")


def test_chinese_with_jieba_pos_augmentation_and_char_vectors(tiny_bert, tmp_path, monkeypatch):
    data = write_toy_data(tmp_path / "zh", lang="zh")
    bert_classification.main(["--data_dir", data, "--bert_model", tiny_bert, "--output_dir", str(tmp_path / "t"),
                              "--num_train_epochs", "1", "--max_seq_length", "24", "--no_cuda"])
    chars = list("好坏的电影很")  # toy LAC vectors, 8 wide: the student's embeddings follow their width
    monkeypatch.setattr(student, "lac_char_vectors", lambda: (chars, torch.randn(len(chars), 8).numpy()))
    metrics = run(str(tmp_path / "t"), data, tmp_path / "zh_kd", "--distill", "1", "--alpha", "0.5",
                  "--augment", "mask,pos,ngram", "--n_iter", "2", "--num_train_epochs", "1", "--char_vectors", "lac",
                  "--optimizer", "adadelta", "--max_seq_length", "4")
    assert metrics["student_tokenizer"] == "jieba" and metrics["num_augmented"] > 0
    assert metrics["teacher_max_seq_length"] == 24  # the teacher's own, from its args.json
    assert 0 < metrics["embedding_rows_pretrained"] < metrics["vocab_size"]
    assert metrics["embedding_init"].startswith("LAC character vectors, a word's mean over its characters")
    assert load_json(tmp_path / "zh_kd" / "config.json")["model"]["embedding_dim"] == 8
    assert metrics["speed"]["student_max_seq_length"] == 4 and 0 < metrics["dev_cut_by_student"] <= 1


def test_errors_are_one_line(tiny_bert, toy_data, tmp_path):
    with pytest.raises(SystemExit, match="error: model directory .*missing does not exist"):
        distill.main(["--data_dir", toy_data, "--teacher_model", str(tmp_path / "missing"),
                      "--output_dir", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="error: --init_from_teacher needs --student_tokenizer teacher"):
        distill.main(["--data_dir", toy_data, "--teacher_model", tiny_bert, "--output_dir", str(tmp_path / "o"),
                      "--init_from_teacher"])
    with pytest.raises(SystemExit, match="error: unrecognized arguments: --do_predict"):  # src/predict.py labels
        distill.main(["--do_predict", "--data_dir", toy_data, "--teacher_model", tiny_bert])
    with pytest.raises(SystemExit, match=r"^error: --p_both is a probability, in \[0, 1\]"):
        distill.main(["--data_dir", toy_data, "--teacher_model", tiny_bert, "--output_dir", str(tmp_path / "o"),
                      "--p_both", "1.5"])


def test_embeddings_from_word2vec_text_vectors(tmp_path):
    path = tmp_path / "vec.txt"
    path.write_text("3 2\ngood 1.0 2.0\nbad -1.0 0.5\nunused 9 9\n")
    vocab = ["[PAD]", "[UNK]", "[MASK]", "good", "bad", "plot"]
    args = distill.parse_args(["--data_dir", "d", "--teacher_model", "t", "--output_dir", "o",
                               "--embedding_file", str(path)])
    words, vectors, source = student.pretrained_vectors(args, "whitespace", vocab)
    weights = student.embedding_weights(vocab, words, vectors)
    assert words == ["good", "bad"] and source == str(path) and weights.shape == (6, 2)
    torch.testing.assert_close(weights[3:5], torch.tensor([[1.0, 2.0], [-1.0, 0.5]]))
    assert weights[0].abs().sum() == 0 and weights[5].abs().sum() > 0  # padding zero, missing word random
    path.write_text("zzz 1 2\n")
    with pytest.raises(InputError, match="no word vectors for any of the 6 words"):
        student.pretrained_vectors(args, "whitespace", vocab)


def test_lac_character_vectors_for_characters_and_words(monkeypatch):
    chars, vectors = ["好", "棒", "m", "a", "s", "k"], torch.eye(6)[:, :4].numpy() * 2  # 好 [2,0,0,0], 棒 [0,2,0,0]
    monkeypatch.setattr(student, "lac_char_vectors", lambda: (chars, vectors))
    args = distill.parse_args(["--data_dir", "d", "--teacher_model", "t", "--output_dir", "o", "--char_vectors", "lac"])
    vocab = ["[PAD]", "[UNK]", "[MASK]", "好", "棒", "桌"]
    weights, init, n = student.initial_embeddings(args, "char", vocab, None)
    assert n == 2 and init == "LAC character vectors (2 of 6 words)" and weights.shape == (6, 4)
    torch.testing.assert_close(weights[3:5], torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0]]))
    assert weights[0].abs().sum() == 0 and weights[5].abs().sum() > 0  # [PAD] zero, 桌 random
    assert not torch.equal(weights[2], torch.tensor([0, 0, 0.5, 0.5]))  # [MASK] is no word: not the mean of m a s k
    vocab = ["[PAD]", "[UNK]", "[MASK]", "好棒", "桌子", "好桌"]
    weights, init, n = student.initial_embeddings(args, "jieba", vocab, None)
    assert n == 2 and "mean over its characters" in init
    torch.testing.assert_close(weights[3], torch.tensor([1.0, 1.0, 0, 0]))  # (好 + 棒) / 2
    torch.testing.assert_close(weights[5], torch.tensor([2.0, 0, 0, 0]))  # 桌 has no vector: 好 alone
    with pytest.raises(InputError, match="needs Chinese student words"):
        student.initial_embeddings(args, "whitespace", vocab, None)


def test_optimizer_choice_and_its_learning_rate():
    model = torch.nn.Linear(2, 2)
    base = ["--data_dir", "d", "--teacher_model", "t", "--output_dir", "o"]
    adam = distill.make_optimizer(distill.parse_args(base), model.parameters())
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 1e-3
    args = distill.parse_args(base + ["--optimizer", "adadelta"])
    adadelta = distill.make_optimizer(args, model.parameters())
    assert isinstance(adadelta, torch.optim.Adadelta)
    assert adadelta.defaults["lr"] == 1.0 and adadelta.defaults["rho"] == 0.95  # Tang et al.'s values
    assert distill.parse_args(base + ["--optimizer", "adadelta", "--learning_rate", "0.5"]).learning_rate == 0.5


def test_transfer_batches_repeat_with_the_generator_seed(tmp_path):
    write_ragged(str(tmp_path / "ids"), [[3] * n for n in (1, 5, 2, 5, 1, 2, 5, 1)], np.int32)
    ids = [Ragged(str(tmp_path / "ids"), np.int32)]
    labels = torch.arange(8)
    for buckets in (True, False):
        loader = transfer.transfer_loader(ids, labels, None, 3, buckets)
        loader.generator.manual_seed(7)
        first = [b["labels"].tolist() for b in loader]
        loader.generator.manual_seed(7)
        assert [b["labels"].tolist() for b in loader] == first
        assert sorted(i for b in first for i in b) == list(range(8))
        if buckets:  # lengths 1 1 1 | 2 2 5 | 5 5 in some order: the 1s and the 5s are batched together
            assert sorted(sorted(b) for b in first)[0] == [0, 4, 7]


@pytest.mark.parametrize("scores", [False, True], ids=["pairs", "pair_scores"])
def test_siamese_student_on_pairs_and_scores(tiny_bert, tmp_path, capsys, caplog, scores):
    """A pair teacher (classes, or scores) through distill.py --distill 0 and 1: the siamese student learns the
    second text's cue above chance, is chosen by the main metric, labels pairs through src/predict.py and exports
    to ONNX with the same logits. The distilled one adds unlabeled pairs and augmented pairs to its transfer set;
    n-gram sampling, off for pairs by default, is skipped with one line."""
    pairs = write_toy_pairs(tmp_path / "pairs", scores=scores)
    (tmp_path / "pairs" / "unlabeled.tsv").write_text("text_a\ttext_b\nthe plot\tgood good\nthe cast\tbad\n")
    teacher = str(tmp_path / "teacher")
    bert_classification.main(["--data_dir", pairs, "--bert_model", tiny_bert, "--output_dir", teacher,
                              "--num_train_epochs", "8", "--learning_rate", "3e-3", "--train_batch_size", "8",
                              "--max_seq_length", "32", "--warmup_proportion", "0"])
    metric = "pearson" if scores else "accuracy"
    base = run(teacher, pairs, tmp_path / "base", "--distill", "0")
    kd = run(teacher, pairs, tmp_path / "kd", "--distill", "1", "--augment", "mask,ngram", "--n_iter", "2")
    for m in (base, kd):
        assert m["text_pair"] is True and m["main_metric"] == metric
        assert m["test"][metric] > (0.5 if scores else 0.75)
        assert m["dev"][metric] == max(h[f"dev_{metric}"] for h in m["history"])
    assert kd["num_unlabeled"] == 2 and 0 < kd["num_augmented"] <= 2 * 66 and kd[f"test_{metric}_vs_teacher"] > 0
    assert kd["num_transfer_examples"] == 64 + 2 + kd["num_augmented"]
    assert "WARNING: n-gram sampling is skipped: --p_ng is 0 (for pairs by default" in caplog.text
    assert "augmented 0 (no augmentation)" in caplog.text and re.search(r"augmented \d+ \(mask x2\)", caplog.text)
    student, _, _ = load_student(str(tmp_path / "kd"))
    assert student.config.pair and student.config.num_labels == (1 if scores else 2)
    capsys.readouterr()
    lines = tmp_path / "pairs.txt"
    lines.write_text("the movie\tit was good\nthe plot\tbad !\n")
    predict.main(["--model", str(tmp_path / "kd"), "--input", str(lines)])
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == ("score\ttext_a\ttext_b" if scores else "label\tp_0\tp_1\ttext_a\ttext_b") and len(rows) == 3
    predict.main(["--model", str(tmp_path / "kd"), "--input", f"{pairs}/test.tsv", "--output",
                  str(tmp_path / "kd.tsv")])
    header, *predicted = (tmp_path / "kd.tsv").read_text().splitlines()
    assert len(predicted) == 32 and header.endswith("text_a\ttext_b")
    first = [row.split("\t")[0] for row in predicted]
    assert all(float(x) >= -1 for x in first) if scores else set(first) <= {"0", "1"}
    single = tmp_path / "single.tsv"
    single.write_text("text\nthe movie was good\n")
    with pytest.raises(SystemExit, match=r"^error: \S+single.tsv holds single texts, but \S+kd was trained on "
                                         r"sentence pairs"):
        predict.main(["--model", str(tmp_path / "kd"), "--input", str(single)])
    export.main(["--model", str(tmp_path / "kd"), "--output_dir", str(tmp_path / "onnx"), "--eval_data", pairs,
                 "--int8"])
    report = load_json(tmp_path / "onnx" / "export.json")
    assert report["inputs"] == ["input_ids", "lengths", "input_ids_b", "lengths_b"]
    assert report["checks"]["onnx_fp32"]["max_abs_diff"] < 1e-4 and report["checks"]["onnx_int8"]["max_abs_diff"] < 0.1
    assert report["eval"]["onnx_fp32"][metric] == pytest.approx(report["eval"]["pytorch"][metric], abs=1e-4)


def test_pair_data_for_a_text_teacher_is_one_line(teacher_and_data, tmp_path):
    teacher, _ = teacher_and_data
    pairs = write_toy_pairs(tmp_path / "pairs")
    with pytest.raises(SystemExit, match=r"^error: \S+pairs/train holds sentence pairs, but \S+ was trained on "
                                         r"single texts$"):
        run(teacher, pairs, tmp_path / "s", "--distill", "1")


def test_metric_flag_picks_the_checkpoint_by_another_dev_metric(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    metrics = run(teacher, data, tmp_path / "mcc", "--metric", "mcc")
    assert metrics["main_metric"] == "mcc"
    assert metrics["dev"]["mcc"] == max(h["dev_mcc"] for h in metrics["history"])  # the kept checkpoint's
    with pytest.raises(SystemExit, match="--metric pearson does not score classes; use one of accuracy, f1"):
        run(teacher, data, tmp_path / "pearson", "--metric", "pearson")
