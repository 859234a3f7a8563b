"""TinyBERT helpers shared by the two stages: task names, student initialisation, layer maps, the projection.

Student initialisation (see `build_student`), three ways:
- a BERT directory or hub id (`--student_model`, e.g. huawei-noah/TinyBERT_General_4L_312D or stage 1's output);
- a BertConfig JSON (`--student_config`): random weights, vocabulary and tokenizer of the teacher;
- `--init_from_teacher --student_layers k`: the teacher's embeddings, pooler and classifier, and the teacher
  layers the layer map pairs with each student layer (layers L_T/k, 2 L_T/k, ... for the uniform map).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from src.common.cli import InputError
from src.modeling.bert import load_classifier, reads_pairs, set_labels
from src.train.losses import intermediate_layer_loss, uniform_layer_map

if TYPE_CHECKING:  # for the annotations only: the code imports transformers where it uses it
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

# Task names of the original TinyBERT scripts (GLUE spelling) and of this repo -> directory under data/.
PROJECTIONS_FILE = "projections.pt"
LayerMap = list[tuple[int, int]]  # (student layer, teacher layer) pairs, both counted from 1


def parse_layer_map(text: str) -> LayerMap:
    """'1:2,2:4,3:6' -> [(1, 2), (2, 4), (3, 6)]: student layer : teacher layer, both counted from 1."""
    try:
        pairs = [tuple(int(x) for x in pair.split(":")) for pair in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise InputError(f"--layer_map {text!r}: expected student:teacher pairs counted from 1, e.g. '1:2,2:4,3:6'")
    return pairs


def layer_map(num_layers_S: int, num_layers_T: int, text: str | None = None) -> LayerMap:
    """The (student, teacher) layer pairs: `--layer_map` when given, else TinyBERT's uniform map."""
    if text:
        pairs = parse_layer_map(text)
        if max(s for s, _ in pairs) > num_layers_S or max(t for _, t in pairs) > num_layers_T:
            raise InputError(f"--layer_map {text!r} names a layer beyond the student's {num_layers_S} "
                             f"or the teacher's {num_layers_T}")
        return pairs
    try:
        return uniform_layer_map(num_layers_S, num_layers_T)
    except ValueError as e:
        raise InputError(str(e)) from None


def check_same_vocab(tokenizer_S: PreTrainedTokenizerBase, tokenizer_T: PreTrainedTokenizerBase, name_S: str,
                     name_T: str) -> None:
    """The student reads the teacher's word pieces, so both tokenizers must share one vocabulary."""
    vocab_S, vocab_T = tokenizer_S.get_vocab(), tokenizer_T.get_vocab()
    if vocab_S != vocab_T:
        diff = sorted(set(vocab_S.items()) ^ set(vocab_T.items()))[:3]
        raise InputError(f"the tokenizer of the student {name_S} ({len(vocab_S)} tokens) differs from the teacher's "
                         f"{name_T} ({len(vocab_T)} tokens), e.g. {diff}; use a student with the teacher's vocabulary")


def check_same_heads(config_S, config_T) -> None:
    """The attention loss compares the student's heads with the teacher's one by one: as many are needed."""
    if config_S.num_attention_heads != config_T.num_attention_heads:
        raise InputError(f"the attention loss compares head by head: the student has {config_S.num_attention_heads} "
                         f"heads, the teacher {config_T.num_attention_heads}; give the student as many heads")


def copy_teacher_layers(teacher: PreTrainedModel, num_layers: int, pairs: LayerMap,
                        attn_implementation: str) -> PreTrainedModel:
    """A `num_layers`-layer copy of the teacher: embeddings, pooler and classifier, and for every
    (student m, teacher n) pair, teacher layer n as student layer m."""
    config = type(teacher.config).from_dict(teacher.config.to_dict())
    config.num_hidden_layers = num_layers
    student = type(teacher)._from_config(config, attn_implementation=attn_implementation)
    # Every weight outside the encoder layers (embeddings, pooler, classifier) has the same name and shape.
    state = {k: v for k, v in teacher.state_dict().items() if ".encoder.layer." not in k}
    student.load_state_dict(state, strict=False)
    uncopied = sorted(set(range(1, num_layers + 1)) - {m for m, _ in pairs})
    if uncopied:
        raise InputError(f"--init_from_teacher: student layers {uncopied} have no teacher layer in the layer map")
    layers_S, layers_T = student.base_model.encoder.layer, teacher.base_model.encoder.layer
    for m, n in pairs:
        layers_S[m - 1].load_state_dict(layers_T[n - 1].state_dict())
    return student


