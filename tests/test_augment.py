import random
from collections import Counter

from src.data.augment import (
    MASK,
    augment_corpus,
    augment_pair,
    join_words,
    mask_and_replace,
    pos_unigrams,
    sample_ngram,
    sample_word,
    tag_words,
)


def corpus(*args, **kwargs):
    return list(augment_corpus(*args, **kwargs))


def test_masking_rate_is_p_mask():
    words = [f"w{i}" for i in range(10_000)]
    out = mask_and_replace(random.Random(0), words, [None] * len(words), {}, p_mask=0.1, p_pos=0.0)
    rate = out.count(MASK) / len(words)
    assert abs(rate - 0.1) < 0.01  # binomial sd is 0.003; the reference's inverted rule would give 0.9
    assert all(o == w for o, w in zip(out, words) if o != MASK)  # unmasked words untouched


def test_pos_replacement_keeps_the_tag():
    sentences = ["这部电影的故事很好，演员也非常棒", "音乐真是难听，剧情也很糟糕", "我们喜欢这个演员的表演"]
    tagged = [tag_words(s, cjk=True) for s in sentences]
    unigrams = pos_unigrams(tagged)
    words, tags = tagged[0]
    assert "n" in tags and len(unigrams["n"][0]) > 2  # several nouns to choose from
    rng = random.Random(0)
    changed = 0
    for _ in range(50):
        out = mask_and_replace(rng, words, tags, unigrams, p_mask=0.0, p_pos=1.0)
        for w, t, o in zip(words, tags, out):
            assert o in unigrams[t][0]  # drawn among the words seen with the same tag
            changed += o != w
    assert changed > 50


def test_same_tag_words_follow_unigram_counts():
    unigrams = pos_unigrams([(["a", "a", "a", "b"], ["x", "x", "x", "x"])])
    rng = random.Random(0)
    counts = Counter(sample_word(rng, unigrams, "x") for _ in range(4000))
    assert abs(counts["a"] / 4000 - 0.75) < 0.03


def test_english_words_have_no_tag_and_are_never_pos_replaced():
    words, tags = tag_words("a good movie", cjk=False)
    assert words == ["a", "good", "movie"] and tags == [None, None, None]
    out = mask_and_replace(random.Random(0), words, tags, pos_unigrams([(words, tags)]), p_mask=0.0, p_pos=1.0)
    assert out == words


def test_ngrams_are_contiguous_sub_spans():
    words = [str(i) for i in range(12)]
    rng = random.Random(0)
    lengths = set()
    for _ in range(300):
        out = sample_ngram(rng, words, (1, 5))
        start = int(out[0])
        assert out == words[start:start + len(out)]
        lengths.add(len(out))
    assert lengths == {1, 2, 3, 4, 5}
    assert sample_ngram(rng, ["x", "y"], (3, 5)) == ["x", "y"]  # capped at the example's length


def test_augment_corpus_deduplicates_and_drops_originals_and_held_out_texts():
    texts = ["the movie was good", "a bad plot", "good"]
    tagged = [tag_words(t, cjk=False) for t in texts]
    out = corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.5)
    assert len(out) == len(set(out)) and not set(out) & set(texts)
    assert 0 < len(out) <= 20 * len(texts)
    assert any(MASK in t for t in out) and any(len(t.split()) < 3 for t in out)
    # nothing can change: no new texts at all
    assert corpus(random.Random(0), tagged, False, n_iter=5, p_mask=0.0, p_pos=0.0, p_ng=0.0) == []
    # reproducible from the seed
    assert out == corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.5)
    # a dev or test text that an n-gram happens to rebuild never enters training
    held_out = {t for t in out if len(t.split()) <= 2}  # short n-grams, as a dev text may be
    assert held_out and not held_out & set(corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3,
                                                          p_ng=0.5, exclude=held_out))


