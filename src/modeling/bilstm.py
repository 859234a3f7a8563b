"""The BiLSTM student of Tang et al. (2019): word embeddings -> one BiLSTM layer -> the final forward and
backward states, concatenated -> ReLU dense layer -> logits. For sentence pairs, their siamese model: one
encoder shared by both sentences, the pair represented as [h1, h2, h1 * h2, |h1 - h2|] before the dense layer.

Also here: batched logits of id lists (`bilstm_logits`), the student's tokenizer (text -> word ids), padding,
save/load of a student directory (`config.json`, `vocab.txt`, `model.pt`), and a lean inference path (`fold` +
`folded_logits`) that gives the same logits as `BiLSTMClassifier.forward` with less work per token.

Shapes: B batch, L words, E embedding width, H hidden size per direction, F dense width, C classes.
"""

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from src.data.examples import all_texts

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIALS = (PAD, UNK, MASK)  # ids 0, 1, 2
PAD_ID, UNK_ID = 0, 1
TOKENIZERS = ("jieba", "char", "whitespace", "teacher")


@dataclass
class BiLSTMConfig:
    vocab_size: int
    num_labels: int
    embedding_dim: int = 300
    hidden_size: int = 150
    fc_dim: int = 200
    dropout: float = 0.1
    pair: bool = False  # the siamese model of sentence pairs


