"""TinyBERT data augmentation on a tiny random masked LM: candidates, stop words, Chinese whole words,
batched == one-at-a-time, bf16, per-example random draws, the missing-MLM-head fallback, the warning for a masked
LM that has not learned the texts' language, and the script end to end with its summary line, in one process and
under torchrun."""

import copy
import os
import random

import jieba
import pytest
import torch

from src import pretrain_mlm
from src.data import chunks
from src.data.examples import Example, is_cjk, write_examples
from src.data.reading import read_examples
from src.tinybert import data_augmentation as da
from tests.tiny import VOCAB, torchrun, toy_examples, write_tiny_bert, write_toy_data, write_toy_pairs

EN = ["the movie was very good .", "this film is really bad , but the music was good !"]
ZH = ["这个电影的音乐非常好", "我们的故事很坏", "演员真是好"]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("mlm") / "mlm", arch="mlm")


@pytest.fixture(scope="module")
def augmenter(tiny_mlm):
    return da.Augmenter(tiny_mlm, M=5)


def test_split_words_keeps_text_and_skips_stop_words():
    segments, idx = da.split_words("This film, it's GOOD!")
    assert "".join(segments) == "This film, it's GOOD!"
    assert [segments[i] for i in idx] == ["film", "GOOD"]  # 'this' and "it's" parts are stop words
    segments, idx = da.split_words("这个电影的音乐非常好")
    assert "".join(segments) == "这个电影的音乐非常好"
    assert "的" not in [segments[i] for i in idx] and "电影" in [segments[i] for i in idx]
    # negations are never replaced: Chinese compounds (不好, 没意思) and English words in a Chinese text
    segments, idx = da.split_words("这部电影不好，没意思，not good")
    assert {"不好", "没意思", "not"} <= set(segments) and [segments[i] for i in idx] == ["这部", "电影", "good"]
    segments, idx = da.split_words("I cannot say nothing good")
    assert [segments[i] for i in idx] == ["say", "good"]


def augmented_rows(augmenter, examples, N, p, batch_size, seed):
    """The originals, then every example's variants, in memory (what the output file holds)."""
    variants = da.augment_batches(augmenter, examples, range(0, len(examples), batch_size), N, p, batch_size, seed)
    return examples + [row for rows in variants for row in rows]


def test_english_variants(augmenter):
    assert augmenter.has_mlm
    examples = [Example(t, str(i)) for i, t in enumerate(EN)]
    rows = augmented_rows(augmenter, examples, N=6, p=0.5, batch_size=2, seed=0)
    assert rows[:2] == examples
    for ex in examples:
        variants = [r.text for r in rows[2:] if r.label == ex.label]
        assert 1 <= len(variants) <= 6 and len(set(variants)) == len(variants) and ex.text not in variants
        words = ex.text.split()
        for v in variants:
            assert len(v.split()) == len(words)
            for w, new in zip(words, v.split()):
                if w in da.STOP_WORDS_EN or not w.isalnum():
                    assert new == w
    assert augmented_rows(augmenter, examples, 6, 0.5, 2, seed=0) == rows  # fixed seed, same output


def test_chinese_whole_word_candidates_are_dictionary_words(augmenter):
    jieba.dt.initialize()
    for (segments, cands), text in zip(augmenter.candidates(ZH), ZH):
        assert "".join(segments) == text and cands
        for i, words in cands.items():
            assert segments[i] not in da.STOP_WORDS_ZH and len(words) <= 5
            for w in words:
                assert len(w) == len(segments[i]) and w != segments[i] and da.is_cjk_word(w)
                if len(w) > 1:  # whole-word masking: a real word, not a garbled character string
                    assert jieba.dt.FREQ.get(w, 0) > 0
        assert any(len(segments[i]) > 1 for i in cands)
    segments, cands = augmenter.candidates(ZH[:1])[0]
    variants = da.apply_replacements(segments, cands, da.draw_replacements(list(cands), 5, 0.5, random.Random(0)))
    assert variants and all(is_cjk(v) and "的" in v for v in variants)


