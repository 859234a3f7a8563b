r"""Distil a fine-tuned BERT teacher into a BiLSTM (Tang et al. 2019, "Distilling Task-Specific Knowledge
from BERT into Simple Neural Networks").

Full run (teacher from bert_classification.py; --distill 0 trains the same BiLSTM on gold labels only):
    python src/distill_task_specific_bert/distill.py --data_dir data/reviews --teacher_model models/teacher \
        --output_dir models/bilstm_distilled --distill 1 [--augment mask,pos,ngram --n_iter 20]
Tiny CPU run:
    python src/distill_task_specific_bert/distill.py --data_dir data/reviews --teacher_model models/teacher \
        --output_dir /tmp/bilstm --max_train_examples 512 --num_train_epochs 2 --augment mask,ngram --n_iter 2 \
        --speed_texts 64
Prediction with a trained student (as with every model kind):
    python src/predict.py --model models/bilstm_distilled --input texts.txt [--output preds.tsv]

The student learns from z_T, the teacher's logits on the transfer set (train.tsv, unlabeled.tsv when
present, and with --augment the synthetic examples of section 3.3), with
loss = alpha * CE(y, z_S) + (1 - alpha) * ||z_T - z_S||^2, where y is the gold label or, on rows without
one, the teacher's argmax. The teacher's logits are computed once and cached on disk. Chinese students can
start from Baidu LAC's character vectors, which ship inside jieba (--char_vectors lac); an English one from
the teacher's embeddings (--student_tokenizer teacher --init_from_teacher). Training batches hold texts of
similar length (--length_buckets 1), about twice as fast as the paper's plain shuffle on a CPU.
Writes a student directory (config.json, vocab.txt, model.pt) with args.json and metrics.json: best dev
and its test accuracy/macro-F1, and the inference speed of student and teacher measured in the same run.
Multi-GPU: `accelerate launch` or `torchrun --nproc_per_node N` run this script unchanged (each process
trains on whole batches in turn, one step covering N of them; --fp16/--bf16 and --gradient_accumulation_steps go through
Accelerate); `--resume` continues a killed run from its last checkpoint.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import functools
import os

import torch
import torch.nn.functional as F

from src.common.cli import (
    PROBABILITY,
    SEED,
    ArgumentParser,
    add_engine_args,
    add_length_buckets_arg,
    add_metric_arg,
    exits_on_input_error,
    logger,
    non_negative,
    number,
    positive,
    run_script,
)
from src.common.files import check_apart, check_paths, staging_dir
from src.data.examples import SCORE_LABELS, add_data_format_args, all_texts, data_files, is_cjk, is_pairs
from src.data.pairs import add_pair_transfer_args, check_pair_transfer_args
from src.data.tasks import data_task, main_metric
from src.distill_task_specific_bert.student import build_student, dev_report
from src.distill_task_specific_bert.transfer import (
    AUGMENTATIONS,
    build_transfer_set,
    load_bert_teacher,
    load_data,
    student_ids,
    teacher_logits_on,
    transfer_loader,
)
from src.modeling.bert import check_max_length, check_model_sources
from src.modeling.bilstm import (
    TOKENIZERS,
    bilstm_logits,
    fast_predictor,
    load_student,
    save_student,
)
from src.runs.run_dir import finish_run
from src.runs.summary import chance_check, majority_floor, print_summary, vs_teacher
from src.serve.speed import compare_speed
from src.teachers.targets import (
    add_teacher_args,
    check_teacher_weights,
    describe,
    dev_weights,
    load_teachers,
    score_teachers,
    teacher_predictor,
)
from src.train.engine import fit, fit_options, start_run, training_report
from src.train.evaluation import task_metrics
from src.train.losses import logits_mse

# ----------------------------------------------------------------------------
# Flags

def add_student_args(p):
    """The student's words, shape and initial embeddings."""
    p.add_argument("--student_tokenizer", choices=("auto",) + TOKENIZERS, default="auto",
                   help="student words: jieba, char, whitespace (lower-cased) or the teacher's WordPiece tokens; "
                        "auto: jieba for Chinese text, whitespace otherwise")
    p.add_argument("--min_freq", type=positive(int), default=1,
                   help="keep words seen at least this often in the transfer set")
    p.add_argument("--max_seq_length", type=positive(int), default=128,
                   help="student tokens per example (longer are cut); metrics.json's mean_student_tokens and "
                        "mean_teacher_pieces (per dev text) tell how many cover as much text as the teacher sees")
    p.add_argument("--match_teacher_coverage", action="store_true",
                   help="replace --max_seq_length by the student length that reads as much text as the teacher "
                        "does, from student tokens per teacher word piece on the training texts (for a fair speed "
                        "comparison on long texts)")
    p.add_argument("--embedding_dim", type=positive(int), default=300,
                   help="embedding width of random embeddings (pretrained ones bring their own)")
    p.add_argument("--hidden_size", type=positive(int), default=150, help="LSTM units per direction")
    p.add_argument("--fc_dim", type=positive(int), default=200, help="width of the ReLU dense layer")
    p.add_argument("--dropout", type=PROBABILITY, default=0.1,
                   help="dropout on embeddings, LSTM output and dense layer")
    p.add_argument("--embedding_file", default=None, help="word2vec text-format vectors to initialise embeddings")
    p.add_argument("--char_vectors", choices=("lac",), default=None,
                   help="lac: Baidu LAC's 128-d Chinese character vectors, shipped inside jieba (Apache-2.0, as the "
                        "LAC code beside them), for --student_tokenizer char or jieba (a word: the mean of its "
                        "characters' vectors)")
    p.add_argument("--init_from_teacher", action="store_true",
                   help="copy the teacher's input embeddings (needs --student_tokenizer teacher; teacher's width)")


