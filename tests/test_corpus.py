import pytest

import src.train.encoded
from src import prepare_data
from src.common.cli import InputError
from src.common.files import load_json
from src.data.corpus import corpus_digest, corpus_lines, pack_sequences, split_long
from src.data.masking import word_pieces
from src.data.reading import load_split, read_lines
from src.modeling.bert import load_tokenizer
from src.train.encoded import corpus_to_disk
from tests.tiny import VOCAB, write_tiny_bert, write_toy_data

# different lengths, English and Chinese (jieba's words: word starts of 0), the first longer than a sequence of 12
LINES = ["the film was very good and the story was really good , but the music was bad .", "很好", "good movie",
         "bad plot", "我们非常喜欢这个电影的音乐", "it is", "a"]


def test_short_lines_are_packed_and_long_ones_cut(tiny_bert):
    tokenizer = load_tokenizer(tiny_bert)
    lines = ["good movie", "bad plot", "the film was very good and the story was really good ."]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    pieces, starts = word_pieces(tokenizer, lines, whole_word=False)
    features = list(pack_sequences(zip(pieces, starts), cls, sep, max_seq_length=8))
    ids = [f["input_ids"] for f in features]
    assert all(len(x) <= 8 and x[0] == cls and x[-1] == sep for x in ids)
    # the two short lines share one sequence: [CLS] good movie [SEP] bad plot [SEP]
    assert tokenizer.convert_ids_to_tokens(ids[0]) == ["[CLS]", "good", "movie", "[SEP]", "bad", "plot", "[SEP]"]
    # every word piece of the corpus appears once, in order
    assert [i for x in ids for i in x if i not in (cls, sep)] == [i for line in pieces for i in line]
    assert all(len(f["token_type_ids"]) == len(f["attention_mask"]) == len(f["input_ids"]) for f in features)


def test_corpus_errors(tmp_path):
    with pytest.raises(InputError, match="corpus .* does not exist"):
        list(corpus_lines(str(tmp_path / "none.txt")))
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(InputError, match="has no text"):
        list(corpus_lines(str(tmp_path / "blank.txt")))
    (tmp_path / "latin1.txt").write_bytes("ok\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt is not UTF-8 text \(byte 6: invalid continuation byte\)"):
        list(corpus_lines(str(tmp_path / "latin1.txt")))  # the file's byte, though read a line at a time


def test_corpus_lines_are_read_lines_normalised(tmp_path):
    """Streamed, the lines are those of the whole file read at once: split at \\n, \\r\\n and \\r only,
    whitespace-normalised, blank ones dropped, the BOM gone."""
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeffa  b\r\n\r\nc\rd\u2028e\n \t\n\u3000f\n".encode())
    whole = [line for line in (" ".join(x.split()) for x in read_lines(str(path))) if line]
    assert list(corpus_lines(str(path))) == whole == ["a b", "c", "d e", "f"]
    assert list(corpus_lines(str(path), max_lines=2)) == ["a b", "c"]
    assert corpus_digest(str(path), 2)[0] == 2 and corpus_digest(str(path), 2)[1] != corpus_digest(str(path))[1]


def test_word_starts_travel_with_their_pieces():
    features = list(pack_sequences([([10, 11, 12], [1, 0, 1]), ([13], [1])], cls_id=2, sep_id=3, max_seq_length=16,
                                   word_start=True))
    assert features == [{"input_ids": [2, 10, 11, 12, 3, 13, 3], "token_type_ids": [0] * 7,
                         "attention_mask": [1] * 7, "word_start": [1, 1, 0, 1, 1, 1, 1]}]


@pytest.mark.parametrize("whole_word", [False, True])
def test_streamed_sequences_equal_the_list_path(tmp_path, tiny_bert, whole_word):
    """A corpus streamed a chunk of 3 lines at a time into stores gives the sequences of its lines tokenized and
    packed all at once, word starts included for whole-word masking; a sequence spans the chunk boundary."""
    tokenizer = load_tokenizer(tiny_bert)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(LINES) + "\n\n", encoding="utf-8")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    features = list(pack_sequences(zip(*word_pieces(tokenizer, LINES, whole_word)), cls, sep, 12, whole_word))
    stored = corpus_to_disk(tokenizer, corpus_lines(str(corpus)), {"lines": corpus_digest(str(corpus))[1]}, 12,
                            str(tmp_path / "s"), whole_word, chunk_size=3)
    assert [stored[i] for i in range(len(stored))] == features
    assert stored.lengths().tolist() == [len(f["input_ids"]) for f in features]
    assert stored.meta == {"lines": 7, "sequences": len(features), "tokens": sum(len(f["input_ids"]) for f in features),
                           "token_types": "zeros", "word_start": whole_word}
    assert ["[CLS]", "很", "好", "[SEP]", "good", "movie", "[SEP]", "bad", "plot", "[SEP]"] in [
        tokenizer.convert_ids_to_tokens(f["input_ids"]) for f in features]  # lines 2 and 3: across the chunk boundary
    assert any(len(f["input_ids"]) == 12 for f in features)  # the first line fills a sequence and goes on
    assert (0 in features[-1].get("word_start", [])) == whole_word  # jieba's words


def test_a_packed_corpus_is_keyed_and_reused(tmp_path, tiny_bert, monkeypatch):
    tokenizer = load_tokenizer(tiny_bert)
    other = load_tokenizer(write_tiny_bert(tmp_path / "other", vocab=VOCAB + ["plot2"]))
    directory = str(tmp_path / "s")

    def pack(tokenizer=tokenizer, key=None, max_len=12, whole_word=False):
        return corpus_to_disk(tokenizer, iter(LINES), key or {"lines": "a"}, max_len, directory, whole_word)

    for options in ({}, {"tokenizer": other}, {"key": {"lines": "b"}}, {"max_len": 16}, {"whole_word": True}):
        pack(**options)
    assert len({path.name.split(".")[0] for path in tmp_path.joinpath("s").iterdir()}) == 5  # five sets
    monkeypatch.setattr(src.train.encoded, "write_corpus", None)  # the same key again must only open the set
    assert len(pack()) == len(pack(whole_word=True)) > 0


def test_split_long_cuts_after_sentence_ends():
    assert split_long("短句。", 5) == ["短句。"]
    assert split_long("一二三。四五六七八九十！十一", 5) == ["一二三。", "四五六七八", "九十！", "十一"]


def test_corpus_zh_holds_news_and_train_texts_but_no_dev_or_test(tmp_path):
    data = write_toy_data(tmp_path / "zh", lang="zh")
    out = tmp_path / "corpus"
    prepare_data.main(["--source", "corpus_zh", "--output_dir", str(out), "--data_dir", data,
                       "--max_line_chars", "60"])
    lines = (out / "corpus.txt").read_text(encoding="utf-8").splitlines()
    report = load_json(out / "corpus.json")
    assert report["sources"]["peoples_daily_1998"]["lines"] > 19000  # People's Daily, tags stripped
    assert not any("/" in line and line.split("/")[-1].isalpha() for line in lines[:2000])
    assert max(map(len, lines)) <= 60 and len(lines) == len(set(lines)) == report["lines"]
    held_out = set(load_split(data, "dev")[0] + load_split(data, "test")[0])
    assert held_out and not held_out & set(lines)
    train = set(load_split(data, "train")[0]) - held_out
    assert train <= set(lines) and report["sources"][f"{data}/train"]["lines"] == len(train)
