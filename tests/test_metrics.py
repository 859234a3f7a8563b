"""The task metrics and the at-chance check against values worked out by hand."""

import logging

import pytest

from src.data.tasks import data_task, main_metric, task_name
from src.runs.summary import chance_check, gain_share, majority_floor, summary_line, vs_teacher
from src.train.engine import log_eta
from src.train.evaluation import classification_metrics, regression_metrics


def test_classification_metrics_by_hand():
    # TP 2, FN 1, FP 1, TN 2
    m = classification_metrics([1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # 2 TP / (2 TP + FP + FN)
    assert m["mcc"] == pytest.approx((2 * 2 - 1 * 1) / (3 * 3 * 3 * 3) ** 0.5)  # (TP TN - FP FN) / sqrt(...)
    assert m["macro_f1"] == pytest.approx(2 / 3) and m["examples"] == 6
    three = classification_metrics([0, 1, 2, 2], [0, 2, 2, 2])
    assert "f1" not in three and three["accuracy"] == 0.75  # F1 of class 1 only for two classes
    assert three["macro_f1"] == pytest.approx((1 + 0 + 0.8) / 3)  # class 2: P 2/3, R 1


def test_regression_metrics_by_hand():
    # x - mean = (-1, 0, 1), y - mean = (-1, 1, 0): r = 1 / sqrt(2 * 2)
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert m["pearson"] == pytest.approx(0.5) and m["spearman"] == pytest.approx(0.5)
    assert m["mse"] == pytest.approx(2 / 3) and m["examples"] == 3
    assert regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])["pearson"] == 0.0  # a constant has no correlation


def test_at_chance_for_a_classifier_and_a_regressor(caplog):
    assert chance_check({"accuracy": 0.75}, [1, 1, 1, 0]) == {"at_chance": True, "majority_rate": 0.75}
    assert chance_check({"accuracy": 0.8, "mcc": 0.5}, [1, 1, 1, 0])["at_chance"] is False
    # a hair above the majority rate, predictions unrelated to the labels (AFQMC's teacher)
    assert chance_check({"accuracy": 0.6807, "mcc": 0.026}, [1] * 6805 + [0] * 3195)["at_chance"] is True
    assert "WARNING: dev MCC 0.0260 is below 0.05 (accuracy 0.6807, majority-class rate 0.6805)" in caplog.text
    assert chance_check({"pearson": 0.05}, [0.5, 1.5], "pearson") == {"at_chance": True}
    assert "WARNING: dev Pearson 0.0500 is below 0.1" in caplog.text
    assert chance_check({"pearson": 0.5}, [0.5, 1.5], "pearson") == {"at_chance": False}


def test_task_names_and_main_metrics(tmp_path):
    assert task_name("STS-B") == task_name("stsb") == "sts-b" and task_name("xnli_zh") == "xnli"
    assert task_name("mine") is None
    assert [main_metric(t, False) for t in ("mrpc", "qqp", "cola", "rte", None)] == ["f1", "f1", "mcc", "accuracy",
                                                                                       "accuracy"]
    assert main_metric("sts-b", True) == main_metric(None, True) == "pearson"
    assert data_task(str(tmp_path / "data" / "mrpc")) == "mrpc"  # the directory's name
    assert data_task(str(tmp_path / "mine"), "CoLA") == "cola"  # TinyBERT's --task_name first
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "prepare.json").write_text('{"task": "tnews"}')
    assert data_task(str(tmp_path / "mine")) == "tnews"  # what prepare_data.py recorded


def test_majority_floor_and_share_of_the_gain_by_hand():
    # the training majority is class 1; on test [1, 0, 0, 0] always answering 1 is right once
    assert majority_floor([1, 1, 0], [1, 0, 0, 0], "accuracy") == 0.25
    assert majority_floor([1, 1, 0], [1, 0, 0, 0], "f1") == pytest.approx(0.4)  # precision 1/4, recall 1
    assert majority_floor([1, 1, 0], [1, 0, 0, 0], "mcc") == majority_floor([0.5, 2.0], [1.0], "pearson") == 0.0
    assert gain_share(0.8, 0.9, 0.5) == pytest.approx(0.75) and gain_share(0.6, 0.5, 0.5) is None
    assert vs_teacher({"accuracy": 0.8}, {"test": {"accuracy": 0.9}}, "accuracy", 0.5) == pytest.approx(
        {"test_accuracy_vs_teacher": 0.8 / 0.9, "majority_floor": 0.5, "share_of_teacher_gain": 0.75})


def test_done_line_says_what_is_kept_and_when_the_teacher_is_at_chance():
    kept = summary_line("S", "out", test={"accuracy": 0.8}, teacher_test={"accuracy": 0.9}, floor=0.5)
    assert kept == "done: S | test accuracy 0.8000 | 88.9% of the teacher's test accuracy, 75.0% of its gain over " \
                   "the majority class | -> out"
    pearson = summary_line("S", "out", test={"pearson": 0.6}, teacher_test={"pearson": 0.8}, metric="pearson",
                           floor=0.0)
    assert pearson == "done: S | test pearson 0.6000 | 75.0% of the teacher's test pearson | -> out"  # floor 0: same
    chance = summary_line("S", "out", test={"accuracy": 0.5}, teacher_test={"accuracy": 0.5}, floor=0.5)
    assert chance == "done: S | test accuracy 0.5000 | the teacher is at chance (test accuracy 0.5000; always " \
                     "answering the majority class 0.5000) | -> out"


def test_time_left_is_said_in_seconds_when_short(caplog):
    caplog.set_level(logging.INFO, logger="kd")
    log_eta(0.5, 10)
    log_eta(3.0, 100)
    assert "about 5 s for the 10 steps left" in caplog.text and "about 5 min for the 100 steps left" in caplog.text
