"""compress.py end to end on tiny models: plan, run, pick, export, report; a rerun; the bad inputs it refuses."""

import json
import os

import pytest
import torch

from src import compress
from src.common.cli import InputError
from src.distill_task_specific_bert import bert_classification
from src.runs import stages
from src.runs.plan import bilstm_estimate, tinybert_estimate
from src.runs.selection import pareto_figure, pick
from tests.tiny import in_process, write_tiny_bert, write_toy_data


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    """A tiny 4-layer BERT fine-tuned on the toy task, and the toy data (the test split a different size)."""
    root = tmp_path_factory.mktemp("compress")
    data = write_toy_data(root / "toy", n_train=64, n_dev=32, n_test=24)
    bert_classification.main(["--data_dir", data, "--bert_model", write_tiny_bert(root / "bert", num_layers=4),
                              "--output_dir", str(root / "teacher"), "--num_train_epochs", "6",
                              "--learning_rate", "3e-3", "--train_batch_size", "8", "--max_seq_length", "32",
                              "--warmup_proportion", "0", "--no_cuda"])
    return str(root / "teacher"), data


TINY = ["--speed_texts", "16", "--speed_repeats", "1", "--bilstm_epochs", "3", "--growth", "1",
        "--stage2_epochs", "2"]


def test_compress_plans_runs_picks_exports_and_reports_then_skips_on_rerun(teacher_and_data, tmp_path, monkeypatch,
                                                                            capsys, caplog):
    teacher, data = teacher_and_data
    out = tmp_path / "c"
    monkeypatch.setattr(stages, "execute", in_process)
    seen = []
    real_load_split = compress.load_split
    monkeypatch.setattr(compress, "load_split", lambda d, split, *a, **k: seen.append(split) or
                        real_load_split(d, split, *a, **k))
    argv = ["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(out), "--keep", "0.5", *TINY]
    compress.main(argv)
    printed = capsys.readouterr().out

    # the plan came first, with an estimate per candidate; the teacher's 4 layers leave tinybert3 out
    assert printed.index("Plan:") < printed.index("done: compress")
    assert "| bilstm |" in printed and "| tinybert2 |" in printed and "| tinybert3 |" not in printed
    assert "tinybert3 left out" in caplog.text
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["candidates"]] == ["bilstm", "tinybert2"]
    for r in report["candidates"]:
        assert 0 < r["dev"] <= 1 and r["share"] == pytest.approx(r["dev"] / report["teacher_dev"])
        assert r["speedup_batch_64"] > 0 and r["onnx_speedup_batch_64"] > 0 and r["estimate_s"] > 0
        assert r["seconds"] > 0
    # the pick: the fastest candidate keeping half the teacher's dev score; only it met the test set
    kept = [r for r in report["candidates"] if r["share"] >= 0.5]
    assert report["pick"] == max(kept, key=lambda r: r["speedup_batch_64"])["name"] and report["kept"]
    assert seen.count("test") == 1
    assert 0 < report["test"]["student"] <= 1
    view = out / "data" / "toy"
    assert os.path.realpath(view / "test.tsv") == os.path.realpath(os.path.join(data, "dev.tsv"))
    # shipped: the ONNX export with its int8 twin and a model card naming the choice; the report and figure
    export = out / "export"
    assert {"model.onnx", "model_quantized.onnx", "README.md", "export.json"} <= set(os.listdir(export))
    assert "## How compress.py chose it" in (export / "README.md").read_text()
    assert f"**{report['pick']}** (pick)" in (out / "report.md").read_text()
    assert (out / "pareto.png").stat().st_size > 0
    assert printed.strip().splitlines()[-1].startswith(f"done: compress: picked {report['pick']}")

    caplog.clear()
    compress.main(argv)  # a rerun finds every stage done and ends with the same pick
    assert caplog.text.count("exists, skipped") == 3  # bilstm, tinybert2's two stages (the export is redone)
    assert json.loads((out / "report.json").read_text())["pick"] == report["pick"]


