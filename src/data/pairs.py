"""New sentence pairs for a pair task's transfer set, built from the task's own sentences, for the teacher to
label: Tang et al.'s answer to a small training set is many inputs the teacher labels, and rewriting one
sentence of a training pair (their section 3.3) leaves the pairs close to the training ones. These kinds of
pair spread the teacher's outputs over their whole range:

- `neighbours`: a sentence with one of its nearest others (cosine of character 1-3-gram TF-IDF vectors): pairs
  that look alike, where paraphrase and similarity scores are high or hard to tell;
- `random`: two sentences drawn at random: the unrelated end;
- `swapped`: a training pair with its two texts swapped (a BERT teacher reads the pair in order, so its
  output differs, and a siamese student sees both orders);
- `variants`: a sentence with a rewritten copy of itself (Tang et al.'s masking and, for Chinese, POS-guided
  replacement): near-duplicates.

None of the new pairs is a training pair, a held-out (dev or test) pair or a repeat.
"""

import random
from collections.abc import Callable, Sequence

import numpy as np

from src.common.cli import InputError, non_negative
from src.data.augment import augment_example, join_words, pos_unigrams, tag_words
from src.data.examples import input_key, is_cjk

PAIR_KINDS = ("neighbours", "random", "swapped", "variants")
NEIGHBOURS = 5  # each sentence is paired with one of its 5 nearest others
MAX_TRIES = 20  # draws per wanted pair of a kind before it stops short (a small pool has few new pairs)


def parse_kinds(text: str) -> list[str]:
    """'neighbours,random' -> ['neighbours', 'random']; an unknown kind is an InputError."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds or set(kinds) - set(PAIR_KINDS):
        raise InputError(f"--pair_kinds takes a comma-separated subset of {', '.join(PAIR_KINDS)}, got {text!r}")
    return kinds


def sentence_pool(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Every distinct sentence of `pairs`, in order of first appearance."""
    return list(dict.fromkeys(s for pair in pairs for s in pair if s))


def nearest_neighbours(sentences: list[str], k: int = NEIGHBOURS, max_cells: int = 2**24) -> np.ndarray:
    """(n, k) indices of each sentence's k most similar other sentences by the cosine of their character 1-3-gram
    TF-IDF vectors (language-independent: Chinese needs no word splitter), a chunk of rows at a time whose dense
    similarities hold at most `max_cells` floats (128 MB)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit_transform(sentences)
    k, chunk = min(k, len(sentences) - 1), max(1, min(2048, max_cells // len(sentences)))
    out = np.empty((len(sentences), k), dtype=np.int64)
    for start in range(0, len(sentences), chunk):
        sims = (vectors[start:start + chunk] @ vectors.T).toarray()  # (c, n), rows L2-normalised: cosines
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -1.0  # never itself
        out[start:start + len(sims)] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return out


def variant_maker(pool: list[str], cjk: bool, p_mask: float = 0.1, p_pos: float = 0.1) -> Callable:
    """`variant(rng, sentence)`: the sentence with Tang et al.'s masking (and for Chinese POS-guided replacement,
    by the pool's same-tag word frequencies) applied to each word."""
    unigrams = pos_unigrams(tag_words(s, cjk) for s in pool) if cjk else {}

    def variant(rng: random.Random, sentence: str) -> str:
        words, tags = tag_words(sentence, cjk)
        return join_words(augment_example(rng, words, tags, unigrams, p_mask, p_pos, 0.0, (1, 1)), cjk)

    return variant


def new_pairs(pairs: Sequence[tuple[str, str]], size: int, kinds: Sequence[str], seed: int, cjk: bool,
              exclude: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """`size` new pairs from the sentences of `pairs`, in equal shares of `kinds` (the first kinds take the
    remainder), drawn with `seed`. A kind that runs out of new pairs (`swapped` has at most one per training
    pair) stops short. Returns the pairs, kind after kind."""
    rng, pool = random.Random(seed), sentence_pool(pairs)
    if len(pool) < 2:
        return []
    seen = {input_key(p) for p in (*pairs, *exclude)}
    neighbours = nearest_neighbours(pool) if "neighbours" in kinds else None
    variant = variant_maker(pool, cjk) if "variants" in kinds else None

    def draw(kind: str) -> tuple[str, str]:
        if kind == "neighbours":
            i = rng.randrange(len(pool))
            return pool[i], pool[neighbours[i, rng.randrange(neighbours.shape[1])]]
        if kind == "random":
            a, b = rng.sample(pool, 2)
            return a, b
        if kind == "swapped":
            a, b = pairs[rng.randrange(len(pairs))]
            return b, a
        sentence = rng.choice(pool)
        return sentence, variant(rng, sentence)

    out = []
    for i, kind in enumerate(kinds):
        wanted = size // len(kinds) + (i < size % len(kinds))
        made = 0
        for _ in range(MAX_TRIES * wanted):
            if made == wanted:
                break
            pair = draw(kind)
            if all(pair) and pair[0] != pair[1] and (key := input_key(pair)) not in seen:
                seen.add(key)
                out.append(pair)
                made += 1
    return out


def add_pair_transfer_args(p) -> None:
    """The flags of the students' scripts that grow a pair task's transfer set with new pairs."""
    p.add_argument("--pair_transfer", type=non_negative(float), default=0.0,
                   help="pair tasks: add this many times the training pairs as new pairs built from the task's own "
                        "sentences, which the teacher labels (src/data/pairs.py; 0: none)")
    p.add_argument("--pair_kinds", default=",".join(PAIR_KINDS),
                   help="the kinds of new pair, in equal shares: a subset of " + ", ".join(PAIR_KINDS))


def check_pair_transfer_args(p, args) -> None:
    """Parse --pair_kinds, refusing an unknown kind in argparse's one line."""
    try:
        args.pair_kinds = parse_kinds(args.pair_kinds)
    except InputError as e:
        p.error(str(e))


def pair_transfer(args, train: Sequence, exclude: Sequence, source: str) -> list[tuple[str, str]]:
    """The new pairs --pair_transfer asks for (none when 0), from the training pairs `train`, none of them an
    `exclude` input; single texts (`source` names their file) are an InputError."""
    if not args.pair_transfer:
        return []
    if not train or isinstance(train[0], str):
        raise InputError(f"--pair_transfer builds sentence pairs, but {source} holds single texts")
    pairs = [x for x in train if isinstance(x, tuple)]
    cjk = is_cjk("".join(s for pair in pairs[:500] for s in pair))
    return new_pairs(pairs, round(args.pair_transfer * len(pairs)), args.pair_kinds, args.seed, cjk,
                     [x for x in exclude if isinstance(x, tuple)])
