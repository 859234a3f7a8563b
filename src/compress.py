r"""From your task and your fine-tuned BERT to the fastest student that keeps what you ask, in one command.

    python src/compress.py --data_dir data/hotel --teacher_model models/hotel/teacher --keep 0.97 \
        --output_dir models/compressed
    python src/compress.py ... --dry_run              # the plan and its time estimate only
    python src/compress.py ... --time_budget 60       # fewer epochs and smaller transfer sets, to fit an hour

Candidates (--students): `bilstm`, Tang et al.'s BiLSTM learning the teacher's logits (Chinese: characters
from Baidu LAC's vectors, 100 units, reading as much text as the teacher; other languages: the teacher's word
pieces and embeddings), its transfer set grown below 50,000 texts, training and unlabeled (single texts: the paper's
augmentation, 4 copies; pairs: 4x new pairs the teacher labels); `tinybert3` and `tinybert2`, TinyBERT's two
stages on 3 or 2 of the teacher's layers; `narrow`, TinyBERT from --general_student (a general-distilled
checkpoint). Each candidate runs its stage scripts, one process a stage (src/runs/stages.py), in
<output_dir>/<candidate>/, on a view of --data_dir whose test split is its dev split: no candidate sees the
test set. Before anything runs the plan is printed with each stage's time estimated for this machine.
A rerun skips finished stages and resumes a killed one from its last checkpoint.

The candidates and the teacher are then scored on dev by the task's metric and timed on one thread (batch 64
and 1, PyTorch and ONNX int8). The pick is the fastest candidate whose dev score keeps --keep of the teacher's
(or --keep_gain of the teacher's gain over always answering the majority class); when none does, the best
one, said so. Only the pick is scored on test. It is exported to ONNX (<output_dir>/export, src/export.py's
layout, int8 included, with a model card naming the choice), and the choice is reported in report.md,
report.json and pareto.png. The last line says what was picked, its scores and speed-up, and where it is.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import os
import random
import re
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoConfig

from src.common.cli import (
    ArgumentParser,
    InputError,
    exits_on_input_error,
    logger,
    non_negative,
    number,
    positive,
    run_script,
    setup_logging,
)
from src.common.files import check_apart, check_paths, load_json, save_json, write_atomically
from src.data.augment import augment_corpus, tag_words
from src.data.examples import SCORE_LABELS, all_texts, data_files, input_key, is_cjk, is_pairs
from src.data.reading import load_split, load_unlabeled
from src.data.tasks import data_task, main_metric
from src.modeling.bert import check_max_length, check_model_sources
from src.runs.plan import (
    Estimate,
    augmentation_seconds,
    bilstm_estimate,
    machine_scale,
    minutes,
    tinybert_estimate,
)
from src.runs.selection import candidates_table, pareto_figure, pick
from src.runs.stages import Stage, command_line, run_stage
from src.runs.summary import gain_share, majority_floor, print_summary
from src.serve.onnx_export import export_model
from src.serve.predictors import load_predictor, onnx_predictor, predictor_metrics
from src.serve.speed import speed_of, speedups

DEFAULT_STUDENTS = ("bilstm", "tinybert3", "tinybert2")  # and `narrow` with --general_student
OTHER_STUDENTS = ("bilstm_gold", "narrow", "tinybert<k>")
LAC_DIM, CHINESE_UNITS = 128, 100  # the Chinese BiLSTM: Baidu LAC's character vectors, units per direction
DEFAULT_UNITS = 150  # distill.py's --hidden_size, the other languages' BiLSTM
SMALL_TRAIN = 50_000  # below this many training and unlabeled texts, the BiLSTM's transfer set grows
SHRINK = (1.0, 0.7, 0.5, 0.35, 0.25)  # --time_budget: epochs and transfer growth scaled by these, in turn
PLAN_FILE = "plan.json"


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_dir", required=True, help="train, dev and test files (prepare_data.py's layout)")
    p.add_argument("--teacher_model", required=True, help="the fine-tuned BERT classifier to compress")
    p.add_argument("--output_dir", default="models/compressed",
                   help="one run directory per candidate, the export of the pick, report.md/json, pareto.png")
    p.add_argument("--keep", type=number(float, 0, 1, above=True), default=0.97,
                   help="the share of the teacher's dev score the pick must keep")
    p.add_argument("--keep_gain", type=number(float, 0, 1, above=True), default=None,
                   help="pick by the share of the teacher's gain over the majority class instead (e.g. 0.8)")
    p.add_argument("--students", default=None,
                   help=f"comma-separated candidates (default: {','.join(DEFAULT_STUDENTS)}, and narrow with "
                        f"--general_student); also {', '.join(OTHER_STUDENTS)}: the BiLSTM on gold labels only, "
                        f"TinyBERT on k of the teacher's layers")
    p.add_argument("--general_student", default=None,
                   help="a general-distilled TinyBERT (general_distill.py's output, or a hub id) for `narrow`")
    p.add_argument("--time_budget", type=positive(float), default=None,
                   help="minutes the training may take on this machine: epochs and transfer sets shrink to fit, or "
                        "the run stops naming what would fit (default: no limit)")
    p.add_argument("--dry_run", action="store_true", help="print the plan and its time estimate, run nothing")
    p.add_argument("--max_seq_length", type=number(int, 3), default=None,
                   help="word pieces per example for the TinyBERTs (default: the teacher's, from its args.json, "
                        "else 128)")
    p.add_argument("--max_train_examples", type=positive(int), default=None,
                   help="train every candidate on the first N training examples only")
    p.add_argument("--bilstm_epochs", type=positive(int), default=None,
                   help="the BiLSTM's epochs (default: 10, or 5 on an augmented transfer set)")
    p.add_argument("--growth", type=non_negative(float), default=None,
                   help="the BiLSTM's transfer set: augmented copies (texts) or new pairs (pairs) per training "
                        "example (default: 4 where the training set is small, else 0)")
    p.add_argument("--tinybert_augment", type=non_negative(int), default=0,
                   help="TinyBERT's data augmentation first (data_augmentation.py --N): this many new examples per "
                        "training example for every TinyBERT candidate (0: none; slow on a CPU)")
    p.add_argument("--augment_model", default=None,
                   help="the masked LM whose predictions TinyBERT's augmentation draws from (default: the teacher, "
                        "whose embeddings then give the candidates)")
    p.add_argument("--stage1_epochs", type=positive(int), default=1, help="TinyBERT's stage 1 epochs")
    p.add_argument("--stage2_epochs", type=positive(int), default=3, help="TinyBERT's stage 2 epochs")
    p.add_argument("--speed_texts", type=positive(int), default=256,
                   help="dev texts each model is timed on (batch 64; a quarter of them at batch 1)")
    p.add_argument("--speed_repeats", type=positive(int), default=3, help="timed passes (the median is kept)")
    args = p.parse_args(argv)
    args.students = parse_students(p, args)
    return args


def parse_students(p, args) -> list[str]:
    """--students as a list, refusing unknown names and `narrow` without --general_student."""
    names = args.students.split(",") if args.students else [*DEFAULT_STUDENTS, *["narrow"] * bool(args.general_student)]
    unknown = sorted(n for n in names if n not in ("bilstm", "bilstm_gold", "narrow") and
                     not re.fullmatch(r"tinybert[1-9][0-9]*", n))
    if unknown:
        p.error(f"--students: unknown candidate(s) {', '.join(unknown)}; choose among "
                f"{', '.join((*DEFAULT_STUDENTS, *OTHER_STUDENTS))}")
    if "narrow" in names and not args.general_student:
        p.error("--students narrow needs --general_student, the general-distilled checkpoint it starts from")
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------
# The task, the teacher and the plan


def task_facts(args, teacher_labels: list[str]) -> dict:
    """What the plan depends on: the training set's size and kind, its language, the task's metric, and the
    teacher's length and casing (from its args.json). A teacher whose labels the data does not use is refused."""
    try:
        train, train_labels, _ = load_split(args.data_dir, "train", teacher_labels, args.max_train_examples)
        dev, dev_labels, _ = load_split(args.data_dir, "dev", teacher_labels)
    except InputError as e:
        raise InputError(f"--teacher_model {args.teacher_model} does not fit --data_dir {args.data_dir}: {e}") from None
    regression = teacher_labels == SCORE_LABELS
    teacher_args_file = os.path.join(args.teacher_model, "args.json")
    teacher_args = load_json(teacher_args_file) if os.path.isfile(teacher_args_file) else {}
    config = AutoConfig.from_pretrained(args.teacher_model)  # local, or a hub id's cached copy
    cjk, pairs, task = is_cjk("".join(all_texts(train[:500]))), is_pairs(train), data_task(args.data_dir)
    return {"train": len(train), "unlabeled": len(load_unlabeled(args.data_dir)), "pairs": pairs, "cjk": cjk,
            "new_draws": 1.0 if pairs else new_draw_share(train, cjk),  # pairs grow by new pairs, not draws
            "task": task, "metric": main_metric(task, regression),
            "max_seq_length": args.max_seq_length or teacher_args.get("max_seq_length") or 128,
            "do_lower_case": bool(teacher_args.get("do_lower_case")),
            "teacher_layers": config.num_hidden_layers, "teacher_hidden": config.hidden_size,
            "train_texts": train, "train_labels": train_labels, "dev": (dev, dev_labels)}


