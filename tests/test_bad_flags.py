"""Bad flag values, generated from every script's own parser: new flags are covered without a case being written.

For each script, its argparse actions are walked. Each numeric flag gets 0, -1, a huge value and a non-number;
each path flag a missing path and a path of the wrong kind (a file where a directory is expected, or the
reverse); each input path is also given as the script's output. `main(argv)` runs in-process on tiny data until
the script's work would start (the first model weights loaded, or the script's first step of work, replaced by
`WorkStarted`), so a case takes milliseconds. Each case either ends in one line, `error: ...`, naming the flag
or the value, with a non-zero exit and its inputs unchanged; or the value is valid (it reaches the work), which
must be declared in VALID below. Anything else (a traceback, a value silently taken) fails.
"""

import argparse
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from transformers import PreTrainedModel

import src.compress as compress
import src.export as export
import src.linear_teacher as linear_teacher
import src.plot_results as plot_results
import src.predict as predict
import src.prepare_data as prepare_data
import src.pretrain_mlm as pretrain_mlm
import src.run_demo as run_demo
from src.distill_task_specific_bert import bert_classification, distill
from src.tinybert import data_augmentation, general_distill, task_distill
from tests.tiny import write_tiny_bert, write_toy_data

SRC = Path(__file__).resolve().parents[1] / "src"
VALUES = {"zero": "0", "negative": "-1", "huge": "1000000000000", "not_a_number": "abc"}
OUTPUT_FLAGS = ("--output_dir", "--output", "--predict_output", "--work_dir")
PATH_NAME = re.compile(r"(_dir|_model|_file|_config|_embs|_output)$|^(model|input|output|corpus|source|curves)$")

# Values a flag accepts on purpose, by kind; "*" for every script. Anything else must be refused.
ANY_COUNT = {"huge"}  # a count or size that only scales the work (epochs, examples, texts)
VALID = {
    ("*", "--seed"): {"zero", "negative", "huge"},
    ("*", "--num_train_epochs"): ANY_COUNT,
    ("*", "--max_train_examples"): ANY_COUNT,
    ("*", "--train_batch_size"): ANY_COUNT,
    ("*", "--eval_batch_size"): ANY_COUNT,
    ("*", "--batch_size"): ANY_COUNT,
    ("*", "--gradient_accumulation_steps"): ANY_COUNT,
    ("*", "--learning_rate"): ANY_COUNT,
    ("*", "--embedding_learning_rate"): ANY_COUNT,
    ("*", "--save_steps"): {"zero", "huge"},  # 0: epoch ends only
    ("*", "--eval_step"): {"zero", "huge"},  # 0: per epoch only
    ("*", "--logging_steps"): ANY_COUNT,
    ("*", "--speed_texts"): {"zero", "huge"},  # 0: no timing
    ("*", "--weight_decay"): {"zero", "huge"},
    ("*", "--max_grad_norm"): ANY_COUNT,
    ("*", "--warmup_proportion"): {"zero"},
    ("*", "--max_examples"): ANY_COUNT,
    ("*", "--heldout_lines"): ANY_COUNT,
    ("*", "--cross_fit"): {"zero"},  # 0: off
    ("*", "--length_buckets"): {"zero"},  # one of its choices
    ("*", "--distill"): {"zero"},  # one of its choices: the gold-label baseline
    ("*", "--alpha"): {"zero"},
    ("*", "--temperature"): ANY_COUNT,
    ("*", "--n_iter"): {"zero", "huge"},  # 0: no augmentation
    ("*", "--N"): {"zero", "huge"},
    ("*", "--M"): ANY_COUNT,
    ("*", "--chunk_size"): ANY_COUNT,
    ("*", "--mlm_batch_size"): ANY_COUNT,
    ("*", "--min_freq"): ANY_COUNT,
    ("*", "--speed_repeats"): ANY_COUNT,
    ("*", "--speed_threads"): {"zero"},  # 0: leave torch's threads as they are
    ("distill", "--max_seq_length"): {"huge"},  # the BiLSTM's words: no positions to run past
    ("*", "--teacher_batch_size"): ANY_COUNT,
    ("*", "--max_line_chars"): ANY_COUNT,
    ("*", "--pretrain_lines"): {"zero", "huge"},  # 0: no pretraining
    ("*", "--teacher_epochs"): ANY_COUNT,
    ("*", "--opset"): set(),
    ("*", "--p_mask"): {"zero"},
    ("*", "--p_pos"): {"zero"},
    ("*", "--p_ng"): {"zero"},
    ("*", "--p_both"): {"zero"},
    ("*", "--p"): {"zero"},
    ("*", "--mlm_probability"): set(),
    ("*", "--labeled_fraction"): set(),
    ("*", "--dropout"): {"zero"},
    ("*", "--embedding_dim"): ANY_COUNT,
    ("*", "--hidden_size"): ANY_COUNT,
    ("*", "--fc_dim"): ANY_COUNT,
    ("*", "--student_layers"): set(),
    ("*", "--pair_transfer"): {"zero", "huge"},  # 0: no new pairs
    ("compress", "--growth"): {"zero", "huge"},  # 0: the training set alone
    ("compress", "--tinybert_augment"): {"zero", "huge"},  # 0: no augmentation
    ("compress", "--bilstm_epochs"): ANY_COUNT,
    ("compress", "--stage1_epochs"): ANY_COUNT,
    ("compress", "--stage2_epochs"): ANY_COUNT,
    ("compress", "--time_budget"): ANY_COUNT,
}
MISSING_OK = {"--cache_dir", "--results_dir"}  # made when missing


