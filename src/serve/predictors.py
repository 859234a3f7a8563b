"""Serving what was trained: a model directory (BiLSTM student, BERT-family classifier or linear teacher) or an
exported ONNX model turned into `predict(texts) -> logits (B, C)` with its label names, tokenisation included;
and batched prediction.

An exported model (`src/serve/onnx_export.py`) is a graph `S.onnx` (fp32), with --int8 its twin
`S_quantized.onnx` (HF optimum's names), and its side files, the files that turn texts into its inputs:
`config.json` and `vocab.txt` (plus `teacher_tokenizer/`) for a BiLSTM, `config.json`, the tokenizer files and
`args.json` for a BERT. `export_files` finds the side files of a graph: in the directory `S/` named after it
when that holds a `config.json` (`exports/x.onnx` and `exports/x_quantized.onnx` read `exports/x/`), else beside
the graph (an export directory `DIR/model.onnx`, `DIR/model_quantized.onnx`, side files in `DIR`). The ONNX
graph's inputs tell the kinds apart: a BiLSTM takes `input_ids (B, L)` and `lengths (B,)`, a BERT its tokenizer's
`input_ids`, `token_type_ids`, `attention_mask`.
"""

import os
from collections.abc import Callable

import numpy as np
import torch

from src.common.cli import InputError
from src.common.files import load_json
from src.data.examples import SCORE_LABELS, Text, input_key
from src.modeling.bert import classifier_predictor, load_classifier, load_tokenizer, model_label_list, tokenize
from src.modeling.bilstm import batch_inputs, fast_predictor, load_student, load_student_tokenizer
from src.modeling.linear import is_linear, linear_log_probs, load_linear
from src.train.evaluation import task_metrics

Predict = Callable[[list[str]], np.ndarray]  # texts -> logits (B, C)

BERT_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
DEFAULT_MAX_LENGTH = 512
EXPORT_GRAPH, INT8_SUFFIX = "model.onnx", "_quantized"  # an export directory's graph; S.onnx -> S_quantized.onnx
# Texts to trace the export with and to check it on: mixed lengths (padding), English and Chinese.
SAMPLE_TEXTS = ["good", "the movie was very good , and the story really was quite good .", "a bad film",
                "这部电影的故事很好", "it is bad but the music is good", "", "坏"]


# ----------------------------------------------------------------------------
# Model kinds and predictors

def model_kind(path: str) -> str:
    """`bilstm` (model.pt + vocab.txt), `bert` (config.json + weights), `linear` (a linear teacher: model.joblib +
    config.json) or `onnx` (an exported .onnx file, or an export directory: model.onnx + config.json)."""
    if path.endswith(".onnx"):
        if not os.path.isfile(path):
            raise InputError(f"ONNX model {path} does not exist")
        return "onnx"
    if not os.path.isdir(path):
        raise InputError(f"model directory {path} does not exist")
    files = set(os.listdir(path))
    if {"model.pt", "vocab.txt", "config.json"} <= files:
        return "bilstm"
    if "config.json" in files and files & set(BERT_WEIGHTS):
        return "bert"
    if is_linear(path):
        return "linear"
    if {EXPORT_GRAPH, "config.json"} <= files:
        return "onnx"
    onnx = sorted(f for f in files if f.endswith(".onnx"))
    hint = f"; to run the exported model pass the file, e.g. {os.path.join(path, onnx[0])}" if onnx else ""
    raise InputError(f"{path} is neither a BiLSTM student directory (config.json, vocab.txt, model.pt), a BERT "
                     f"classifier directory (config.json, {' or '.join(BERT_WEIGHTS)}), a linear teacher (config.json, "
                     f"model.joblib) nor an ONNX export directory (config.json, {EXPORT_GRAPH}){hint}")


def int8_twin(graph: str) -> str:
    """Where the int8 graph of the fp32 graph `S.onnx` goes: `S_quantized.onnx`."""
    return graph[:-len(".onnx")] + INT8_SUFFIX + ".onnx"


def export_files(path: str) -> tuple[str, str]:
    """(graph, side directory) of an ONNX model (`model_kind` "onnx"). An export directory: its model.onnx and
    itself. A graph `S.onnx`: its side files are in the directory `S/` when that holds a config.json (the layout
    of `export.py --output S.onnx`, which lets one folder hold several exports; the int8 twin `S_quantized.onnx`
    reads `S/` too), else beside the graph (the layout of `export.py --output_dir`)."""
    if os.path.isdir(path):
        return os.path.join(path, EXPORT_GRAPH), path
    stem = path[:-len(".onnx")]
    for side in (stem, stem.removesuffix(INT8_SUFFIX)):
        if os.path.isfile(os.path.join(side, "config.json")):
            return path, side
    return path, os.path.dirname(os.path.abspath(path))


def bert_max_length(model_dir: str, tokenizer, config) -> int:
    """Word pieces the model was trained with: `max_seq_length` of its args.json, else the tokenizer's
    `model_max_length` when it is a real limit (below 10,000), else 512; never more than its positions."""
    args_path = os.path.join(model_dir, "args.json")
    if os.path.isfile(args_path) and "max_seq_length" in load_json(args_path):
        length = int(load_json(args_path)["max_seq_length"])
    elif tokenizer.model_max_length < 10_000:
        length = int(tokenizer.model_max_length)
    else:
        length = DEFAULT_MAX_LENGTH
    return min(length, getattr(config, "max_position_embeddings", length))


