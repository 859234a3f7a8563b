"""Distil a fine-tuned BERT teacher into a BiLSTM (Tang et al. 2019, "Distilling Task-Specific Knowledge
from BERT into Simple Neural Networks").

Full run (teacher from bert_classification.py; --distill 0 trains the same BiLSTM on gold labels only):
    python src/distill_task_specific_bert/distill.py --data_dir data/reviews --teacher_model models/teacher \
        --output_dir models/bilstm_distilled --distill 1 [--augment mask,pos,ngram --n_iter 20]
Tiny CPU run:
    python src/distill_task_specific_bert/distill.py --data_dir data/reviews --teacher_model models/teacher \
        --output_dir /tmp/bilstm --max_train_examples 512 --num_train_epochs 2 --augment mask,ngram --n_iter 2 \
        --speed_texts 64
Prediction with a trained student:
    python src/distill_task_specific_bert/distill.py --do_predict --student_dir models/bilstm_distilled \
        --predict_file texts.txt [--predict_output preds.tsv]

The student learns from z_T, the teacher's logits on the transfer set (train.tsv, unlabeled.tsv when
present, and with --augment the synthetic examples of section 3.3), with
loss = alpha * CE(y, z_S) + (1 - alpha) * ||z_T - z_S||^2. The teacher's logits are computed once and
cached on disk. Writes a student directory (config.json, vocab.txt, model.pt) with args.json and
metrics.json: best dev and its test accuracy/macro-F1, and the inference speed of student and teacher
measured in the same run. Multi-GPU: `accelerate launch` or `torchrun --nproc_per_node N` run this script
unchanged (each process trains on its share of every batch; --fp16/--bf16 and --gradient_accumulation_steps
go through Accelerate); `--resume` continues a killed run from its last checkpoint.
"""

import argparse
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from src.augment import augment_corpus, tag_words
from src.bilstm import (MASK, PAD_ID, SPECIALS, TOKENIZERS, UNK_ID, BiLSTMClassifier, BiLSTMConfig, StudentTokenizer,
                        build_vocab, fast_predictor, load_student, pad_batch, save_student, tokenize)
from src.losses import logits_mse
from src.cli import InputError, add_engine_args, exits_on_input_error, logger, setup_logging
from src.data import TEXT_COLUMNS, Example, is_cjk, load_split, load_unlabeled, read_examples, write_examples
from src.engine import load_checkpoint, save_checkpoint, start_run
from src.evaluation import classification_metrics
from src.modeling import count_parameters, load_classifier, load_tokenizer, model_label_list
from src.runs import finish_run, load_json, staging_dir
from src.speed import classifier_predictor, compare_speed
from src.teacher_logits import cached_teacher_logits

