"""The bad-input matrix: every stage script against every kind of bad input that applies to it.

One case per (stage, row). A row is a problem (a function that spoils the inputs of a `Case`) and what
must happen: a regex, for a one-line `error: ...` exit that leaves every file as it was (no output
directory, no `.<name>.tmp` staging directory, an earlier result untouched); or a check of a run that
succeeds (a few bad lines are skipped and counted, long texts are truncated and counted).
See README.md's "Bad input" section for the policy.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import src.prepare_data as prepare_data
from src.common.files import load_json
from src.data.reading import read_examples
from src.distill_task_specific_bert import bert_classification, distill
from src.tinybert import data_augmentation, task_distill
from tests.tiny import VOCAB, write_tiny_bert, write_toy_data

N_TRAIN = 100  # one bad line in 101 is within the 1 % allowance, half of them is not
LONG = " ".join(["the good movie was very good ."] * 7)  # 49 word pieces: over --max_seq_length 32, within 64 positions
EARLIER = "an earlier result"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Tiny models shared by all cases (read only)."""
    root = tmp_path_factory.mktemp("assets")
    teacher = write_tiny_bert(root / "teacher")
    config = json.loads((root / "teacher" / "config.json").read_text())
    config.update(id2label={"0": "0", "1": "1"}, label2id={"0": 0, "1": 1})  # labelled like the toy data
    (root / "teacher" / "config.json").write_text(json.dumps(config))

    def student_config(name, layers):
        path = root / name
        path.write_text(json.dumps({"hidden_size": 16, "num_hidden_layers": layers, "num_attention_heads": 2,
                                    "intermediate_size": 32, "max_position_embeddings": 64}))
        return path

    return SimpleNamespace(teacher=teacher, mlm=write_tiny_bert(root / "mlm", arch="mlm"),
                           student=write_tiny_bert(root / "student", num_layers=1),
                           other_vocab=write_tiny_bert(root / "other_vocab", num_layers=1, vocab=VOCAB[:-3]),
                           student_config=student_config("student.json", 1),
                           three_layers=student_config("three_layers.json", 3))


# ----------------------------------------------------------------------------
# Stages: how each script is called on a case's data, models and output

FAST = {"--max_seq_length": 32, "--train_batch_size": 8, "--num_train_epochs": 1, "--max_train_examples": 8,
        "--save_steps": 0, "--no_cuda": True}


@dataclass(frozen=True)
class Stage:
    module: ModuleType  # a script whose `main(argv)` is wrapped by `exits_on_input_error`
    flags: Callable  # Case -> {flag: value}; True is a bare flag, None leaves the flag out
    result: Callable  # Case -> the file a finished run leaves (and an earlier run would have left)
    model_flag: str | None = None  # the flag naming the stage's model


def output_file(name):
    return lambda case: case.out / name


STAGES = {
    "prepare": Stage(prepare_data, lambda c: {
        "--source": c.data / "train.tsv", "--test_file": c.data / "test.tsv", "--split": "8:2:0",
        "--output_dir": c.out}, output_file("prepare.json")),
    "teacher": Stage(bert_classification, lambda c: {
        "--data_dir": c.data, "--bert_model": c.assets.teacher, "--output_dir": c.out, **FAST},
        output_file("metrics.json"), "--bert_model"),
    "distill": Stage(distill, lambda c: {
        "--data_dir": c.data, "--teacher_model": c.assets.teacher, "--output_dir": c.out,
        "--cache_dir": c.tmp / "cache", **FAST, "--embedding_dim": 8, "--hidden_size": 8, "--fc_dim": 8,
        "--speed_texts": 0}, output_file("metrics.json"), "--teacher_model"),
    "augment": Stage(data_augmentation, lambda c: {
        "--pretrained_bert_model": c.assets.mlm, "--glue_dir": c.data.parent, "--task_name": c.data.name,
        "--max_seq_length": 32, "--N": 2, "--M": 3, "--max_examples": 4, "--no_cuda": True},
        lambda c: c.data / "train_aug.tsv", "--pretrained_bert_model"),
    "stage1": Stage(task_distill, lambda c: {
        "--teacher_model": c.assets.teacher, "--student_config": c.assets.student_config, "--data_dir": c.data,
        "--output_dir": c.out, **FAST, "--speed_texts": 0}, output_file("metrics.json"), "--teacher_model"),
    "stage2": Stage(task_distill, lambda c: {
        **STAGES["stage1"].flags(c), "--student_config": None, "--student_model": c.assets.student,
        "--pred_distill": True}, output_file("metrics.json"), "--teacher_model"),
}
TRAINING = ["teacher", "distill", "stage1", "stage2"]
ALL = ["prepare", "augment", *TRAINING]
WITH_OUTPUT_DIR = ["prepare", *TRAINING]
WITH_MODEL = ["augment", *TRAINING]


