"""src/export.py on tiny random models: the padded BiLSTM equals the packed one, the ONNX graphs give the
PyTorch logits (fp32 within 1e-4, int8 loosely), src/predict.py runs both layouts (an export directory, and
several `--output` exports sharing one folder), bad outputs are refused and a failed export changes nothing."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from src import export, predict
from src.common.files import load_json
from src.distill_task_specific_bert import bert_classification
from src.modeling.bert import load_tokenizer
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
from src.serve import onnx_export
from src.serve.onnx_export import PaddedBiLSTM
from src.serve.predictors import onnx_predictor
from tests.test_predict import LABELS, pytorch_logits, read_tsv, write_tiny_bilstm
from tests.tiny import toy_examples, write_tiny_bert, write_toy_pairs

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

# other lengths and batch sizes than the texts the graph was traced with
TEXTS = ["good", "the movie was very good , and the story was quite bad but it was good .", "a bad film",
         "这个故事很好", "it is bad", "the plot", "music"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each tiny model directory and its --output_dir export with --int8."""
    root = tmp_path_factory.mktemp("export")
    (root / "check.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = {}
    for kind, model_dir in (("bilstm", write_tiny_bilstm(root / "bilstm")),
                            ("bert", write_tiny_bert(root / "bert", labels=LABELS))):
        out_dir = str(root / f"{kind}_onnx")
        export.main(["--model", model_dir, "--output_dir", out_dir, "--int8", "--check_texts", str(root / "check.txt")])
        out[kind] = (model_dir, out_dir)
    return out


def snapshot(path) -> dict:
    """Every file below the directory `path` with its bytes."""
    return {os.path.relpath(os.path.join(d, f), path): Path(d, f).read_bytes()
            for d, _, files in os.walk(path) for f in files}


def predicted_labels(model: str, texts_file, out) -> list[str]:
    """Labels src/predict.py gives the texts, one per row of its TSV (header first)."""
    predict.main(["--model", str(model), "--input", str(texts_file), "--output", str(out)])
    return [row[0] for row in read_tsv(out)]


def test_padded_bilstm_equals_packed_forward():
    torch.manual_seed(0)
    model = BiLSTMClassifier(BiLSTMConfig(vocab_size=50, num_labels=3, embedding_dim=12, hidden_size=7, fc_dim=9))
    model.eval()
    lengths = torch.tensor([9, 1, 4, 9, 6])
    ids = torch.randint(1, 50, (5, 9)) * (torch.arange(9)[None, :] < lengths[:, None])  # 0 after each length
    with torch.no_grad():
        diff = (PaddedBiLSTM(model).eval()(ids, lengths) - model(ids, lengths)).abs().max().item()
    assert diff < 1e-4


@pytest.mark.parametrize("kind", ["bilstm", "bert"])
def test_onnx_gives_the_pytorch_logits(exported, kind):
    model_dir, out_dir = exported[kind]
    assert {"config.json", "model.onnx", "model_quantized.onnx", "export.json"} <= set(os.listdir(out_dir))
    assert ("vocab.txt" if kind == "bilstm" else "tokenizer_config.json") in os.listdir(out_dir)
    report = load_json(os.path.join(out_dir, "export.json"))
    assert report["int8"] and report["int8_onnx"] == "model_quantized.onnx" and report["check_texts"] == len(TEXTS)
    assert report["max_abs_diff"] == report["checks"]["onnx_fp32"]["max_abs_diff"] < 1e-4
    assert report["checks"]["onnx_int8"]["max_abs_diff"] < 0.05

    reference = pytorch_logits(model_dir, TEXTS)
    fp32, labels = onnx_predictor(os.path.join(out_dir, "model.onnx"))
    int8, _ = onnx_predictor(os.path.join(out_dir, "model_quantized.onnx"))
    assert labels == LABELS
    for texts in (TEXTS, TEXTS[:1], TEXTS[2:5]):  # batches of 7, 1 and 3 rows
        rows = [TEXTS.index(t) for t in texts]
        assert np.abs(fp32(texts) - reference[rows]).max() < 1e-4
        assert np.abs(int8(texts) - reference[rows]).max() < 0.05


@pytest.mark.parametrize("kind", ["bilstm", "bert"])
def test_predict_on_the_onnx_gives_the_directory_labels(exported, kind, tmp_path):
    model_dir, out_dir = exported[kind]
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS[:3] + [""] + TEXTS[3:]) + "\n", encoding="utf-8")
    preds = {}
    for name, model in (("dir", model_dir), ("fp32", os.path.join(out_dir, "model.onnx")), ("export_dir", out_dir),
                        ("int8", os.path.join(out_dir, "model_quantized.onnx"))):
        out = str(tmp_path / f"{name}.tsv")
        predict.main(["--model", model, "--input", str(tmp_path / "texts.txt"), "--output", out])
        preds[name] = read_tsv(out)
    labels = {name: [row[0] for row in rows] for name, rows in preds.items()}
    assert len(labels["dir"]) == len(TEXTS) + 2 and labels["fp32"] == labels["export_dir"] == labels["dir"]
    probs = {name: np.array([[float(p) for p in row[1:3]] for row in rows[1:] if row[0]])
             for name, rows in preds.items()}
    np.testing.assert_allclose(probs["fp32"], probs["dir"], atol=2e-6)
    # int8 may flip a label whose two logits are closer than twice its error: compare the others
    margin = np.abs(np.diff(pytorch_logits(model_dir, TEXTS), axis=1))[:, 0]
    error = load_json(os.path.join(out_dir, "export.json"))["checks"]["onnx_int8"]["max_abs_diff"]
    clear = [i + (i >= 3) + 1 for i in range(len(TEXTS)) if margin[i] > 2 * error]  # tsv rows: header, blank line 4
    assert clear and [labels["int8"][r] for r in clear] == [labels["dir"][r] for r in clear]


