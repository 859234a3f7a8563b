"""Data augmentation of Tang et al. (2019), section 3.3, as pure functions that take a `random.Random`.

Each word of an example gets one uniform draw X: X < p_mask masks it, p_mask <= X < p_mask + p_pos
replaces it by a word of the same part-of-speech tag drawn from the corpus's unigram distribution for
that tag (so each happens with its own probability, as in the paper); then, with probability p_ng, the
whole example is cut down to one random n-gram (a contiguous span of n words, n drawn uniformly from
ngram_range). Repeating this n_iter times per example and dropping duplicates gives the synthetic part of
the transfer set; the teacher labels it.

Sentence pairs follow the authors' own augment_paired_data.py (castorini/d-bert); section 3.3 states the
rules for one sentence. Each draw rewrites both sentences with probability
p_both (theirs: 1/3), otherwise one of the two, chosen by a coin flip, while the other stays as it is, so
every synthetic pair is a variant of one training pair. The same-tag words are drawn from both sentences'
words, and a draw where either sentence comes out empty is dropped. Their script samples no n-grams of pairs
(window_prob 0), so `distill.py` turns n-gram sampling off for pairs unless --p_ng is given.

Words and tags: Chinese text is segmented and tagged by `jieba.posseg`. English has no offline tagger in
our requirements, so English words are whitespace words and carry no tag: POS-guided replacement is
skipped for them (`tag_words` returns tags of None) and only masking and n-gram sampling apply.
"""

import bisect
import hashlib
import itertools
from collections import Counter, defaultdict

MASK = "[MASK]"


def tag_words(text, cjk):
    """(words, tags) of a text: jieba.posseg words and tags for Chinese, whitespace words and no tags otherwise."""
    if not cjk:
        words = text.split()
        return words, [None] * len(words)
    import jieba.posseg

    pairs = [(p.word, p.flag) for p in jieba.posseg.lcut(text) if p.word.strip()]
    return [w for w, _ in pairs], [t for _, t in pairs]


def pos_unigrams(tagged):
    """Per tag, the words seen with it and their cumulative counts, for sampling by unigram frequency.

    tagged: iterable of (words, tags). Returns {tag: (words, cumulative_counts)}; untagged words are left out.
    """
    counts = defaultdict(Counter)
    for words, tags in tagged:
        for w, t in zip(words, tags):
            if t is not None:
                counts[t][w] += 1
    return {t: (list(c), list(itertools.accumulate(c.values()))) for t, c in counts.items()}


def sample_word(rng, unigrams, tag):
    """A word drawn from the unigram distribution of words tagged `tag`."""
    words, cum = unigrams[tag]
    return words[bisect.bisect_right(cum, rng.random() * cum[-1])]


def mask_and_replace(rng, words, tags, unigrams, p_mask, p_pos):
    """Per word: [MASK] with probability p_mask, else a same-tag word with probability p_pos, else unchanged."""
    out = []
    for w, t in zip(words, tags):
        x = rng.random()
        if x < p_mask:
            out.append(MASK)
        elif x < p_mask + p_pos and t in unigrams:
            out.append(sample_word(rng, unigrams, t))
        else:
            out.append(w)
    return out


def sample_ngram(rng, words, ngram_range):
    """A random contiguous span of n words, n uniform in ngram_range (inclusive, capped at the length)."""
    n = rng.randint(min(ngram_range[0], len(words)), min(ngram_range[1], len(words)))
    start = rng.randrange(len(words) - n + 1)
    return words[start:start + n]


def augment_example(rng, words, tags, unigrams, p_mask, p_pos, p_ng, ngram_range):
    """One synthetic example (a word list): masking and POS-guided replacement, then n-gram sampling."""
    out = mask_and_replace(rng, words, tags, unigrams, p_mask, p_pos)
    if out and rng.random() < p_ng:
        out = sample_ngram(rng, out, ngram_range)
    return out


def join_words(words, cjk):
    """A text from its words: spaced for English; for Chinese run together, except where two words meet
    with Latin letters or digits (or [MASK]) on both sides, which the source kept apart ("iPhone 12")."""
    if not cjk:
        return " ".join(words)

    def latin(word, at):
        return word == MASK or (word[at].isascii() and word[at].isalnum())

    return "".join((" " if i and latin(words[i - 1], -1) and latin(w, 0) else "") + w for i, w in enumerate(words))


def augment_pair(rng, pair, unigrams, p_both, **rule):
    """One synthetic pair (two word lists) of a pair ((words_a, tags_a), (words_b, tags_b)): both sentences
    rewritten by `augment_example` with probability p_both, else one of them (a coin flip) and the other kept."""
    which, both = rng.random(), rng.random() < p_both
    return tuple(augment_example(rng, words, tags, unigrams, **rule) if both or (which < 0.5) == (i == 0) else words
                 for i, (words, tags) in enumerate(pair))


def augment_corpus(rng, tagged, cjk, n_iter, p_mask=0.1, p_pos=0.1, p_ng=0.25, ngram_range=(1, 5), exclude=(),
                   p_both=None):
    """Synthetic texts for a corpus of (words, tags), or with `p_both` set, synthetic pairs (tuples of two
    texts) for a corpus of pairs of (words, tags) (`augment_pair`): n_iter draws per example, joined by
    `join_words`, yielded one by one. `tagged` is read twice (first the originals and their same-tag words,
    then the draws), so it may be a re-iterable that tags each text afresh instead of a list that holds them.

    Duplicates are dropped, among the draws and against the original examples and `exclude` (the dev and test
    examples, which must not enter training), so the result holds only new ones (at most n_iter per example),
    in a reproducible order; so are pairs with an empty side. They are recognised by 64-bit hashes
    (`text_hash`), so memory holds 8 bytes and a set entry per text, not the text.
    """
    pairs = p_both is not None
    rule = {"p_mask": p_mask, "p_pos": p_pos, "p_ng": p_ng, "ngram_range": ngram_range}

    def join(words_or_pair):
        return tuple(join_words(w, cjk) for w in words_or_pair) if pairs else join_words(words_or_pair, cjk)

    def draw(ex):
        return augment_pair(rng, ex, unigrams, p_both, **rule) if pairs else augment_example(rng, *ex, unigrams, **rule)

    seen = {text_hash(x) for x in exclude}

    def originals():  # the first pass: each original's key, while the same-tag words are counted
        for ex in tagged:
            seen.add(text_hash(join([w for w, _ in ex] if pairs else ex[0])))
            yield from ex if pairs else (ex,)

    unigrams = pos_unigrams(originals())
    for ex in tagged:
        for _ in range(n_iter):
            text = join(draw(ex))
            if (all(text) if pairs else text) and (key := text_hash(text)) not in seen:
                seen.add(key)
                yield text


def text_hash(x) -> int:
    """A 64-bit key of a text or a pair (its texts joined by a tab)."""
    key = x if isinstance(x, str) else "\t".join(x)
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
