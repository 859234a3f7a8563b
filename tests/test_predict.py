"""src/predict.py on tiny random models: rows aligned with the input, probabilities, labels equal to the
argmax of the PyTorch logits, --eval against a hand count, the output formats, and bad input."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from src import predict
from src.modeling.bert import load_classifier, load_tokenizer, predict_logits
from src.modeling.bilstm import (
    BiLSTMClassifier,
    BiLSTMConfig,
    StudentTokenizer,
    bilstm_logits,
    build_vocab,
    load_student,
    save_student,
    token_counts,
)
from src.train.evaluation import paired_comparison
from tests.tiny import script_env, toy_examples, write_tiny_bert

LABELS = ["0", "1"]
TEXTS = ["the movie was good", "", "bad film , bad plot", "   ", "这个故事很好", "it is very bad", ""]


def write_tiny_bilstm(path, seed=0, pair=False, max_words=16) -> str:
    """A BiLSTM student directory (whitespace words of the toy data, `max_words` at most; siamese with `pair`)
    with random weights."""
    torch.manual_seed(seed)
    vocab = build_vocab(token_counts("whitespace", [text for _, text in toy_examples(64)])[0])
    model = BiLSTMClassifier(BiLSTMConfig(len(vocab), len(LABELS), embedding_dim=16, hidden_size=8, fc_dim=8,
                                          pair=pair))
    save_student(path, model, StudentTokenizer("whitespace", vocab, max_words), LABELS)
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"bilstm": write_tiny_bilstm(root / "bilstm"), "bert": write_tiny_bert(root / "bert", labels=LABELS)}


def pytorch_logits(model_dir: str, texts: list[str]) -> np.ndarray:
    """The model's own forward (not the serving path), for reference."""
    if os.path.isfile(os.path.join(model_dir, "model.pt")):
        model, tokenizer, _ = load_student(model_dir)
        return bilstm_logits(model, tokenizer.encode(texts)).numpy()
    return predict_logits(load_classifier(model_dir), load_tokenizer(model_dir), texts, show_progress=False).numpy()


def read_tsv(path) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def expect_error(argv, pattern: str) -> str:
    """main(argv) must stop with one `error: ...` line matching `pattern`."""
    with pytest.raises(SystemExit) as exc:
        predict.main(argv)
    message = str(exc.value.code)
    assert message.startswith("error: ") and "\n" not in message and pattern in message, message
    return message


@pytest.mark.parametrize("kind", ["bilstm", "bert"])
def test_one_row_per_line_blanks_kept_labels_are_the_argmax(models, kind, tmp_path):
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    predict.main(["--model", models[kind], "--input", str(tmp_path / "texts.txt"), "--output",
                  str(tmp_path / "preds.tsv"), "--batch_size", "2"])
    header, *rows = read_tsv(tmp_path / "preds.tsv")
    assert header == ["label", "p_0", "p_1", "text"]
    assert len(rows) == len(TEXTS)
    nonblank = [i for i, t in enumerate(TEXTS) if t.strip()]
    assert all(rows[i] == ["", "", "", ""] for i in range(len(TEXTS)) if i not in nonblank)
    assert [rows[i][3] for i in nonblank] == [TEXTS[i].strip() for i in nonblank]
    probs = np.array([[float(x) for x in rows[i][1:3]] for i in nonblank])
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    logits = pytorch_logits(models[kind], [TEXTS[i] for i in nonblank])
    assert [rows[i][0] for i in nonblank] == [LABELS[j] for j in logits.argmax(1)]
    np.testing.assert_allclose(probs, torch.softmax(torch.from_numpy(logits), -1).numpy(), atol=2e-6)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_rows_stay_aligned_with_odd_line_breaks_and_unusable_rows(models, tmp_path):
    texts = tmp_path / "texts.txt"  # U+2028 and a form feed inside texts are no line breaks
    texts.write_text("good film\nbad\u2028plot\nfine\x0cmusic\nlast\n", encoding="utf-8")
    predict.main(["--model", models["bilstm"], "--input", str(texts), "--output", str(tmp_path / "a.tsv")])
    assert [row[3] for row in read_tsv(tmp_path / "a.tsv")[1:]] == ["good film", "bad plot", "fine music", "last"]
    rows = [f"{i % 2}\ttext number {i}" for i in range(200)]
    rows[50], rows[100] = "\ttext without a label", "1\t"  # kept as rows: a label-less text, an empty text
    data = tmp_path / "data.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    predict.main(["--model", models["bilstm"], "--input", str(data), "--output", str(tmp_path / "b.tsv")])
    out = read_tsv(tmp_path / "b.tsv")[1:]
    assert len(out) == 200 and out[50][3] == "text without a label" and out[100] == ["", "", "", ""]
    assert out[199][3] == "text number 199"
    expect_error(["--model", models["bilstm"], "--input", str(data), "--output", str(data)],
                 "never writes over what it reads")
    assert data.read_text(encoding="utf-8").count("\n") == 200  # the labelled input is untouched