def add_transfer_args(p):
    """What the student learns from: the labelled examples, the synthetic ones, and the teacher's logit pass."""
    p.add_argument("--max_train_examples", type=positive(int), default=None,
                   help="use only the first N training examples")
    p.add_argument("--augment", default="", help=f"comma-separated subset of {','.join(AUGMENTATIONS)} (empty: none)")
    p.add_argument("--n_iter", type=positive(int), default=20,
                   help="augmentation draws per example (duplicates dropped)")
    p.add_argument("--p_mask", type=float, default=0.1, help="per-word probability of [MASK]")
    p.add_argument("--p_pos", type=float, default=0.1, help="per-word probability of a same-POS replacement")
    p.add_argument("--p_ng", type=float, default=None,
                   help="per-example probability of n-gram sampling (default: 0.25, the paper's; 0 for sentence "
                        "pairs, as in the authors' augment_paired_data.py)")
    p.add_argument("--p_both", type=float, default=1 / 3,
                   help="sentence pairs: probability that a draw rewrites both sentences, else one of the two "
                        "(a coin flip; the authors' 1/3)")
    p.add_argument("--ngram_range", default="1,5", help="smallest,largest n of the sampled n-grams")
    add_pair_transfer_args(p)
    p.add_argument("--teacher_max_seq_length", type=positive(int), default=None,
                   help="teacher word pieces per example (default: the teacher's own from its args.json, else 128)")
    p.add_argument("--teacher_batch_size", type=positive(int), default=64,
                   help="batch size of the teacher's logit pass")
    p.add_argument("--cache_dir", default=None,
                   help="teacher-logit cache and the transfer set's word ids (default: <teacher_dir>/../.logit_cache)")


def add_training_args(p):
    """Optimizer, epochs, batches and the engine's flags."""
    p.add_argument("--optimizer", choices=("adam", "adadelta"), default="adam",
                   help="adam; or adadelta with rho 0.95, Tang et al.'s choice (with their learning rate 1.0)")
    p.add_argument("--learning_rate", type=positive(float), default=None,
                   help="constant learning rate (default: 1e-3 with adam, 1.0 with adadelta)")
    p.add_argument("--num_train_epochs", type=positive(int), default=10, help="passes over the transfer set")
    p.add_argument("--train_batch_size", "--per_device_train_batch_size", type=positive(int), default=50,
                   help="examples per step")
    add_length_buckets_arg(p)
    add_metric_arg(p)
    p.add_argument("--eval_batch_size", type=positive(int), default=256, help="examples per evaluation batch")
    p.add_argument("--max_grad_norm", type=positive(float), default=5.0, help="gradient clipping norm")
    p.add_argument("--seed", type=SEED, default=42, help="random seed (training and augmentation)")
    add_engine_args(p)