@dataclass
class Case:
    """One run: toy data (N_TRAIN train rows with a header, 8 dev, 8 test) in `tmp/toy`, output in `tmp/out`.
    A problem edits the files, `data`, or `overrides` (flags replacing the stage's own)."""
    stage: Stage
    assets: SimpleNamespace
    tmp: Path
    overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        self.data = Path(write_toy_data(self.tmp / "toy", n_train=N_TRAIN, n_dev=8, n_test=8))
        self.out = self.tmp / "out"

    def flags(self):
        return {**self.stage.flags(self), **self.overrides}

    def argv(self):
        argv = []
        for flag, value in self.flags().items():
            argv += [flag] if value is True else [] if value is None else [flag, str(value)]
        return argv

    def run(self):
        self.stage.module.main(self.argv())


# ----------------------------------------------------------------------------
# Problems

def edit_train(case, edit):
    """Replace the rows of train.tsv (header kept) by `edit(rows)`."""
    path = case.data / "train.tsv"
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([header, *edit(rows)]) + "\n", encoding="utf-8")


def append_row(split, line):
    def problem(case):
        with open(case.data / f"{split}.tsv", "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return problem


def use_flags(**flags):
    """Override flags (`student_model=...` for `--student_model`); None removes one."""
    return lambda case: case.overrides.update({f"--{k}": v(case) if callable(v) else v for k, v in flags.items()})


def missing_data(case):
    case.data = case.tmp / "nothing"


def empty_train(case):
    (case.data / "train.tsv").write_text("")


def header_only_train(case):
    (case.data / "train.tsv").write_text("label\tsentence\n")


def one_malformed_line(case):
    edit_train(case, lambda rows: ["this line has no tab", *rows])


def mostly_malformed(case):
    edit_train(case, lambda rows: [r.replace("\t", " ") if i % 2 else r for i, r in enumerate(rows)])


def one_empty_text(case):
    edit_train(case, lambda rows: ["1\t  ", *rows])


def all_texts_empty(case):
    edit_train(case, lambda rows: [r.split("\t")[0] + "\t" for r in rows])


def long_text(case):
    edit_train(case, lambda rows: [f"1\t{LONG}", *rows])  # first, so within --max_train_examples


def non_utf8(case):
    with open(case.data / "train.tsv", "ab") as f:
        f.write(b"1\tgood \xff\xfe movie\n")  # Latin-1 / UTF-16 bytes


def bom_header(case):
    path = case.data / "train.tsv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-8-sig"))  # as Excel and WPS write it


def rename_text_column(case):
    path = case.data / "train.tsv"
    _, *rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(["label\tcontent", *rows]) + "\n", encoding="utf-8")


def swapped_columns(case):
    """Headerless text<TAB>label."""
    path = case.data / "train.tsv"
    _, *rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join("\t".join(reversed(row.split("\t"))) for row in rows) + "\n", encoding="utf-8")


def gbk_row(case):
    with open(case.data / "train.tsv", "ab") as f:
        f.write("1\t房间很干净 good\n".encode("gbk"))


def gbk_row_with_encoding(case):
    gbk_row(case)
    case.overrides["--encoding"] = "gbk"


def earlier_result(case):
    path = case.stage.result(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EARLIER)


