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

import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from src import ragged
from src.augment import augment_corpus, tag_words
from src.batching import training_batches
from src.bilstm import (MASK, PAD_ID, SPECIALS, TOKENIZERS, UNK_ID, BiLSTMClassifier, BiLSTMConfig, StudentTokenizer,
                        batch_inputs, bilstm_logits, build_vocab, fast_predictor, load_student, save_student,
                        token_counts, tokenize)
from src.cli import (PROBABILITY, SEED, ArgumentParser, InputError, add_engine_args, add_length_buckets_arg,
                     exits_on_input_error, logger, non_negative, positive, progress, run_script)
from src.data import (SCORE_LABELS, add_data_format_args, all_texts, data_format, is_cjk,
                      data_files, is_pairs, load_split, load_unlabeled)
from src.engine import fit, fit_options, start_run, training_report
from src.evaluation import task_metrics
from src.losses import logits_mse
from src.modeling import check_max_length, check_model_sources, count_parameters
from src.report import chance_check, majority_floor, print_summary, vs_teacher
from src.runs import check_apart, check_paths, finish_run, staging_dir
from src.tasks import data_task, main_metric
from src.speed import compare_speed
from src.teacher_logits import input_hashes
from src.teachers import (add_teacher_args, check_teacher_weights, check_teachers_read, describe, dev_weights,
                          load_teachers, score_teachers, teacher_predictor, teacher_targets)
from src.vectors import lac_char_vectors, mean_char_vectors, read_word_vectors

AUGMENTATIONS = ("mask", "pos", "ngram")


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
    p.add_argument("--speed_threads", type=non_negative(int), default=0,
                   help="torch threads while timing (0: leave as is)")


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data_dir", default=None, help="directory with train/dev/test.tsv (and optionally unlabeled.tsv)")
    add_teacher_args(p, "fine-tuned teacher: a bert_classification.py directory (or hub id) or a linear_teacher.py "
                     "one; repeat the flag for several teachers (their targets: the weighted mean of their "
                     "log-probabilities, src/teachers.py)")
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
# Teacher and transfer set

def load_bert_teacher(args, teachers):
    """The first BERT of the teachers, which the student options that read a teacher's word pieces or
    embeddings use, and which the speed comparison times; None when every teacher is linear (those options are
    then refused in one line)."""
    bert = next((t for t in teachers if t.kind == "bert"), None)
    needs = [flag for flag, on in (("--student_tokenizer teacher", args.student_tokenizer == "teacher"),
                                   ("--init_from_teacher", args.init_from_teacher),
                                   ("--match_teacher_coverage", args.match_teacher_coverage)) if on]
    if bert is None and needs:
        raise InputError(f"{', '.join(needs)} read a BERT teacher's word pieces, but every --teacher_model is linear")
    return bert


def load_data(args, teachers, label_list):
    """(texts or pairs, label ids or scores) of train (at most --max_train_examples), dev and test, each of the
    kind the teachers read."""
    splits = []
    for split in ("train", "dev", "test"):
        texts, labels, _ = load_split(args.data_dir, split, label_list,
                                      args.max_train_examples if split == "train" else None, **data_format(args))
        check_teachers_read(teachers, texts, f"{args.data_dir}/{split}")
        splits.append((texts, labels))
    return splits


class TaggedInputs:
    """The (words, tags) of texts, or pairs of them for pairs (`tag_words`), tagged afresh on each pass over
    them, so that a large transfer set's tags are never all held at once."""

    def __init__(self, inputs, cjk):
        self.inputs, self.cjk = inputs, cjk

    def __iter__(self):
        for x in progress(self.inputs, desc="tagging", leave=False):
            yield tag_words(x, self.cjk) if isinstance(x, str) else tuple(tag_words(t, self.cjk) for t in x)


