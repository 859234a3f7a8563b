import json

import joblib
import numpy as np
import pytest

from src import linear_teacher
from src.data.reading import load_split
from src.modeling.linear import jieba_words, linear_log_probs, load_linear, words_vectorizer
from tests.tiny import write_toy_data, write_toy_pairs


def test_linear_teacher_learns_the_toy_task_and_writes_its_directory(toy_data, tmp_path, capsys):
    out = tmp_path / "linear"
    linear_teacher.main(["--data_dir", toy_data, "--output_dir", str(out), "--C_grid", "0.5,8"])
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config == {"model_type": "linear_tfidf", "labels": ["0", "1"], "text_pair": False, "words": "default"}
    assert metrics["test"]["accuracy"] >= 0.9 and set(metrics["dev_by_C"]) == {"0.5", "8.0"}
    assert metrics["dev"]["accuracy"] == max(metrics["dev_by_C"].values())  # the chosen C is the best on dev
    assert capsys.readouterr().out.startswith("done: linear teacher")
    # its "logits" are log-probabilities: a column per label id, summing to one in probability
    pipeline = joblib.load(out / "model.joblib")
    texts, _, _ = load_split(toy_data, "test")
    log_p = linear_log_probs(pipeline, texts, batch_size=3)  # in chunks
    assert log_p.shape == (len(texts), 2)
    np.testing.assert_allclose(np.exp(log_p).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(log_p, pipeline.predict_log_proba(texts))
    assert (log_p[:, 1] > log_p[:, 0]).tolist() == ["good" in t for t in texts]


def test_chinese_words_come_from_jieba_and_the_file_names_no_module_of_ours(tmp_path):
    data = write_toy_data(tmp_path / "zh", lang="zh")
    linear_teacher.main(["--data_dir", data, "--output_dir", str(tmp_path / "linear")])
    metrics = json.loads((tmp_path / "linear" / "metrics.json").read_text())
    assert metrics["chinese_words"] and metrics["test"]["accuracy"] >= 0.9
    # the splitter is kept by name, not pickled: moving the project's modules cannot break the file
    assert json.loads((tmp_path / "linear" / "config.json").read_text())["words"] == "jieba"
    assert b"src." not in (tmp_path / "linear" / "model.joblib").read_bytes()
    pipeline, labels = load_linear(str(tmp_path / "linear"))
    texts, _, _ = load_split(data, "test")
    assert labels == ["0", "1"] and pipeline.score(texts, [int(y) for y in load_split(data, "test")[1]]) >= 0.9
    assert words_vectorizer(pipeline).tokenizer is jieba_words


def test_pairs_and_scores_are_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: \S+ holds sentence pairs: the linear teacher reads single texts$"):
        linear_teacher.main(["--data_dir", write_toy_pairs(tmp_path / "p"), "--output_dir", str(tmp_path / "a")])
    scores = tmp_path / "s"
    scores.mkdir()
    for split in ("train", "dev", "test"):
        (scores / f"{split}.tsv").write_text("label\tsentence\n0.5\ta good film\n3.25\ta bad plot\n1.0\tit is\n")
    with pytest.raises(SystemExit, match=r"^error: \S+ holds scores: the linear teacher is a classifier$"):
        linear_teacher.main(["--data_dir", str(scores), "--output_dir", str(tmp_path / "b")])
    with pytest.raises(SystemExit, match=r"^error: --C_grid takes comma-separated positive numbers"):
        linear_teacher.main(["--data_dir", str(scores), "--output_dir", str(tmp_path / "c"), "--C_grid", "0,1"])