def overwrite_with_bad_data(case):
    earlier_result(case)
    case.overrides["--overwrite_output_dir"] = True
    non_utf8(case)


def bad_model(make, flag=None):
    """Replace the model named by `flag` (default: the stage's model flag) by `make(tmp, good_model_dir)`."""
    def problem(case):
        name = flag or case.stage.model_flag
        case.overrides[name] = make(case.tmp, Path(case.flags()[name]))
    return problem


def model_copy(tmp, good, weights=None):
    """A copy of `good` without its weights, or with only the first `weights` fraction of them."""
    copy = tmp / "copied_model"
    shutil.copytree(good, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    if weights:
        data = (good / "model.safetensors").read_bytes()
        (copy / "model.safetensors").write_bytes(data[:int(len(data) * weights)])
    return copy


def dir_with(tmp, *files):
    path = tmp / "not_a_model"
    path.mkdir()
    for name in files:
        (path / name).write_text("hello")
    return path


NOT_A_MODEL = r"\S+/not_a_model is not a model directory \(no config.json\)$"
CANNOT_LOAD = r"cannot load a (tokenizer|sequence classifier|masked LM) from \S+/copied_model: \S"
BAD_MODELS = {  # row -> (make(tmp, good model dir) -> the bad one, message)
    "missing_model": (lambda tmp, good: tmp / "no_such_model", r"model directory \S+/no_such_model does not exist$"),
    "empty_model_dir": (lambda tmp, good: dir_with(tmp), NOT_A_MODEL),
    "random_file_dir": (lambda tmp, good: dir_with(tmp, "notes.txt"), NOT_A_MODEL),
    "model_without_weights": (model_copy, CANNOT_LOAD),
    "half_written_weights": (lambda tmp, good: model_copy(tmp, good, weights=0.5), CANNOT_LOAD),
}


# ----------------------------------------------------------------------------
# Checks of the runs that must succeed

def skipped_one_line(case, log):
    assert re.search(r"train.tsv: skipped 1 malformed or empty line\(s\) \(lines \[2\]\)", log)


def no_line_skipped(case, log):
    assert "skipped" not in log and "joined" not in log


def truncated_one(case, log):
    metrics = load_json(case.stage.result(case))
    assert [v for k, v in metrics.items() if k.startswith("num_truncated_")] == [1]


def long_text_kept_whole(case, log):
    assert read_examples(str(case.stage.result(case)))[0].text == LONG


# ----------------------------------------------------------------------------
# The matrix

MALFORMED = r"train.tsv: {} of {} lines are malformed or empty \(first at line {}\)"
LAYERS = (r"cannot map 3 student layers uniformly onto 2 teacher layers \(not a divisor\); "
          r"give the pairs with --layer_map")
UNKNOWN_LABEL = r"{}.tsv: label\(s\) \['7'\] not in the training label set \[.0., .1.\]$"
NOT_UTF8 = r"train.tsv is not UTF-8 text \(byte \d+: invalid start byte\)$"
GBK_HINT = (r"train.tsv is not UTF-8 text \(byte \d+: invalid start byte\); the bytes look like GBK "
            r"\(try --encoding gbk\)$")
UNKNOWN_COLUMNS = (r"train.tsv: header \['label', 'content'\] names no text column; known: sentence, text, review, "
                   r"text_a; use --text_column content$")
SWAPPED = r"train.tsv: the columns look swapped \(text, then label\): .*; put the label first, or add a header"
init_from_teacher_3 = use_flags(student_config=None, student_model=None, init_from_teacher=True, student_layers=3)

ROWS = [  # row, problem, expected (regex: a one-line error; function: a check of a successful run), stages
    ("missing_data", missing_data, r"(data (directory|file)|--\w+) \S+/nothing(/\w+.tsv)? does not exist$", ALL),
    ("empty_train", empty_train, r"train.tsv is empty$", ALL),
    ("header_only_train", header_only_train, r"train.tsv has a header row but no data rows$", ALL),
    ("one_malformed_line", one_malformed_line, skipped_one_line, ALL),
    ("mostly_malformed", mostly_malformed, MALFORMED.format(50, N_TRAIN, 3), ALL),
    ("unknown_dev_label", append_row("dev", "7\tgood movie"), UNKNOWN_LABEL.format("dev"), TRAINING),
    ("unknown_test_label", append_row("test", "7\tgood movie"), UNKNOWN_LABEL.format("test"),
     ["prepare", *TRAINING]),
    ("one_empty_text", one_empty_text, skipped_one_line, ALL),
    ("all_texts_empty", all_texts_empty, MALFORMED.format(N_TRAIN, N_TRAIN, 2), ALL),
    ("long_text_truncated", long_text, truncated_one, TRAINING),
    ("long_text_kept_whole", long_text, long_text_kept_whole, ["augment"]),
    ("non_utf8", non_utf8, NOT_UTF8, ALL),
    ("bom_header", bom_header, no_line_skipped, ["prepare", "teacher"]),
    ("unknown_header_columns", rename_text_column, UNKNOWN_COLUMNS, ALL),
    ("swapped_columns", swapped_columns, SWAPPED, ALL),
    ("gbk_without_encoding", gbk_row, GBK_HINT, ALL),
    ("gbk_with_encoding", gbk_row_with_encoding, no_line_skipped, ALL),
    *[(row, bad_model(make), message, WITH_MODEL) for row, (make, message) in BAD_MODELS.items()],
    *[(f"student_{row}", bad_model(make, "--student_model"), message, ["stage2"])
      for row, (make, message) in BAD_MODELS.items()],
    ("tokenizer_mismatch",
     use_flags(student_config=None, student_model=lambda c: c.assets.other_vocab),
     r"the tokenizer of the student \S+ \(\d+ tokens\) differs from the teacher's \S+ \(\d+ tokens\)",
     ["stage1", "stage2"]),
    ("3_of_2_layers_student_config", use_flags(student_config=lambda c: c.assets.three_layers), LAYERS, ["stage1"]),
    ("3_of_2_layers_init_from_teacher", init_from_teacher_3, LAYERS, ["stage1", "stage2"]),
    ("existing_output", earlier_result,
     r"output directory \S+/out exists and is not empty \(use --overwrite_output_dir\)$", WITH_OUTPUT_DIR),
    ("existing_train_aug", earlier_result, r"train_aug.tsv exists", ["augment"]),
    ("overwrite_with_bad_data", overwrite_with_bad_data, NOT_UTF8, WITH_OUTPUT_DIR),
    ("aug_train_missing", use_flags(aug_train=True, max_train_examples=None),
     r"--aug_train: \S+/toy/train_aug.tsv does not exist; make it with src/tinybert/data_augmentation.py$",
     ["stage1", "stage2"]),
]



def matrix():
    for row, problem, expected, stages in ROWS:
        for stage in stages:
            yield pytest.param(stage, problem, expected, id=f"{stage}-{row}")


def snapshot(root):
    """Every path below `root` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("stage, problem, expected", matrix())
def test_bad_input(stage, problem, expected, assets, tmp_path, caplog):
    case = Case(STAGES[stage], assets, tmp_path)
    problem(case)
    if callable(expected):
        case.run()
        expected(case, caplog.text)
        assert case.stage.result(case).is_file()
        assert not list(tmp_path.rglob("*.tmp"))  # staging moved into place
        return
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as e:
        case.run()
    message = e.value.code
    assert isinstance(message, str) and message.startswith("error: ") and "\n" not in message, message
    assert re.search(expected, message), message
    # nothing created (no output, no .<name>.tmp staging dir), nothing changed (earlier result, inputs)
    assert snapshot(tmp_path) == before


def test_a_real_process_exits_1_with_the_error_as_last_stderr_line(assets, tmp_path):
    case = Case(STAGES["prepare"], assets, tmp_path)
    non_utf8(case)
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, case.stage.module.__file__, *case.argv()], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert re.fullmatch("error: \\S+/" + NOT_UTF8, result.stderr.splitlines()[-1]), result.stderr[-2000:]
    assert not case.out.exists() and not (tmp_path / ".out.tmp").exists()