def test_a_word_is_not_its_own_candidate_in_a_cased_vocabulary(augmenter):
    cased = copy.copy(augmenter)
    good, lower = augmenter.ok_en.nonzero()[:2, 0].tolist()  # two allowed pieces, renamed as a cased vocab has them
    cased.vocab = list(augmenter.vocab)
    cased.vocab[good], cased.vocab[lower] = "Good", "good"
    scores = torch.zeros(1, len(cased.vocab))
    scores[0, good], scores[0, lower] = 2.0, 1.0  # the word first, its lower case second
    picked = cased._pick("Good", scores)
    assert len(picked) == cased.M and not {"Good", "good"} & set(picked)


def test_batched_equals_one_at_a_time(tiny_mlm, augmenter):
    single = da.Augmenter(tiny_mlm, M=5, mlm_batch_size=1)
    sentences = EN + ZH
    assert [c for _, c in augmenter.candidates(sentences)] == [c for _, c in single.candidates(sentences)]
    examples = [Example(t, "1") for t in sentences]
    assert augmented_rows(augmenter, examples, 4, 0.4, 5, 1) == augmented_rows(single, examples, 4, 0.4, 1, 1)


def candidates_and_encoder_dtype(aug, sentences):
    """The candidates of `sentences`, and the dtype the encoder's first feed-forward layer computed in."""
    dtypes = []
    hook = aug.model.base_model.encoder.layer[0].output.dense.register_forward_hook(
        lambda module, inputs, output: dtypes.append(output.dtype))
    found = [c for _, c in aug.candidates(sentences)]
    hook.remove()
    return found, dtypes[0]


def test_bf16_runs_the_encoder_in_bfloat16_and_keeps_most_candidates(tiny_mlm, augmenter):
    reference, dtype = candidates_and_encoder_dtype(augmenter, EN + ZH)
    found, dtype_bf16 = candidates_and_encoder_dtype(da.Augmenter(tiny_mlm, M=5, bf16=True), EN + ZH)
    assert dtype == torch.float32 and dtype_bf16 == torch.bfloat16
    pairs = [(set(a[i]), set(b.get(i, []))) for a, b in zip(reference, found) for i in a]
    assert sum(len(a & b) for a, b in pairs) >= 0.7 * sum(len(a) for a, _ in pairs)  # near-ties may swap


def test_draws_pick_words_with_probability_p_and_candidates_by_u():
    attempts = da.draw_replacements(range(10), N=2000, p=0.3, rng=random.Random(0))
    assert 0.28 < sum(map(len, attempts)) / 20000 < 0.32
    assert all(0 <= u < 1 for a in attempts for u in a.values())
    segments = ["good", " ", "film"]
    variants = da.apply_replacements(segments, {0: ["bad", "fine"]}, [{0: 0.7, 2: 0.1}, {0: 0.2}, {}, {0: 0.6}])
    assert variants == ["fine film", "bad film"]  # u picks candidate int(u * 2); 'film' has none; no repeats


def test_only_the_words_an_attempt_replaces_get_candidates(augmenter, monkeypatch):
    asked = []
    real = augmenter.candidates
    def spy(texts, wanted, split):
        asked.extend(wanted)
        return real(texts, wanted, split)

    monkeypatch.setattr(augmenter, "candidates", spy)
    examples = [Example(t, "1") for t in EN + ZH]
    rows = da.augment_batches(augmenter, examples, [0], N=1, p=0.4, batch_size=5, seed=2)
    replaceable = sum(len(da.split_words(t)[1]) for t in EN + ZH)
    assert 0 < sum(map(len, asked)) < replaceable and any(rows)
    # computing every word's candidates first, as the reference does, gives the same variants
    draws = [da.draw_replacements(da.split_words(t)[1], 1, 0.4, random.Random(f"2:{k}")) for k, t in enumerate(EN + ZH)]
    expected = [da.apply_replacements(s, c, d) for (s, c), d in zip(real(EN + ZH), draws)]
    assert [[r.text for r in variants] for variants in rows] == expected


def test_variants_of_an_example_do_not_depend_on_the_examples_before_it(augmenter):
    examples = [Example(t, str(i)) for i, t in enumerate(EN + ZH)]
    full = da.augment_batches(augmenter, examples, [0, 2, 4], N=4, p=0.5, batch_size=2, seed=3)
    later = da.augment_batches(augmenter, examples, [2, 4], N=4, p=0.5, batch_size=2, seed=3)  # 0 and 1 left out
    assert later == full[2:] and all(later)


