"""Plain-text corpora (one text per line) packed into full-length BERT sequences, for the stages that learn
from unlabelled text (TinyBERT general distillation, masked-LM pretraining)."""

from src.cli import InputError
from src.data import read_lines


def read_corpus(path: str, max_lines: int | None = None) -> list[str]:
    """The non-blank lines of a UTF-8 corpus file (the first `max_lines`), whitespace-normalised."""
    lines = [" ".join(line.split()) for line in read_lines(path, what="corpus")]
    lines = [line for line in lines if line][:max_lines]
    if not lines:
        raise InputError(f"corpus {path} has no text")
    return lines


def pack_sequences(pieces: list[list[int]], cls_id: int, sep_id: int, max_seq_length: int,
                   word_starts: list[list[int]] | None = None) -> list[dict]:
    """Consecutive lines' word pieces packed into sequences `[CLS] line [SEP] line [SEP] ...` of at most
    `max_seq_length`, so that short lines waste no compute on padding; a line longer than a sequence is cut.

    pieces: word-piece ids per line, without special tokens. word_starts (optional, parallel to `pieces`):
    1 where a piece begins a word, carried into the features as `word_start` (special tokens count as
    starts). Returns features for `DataCollatorWithPadding`: input_ids, token_type_ids, attention_mask.
    """
    if max_seq_length < 3:
        raise InputError("--max_seq_length must be at least 3")
    budget = max_seq_length - 1  # [CLS] comes first
    starts = word_starts or [[1] * len(ids) for ids in pieces]
    sequences, current = [], ([], [])
    for ids, line_starts in zip(pieces, starts):
        for i in range(0, len(ids), budget - 1):
            piece = (ids[i:i + budget - 1] + [sep_id], line_starts[i:i + budget - 1] + [1])
            if len(current[0]) + len(piece[0]) > budget:
                sequences.append(current)
                current = ([], [])
            current = (current[0] + piece[0], current[1] + piece[1])
    if current[0]:
        sequences.append(current)
    features = []
    for ids, seq_starts in sequences:
        feature = {"input_ids": [cls_id] + ids, "token_type_ids": [0] * (len(ids) + 1),
                   "attention_mask": [1] * (len(ids) + 1)}
        if word_starts is not None:
            feature["word_start"] = [1] + seq_starts
        features.append(feature)
    return features