AUGMENTATIONS = ("mask", "pos", "ngram")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", default=None, help="directory with train/dev/test.tsv (and optionally unlabeled.tsv)")
    p.add_argument("--teacher_model", default=None, help="fine-tuned teacher directory from bert_classification.py")
    p.add_argument("--output_dir", default=None, help="where the student, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--distill", type=int, choices=(0, 1), default=1,
                   help="1: learn from the teacher's logits; 0: gold labels only (the baseline)")
    p.add_argument("--alpha", type=float, default=0.0, help="weight of the gold-label cross-entropy (paper: 0)")
    # student
    p.add_argument("--student_tokenizer", choices=("auto",) + TOKENIZERS, default="auto",
                   help="student words: jieba, char, whitespace (lower-cased) or the teacher's WordPiece tokens; "
                        "auto: jieba for Chinese text, whitespace otherwise")
    p.add_argument("--min_freq", type=int, default=1, help="keep words seen at least this often in the transfer set")
    p.add_argument("--max_seq_length", type=int, default=128, help="student words per example (longer are cut)")
    p.add_argument("--embedding_dim", type=int, default=300, help="word embedding width (random init)")
    p.add_argument("--hidden_size", type=int, default=150, help="LSTM units per direction")
    p.add_argument("--fc_dim", type=int, default=200, help="width of the ReLU dense layer")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout on embeddings, LSTM output and dense layer")
    p.add_argument("--embedding_file", default=None, help="word2vec text-format vectors to initialise embeddings")
    p.add_argument("--init_from_teacher", action="store_true",
                   help="copy the teacher's input embeddings (needs --student_tokenizer teacher; teacher's width)")
    # transfer set
    p.add_argument("--augment", default="", help=f"comma-separated subset of {','.join(AUGMENTATIONS)} (empty: none)")
    p.add_argument("--n_iter", type=int, default=20, help="augmentation draws per example (duplicates dropped)")
    p.add_argument("--p_mask", type=float, default=0.1, help="per-word probability of [MASK]")
    p.add_argument("--p_pos", type=float, default=0.1, help="per-word probability of a same-POS replacement")
    p.add_argument("--p_ng", type=float, default=0.25, help="per-example probability of n-gram sampling")
    p.add_argument("--ngram_range", default="1,5", help="smallest,largest n of the sampled n-grams")
    p.add_argument("--teacher_max_seq_length", type=int, default=None,
                   help="teacher word pieces per example (default: the teacher's own from its args.json, else 128)")
    p.add_argument("--teacher_batch_size", type=int, default=64, help="batch size of the teacher's logit pass")
    p.add_argument("--cache_dir", default=None, help="teacher-logit cache (default: <teacher_dir>/../.logit_cache)")
    # training
    p.add_argument("--learning_rate", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--num_train_epochs", type=int, default=10, help="passes over the transfer set")
    p.add_argument("--train_batch_size", type=int, default=50, help="examples per step")
    p.add_argument("--eval_batch_size", type=int, default=256, help="examples per evaluation batch")
    p.add_argument("--max_grad_norm", type=float, default=5.0, help="gradient clipping norm")
    p.add_argument("--max_train_examples", type=int, default=None, help="use only the first N training examples")
    p.add_argument("--seed", type=int, default=42, help="random seed (training and augmentation)")
    add_engine_args(p)
    # speed measurement
    p.add_argument("--speed_texts", type=int, default=512, help="dev texts for the speed measurement (0: skip it)")
    p.add_argument("--speed_repeats", type=int, default=3, help="timed passes per measurement (median reported)")
    p.add_argument("--speed_threads", type=int, default=0, help="torch threads while timing (0: leave as is)")
    # prediction
    p.add_argument("--do_predict", action="store_true", help="label --predict_file with --student_dir, no training")
    p.add_argument("--student_dir", default=None, help="trained student directory (for --do_predict)")
    p.add_argument("--predict_file", default=None, help="texts, one per line, or a tsv with a text column header")
    p.add_argument("--predict_output", default=None, help="label<TAB>text output (default: <student_dir>/predictions.tsv)")
    args = p.parse_args(argv)

    if args.do_predict:
        if not (args.student_dir and args.predict_file):
            p.error("--do_predict needs --student_dir and --predict_file")
        return args
    for flag in ("data_dir", "teacher_model", "output_dir"):
        if getattr(args, flag) is None:
            p.error(f"--{flag} is required for training")
    args.augment = [a for a in args.augment.split(",") if a]
    if set(args.augment) - set(AUGMENTATIONS):
        p.error(f"--augment takes a comma-separated subset of {AUGMENTATIONS}, got {args.augment}")
    try:
        args.ngram_range = tuple(int(n) for n in args.ngram_range.split(","))
    except ValueError:
        args.ngram_range = ()
    if len(args.ngram_range) != 2 or not 1 <= args.ngram_range[0] <= args.ngram_range[1]:
        p.error("--ngram_range must be two integers 1 <= lo <= hi, e.g. 1,5")
    if args.init_from_teacher and args.student_tokenizer != "teacher":
        p.error("--init_from_teacher needs --student_tokenizer teacher (the student must share its vocabulary)")
    if not 0 <= args.alpha <= 1:
        p.error("--alpha must be in [0, 1]")
    if args.max_seq_length < 1 or args.num_train_epochs < 1:
        p.error("--max_seq_length and --num_train_epochs must be at least 1")
    return args


def distill_loss(logits_S, logits_T, labels, alpha):
    """Tang et al. eq. 3: alpha * CE(y, z_S) + (1 - alpha) * ||z_T - z_S||^2.

    The distillation term averages over the whole batch; the cross-entropy only over rows with a gold
    label (labels >= 0): unlabeled and augmented rows have none (-1).
    """
    labelled = labels >= 0
    ce = F.cross_entropy(logits_S[labelled], labels[labelled]) if labelled.any() else logits_S.new_zeros(())
    return alpha * ce + (1 - alpha) * logits_mse(logits_S, logits_T)


def read_word_vectors(path, vocab):
    """Rows of `vocab` found in a word2vec text file (optional 'count dim' header line).

    Returns (weights (V, d) with found rows filled and the others random at the vectors' scale, n_found).
    """
    if not os.path.isfile(path):
        raise InputError(f"embedding file {path} does not exist")
    index = {w: i for i, w in enumerate(vocab)}
    found = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f):
            parts = line.rstrip().split(" ")
            if line_no == 0 and len(parts) == 2:
                continue
            if parts[0] in index and len(parts) > 2:
                found[index[parts[0]]] = np.asarray(parts[1:], dtype=np.float32)
    if not found:
        raise InputError(f"{path}: no vector for any of the {len(vocab)} student words")
    dim = len(next(iter(found.values())))
    if any(len(v) != dim for v in found.values()):
        raise InputError(f"{path}: vectors of different widths")
    vectors = np.stack(list(found.values()))
    weights = torch.randn(len(vocab), dim) * float(vectors.std())
    weights[list(found)] = torch.from_numpy(vectors)
    weights[PAD_ID] = 0
    return weights, len(found)