def test_dry_run_prints_the_plan_and_runs_nothing(teacher_and_data, tmp_path, capsys, monkeypatch, caplog):
    teacher, data = teacher_and_data
    monkeypatch.setattr(stages, "execute", lambda *a: pytest.fail("a stage ran"))
    monkeypatch.setattr(os, "getloadavg", lambda: (os.cpu_count(), 0.0, 0.0))  # every core busy elsewhere
    compress.main(["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(tmp_path / "c"), "--dry_run",
                   "--students", "bilstm"])
    printed = capsys.readouterr().out
    assert "| bilstm |" in printed and "distill.py" in printed and "| total |" in printed
    assert "--augment mask,ngram " in printed  # English: no offline POS tagger, so no POS-guided replacement
    assert "the machine is busy" in caplog.text
    assert not (tmp_path / "c").exists()


def test_time_budget_shrinks_the_plan_or_names_what_fits():
    facts = {"train": 1000, "unlabeled": 0, "new_draws": 1.0, "pairs": False, "cjk": False, "teacher_layers": 6,
             "teacher_hidden": 384, "max_seq_length": 64, "do_lower_case": False}
    args = compress.parse_args(["--data_dir", "d", "--teacher_model", "t"])
    full = compress.make_plan(args, facts, "v", 1.0, 1.0)
    args.time_budget = 0.8 * sum(c["estimate"].seconds for c in full) / 60
    shrunk = compress.fit_budget(args, facts, "v", 1.0)
    assert sum(c["estimate"].seconds for c in shrunk) <= 60 * args.time_budget
    assert shrunk[0]["settings"]["epochs"] < full[0]["settings"]["epochs"]  # the BiLSTM: 5 epochs -> fewer
    assert shrunk[0]["settings"]["growth"] < full[0]["settings"]["growth"] == 4  # and fewer augmented copies
    args.time_budget = 0.75
    with pytest.raises(InputError, match=r"--time_budget 0.75 min is too small .*: only bilstm would fit "
                                         r"\(--students bilstm\); or give --time_budget \d+"):
        compress.fit_budget(args, facts, "v", 1.0)