def student_config(path: str, teacher_config) -> PretrainedConfig:
    """A student's BertConfig from a JSON file (layers, width, heads, ...), with the teacher's vocabulary."""
    from transformers import BertConfig

    if not os.path.isfile(path):
        raise InputError(f"--student_config {path} does not exist")
    try:
        config = BertConfig.from_json_file(path)
    except (OSError, ValueError) as e:
        raise InputError(f"--student_config {path}: {e}") from None
    config.vocab_size, config.pad_token_id = teacher_config.vocab_size, teacher_config.pad_token_id
    return config


def build_student(args: argparse.Namespace, teacher: PreTrainedModel, label_list: list[str],
                  pairs: LayerMap | None = None, attn_implementation: str = "eager") -> PreTrainedModel:
    """The student sequence classifier (or regressor) of `args` (see the module docstring), labelled like the
    teacher and reading what it reads (single texts or pairs).

    `pairs` is the layer map, needed by --init_from_teacher. Returns the model; its tokenizer is the
    teacher's except for --student_model, whose own tokenizer the caller checks against the teacher's.
    """
    from transformers import BertForSequenceClassification

    if args.init_from_teacher:
        return copy_teacher_layers(teacher, args.student_layers, pairs, attn_implementation)
    if args.student_config:
        config = student_config(args.student_config, teacher.config)
        set_labels(config, label_list, reads_pairs(teacher.config))
        return BertForSequenceClassification._from_config(config, attn_implementation=attn_implementation)
    return load_classifier(args.student_model, label_list, reads_pairs(teacher.config),
                           attn_implementation=attn_implementation)


class Projection(nn.Module):
    """TinyBERT's W (eqs. 8-9): a linear map from the student's hidden width to the teacher's, one shared by the
    embedding output and every mapped layer as in the authors' code (`fit_dense`). When the widths agree it
    is the identity, a choice of this repo (the authors learn W there too): a layer cut of the teacher then
    starts in the teacher's space with zero loss for an exact copy. Trained by general distillation and task
    stage 1, saved beside the student as `projections.pt` (outside the Hugging Face model), and taken up again
    by a stage 1 that starts from it."""

    def __init__(self, width_S: int, width_T: int):
        super().__init__()
        self.width_S, self.width_T = width_S, width_T
        self.fit_dense = nn.Linear(width_S, width_T) if width_S != width_T else nn.Identity()

    def forward(self, hidden_S: torch.Tensor) -> torch.Tensor:
        """(B, L, width_S) -> (B, L, width_T)."""
        return self.fit_dense(hidden_S)

    def save(self, output_dir: str) -> None:
        torch.save({"width_S": self.width_S, "width_T": self.width_T, "state_dict": self.state_dict()},
                   os.path.join(output_dir, PROJECTIONS_FILE))

    @classmethod
    def from_student(cls, student_dir: str | None, width_S: int, width_T: int) -> tuple[Projection, bool]:
        """The projection saved beside `student_dir` when it has one of these widths, else a new one.
        Returns (projection, whether it was loaded)."""
        projection = cls(width_S, width_T)
        path = os.path.join(student_dir, PROJECTIONS_FILE) if student_dir else ""
        if not os.path.isfile(path):
            return projection, False
        saved = torch.load(path, weights_only=True)
        if (saved.get("width_S"), saved.get("width_T")) != (width_S, width_T):
            raise InputError(f"{path} maps width {saved.get('width_S')} to {saved.get('width_T')}, not {width_S} to "
                             f"{width_T}; remove it to start a new projection")
        try:
            projection.load_state_dict(saved["state_dict"])
        except RuntimeError:  # one map per layer, as this repo saved them before the maps were shared
            raise InputError(f"{path} holds per-layer projections of an older version; remove it") from None
        return projection, True


def intermediate_loss(models: Sequence[nn.Module], batch: dict, teacher: nn.Module, pairs: LayerMap) -> dict:
    """General distillation and task stage 1: L = L_embd + sum over the layer map of (L_hidn + L_attn), on the
    hidden states (the student's through W) and the pre-softmax attention scores of a student and a teacher
    loaded with `attn_implementation=SCORES` (`src.train.losses.intermediate_layer_loss`; padding left out)."""
    student, projection = models
    with torch.no_grad():
        out_T = teacher(**batch, output_hidden_states=True, output_attentions=True)
    out_S = student(**batch, output_hidden_states=True, output_attentions=True)
    return intermediate_layer_loss(out_S.hidden_states, out_S.attentions, out_T.hidden_states, out_T.attentions,
                                   pairs, batch["attention_mask"], projection)
