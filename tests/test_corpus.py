import pytest

from src import prepare_data
from src.cli import InputError
from src.corpus import pack_sequences, read_corpus, split_long
from src.data import load_split
from src.modeling import load_tokenizer
from src.runs import load_json
from tests.tiny import write_toy_data


def test_short_lines_are_packed_and_long_ones_cut(tiny_bert):
    tokenizer = load_tokenizer(tiny_bert)
    lines = ["good movie", "bad plot", "the film was very good and the story was really good ."]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    pieces = tokenizer(lines, add_special_tokens=False)["input_ids"]
    features = pack_sequences(pieces, cls, sep, max_seq_length=8)
    ids = [f["input_ids"] for f in features]
    assert all(len(x) <= 8 and x[0] == cls and x[-1] == sep for x in ids)
    # the two short lines share one sequence: [CLS] good movie [SEP] bad plot [SEP]
    assert tokenizer.convert_ids_to_tokens(ids[0]) == ["[CLS]", "good", "movie", "[SEP]", "bad", "plot", "[SEP]"]
    # every word piece of the corpus appears once, in order
    assert [i for x in ids for i in x if i not in (cls, sep)] == [i for line in pieces for i in line]
    assert all(len(f["token_type_ids"]) == len(f["attention_mask"]) == len(f["input_ids"]) for f in features)


def test_corpus_errors(tmp_path):
    with pytest.raises(InputError, match="corpus .* does not exist"):
        read_corpus(str(tmp_path / "none.txt"))
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(InputError, match="has no text"):
        read_corpus(str(tmp_path / "blank.txt"))
    (tmp_path / "c.txt").write_text("a  b\n\nc\n")
    assert read_corpus(str(tmp_path / "c.txt")) == ["a b", "c"]


def test_word_starts_travel_with_their_pieces():
    features = pack_sequences([[10, 11, 12], [13]], cls_id=2, sep_id=3, max_seq_length=16,
                              word_starts=[[1, 0, 1], [1]])
    assert features == [{"input_ids": [2, 10, 11, 12, 3, 13, 3], "token_type_ids": [0] * 7,
                         "attention_mask": [1] * 7, "word_start": [1, 1, 0, 1, 1, 1, 1]}]


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
