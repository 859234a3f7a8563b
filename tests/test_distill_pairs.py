"""The siamese BiLSTM with every student option that single texts have: tokenizers, pretrained vectors, the
teacher's embeddings, the teacher-coverage length, bf16, Chinese POS augmentation of pairs, resume and torchrun."""

import subprocess
import sys

import pytest
import torch

from src.common.files import load_json
from src.distill_task_specific_bert import bert_classification, student
from src.modeling.bilstm import load_student
from tests.test_distill import FAST, run
from tests.tiny import kill_then_resume, script_env, torchrun, write_tiny_bert, write_toy_pairs


def pair_teacher(root, lang):
    data = write_toy_pairs(root / f"pairs_{lang}", lang=lang)
    bert_classification.main(["--data_dir", data, "--bert_model", write_tiny_bert(root / "bert"), "--output_dir",
                              str(root / f"teacher_{lang}"), "--num_train_epochs", "8", "--learning_rate", "3e-3",
                              "--train_batch_size", "8", "--max_seq_length", "32", "--warmup_proportion", "0",
                              "--no_cuda"])
    return str(root / f"teacher_{lang}"), data


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    return pair_teacher(tmp_path_factory.mktemp("en"), "en")


@pytest.fixture(scope="module")
def chinese(tmp_path_factory):
    return pair_teacher(tmp_path_factory.mktemp("zh"), "zh")


def test_teacher_word_pieces_with_its_embeddings_and_its_coverage(english, tmp_path):
    teacher, data = english
    m = run(teacher, data, tmp_path / "s", "--student_tokenizer", "teacher", "--init_from_teacher",
            "--match_teacher_coverage")
    assert m["text_pair"] and m["embedding_init"] == "teacher input embeddings"
    assert m["student_max_seq_length"] == 30  # the toy words are single pieces: the teacher's 32 less 2
    assert m["test"]["accuracy"] > 0.75 and m["speed"]["speedup_batch_64"] > 0


def test_word2vec_vectors_for_a_pair_vocabulary(english, tmp_path):
    teacher, data = english
    vectors = tmp_path / "w2v.txt"
    vectors.write_text("3 4\ngood 1 0 0 0\nbad 0 1 0 0\nplot 0 0 1 0\n")
    m = run(teacher, data, tmp_path / "s", "--embedding_file", str(vectors), "--distill", "0")
    assert m["embedding_rows_pretrained"] == 3  # words of both texts are in the vocabulary
    student, tokenizer, _ = load_student(str(tmp_path / "s"))
    assert student.config.pair and student.config.embedding_dim == 4


def test_chinese_pairs_with_char_vectors_and_pos_augmentation(chinese, tmp_path, monkeypatch):
    teacher, data = chinese
    chars = list("好坏的电影很")  # toy LAC vectors, 8 wide
    monkeypatch.setattr(student, "lac_char_vectors", lambda: (chars, torch.randn(len(chars), 8).numpy()))
    m = run(teacher, data, tmp_path / "s", "--student_tokenizer", "char", "--char_vectors", "lac",
            "--augment", "mask,pos", "--n_iter", "3")
    assert m["student_tokenizer"] == "char" and m["embedding_rows_pretrained"] == len(chars)
    assert 64 < m["num_augmented"] <= 3 * 64 and m["test"]["accuracy"] > 0.75
    jieba = run(teacher, data, tmp_path / "j", "--distill", "0", "--num_train_epochs", "1")
    assert jieba["student_tokenizer"] == "jieba"  # auto: Chinese words


def test_bf16_siamese_student(english, tmp_path):
    teacher, data = english
    out = tmp_path / "bf16"
    subprocess.run([sys.executable, "src/distill_task_specific_bert/distill.py", "--data_dir", data,
                    "--teacher_model", teacher, "--output_dir", str(out), *FAST, "--bf16"],
                   check=True, env=script_env(), capture_output=True)
    m = load_json(out / "metrics.json")
    assert m["text_pair"] and m["test"]["accuracy"] > 0.75 and load_json(out / "args.json")["bf16"]


def test_killed_pair_run_resumes_to_the_same_metrics(english, tmp_path, monkeypatch):
    teacher, data = english
    args = ["--num_train_epochs", "3", "--save_steps", "5", "--augment", "mask", "--n_iter", "1", "--speed_texts", "0"]
    straight = run(teacher, data, tmp_path / "straight", *args)
    resumed = kill_then_resume(monkeypatch, lambda out, *extra: run(teacher, data, out, *args, *extra),
                               tmp_path / "killed", torch.optim.Adam, kill_at=20)
    assert resumed["history"] == straight["history"] and resumed["test"] == straight["test"]
    assert resumed["num_augmented"] == straight["num_augmented"] > 0


@pytest.mark.slow
def test_torchrun_two_cpu_processes_on_pairs(english, tmp_path):
    teacher, data = english
    torchrun("src/distill_task_specific_bert/distill.py", "--data_dir", data, "--teacher_model", teacher,
             "--output_dir", tmp_path / "ddp", "--cache_dir", tmp_path / "cache", *FAST)
    m = load_json(tmp_path / "ddp" / "metrics.json")
    assert m["num_processes"] == 2 and m["text_pair"] and m["test"]["accuracy"] > 0.75