def augmented_texts(args, texts, cjk, exclude):
    """The synthetic examples of section 3.3 drawn from `texts` (texts, or pairs: `augment_pair`), seeded by
    --seed, none of them in `exclude`, yielded one by one. A rule that cannot apply is skipped with a warning."""
    pairs = is_pairs(texts)
    if "pos" in args.augment and not cjk:
        logger.warning("WARNING: no offline POS tagger for non-Chinese text; POS-guided replacement is skipped")
    if "ngram" in args.augment and not ngram_probability(args, pairs):
        logger.warning("WARNING: n-gram sampling is skipped: --p_ng is 0 (for pairs by default, as in the authors' "
                       "augment_paired_data.py); pass --p_ng 0.25 to cut rewritten sentences to n-grams")
    return augment_corpus(random.Random(args.seed), TaggedInputs(texts, cjk), cjk, args.n_iter,
                          p_mask=args.p_mask if "mask" in args.augment else 0.0,
                          p_pos=args.p_pos if "pos" in args.augment else 0.0,
                          p_ng=ngram_probability(args, pairs) if "ngram" in args.augment else 0.0,
                          ngram_range=args.ngram_range, exclude=exclude, p_both=args.p_both if pairs else None)


def applied_rules(args, cjk: bool, pairs: bool) -> list[str]:
    """The --augment rules that apply: POS-guided replacement needs Chinese text (the one offline tagger), n-gram
    sampling a --p_ng above 0."""
    return [rule for rule in args.augment
            if not (rule == "pos" and not cjk) and not (rule == "ngram" and not ngram_probability(args, pairs))]


def augmentation(args, cjk: bool, pairs: bool) -> str:
    """The augmentation applied, for the log: its rules and draws per example, or none."""
    rules = applied_rules(args, cjk, pairs)
    return f"{','.join(rules)} x{args.n_iter}" if rules else "no augmentation"


def ngram_probability(args, pairs):
    """--p_ng, by default the paper's 0.25 for single texts and, as in the authors' pair script, 0 for pairs."""
    return args.p_ng if args.p_ng is not None else 0.0 if pairs else 0.25


def transfer_key(args, originals, held_out, cjk, augment) -> str:
    """What the transfer set's texts depend on: the original inputs and, with augmentation, its settings and the
    held-out (dev and test) inputs it must avoid."""
    key = hashlib.sha1(input_hashes(originals).tobytes())
    if augment:
        key.update(np.sort(input_hashes(list(held_out))).tobytes())
        key.update(json.dumps([args.augment, args.n_iter, args.p_mask, args.p_pos, ngram_probability(
            args, is_pairs(originals)), list(args.ngram_range), args.p_both, args.seed, cjk]).encode())
    return key.hexdigest()[:20]


def build_transfer_set(args, accelerator, train_texts, train_labels, cjk, held_out, cache_dir):
    """Inputs and gold labels of the transfer set: labelled train, then (when distilling) unlabeled.tsv and the
    synthetic examples, whose label is -1 (none; a regressor's NaN), none of them a `held_out` (dev or test)
    input. The inputs are streamed into a store on disk (`ragged.Inputs` in `cache_dir`, built once per
    `transfer_key` by the main process) and read from it. Returns (inputs, labels, its metrics.json entries)."""
    unlabeled = load_unlabeled(args.data_dir, **data_format(args)) if args.distill else []
    if args.augment and not args.distill:
        logger.warning("--augment is ignored with --distill 0 (synthetic examples have no gold label)")
    augment = bool(args.augment and args.distill)
    originals = train_texts + unlabeled
    path = os.path.join(cache_dir, f"transfer_{transfer_key(args, originals, held_out, cjk, augment)}")
    start = time.perf_counter()
    with accelerator.main_process_first():
        if accelerator.is_main_process and not ragged.exists(path):
            os.makedirs(cache_dir, exist_ok=True)
            synthetic = augmented_texts(args, originals, cjk, held_out) if augment else ()
            ragged.write_inputs(path, itertools.chain(originals, synthetic))
            logger.info(f"transfer set written to {path} in {time.perf_counter() - start:.0f} s")
    seconds = time.perf_counter() - start
    texts = ragged.Inputs(path, is_pairs(train_texts))
    n_augmented = len(texts) - len(originals)
    none = float("nan") if train_labels and isinstance(train_labels[0], float) else -1  # a score, or a class id
    labels = torch.tensor(train_labels + [none] * (len(unlabeled) + n_augmented))
    logger.info(f"transfer set {len(texts)} = train {len(train_texts)} + unlabeled {len(unlabeled)} + augmented "
                f"{n_augmented} ({augmentation(args, cjk, is_pairs(train_texts))}); loss: "
                + (f"{args.alpha} * CE + {1 - args.alpha} * logits MSE" if args.distill else "CE on gold labels"))
    return texts, labels, {"num_train_examples": len(train_texts), "num_unlabeled": len(unlabeled),
                           "num_augmented": n_augmented, "num_transfer_examples": len(texts),
                           "transfer_set_time_s": seconds}


