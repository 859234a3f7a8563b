import json
import os

import pytest

from src.plot_results import collect_rows, main
from src.runs.curves import draw_curves
from src.runs.selection import pareto_front

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_metrics(run_dir, name, metrics):
    os.makedirs(run_dir / name)
    (run_dir / name / "metrics.json").write_text(json.dumps(metrics))


def scores(acc):
    return {"accuracy": acc, "macro_f1": acc - 0.01}


def test_rows_table_and_figure_from_metrics_files(tmp_path):
    run = tmp_path / "run"
    write_metrics(run, "teacher", {"model": "/x/MiniLM", "data_dir": "data/sst2", "num_params": 22_700_000,
                                   "dev": scores(0.9), "test": scores(0.8)})
    speed = {"speedup_batch_64": 40.0, "speedup_batch_1": 12.5, "student": {"batch_64": {"examples_per_s": 5200.0}}}
    write_metrics(run, "bilstm", {"num_params": 1_000_000, "dev": scores(0.85), "test": scores(0.76),
                                  "speed": speed, "threads": 2})
    write_metrics(run, "tinybert_stage1", {"num_params": 5})  # no test score: left out

    rows, _ = collect_rows(str(run))
    assert [r["model"] for r in rows] == ["teacher", "bilstm"]
    assert rows[1]["pct_of_teacher"] == pytest.approx(95.0)
    assert rows[1]["speedup_batch_64"] == 40.0 and rows[0]["speedup_batch_64"] == 1.0

    main(["--run_dir", str(run), "--output", str(tmp_path / "fig" / "img.png"), "--results_dir", str(tmp_path / "res")])
    assert (tmp_path / "fig" / "img.png").read_bytes()[:8] == PNG_SIGNATURE
    table = (tmp_path / "res" / "results.md").read_text()
    assert "| bilstm | 1.00M | 85.0 | 76.0 | 75.0 | 95.0 | 40.0x | 12.5x |" in table
    assert json.loads((tmp_path / "res" / "results.json").read_text())[0]["model"] == "teacher"


def test_missing_teacher_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no teacher metrics"):
        main(["--run_dir", str(tmp_path)])


def test_pareto_front_keeps_the_models_nothing_beats():
    def row(name, acc, speedup):
        return {"model": name, "test_accuracy": acc, "speedup_batch_64": speedup}

    rows = [row("teacher", 0.86, 1.0), row("tiny", 0.84, 2.0), row("dominated", 0.80, 1.5),
            row("bilstm", 0.82, 60.0), row("worse_bilstm", 0.81, 50.0), row("untimed", 0.99, None)]
    assert [r["model"] for r in pareto_front(rows)] == ["bilstm", "tiny", "teacher"]


# history entries as the engine writes them: evaluations between epochs, and each epoch's mean losses (and dev)
CLASSIFIER = {"main_metric": "f1", "dev": {"f1": 0.8, "accuracy": 0.82, "epoch": 1, "step": 20}, "history": [
    {"epoch": 1, "step": 10, "dev_f1": 0.7, "dev_accuracy": 0.75},
    {"epoch": 1, "step": 20, "train_loss": 0.6, "dev_f1": 0.8, "dev_accuracy": 0.82},
    {"epoch": 2, "step": 40, "train_loss": 0.4, "dev_f1": 0.78, "dev_accuracy": 0.8}]}
STAGE1 = {"history": [  # TinyBERT stage 1 and general distillation: loss terms, no dev
    {"epoch": e, "step": 100 * e, "train_loss": 3.0 / e, "train_loss_attn": 2.0 / e, "train_loss_hidn": 0.7 / e,
     "train_loss_embd": 0.3 / e} for e in (1, 2, 3)]}


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000  # a drawn figure, not an empty file


@pytest.mark.parametrize("metrics", [CLASSIFIER, STAGE1], ids=["with_dev", "losses_only"])
def test_draw_curves_writes_a_png(tmp_path, metrics):
    draw_curves(metrics, str(tmp_path / "curves.png"))
    assert_png(tmp_path / "curves.png")


def test_curves_overlay_of_two_run_dirs(tmp_path):
    write_metrics(tmp_path, "bilstm_baseline", CLASSIFIER)
    write_metrics(tmp_path, "tinybert_stage1", STAGE1)
    main(["--curves", str(tmp_path / "bilstm_baseline"), str(tmp_path / "tinybert_stage1"),
          "--output", str(tmp_path / "fig" / "both.png")])
    assert_png(tmp_path / "fig" / "both.png")


def test_curves_needs_finished_runs_and_an_output(tmp_path):
    with pytest.raises(SystemExit, match="--curves needs --output"):
        main(["--curves", str(tmp_path)])
    with pytest.raises(SystemExit, match="not a finished run directory"):
        main(["--curves", str(tmp_path), "--output", str(tmp_path / "x.png")])