def untrained_warnings(caplog, augmenter, model_name, texts):
    """The WARNING lines `warn_if_mlm_untrained` logs for `texts`."""
    caplog.clear()
    da.warn_if_mlm_untrained(augmenter, model_name, texts, "data/toy")
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("WARNING:")]


def test_missing_mlm_head_falls_back_to_embedding_neighbours_and_warns(tmp_path, caplog):
    classifier = write_tiny_bert(tmp_path / "clf")  # a BERT without a masked-LM head
    aug = da.Augmenter(classifier, M=3)
    assert not aug.has_mlm
    # the vocabulary covers the texts (0 % unknown): the created head alone is worth the warning
    [line] = untrained_warnings(caplog, aug, classifier, EN)
    assert "no trained masked-LM head (missing cls.predictions." in line and "its input embeddings" in line
    assert " 0.0% of the texts' word pieces" in line and "bert-base-uncased for English" in line
    assert "corpus_zh" not in line  # English texts: no Chinese pretraining command
    # a missing head and unknown texts: still one line
    assert len(untrained_warnings(caplog, aug, classifier, ["cinema opera"])) == 1
    (segments, cands), = aug.candidates(["the movie was very good ."])
    assert cands and all(w in aug.vocab and w.isalpha() for words in cands.values() for w in words)
    # the script says it once, before augmenting, with the task's directory in the command
    caplog.clear()
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", classifier, "--data_dir",
             write_toy_data(tmp_path / "toy", n_train=4, lang="zh"), "--N", "1", "--no_cuda"])
    [line] = [r.getMessage() for r in caplog.records if "WARNING" in r.getMessage()]
    assert f"--data_dir {tmp_path / 'toy'} && python src/pretrain_mlm.py" in line


def test_mostly_unknown_texts_warn_and_covered_texts_do_not(caplog, augmenter, tiny_mlm):
    assert untrained_warnings(caplog, augmenter, tiny_mlm, EN + ZH) == []  # a loaded head, every piece known
    [line] = untrained_warnings(caplog, augmenter, tiny_mlm, ["the cinema", "opera ballet"])  # 3 of 4 pieces [UNK]
    assert "its masked-LM head was loaded" in line and " 75.0% of the texts' word pieces" in line
    # the threshold: 1 [UNK] in 20 pieces is 5 %, not above it; 1 in 19 is
    assert untrained_warnings(caplog, augmenter, tiny_mlm, [" ".join(["good"] * 19 + ["cinema"])]) == []
    [line] = untrained_warnings(caplog, augmenter, tiny_mlm, [" ".join(["good"] * 18 + ["cinema"])])
    assert " 5.3% of the texts' word pieces" in line


def test_added_tokens_count_as_unknown_until_pretrain_mlm_trains_them(tmp_path, caplog):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(text for _, text in toy_examples(40, lang="zh")) + "\n", encoding="utf-8")
    encoder = write_tiny_bert(tmp_path / "encoder", vocab=[w for w in VOCAB if w not in "电影"])
    out = tmp_path / "mlm"
    pretrain_mlm.main(["--bert_model", encoder, "--corpus", str(corpus), "--output_dir", str(out), "--extend_vocab",
                       "--max_seq_length", "32", "--num_train_epochs", "1", "--heldout_lines", "8", "--no_cuda"])
    aug = da.Augmenter(str(out), M=3)
    assert set(aug.tokenizer.get_added_vocab()) >= {"电", "影"} and aug.has_mlm
    assert untrained_warnings(caplog, aug, str(out), ZH) == []  # 电 and 影 were trained with the rest
    os.remove(out / "metrics.json")  # now nothing says that the added 电 and 影 were ever trained
    [line] = untrained_warnings(caplog, aug, str(out), ZH)
    assert " 9.1% of the texts' word pieces" in line  # 电 and 影: 2 of 22 characters


def test_word_vector_neighbours(tmp_path, tiny_mlm):
    path = tmp_path / "vec.txt"
    path.write_text("4 2\ncinema 1 0\ntheater 0.9 0.1\nfilm 0.5 0.5\nsong 0 1\n")
    aug = da.Augmenter(tiny_mlm, glove_embs=str(path), M=2)
    (segments, cands), = aug.candidates(["the cinema was good"])  # 'cinema' is [UNK] for the tiny vocab
    assert cands[2] == ["theater", "film"]