def teacher_logits_on(args, accelerator, teachers, weights, texts, cache_dir):
    """z_T for the transfer set (None with --distill 0): the one teacher's logits, or several teachers' mean
    log-probabilities (`teacher_targets`), each teacher's outputs computed once per distinct text and cached on
    disk. Returns (targets, its metrics.json entries)."""
    if not args.distill:
        return None, {"teacher_logits_computed": 0, "teacher_logits_time_s": 0.0}
    start = time.perf_counter()
    with accelerator.main_process_first():  # the other ranks then read the main process's cache
        logits, computed = teacher_targets(teachers, weights, texts, args.teacher_batch_size, cache_dir)
    seconds = time.perf_counter() - start
    logger.info(f"teacher logits for {len(texts)} texts: {computed} computed, the rest from the cache, {seconds:.0f} s")
    return logits, {"teacher_logits_computed": computed, "teacher_logits_time_s": seconds}


def transfer_loader(ids, labels, teacher_logits, batch_size, length_buckets=True):
    """Shuffled batches of the transfer set: padded word ids (read from `ids`, the student-id stores of
    `student_ids`: one, or two for pairs), lengths, gold labels (-1: none) and, when distilling, the teacher's
    logits. With `length_buckets`, each batch holds texts of similar length (`LengthBatchSampler`). `fit`
    re-seeds the loader's generator, the sampler's only randomness, every epoch."""
    def collate(idx):
        rows = [tuple(side[i] for side in ids) if len(ids) == 2 else ids[0][i] for i in idx]
        batch = {**batch_inputs(rows), "labels": labels[idx]}
        if teacher_logits is not None:
            batch["logits_T"] = teacher_logits[idx]
        return batch

    generator = torch.Generator()
    lengths = sum(side.lengths() for side in ids)  # a pair's two texts together
    return torch.utils.data.DataLoader(range(len(ids[0])), generator=generator, collate_fn=collate,
                                       **training_batches(lengths, batch_size, generator, length_buckets))


def student_ids(accelerator, tokenizer, texts, cache_dir, chunk=4096):
    """The student's word ids of the transfer set `texts` (a `ragged.Inputs` store) in memory-mapped stores (one
    per text of a pair), built once per (inputs, tokenizer, vocabulary, length) in `cache_dir` by the main
    process, a chunk at a time, and reused by the other processes and by later runs with the same key. The
    inputs are known by their store's name, which is already their key (`transfer_key`): no pass over them."""
    key = hashlib.sha1(os.path.basename(texts.path).encode())
    key.update(json.dumps([tokenizer.kind, tokenizer.max_seq_length, tokenizer.vocab]).encode())
    paths = [os.path.join(cache_dir, f"student_ids_{key.hexdigest()[:20]}_{i}") for i in range(1 + is_pairs(texts))]
    with accelerator.main_process_first():
        if accelerator.is_main_process and not all(map(ragged.exists, paths)):
            os.makedirs(cache_dir, exist_ok=True)
            with contextlib.ExitStack() as stack:
                sides = [stack.enter_context(ragged.RaggedWriter(path, np.int32)) for path in paths]
                for start in progress(range(0, len(texts), chunk), desc="student ids", leave=False):
                    for ids in tokenizer.encode(texts[start:start + chunk]):
                        for side, x in zip(sides, ids if len(sides) == 2 else (ids,)):
                            side.append(x)
    return [ragged.Ragged(path, np.int32) for path in paths]


# ----------------------------------------------------------------------------
# Student

