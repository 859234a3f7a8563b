import json
import os
import runpy
import sys

import pytest

from src import run_demo
from tests.tiny import toy_examples, write_tiny_bert


def in_process(cmd, env):
    """Run a stage script in this process (no interpreter start-up per stage): same code, faster test."""
    old_argv = sys.argv
    sys.argv = cmd[1:]
    try:
        runpy.run_path(cmd[1], run_name="__main__")
    except SystemExit as e:
        return 0 if e.code in (None, 0) else 1
    finally:
        sys.argv = old_argv
    return 0


def test_tiny_demo_runs_every_stage_then_skips_them(tmp_path, monkeypatch, caplog):
    bert = write_tiny_bert(tmp_path / "bert")
    source = tmp_path / "all.tsv"
    source.write_text("".join(f"{label}\t{text}\n" for label, text in toy_examples(120, lang="zh")), encoding="utf-8")
    work = tmp_path / "work"
    monkeypatch.setattr(run_demo, "run_stage", in_process)
    argv = ["--tiny", "--bert_model", bert, "--source", str(source), "--data_dir", str(tmp_path / "data"),
            "--work_dir", str(work), "--max_train_examples", "48", "--max_seq_length", "64"]
    run_demo.main(argv)

    assert (work / "results.png").stat().st_size > 0
    rows = json.loads((work / "results.json").read_text())
    assert [r["model"] for r in rows] == ["teacher", "bilstm_baseline", "bilstm_distilled", "tinybert"]
    table = (work / "results.md").read_text()
    assert all(f"| {r['model']} |" in table for r in rows)
    assert (tmp_path / "data" / "train_aug.tsv").exists()
    for model in ("teacher", "bilstm_baseline", "bilstm_distilled", "tinybert"):
        assert {"curves.png", "README.md"} <= set(os.listdir(work / model))
    assert "each run directory holds its training curves (curves.png) and model card (README.md): " in caplog.text

    caplog.clear()
    run_demo.main(argv)  # a rerun finds every stage done
    assert caplog.text.count("exists, skipped") == 7


def test_failing_stage_stops_the_demo_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(run_demo, "run_stage", lambda cmd, env: 1)
    with pytest.raises(SystemExit, match="stage 'prepare data' failed"):
        run_demo.main(["--tiny", "--work_dir", str(tmp_path / "w"), "--data_dir", str(tmp_path / "d")])
    assert not os.path.exists(tmp_path / "w" / "results.png")


def test_pretraining_stages_come_before_the_teacher_and_feed_it():
    args = run_demo.parse_args(["--pretrain_lines", "2000", "--work_dir", "w"])
    names = [name for name, _, _ in run_demo.stages(args)]
    assert names[:4] == ["prepare data", "Chinese corpus", "masked-LM pretraining", "BERT teacher"]
    teacher_cmd = run_demo.stages(args)[3][2]
    assert teacher_cmd[teacher_cmd.index("--bert_model") + 1] == os.path.join("w", "minilm_zh")
    assert "masked-LM pretraining" not in [name for name, _, _ in run_demo.stages(run_demo.parse_args([]))]


def augmentation_model(argv):
    cmd = {name: c for name, _, c in run_demo.stages(run_demo.parse_args(argv))}["TinyBERT augmentation"]
    return cmd[cmd.index("--pretrained_bert_model") + 1]


def test_augmentation_draws_from_the_masked_lm_when_there_is_one(tmp_path):
    mlm, classifier = write_tiny_bert(tmp_path / "mlm", arch="mlm"), write_tiny_bert(tmp_path / "cls")
    teacher = os.path.join("w", "teacher")
    assert augmentation_model(["--work_dir", "w"]) == teacher  # the bundled MiniLM: no masked-LM head
    assert augmentation_model(["--work_dir", "w", "--pretrain_lines", "100"]) == os.path.join("w", "minilm_zh")
    assert augmentation_model(["--work_dir", "w", "--bert_model", str(mlm)]) == str(mlm)
    assert augmentation_model(["--work_dir", "w", "--bert_model", str(classifier)]) == teacher
    assert augmentation_model(["--work_dir", "w", "--bert_model", str(tmp_path / "missing")]) == teacher


def test_teacher_epochs_and_length_come_from_the_demo_flags():
    def teacher_flags(argv):
        cmd = {name: c for name, _, c in run_demo.stages(run_demo.parse_args(argv))}["BERT teacher"]
        return {flag: cmd[cmd.index(flag) + 1] for flag in ("--num_train_epochs", "--max_seq_length")}

    assert teacher_flags([]) == {"--num_train_epochs": "1", "--max_seq_length": "128"}
    assert teacher_flags(["--teacher_epochs", "3", "--max_seq_length", "64"]) == {
        "--num_train_epochs": "3", "--max_seq_length": "64"}
    assert teacher_flags(["--tiny", "--teacher_epochs", "3"])["--num_train_epochs"] == "1"
