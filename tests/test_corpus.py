import pytest

from src.cli import InputError
from src.corpus import pack_sequences, read_corpus
from src.modeling import load_tokenizer


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