def teacher_embeddings(teacher, teacher_tokenizer, vocab):
    """Rows of the teacher's input embeddings for the student's (teacher-tokenizer) vocabulary."""
    emb = teacher.get_input_embeddings().weight.detach()  # (V_T, d_T)
    special = {MASK: teacher_tokenizer.mask_token or teacher_tokenizer.unk_token}
    ids = teacher_tokenizer.convert_tokens_to_ids([special.get(w, w) for w in vocab])
    weights = emb[[i if i is not None else teacher_tokenizer.unk_token_id for i in ids]].clone()
    weights[PAD_ID] = 0
    return weights


def logits_of(model, id_lists, batch_size, device):
    """Student logits (N, C) for lists of word ids, in length-sorted batches, in input order."""
    model.eval()
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
    out = torch.empty(len(id_lists), model.config.num_labels)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, lengths = pad_batch([id_lists[i] for i in idx])
            out[idx] = model(ids.to(device), lengths).float().cpu()
    return out


def predict(student_dir, texts, batch_size=256):
    """Label names for `texts` from a trained student directory."""
    if not os.path.isfile(os.path.join(student_dir, "model.pt")):
        raise InputError(f"{student_dir} is not a student directory (no model.pt)")
    model, tokenizer, labels = load_student(student_dir)
    logits = logits_of(model, tokenizer.encode(texts), batch_size, "cpu")
    return [labels[i] for i in logits.argmax(-1).tolist()]


