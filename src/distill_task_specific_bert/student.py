"""The BiLSTM student of a run: its words (jieba, characters, whitespace words or the teacher's word pieces), its
vocabulary from the transfer set, its embeddings (random, word2vec text vectors, Baidu LAC's character vectors or
the teacher's own) and the coverage of the dev texts it reads against what the teacher reads."""

import math

import numpy as np
import torch

from src.common.cli import (
    InputError,
    logger,
)
from src.data.examples import all_texts, is_pairs
from src.data.vectors import lac_char_vectors, mean_char_vectors, read_word_vectors
from src.modeling.bert import count_parameters
from src.modeling.bilstm import (
    MASK,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    BiLSTMClassifier,
    BiLSTMConfig,
    StudentTokenizer,
    build_vocab,
    token_counts,
    tokenize,
)


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


def build_student(args, cjk, texts, num_labels, bert):
    """The student's vocabulary (the words of the transfer set `texts`: --student_tokenizer, auto being jieba for
    Chinese text `cjk`, whitespace words otherwise), tokenizer and BiLSTM (siamese for pairs), with random
    embeddings or pretrained ones (`initial_embeddings`); `bert` (a `Teacher`, or None) gives the word pieces,
    embeddings and length of the options that read them. Returns (model, tokenizer, its metrics.json entries)."""
    kind = args.student_tokenizer if args.student_tokenizer != "auto" else "jieba" if cjk else "whitespace"
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