def embedding_weights(vocab, words, vectors):
    """Initial embeddings (V, d) for `vocab` from pretrained `words` and their `vectors` (n, d). Words
    without a vector start random at the vectors' scale; [PAD] is zero. A word listed twice keeps its last vector."""
    index = {w: i for i, w in enumerate(vocab)}
    weights = torch.randn(len(vocab), vectors.shape[1]) * float(vectors.std())
    weights[[index[w] for w in words]] = torch.from_numpy(vectors)
    weights[PAD_ID] = 0
    return weights


def pretrained_vectors(args, kind, vocab):
    """(words, vectors (n, d), description) of the vocabulary's pretrained vectors: --embedding_file's, or
    with --char_vectors lac Baidu LAC's character vectors (a jieba word: the mean of its characters');
    None when neither flag is given."""
    if args.embedding_file:
        return (*read_word_vectors(args.embedding_file, keep=set(vocab)), args.embedding_file)
    if not args.char_vectors:
        return None
    if kind not in ("char", "jieba"):
        raise InputError(f"--char_vectors lac needs Chinese student words (char or jieba), not {kind}")
    words, vectors = mean_char_vectors(vocab[len(SPECIALS):], *lac_char_vectors())
    if not words:
        raise InputError("no word of the student's vocabulary has a character with a LAC vector")
    return words, vectors, "LAC character vectors" + (", a word's mean over its characters" if kind == "jieba" else "")


def teacher_embeddings(bert, vocab):
    """Rows of a BERT teacher's input embeddings for the student's (teacher-tokenizer) vocabulary."""
    emb, teacher_tokenizer = bert.model.get_input_embeddings().weight.detach(), bert.tokenizer  # (V_T, d_T)
    special = {MASK: teacher_tokenizer.mask_token or teacher_tokenizer.unk_token}
    ids = teacher_tokenizer.convert_tokens_to_ids([special.get(w, w) for w in vocab])
    weights = emb[[i if i is not None else teacher_tokenizer.unk_token_id for i in ids]].clone()
    weights[PAD_ID] = 0
    return weights


def initial_embeddings(args, kind, vocab, bert):
    """(weights (V, d) or None for random ones, a description, how many vocabulary rows came pretrained)."""
    if args.init_from_teacher:
        return teacher_embeddings(bert, vocab), "teacher input embeddings", len(vocab)
    found = pretrained_vectors(args, kind, vocab)
    if found is None:
        return None, "random", 0
    words, vectors, source = found
    return embedding_weights(vocab, words, vectors), f"{source} ({len(words)} of {len(vocab)} words)", len(words)


def piece_counts(teacher_tokenizer, texts):
    """The number of teacher word pieces of each text, [CLS] and [SEP] left out."""
    return [len(x) for x in teacher_tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]


def coverage_length(token_lists, texts, teacher_tokenizer, teacher_len):
    """Student tokens that cover the text of the teacher's `teacher_len` (less [CLS] and [SEP]) word pieces:
    ceil((teacher_len - 2) * student tokens / teacher pieces), both counted over `texts` (a sample)."""
    n_T, n_S = sum(piece_counts(teacher_tokenizer, texts)), sum(len(t) for t in token_lists)
    return max(1, math.ceil((teacher_len - 2) * n_S / max(n_T, 1)))


