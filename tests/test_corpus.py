import pytest

from src.cli import InputError
from src.corpus import pack_sequences, read_corpus
from src.modeling import load_tokenizer


def test_short_lines_are_packed_and_long_ones_cut(tiny_bert):
    tokenizer = load_tokenizer(tiny_bert)
    lines = ["good movie", "bad plot", "the film was very good and the story was really good ."]
    features = pack_sequences(tokenizer, lines, max_seq_length=8)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    ids = [f["input_ids"] for f in features]
    assert all(len(x) <= 8 and x[0] == cls and x[-1] == sep for x in ids)
    # the two short lines share one sequence: [CLS] good movie [SEP] bad plot [SEP]
    assert tokenizer.convert_ids_to_tokens(ids[0]) == ["[CLS]", "good", "movie", "[SEP]", "bad", "plot", "[SEP]"]
    # every word piece of the corpus appears once, in order
    pieces = [i for x in ids for i in x if i not in (cls, sep)]
    assert pieces == [i for line in lines for i in tokenizer(line, add_special_tokens=False)["input_ids"]]
    assert all(len(f["token_type_ids"]) == len(f["attention_mask"]) == len(f["input_ids"]) for f in features)


def test_corpus_errors(tmp_path):
    with pytest.raises(InputError, match="corpus .* does not exist"):
        read_corpus(str(tmp_path / "none.txt"))
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(InputError, match="has no text"):
        read_corpus(str(tmp_path / "blank.txt"))
    (tmp_path / "c.txt").write_text("a  b\n\nc\n")
    assert read_corpus(str(tmp_path / "c.txt")) == ["a b", "c"]