def torch_predictor(model_dir: str, device: str = "cpu") -> tuple[Predict, list[str]]:
    """(predict, labels) of a BiLSTM or BERT directory in PyTorch (a BiLSTM on the CPU takes its folded path), or
    of a linear teacher (scikit-learn; its log-probabilities as logits)."""
    if model_kind(model_dir) == "linear":
        pipeline, labels = load_linear(model_dir)
        return (lambda texts: linear_log_probs(pipeline, texts)), labels
    if model_kind(model_dir) == "bilstm":
        try:
            model, tokenizer, labels = load_student(model_dir, device)
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
            raise InputError(f"cannot load a BiLSTM student from {model_dir}: {str(e).splitlines()[0]}") from None
        if device == "cpu":
            fast = fast_predictor(model, tokenizer)
            return (lambda texts: fast(texts).numpy()), labels

        def predict(texts):
            with torch.inference_mode():
                inputs = batch_inputs(tokenizer.encode(texts))
                return model(**{k: v.to(device) for k, v in inputs.items()}).float().cpu().numpy()

        return predict, labels
    model = load_classifier(model_dir).to(device)
    tokenizer = load_tokenizer(model_dir)
    predict = classifier_predictor(model, tokenizer, bert_max_length(model_dir, tokenizer, model.config))
    return (lambda texts: predict(texts).numpy()), model_label_list(model)


def require_onnx() -> None:
    """The export and ONNX models need the `onnx` and `onnxruntime` packages (requirements.txt)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise InputError(f"{e.name} is not installed: pip install -r requirements.txt") from None


def versions() -> dict:
    """Versions of what an exported graph depends on."""
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def onnx_session(onnx_path: str, threads: int = 0):
    """An onnxruntime CPU session; `threads` 0 lets onnxruntime choose."""
    require_onnx()
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    try:
        return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    except (ort_errors.Fail, ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.NoSuchFile) as e:
        raise InputError(f"cannot load the ONNX model {onnx_path}: {str(e).splitlines()[0]}") from None


def onnx_predictor(path: str, threads: int = 0) -> tuple[Predict, list[str]]:
    """(predict, labels) of an exported .onnx file or export directory with onnxruntime, tokenizing with its side
    files (`export_files`)."""
    from transformers import AutoConfig

    onnx_path, model_dir = export_files(path)
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise InputError(f"{onnx_path} has no side files (config.json in {onnx_path[:-len('.onnx')]}/ or beside "
                         "it): export it with src/export.py")
    session = onnx_session(onnx_path, threads)
    names = [i.name for i in session.get_inputs()]
    if "lengths" in names:  # a BiLSTM
        tokenizer, labels = load_student_tokenizer(model_dir)[:2]

        def predict(texts):
            return session.run(["logits"], {k: v.numpy() for k, v in batch_inputs(tokenizer.encode(texts)).items()})[0]

        return predict, labels
    tokenizer, config = load_tokenizer(model_dir), AutoConfig.from_pretrained(model_dir)
    max_length = bert_max_length(model_dir, tokenizer, config)

    def predict(texts):
        enc = tokenize(tokenizer, texts, truncation="longest_first", max_length=max_length, padding=True,
                       return_tensors="np")
        return session.run(["logits"], {n: enc[n].astype(np.int64) for n in names})[0]

    return predict, [config.id2label[i] for i in range(config.num_labels)]


def reads_pairs_at(path: str) -> bool:
    """Whether the model at `path` (a directory, or an export's graph) was trained on sentence pairs: its
    config's `text_pair` (a BiLSTM student reads single texts)."""
    config = os.path.join(export_files(path)[1] if model_kind(path) == "onnx" else path, "config.json")
    return os.path.isfile(config) and bool(load_json(config).get("text_pair", False))


def sample_inputs(pairs: bool) -> list[Text]:
    """SAMPLE_TEXTS, or pairs of them for a pair model (each text with the next)."""
    return list(zip(SAMPLE_TEXTS, SAMPLE_TEXTS[1:] + SAMPLE_TEXTS[:1])) if pairs else SAMPLE_TEXTS


def load_predictor(path: str, device: str = "cpu", threads: int = 0) -> tuple[Predict, list[str]]:
    """(predict, labels) of a model directory (PyTorch), or an exported .onnx file or export directory
    (onnxruntime, `threads`)."""
    return onnx_predictor(path, threads) if model_kind(path) == "onnx" else torch_predictor(path, device)


def batched_logits(predict: Predict, texts: list[Text], batch_size: int, num_labels: int) -> np.ndarray:
    """Logits (N, C) of `texts` (or pairs) in input order, predicted in batches of similar length (little
    padding)."""
    order = np.argsort([len(input_key(t)) for t in texts], kind="stable")
    out = np.empty((len(texts), num_labels), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        out[rows] = predict([texts[i] for i in rows])
    return out


def predictor_metrics(predict: Predict, labels: list[str], texts: list[Text], gold: list, batch_size: int = 64
                      ) -> dict:
    """`task_metrics` of a predictor on labelled texts (or pairs): a classifier's, or a regressor's (SCORE_LABELS)."""
    regression = labels == SCORE_LABELS
    logits = batched_logits(predict, texts, batch_size, len(labels))
    return task_metrics(gold, logits[:, 0] if regression else logits.argmax(1), regression)


def softmax(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(logits).double(), dim=-1).numpy()


# ----------------------------------------------------------------------------
# ONNX export


