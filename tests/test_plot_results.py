import json
import os

import pytest

from src.plot_results import collect_rows, main, pareto_front


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
    assert (tmp_path / "fig" / "img.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