def build_student(args, kind, texts, num_labels, bert):
    """The student's vocabulary (the words of the transfer set `texts`), tokenizer and BiLSTM (siamese for
    pairs), with random embeddings or pretrained ones (`initial_embeddings`); `bert` (a `Teacher`, or None) gives
    the word pieces, embeddings and length of the options that read them. Returns (model, tokenizer, its
    metrics.json entries)."""
    pair = is_pairs(texts)
    tok_teacher = bert.tokenizer if kind == "teacher" else None
    counts, lengths = token_counts(kind, texts, tok_teacher)  # a pair's two texts share the vocabulary
    vocab = build_vocab(counts, args.min_freq)
    max_len = args.max_seq_length  # the flag stays as given: --resume compares it with the checkpoint's
    if args.match_teacher_coverage:
        sample = all_texts(texts[:2000])
        max_len = coverage_length(tokenize(kind, sample, tok_teacher), sample, bert.tokenizer, bert.max_seq_length)
        logger.info(f"student length {max_len} covers the teacher's {bert.max_seq_length} word pieces")
    tokenizer = StudentTokenizer(kind, vocab, max_len, tok_teacher)
    weights, init, n_pretrained = initial_embeddings(args, kind, vocab, bert)
    config = BiLSTMConfig(vocab_size=len(vocab), num_labels=num_labels,
                          embedding_dim=weights.shape[1] if weights is not None else args.embedding_dim,
                          hidden_size=args.hidden_size, fc_dim=args.fc_dim, dropout=args.dropout, pair=pair)
    model = BiLSTMClassifier(config)
    if weights is not None:
        model.embedding.weight.data.copy_(weights)
    n_cut, n_params = int((lengths > max_len).sum()), count_parameters(model)
    logger.info(f"student: {kind} words, vocab {len(vocab)} ({len(SPECIALS)} special), embeddings {init}, "
                f"{n_params / 1e6:.2f}M params; {n_cut} transfer texts cut to {max_len} words")
    return model, tokenizer, {"student_tokenizer": kind, "vocab_size": len(vocab), "embedding_init": init,
                              "embedding_rows_pretrained": n_pretrained, "num_params": n_params,
                              "num_truncated_transfer": n_cut}


