import json
import os

import pytest

from src import run_demo
from src.runs import stages
from tests.tiny import in_process, toy_examples, write_tiny_bert


def test_tiny_demo_runs_every_stage_through_compress_then_skips_them(tmp_path, monkeypatch, caplog):
    bert = write_tiny_bert(tmp_path / "bert")
    source = tmp_path / "all.tsv"
    source.write_text("".join(f"{label}\t{text}\n" for label, text in toy_examples(120, lang="zh")), encoding="utf-8")
    work = tmp_path / "work"
    monkeypatch.setattr(stages, "execute", in_process)
    argv = ["--tiny", "--bert_model", bert, "--source", str(source), "--data_dir", str(tmp_path / "data"),
            "--work_dir", str(work), "--max_train_examples", "48", "--max_seq_length", "64"]
    run_demo.main(argv)

    report = json.loads((work / "compressed" / "report.json").read_text())
    assert [r["name"] for r in report["candidates"]] == ["bilstm_gold", "bilstm", "tinybert1"]
    assert report["pick"] in ("bilstm_gold", "bilstm", "tinybert1")
    assert (work / "compressed" / "pareto.png").stat().st_size > 0
    assert (work / "compressed" / "export" / "model_quantized.onnx").exists()
    assert (work / "compressed" / "data" / "data" / "train_aug.tsv").exists()  # TinyBERT's augmentation ran
    for model in ("bilstm_gold", "bilstm", "tinybert1"):
        assert {"curves.png", "README.md"} <= set(os.listdir(work / "compressed" / model))
    assert "the choice: " in caplog.text

    caplog.clear()
    run_demo.main(argv)  # a rerun finds every stage done
    assert caplog.text.count("exists, skipped") == 3  # the data, the teacher, compress


def test_failing_stage_stops_the_demo_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(stages, "execute", lambda script, flags: 1)
    with pytest.raises(SystemExit, match="stage 'prepare data' failed"):
        run_demo.main(["--tiny", "--work_dir", str(tmp_path / "w"), "--data_dir", str(tmp_path / "d")])
    assert not os.path.exists(tmp_path / "w" / "compressed")


def test_pretraining_stages_come_before_the_teacher_and_feed_it():
    args = run_demo.parse_args(["--pretrain_lines", "2000", "--work_dir", "w"])
    names = [stage.name for stage in run_demo.stages(args)]
    assert names[:4] == ["prepare data", "Chinese corpus", "masked-LM pretraining", "BERT teacher"]
    teacher_cmd = run_demo.stages(args)[3].flags
    assert teacher_cmd[teacher_cmd.index("--bert_model") + 1] == os.path.join("w", "minilm_zh")
    assert "masked-LM pretraining" not in [stage.name for stage in run_demo.stages(run_demo.parse_args([]))]


def augmentation_model(argv):
    cmd = {stage.name: stage.flags for stage in run_demo.stages(run_demo.parse_args(argv))}["compress"]
    return cmd[cmd.index("--augment_model") + 1]


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
        cmd = {stage.name: stage.flags for stage in run_demo.stages(run_demo.parse_args(argv))}["BERT teacher"]
        return {flag: cmd[cmd.index(flag) + 1] for flag in ("--num_train_epochs", "--max_seq_length")}

    assert teacher_flags([]) == {"--num_train_epochs": "1", "--max_seq_length": "128"}
    assert teacher_flags(["--teacher_epochs", "3", "--max_seq_length", "64"]) == {
        "--num_train_epochs": "3", "--max_seq_length": "64"}
    assert teacher_flags(["--tiny", "--teacher_epochs", "3"])["--num_train_epochs"] == "1"
