"""ONNX export of a BiLSTM or BERT directory: the graph (TorchScript exporter, dynamic batch and sequence axes,
one per text of a pair), its int8 twin (onnxruntime's dynamic quantization) and the side files that turn texts
into its inputs (`src/serve/predictors.py` reads them back)."""

import logging
import os
import shutil
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from src.modeling.bert import load_classifier, load_tokenizer, tokenize
from src.modeling.bilstm import batch_inputs, load_student, pair_features
from src.serve.predictors import int8_twin, model_kind, reads_pairs_at, sample_inputs


class PaddedBiLSTM(nn.Module):
    """`BiLSTMClassifier.forward` in eval mode without packed sequences, which torch.onnx cannot export.

    The forward LSTM runs over the padded rows and its state is read at each row's last word; the backward
    LSTM runs over each row reversed within its own length, so that its state at the same position is the
    backward state at the row's first word. Steps over padding are computed and never read.
    The trained weights are shared, not copied.
    """

    def __init__(self, model):
        super().__init__()
        c = model.config
        self.embedding, self.fc, self.classifier = model.embedding, model.fc, model.classifier
        self.forward_lstm = nn.LSTM(c.embedding_dim, c.hidden_size, batch_first=True)
        self.backward_lstm = nn.LSTM(c.embedding_dim, c.hidden_size, batch_first=True)
        for lstm, suffix in ((self.forward_lstm, ""), (self.backward_lstm, "_reverse")):
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                setattr(lstm, name, getattr(model.lstm, name + suffix))

    def encode(self, input_ids, lengths):
        """input_ids: (B, L) padded with 0; lengths: (B,) each >= 1. Returns h (B, 2H)."""
        last = (lengths - 1)[:, None]  # (B, 1)
        rev = (last - torch.arange(input_ids.shape[1])[None, :]).clamp(min=0)  # (B, L) t-th word from the end
        out_f, _ = self.forward_lstm(self.embedding(input_ids))  # (B, L, H)
        out_b, _ = self.backward_lstm(self.embedding(input_ids.gather(1, rev)))  # (B, L, H)
        at_last = last[:, :, None].expand(-1, -1, out_f.shape[-1])  # (B, 1, H)
        return torch.cat([out_f.gather(1, at_last), out_b.gather(1, at_last)], dim=-1).squeeze(1)  # (B, 2H)

    def forward(self, input_ids, lengths, input_ids_b=None, lengths_b=None):
        """Logits (B, C) of texts, or (the siamese model) of pairs."""
        h = self.encode(input_ids, lengths)
        if input_ids_b is not None:
            h = pair_features(h, self.encode(input_ids_b, lengths_b))  # (B, 8H)
        return self.classifier(F.relu(self.fc(h)))  # (B, C)


class LogitsOf(nn.Module):
    """A `transformers` classifier taking its inputs by position (what torch.onnx passes) and returning logits."""

    def __init__(self, model, input_names: list[str]):
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.input_names, inputs))).logits


def exportable(model_dir: str) -> tuple[nn.Module, tuple, dict]:
    """(module in eval mode, example inputs, dynamic axes by input name) of a BiLSTM or BERT directory."""
    if model_kind(model_dir) == "bilstm":
        model, tokenizer, _ = load_student(model_dir)
        inputs = batch_inputs(tokenizer.encode(sample_inputs(model.config.pair)))
        # each text of a pair has its own padded length: one shared axis name would let onnxruntime assume
        # they are equal and re-use one buffer for both sides' embeddings
        axes = {n: {0: "batch", 1: n.replace("input_ids", "sequence")} if n.startswith("input_ids") else {0: "batch"}
                for n in inputs}
        return PaddedBiLSTM(model).eval(), tuple(inputs.values()), axes
    # eager attention: plain MatMul/Softmax nodes, which the int8 quantizer handles
    model = load_classifier(model_dir, attn_implementation="eager").eval()
    enc = tokenize(load_tokenizer(model_dir), sample_inputs(reads_pairs_at(model_dir)), padding=True,
                   return_tensors="pt")
    names = list(enc.keys())
    return LogitsOf(model, names).eval(), tuple(enc[n] for n in names), {n: {0: "batch", 1: "sequence"} for n in names}


def export_onnx(model_dir: str, onnx_path: str, opset: int = 17) -> list[str]:
    """Write the ONNX graph of a BiLSTM or BERT directory (TorchScript exporter, dynamic batch and sequence
    axes, output `logits`). Returns the input names."""
    module, example, dynamic_axes = exportable(model_dir)
    # The tracer and the exporter warn about shape arithmetic recorded as constants and about LSTMs run at
    # other batch sizes; the check against PyTorch logits on texts of other lengths and batch sizes
    # (src/export.py) is what shows the graph is right.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: it needs no onnxscript
        warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")
        torch.onnx.export(module, example, onnx_path, dynamo=False, opset_version=opset,
                          input_names=list(dynamic_axes), output_names=["logits"],
                          dynamic_axes={**dynamic_axes, "logits": {0: "batch"}})
    return list(dynamic_axes)


def export_side_files(model_dir: str, out_dir: str) -> None:
    """Copy what turns texts into the model's inputs, and its labels, next to an exported graph."""
    if model_kind(model_dir) == "bilstm":
        names = ["config.json", "vocab.txt"]
        if os.path.isdir(os.path.join(model_dir, "teacher_tokenizer")):
            shutil.copytree(os.path.join(model_dir, "teacher_tokenizer"), os.path.join(out_dir, "teacher_tokenizer"))
    else:
        names = ["config.json", "args.json"]
        load_tokenizer(model_dir).save_pretrained(out_dir)
    for name in names:
        if os.path.isfile(os.path.join(model_dir, name)):
            shutil.copyfile(os.path.join(model_dir, name), os.path.join(out_dir, name))


def quantize_int8(fp32_path: str, int8_path: str) -> None:
    """Dynamic int8 quantization (int8 weights; activations quantized on the fly) with onnxruntime."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer calls logging.warning() on the root logger, which would install a root handler
    # (logging.basicConfig) and print every later "kd" line twice; a handler of our own keeps it out.
    root, quiet = logging.getLogger(), logging.NullHandler()
    root.addHandler(quiet)
    try:
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    finally:
        root.removeHandler(quiet)


def export_model(model_dir: str, graph: str, side_dir: str, int8: bool, opset: int = 17) -> dict:
    """Export the fp32 graph to `graph` (`S.onnx`), with `int8` its quantized twin `S_quantized.onnx`, and the
    side files into `side_dir` (made if missing). Returns {"kind", "inputs", "opset", "path", "int8_path"}
    (`int8_path` None without `int8`)."""
    os.makedirs(side_dir, exist_ok=True)
    export_side_files(model_dir, side_dir)
    inputs = export_onnx(model_dir, graph, opset)
    int8_path = int8_twin(graph) if int8 else None
    if int8:
        quantize_int8(graph, int8_path)
    return {"kind": model_kind(model_dir), "inputs": inputs, "opset": opset, "path": graph, "int8_path": int8_path}