def test_stdin_to_stdout(models, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("good\n\n坏 movie\n".encode())))
    predict.main(["--model", models["bilstm"], "--input", "-"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[2] == "\t\t\t" and lines[3].endswith("\t坏 movie")
    # stdin is decoded as a file is: the BOM dropped, GBK recognised, an unknown encoding one error line
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffgood\n".encode())))
    predict.main(["--model", models["bilstm"], "--input", "-"])
    assert capsys.readouterr().out.splitlines()[1].endswith("\tgood")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("坏电影\n".encode("gbk"))))
    expect_error(["--model", models["bilstm"], "--input", "-"], "(try --encoding gbk)")
    expect_error(["--model", models["bilstm"], "--input", "-", "--encoding", "nosuch"], "unknown encoding 'nosuch'")


def test_eval_equals_a_hand_count(models, tmp_path, capsys):
    examples = toy_examples(40, seed=3)
    data = tmp_path / "test.tsv"
    data.write_text("label\tsentence\n" + "".join(f"{label}\t{text}\n" for label, text in examples), encoding="utf-8")
    predict.main(["--model", models["bert"], "--input", str(data), "--eval"])
    header, _, values = (line.strip("|").split("|") for line in capsys.readouterr().out.strip().splitlines())
    table = {k.strip(): v.strip() for k, v in zip(header, values)}
    n, accuracy, macro_f1 = table["examples"], table["accuracy"], table["macro_f1"]

    gold = np.array([int(label) for label, _ in examples])
    pred = pytorch_logits(models["bert"], [text for _, text in examples]).argmax(1)
    f1 = []
    for c in (0, 1):
        tp = ((pred == c) & (gold == c)).sum()
        fp, fn = ((pred == c) & (gold != c)).sum(), ((pred != c) & (gold == c)).sum()
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    assert int(n) == 40
    assert float(accuracy) == pytest.approx((pred == gold).mean(), abs=1e-4)
    assert float(macro_f1) == pytest.approx(np.mean(f1), abs=1e-4)


def test_jsonl_output_and_structured_inputs(models, tmp_path):
    rows = [("1", "good , really good"), ("", ""), ("0", 'a "bad", bad film')]
    with open(tmp_path / "in.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps({"review": t, "label": label}) if t else ""
                                                 for label, t in rows) + "\n", encoding="utf-8")
    for name in ("in.csv", "in.jsonl"):
        out = tmp_path / f"{name}.out.jsonl"
        predict.main(["--model", models["bilstm"], "--input", str(tmp_path / name), "--output", str(out)])
        objs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        # a data file is read as every stage reads one: an empty row is a malformed line, skipped and counted
        assert [o["text"] for o in objs] == [t for _, t in rows if t]
        for o in objs:
            assert list(o["probs"]) == LABELS and sum(o["probs"].values()) == pytest.approx(1, abs=1e-9)
            assert o["label"] == max(o["probs"], key=o["probs"].get)