def read_texts(path):
    """Texts of a file: a tsv whose header names a text column, or else one text per line."""
    if not os.path.isfile(path):
        raise InputError(f"file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    if lines and {h.strip().lower() for h in lines[0].split("\t")} & set(TEXT_COLUMNS):
        return [ex.text for ex in read_examples(path, require_label=False)]
    texts = [" ".join(line.split()) for line in lines]
    if not any(texts):
        raise InputError(f"{path} has no text")
    return [t for t in texts if t]


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    if args.do_predict:
        setup_logging()
        texts = read_texts(args.predict_file)
        labels = predict(args.student_dir, texts)
        out = args.predict_output or os.path.join(args.student_dir, "predictions.tsv")
        write_examples(out, [Example(t, y) for t, y in zip(texts, labels)])
        logger.info(f"wrote {len(labels)} predictions to {out}")
        return
    accelerator = start_run(args)
    if accelerator is None:
        return
    device = accelerator.device

    # --- teacher and data (labels in the teacher's id order, so ids match its logits)
    teacher = load_classifier(args.teacher_model).to(device)
    teacher_tokenizer = load_tokenizer(args.teacher_model)
    label_list = model_label_list(teacher)
    teacher_args_path = os.path.join(args.teacher_model, "args.json")
    teacher_len = args.teacher_max_seq_length or (
        load_json(teacher_args_path)["max_seq_length"] if os.path.exists(teacher_args_path) else 128)
    train_texts, train_labels, _ = load_split(args.data_dir, "train", label_list, args.max_train_examples)
    dev_texts, dev_labels, _ = load_split(args.data_dir, "dev", label_list)
    test_texts, test_labels, _ = load_split(args.data_dir, "test", label_list)
    cjk = is_cjk("".join(train_texts[:500]))
    kind = args.student_tokenizer if args.student_tokenizer != "auto" else "jieba" if cjk else "whitespace"

    # --- transfer set: labelled train, unlabeled texts, synthetic examples; -1 marks "no gold label"
    unlabeled = load_unlabeled(args.data_dir) if args.distill else []
    if args.augment and not args.distill:
        logger.warning("warning: --augment is ignored with --distill 0 (synthetic examples have no gold label)")
    augmented = []
    if args.augment and args.distill:
        if "pos" in args.augment and not cjk:
            logger.warning("notice: no offline POS tagger for non-Chinese text; POS-guided replacement is skipped")
        start = time.perf_counter()
        tagged = [tag_words(t, cjk) for t in tqdm(train_texts + unlabeled, desc="tagging", leave=False)]
        augmented = augment_corpus(random.Random(args.seed), tagged, "" if cjk else " ", args.n_iter,
                                   p_mask=args.p_mask if "mask" in args.augment else 0.0,
                                   p_pos=args.p_pos if "pos" in args.augment else 0.0,
                                   p_ng=args.p_ng if "ngram" in args.augment else 0.0, ngram_range=args.ngram_range)
        logger.info(f"augmentation {args.augment} x{args.n_iter}: {len(augmented)} new texts "
                    f"in {time.perf_counter() - start:.0f} s")
    transfer_texts = train_texts + unlabeled + augmented
    transfer_labels = torch.tensor(train_labels + [-1] * (len(unlabeled) + len(augmented)))

    teacher_logits, logit_time, computed = None, 0.0, 0
    if args.distill:
        cache_dir = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.teacher_model)), ".logit_cache")
        start = time.perf_counter()
        with accelerator.main_process_first():  # the other ranks then read the main process's cache
            teacher_logits, computed = cached_teacher_logits(teacher, teacher_tokenizer, transfer_texts, teacher_len,
                                                             args.teacher_batch_size, cache_dir, args.teacher_model)
        logit_time = time.perf_counter() - start
        logger.info(f"teacher logits for {len(transfer_texts)} texts: {computed} computed, the rest from the cache, "
                    f"{logit_time:.0f} s")

    # --- student vocabulary, tokenizer, model
    tok_teacher = teacher_tokenizer if kind == "teacher" else None
    transfer_tokens = tokenize(kind, transfer_texts, tok_teacher)
    vocab = build_vocab(transfer_tokens, args.min_freq)
    n_trunc = sum(len(tokens) > args.max_seq_length for tokens in transfer_tokens)
    tokenizer = StudentTokenizer(kind, vocab, args.max_seq_length, tok_teacher)
    transfer_ids = tokenizer.encode(transfer_texts)
    dev_ids, test_ids = tokenizer.encode(dev_texts), tokenizer.encode(test_texts)
    dev_unk = sum(x.count(UNK_ID) for x in dev_ids) / sum(len(x) for x in dev_ids)

    init, weights = "random", None
    if args.embedding_file:
        weights, n_found = read_word_vectors(args.embedding_file, vocab)
        init = f"{args.embedding_file} ({n_found} of {len(vocab)} words)"
    elif args.init_from_teacher:
        weights, init = teacher_embeddings(teacher, teacher_tokenizer, vocab), "teacher input embeddings"
    config = BiLSTMConfig(vocab_size=len(vocab), num_labels=len(label_list),
                          embedding_dim=weights.shape[1] if weights is not None else args.embedding_dim,
                          hidden_size=args.hidden_size, fc_dim=args.fc_dim, dropout=args.dropout)
    model = BiLSTMClassifier(config)
    if weights is not None:
        model.embedding.weight.data.copy_(weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    logger.info(f"student: {kind} words, vocab {len(vocab)} ({len(SPECIALS)} special), embeddings {init}, "
                f"{count_parameters(model) / 1e6:.2f}M params; dev [UNK] rate {dev_unk:.1%}\n"
                f"transfer set {len(transfer_texts)} = train {len(train_texts)} + unlabeled {len(unlabeled)} + "
                f"augmented {len(augmented)} ({n_trunc} cut to {args.max_seq_length} words); loss: "
                + (f"{args.alpha} * CE + {1 - args.alpha} * logits MSE" if args.distill else "CE on gold labels"))

    # --- train, keeping the best dev checkpoint in a staging directory
    def collate(idx):
        ids, lengths = pad_batch([transfer_ids[i] for i in idx])
        batch = {"input_ids": ids, "lengths": lengths, "labels": transfer_labels[idx]}
        if args.distill:
            batch["logits_T"] = teacher_logits[idx]
        return batch

    train_loader = torch.utils.data.DataLoader(range(len(transfer_ids)), batch_size=args.train_batch_size,
                                               shuffle=True, generator=torch.Generator(), collate_fn=collate)
    train_generator = train_loader.generator
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    state = {"epoch": 1, "batch": 0, "step": 0, "best": None, "history": [], "train_time": 0.0, "loss_sum": 0.0}
    if args.resume:
        state = load_checkpoint(accelerator, tmp_dir)

    while state["epoch"] <= args.num_train_epochs:
        model.train()
        # The epoch's order depends on (seed, epoch) only, so a resumed run sees the same batches.
        train_generator.manual_seed(args.seed + state["epoch"])
        loader = accelerator.skip_first_batches(train_loader, state["batch"])
        start = time.perf_counter()
        for batch in tqdm(loader, desc=f"epoch {state['epoch']}", initial=state["batch"], total=len(train_loader),
                          leave=False, disable=not accelerator.is_main_process):
            with accelerator.accumulate(model):
                logits_S = model(batch["input_ids"], batch["lengths"])  # (B, C)
                if args.distill:
                    loss = distill_loss(logits_S, batch["logits_T"], batch["labels"], args.alpha)
                else:
                    loss = F.cross_entropy(logits_S, batch["labels"])
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            state["loss_sum"] += loss.item()
            state["batch"] += 1
            if not accelerator.sync_gradients:
                continue
            state["step"] += 1
            if args.save_steps and state["step"] % args.save_steps == 0 and state["batch"] < len(train_loader):
                state["train_time"] += time.perf_counter() - start
                save_checkpoint(accelerator, tmp_dir, state)
                start = time.perf_counter()
        state["train_time"] += time.perf_counter() - start

        # Every rank scores the whole (small) dev set with the same weights: no gathering needed.
        student = accelerator.unwrap_model(model)
        scores = classification_metrics(dev_labels, logits_of(student, dev_ids, args.eval_batch_size, device).argmax(-1))
        train_loss = state["loss_sum"] / len(train_loader)
        state["history"].append({"epoch": state["epoch"], "train_loss": train_loss,
                                 **{f"dev_{k}": v for k, v in scores.items()}})
        logger.info(f"epoch {state['epoch']}: loss {train_loss:.4f}, dev accuracy {scores['accuracy']:.4f} "
                    f"macro-F1 {scores['macro_f1']:.4f}")
        if state["best"] is None or scores["accuracy"] > state["best"]["accuracy"]:
            state["best"] = {**scores, "epoch": state["epoch"]}
            if accelerator.is_main_process:
                save_student(tmp_dir, student, tokenizer, label_list)
        state["epoch"], state["batch"], state["loss_sum"] = state["epoch"] + 1, 0, 0.0
        save_checkpoint(accelerator, tmp_dir, state)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return

    # --- test the best checkpoint; time student and teacher on the same machine, tokenization included
    student, tokenizer, _ = load_student(tmp_dir)
    test = classification_metrics(test_labels, logits_of(student, test_ids, args.eval_batch_size, "cpu").argmax(-1))
    best = state["best"]
    logger.info(f"best dev accuracy {best['accuracy']:.4f} (epoch {best['epoch']}); test accuracy "
                f"{test['accuracy']:.4f} macro-F1 {test['macro_f1']:.4f}")
    speeds = {}
    if args.speed_texts:
        if args.speed_threads:
            torch.set_num_threads(args.speed_threads)
        student_fn = fast_predictor(student, tokenizer)
        teacher_fn = classifier_predictor(teacher.cpu(), teacher_tokenizer, teacher_len)
        speeds = compare_speed(student_fn, teacher_fn, dev_texts[:args.speed_texts], args.speed_repeats)
        logger.info(f"examples/s at batch 64: student {speeds['student']['batch_64']['examples_per_s']:.0f}, teacher "
                    f"{speeds['teacher']['batch_64']['examples_per_s']:.1f} ({speeds['speedup_batch_64']:.1f}x); "
                    f"batch 1: {speeds['speedup_batch_1']:.1f}x; {torch.get_num_threads()} thread(s)")

    teacher_metrics_path = os.path.join(args.teacher_model, "metrics.json")
    teacher_scores = ({k: load_json(teacher_metrics_path)[k] for k in ("dev", "test")}
                      if os.path.exists(teacher_metrics_path) else None)
    metrics = {
        "teacher_model": args.teacher_model, "data_dir": args.data_dir, "distill": args.distill, "alpha": args.alpha,
        "labels": label_list, "student_tokenizer": kind, "vocab_size": len(vocab), "embedding_init": init,
        "dev_unk_rate": dev_unk, "num_params": count_parameters(student), "teacher_num_params": count_parameters(teacher),
        "num_train_examples": len(train_texts), "num_unlabeled": len(unlabeled), "num_augmented": len(augmented),
        "num_transfer_examples": len(transfer_texts), "num_truncated_transfer": n_trunc, "augment": args.augment, "n_iter": args.n_iter,
        "teacher_max_seq_length": teacher_len, "teacher_logits_computed": computed, "teacher_logits_time_s": logit_time,
        "dev": best, "test": test, "history": state["history"], "teacher_scores": teacher_scores,
        "test_accuracy_vs_teacher": test["accuracy"] / teacher_scores["test"]["accuracy"] if teacher_scores else None,
        "train_time_s": state["train_time"],
        "train_examples_per_s": len(transfer_texts) * args.num_train_epochs / state["train_time"],
        "speed": speeds, "threads": torch.get_num_threads(), "device": str(device),
        "num_processes": accelerator.num_processes,
    }
    finish_run(tmp_dir, args.output_dir, {**vars(args), "ngram_range": list(args.ngram_range)}, metrics)


if __name__ == "__main__":
    main()
