import json
import math
import os

import numpy as np
import pytest
import torch

import src.distill_task_specific_bert.distill as distill
from src import linear_teacher, predict
from src.common.cli import InputError
from src.common.files import load_json
from src.data.examples import input_hashes
from src.data.reading import read_examples
from src.teachers.cache import read_cache
from src.teachers.targets import (
    CROSS_FIT_FILE,
    ensemble_targets,
    load_teacher,
    load_teachers,
    parse_weights,
    pick_weights,
    teacher_outputs,
    teacher_targets,
    weight_grid,
)
from src.tinybert import task_distill
from tests.tiny import FAST_BILSTM as BILSTM
from tests.tiny import write_tiny_bert, write_toy_data


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Toy data, a random (untrained: at chance) tiny BERT teacher, and a linear teacher that learned the task."""
    root = tmp_path_factory.mktemp("teachers")
    data = write_toy_data(root / "toy")
    bert = write_tiny_bert(root / "bert", labels=["0", "1"])
    linear_teacher.main(["--data_dir", data, "--output_dir", str(root / "linear"), "--C_grid", "4", "--cross_fit", "3"])
    return data, bert, str(root / "linear")


# --- the targets, by hand

def test_one_teacher_keeps_its_logits_several_average_log_probabilities():
    z = torch.tensor([[2.0, -1.0]])
    assert ensemble_targets([z], [1.0]) is z  # the papers' targets: the raw logits
    a = torch.tensor([[math.log(3.0), 0.0]])  # p = (0.75, 0.25)
    b = torch.tensor([[5.0, 5.0]])  # p = (0.5, 0.5), at another logit scale
    equal = ensemble_targets([a, b], [1.0, 1.0])
    torch.testing.assert_close(equal, torch.tensor([[math.log(0.75 * 0.5) / 2, math.log(0.25 * 0.5) / 2]]))
    weighted = ensemble_targets([a, b], [3.0, 1.0])  # weights are normalised: 3/4 and 1/4
    torch.testing.assert_close(weighted, torch.tensor([[(3 * math.log(0.75) + math.log(0.5)) / 4,
                                                        (3 * math.log(0.25) + math.log(0.5)) / 4]]))
    # softmax of the targets: the weighted geometric mean of the probabilities, renormalised
    p = torch.tensor([0.75 ** 0.75 * 0.5 ** 0.25, 0.25 ** 0.75 * 0.5 ** 0.25])
    torch.testing.assert_close(weighted.softmax(-1)[0], p / p.sum())
    # regressors: the weighted mean of their scores
    torch.testing.assert_close(ensemble_targets([torch.tensor([[2.0]]), torch.tensor([[4.0]])], [1.0, 3.0]),
                               torch.tensor([[3.5]]))


def test_weights_are_checked():
    assert parse_weights(None, 3) == [1.0, 1.0, 1.0] and parse_weights("2,0.5", 2) == [2.0, 0.5]
    for bad in ("1", "1,x", "-1,2", "0,0"):
        with pytest.raises(ValueError, match="--teacher_weights"):
            parse_weights(bad, 2)


def test_linear_teacher_outputs_are_its_log_probabilities_cached(teachers, tmp_path):
    data, bert, linear = teachers
    texts = ["a good film", "the plot was bad", "good"]
    t = load_teacher(linear)
    assert t.kind == "linear" and t.labels == ["0", "1"] and not t.pairs
    out, computed = teacher_outputs(t, texts, 8, str(tmp_path))
    np.testing.assert_allclose(out.numpy(), t.model.predict_log_proba(texts), rtol=1e-6)
    np.testing.assert_allclose(out.exp().sum(-1).numpy(), 1.0, rtol=1e-6)
    assert computed == 3 and teacher_outputs(t, texts, 8, str(tmp_path))[1] == 0  # the second time: the cache
    # two teachers: the mean of their log-probabilities, each teacher cached in its own file
    both = load_teachers([bert, linear])
    targets, computed = teacher_targets(both, [1.0, 1.0], texts, 8, str(tmp_path))
    bert_out = teacher_outputs(both[0], texts, 8, None)[0]
    torch.testing.assert_close(targets, (bert_out.log_softmax(-1) + out) / 2)
    assert computed == 3 and len(os.listdir(tmp_path)) == 2


def test_label_order_mismatch_is_refused(teachers, tmp_path):
    data, _, linear = teachers
    reversed_bert = write_tiny_bert(tmp_path / "reversed", labels=["1", "0"])
    with pytest.raises(InputError, match=r"the teachers disagree on the labels: .*reversed has \['1', '0'\], "
                                         r".*linear has \['0', '1'\]"):
        load_teachers([reversed_bert, linear])
    with pytest.raises(SystemExit, match=r"^error: the teachers disagree on the labels"):
        distill.main(["--data_dir", data, "--teacher_model", reversed_bert, "--teacher_model", linear,
                      "--output_dir", str(tmp_path / "out"), *BILSTM])
    assert not os.path.exists(tmp_path / "out" / "metrics.json")


# --- both students from a BERT and a linear teacher together

def test_bilstm_learns_from_a_bert_and_a_linear_teacher(teachers, tmp_path, capsys):
    data, bert, linear = teachers
    out = tmp_path / "kd"
    distill.main(["--data_dir", data, "--teacher_model", bert, "--teacher_model", linear, "--teacher_weights", "1,3",
                  "--output_dir", str(out), "--cache_dir", str(tmp_path / "cache"), *BILSTM])
    m = load_json(out / "metrics.json")
    assert [(t["kind"], t["weight"]) for t in m["teachers"]] == [("bert", 1.0), ("linear", 3.0)]
    bert_scores, linear_scores = (t["test"]["accuracy"] for t in m["teachers"])
    assert linear_scores >= 0.9 and m["ensemble"]["test"]["accuracy"] >= 0.9  # the random BERT is outweighed
    assert m["teacher_scores"] == m["ensemble"] and m["test"]["accuracy"] >= 0.8
    assert m["test_accuracy_vs_teacher"] == m["test"]["accuracy"] / m["ensemble"]["test"]["accuracy"]
    assert m["speed"]["teacher_model"] == bert  # the speed-up is the BERT teacher's
    assert len([f for f in os.listdir(tmp_path / "cache") if f.startswith("teacher_logits_")]) == 2
    assert "done: BiLSTM student (distilled)" in capsys.readouterr().out
    assert (f"Distilled from the teachers `{bert}` (bert, weight 1), `{linear}` (linear, weight 3) (the mean of their "
            "log-probabilities)") in (out / "README.md").read_text()  # the model card


def test_bilstm_from_a_linear_teacher_alone(teachers, tmp_path):
    data, _, linear = teachers
    m = distill.main(["--data_dir", data, "--teacher_model", linear, "--output_dir", str(tmp_path / "kd"),
                      *BILSTM]) or load_json(tmp_path / "kd" / "metrics.json")
    assert m["teachers"][0]["kind"] == "linear" and "ensemble" not in m and m["test"]["accuracy"] >= 0.8
    assert "mean_teacher_pieces" not in m and m["speed"]["teacher_model"] == linear  # no BERT: timed against it
    with pytest.raises(SystemExit, match=r"^error: --student_tokenizer teacher read a BERT teacher's word pieces, "
                                         r"but every --teacher_model is linear$"):
        distill.main(["--data_dir", data, "--teacher_model", linear, "--output_dir", str(tmp_path / "t"),
                      "--student_tokenizer", "teacher", *BILSTM])


def test_tinybert_stage2_learns_from_a_bert_and_a_linear_teacher(teachers, tmp_path):
    data, bert, linear = teachers
    common = ["--data_dir", data, "--max_seq_length", "32", "--train_batch_size", "8", "--no_cuda",
              "--speed_texts", "0"]
    task_distill.main(["--teacher_model", bert, "--teacher_model", linear, "--init_from_teacher", "--student_layers",
                       "1", "--output_dir", str(tmp_path / "s1"), "--num_train_epochs", "1", "--learning_rate",
                       "1e-3", *common])
    assert load_json(tmp_path / "s1" / "metrics.json")["teacher"] == f"{bert}, {linear}"
    task_distill.main(["--pred_distill", "--teacher_model", linear, "--teacher_model", bert, "--student_model",
                       str(tmp_path / "s1"), "--output_dir", str(tmp_path / "s2"), "--num_train_epochs", "6",
                       "--eval_step", "8", "--teacher_weights", "3,1", "--learning_rate", "3e-3", *common])
    m = load_json(tmp_path / "s2" / "metrics.json")
    assert [t["kind"] for t in m["teachers"]] == ["linear", "bert"] and m["ensemble"]["test"]["accuracy"] >= 0.9
    assert m["test"]["accuracy"] > 0.6  # above chance (0.5) by learning the ensemble's targets
    with pytest.raises(SystemExit, match=r"^error: TinyBERT needs a BERT teacher .* every --teacher_model is linear"):
        task_distill.main(["--pred_distill", "--teacher_model", linear, "--student_model", str(tmp_path / "s1"),
                           "--output_dir", str(tmp_path / "s3"), *common])


def test_predict_scores_a_linear_teacher(teachers, capsys, tmp_path):
    data, _, linear = teachers
    predict.main(["--model", linear, "--input", os.path.join(data, "test.tsv"), "--eval"])
    table = capsys.readouterr().out.splitlines()
    accuracy = float(table[2].split("|")[1])
    assert table[0].startswith("| accuracy") and accuracy == pytest.approx(
        load_json(os.path.join(linear, "metrics.json"))["test"]["accuracy"], abs=1e-4)
    predict.main(["--model", linear, "--input", os.path.join(data, "test.tsv"), "--output", str(tmp_path / "p.jsonl")])
    row = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert set(row["probs"]) == {"0", "1"} and sum(row["probs"].values()) == pytest.approx(1.0)


def test_linear_teacher_gives_its_training_texts_out_of_fold(teachers, tmp_path):
    data, _, linear = teachers
    t = load_teacher(linear)
    train = [ex.input for ex in read_examples(os.path.join(data, "train.tsv"))]
    keys, held_out = read_cache(os.path.join(linear, CROSS_FIT_FILE), 2)
    assert len(keys) == len(set(train)) and np.isclose(np.exp(held_out).sum(1), 1.0).all()
    out = teacher_outputs(t, train[:4] + ["a very good scene"], 8, None)[0].numpy()
    np.testing.assert_allclose(out[:4], held_out[np.searchsorted(keys, input_hashes(train[:4]))])
    full = t.model.predict_log_proba(train[:4] + ["a very good scene"])
    assert not np.allclose(out[:4], full[:4])  # not the fitted model's own (near-certain) outputs on its texts
    np.testing.assert_allclose(out[4], full[4], rtol=1e-6)  # any other text: the fitted model's
    linear_teacher.main(["--data_dir", data, "--output_dir", str(tmp_path / "plain")])  # by default: none
    assert not os.path.exists(tmp_path / "plain" / CROSS_FIT_FILE)


def test_weights_picked_on_dev_by_hand():
    assert weight_grid(2)[0] == [0.5, 0.5] and len(weight_grid(2)) == 11 and len(weight_grid(3)) == 66
    # A is right on both dev examples (p 0.6), B wrong and sure (p 0.9): the ensemble is right when
    # w_A log(0.6 / 0.4) > w_B log(0.9 / 0.1), i.e. w_A / w_B > 5.42: 0.9 / 0.1 is the most even weighting that is
    a = torch.tensor([[math.log(0.6), math.log(0.4)], [math.log(0.4), math.log(0.6)]])
    b = torch.tensor([[math.log(0.1), math.log(0.9)], [math.log(0.9), math.log(0.1)]])
    weights, tried = pick_weights([a, b], [0, 1], "accuracy")
    assert weights == [0.9, 0.1] and tried["0.9,0.1"] == 1.0 and tried["0.8,0.2"] == 0.0 and tried["1,0"] == 1.0


def test_bilstm_with_teacher_weights_picked_on_dev(teachers, tmp_path):
    data, bert, linear = teachers
    distill.main(["--data_dir", data, "--teacher_model", bert, "--teacher_model", linear, "--teacher_weights_on_dev",
                  "--output_dir", str(tmp_path / "kd"), *BILSTM])
    m = load_json(tmp_path / "kd" / "metrics.json")
    picked = [t["weight"] for t in m["teachers"]]
    assert m["teacher_weights_by_dev"][",".join(f"{w:g}" for w in picked)] == max(m["teacher_weights_by_dev"].values())
    # the linear teacher alone is right on all of dev, and so is every weighting that gives it half or more (the
    # random BERT's log-probabilities are near log 0.5 for both labels): the tie goes to the most even one
    assert m["teacher_weights_by_dev"]["1,0"] < 1.0 == m["teacher_weights_by_dev"]["0,1"] and picked == [0.5, 0.5]