def add_speed_args(p):
    """The speed comparison after training."""
    p.add_argument("--speed_texts", type=non_negative(int), default=512,
                   help="dev texts for the speed measurement (0: skip it)")
    p.add_argument("--speed_repeats", type=positive(int), default=3,
                   help="timed passes per measurement (median reported)")
    p.add_argument("--speed_threads", type=number(int, 0, 1024), default=0,
                   help="torch threads while timing (0: leave as is)")


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_dir", default=None, help="directory with train/dev/test.tsv (and optionally unlabeled.tsv)")
    add_teacher_args(p, "fine-tuned teacher: a bert_classification.py directory (or hub id) or a linear_teacher.py "
                     "one; repeat the flag for several teachers (their targets: the weighted mean of their "
                     "log-probabilities, src/teachers/targets.py)")
    p.add_argument("--output_dir", default=None, help="where the student, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--distill", type=int, choices=(0, 1), default=1,
                   help="1: learn from the teacher's logits; 0: gold labels only (the baseline)")
    p.add_argument("--alpha", type=float, default=0.0,
                   help="weight of the cross-entropy on the gold label, or on the teacher's argmax where there is "
                        "none (paper: 0)")
    add_student_args(p)
    add_transfer_args(p)
    add_training_args(p)
    add_speed_args(p)
    add_data_format_args(p)
    args = p.parse_args(argv)

    for flag in ("data_dir", "teacher_model", "output_dir"):
        if getattr(args, flag) is None:
            p.error(f"--{flag} is required")
    check_pair_transfer_args(p, args)
    args.augment = [a for a in args.augment.split(",") if a]
    if set(args.augment) - set(AUGMENTATIONS):
        p.error(f"--augment takes a comma-separated subset of {AUGMENTATIONS}, got {args.augment}")
    try:
        args.ngram_range = tuple(int(n) for n in args.ngram_range.split(","))
    except ValueError:
        args.ngram_range = ()
    if len(args.ngram_range) != 2 or not 1 <= args.ngram_range[0] <= args.ngram_range[1]:
        p.error("--ngram_range must be two integers 1 <= lo <= hi, e.g. 1,5")
    check_teacher_weights(p, args)
    if args.init_from_teacher and args.student_tokenizer != "teacher":
        p.error("--init_from_teacher needs --student_tokenizer teacher (the student must share its vocabulary)")
    if sum(map(bool, (args.embedding_file, args.char_vectors, args.init_from_teacher))) > 1:
        p.error("--embedding_file, --char_vectors and --init_from_teacher exclude one another")
    if args.char_vectors and args.student_tokenizer in ("whitespace", "teacher"):
        p.error("--char_vectors needs Chinese student words: --student_tokenizer char, jieba or auto")
    for flag in ("p_mask", "p_pos", "p_ng", "p_both"):
        if getattr(args, flag) is not None and not 0 <= getattr(args, flag) <= 1:
            p.error(f"--{flag} is a probability, in [0, 1]")
    if args.learning_rate is None:
        args.learning_rate = 1.0 if args.optimizer == "adadelta" else 1e-3
    if not 0 <= args.alpha <= 1:
        p.error("--alpha must be in [0, 1]")
    if args.max_seq_length < 1 or args.num_train_epochs < 1:
        p.error("--max_seq_length and --num_train_epochs must be at least 1")
    return args


# ----------------------------------------------------------------------------
# The loss

