"""TinyBERT general distillation: a random student learns a pretrained teacher's layers on plain text, and
task stage 1 starts from it, projection included."""

import json
import os

import pytest
import torch

from src.common.files import load_json
from src.tinybert import general_distill, task_distill
from src.tinybert.student import PROJECTIONS_FILE
from tests.tiny import kill_then_resume, toy_examples, write_tiny_bert


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(text for _, text in toy_examples(120)) + "\n", encoding="utf-8")
    return str(path)


def run(*argv):
    general_distill.main(["--max_seq_length", "32", "--train_batch_size", "8", "--learning_rate", "3e-3",
                          "--warmup_proportion", "0", "--no_cuda", *map(str, argv)])


def test_general_student_learns_then_starts_task_stage1(tmp_path, corpus, student_config, toy_data, caplog,
                                                        capsys):
    teacher = write_tiny_bert(tmp_path / "teacher", labels=["0", "1"])  # general distillation ignores the head
    out = tmp_path / "general"
    run("--teacher_model", teacher, "--student_config", student_config, "--corpus", corpus, "--output_dir", out,
        "--num_train_epochs", "5")
    for name in ("config.json", "model.safetensors", "tokenizer.json", PROJECTIONS_FILE, "args.json", "metrics.json",
                 "curves.png", "README.md"):
        assert (out / name).exists(), name
    metrics = load_json(out / "metrics.json")
    losses = [h["train_loss"] for h in metrics["history"]]
    assert losses[-1] < 0.6 * losses[0]  # it learns the teacher's layers
    assert capsys.readouterr().out == (f"done: TinyBERT general distillation | 1 layers x 16, "
                                       f"{metrics['num_params'] / 1e6:.1f}M params | last epoch's mean loss "
                                       f"{losses[-1]:.4f} | -> {out}\n")
    assert metrics["layer_map"] == [[1, 2]] and metrics["num_lines"] == 120
    assert metrics["num_sequences"] < 120  # short lines were packed together
    assert torch.load(out / PROJECTIONS_FILE)["state_dict"]["fit_dense.weight"].shape == (32, 16)

    caplog.set_level("INFO", logger="kd")
    task_distill.main(["--teacher_model", teacher, "--student_model", str(out), "--data_dir", toy_data,
                       "--output_dir", str(tmp_path / "stage1"), "--max_seq_length", "32", "--num_train_epochs", "1",
                       "--speed_texts", "0", "--no_cuda"])
    assert f"projection W: from {out}" in caplog.text
    assert os.path.exists(tmp_path / "stage1" / PROJECTIONS_FILE)


def test_killed_run_resumes_to_the_same_metrics(tmp_path, corpus, student_config, monkeypatch):
    teacher = write_tiny_bert(tmp_path / "teacher")
    args = ["--teacher_model", teacher, "--student_config", student_config, "--corpus", corpus,
            "--num_train_epochs", "2", "--save_steps", "2"]

    def train(out, *extra):
        run(*args, "--output_dir", out, *extra)
        return load_json(out / "metrics.json")

    straight = train(tmp_path / "straight")
    resumed = kill_then_resume(monkeypatch, train, tmp_path / "killed", torch.optim.AdamW, kill_at=4)
    assert resumed["history"] == straight["history"]
    proj_a, proj_b = (torch.load(tmp_path / d / PROJECTIONS_FILE)["state_dict"] for d in ("straight", "killed"))
    assert all(torch.equal(proj_a[k], proj_b[k]) for k in proj_a)


def test_heads_must_match_and_corpus_must_exist(tmp_path, corpus):
    teacher = write_tiny_bert(tmp_path / "teacher")  # 2 heads
    config = tmp_path / "three_heads.json"
    config.write_text(json.dumps({"hidden_size": 18, "num_hidden_layers": 1, "num_attention_heads": 3,
                                  "intermediate_size": 32, "max_position_embeddings": 64}))
    with pytest.raises(SystemExit, match="error: the attention loss compares head by head"):
        run("--teacher_model", teacher, "--student_config", config, "--corpus", corpus, "--output_dir", tmp_path / "o")
    with pytest.raises(SystemExit, match="error: --corpus .* does not exist"):
        run("--teacher_model", teacher, "--student_config", config, "--corpus", tmp_path / "none.txt",
            "--output_dir", tmp_path / "o")
    assert not (tmp_path / "o").exists()