def pair_features(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """Tang et al.'s siamese pair representation f(h1, h2) = [h1, h2, h1 * h2, |h1 - h2|]: (B, D) each ->
    (B, 4D)."""
    return torch.cat([h1, h2, h1 * h2, (h1 - h2).abs()], dim=-1)


class BiLSTMClassifier(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(config.embedding_dim, config.hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear((8 if config.pair else 2) * config.hidden_size, config.fc_dim)
        self.classifier = nn.Linear(config.fc_dim, config.num_labels)

    def encode(self, input_ids, lengths):
        """input_ids: (B, L) padded with 0; lengths: (B,) real lengths, each >= 1. Returns h (B, 2H): the final
        forward and backward states."""
        x = self.dropout(self.embedding(input_ids))  # (B, L, E)
        # Packing makes each row's final states those of its own last word, whatever the padding.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n: (2, B, H), forward and backward final states
        return torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, 2H)

    def forward(self, input_ids, lengths, input_ids_b=None, lengths_b=None):
        """Logits (B, C) of texts, or (siamese) of pairs whose second texts are `input_ids_b`, `lengths_b`."""
        h = self.encode(input_ids, lengths)  # (B, 2H)
        if self.config.pair:
            h = pair_features(h, self.encode(input_ids_b, lengths_b))  # (B, 8H)
        h = F.relu(self.fc(self.dropout(h)))  # (B, F)
        return self.classifier(self.dropout(h))  # (B, C)


def id_length(ids) -> int:
    """Words of an encoded text, or of both texts of an encoded pair: the length batches are sorted by."""
    return sum(map(len, ids)) if isinstance(ids, tuple) else len(ids)


def batch_inputs(id_lists: list) -> dict[str, torch.Tensor]:
    """The model's keyword inputs for encoded texts (`input_ids`, `lengths`), or pairs (also `input_ids_b`,
    `lengths_b`), padded with 0."""
    if id_lists and isinstance(id_lists[0], tuple):
        (ids, lengths), (ids_b, lengths_b) = (pad_batch(list(side)) for side in zip(*id_lists))
        return {"input_ids": ids, "lengths": lengths, "input_ids_b": ids_b, "lengths_b": lengths_b}
    ids, lengths = pad_batch(id_lists)
    return {"input_ids": ids, "lengths": lengths}


def bilstm_logits(model: BiLSTMClassifier, id_lists: list, batch_size: int = 256) -> torch.Tensor:
    """Logits (N, C) of `forward` in eval mode for encoded texts or pairs, on the model's device, in input order.

    They are sorted by length before batching so that each batch pads little.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(id_lists)), key=lambda i: id_length(id_lists[i]))
    out = torch.empty(len(id_lists), model.config.num_labels)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            inputs = batch_inputs([id_lists[i] for i in idx])
            out[idx] = model(**{k: v.to(device) for k, v in inputs.items()}).float().cpu()
    return out


# ----------------------------------------------------------------------------
# Lean inference: fold the embeddings into the LSTM's input projection

def fold(model):
    """Precompute, for every word, its input-to-gate contribution x W_ih^T + b_ih + b_hh per direction.

    At inference that product is then a table lookup and only the recurrent h W_hh^T remains per step.
    Gates are reordered from PyTorch's (i, f, g, o) to (i, f, o, g) so one sigmoid covers three of them.
    Returns a dict of tensors for `folded_logits`; refold after the weights change.
    """
    lstm, H = model.lstm, model.config.hidden_size
    order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
    with torch.no_grad():
        emb = model.embedding.weight  # (V, E)
        tables, w_hh = [], []
        for sfx in ("", "_reverse"):
            w_ih = getattr(lstm, f"weight_ih_l0{sfx}")[order]  # (4H, E)
            bias = (getattr(lstm, f"bias_ih_l0{sfx}") + getattr(lstm, f"bias_hh_l0{sfx}"))[order]  # (4H,)
            tables.append(emb @ w_ih.T + bias)  # (V, 4H)
            w_hh.append(getattr(lstm, f"weight_hh_l0{sfx}")[order].T)  # (H, 4H)
        # table (2, V, 4H), w_hh (2, H, 4H)
        return {"table": torch.stack(tables).contiguous(), "w_hh": torch.stack(w_hh).contiguous(),
                "fc": (model.fc.weight.detach().clone(), model.fc.bias.detach().clone()),
                "classifier": (model.classifier.weight.detach().clone(), model.classifier.bias.detach().clone())}


@torch.inference_mode()
def folded_logits(folded, input_ids, lengths, input_ids_b=None, lengths_b=None):
    """Same logits as `BiLSTMClassifier.forward` in eval mode, from `fold(model)`; CPU tensors."""
    h = folded_encode(folded, input_ids, lengths)  # (B, 2H)
    if input_ids_b is not None:
        h = pair_features(h, folded_encode(folded, input_ids_b, lengths_b))  # (B, 8H)
    hidden = F.relu(F.linear(h, *folded["fc"]))  # (B, F)
    return F.linear(hidden, *folded["classifier"])  # (B, C)


@torch.inference_mode()
def folded_encode(folded, input_ids, lengths):
    """`BiLSTMClassifier.encode` in eval mode from `fold(model)`: h (B, 2H), in input order.

    Rows are sorted longest first so that at step t the rows still running are a prefix [:n_t]; the
    backward direction reads each row reversed within its own length, so both directions run together.
    """
    lengths, order = lengths.sort(descending=True)
    input_ids = input_ids[order]
    B, L = input_ids.shape
    H = folded["w_hh"].shape[1]
    steps = torch.arange(L)
    rev = (lengths[:, None] - 1 - steps[None, :]).clamp(min=0)  # (B, L) index of the t-th word from the end
    table = folded["table"]
    gx = torch.stack([table[0][input_ids], table[1][input_ids.gather(1, rev)]])  # (2, B, L, 4H)
    h = gx.new_zeros(2, B, H)
    c = gx.new_zeros(2, B, H)
    running = (lengths[None, :] > steps[:, None]).sum(1).tolist()  # rows still running at each step
    for t, n in enumerate(running):
        gates = torch.baddbmm(gx[:, :n, t], h[:, :n], folded["w_hh"])  # (2, n, 4H)
        ifo = gates[..., :3 * H].sigmoid()
        c_new = ifo[..., H:2 * H] * c[:, :n] + ifo[..., :H] * gates[..., 3 * H:].tanh()  # (2, n, H)
        c[:, :n] = c_new
        h[:, :n] = ifo[..., 2 * H:] * c_new.tanh()
    return torch.cat([h[0], h[1]], dim=-1)[order.argsort()]  # (B, 2H)


def fast_predictor(model, tokenizer):
    """texts (or pairs) -> logits (B, C) through the folded LSTM, tokenisation included: the student's CPU
    serving path."""
    folded = fold(model)
    return lambda texts: folded_logits(folded, **batch_inputs(tokenizer.encode(texts)))


# ----------------------------------------------------------------------------
# Tokenization and vocabulary

def _split_mask(text):
    """Pieces of a text around the literal [MASK] of augmented examples, the [MASK]s kept as pieces."""
    if MASK not in text:
        return [text]
    parts = text.split(MASK)
    return [p for part in parts for p in (part, MASK)][:-1]


def _tokenize_piece(kind, piece):
    if piece == MASK:
        return [MASK]
    if kind == "whitespace":
        return piece.lower().split()
    if kind == "char":
        return [ch for ch in piece.lower() if not ch.isspace()]
    import jieba

    return [w for w in jieba.lcut(piece.lower()) if w.strip()]


def tokenize(kind, texts, teacher_tokenizer=None):
    """Token lists of texts: jieba words, characters, lower-cased whitespace words, or the teacher's pieces."""
    if kind == "teacher":
        ids = teacher_tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        return [teacher_tokenizer.convert_ids_to_tokens(x) for x in ids]
    return [[tok for piece in _split_mask(text) for tok in _tokenize_piece(kind, piece)] for text in texts]


def token_counts(kind, inputs, teacher_tokenizer=None, chunk=4096) -> tuple[Counter, np.ndarray]:
    """How often each token occurs in `inputs` (any sequence of texts or pairs), and each text's number of tokens
    (a pair's texts one after the other), tokenized `chunk` inputs at a time: the token lists are not kept, so
    memory grows with the vocabulary, not with the inputs."""
    counts, lengths = Counter(), []
    for start in range(0, len(inputs), chunk):
        tokens = tokenize(kind, all_texts(inputs[start:start + chunk]), teacher_tokenizer)
        counts.update(tok for t in tokens for tok in t)
        lengths.append(np.fromiter(map(len, tokens), dtype=np.int32, count=len(tokens)))
    return counts, np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32)


def build_vocab(counts: Counter, min_freq=1):
    """[PAD], [UNK], [MASK], then the tokens counted at least `min_freq` times, most frequent first."""
    words = sorted((w for w, n in counts.items() if n >= min_freq and w not in SPECIALS), key=lambda w: (-counts[w], w))
    return list(SPECIALS) + words


class StudentTokenizer:
    """Texts -> lists of student word ids, truncated to `max_seq_length` words; an empty text gets [UNK]."""

    def __init__(self, kind, vocab, max_seq_length, teacher_tokenizer=None):
        self.kind, self.vocab, self.max_seq_length = kind, vocab, max_seq_length
        self.teacher_tokenizer = teacher_tokenizer
        self.index = {w: i for i, w in enumerate(vocab)}
        if kind == "teacher":
            # teacher id -> student id in one array lookup, [UNK] where the student vocab lacks the piece
            self.id_map = np.full(len(teacher_tokenizer), UNK_ID, dtype=np.int64)
            for piece, i in teacher_tokenizer.get_vocab().items():
                self.id_map[i] = self.index.get(piece, UNK_ID)

    def encode(self, texts):
        """Lists of word ids of texts, or (ids_a, ids_b) of pairs, each text cut to `max_seq_length`."""
        if texts and isinstance(texts[0], tuple):
            return list(zip(*(self.encode(list(side)) for side in zip(*texts))))
        L = self.max_seq_length
        if self.kind == "teacher":
            ids = self.teacher_tokenizer(texts, add_special_tokens=False, truncation=True, max_length=L,
                                         verbose=False)["input_ids"]
            return [self.id_map[x].tolist() or [UNK_ID] for x in ids]
        get = self.index.get
        return [[get(w, UNK_ID) for w in tokens[:L]] or [UNK_ID] for tokens in tokenize(self.kind, texts)]


def pad_batch(id_lists):
    """(input_ids (B, L) padded with 0, lengths (B,)) from lists of ids."""
    lengths = np.fromiter((len(x) for x in id_lists), dtype=np.int64, count=len(id_lists))
    ids = np.zeros((len(id_lists), lengths.max()), dtype=np.int64)
    for row, x in zip(ids, id_lists):
        row[:len(x)] = x
    return torch.from_numpy(ids), torch.from_numpy(lengths)


# ----------------------------------------------------------------------------
# Student directory: config.json (model config, tokenizer kind, labels), vocab.txt, model.pt

def save_student(path, model, tokenizer, labels):
    os.makedirs(path, exist_ok=True)
    meta = {"model": asdict(model.config), "tokenizer": tokenizer.kind, "max_seq_length": tokenizer.max_seq_length,
            "labels": labels, "text_pair": model.config.pair}
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(tokenizer.vocab) + "\n")
    torch.save(model.state_dict(), os.path.join(path, "model.pt"))
    if tokenizer.kind == "teacher":
        tokenizer.teacher_tokenizer.save_pretrained(os.path.join(path, "teacher_tokenizer"))