def test_two_exports_share_a_folder(exported, tmp_path, capsys):
    """--output x.onnx and y.onnx in one folder: each graph reads its own side directory, and predicts."""
    shared = tmp_path / "exports"
    for name, kind, extra in (("x", "bilstm", ["--int8"]), ("y", "bert", [])):
        export.main(["--model", exported[kind][0], "--output", str(shared / f"{name}.onnx"), *extra])
        summary = capsys.readouterr().out.strip().splitlines()[-1]
        assert summary.startswith("done: ONNX export | max |logit difference| ")
        assert summary.endswith(f"-> {shared / name}.onnx") and ("int8 x_quantized.onnx: " in summary) == (name == "x")
    assert sorted(os.listdir(shared)) == ["x", "x.onnx", "x_quantized.onnx", "y", "y.onnx"]
    assert "vocab.txt" in os.listdir(shared / "x") and "tokenizer_config.json" in os.listdir(shared / "y")

    (tmp_path / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    for graph, kind in (("x.onnx", "bilstm"), ("x_quantized.onnx", "bilstm"), ("y.onnx", "bert")):
        labels = predicted_labels(shared / graph, tmp_path / "texts.txt", tmp_path / "preds.tsv")
        assert labels == predicted_labels(exported[kind][0], tmp_path / "texts.txt", tmp_path / "ref.tsv")


def test_eval_data_compares_accuracies(exported, tmp_path, capsys):
    model_dir, _ = exported["bilstm"]
    examples = toy_examples(30, seed=5)
    (tmp_path / "test.tsv").write_text("label\tsentence\n" + "".join(f"{y}\t{x}\n" for y, x in examples),
                                       encoding="utf-8")
    export.main(["--model", model_dir, "--output_dir", str(tmp_path / "onnx"), "--int8", "--eval_data", str(tmp_path)])
    report = load_json(tmp_path / "onnx" / "export.json")
    gold = np.array([int(y) for y, _ in examples])
    accuracy = (pytorch_logits(model_dir, [x for _, x in examples]).argmax(1) == gold).mean()
    assert report["eval"]["pytorch"]["accuracy"] == pytest.approx(accuracy)
    assert report["eval"]["onnx_fp32"]["accuracy"] == pytest.approx(accuracy)
    assert report["eval"]["onnx_int8"]["examples"] == 30
    out = capsys.readouterr().out
    assert "| onnx_int8 |" in out
    assert f"max |logit difference| {report['max_abs_diff']:.1e}, accuracy {accuracy:.4f} | " in out.splitlines()[-1]


def test_refused_outputs_leave_everything_as_it_was(exported, tmp_path):
    model_dir, out_dir = exported["bilstm"]
    bert_out_dir = exported["bert"][1]
    before = {path: snapshot(path) for path in (model_dir, out_dir, bert_out_dir)}
    taken = tmp_path / "f"
    taken.mkdir()
    (taken / "x.onnx").write_text("an earlier result")
    (taken / "y").mkdir()
    (taken / "y" / "keep.txt").write_text("an earlier result")
    cases = [(["--output_dir", bert_out_dir], "exists and is not empty"),  # another model's export
             (["--output_dir", os.path.join(model_dir, "onnx"), "--overwrite_output_dir"], "never writes over"),
             (["--output", model_dir + ".onnx", "--overwrite_output_dir"], "never writes over"),  # its side dir
             (["--output", str(taken / "x.onnx")], "exists (use --overwrite_output_dir"),
             (["--output", str(taken / "y.onnx")], "exists and is not empty"),
             (["--output", str(taken / "z_quantized.onnx")], "int8 graphs of --int8"),
             (["--output", str(tmp_path / "model.bin")], "ending in .onnx"),
             (["--output", str(taken / "z.onnx"), "--output_dir", str(tmp_path / "z")], "not allowed with"),
             ([], "one of the arguments --output_dir --output is required"),
             (["--output_dir", str(tmp_path / "z"), "--batch_size", "0"], "must be above 0"),
             (["--output_dir", str(tmp_path / "z"), "--opset", "5"], "must be at least 14")]
    for args, pattern in cases:
        with pytest.raises(SystemExit) as exc:
            export.main(["--model", model_dir, *args])
        message = str(exc.value.code)
        assert message.startswith("error: ") and "\n" not in message and pattern in message, message
    with pytest.raises(SystemExit, match="already an ONNX model"):
        export.main(["--model", out_dir, "--output_dir", str(tmp_path / "y")])
    assert {path: snapshot(path) for path in before} == before
    assert sorted(os.listdir(tmp_path)) == ["f"] and sorted(os.listdir(taken)) == ["x.onnx", "y"]


def test_predict_refuses_broken_exports(exported, tmp_path):
    (tmp_path / "texts.txt").write_text("good\n", encoding="utf-8")
    broken = tmp_path / "broken"
    shutil.copytree(exported["bilstm"][1], broken)
    (broken / "model.onnx").write_bytes(b"not a graph")
    for model in (broken, broken / "model.onnx"):
        with pytest.raises(SystemExit, match="^error: cannot load the ONNX model"):
            predict.main(["--model", str(model), "--input", str(tmp_path / "texts.txt")])
    (broken / "config.json").unlink()
    with pytest.raises(SystemExit, match="pass the file, e.g."):
        predict.main(["--model", str(broken), "--input", str(tmp_path / "texts.txt")])
    with pytest.raises(SystemExit, match="has no side files"):
        predict.main(["--model", str(broken / "model_quantized.onnx"), "--input", str(tmp_path / "texts.txt")])


def test_overwrite_replaces_an_export_only_when_it_succeeds(exported, tmp_path, monkeypatch):
    model_dir = exported["bilstm"][0]
    graph = str(tmp_path / "f" / "x.onnx")
    export.main(["--model", model_dir, "--output", graph, "--int8"])
    before = snapshot(tmp_path / "f")

    def fail(*args):
        raise RuntimeError("quantizer crashed")

    monkeypatch.setattr(onnx_export, "quantize_int8", fail)
    with pytest.raises(RuntimeError, match="quantizer crashed"):
        export.main(["--model", model_dir, "--output", graph, "--int8", "--overwrite_output_dir"])
    assert snapshot(tmp_path / "f") == before and sorted(os.listdir(tmp_path / "f")) == ["x", "x.onnx",
                                                                                         "x_quantized.onnx"]
    export.main(["--model", model_dir, "--output", graph, "--overwrite_output_dir"])
    assert sorted(os.listdir(tmp_path / "f")) == ["x", "x.onnx"]  # the earlier int8 graph went with its export
    assert not load_json(tmp_path / "f" / "x" / "export.json")["int8"]


def test_bilstm_on_teacher_word_pieces(exported, tmp_path):
    """A BiLSTM whose tokenizer is the teacher's: its tokenizer travels with the export."""
    teacher = load_tokenizer(exported["bert"][0])
    vocab = build_vocab(token_counts("teacher", TEXTS, teacher)[0])
    torch.manual_seed(1)
    model = BiLSTMClassifier(BiLSTMConfig(len(vocab), 2, embedding_dim=8, hidden_size=4, fc_dim=4))
    save_student(tmp_path / "bilstm", model, StudentTokenizer("teacher", vocab, 16, teacher), LABELS)
    export.main(["--model", str(tmp_path / "bilstm"), "--output", str(tmp_path / "onnx" / "s.onnx")])
    assert os.path.isdir(tmp_path / "onnx" / "s" / "teacher_tokenizer")
    logits, _ = onnx_predictor(str(tmp_path / "onnx" / "s.onnx"))
    assert np.abs(logits(TEXTS) - pytorch_logits(str(tmp_path / "bilstm"), TEXTS)).max() < 1e-4


def report_metric(out, metric):
    """The int8 graph's score in an export's report, as the summary line prints it."""
    return f"{json.loads((out / 'export.json').read_text())['eval']['onnx_int8'][metric]:.4f}"


@pytest.mark.parametrize("scores", [False, True], ids=["pairs", "pair_scores"])
def test_pair_models_predict_and_export(scores, tmp_path, capsys):
    """A pair teacher (classes, or scores) labels a pair file and two tab-separated texts a line; its ONNX export
    takes the token type ids and matches PyTorch on pairs, int8 too; single texts are refused in one line."""
    data = write_toy_pairs(tmp_path / "data", scores=scores)
    model = str(tmp_path / "teacher")
    bert_classification.main(["--data_dir", data, "--bert_model", write_tiny_bert(tmp_path / "bert"), "--output_dir",
                              model, "--num_train_epochs", "2", "--max_seq_length", "32"])
    capsys.readouterr()
    lines = tmp_path / "pairs.txt"
    lines.write_text("the movie\tit was good\nthe plot\tbad !\n")
    predict.main(["--model", model, "--input", str(lines)])
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == ("score\ttext_a\ttext_b" if scores else "label\tp_0\tp_1\ttext_a\ttext_b")
    assert [row.split("\t")[-2:] for row in rows] == [["the movie", "it was good"], ["the plot", "bad !"]]
    predict.main(["--model", model, "--input", os.path.join(data, "test.tsv"), "--eval"])
    table = capsys.readouterr().out
    assert ("| pearson | spearman | mse | examples |" if scores else "| accuracy | macro_f1 | mcc | f1 | examples |") \
        in table
    out, metric = tmp_path / "export", "pearson" if scores else "accuracy"
    export.main(["--model", model, "--output_dir", str(out), "--int8", "--eval_data", data])
    assert capsys.readouterr().out.endswith(f"{metric} {report_metric(out, metric)} | -> {out / 'model.onnx'}\n")
    report = json.loads((out / "export.json").read_text())
    assert "token_type_ids" in report["inputs"] and report["checks"]["onnx_fp32"]["max_abs_diff"] < 1e-4
    assert report["eval"]["onnx_fp32"][metric] == pytest.approx(report["eval"]["pytorch"][metric], abs=1e-3)
    predict.main(["--model", str(out), "--input", str(lines)])
    assert [row.split("\t")[-2:] for row in capsys.readouterr().out.splitlines()[1:]] == [
        ["the movie", "it was good"], ["the plot", "bad !"]]
    single = tmp_path / "single.tsv"
    single.write_text("label\ttext\n1\tgood\n")
    with pytest.raises(SystemExit, match=r"^error: \S+single.tsv holds single texts, but \S+teacher was trained on "
                                         r"sentence pairs \(two text columns, or two tab-separated texts a line\)$"):
        predict.main(["--model", model, "--input", str(single)])


@pytest.mark.parametrize("batch", [1, 64])
def test_pair_bilstm_export_takes_sides_of_different_lengths(tmp_path, batch, capfd):
    """The siamese BiLSTM's graph gives each side its own padded length: batches whose first texts are short and
    second long (and the reverse) get PyTorch's logits from the fp32 and int8 graphs, with no onnxruntime warning."""
    model_dir = write_tiny_bilstm(tmp_path / "pair_bilstm", pair=True, max_words=24)
    export.main(["--model", model_dir, "--output_dir", str(tmp_path / "onnx"), "--int8"])
    rng = np.random.default_rng(batch)
    texts = [text for _, text in toy_examples(2 * batch, seed=batch)]
    pairs = [(a, b + " " + b) if i % 2 else (a + " " + a, b) for i, (a, b) in enumerate(zip(texts[::2], texts[1::2]))]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    loaded, tokenizer, _ = load_student(model_dir)
    reference = bilstm_logits(loaded, tokenizer.encode(pairs)).numpy()
    for graph, tolerance in (("model.onnx", 1e-4), ("model_quantized.onnx", 0.05)):
        session_predict, _ = onnx_predictor(str(tmp_path / "onnx" / graph))
        for first, second in ((pairs, pairs), (pairs[:1], pairs[-1:])):  # two calls: buffers re-used across shapes
            assert np.abs(session_predict(first) - reference[:len(first)]).max() < tolerance
            assert np.abs(session_predict(second) - reference[-len(second):]).max() < tolerance
    assert "Shape mismatch" not in capfd.readouterr().err