class WorkStarted(Exception):
    """The script got past its checks to where its work starts: the value was taken."""


def start_work(*args, **kwargs):
    raise WorkStarted


@dataclass(frozen=True)
class Script:
    module: ModuleType
    argv: callable  # assets -> {flag: value}; True is a bare flag
    work: str | None = None  # the module's function where work starts (default: the first model weights loaded)
    outputs: tuple = ()  # output flags besides OUTPUT_FLAGS


SCRIPTS = {
    "prepare_data": Script(prepare_data, lambda a: {"--source": a.data / "train.tsv", "--split": "8:1:1",
                                                    "--output_dir": a.out}, "dedupe"),
    "bert_classification": Script(bert_classification, lambda a: {
        "--data_dir": a.data, "--bert_model": a.teacher, "--output_dir": a.out, "--max_seq_length": 32,
        "--no_cuda": True}),
    "distill": Script(distill, lambda a: {"--data_dir": a.data, "--teacher_model": a.teacher, "--output_dir": a.out,
                                          "--cache_dir": a.tmp / "cache", "--no_cuda": True}),
    "data_augmentation": Script(data_augmentation, lambda a: {
        "--pretrained_bert_model": a.mlm, "--data_dir": a.data, "--output": a.out / "train_aug.tsv",
        "--max_seq_length": 32, "--no_cuda": True}),
    "task_distill": Script(task_distill, lambda a: {
        "--teacher_model": a.teacher, "--student_config": a.student_config, "--data_dir": a.data,
        "--output_dir": a.out, "--max_seq_length": 32, "--no_cuda": True}),
    "task_distill_stage2": Script(task_distill, lambda a: {
        "--teacher_model": a.teacher, "--student_model": a.student, "--data_dir": a.data, "--output_dir": a.out,
        "--pred_distill": True, "--max_seq_length": 32, "--no_cuda": True}),
    "general_distill": Script(general_distill, lambda a: {
        "--teacher_model": a.mlm, "--student_config": a.student_config, "--corpus": a.corpus, "--output_dir": a.out,
        "--max_seq_length": 32, "--no_cuda": True}),
    "pretrain_mlm": Script(pretrain_mlm, lambda a: {"--bert_model": a.mlm, "--corpus": a.corpus, "--output_dir": a.out,
                                                    "--max_seq_length": 32, "--heldout_lines": 4, "--no_cuda": True}),
    "linear_teacher": Script(linear_teacher, lambda a: {"--data_dir": a.data, "--output_dir": a.out}, "pick_C"),
    "export": Script(export, lambda a: {"--model": a.teacher, "--output_dir": a.out}),
    "predict": Script(predict, lambda a: {"--model": a.teacher, "--input": a.data / "test.tsv",
                                          "--output": a.out / "predictions.tsv"}),
    "plot_results": Script(plot_results, lambda a: {"--run_dir": a.runs, "--output": a.out / "results.png"},
                           "markdown_table"),
    "compress": Script(compress, lambda a: {"--data_dir": a.data, "--teacher_model": a.teacher, "--output_dir": a.out}),
    "run_demo": Script(run_demo, lambda a: {"--source": a.data / "train.tsv", "--data_dir": a.tmp / "demo_data",
                                            "--work_dir": a.out, "--tiny": True}, "run_stage", ("--data_dir",)),
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Tiny models, data and a corpus, read by every case (each case checks it left them as they were)."""
    root = tmp_path_factory.mktemp("flag_assets")
    teacher = write_tiny_bert(root / "teacher", labels=["0", "1"])
    student_config = root / "student.json"
    student_config.write_text(json.dumps({"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                          "intermediate_size": 32, "max_position_embeddings": 64}))
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(f"the movie {i} was good ." for i in range(40)) + "\n")
    runs = root / "runs"
    for name, accuracy in (("teacher", 0.9), ("student", 0.8)):
        (runs / name).mkdir(parents=True)
        scores = {"accuracy": accuracy, "macro_f1": accuracy}
        (runs / name / "metrics.json").write_text(json.dumps({"model": name, "dev": scores, "test": scores}))
    return SimpleNamespace(teacher=Path(teacher), mlm=Path(write_tiny_bert(root / "mlm", arch="mlm")),
                           student=Path(write_tiny_bert(root / "student", num_layers=1, labels=["0", "1"])),
                           student_config=student_config, corpus=corpus, runs=runs,
                           data=Path(write_toy_data(root / "toy", n_train=40, n_dev=8, n_test=8)))


def fingerprint(paths) -> dict:
    """Every file below the given paths with the hash of its bytes."""
    out = {}
    for top in paths:
        files = [Path(d, f) for d, _, names in os.walk(top) for f in names] if top.is_dir() else [top]
        out.update({str(f): hashlib.md5(f.read_bytes()).hexdigest() for f in files})
    return out


def parser_of(module: ModuleType, monkeypatch) -> argparse.ArgumentParser:
    """The script's parser, caught as its parse_args is called."""
    class Caught(Exception):
        pass

    def catch(self, *args, **kwargs):
        raise Caught(self)

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", catch)
        with pytest.raises(Caught) as caught:
            module.parse_args([])
    return caught.value.args[0]


def is_numeric(action: argparse.Action) -> bool:
    kind = action.type
    return kind in (int, float) or getattr(kind, "__name__", "").endswith(" number") or (
        kind is None and isinstance(action.default, (int, float)) and not isinstance(action.default, bool)
        and action.nargs is None and not isinstance(action, argparse._StoreConstAction))


def flag_of(action: argparse.Action) -> str:
    return action.option_strings[0]


def run_case(name: str, assets, overrides: dict, tmp: Path, monkeypatch) -> str | None:
    """Run the script with its tiny argv and `overrides`: the one-line error, or None when its work started."""
    script = SCRIPTS[name]
    flags = {**script.argv(SimpleNamespace(**vars(assets), out=tmp / "out", tmp=tmp)), **overrides}
    argv = [str(x) for flag, value in flags.items() if value is not None
            for x in ([flag] if value is True else [flag, value])]
    if script.work:
        monkeypatch.setattr(script.module, script.work, start_work)
    else:
        monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(start_work))
    try:
        script.module.main(argv)
    except WorkStarted:
        return None
    except SystemExit as e:
        assert e.code not in (0, None), f"{name} {overrides}: exit 0"
        message = str(e.code)
        assert message.startswith("error: ") and "\n" not in message, f"{name} {overrides}: {message!r}"
        return message
    raise AssertionError(f"{name} {overrides}: main returned before its work started")