def dev_report(tokenizer, bert, dev_texts):
    """The student vocabulary's [UNK] rate on dev, and how much of a dev text each model reads: the mean
    number of student tokens and of the BERT teacher's word pieces per text (none when every teacher is linear),
    and the share of texts each one cuts (a pair's texts counted one by one)."""
    dev_texts = all_texts(dev_texts)
    dev_ids = tokenizer.encode(dev_texts)
    student_lens = np.array([len(t) for t in tokenize(tokenizer.kind, dev_texts, tokenizer.teacher_tokenizer)])
    report = {"dev_unk_rate": sum(x.count(UNK_ID) for x in dev_ids) / sum(len(x) for x in dev_ids),
              "student_max_seq_length": tokenizer.max_seq_length, "mean_student_tokens": float(student_lens.mean()),
              "dev_cut_by_student": float((student_lens > tokenizer.max_seq_length).mean())}
    line = (f"per dev text: {report['mean_student_tokens']:.1f} student tokens ({report['dev_cut_by_student']:.1%} "
            f"cut at {tokenizer.max_seq_length})")
    if bert is not None:
        teacher_lens, teacher_len = np.array(piece_counts(bert.tokenizer, dev_texts)), bert.max_seq_length
        report.update(teacher_max_seq_length=teacher_len, mean_teacher_pieces=float(teacher_lens.mean()),
                      dev_cut_by_teacher=float((teacher_lens > teacher_len - 2).mean()))  # [CLS] and [SEP] take 2
        line += (f", {report['mean_teacher_pieces']:.1f} teacher pieces ({report['dev_cut_by_teacher']:.1%} cut at "
                 f"{teacher_len - 2})")
    logger.info(f"{line}; student [UNK] rate {report['dev_unk_rate']:.1%}")
    return report


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
# After training: speed, the teacher's scores, prediction

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


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_apart({"--output_dir": args.output_dir}, {"--teacher_model": args.teacher_model,
                                                    "--data_dir": data_files(args.data_dir),
                                                    "--embedding_file": args.embedding_file})
    check_paths(dirs={"--data_dir": args.data_dir}, files={"--embedding_file": args.embedding_file},
                new_dirs={"--cache_dir": args.cache_dir})
    check_model_sources({"--teacher_model": args.teacher_model})
    check_max_length(args.teacher_max_seq_length, {"--teacher_model": args.teacher_model},
                     flag="--teacher_max_seq_length")
    accelerator = start_run(args)
    if accelerator is None:
        return

    # --- teachers and data (labels in the teachers' id order, so ids match their outputs; texts or pairs)
    teachers = load_teachers(args.teacher_model, device=accelerator.device, max_seq_length=args.teacher_max_seq_length)
    bert, label_list = load_bert_teacher(args, teachers), teachers[0].labels
    logger.info(f"teachers: {describe(teachers, args.teacher_weights)}")
    (train_texts, train_labels), (dev_texts, dev_labels), (test_texts, test_labels) = load_data(args, teachers,
                                                                                                label_list)
    cjk = is_cjk("".join(all_texts(train_texts[:500])))
    metric = main_metric(data_task(args.data_dir), label_list == SCORE_LABELS)

    # --- transfer set, the teacher's logits on it, and the student (siamese for pairs)
    cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.teacher_model[0])), ".logit_cache")
    texts, labels, transfer_stats = build_transfer_set(args, accelerator, train_texts, train_labels, cjk,
                                                       {*dev_texts, *test_texts}, cache_dir)
    with accelerator.main_process_first():  # the other ranks then read the teachers' dev outputs from the cache
        weights, weight_stats = dev_weights(teachers, args.teacher_weights, args.teacher_weights_on_dev,
                                            (dev_texts, dev_labels), metric, args.teacher_batch_size, cache_dir)
    teacher_logits, logit_stats = teacher_logits_on(args, accelerator, teachers, weights, texts, cache_dir)
    kind = args.student_tokenizer if args.student_tokenizer != "auto" else "jieba" if cjk else "whitespace"
    model, tokenizer, student_stats = build_student(args, kind, texts, len(label_list), bert)
    dev_ids, test_ids = tokenizer.encode(dev_texts), tokenizer.encode(test_texts)
    dev_stats = dev_report(tokenizer, bert, dev_texts)

    # --- train at a constant learning rate, keeping the best dev checkpoint in a staging directory. `model` stays
    # the bare module (fit trains it through its DDP wrapper): every rank scores the whole (small) dev set with
    # the same weights, no gathering needed.
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    state = fit(model, functools.partial(student_loss, alpha=args.alpha),
                transfer_loader(student_ids(accelerator, tokenizer, texts, cache_dir), labels, teacher_logits,
                                args.train_batch_size, args.length_buckets),
                make_optimizer(args, model.parameters()), accelerator, tmp_dir,
                evaluate_fn=lambda: scores_of(model, dev_ids, dev_labels, args.eval_batch_size),
                save_fn=lambda path: save_student(path, model, tokenizer, label_list), metric=metric,
                **fit_options(args))
    if not accelerator.is_main_process:
        return

    # --- test the best checkpoint; time student and teacher on the same machine
    best = load_student(tmp_dir)[0]
    test = scores_of(best, test_ids, test_labels, args.eval_batch_size)
    logger.info(f"best dev {metric} {state.best[metric]:.4f} (epoch {state.best['epoch']}); test {metric} "
                f"{test[metric]:.4f}")
    teacher_scores = score_teachers(teachers, weights, {"dev": (dev_texts, dev_labels),
                                    "test": (test_texts, test_labels)}, args.teacher_batch_size, cache_dir)
    speeds = measure_speed(args, best, tokenizer, bert or teachers[0], dev_texts)
    floor = majority_floor(train_labels, test_labels, metric)
    metrics = {
        "teacher_model": ", ".join(args.teacher_model), "data_dir": args.data_dir, "distill": args.distill,
        "alpha": args.alpha, "labels": label_list, "main_metric": metric, "text_pair": is_pairs(train_texts),
        **student_stats, **dev_stats, "teacher_num_params": sum(t.num_params for t in teachers), **transfer_stats,
        "augment": args.augment, "n_iter": args.n_iter, **logit_stats, "dev": state.best, "test": test,
        **teacher_scores, **weight_stats, **vs_teacher(test, teacher_scores["teacher_scores"], metric, floor),
        **chance_check(state.best, dev_labels, metric),
        **training_report(state, accelerator), "speed": speeds, "threads": torch.get_num_threads(),
    }
    finish_run(tmp_dir, args.output_dir, {**vars(args), "ngram_range": list(args.ngram_range)}, metrics,
               script=__file__)
    print_summary(f"BiLSTM student ({'distilled' if args.distill else 'gold labels only'})", args.output_dir,
                  dev=state.best, test=test, metric=metric, speed=speeds or None,
                  teacher_test=(teacher_scores["teacher_scores"] or {}).get("test"), floor=floor)


if __name__ == "__main__":
    run_script(main, resumable=True)