def distill_loss(logits_S, logits_T, labels, alpha):
    """Tang et al. eq. 3: L = alpha * CE(t, z_S) + (1 - alpha) * ||z_T - z_S||^2, on every row of the batch.

    The target t of a row is its gold label y where it has one (labels >= 0); unlabeled and augmented rows
    (label -1) take the teacher's prediction argmax z_T instead, as the paper treats its transfer set.
    Both terms are means over the batch; the MSE sums over the classes (`logits_mse`).
    A regressor (C = 1, STS-B): L = alpha * (y - s_S)^2 + (1 - alpha) * (s_T - s_S)^2, batch means, with the
    teacher's score s_T as y on rows without a gold score (NaN).
    logits_S, logits_T: (B, C); labels: (B,). Returns a scalar.
    """
    if logits_S.shape[-1] == 1:
        targets = torch.where(labels.isnan(), logits_T[:, 0], labels)  # (B,)
        return alpha * F.mse_loss(logits_S[:, 0], targets) + (1 - alpha) * logits_mse(logits_S, logits_T)
    targets = torch.where(labels >= 0, labels, logits_T.argmax(-1))  # (B,)
    return alpha * F.cross_entropy(logits_S, targets) + (1 - alpha) * logits_mse(logits_S, logits_T)


def student_loss(model, batch, alpha):
    """The training loss of a batch: eq. 3 when it carries the teacher's logits, else (--distill 0) the
    cross-entropy on the gold labels (a regressor: the squared error on the gold scores)."""
    logits_S = model(**{k: v for k, v in batch.items() if k.startswith(("input_ids", "lengths"))})  # (B, C)
    if "logits_T" in batch:
        return {"loss": distill_loss(logits_S, batch["logits_T"], batch["labels"], alpha)}
    if logits_S.shape[-1] == 1:
        return {"loss": F.mse_loss(logits_S[:, 0], batch["labels"])}
    return {"loss": F.cross_entropy(logits_S, batch["labels"])}


# ----------------------------------------------------------------------------
# Optimizer and scores (the transfer set is built in transfer.py, the student in student.py)


def make_optimizer(args, params):
    """Adam (fused: one pass over the weights per step), or Tang et al.'s Adadelta with rho 0.95."""
    if args.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=args.learning_rate, rho=0.95)
    return torch.optim.Adam(params, lr=args.learning_rate, fused=True)


def scores_of(model, ids, labels, batch_size):
    """`task_metrics` of a student on encoded texts or pairs: a classifier's, or a regressor's."""
    logits = bilstm_logits(model, ids, batch_size)
    regression = model.config.num_labels == 1
    return task_metrics(labels, logits[:, 0] if regression else logits.argmax(-1), regression)


# ----------------------------------------------------------------------------
# After training: speed

def measure_speed(args, student, tokenizer, teacher, texts):
    """Examples/s of the student's serving path (the folded LSTM) and the teacher's (a `Teacher`: the first BERT,
    else the first teacher), on the same CPU in one process, tokenization included; {} with --speed_texts 0."""
    if not args.speed_texts:
        return {}
    if args.speed_threads:
        torch.set_num_threads(args.speed_threads)
    speeds = compare_speed(fast_predictor(student, tokenizer), teacher_predictor(teacher), texts[:args.speed_texts],
                           args.speed_repeats)
    speeds.update(student_max_seq_length=tokenizer.max_seq_length, teacher_model=teacher.source,
                  teacher_max_seq_length=teacher.max_seq_length if teacher.kind == "bert" else None)
    logger.info(f"examples/s at batch 64: student {speeds['student']['batch_64']['examples_per_s']:.0f}, teacher "
                f"{speeds['teacher']['batch_64']['examples_per_s']:.1f} ({speeds['speedup_batch_64']:.1f}x); "
                f"batch 1: {speeds['speedup_batch_1']:.1f}x; {torch.get_num_threads()} thread(s)")
    return speeds


