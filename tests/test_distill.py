import math
import os

import pytest
import torch
import torch.nn.functional as F

import src.distill_task_specific_bert.distill as distill
import src.teacher_logits as utils
from src.bilstm import BiLSTMClassifier, BiLSTMConfig, pad_batch
from src.distill_task_specific_bert import bert_classification
from src.modeling import load_classifier, load_tokenizer
from src.runs import load_json
from tests.tiny import kill_then_resume, torchrun, write_tiny_bert, write_toy_data

FAST = ["--num_train_epochs", "8", "--learning_rate", "1e-2", "--train_batch_size", "8", "--embedding_dim", "16",
        "--hidden_size", "16", "--fc_dim", "16", "--speed_texts", "16", "--speed_repeats", "1", "--no_cuda"]


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
    # alpha = 0.5 with one labelled row: CE on that row only, MSE on both
    ce_row0 = F.cross_entropy(z_S[:1], torch.tensor([1])).item()
    mixed = distill.distill_loss(z_S, z_T, torch.tensor([1, -1]), alpha=0.5).item()
    assert mixed == pytest.approx(0.5 * ce_row0 + 0.5 * 4.5)


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
    first, computed = utils.cached_teacher_logits(model, tok, texts, 32, 8, str(tmp_path / "c"), tiny_bert)
    assert computed == 2 and len(calls) == 1  # the repeated text is computed once
    torch.testing.assert_close(first[0], first[2])
    again, computed = utils.cached_teacher_logits(model, tok, texts, 32, 8, str(tmp_path / "c"), tiny_bert)
    assert computed == 0 and len(calls) == 1
    torch.testing.assert_close(first, again)
    utils.cached_teacher_logits(model, tok, texts, 16, 8, str(tmp_path / "c"), tiny_bert)  # other length
    _, computed = utils.cached_teacher_logits(model, tok, texts[:1] + ["new text"], 32, 8, str(tmp_path / "c"),
                                              tiny_bert)
    assert computed == 1 and len(calls) == 3  # only the new text
    assert not [f for f in os.listdir(tmp_path / "c") if f.endswith(".tmp")]


def test_baseline_and_distilled_end_to_end(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    base = run(teacher, data, tmp_path / "base", "--distill", "0")
    assert {"config.json", "vocab.txt", "model.pt", "args.json", "metrics.json"} <= set(os.listdir(tmp_path / "base"))
    assert base["test"]["accuracy"] >= 0.8  # chance is 0.5: one token decides the label
    assert base["num_transfer_examples"] == 64 and base["student_tokenizer"] == "whitespace"
    assert base["dev"]["accuracy"] == max(h["dev_accuracy"] for h in base["history"])
    assert [h["epoch"] for h in base["history"]] == list(range(1, 9))
    assert all("train_loss" in h for h in base["history"])
    assert base["train_examples_per_s"] == pytest.approx(64 * 8 / base["train_time_s"])  # 8 epochs of 64 examples
    speed = base["speed"]
    assert speed["num_texts"] == 16  # --speed_texts; batch 1 times a quarter of them
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

    # a rerun reads every teacher logit from the cache
    rerun = run(teacher, data, tmp_path / "kd", "--distill", "1", "--augment", "mask,ngram", "--n_iter", "2",
                "--student_tokenizer", "teacher", "--init_from_teacher", "--overwrite_output_dir")
    assert rerun["teacher_logits_computed"] == 0

    # prediction with the distilled student (teacher tokenizer carried in its directory)
    texts = tmp_path / "texts.txt"
    texts.write_text("the movie was good\nbad plot .\nit was really good !\n")
    distill.main(["--do_predict", "--student_dir", str(tmp_path / "kd"), "--predict_file", str(texts),
                  "--predict_output", str(tmp_path / "pred.tsv")])
    lines = (tmp_path / "pred.tsv").read_text().splitlines()
    assert lines[0] == "label\ttext" and len(lines) == 4
    assert [line.split("\t")[1] for line in lines[1:]] == texts.read_text().splitlines()
    assert {line.split("\t")[0] for line in lines[1:]} <= {"0", "1"}
    assert distill.predict(str(tmp_path / "base"), ["good", "bad"]) == ["1", "0"]


def test_killed_run_resumes_to_the_same_metrics(teacher_and_data, tmp_path, monkeypatch):
    teacher, data = teacher_and_data
    args = ["--num_train_epochs", "3", "--save_steps", "5", "--augment", "mask", "--n_iter", "1", "--speed_texts", "0"]
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


def test_chinese_with_jieba_and_pos_augmentation(tiny_bert, tmp_path):
    data = write_toy_data(tmp_path / "zh", lang="zh")
    bert_classification.main(["--data_dir", data, "--bert_model", tiny_bert, "--output_dir", str(tmp_path / "t"),
                              "--num_train_epochs", "1", "--max_seq_length", "24", "--no_cuda"])
    metrics = run(str(tmp_path / "t"), data, tmp_path / "zh_kd", "--distill", "1", "--alpha", "0.5",
                  "--augment", "mask,pos,ngram", "--n_iter", "2", "--num_train_epochs", "1")
    assert metrics["student_tokenizer"] == "jieba" and metrics["num_augmented"] > 0
    assert metrics["teacher_max_seq_length"] == 24  # the teacher's own, from its args.json


def test_errors_are_one_line(tiny_bert, toy_data, tmp_path, capsys):
    with pytest.raises(SystemExit, match="error: model directory .*missing does not exist"):
        distill.main(["--data_dir", toy_data, "--teacher_model", str(tmp_path / "missing"),
                      "--output_dir", str(tmp_path / "o")])
    with pytest.raises(SystemExit):
        distill.main(["--data_dir", toy_data, "--teacher_model", tiny_bert, "--output_dir", str(tmp_path / "o"),
                      "--init_from_teacher"])
    assert "--init_from_teacher needs --student_tokenizer teacher" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="error: .*not a student directory"):
        distill.main(["--do_predict", "--student_dir", str(tmp_path), "--predict_file", toy_data + "/dev.tsv"])
    with pytest.raises(SystemExit):  # argparse: two flags needed
        distill.main(["--do_predict", "--student_dir", str(tmp_path)])
    assert "--do_predict needs --student_dir and --predict_file" in capsys.readouterr().err


def test_embeddings_from_word2vec_text_vectors(tmp_path):
    path = tmp_path / "vec.txt"
    path.write_text("3 2\ngood 1.0 2.0\nbad -1.0 0.5\nunused 9 9\n")
    vocab = ["[PAD]", "[UNK]", "[MASK]", "good", "bad", "plot"]
    weights, found = distill.embedding_weights(str(path), vocab)
    assert found == 2 and weights.shape == (6, 2)
    torch.testing.assert_close(weights[3:5], torch.tensor([[1.0, 2.0], [-1.0, 0.5]]))
    assert weights[0].abs().sum() == 0 and weights[5].abs().sum() > 0  # padding zero, missing word random
    path.write_text("zzz 1 2\n")
    with pytest.raises(distill.InputError, match="no word vectors for any of the 6 words"):
        distill.embedding_weights(str(path), vocab)
