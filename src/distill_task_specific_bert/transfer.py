"""The transfer set of Tang et al.'s section 3.3 and what the student reads of it: the teacher's training texts,
unlabeled.tsv and the augmented texts (masking, POS-guided replacement, n-gram sampling), streamed into a store
on disk once per set of inputs and settings, the teachers' logits on it (cached), and the student's batches."""

import contextlib
import hashlib
import itertools
import json
import os
import random
import time

import numpy as np
import torch

from src.common.cli import (
    InputError,
    logger,
    progress,
)
from src.common.files import load_json, save_json
from src.data import ragged
from src.data.augment import augment_corpus, tag_words
from src.data.batching import training_batches
from src.data.examples import data_format, input_hashes, is_pairs
from src.data.pairs import pair_transfer
from src.data.reading import load_split, load_unlabeled
from src.modeling.bilstm import (
    batch_inputs,
)
from src.teachers.targets import (
    check_teachers_read,
    teacher_targets,
)

AUGMENTATIONS = ("mask", "pos", "ngram")


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
    """What the transfer set's texts depend on: the original inputs and, with augmentation or new pairs, their
    settings and the held-out (dev and test) inputs they must avoid."""
    key = hashlib.sha1(input_hashes(originals).tobytes())
    new_pairs = bool(args.pair_transfer and args.distill)
    if augment or new_pairs:
        key.update(np.sort(input_hashes(list(held_out))).tobytes())
    if augment:
        key.update(json.dumps([args.augment, args.n_iter, args.p_mask, args.p_pos, ngram_probability(
            args, is_pairs(originals)), list(args.ngram_range), args.p_both, args.seed, cjk]).encode())
    if new_pairs:
        key.update(json.dumps(["pairs", args.pair_transfer, args.pair_kinds, args.seed]).encode())
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
            pairs = pair_transfer(args, train_texts, [*originals, *held_out], args.data_dir) if args.distill else []
            save_json({"num_new_pairs": len(pairs)}, f"{path}.pairs.json")  # before the store: complete with it
            ragged.write_inputs(path, itertools.chain(originals, synthetic, pairs))
            logger.info(f"transfer set written to {path} in {time.perf_counter() - start:.0f} s")
    seconds = time.perf_counter() - start
    texts = ragged.Inputs(path, is_pairs(train_texts))
    n_pairs = load_json(f"{path}.pairs.json")["num_new_pairs"] if os.path.isfile(f"{path}.pairs.json") else 0
    counts = {"num_augmented": len(texts) - len(originals) - n_pairs, "num_new_pairs": n_pairs}
    none = float("nan") if train_labels and isinstance(train_labels[0], float) else -1  # a score, or a class id
    labels = torch.tensor(train_labels + [none] * (len(texts) - len(train_texts)))
    logger.info(f"transfer set {len(texts)} = train {len(train_texts)} + unlabeled {len(unlabeled)} + augmented "
                f"{counts['num_augmented']} ({augmentation(args, cjk, is_pairs(train_texts))}) + new pairs "
                f"{counts['num_new_pairs']}; loss: "
                + (f"{args.alpha} * CE + {1 - args.alpha} * logits MSE" if args.distill else "CE on gold labels"))
    return texts, labels, {"num_train_examples": len(train_texts), "num_unlabeled": len(unlabeled), **counts,
                           "num_transfer_examples": len(texts), "transfer_set_time_s": seconds}


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