def test_bad_input_is_one_error_line(models, tmp_path):
    out = tmp_path / "out" / "preds.tsv"
    texts = tmp_path / "texts.txt"
    texts.write_text("good\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("très bon\n".encode("latin-1"))
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "labelled.tsv").write_text("label\ttext\n1\tgood\n7\tbad\n", encoding="utf-8")
    model = models["bilstm"]
    cases = [(["--model", str(tmp_path / "missing"), "--input", str(texts)], "does not exist"),
             (["--model", str(tmp_path / "empty_dir"), "--input", str(texts)], "is neither a BiLSTM"),
             (["--model", model, "--input", str(tmp_path / "nope.txt")], "input file"),
             (["--model", model, "--input", str(tmp_path / "latin1.txt")], "is not UTF-8"),
             (["--model", model, "--input", str(texts), "--output", str(tmp_path / "out" / "preds.csv")],
              "unknown format"),
             (["--model", model, "--input", str(tmp_path / "labelled.tsv"), "--eval"], "['7']"),
             (["--model", model, "--input", str(texts), "--eval"], "no label column"),
             (["--model", model, "--input", str(texts), "--output", os.path.join(model, "preds.tsv")],
              "lies inside --model")]
    for argv, pattern in cases:
        expect_error([*argv, "--output", str(out)] if "--output" not in argv else argv, pattern)
    assert not out.parent.exists() and not os.path.exists(os.path.join(model, "preds.tsv"))


def test_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "src/predict.py", "--model", str(tmp_path / "missing"), "--input", "-"],
                            input="good\n", capture_output=True, text=True, timeout=120,
                            env=script_env())
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: model directory {tmp_path / 'missing'} does not exist"]


def test_paired_comparison_by_hand():
    # A right and B wrong on 1 example, B right and A wrong on 7, both right on 2: p = 2 P(X <= 1 | n = 8,
    # 1/2) = 2 (1 + 8) / 256; the bootstrap interval of acc_B - acc_A = 0.6 is around it, within [-1, 1].
    y = np.ones(10, dtype=int)
    pred_A, pred_B = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1, 1]), np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    r = paired_comparison(y, pred_A, pred_B, resamples=2000)
    assert (r["A_only"], r["B_only"], r["accuracy_A"], r["accuracy_B"], r["agreement"]) == (1, 7, 0.3, 0.9, 0.2)
    assert r["mcnemar_p"] == pytest.approx(18 / 256)
    assert 0 < r["diff_95"][0] < 0.6 < r["diff_95"][1] <= 1
    same = paired_comparison(y, pred_A, pred_A)
    assert (same["A_only"], same["B_only"], same["mcnemar_p"], same["diff_95"], same["agreement"]) == \
        (0, 0, 1.0, [0.0, 0.0], 1.0)


def test_paired_test_script_compares_with_the_reference(models, tmp_path):
    examples = toy_examples(40, seed=5)
    data = tmp_path / "test.tsv"
    data.write_text("label\tsentence\n" + "".join(f"{label}\t{text}\n" for label, text in examples), encoding="utf-8")
    out = tmp_path / "logs" / "paired.json"  # a directory that does not exist yet
    run = subprocess.run([sys.executable, "bench/paired_test.py", "--data", str(data), "--reference", models["bert"],
                          "--models", models["bilstm"], models["bert"], "--output", str(out), "--threads", "1"],
                         capture_output=True, text=True, env=script_env())
    assert run.returncode == 0, run.stderr
    gold = np.array([int(label) for label, _ in examples])
    texts = [text for _, text in examples]
    want = paired_comparison(gold, pytorch_logits(models["bert"], texts).argmax(1),
                             pytorch_logits(models["bilstm"], texts).argmax(1))
    got = json.loads(out.read_text())["comparisons"]
    assert got[models["bilstm"]] == want
    assert got[models["bert"]]["A_only"] == got[models["bert"]]["B_only"] == 0  # a model against itself
    assert "| bilstm |" in run.stdout


