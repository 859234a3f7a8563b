"""Plain-text corpora (one text per line) packed into full-length BERT sequences, for the stages that learn
from unlabelled text (TinyBERT general distillation, masked-LM pretraining)."""

from src.cli import InputError
from src.data import read_lines


def read_corpus(path: str) -> list[str]:
    """The non-blank lines of a UTF-8 corpus file, whitespace-normalised."""
    lines = [" ".join(line.split()) for line in read_lines(path, what="corpus")]
    lines = [line for line in lines if line]
    if not lines:
        raise InputError(f"corpus {path} has no text")
    return lines


def pack_sequences(tokenizer, lines: list[str], max_seq_length: int) -> list[dict]:
    """Consecutive lines packed into sequences `[CLS] line [SEP] line [SEP] ...` of at most `max_seq_length`
    word pieces, so that short lines do not waste compute on padding; a line longer than a sequence is
    cut into pieces. Returns features for `DataCollatorWithPadding` (input_ids, token_type_ids,
    attention_mask)."""
    if max_seq_length < 3:
        raise InputError("--max_seq_length must be at least 3")
    cls, sep, budget = tokenizer.cls_token_id, tokenizer.sep_token_id, max_seq_length - 1  # [CLS] comes first
    sequences, current = [], []
    for ids in tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]:
        for start in range(0, len(ids), budget - 1):
            piece = ids[start:start + budget - 1] + [sep]
            if len(current) + len(piece) > budget:
                sequences.append(current)
                current = []
            current += piece
    if current:
        sequences.append(current)
    return [{"input_ids": [cls] + seq, "token_type_ids": [0] * (len(seq) + 1), "attention_mask": [1] * (len(seq) + 1)}
            for seq in sequences]