def spread(texts: list, n: int) -> list:
    """`n` of `texts` (or all), evenly spaced over the list, so that a sample sees the whole file."""
    return texts[::max(1, len(texts) // n)][:n]


def new_draw_share(texts: list[str], cjk: bool, n: int = 500, draws: int = 4) -> float:
    """The share of the paper's augmented draws that are new texts, on `n` training texts spread over the set
    (distill.py drops repeats: short texts repeat often, 47 % of SST-2's draws against 6 % of the hotel
    reviews'), so that the plan counts the transfer set the BiLSTM will learn from."""
    sample = spread(texts, n)
    tagged = [tag_words(t, cjk) for t in sample]
    new = augment_corpus(random.Random(0), tagged, cjk, draws, p_pos=0.1 if cjk else 0.0)
    return sum(1 for _ in new) / (draws * len(sample))


def teacher_pace(predict, texts: list, n: int = 1024, batch_size: int = 64, max_seconds: float = 10.0) -> float:
    """Seconds per 1,000 texts of the teacher's forward pass here, timed as the stages run it: batches of
    `batch_size` texts of similar length, drawn from `n` texts spread over the training set (fewer gives looser
    batches: 256 phrases of SST-2 timed 25 % slow), in random order until `max_seconds`, after a warm-up batch.
    On a busy machine the pace, and so the estimate, holds only while the other work goes on: said in a warning."""
    load, cores = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0, os.cpu_count() or 1
    if load >= 0.5 * cores:
        logger.warning(f"WARNING: the machine is busy (load {load:.1f} on {cores} cores over the last minute): the "
                       f"time estimate assumes that load lasts; the stages run faster if it ends")
    sample = sorted(spread(texts, n), key=lambda t: len(input_key(t)))
    batches = [sample[i:i + batch_size] for i in range(0, len(sample), batch_size)]
    random.Random(0).shuffle(batches)
    predict(batches[0])
    start, done = time.perf_counter(), 0
    for batch in batches:
        predict(batch)
        done += len(batch)
        if time.perf_counter() - start > max_seconds:
            break
    return 1000 * (time.perf_counter() - start) / done


def bilstm_settings(args, facts: dict, name: str, shrink: float) -> dict:
    """Epochs and transfer-set growth of a BiLSTM (`shrink` < 1 under --time_budget); on gold labels, no growth."""
    small = facts["train"] + facts["unlabeled"] < SMALL_TRAIN
    growth = 0.0 if name == "bilstm_gold" else args.growth if args.growth is not None else 4.0 * small
    epochs = args.bilstm_epochs or (5 if growth and not facts["pairs"] else 10)
    growth = round(growth * shrink, 1) if facts["pairs"] else round(growth * shrink)
    return {"epochs": max(1, round(epochs * shrink)), "growth": growth}


def bilstm_transfer(facts: dict, growth: float) -> int:
    """The BiLSTM's transfer set: the training and unlabeled texts, and `growth` augmented draws of each that are
    new (their measured share), or `growth` new pairs per training pair."""
    texts = facts["train"] + facts["unlabeled"]
    if facts["pairs"]:
        return texts + int(facts["train"] * growth)
    return texts + int(texts * growth * facts["new_draws"])


def bilstm_student(facts: dict) -> tuple[list[str], tuple[int, int]]:
    """The BiLSTM for the language: distill.py's flags, and its (embedding width, units per direction) for the
    estimate. Chinese: LAC's character vectors; other languages: the teacher's word pieces and embeddings, at
    distill.py's default units."""
    if facts["cjk"]:
        return (["--student_tokenizer", "char", "--char_vectors", "lac", "--hidden_size", str(CHINESE_UNITS),
                 "--match_teacher_coverage"], (LAC_DIM, CHINESE_UNITS))
    return ["--student_tokenizer", "teacher", "--init_from_teacher"], (facts["teacher_hidden"], DEFAULT_UNITS)


def bilstm_stages(args, facts: dict, view: str, name: str, settings: dict) -> list[Stage]:
    """distill.py with the student for the language and the transfer set for the task's kind."""
    out = os.path.join(args.output_dir, name)
    student, _ = bilstm_student(facts)
    growth = settings["growth"]
    if growth and facts["pairs"]:
        transfer = ["--pair_transfer", str(growth), "--pair_kinds", "random"]
    elif growth:  # POS-guided replacement has an offline tagger for Chinese only
        rules = "mask,pos,ngram" if facts["cjk"] else "mask,ngram"
        transfer = ["--augment", rules, "--n_iter", str(int(growth))]
    else:
        transfer = []
    flags = ["--data_dir", view, "--teacher_model", args.teacher_model, "--output_dir", out,
             "--distill", "0" if name == "bilstm_gold" else "1", "--num_train_epochs", str(settings["epochs"]),
             *student, *transfer, *train_cut(args), *common_flags(args)]
    return [Stage(name, out, "src/distill_task_specific_bert/distill.py", flags)]


def train_cut(args) -> list[str]:
    return ["--max_train_examples", str(args.max_train_examples)] if args.max_train_examples else []


def common_flags(args) -> list[str]:
    """Flags of every candidate stage: untimed (compress.py times them all alike), one cache."""
    return ["--speed_texts", "0", "--cache_dir", os.path.join(args.output_dir, "cache")]


def augmentation_stage(args, facts: dict, view: str) -> Stage:
    """TinyBERT's data augmentation (data_augmentation.py) into the data view's train_aug.tsv, which every
    TinyBERT candidate then trains on (--aug_train)."""
    cut = ["--max_examples", str(args.max_train_examples)] if args.max_train_examples else []
    flags = ["--pretrained_bert_model", args.augment_model or args.teacher_model, "--glue_dir",
             os.path.dirname(view), "--task_name", os.path.basename(view), "--N", str(args.tinybert_augment),
             "--max_seq_length", str(facts["max_seq_length"]), *(["--do_lower_case"] * facts["do_lower_case"]), *cut]
    return Stage("TinyBERT augmentation", os.path.join(view, "train_aug.tsv"), "src/tinybert/data_augmentation.py",
                 flags)


def tinybert_stages(args, facts: dict, view: str, name: str, settings: dict) -> list[Stage]:
    """task_distill.py twice: stage 1 (intermediate layers) from the teacher's layers or the general student,
    then stage 2 (predictions); with --tinybert_augment, both on the augmented training set, made first."""
    out = os.path.join(args.output_dir, name)
    start = (["--student_model", args.general_student] if name == "narrow" else
             ["--init_from_teacher", "--student_layers", name.removeprefix("tinybert")])
    data = ["--aug_train"] if args.tinybert_augment else train_cut(args)
    shared = ["--teacher_model", args.teacher_model, "--data_dir", view, "--task_name", os.path.basename(view),
              "--max_seq_length", str(facts["max_seq_length"]), *(["--do_lower_case"] * facts["do_lower_case"]),
              *data, *common_flags(args)]
    stage1 = [*shared, *start, "--output_dir", out + "_stage1", "--num_train_epochs", str(settings["epochs"][0])]
    stage2 = [*shared, "--pred_distill", "--student_model", out + "_stage1", "--output_dir", out,
              "--num_train_epochs", str(settings["epochs"][1]), "--learning_rate", "3e-5"]
    script = "src/tinybert/task_distill.py"
    augment = [augmentation_stage(args, facts, view)] if args.tinybert_augment else []
    return [*augment, Stage(f"{name} stage 1", out + "_stage1", script, stage1),
            Stage(f"{name} stage 2", out, script, stage2)]


def student_layers(args, facts: dict, name: str) -> float:
    """The student's size in teacher layers: its layers, narrowed by its width (the general student's config)."""
    if name != "narrow":
        return float(name.removeprefix("tinybert"))
    config_file = os.path.join(args.general_student, "config.json")
    if not os.path.isfile(config_file):  # a hub id: its size is not known offline; count it as 3 teacher layers
        return 3.0
    config = load_json(config_file)
    return config["num_hidden_layers"] * config["hidden_size"] / facts["teacher_hidden"]


def make_plan(args, facts: dict, view: str, scale: float, shrink: float) -> list[dict]:
    """Each candidate: its settings, stages and estimate (`shrink` scales epochs and transfer growth)."""
    plan = []
    for name in args.students:
        if name.startswith("bilstm"):
            settings = bilstm_settings(args, facts, name, shrink)
            stages = bilstm_stages(args, facts, view, name, settings)
            estimate = bilstm_estimate(bilstm_transfer(facts, settings["growth"]), settings["epochs"], scale,
                                       bilstm_student(facts)[1])
        else:
            if name != "narrow" and facts["teacher_layers"] % int(name.removeprefix("tinybert")):
                logger.warning(f"WARNING: {name} left out: the teacher's {facts['teacher_layers']} layers are no "
                               f"multiple of {name.removeprefix('tinybert')}")
                continue
            settings = {"epochs": [max(1, round(args.stage1_epochs * shrink)),
                                   max(1, round(args.stage2_epochs * shrink))]}
            stages = tinybert_stages(args, facts, view, name, settings)
            transfer = facts["train"] * (1 + args.tinybert_augment) + facts["unlabeled"]
            estimate = tinybert_estimate(transfer, student_layers(args, facts, name), facts["teacher_layers"],
                                         tuple(settings["epochs"]), scale)
            if args.tinybert_augment and not any(c["stages"][0].name == stages[0].name for c in plan):
                estimate.seconds += augmentation_seconds(facts["train"], scale)  # the first TinyBERT makes it
        plan.append({"name": name, "settings": settings, "stages": stages, "estimate": estimate})
    return plan


def fit_budget(args, facts: dict, view: str, scale: float) -> list[dict]:
    """The plan at full settings, or shrunk until it fits --time_budget; none fitting is an InputError naming
    the candidates that would fit alone at the smallest settings, and the budget all of them need."""
    for shrink in SHRINK:
        plan = make_plan(args, facts, view, scale, shrink)
        total = sum(c["estimate"].seconds for c in plan)
        if args.time_budget is None or total <= 60 * args.time_budget:
            if shrink < 1:
                logger.info(f"--time_budget {args.time_budget:g} min: epochs and transfer growth at {shrink:.0%}")
            return plan
    alone = [c for c in plan if c["estimate"].seconds <= 60 * args.time_budget]
    fits = (f"only {', '.join(c['name'] for c in alone)} would fit (--students {','.join(c['name'] for c in alone)})"
            if alone else "no candidate fits alone")
    raise InputError(f"--time_budget {args.time_budget:g} min is too small for the plan, even with epochs and "
                     f"transfer sets at {SHRINK[-1]:.0%} ({minutes(total)} estimated): {fits}; or give "
                     f"--time_budget {total / 60 + 1:.0f}")


def print_plan(plan: list[dict], facts: dict, scale: float) -> None:
    """The plan: per candidate its settings, transfer set and time estimate, then each stage's command."""
    kind = "pairs" if facts["pairs"] else "texts"
    unlabeled = f" and {facts['unlabeled']:,} unlabeled" if facts["unlabeled"] else ""
    print(f"\nPlan: {facts['train']:,} training {kind}{unlabeled}, metric {facts['metric']}; this machine runs the "
          f"teacher {scale:.2f}x as long as the reference (results/stage_times)\n")
    print("| candidate | settings | transfer examples | estimated time |\n|---|---|---|---|")
    for c in plan:
        print(f"| {c['name']} | {c['settings']} | {c['estimate'].transfer_examples:,} | "
              f"{minutes(c['estimate'].seconds)} |")
    print(f"| total | | | {minutes(sum(c['estimate'].seconds for c in plan))} |\n")
    for c in plan:
        for stage in c["stages"]:
            print(f"  {stage.name}: {command_line(stage)}")
    print(flush=True)


# ----------------------------------------------------------------------------
# The run directory: its owner, the data view, the candidates' runs


def check_output(args) -> None:
    """Refuse an output directory that holds anything but an earlier compress.py run of this data and teacher."""
    check_apart({"--output_dir": args.output_dir}, {"--data_dir": data_files(args.data_dir),
                                                    "--teacher_model": args.teacher_model,
                                                    "--general_student": args.general_student})
    if not os.path.isdir(args.output_dir) or not os.listdir(args.output_dir):
        return
    plan_file = os.path.join(args.output_dir, PLAN_FILE)
    if not os.path.isfile(plan_file):
        raise InputError(f"--output_dir {args.output_dir} holds files that are not a compress.py run; choose an "
                         f"empty or new directory")
    earlier = load_json(plan_file)
    for flag in ("data_dir", "teacher_model"):
        if os.path.abspath(earlier[flag]) != os.path.abspath(getattr(args, flag)):
            raise InputError(f"--output_dir {args.output_dir} holds the runs of --{flag} {earlier[flag]}, not "
                             f"{getattr(args, flag)}; choose another --output_dir")


def view_dir(args) -> str:
    """<output_dir>/data/<name of --data_dir>: the candidates' data (named as --data_dir is: a task follows its
    directory's name)."""
    return os.path.join(args.output_dir, "data", os.path.basename(os.path.normpath(args.data_dir)))


def make_view(args, view: str) -> None:
    """Fill `view` with links to --data_dir's files, the dev file standing in for test, so that the candidates
    never see the test set."""
    os.makedirs(view, exist_ok=True)
    record = os.path.join(args.data_dir, "prepare.json")  # the task prepare_data.py recorded, when there is one
    for path in [*data_files(args.data_dir), *[record] * os.path.isfile(record)]:
        name = os.path.basename(path)
        if name.startswith("test."):
            continue
        target = os.path.join(view, name)
        if not os.path.lexists(target):
            os.symlink(os.path.abspath(path), target)
        if name.startswith("dev.") and not os.path.lexists(os.path.join(view, "test" + name[3:])):
            os.symlink(os.path.abspath(path), os.path.join(view, "test" + name[3:]))


def saved_plan(args, plan: list[dict]) -> list[dict]:
    """The plan of the first run in this output directory (a rerun repeats its settings exactly, so that the
    stages resume), or this one, written down."""
    path = os.path.join(args.output_dir, PLAN_FILE)
    if os.path.isfile(path):
        earlier = load_json(path)["candidates"]
        logger.info(f"{path}: the plan of the first run in --output_dir, repeated so that its stages resume")
        return [{**c, "stages": [Stage(**s) for s in c["stages"]], "estimate": Estimate(**c["estimate"])}
                for c in earlier]
    record = {"data_dir": args.data_dir, "teacher_model": args.teacher_model,
              "candidates": [{**c, "stages": [vars(s) for s in c["stages"]], "estimate": vars(c["estimate"])}
                             for c in plan]}
    write_atomically(path, lambda tmp: save_json(record, tmp))
    return plan


def run_candidates(args, plan: list[dict]) -> dict[str, float | None]:
    """Run every candidate's stages; the seconds each took, kept in <output_dir>/times.json across reruns (a
    rerun that resumes a candidate adds the time it took; a killed stage's time before the kill is lost)."""
    path = os.path.join(args.output_dir, "times.json")
    seconds = load_json(path) if os.path.isfile(path) else {}
    for c in plan:
        for stage in c["stages"]:
            took = run_stage(stage)
            if took is not None:
                seconds[c["name"]] = seconds.get(c["name"], 0.0) + took
                write_atomically(path, lambda tmp: save_json(seconds, tmp))
    return {c["name"]: seconds.get(c["name"]) for c in plan}


# ----------------------------------------------------------------------------
# Scoring, timing, choosing, shipping


def score(predict, labels: list[str], texts: list, gold: list, metric: str) -> float:
    """The task's metric of a predictor on labelled texts (or pairs)."""
    return predictor_metrics(predict, labels, texts, gold)[metric]


def timed(model_dir: str, onnx_dir: str, texts: list, args) -> tuple[dict, dict]:
    """`speed_of` the model on one thread: PyTorch, and ONNX int8 (exported into `onnx_dir` once)."""
    torch_predict = load_predictor(model_dir)[0]
    graph = os.path.join(onnx_dir, "model.onnx")
    if not os.path.isfile(graph.replace(".onnx", "_quantized.onnx")):
        shutil.rmtree(onnx_dir, ignore_errors=True)
        export_model(model_dir, graph, onnx_dir, int8=True)
    onnx_predict = onnx_predictor(graph.replace(".onnx", "_quantized.onnx"), threads=1)[0]
    return speed_of(torch_predict, texts, args.speed_repeats), speed_of(onnx_predict, texts, args.speed_repeats)


def once(path: str, compute, model: str) -> dict:
    """The JSON at `path` if it was measured on this `model` directory as it is now, else `compute()` written
    there: a model is scored and timed once, so that a rerun compares the same numbers and picks the same one."""
    stamp = os.path.getmtime(model) if os.path.isdir(model) else model  # a retrained run has a new directory
    earlier = load_json(path) if os.path.isfile(path) else {}
    if earlier.get("stamp") == stamp:
        return earlier
    result = {**compute(), "stamp": stamp}
    write_atomically(path, lambda tmp: save_json(result, tmp))
    return result


def candidate_row(args, c: dict, seconds: float | None, facts: dict, teacher: dict) -> dict:
    """A candidate's dev score, its shares of the teacher's, its speed-ups against the teacher (one thread)."""
    dev_texts, dev_labels = facts["dev"]
    run = c["stages"][-1].output
    predict, labels = load_predictor(run)
    dev = score(predict, labels, dev_texts, dev_labels, facts["metric"])
    pytorch, onnx = timed(run, os.path.join(args.output_dir, "onnx", c["name"]), dev_texts[:args.speed_texts], args)
    floor = majority_floor(facts["train_labels"], dev_labels, facts["metric"])
    return {"name": c["name"], "dir": run, "dev": dev, "share": dev / teacher["dev"],
            "gain_share": gain_share(dev, teacher["dev"], floor), **speedups(pytorch, teacher["pytorch"]),
            **{f"onnx_{k}": v for k, v in speedups(onnx, teacher["onnx"]).items()},  # int8 against int8
            "speed": {"pytorch": pytorch, "onnx_int8": onnx},
            "params": load_json(os.path.join(run, "metrics.json")).get("num_params") or 0,
            "settings": c["settings"], "estimate_s": c["estimate"].seconds, "seconds": seconds}


def teacher_row(args, facts: dict) -> dict:
    """The teacher's dev score and its speed on one thread (PyTorch, ONNX int8), timed on dev texts."""
    predict, labels = load_predictor(args.teacher_model)
    dev_texts, dev_labels = facts["dev"]
    pytorch, onnx = timed(args.teacher_model, os.path.join(args.output_dir, "onnx", "teacher"),
                          dev_texts[:args.speed_texts], args)
    return {"dev": score(predict, labels, dev_texts, dev_labels, facts["metric"]), "pytorch": pytorch,
            "onnx": onnx, "labels": labels}


def export_pick(args, row: dict) -> str:
    """src/export.py on the pick (checked against PyTorch, int8 included) into <output_dir>/export."""
    out = os.path.join(args.output_dir, "export")
    run_stage(Stage("export", out, "src/export.py", ["--model", row["dir"], "--output_dir", out, "--int8",
                                                     "--overwrite_output_dir"]))
    return out


def model_card(row: dict, runners_up: list[dict], kept: bool, args, metric: str, test: dict) -> str:
    """The export's README.md: the pick's own card, then how it was chosen."""
    card = Path(row["dir"], "README.md").read_text(encoding="utf-8")
    why = (f"the fastest candidate keeping at least {args.keep_gain or args.keep:.0%} of the teacher's dev "
           f"{metric}{' gain over the majority class' if args.keep_gain else ''}" if kept else
           f"no candidate kept {args.keep_gain or args.keep:.0%}: the best-scoring one")
    others = "; ".join(f"{r['name']} (dev {100 * r['dev']:.1f}, {r['speedup_batch_64']:.1f}x)" for r in runners_up)
    return (f"{card}\n\n## How compress.py chose it\n\nPicked from {len(runners_up) + 1} candidates as {why}: dev "
            f"{metric} {100 * row['dev']:.1f} ({row['share']:.1%} of the teacher's), {row['speedup_batch_64']:.1f}x "
            f"the teacher's speed (batch 64, one thread). Runners-up: {others or 'none'}. Test {metric} "
            f"{100 * test['student']:.1f} against the teacher's {100 * test['teacher']:.1f}; the run's own "
            f"\"test\" scores above are on dev (its data view held out the test set).\n")


def test_scores(args, row: dict, facts: dict, teacher: dict) -> dict:
    """The pick and the teacher on the test set: the only time it is read."""
    texts, gold, _ = load_split(args.data_dir, "test", teacher["labels"])
    student = score(*load_predictor(row["dir"]), texts, gold, facts["metric"])
    teacher_test = score(load_predictor(args.teacher_model)[0], teacher["labels"], texts, gold, facts["metric"])
    floor = majority_floor(facts["train_labels"], gold, facts["metric"])
    return {"student": student, "teacher": teacher_test, "floor": floor, "share": student / teacher_test,
            "gain_share": gain_share(student, teacher_test, floor)}


def write_text(path: str, text: str) -> None:
    write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_report(args, facts: dict, rows: list[dict], chosen: tuple, test: dict, teacher: dict,
                 wall_s: float) -> None:
    """report.json, report.md and pareto.png in --output_dir (`wall_s`: this invocation's seconds)."""
    row, kept = chosen
    metric = facts["metric"]
    report = {"data_dir": args.data_dir, "teacher_model": args.teacher_model, "keep": args.keep,
              "keep_gain": args.keep_gain, "metric": metric, "teacher_dev": teacher["dev"], "candidates": rows,
              "pick": row["name"], "kept": kept, "test": test,
              "estimated_s": sum(r["estimate_s"] for r in rows),
              "measured_s": sum(r["seconds"] or 0 for r in rows), "wall_s": wall_s}
    save_json(report, os.path.join(args.output_dir, "report.json"))
    verdict = "keeps" if kept else "is the best candidate but does not keep"
    text = (f"# Compressing {args.teacher_model} on {args.data_dir}\n\nTeacher dev {metric} "
            f"{100 * teacher['dev']:.1f}. Asked to keep {args.keep_gain or args.keep:.0%} of its dev {metric}"
            f"{' gain' if args.keep_gain else ''}.\n\n{candidates_table(rows, metric, row['name'])}\n\n"
            f"**Pick: {row['name']}**, which {verdict} that share. Test {metric} {100 * test['student']:.1f} "
            f"against the teacher's {100 * test['teacher']:.1f} ({test['share']:.1%} of it"
            + (f", {test['gain_share']:.1%} of its gain over the majority class" if test["gain_share"] is not None
               else "") + f"). Training: estimated {minutes(report['estimated_s'])}, measured "
            f"{minutes(report['measured_s'])}; the whole command {minutes(wall_s)} (scoring, timing and export "
            f"included; a rerun counts only what it redid).\n\n![share against speed-up](pareto.png)\n")
    write_text(os.path.join(args.output_dir, "report.md"), text)
    pareto_figure(rows, row["name"], args.keep_gain or args.keep, os.path.join(args.output_dir, "pareto.png"),
                  f"{os.path.basename(os.path.normpath(args.data_dir))}: candidates against the teacher (dev)",
                  by="gain_share" if args.keep_gain else "share")


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    started = time.perf_counter()
    check_paths(dirs={"--data_dir": args.data_dir})
    check_model_sources({"--teacher_model": args.teacher_model, "--general_student": args.general_student,
                         "--augment_model": args.augment_model})
    if args.max_seq_length:
        check_max_length(args.max_seq_length, {"--teacher_model": args.teacher_model})
    check_output(args)
    teacher_predict, teacher_labels = load_predictor(args.teacher_model)
    facts = task_facts(args, teacher_labels)

    # --- the plan, timed for this machine; --dry_run stops here
    scale = machine_scale(teacher_pace(teacher_predict, facts["train_texts"]))
    view = view_dir(args)
    plan = fit_budget(args, facts, view, scale)
    print_plan(plan, facts, scale)
    if args.dry_run:
        return
    make_view(args, view)
    plan = saved_plan(args, plan)

    # --- run the candidates, then score and time them all alike: dev, one thread
    seconds = run_candidates(args, plan)
    torch.set_num_threads(1)
    scores = os.path.join(args.output_dir, "scores")
    teacher = once(os.path.join(scores, "teacher.json"), lambda: teacher_row(args, facts), args.teacher_model)
    rows = [once(os.path.join(scores, f"{c['name']}.json"),
                 lambda c=c: candidate_row(args, c, seconds[c["name"]], facts, teacher), c["stages"][-1].output)
            for c in plan]
    row, kept = pick(rows, args.keep_gain or args.keep, by="gain_share" if args.keep_gain else "share")
    if not kept:
        logger.warning(f"WARNING: no candidate keeps {args.keep_gain or args.keep:.0%} of the teacher's dev "
                       f"{facts['metric']}{' gain' if args.keep_gain else ''}: picked the best, {row['name']}")

    # --- only the pick meets the test set; export it and report
    test = test_scores(args, row, facts, teacher)
    export = export_pick(args, row)
    card = model_card(row, [r for r in rows if r is not row], kept, args, facts["metric"], test)
    write_text(os.path.join(export, "README.md"), card)
    write_report(args, facts, rows, (row, kept), test, teacher, time.perf_counter() - started)
    print(f"\n{candidates_table(rows, facts['metric'], row['name'])}\n")
    print_summary(f"compress: picked {row['name']}", export, dev={facts["metric"]: row["dev"]},
                  test={facts["metric"]: test["student"]}, metric=facts["metric"],
                  teacher_test={facts["metric"]: test["teacher"]}, floor=test["floor"],
                  speed={"speedup_batch_64": row["speedup_batch_64"]},
                  facts=(f"ONNX int8 {row['onnx_speedup_batch_64']:.1f}x the teacher's ONNX int8",
                         f"report {args.output_dir}/report.md"))


if __name__ == "__main__":
    run_script(main, resumable=True)