def test_script_writes_train_aug(tmp_path, tiny_mlm, caplog, capsys):
    write_toy_data(tmp_path / "toy", n_train=8)
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "toy",
             "--N", "3", "--M", "4", "--no_cuda"])
    rows = read_examples(os.path.join(tmp_path, "toy", "train_aug.tsv"))
    original = read_examples(os.path.join(tmp_path, "toy", "train.tsv"))
    assert rows[:8] == original and 8 < len(rows) <= 8 * 4
    assert "WARNING" not in caplog.text  # a trained head whose vocabulary covers the texts
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("done: TinyBERT augmentation | ")
    assert f"| train_aug.tsv: 8 original + {len(rows) - 8} augmented rows | " in summary
    assert summary.endswith(f" s | -> {os.path.join(tmp_path, 'toy', 'train_aug.tsv')}")
    assert not os.path.exists(os.path.join(tmp_path, "toy", "train_aug.tsv.tmp"))
    with pytest.raises(SystemExit, match="does not exist"):
        da.main(["--max_seq_length", "64",
                 "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "nope",
                 "--no_cuda"])


def test_unlabeled_texts_are_augmented_too(tmp_path, tiny_mlm, capsys):
    write_toy_data(tmp_path / "toy", n_train=8)
    unlabeled = [Example(text, None) for _, text in toy_examples(6, seed=5)]
    write_examples(os.path.join(tmp_path, "toy", "unlabeled.tsv"), unlabeled)
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "toy",
             "--N", "3", "--M", "4", "--no_cuda"])
    rows = read_examples(os.path.join(tmp_path, "toy", "unlabeled_aug.tsv"), require_label=False)
    assert rows[:6] == unlabeled and 6 < len(rows) <= 6 * 4 and all(ex.label is None for ex in rows)
    [summary] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done: ")]  # one for both
    assert f"| unlabeled_aug.tsv: 6 original + {len(rows) - 6} augmented rows | " in summary
    assert summary.endswith(f"train_aug.tsv, {os.path.join(tmp_path, 'toy', 'unlabeled_aug.tsv')}")
    # the train file is augmented as without unlabeled.tsv: its draws do not depend on the other file
    train_rows = read_examples(os.path.join(tmp_path, "toy", "train_aug.tsv"))
    os.remove(os.path.join(tmp_path, "toy", "unlabeled.tsv"))
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "toy",
             "--N", "3", "--M", "4", "--no_cuda", "--overwrite_output", "--output", str(tmp_path / "alone.tsv")])
    assert read_examples(str(tmp_path / "alone.tsv")) == train_rows
    # the other stages' names work too: --data_dir for the task directory, --overwrite_output_dir
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", tiny_mlm, "--data_dir", str(tmp_path / "toy"), "--N", "3", "--M", "4",
             "--no_cuda", "--overwrite_output_dir", "--output", str(tmp_path / "alone.tsv")])
    assert read_examples(str(tmp_path / "alone.tsv")) == train_rows


@pytest.mark.slow
def test_torchrun_two_processes_write_the_one_process_file(tmp_path, tiny_mlm):
    write_toy_data(tmp_path / "odd", n_train=9)  # 5 chunks of 2 (the last of 1): 3 on rank 0, 2 on rank 1
    common = ["--max_seq_length", "64",
              "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "odd", "--N", "3",
              "--M", "4", "--batch_size", "2", "--chunk_size", "2", "--seed", "7", "--no_cuda"]
    da.main(["--max_seq_length", "64", *common, "--output", str(tmp_path / "one.tsv")])
    torchrun("src/tinybert/data_augmentation.py", *common, "--output", tmp_path / "two.tsv")
    assert len(read_examples(str(tmp_path / "one.tsv"))) > 9
    assert (tmp_path / "two.tsv").read_bytes() == (tmp_path / "one.tsv").read_bytes()


