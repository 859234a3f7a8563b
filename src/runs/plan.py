"""How long a stage will take on this machine, before it runs: the seconds per 1,000 examples per epoch that
bench/stage_times.py measured (results/stage_times/stage_times.json, 2026-12-03: 2 CPU cores, 2 threads, the
bundled MiniLM teacher at 128 pieces), scaled by how fast the teacher at hand runs here (its forward pass on
a few training texts against the 8.76 s per 1,000 texts of the reference)."""

from dataclasses import dataclass

# seconds per 1,000 examples per epoch on the reference machine (bench/stage_times.py's rows)
REFERENCE = {
    "teacher_logits": 8.76,  # the teacher's forward pass, once per transfer text
    "bilstm": 1.78,  # the distilled BiLSTM, per transfer example and epoch
    "tinybert_stage1": 25.05,  # 3 of the teacher's 6 layers: the teacher's forward pass and the student's step
    "tinybert_stage2": 16.6,  # the 3-layer student's step (the teacher's logits are computed once beforehand)
    "augmentation": 3.09,  # TinyBERT's data augmentation per input text (--N 20; the masked LM's pass dominates)
}
REFERENCE_LAYERS = 3
REFERENCE_BILSTM = (300, 150)  # the reference BiLSTM: distill.py's default embedding width and units per direction
START_S = 20.0  # a stage's start-up: imports, loading models, the first tokenization


@dataclass
class Estimate:
    seconds: float
    transfer_examples: int  # what the stage trains on (the training set grown by augmentation or new pairs)


def machine_scale(teacher_s_per_1000: float) -> float:
    """How much slower (> 1) or faster this machine runs the teacher than the reference ran its MiniLM."""
    return teacher_s_per_1000 / REFERENCE["teacher_logits"]


def lstm_cost(embedding_dim: int, hidden_size: int) -> int:
    """Multiply-adds of one LSTM step per direction: four gates over the input and the previous state."""
    return 4 * hidden_size * (embedding_dim + hidden_size)


def bilstm_estimate(transfer: int, epochs: int, scale: float, size: tuple[int, int] = REFERENCE_BILSTM) -> Estimate:
    """The distilled BiLSTM on `transfer` examples: the teacher's logits once, then `epochs` passes, their cost
    in proportion to the LSTM step's of `size` (embedding width, units per direction) against the reference
    BiLSTM's (its pace does not follow the teacher's length, but the machine's speed does)."""
    per_epoch = REFERENCE["bilstm"] * lstm_cost(*size) / lstm_cost(*REFERENCE_BILSTM)
    return Estimate(START_S + transfer / 1000 * (REFERENCE["teacher_logits"] + per_epoch * epochs) * scale, transfer)


def tinybert_estimate(transfer: int, layers: float, teacher_layers: int, epochs: tuple[int, int],
                      scale: float) -> Estimate:
    """TinyBERT's two stages on `transfer` examples with a `layers`-layer student of a `teacher_layers`-layer
    teacher: stage 1 runs the whole teacher and the student each step; stage 2 the student only, after the
    teacher's logits."""
    teacher_pass = REFERENCE["teacher_logits"] * teacher_layers / 6
    student_step = (REFERENCE["tinybert_stage1"] - REFERENCE["teacher_logits"]) * layers / REFERENCE_LAYERS
    stage1 = (teacher_pass + student_step) * epochs[0]
    stage2 = teacher_pass + REFERENCE["tinybert_stage2"] * layers / REFERENCE_LAYERS * epochs[1]
    return Estimate(2 * START_S + transfer / 1000 * (stage1 + stage2) * scale, transfer)


def augmentation_seconds(train: int, scale: float) -> float:
    """TinyBERT's data augmentation of `train` texts (the masked LM's pass over each, then the draws)."""
    return START_S + train / 1000 * REFERENCE["augmentation"] * scale


def minutes(seconds: float) -> str:
    """'42 s', '3.5 min' or '1.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
