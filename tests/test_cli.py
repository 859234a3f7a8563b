"""Flags: every bad value is one `error:` line and exit code 1 before any work; Ctrl-C is one line and 130."""

import os
import subprocess
import sys

import pytest

from src.common.cli import run_script
from src.distill_task_specific_bert import bert_classification
from tests.tiny import script_env


@pytest.mark.parametrize("flags, message", [
    (["--learning_rate=-1e-5"], "argument --learning_rate: must be above 0, got -1e-5"),
    (["--learning_rate", "-0.01"], "argument --learning_rate: must be above 0, got -0.01"),
    (["--max_train_examples", "0"], "argument --max_train_examples: must be above 0, got 0"),
    (["--max_train_examples", "-5"], "argument --max_train_examples: must be above 0, got -5"),
    (["--num_train_epochs", "0"], "argument --num_train_epochs: must be above 0, got 0"),
    (["--train_batch_size", "two"],
     "argument --train_batch_size/--per_device_train_batch_size: expected a number, got 'two'"),
])
def test_bad_flag_values_are_one_line_before_any_work(flags, message, tiny_bert, toy_data, tmp_path):
    out = tmp_path / "teacher"
    with pytest.raises(SystemExit) as e:
        bert_classification.main(["--data_dir", toy_data, "--bert_model", tiny_bert, "--output_dir", str(out), *flags])
    assert e.value.code == f"error: {message} (see --help)"
    assert sorted(os.listdir(tmp_path)) == ["tiny_bert", "toy"]  # no output, no staging directory


def test_hugging_face_flag_names_are_accepted():
    args = bert_classification.parse_args(["--data_dir", "d", "--output_dir", "o", "--per_device_train_batch_size",
                                           "8", "--eval_steps", "50"])
    assert args.train_batch_size == 8 and args.eval_step == 50


def test_ctrl_c_is_one_line_and_exit_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as e:
        run_script(interrupted, resumable=True)
    assert e.value.code == 130 and capsys.readouterr().err == "interrupted; rerun with --resume to continue\n"


def test_help_shows_defaults_and_keeps_the_examples_line_breaks():
    out = subprocess.run([sys.executable, "src/distill_task_specific_bert/bert_classification.py", "--help"],
                         capture_output=True, text=True, env=script_env()).stdout
    assert "--data_dir data/reviews \\\n        --output_dir models/teacher" in out
    assert "(default: 32)" in out and "(default: 2e-05)" in out


def test_a_teacher_must_be_fine_tuned_and_a_bert(tmp_path, caplog):
    from src.common.cli import InputError
    from src.modeling.bert import load_classifier
    from tests.tiny import write_tiny_bert

    mlm = write_tiny_bert(tmp_path / "mlm", arch="mlm")  # a pretrained BERT: no classification head
    with pytest.raises(InputError, match="is not a fine-tuned classifier .* fine-tune it first"):
        load_classifier(mlm)
    caplog.set_level("INFO", logger="kd")
    assert load_classifier(mlm, ["neg", "pos"]).config.id2label == {0: "neg", 1: "pos"}
    assert "a new classification head for the labels ['neg', 'pos']" in caplog.text
    (tmp_path / "bilstm").mkdir()
    for name in ("config.json", "vocab.txt", "model.pt"):
        (tmp_path / "bilstm" / name).write_text("{}")
    with pytest.raises(InputError, match="is a BiLSTM student directory, not a BERT model"):
        load_classifier(str(tmp_path / "bilstm"))


def test_progress_writes_plain_lines_to_a_log_file(capsys):
    from src.common.cli import progress

    for _ in progress(range(3), desc="epoch 1", mininterval=0):
        pass
    err = capsys.readouterr().err
    assert "\r" not in err and "epoch 1: 100%" in err.splitlines()[-1]


SCRIPTS = ["src/prepare_data.py", "src/predict.py", "src/export.py", "src/pretrain_mlm.py", "src/run_demo.py",
           "src/plot_results.py", "src/distill_task_specific_bert/bert_classification.py",
           "src/distill_task_specific_bert/distill.py", "src/tinybert/data_augmentation.py",
           "src/tinybert/general_distill.py", "src/tinybert/task_distill.py"]


def without_pythonpath():
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_without_the_package_says_what_to_run(script, tmp_path):
    """No editable install (-S: no site-packages, so no .pth finder) and no PYTHONPATH: one line, exit 1."""
    done = subprocess.run([sys.executable, "-S", os.path.abspath(script), "--help"], cwd=tmp_path,
                          env=without_pythonpath(), capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == ("error: cannot import the project's modules: run `pip install -e .` in the repository, "
                           "or `export PYTHONPATH=<the repository>`\n")


def test_after_pip_install_e_a_script_runs_from_anywhere_without_pythonpath(tmp_path):
    """The README's set-up installs the project (`pip install -e .`): every `src` module imports from anywhere."""
    check = "import importlib.util, sys; sys.exit(importlib.util.find_spec('src') is None)"
    if subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=without_pythonpath()).returncode:
        pytest.skip("the project is not installed here (the README's `pip install -e .`)")
    done = subprocess.run([sys.executable, os.path.abspath("src/tinybert/task_distill.py"), "--help"], cwd=tmp_path,
                          env=without_pythonpath(), capture_output=True, text=True)
    assert done.returncode == 0 and "--pred_distill" in done.stdout, done.stderr
