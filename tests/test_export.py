"""src/export.py on tiny random models: the padded BiLSTM equals the packed one, the ONNX graphs give the
PyTorch logits (fp32 within 1e-4, int8 loosely), src/predict.py runs them, and bad outputs are refused."""

import os
import shutil

import numpy as np
import pytest
import torch

from src import export, predict
from src.bilstm import BiLSTMClassifier, BiLSTMConfig, StudentTokenizer, build_vocab, save_student, tokenize
from src.modeling import load_tokenizer
from src.runs import load_json
from src.serving import PaddedBiLSTM, onnx_predictor
from tests.test_predict import LABELS, pytorch_logits, read_tsv, write_tiny_bilstm
from tests.tiny import toy_examples, write_tiny_bert

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

# other lengths and batch sizes than the texts the graph was traced with
TEXTS = ["good", "the movie was very good , and the story was quite bad but it was good .", "a bad film",
         "这个故事很好", "it is bad", "the plot", "music"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each tiny model directory and its int8 export (the fp32 graph kept beside it)."""
    root = tmp_path_factory.mktemp("export")
    (root / "check.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = {}
    for kind, model_dir in (("bilstm", write_tiny_bilstm(root / "bilstm")),
                            ("bert", write_tiny_bert(root / "bert", labels=LABELS))):
        onnx_path = str(root / f"{kind}_onnx" / "model.onnx")
        export.main(["--model", model_dir, "--output", onnx_path, "--int8", "--check_texts", str(root / "check.txt")])
        out[kind] = (model_dir, onnx_path)
    return out


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
    model_dir, onnx_path = exported[kind]
    out_dir = os.path.dirname(onnx_path)
    assert {"config.json", "model.fp32.onnx", "model.onnx", "model.onnx.json"} <= set(os.listdir(out_dir))
    assert ("vocab.txt" if kind == "bilstm" else "tokenizer_config.json") in os.listdir(out_dir)
    report = load_json(onnx_path + ".json")
    assert report["int8"] and report["check_texts"] == len(TEXTS)
    assert report["checks"]["onnx_fp32"]["max_abs_diff"] < 1e-4
    assert report["max_abs_diff"] == report["checks"]["onnx_int8"]["max_abs_diff"] < 0.05

    reference = pytorch_logits(model_dir, TEXTS)
    fp32, labels = onnx_predictor(os.path.join(out_dir, "model.fp32.onnx"))
    int8, _ = onnx_predictor(onnx_path)
    assert labels == LABELS
    for texts in (TEXTS, TEXTS[:1], TEXTS[2:5]):  # batches of 7, 1 and 3 rows
        rows = [TEXTS.index(t) for t in texts]
        assert np.abs(fp32(texts) - reference[rows]).max() < 1e-4
        assert np.abs(int8(texts) - reference[rows]).max() < 0.05


@pytest.mark.parametrize("kind", ["bilstm", "bert"])
def test_predict_on_the_onnx_gives_the_directory_labels(exported, kind, tmp_path):
    model_dir, onnx_path = exported[kind]
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS[:3] + [""] + TEXTS[3:]) + "\n", encoding="utf-8")
    preds = {}
    for name, model in (("dir", model_dir), ("fp32", onnx_path.replace("model.onnx", "model.fp32.onnx")),
                        ("int8", onnx_path)):
        out = str(tmp_path / f"{name}.tsv")
        predict.main(["--model", model, "--input", str(tmp_path / "texts.txt"), "--output", out])
        preds[name] = read_tsv(out)
    labels = {name: [row[0] for row in rows] for name, rows in preds.items()}
    assert len(labels["dir"]) == len(TEXTS) + 2 and labels["fp32"] == labels["dir"]
    probs = {name: np.array([[float(p) for p in row[1:3]] for row in rows[1:] if row[0]])
             for name, rows in preds.items()}
    np.testing.assert_allclose(probs["fp32"], probs["dir"], atol=2e-6)
    # int8 may flip a label whose two logits are closer than twice its error: compare the others
    margin = np.abs(np.diff(pytorch_logits(model_dir, TEXTS), axis=1))[:, 0]
    error = load_json(onnx_path + ".json")["max_abs_diff"]
    clear = [i + (i >= 3) + 1 for i in range(len(TEXTS)) if margin[i] > 2 * error]  # tsv rows: header, blank line 4
    assert clear and [labels["int8"][r] for r in clear] == [labels["dir"][r] for r in clear]


def test_eval_data_compares_accuracies(exported, tmp_path, capsys):
    model_dir, _ = exported["bilstm"]
    examples = toy_examples(30, seed=5)
    (tmp_path / "test.tsv").write_text("label\tsentence\n" + "".join(f"{y}\t{x}\n" for y, x in examples),
                                       encoding="utf-8")
    out = tmp_path / "onnx" / "m.onnx"
    export.main(["--model", model_dir, "--output", str(out), "--int8", "--eval_data", str(tmp_path)])
    report = load_json(tmp_path / "onnx" / "m.onnx.json")
    gold = np.array([int(y) for y, _ in examples])
    accuracy = (pytorch_logits(model_dir, [x for _, x in examples]).argmax(1) == gold).mean()
    assert report["eval"]["pytorch"]["accuracy"] == pytest.approx(accuracy)
    assert report["eval"]["onnx_fp32"]["accuracy"] == pytest.approx(accuracy)
    assert report["eval"]["onnx_int8"]["examples"] == 30
    assert "| onnx_int8 |" in capsys.readouterr().out


def test_refused_outputs_leave_everything_as_it_was(exported, tmp_path):
    model_dir, onnx_path = exported["bilstm"]
    before = sorted(os.listdir(model_dir))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("an earlier result")
    cases = [([os.path.join(model_dir, "model.onnx"), "--overwrite_output_dir"], "must be apart"),
             ([str(taken / "model.onnx")], "exists and is not empty"),
             ([str(tmp_path / "x" / "model.bin")], "ending in .onnx"),
             ([str(tmp_path / "z" / "model.onnx"), "--batch_size", "0"], "must be above 0"),
             ([str(tmp_path / "z" / "model.onnx"), "--opset", "5"], "use 14 or later")]
    for output, pattern in cases:
        with pytest.raises(SystemExit) as exc:
            export.main(["--model", model_dir, "--output", *output])
        assert str(exc.value.code).startswith("error: ") and pattern in str(exc.value.code)
    with pytest.raises(SystemExit, match="already an ONNX model"):
        export.main(["--model", onnx_path, "--output", str(tmp_path / "y" / "model.onnx")])
    broken = tmp_path / "broken"
    shutil.copytree(os.path.dirname(onnx_path), broken)
    (broken / "model.onnx").write_bytes(b"not a graph")
    (tmp_path / "texts.txt").write_text("good\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="^error: cannot load the ONNX model"):
        predict.main(["--model", str(broken / "model.onnx"), "--input", str(tmp_path / "texts.txt")])
    with pytest.raises(SystemExit, match="pass the file, e.g."):
        predict.main(["--model", str(broken), "--input", str(tmp_path / "texts.txt")])
    assert sorted(os.listdir(model_dir)) == before and os.listdir(taken) == ["keep.txt"]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no staging directory left


def test_bilstm_on_teacher_word_pieces(exported, tmp_path):
    """A BiLSTM whose tokenizer is the teacher's: its tokenizer travels with the export."""
    teacher = load_tokenizer(exported["bert"][0])
    vocab = build_vocab(tokenize("teacher", TEXTS, teacher))
    torch.manual_seed(1)
    model = BiLSTMClassifier(BiLSTMConfig(len(vocab), 2, embedding_dim=8, hidden_size=4, fc_dim=4))
    save_student(tmp_path / "bilstm", model, StudentTokenizer("teacher", vocab, 16, teacher), LABELS)
    export.main(["--model", str(tmp_path / "bilstm"), "--output", str(tmp_path / "onnx" / "model.onnx")])
    assert os.path.isdir(tmp_path / "onnx" / "teacher_tokenizer")
    logits, _ = onnx_predictor(str(tmp_path / "onnx" / "model.onnx"))
    assert np.abs(logits(TEXTS) - pytorch_logits(str(tmp_path / "bilstm"), TEXTS)).max() < 1e-4