def load_student_tokenizer(path: str) -> tuple[StudentTokenizer, list[str], dict]:
    """(StudentTokenizer, label names, model config dict) of a directory written by `save_student`; no weights."""
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        meta = json.load(f)
    with open(os.path.join(path, "vocab.txt"), encoding="utf-8", newline="\n") as f:
        vocab = f.read().split("\n")[:-1]
    teacher_tokenizer = None
    if meta["tokenizer"] == "teacher":
        from transformers import AutoTokenizer

        teacher_tokenizer = AutoTokenizer.from_pretrained(os.path.join(path, "teacher_tokenizer"))
    return StudentTokenizer(meta["tokenizer"], vocab, meta["max_seq_length"], teacher_tokenizer), meta["labels"], \
        meta["model"]


def load_student(path: str, device: str = "cpu") -> tuple[BiLSTMClassifier, StudentTokenizer, list[str]]:
    """(model in eval mode, StudentTokenizer, label names) from a directory written by `save_student`."""
    tokenizer, labels, config = load_student_tokenizer(path)
    model = BiLSTMClassifier(BiLSTMConfig(**config))
    model.load_state_dict(torch.load(os.path.join(path, "model.pt"), map_location=device, weights_only=True))
    return model.to(device).eval(), tokenizer, labels