def check_inputs(args) -> None:
    """What can be refused before any work: an output over an input, missing paths, unloadable teachers, a teacher
    length past their positions."""
    check_apart({"--output_dir": args.output_dir}, {"--teacher_model": args.teacher_model,
                                                    "--data_dir": data_files(args.data_dir),
                                                    "--embedding_file": args.embedding_file})
    check_paths(dirs={"--data_dir": args.data_dir}, files={"--embedding_file": args.embedding_file},
                new_dirs={"--cache_dir": args.cache_dir})
    check_model_sources({"--teacher_model": args.teacher_model})
    check_max_length(args.teacher_max_seq_length, {"--teacher_model": args.teacher_model},
                     flag="--teacher_max_seq_length")


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    accelerator = start_run(args)
    if accelerator is None:
        return

    # --- teachers and data (labels in the teachers' id order, so ids match their outputs; texts or pairs)
    teachers = load_teachers(args.teacher_model, device=accelerator.device, max_seq_length=args.teacher_max_seq_length)
    bert, label_list = load_bert_teacher(args, teachers), teachers[0].labels
    logger.info(f"teachers: {describe(teachers, args.teacher_weights)}")
    (train_texts, train_labels), dev, (test_texts, test_labels) = load_data(args, teachers, label_list)
    cjk = is_cjk("".join(all_texts(train_texts[:500])))
    metric = main_metric(data_task(args.data_dir), label_list == SCORE_LABELS, args.metric)

    # --- transfer set, the teacher's logits on it, and the student (siamese for pairs)
    cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.teacher_model[0])), ".logit_cache")
    texts, labels, transfer_stats = build_transfer_set(args, accelerator, train_texts, train_labels, cjk,
                                                       {*dev[0], *test_texts}, cache_dir)
    with accelerator.main_process_first():  # the other ranks then read the teachers' dev outputs from the cache
        weights, weight_stats = dev_weights(teachers, args.teacher_weights, args.teacher_weights_on_dev, dev,
                                            metric, args.teacher_batch_size, cache_dir)
    teacher_logits, logit_stats = teacher_logits_on(args, accelerator, teachers, weights, texts, cache_dir)
    model, tokenizer, student_stats = build_student(args, cjk, texts, len(label_list), bert)
    dev_ids, test_ids = tokenizer.encode(dev[0]), tokenizer.encode(test_texts)

    # --- train at a constant learning rate, keeping the best dev checkpoint in a staging directory. `model` stays
    # the bare module (fit trains it through its DDP wrapper): every rank scores the whole (small) dev set with
    # the same weights, no gathering needed.
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    state = fit(model, functools.partial(student_loss, alpha=args.alpha),
                transfer_loader(student_ids(accelerator, tokenizer, texts, cache_dir), labels, teacher_logits,
                                args.train_batch_size, args.length_buckets),
                make_optimizer(args, model.parameters()), accelerator, tmp_dir,
                evaluate_fn=lambda: scores_of(model, dev_ids, dev[1], args.eval_batch_size),
                save_fn=lambda path: save_student(path, model, tokenizer, label_list), metric=metric,
                **fit_options(args))
    if not accelerator.is_main_process:
        return

    # --- test the best checkpoint, score the teachers, time student and teacher on the same machine
    best = load_student(tmp_dir)[0]
    test = scores_of(best, test_ids, test_labels, args.eval_batch_size)
    teacher_scores = score_teachers(teachers, weights, {"dev": dev, "test": (test_texts, test_labels)},
                                    args.teacher_batch_size, cache_dir)
    speeds = measure_speed(args, best, tokenizer, bert or teachers[0], dev[0])
    floor = majority_floor(train_labels, test_labels, metric)
    metrics = {
        "teacher_model": ", ".join(args.teacher_model), "data_dir": args.data_dir, "distill": args.distill,
        "alpha": args.alpha, "labels": label_list, "main_metric": metric, "text_pair": is_pairs(train_texts),
        **student_stats, **dev_report(tokenizer, bert, dev[0]), **transfer_stats, "augment": args.augment,
        "n_iter": args.n_iter, **logit_stats, "teacher_num_params": sum(t.num_params for t in teachers),
        "dev": state.best, "test": test, **teacher_scores, **weight_stats, **chance_check(state.best, dev[1], metric),
        **vs_teacher(test, teacher_scores["teacher_scores"], metric, floor), **training_report(state, accelerator),
        "speed": speeds, "threads": torch.get_num_threads()}
    finish_run(tmp_dir, args.output_dir, {**vars(args), "ngram_range": list(args.ngram_range)}, metrics,
               script=__file__)
    print_summary(f"BiLSTM student ({'distilled' if args.distill else 'gold labels only'})", args.output_dir,
                  dev=state.best, test=test, metric=metric, speed=speeds or None,
                  teacher_test=(teacher_scores["teacher_scores"] or {}).get("test"), floor=floor)


if __name__ == "__main__":
    run_script(main, resumable=True)