def numeric_cases():
    return [(name, flag, kind) for name, script in SCRIPTS.items() for flag in numeric_flags(script.module)
            for kind in VALUES]


def numeric_flags(module: ModuleType) -> list[str]:
    mp = pytest.MonkeyPatch()
    try:
        return [flag_of(a) for a in parser_of(module, mp)._actions if a.option_strings and is_numeric(a)]
    finally:
        mp.undo()


def path_flags(script: Script) -> list[str]:
    """The script's input path flags: named like paths, and not outputs."""
    mp = pytest.MonkeyPatch()
    try:
        return [flag_of(a) for a in parser_of(script.module, mp)._actions if a.option_strings
                and PATH_NAME.search(a.dest) and flag_of(a) not in (*OUTPUT_FLAGS, *script.outputs)]
    finally:
        mp.undo()


def valid(name: str, flag: str, kind: str) -> bool:
    return kind in VALID.get((name, flag), VALID.get(("*", flag), set()))


@pytest.mark.parametrize("name, flag, kind", numeric_cases(), ids=lambda x: str(x))
def test_numeric_flag(name, flag, kind, assets, tmp_path, monkeypatch):
    before = fingerprint([assets.data, assets.teacher])
    error = run_case(name, assets, {flag: VALUES[kind]}, tmp_path, monkeypatch)
    if error is None:
        assert valid(name, flag, kind), f"{name} {flag} {VALUES[kind]} is taken: refuse it, or declare it in VALID"
    else:
        assert flag in error or VALUES[kind] in error, f"{name} {flag} {VALUES[kind]}: {error!r} names neither"
    assert fingerprint([assets.data, assets.teacher]) == before