@pytest.mark.parametrize("flags, message", [
    (["--keep", "0"], "--keep: must be above 0"),
    (["--keep", "1.5"], "--keep: must be at most 1"),
    (["--students", "bilstm,lstm"], "unknown candidate.s. lstm"),
    (["--students", "narrow"], "needs --general_student"),
])
def test_bad_flags_are_one_line(teacher_and_data, tmp_path, flags, message):
    teacher, data = teacher_and_data
    with pytest.raises(SystemExit, match=message):
        compress.main(["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(tmp_path / "c"), *flags])


def test_a_teacher_of_other_labels_and_someone_elses_directory_are_refused(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    other = write_tiny_bert(tmp_path / "other", labels=["neg", "pos"])
    with pytest.raises(SystemExit, match=r"--teacher_model .*other does not fit --data_dir .*not in the training "
                                         r"label set \['neg', 'pos'\]"):
        compress.main(["--data_dir", data, "--teacher_model", other, "--output_dir", str(tmp_path / "c")])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="holds files that are not a compress.py run"):
        compress.main(["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(busy)])
    assert (busy / "notes.txt").read_text() == "mine"


def test_pick_takes_the_fastest_that_keeps_enough_else_the_best():
    rows = [{"name": "a", "dev": 0.90, "share": 0.99, "gain_share": 0.95, "speedup_batch_64": 2.0},
            {"name": "b", "dev": 0.88, "share": 0.97, "gain_share": 0.90, "speedup_batch_64": 40.0},
            {"name": "c", "dev": 0.80, "share": 0.88, "gain_share": 0.60, "speedup_batch_64": 60.0}]
    assert pick(rows, 0.97) == (rows[1], True)
    assert pick(rows, 0.98) == (rows[0], True)
    assert pick(rows, 0.92, by="gain_share") == (rows[0], True)
    assert pick(rows, 0.995) == (rows[0], False)  # none keeps 99.5 %: the best, said so


def test_the_figure_plots_the_share_the_pick_was_made_by(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr("matplotlib.axes.Axes.scatter", lambda ax, x, y, **kw: drawn.append((kw["label"], x, y)))
    rows = [{"name": "a", "speedup_batch_64": 50.0, "share": 0.99, "gain_share": 0.95},
            {"name": "b", "speedup_batch_64": 2.0, "share": 1.0, "gain_share": None}]  # no gain share: left out
    pareto_figure(rows, "a", 0.9, str(tmp_path / "p.png"), "t", by="gain_share")
    assert drawn == [("teacher", 1.0, 100.0), ("a (pick)", 50.0, 95.0)] and (tmp_path / "p.png").is_file()


def test_estimates_follow_the_reference_pace():
    # 10,000 transfer examples, 10 epochs, on a machine twice as slow: (8.76 + 10 x 1.78) s per 1,000 x 10 x 2 + start
    assert bilstm_estimate(10_000, 10, 2.0).seconds == pytest.approx(20 + 10 * (8.76 + 17.8) * 2)
    assert bilstm_estimate(10_000, 10, 2.0).transfer_examples == 10_000
    # a BiLSTM of 128-wide embeddings and 100 units: 4 x 100 x 228 multiply-adds a step against 4 x 150 x 450
    assert bilstm_estimate(10_000, 10, 2.0, (128, 100)).seconds == pytest.approx(
        20 + 10 * (8.76 + 17.8 * 91_200 / 270_000) * 2)
    three, two = (tinybert_estimate(1000, k, 6, (1, 3), 1.0).seconds for k in (3, 2))
    assert three == pytest.approx(40 + 25.05 + 8.76 + 3 * 16.6)  # stage 1 as measured with 3 layers
    assert 40 < two < three


def test_the_transfer_set_counts_unlabeled_texts_and_only_new_draws():
    facts = {"train": 1000, "unlabeled": 500, "pairs": False, "new_draws": 0.5}
    assert compress.bilstm_transfer(facts, 4) == 1500 + 1500 * 4 // 2
    assert compress.bilstm_transfer({**facts, "pairs": True}, 4) == 1500 + 4000  # new pairs from training pairs
    assert compress.bilstm_transfer(facts, 0) == 1500
    # augmentation only while the training and unlabeled texts together stay below 50,000
    args = compress.parse_args(["--data_dir", "d", "--teacher_model", "t"])
    assert compress.bilstm_settings(args, facts, "bilstm", 1.0) == {"epochs": 5, "growth": 4}
    assert compress.bilstm_settings(args, {**facts, "unlabeled": 49_000}, "bilstm", 1.0) == {"epochs": 10, "growth": 0}
    # two-word texts repeat under masking and n-gram draws; long ones hardly ever do
    short = ["good film", "bad film", "fine plot", "dull plot"] * 25
    long = [" ".join(f"w{i * 37 + j}" for j in range(30)) for i in range(100)]
    assert compress.new_draw_share(short, cjk=False) < 0.5 < 0.9 < compress.new_draw_share(long, cjk=False) <= 1


def test_a_rerun_after_a_kill_continues_the_candidate_and_ends_with_the_same_pick(teacher_and_data, tmp_path,
                                                                                    monkeypatch, caplog):
    teacher, data = teacher_and_data
    monkeypatch.setattr(stages, "execute", in_process)

    def run(out):
        compress.main(["--data_dir", data, "--teacher_model", teacher, "--output_dir", str(out), "--students",
                       "bilstm", *TINY])
        return json.loads((out / "report.json").read_text())

    whole = run(tmp_path / "whole")
    real_step, steps = torch.optim.Adam.step, []

    def step_then_die(self, *args, **kwargs):  # Ctrl-C at the 4th step, after epoch 1's checkpoint
        steps.append(1)
        if len(steps) == 4:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step_then_die)
    with pytest.raises(SystemExit, match="stage 'bilstm' was interrupted; rerun the same command to continue it"):
        run(tmp_path / "killed")
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    assert not (tmp_path / "killed" / "bilstm").exists()
    caplog.clear()
    resumed = run(tmp_path / "killed")
    assert "an interrupted run, continued from its last checkpoint" in caplog.text
    assert resumed["pick"] == whole["pick"] == "bilstm"
    assert resumed["candidates"][0]["dev"] == whole["candidates"][0]["dev"]
    assert resumed["test"] == whole["test"]