@pytest.mark.parametrize("scores", [False, True], ids=["pairs", "pair_scores"])
def test_pairs_rewrite_each_text_in_turn_keeping_the_other(tmp_path, tiny_mlm, scores):
    """As the authors' code does for pair tasks: variants of the first text with the original second, then of the
    second with the original first; the label (or score) kept; the pair layout written."""
    write_toy_pairs(tmp_path / "pairs", n_train=6, scores=scores)
    da.main(["--max_seq_length", "64",
             "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "pairs",
             "--N", "3", "--M", "4", "--p", "0.6", "--no_cuda"])
    path = os.path.join(tmp_path, "pairs", "train_aug.tsv")
    with open(path, encoding="utf-8") as f:
        assert f.readline() == "label\ttext_a\ttext_b\n"
    rows, original = read_examples(path), read_examples(os.path.join(tmp_path, "pairs", "train.tsv"))
    assert rows[:6] == original and len(rows) > 6
    variants, k = rows[6:], 0
    for ex in original:  # each original's variants follow in order: first texts rewritten, then second texts
        mine = []
        while k < len(variants) and (variants[k].text == ex.text) + (variants[k].text_b == ex.text_b) == 1:
            mine.append(variants[k])
            k += 1
        assert all(v.label == ex.label for v in mine)
        changed = ["b" if v.text == ex.text else "a" for v in mine]
        assert changed == sorted(changed) and changed.count("a") <= 3 and changed.count("b") <= 3
    assert k == len(variants)  # every variant changes exactly one text of its original
    assert {"a", "b"} <= {"b" if v.text in {ex.text for ex in original} else "a" for v in variants}


def test_killed_augmentation_resumes_to_the_same_bytes(tmp_path, tiny_mlm, monkeypatch):
    """A kill after 2 of 5 chunks leaves them in <output>.parts and no output; --resume augments only the 3
    missing chunks and writes the file of a run that was never stopped, byte for byte."""
    write_toy_data(tmp_path / "toy", n_train=9)
    common = ["--max_seq_length", "64",
              "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "toy", "--N", "3",
              "--M", "4", "--batch_size", "2", "--chunk_size", "2", "--seed", "7", "--no_cuda"]
    da.main(["--max_seq_length", "64", *common, "--output", str(tmp_path / "straight.tsv")])
    killed = tmp_path / "killed.tsv"
    real_write, written = da.write_chunk, []

    def write_then_die(parts, i, rows):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(i)
        real_write(parts, i, rows)

    monkeypatch.setattr(da, "write_chunk", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        da.main(["--max_seq_length", "64", *common, "--output", str(killed)])
    assert not killed.exists() and sorted(os.listdir(f"{killed}.parts")) == ["000000.tsv", "000001.tsv", "key.json"]
    with pytest.raises(SystemExit, match=r"^error: \S+killed.tsv.parts holds the chunks of an interrupted run: add "
                                         r"--resume to continue it, or delete it to start again$"):
        da.main(["--max_seq_length", "64", *common, "--output", str(killed)])
    with pytest.raises(SystemExit, match=r"^error: \S+killed.tsv.parts was started with other settings \(N 3 -> 4\): "):
        da.main(["--max_seq_length", "64", *common, "--output", str(killed), "--resume", "--N", "4"])
    written.clear()
    monkeypatch.setattr(da, "write_chunk", lambda parts, i, rows: (written.append(i), real_write(parts, i, rows)))
    da.main(["--max_seq_length", "64", *common, "--output", str(killed), "--resume"])
    assert written == [2, 3, 4] and not os.path.exists(f"{killed}.parts")
    assert killed.read_bytes() == (tmp_path / "straight.tsv").read_bytes()
    written.clear()  # a kill after the output was joined (while a second file was augmented): it is kept as it is
    da.main(["--max_seq_length", "64", *common, "--output", str(killed), "--resume"])
    assert written == [] and killed.read_bytes() == (tmp_path / "straight.tsv").read_bytes()


def test_a_full_disk_is_one_line_and_leaves_no_half_file(tmp_path, tiny_mlm, monkeypatch):
    write_toy_data(tmp_path / "toy", n_train=4)
    out = tmp_path / "aug.tsv"

    def no_space(path, rows):
        with open(path, "w") as f:
            f.write("label\ttext\n1\thalf a ro")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chunks, "write_examples", no_space)
    with pytest.raises(SystemExit, match=r"^error: could not write \S+aug.tsv.parts/000000.tsv: No space left on "
                                         r"device$"):
        da.main(["--max_seq_length", "64",
                 "--pretrained_bert_model", tiny_mlm, "--glue_dir", str(tmp_path), "--task_name", "toy", "--N", "2",
                 "--M", "4", "--no_cuda", "--output", str(out)])
    assert not out.exists() and os.listdir(f"{out}.parts") == ["key.json"]  # no chunk a rerun would take as done