@pytest.fixture(scope="module")
def pair_models(tmp_path_factory):
    """A pair BiLSTM and a pair BERT (random weights), each recording `text_pair` in its config as training does."""
    root = tmp_path_factory.mktemp("pair_models")
    write_tiny_bilstm(root / "bilstm", pair=True)
    bert = write_tiny_bert(root / "bert", labels=LABELS)
    config = json.loads((root / "bert" / "config.json").read_text())
    (root / "bert" / "config.json").write_text(json.dumps({**config, "text_pair": True}))
    return {"bilstm": str(root / "bilstm"), "bert": bert}


@pytest.mark.parametrize("kind", ["bilstm", "bert"])
def test_single_texts_to_a_pair_model_are_refused_at_their_line(pair_models, kind, tmp_path, monkeypatch):
    """A .txt or stdin line without its second text is refused, naming the line, never labelled as an empty row;
    a file of pairs labels every row; a mixed data file is refused, not half-labelled; blank lines stay rows."""
    model = pair_models[kind]
    (tmp_path / "single.txt").write_text("the movie\tit was good\n\nbad plot\n")
    expect_error(["--model", model, "--input", str(tmp_path / "single.txt")],
                 "single.txt line 3 holds a single text, but")
    (tmp_path / "three.txt").write_text("the movie\tit was\tgood\n")
    expect_error(["--model", model, "--input", str(tmp_path / "three.txt")], "three.txt line 1 holds 3 tab-separated")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"good film\n")))
    expect_error(["--model", model, "--input", "-"], "stdin line 1 holds a single text, but")
    (tmp_path / "mixed.tsv").write_text("text_a\ttext_b\nthe movie\tgood\nbad plot\t\n")
    expect_error(["--model", model, "--input", str(tmp_path / "mixed.tsv")],
                 "mixed.tsv:3: the pair's second text is missing")
    (tmp_path / "pairs.txt").write_text("the movie\tit was good\n\nbad plot\tthe film\n")
    predict.main(["--model", model, "--input", str(tmp_path / "pairs.txt"), "--output", str(tmp_path / "p.tsv")])
    rows = read_tsv(tmp_path / "p.tsv")[1:]
    assert [row[0] != "" for row in rows] == [True, False, True]  # the blank line is the one empty row


def test_pairs_to_a_single_text_model_and_empty_input_are_refused(models, tmp_path):
    (tmp_path / "pairs.txt").write_text("the movie was good\nthe movie\tit was good\n")
    expect_error(["--model", models["bilstm"], "--input", str(tmp_path / "pairs.txt")],
                 "pairs.txt line 2 holds two tab-separated texts, but")
    (tmp_path / "empty.txt").write_text("")
    expect_error(["--model", models["bilstm"], "--input", str(tmp_path / "empty.txt")], "empty.txt is empty")
    (tmp_path / "blank.txt").write_text("\n  \n")
    expect_error(["--model", models["bert"], "--input", str(tmp_path / "blank.txt")],
                 "blank.txt holds no text to label (2 blank rows)")


def test_chinese_prediction_prints_no_jieba_start_up_lines():
    """jieba logs four lines when its dictionary loads; a stage's stderr keeps only its own lines."""
    model = os.path.join(os.path.dirname(__file__), "fixtures", "saved_models", "linear_zh")
    done = subprocess.run([sys.executable, "src/predict.py", "--model", model, "--input", "-"], input="好电影\n",
                          capture_output=True, text=True, env=script_env(), check=True)
    assert "prefix dict" not in done.stderr and "Loading model" not in done.stderr, done.stderr
    assert done.stdout.splitlines()[1].endswith("\t好电影")