def test_chinese_words_are_joined_keeping_latin_words_apart():
    words, _ = tag_words("iPhone 12 Pro 拍照效果 not bad", cjk=True)
    assert join_words(words, cjk=True) == "iPhone 12 Pro拍照效果not bad"  # one space less, no word glued
    assert join_words([MASK, "12", "拍照", MASK, "好"], cjk=True) == "[MASK] 12拍照[MASK]好"
    assert join_words(["a", "bad", "plot"], cjk=False) == "a bad plot"


def test_a_pair_draw_rewrites_one_sentence_or_both_at_the_authors_rates():
    """augment_paired_data.py's rule: both sentences with probability p_both, else one chosen by a coin flip;
    the other keeps its words, so the pair stays a variant of one training pair."""
    a, b = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(30)]
    pair = ((a, [None] * 30), (b, [None] * 30))
    rng, sides = random.Random(0), Counter()
    for _ in range(3000):
        out_a, out_b = augment_pair(rng, pair, {}, 1 / 3, p_mask=0.5, p_pos=0.0, p_ng=0.0, ngram_range=(1, 5))
        sides[(out_a != a, out_b != b)] += 1
        assert all(w in (MASK, o) for w, o in zip(out_a, a)) and all(w in (MASK, o) for w, o in zip(out_b, b))
    assert sides[(False, False)] == 0  # at half the words masked, a rewritten sentence always changes
    for key, rate in (((True, True), 1 / 3), ((True, False), 1 / 3), ((False, True), 1 / 3)):
        assert abs(sides[key] / 3000 - rate) < 0.03


def test_augment_corpus_of_pairs_keeps_pairs_aligned_and_new():
    pairs = [("the film was good", "it was fine"), ("a bad plot", "terrible acting"), ("good", "fine")]
    tagged = [tuple(tag_words(x, cjk=False) for x in p) for p in pairs]
    out = corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.0, p_both=1 / 3)
    assert out and all(isinstance(p, tuple) and len(p) == 2 and all(p) for p in out)
    assert len(out) == len(set(out)) and not set(out) & set(pairs)

    def masked(variant, text):  # `variant` is `text` with some words masked
        v, t = variant.split(), text.split()
        return len(v) == len(t) and all(x in (MASK, y) for x, y in zip(v, t))

    # each synthetic pair is one training pair with words masked on one side or both, never a mix of two pairs
    assert all(any(masked(x, a) and masked(y, b) for a, b in pairs) for x, y in out)
    assert out == corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.0, p_both=1 / 3)
    held_out = set(out[:5])  # dev or test pairs are never produced
    assert not held_out & set(corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.0,
                                             p_both=1 / 3, exclude=held_out))
    # an n-gram that leaves a side empty is impossible (n >= 1), but an empty text is: such pairs are dropped
    empty = corpus(random.Random(0), [((["x"], [None]), ([], []))], False, n_iter=5, p_mask=1.0, p_both=1.0)
    assert empty == []


def test_pair_pos_replacement_draws_from_both_sentences():
    tagged = [(tag_words("电影很好", cjk=True), tag_words("演员很棒", cjk=True))]
    unigrams = pos_unigrams(w for pair in tagged for w in pair)
    assert {"电影", "演员"} <= set(unigrams["n"][0])
    out = corpus(random.Random(0), tagged, True, n_iter=30, p_mask=0.0, p_pos=1.0, p_ng=0.0, p_both=1.0)
    assert ("演员很好", "电影很棒") in out  # the nouns swapped across the two sentences


def test_the_corpus_may_be_tagged_afresh_on_each_of_its_two_passes():
    texts = ["the film was good", "a bad plot"]

    class Tagged:  # tags on demand, as distill.py does for a large transfer set
        passes = 0

        def __iter__(self):
            Tagged.passes += 1
            return (tag_words(t, cjk=False) for t in texts)

    lazy = corpus(random.Random(0), Tagged(), False, n_iter=10, p_mask=0.3)
    assert Tagged.passes == 2
    assert lazy == corpus(random.Random(0), [tag_words(t, cjk=False) for t in texts], False, n_iter=10, p_mask=0.3)
