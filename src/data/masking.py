"""Masked-LM training data: which word pieces begin a word, and BERT's masking (15 % of the words or word
pieces; of those pieces 80 % become [MASK], 10 % a random piece, 10 % stay)."""

import torch

from src.data.examples import is_cjk, is_cjk_char


def _jieba_word_starts(line: str) -> set[int]:
    import jieba

    return {start for _, start, _ in jieba.tokenize(line)}


def word_pieces(tokenizer, lines: list[str], whole_word: bool) -> tuple[list[list[int]], list[list[int]]]:
    """Word-piece ids of each line (no special tokens) and, per piece, 1 where it begins a word.

    Without `whole_word` every piece counts as a word. With it, a piece continues the word before it when
    it is a `##` continuation, or, in a Chinese line, when it is a character inside a jieba word (Chinese
    BERT-wwm's whole-word masking), so that a masked word is hidden entirely.
    """
    enc = tokenizer(lines, add_special_tokens=False, return_offsets_mapping=bool(whole_word), verbose=False)
    if not whole_word:
        return enc["input_ids"], [[1] * len(ids) for ids in enc["input_ids"]]
    starts = []
    for line, ids, offsets in zip(lines, enc["input_ids"], enc["offset_mapping"]):
        begins = _jieba_word_starts(line) if is_cjk(line) else None
        tokens = tokenizer.convert_ids_to_tokens(ids)
        starts.append([0 if tok.startswith("##") or (begins is not None and is_cjk_char(line[a]) and a not in begins)
                       else 1 for tok, (a, _) in zip(tokens, offsets)])
    return enc["input_ids"], starts


def mask_tokens(input_ids: torch.Tensor, word_start: torch.Tensor, special: torch.Tensor, mask_id: int,
                vocab_size: int, p: float = 0.15, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of a padded batch: each word is chosen with probability p (all its pieces together);
    a chosen piece becomes [MASK] with probability 0.8, a random piece with 0.1, and stays with 0.1.

    input_ids, word_start (1 where a piece begins a word), special (True for [CLS]/[SEP]/[PAD]): (B, L).
    Returns (inputs, labels): labels hold the original id at chosen pieces and -100 elsewhere. At least one
    piece of the batch is chosen, so the loss is defined.
    """
    B, L = input_ids.shape
    draw = torch.rand(B, L, generator=generator)
    start_of = (torch.arange(L).expand(B, L) * word_start).cummax(dim=1).values  # (B, L) its word's first piece
    chosen = (draw < p).gather(1, start_of) & ~special
    if not chosen.any():
        chosen[(~special).nonzero()[0].unbind()] = True
    labels = input_ids.masked_fill(~chosen, -100)
    how = torch.rand(B, L, generator=generator)
    inputs = input_ids.masked_fill(chosen & (how < 0.8), mask_id)
    random_ids = torch.randint(vocab_size, (B, L), generator=generator)
    swap = chosen & (how >= 0.8) & (how < 0.9)
    return torch.where(swap, random_ids, inputs), labels


def mlm_batch(features: list[dict], pad_id: int, mask_id: int, vocab_size: int, special_ids: list[int],
              p: float = 0.15, generator: torch.Generator | None = None) -> dict:
    """Pad packed features (input_ids, token_type_ids, attention_mask, and word_start, where absent every
    piece begins a word: masking by pieces) and mask them: a masked-LM batch with `labels`."""
    L = max(len(f["input_ids"]) for f in features)
    pad = {"input_ids": pad_id, "token_type_ids": 0, "attention_mask": 0, "word_start": 1}
    batch = {k: torch.tensor([f[k] + [v] * (L - len(f[k])) for f in features]) for k, v in pad.items()
             if k in features[0]}
    word_start = batch.pop("word_start", torch.ones_like(batch["input_ids"]))
    special = torch.isin(batch["input_ids"], torch.tensor(special_ids))
    batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], word_start, special, mask_id, vocab_size, p,
                                                      generator)
    return batch
