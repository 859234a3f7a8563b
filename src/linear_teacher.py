"""A linear teacher: TF-IDF character and word n-grams + logistic regression (scikit-learn), C picked on dev.

    python src/linear_teacher.py --data_dir data/reviews --output_dir models/linear_teacher

On Chinese reviews such a model knows about as much as the offline BERT teacher (docs/benchmarks.md: the
TF-IDF rows), so it is worth having as a teacher of its own. Features: character n-grams (1-3, within word
boundaries) and word n-grams (1-2; jieba words for Chinese text, whitespace words otherwise), sublinear TF,
words seen at least twice. The regularisation C is the one of --C_grid with the best dev score by the task's
main metric. Writes `model.joblib` (the fitted scikit-learn pipeline), `config.json` (model_type, the labels in
the order the BERT teacher uses for the same training file: `label_list_from`, and the word splitter by name:
`src/modeling/linear.py`), `args.json` and `metrics.json`
(dev and test scores of the chosen C, every C tried) and, with --cross_fit K, `train_log_probs.bin`:
the training texts' out-of-fold log-probabilities, which the teacher gives its students on those texts (`cross_fit`).
It teaches wherever a teacher does (`--teacher_model` of distill.py, task_distill.py --pred_distill, predict.py),
its "logits" being its log-probabilities (`src.modeling.linear.linear_log_probs`). Single texts with class labels only:
pairs and scores are refused in one line.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import os
import time

import numpy as np

from src.common.cli import ArgumentParser, InputError, exits_on_input_error, logger, positive, run_script, setup_logging
from src.common.files import check_apart, check_output_dir, publish_dir, save_json, staging_dir
from src.data.examples import (
    SCORE_LABELS,
    add_data_format_args,
    data_files,
    data_format,
    input_hashes,
    is_cjk,
    is_pairs,
)
from src.data.reading import load_split
from src.data.tasks import data_task, main_metric
from src.modeling.linear import make_pipeline, save_linear
from src.runs.summary import print_summary
from src.teachers.cache import write_cache
from src.teachers.targets import CROSS_FIT_FILE
from src.train.evaluation import task_metrics


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_dir", required=True, help="directory with train/dev/test (any layout prepare_data reads)")
    p.add_argument("--output_dir", required=True, help="where model.joblib, config.json and metrics.json go")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--max_train_examples", type=positive(int), default=None, help="use only the first N examples")
    p.add_argument("--C_grid", default="0.25,1,4,16", help="inverse regularisation strengths tried on dev")
    p.add_argument("--cross_fit", type=int, default=0,
                   help="folds of the out-of-fold log-probabilities kept for the training texts, which the teacher "
                        "then gives its students instead of its own (it has learned those texts by heart); 0: none "
                        "(the default: a BiLSTM learned less from them on ChnSentiCorp, docs/benchmarks.md)")
    add_data_format_args(p)
    args = p.parse_args(argv)
    try:
        args.C_grid = [float(c) for c in args.C_grid.split(",")]
    except ValueError:
        args.C_grid = []
    if not args.C_grid or min(args.C_grid) <= 0:
        p.error("--C_grid takes comma-separated positive numbers, e.g. 0.25,1,4,16")
    if args.cross_fit == 1 or args.cross_fit < 0:
        p.error("--cross_fit takes 0 (off) or a number of folds of at least 2")
    return args


def cross_fit(args, train, cjk, C):
    """(input keys (n,) sorted, log-probabilities (n, C)) of the training texts, each from the pipeline fitted on
    the other --cross_fit folds (stratified, seeded): what the teacher knows of a text it has not seen. Fitted on
    all of them, it puts nearly all of its probability on every training text's gold label (a TF-IDF model
    separates its own training set), so targets on those texts would teach a student the gold labels and
    nothing of the teacher's doubts (its dark knowledge)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x, y = train
    folds = StratifiedKFold(args.cross_fit, shuffle=True, random_state=0)
    log_probs = cross_val_predict(make_pipeline(cjk, C), x, y, cv=folds, method="predict_log_proba")
    keys, first = np.unique(input_hashes(x), return_index=True)  # a repeated text keeps its first fold's row
    return keys, log_probs[first]


def load_data(args):
    """(texts, label ids) of train, dev and test, and the label names; pairs and scores refused."""
    train_x, train_y, labels = load_split(args.data_dir, "train", max_examples=args.max_train_examples,
                                         **data_format(args))
    if is_pairs(train_x):
        raise InputError(f"{args.data_dir} holds sentence pairs: the linear teacher reads single texts")
    if labels == SCORE_LABELS:
        raise InputError(f"{args.data_dir} holds scores: the linear teacher is a classifier")
    splits = [(train_x, train_y)] + [load_split(args.data_dir, split, labels, **data_format(args))[:2]
                                     for split in ("dev", "test")]
    return splits, labels


def pick_C(args, splits, cjk, metric):
    """The pipeline fitted on train with the C of --C_grid that scores best on dev; every C's dev score."""
    (train_x, train_y), (dev_x, dev_y), _ = splits
    best, tried = None, {}
    for C in args.C_grid:
        pipeline = make_pipeline(cjk, C).fit(train_x, train_y)
        tried[C] = task_metrics(dev_y, pipeline.predict(dev_x), False)[metric]
        logger.info(f"C {C}: dev {metric} {tried[C]:.4f}")
        if best is None or tried[C] > tried[best[0]]:
            best = (C, pipeline)
    return best, tried


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    check_apart({"--output_dir": args.output_dir}, {"--data_dir": data_files(args.data_dir)})
    check_output_dir(args.output_dir, args.overwrite_output_dir)
    start = time.perf_counter()
    splits, labels = load_data(args)
    if args.cross_fit > len(splits[0][0]):
        raise InputError(f"--cross_fit {args.cross_fit}: more folds than the {len(splits[0][0])} training examples")
    cjk = is_cjk("".join(splits[0][0][:500]))
    metric = main_metric(data_task(args.data_dir), False)
    (C, pipeline), tried = pick_C(args, splits, cjk, metric)
    dev, test = (task_metrics(y, pipeline.predict(x), False) for x, y in splits[1:])
    held_out = cross_fit(args, splits[0], cjk, C) if args.cross_fit else None

    tmp = staging_dir(args.output_dir)
    save_linear(pipeline, tmp, labels)
    if held_out is not None:
        write_cache(os.path.join(tmp, CROSS_FIT_FILE), *held_out)
    save_json(vars(args), os.path.join(tmp, "args.json"))
    save_json({"data_dir": args.data_dir, "labels": labels, "main_metric": metric, "C": C, "dev_by_C": tried,
               "num_train_examples": len(splits[0][0]), "chinese_words": cjk, "dev": dev, "test": test,
               "train_time_s": time.perf_counter() - start}, os.path.join(tmp, "metrics.json"))
    publish_dir(tmp, args.output_dir)
    print_summary("linear teacher (TF-IDF + logistic regression)", args.output_dir, dev=dev, test=test,
                  metric=metric, facts=(f"C {C}",))


if __name__ == "__main__":
    run_script(main)