def path_cases():
    cases = []
    for name, script in SCRIPTS.items():
        for flag in path_flags(script):
            cases += [(name, flag, "missing"), (name, flag, "wrong_kind")]
    return cases


@pytest.mark.parametrize("name, flag, kind", path_cases(), ids=lambda x: str(x))
def test_path_flag(name, flag, kind, assets, tmp_path, monkeypatch):
    given = SCRIPTS[name].argv(SimpleNamespace(**vars(assets), out=tmp_path / "out", tmp=tmp_path)).get(flag)
    exists = given is not None and Path(given).exists()
    wants_dir = Path(given).is_dir() if exists else bool(re.search(r"_dir|_model|^--model$", flag))
    if kind == "missing":
        value = tmp_path / "nowhere" / ("x" if wants_dir else "x.tsv")
    elif wants_dir:
        (value := tmp_path / "a_file.tsv").write_text("label\ttext\n1\tgood\n")
    else:
        (value := tmp_path / "a_directory.tsv").mkdir()
    error = run_case(name, assets, {flag: value}, tmp_path, monkeypatch)
    if error is None:
        assert kind == "missing" and flag in MISSING_OK, f"{name} {flag} {kind} ({value}) is taken"
    else:
        assert flag in error or str(value) in error, f"{name} {flag} {kind}: {error!r} names neither"


def own_input_cases():
    cases = []
    for name, script in SCRIPTS.items():
        argv = script.argv(SimpleNamespace(**{k: Path("x") for k in ("teacher", "mlm", "student", "student_config",
                                                                        "corpus", "runs", "data", "out", "tmp")}))
        outputs = [f for f in (*OUTPUT_FLAGS, *script.outputs) if f in argv]
        cases += [(name, out, flag) for out in outputs for flag in path_flags(script)
                  if flag in argv and flag not in MISSING_OK]
    return cases


@pytest.mark.parametrize("name, output_flag, input_flag", own_input_cases(), ids=lambda x: str(x))
def test_input_as_output(name, output_flag, input_flag, assets, tmp_path, monkeypatch):
    """An input given as the output is refused whatever --overwrite_output_dir says, and left as it was."""
    given = Path(SCRIPTS[name].argv(SimpleNamespace(**vars(assets), out=tmp_path / "out", tmp=tmp_path))[input_flag])
    before = fingerprint([given])
    overwrite = {f: True for f in ("--overwrite_output_dir", "--overwrite_output")
                 if f in {s for a in parser_of(SCRIPTS[name].module, monkeypatch)._actions for s in a.option_strings}}
    error = run_case(name, assets, {output_flag: given, **overwrite}, tmp_path, monkeypatch)
    assert error is not None and "never writes over what it reads" in error and output_flag in error, error
    assert fingerprint([given]) == before


def test_every_script_is_covered():
    """Every script a user runs (a `main` at the top of src/ or in a method folder) has an entry above."""
    scripts = {p.stem for p in [*SRC.glob("*.py"), *SRC.glob("*/*.py")] if "\ndef main(" in p.read_text()}
    covered = {s.module.__name__.rsplit(".", 1)[-1] for s in SCRIPTS.values()}
    assert scripts <= covered, f"add these scripts to SCRIPTS: {sorted(scripts - covered)}"
