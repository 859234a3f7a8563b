import random
from collections import Counter

from src.augment import (MASK, augment_corpus, join_words, mask_and_replace, pos_unigrams, sample_ngram, sample_word,
                         tag_words)


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
    out = augment_corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.5)
    assert len(out) == len(set(out)) and not set(out) & set(texts)
    assert 0 < len(out) <= 20 * len(texts)
    assert any(MASK in t for t in out) and any(len(t.split()) < 3 for t in out)
    # nothing can change: no new texts at all
    assert augment_corpus(random.Random(0), tagged, False, n_iter=5, p_mask=0.0, p_pos=0.0, p_ng=0.0) == []
    # reproducible from the seed
    assert out == augment_corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3, p_ng=0.5)
    # a dev or test text that an n-gram happens to rebuild never enters training
    held_out = {t for t in out if len(t.split()) <= 2}  # short n-grams, as a dev text may be
    assert held_out and not held_out & set(augment_corpus(random.Random(0), tagged, False, n_iter=20, p_mask=0.3,
                                                          p_ng=0.5, exclude=held_out))


def test_chinese_words_are_joined_keeping_latin_words_apart():
    words, _ = tag_words("iPhone 12 Pro 拍照效果 not bad", cjk=True)
    assert join_words(words, cjk=True) == "iPhone 12 Pro拍照效果not bad"  # one space less, no word glued
    assert join_words([MASK, "12", "拍照", MASK, "好"], cjk=True) == "[MASK] 12拍照[MASK]好"
    assert join_words(["a", "bad", "plot"], cjk=False) == "a bad plot"
