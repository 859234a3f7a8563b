"""What every stage script shares at its edges: the input error, logging, the seed and the common flags.

Functions raise `InputError` for bad user input; a script's `main`, wrapped in `exits_on_input_error`,
turns it into one line on stderr and exit code 1.
"""

import argparse
import functools
import logging
import random
import sys
from collections.abc import Callable, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

logger = logging.getLogger("kd")
TRACKERS = ("none", "tensorboard", "wandb", "mlflow", "trackio", "all")  # --report_to


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """`--help` keeps the docstring's line breaks (its example commands) and shows each flag's default,
    except where the help line already says it, or where there is none (a switch, a required flag)."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.required or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line, `error: ...`, and exit code 1 like every other bad input (argparse
    prints the usage and exits 2); `--help` shows defaults and keeps the docstring's line breaks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=HelpFormatter, **kwargs)

    def error(self, message):
        raise SystemExit(f"error: {message} (see --help)")


def number(kind: type, low: float | None = None, high: float | None = None, above: bool = False
           ) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` within [low, high] (above `low` if `above`); argparse names the flag
    in its one-line error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {text}")
        return value

    parse.__name__ = f"{kind.__name__} number"
    return parse


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above zero."""
    return number(kind, 0, above=True)


def non_negative(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind`, zero or above."""
    return number(kind, 0)


PROBABILITY = number(float, 0, 1)  # an argparse type: a share or probability within [0, 1]
SEED = number(int, 0, 2**32 - 1)  # an argparse type: what numpy's seed takes


def run_script(main: Callable, resumable: bool = False) -> None:
    """The command-line entry of a script: Ctrl-C ends it with one line and exit code 130, not a traceback."""
    try:
        main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted" + ("; rerun with --resume to continue" if resumable else "") + "\n")
        raise SystemExit(130) from None
    close_process_group()


def close_process_group() -> None:
    """Under torchrun: wait for every rank, then close the process group. Left to the interpreter's exit, the
    gloo teardown can abort a rank (SIGABRT) after its work is done."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class InputError(Exception):
    """Bad user input: a missing file, a malformed data file, a wrong model directory, ..."""


def exits_on_input_error(main: Callable) -> Callable:
    """Wrap a script's `main` so that an InputError becomes `error: ...` on stderr and exit code 1."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except InputError as e:
            raise SystemExit(f"error: {e}") from None

    return wrapper


def setup_logging(is_main_process: bool = True) -> None:
    """Plain messages on stderr from the "kd" logger; only the main process talks, the others only on errors.
    transformers' load reports and weight-loading bars and jieba's start-up lines are silenced: the stages
    say in one line what matters (a new classification head, a missing masked-LM head)."""
    from transformers.utils import logging as hf_logging

    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if is_main_process else logging.ERROR)
    import jieba  # it sets its logger to DEBUG when imported: import it first, then quiet it

    jieba.setLogLevel(logging.WARNING)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class _Lines:
    """A file for tqdm that writes each refresh as one plain line (for log files: no carriage returns)."""

    def write(self, text: str) -> None:
        if text := text.strip("\r\n"):
            sys.stderr.write(text + "\n")

    def flush(self) -> None:
        sys.stderr.flush()


def progress(iterable: Iterable, **kwargs) -> tqdm:
    """A tqdm bar on a terminal; elsewhere (a log file) one plain line a minute."""
    if sys.stderr.isatty():
        return tqdm(iterable, **kwargs)
    return tqdm(iterable, file=_Lines(), **{"mininterval": 60, **kwargs})


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def add_bert_training_args(p: argparse.ArgumentParser, learning_rate: float) -> None:
    """Flags shared by the stages that train a BERT (teacher fine-tuning, TinyBERT stages 1 and 2)."""
    p.add_argument("--max_seq_length", type=positive(int), default=128,
                   help="word pieces per example, [CLS]/[SEP] included")
    p.add_argument("--train_batch_size", "--per_device_train_batch_size", type=positive(int), default=32,
                   help="examples per step and process")
    p.add_argument("--eval_batch_size", "--per_device_eval_batch_size", type=positive(int), default=64,
                   help="examples per evaluation batch")
    p.add_argument("--num_train_epochs", type=positive(int), default=3, help="passes over the training set")
    p.add_argument("--learning_rate", type=positive(float), default=learning_rate, help="peak AdamW learning rate")
    p.add_argument("--weight_decay", type=non_negative(float), default=0.01,
                   help="AdamW weight decay (not on bias/LayerNorm)")
    p.add_argument("--warmup_proportion", type=PROBABILITY, default=0.1, help="share of steps with linear warm-up")
    p.add_argument("--max_grad_norm", type=positive(float), default=1.0, help="gradient clipping norm")
    p.add_argument("--eval_step", "--eval_steps", type=non_negative(int), default=0,
                   help="also evaluate on dev every N steps (0: per epoch only)")
    p.add_argument("--max_train_examples", type=positive(int), default=None,
                   help="use only the first N training examples")
    p.add_argument("--do_lower_case", action="store_true", help="lower-case the input (for uncased models)")
    p.add_argument("--seed", type=SEED, default=42, help="random seed")
    add_engine_args(p)


def add_vocab_args(p: argparse.ArgumentParser) -> None:
    """Flags of the stages that can teach a BERT new words: extending its vocabulary, and their learning rate."""
    p.add_argument("--extend_vocab", action="store_true",
                   help="add the training texts' unknown characters/words to the tokenizer and resize the embeddings")
    p.add_argument("--embedding_learning_rate", type=positive(float), default=None,
                   help="peak learning rate of the word embeddings (default: --learning_rate); with --extend_vocab "
                        "a larger one, e.g. 1e-3, trains the added tokens")


def add_metric_arg(p: argparse.ArgumentParser) -> None:
    """The flag of the stages that keep their best dev checkpoint: by which metric."""
    p.add_argument("--metric", choices=("auto", "accuracy", "f1", "macro_f1", "mcc", "pearson", "spearman"),
                   default="auto", help="the dev metric that picks the checkpoint kept (auto: the task's: F1 for "
                                        "MRPC and QQP, MCC for CoLA, Pearson for scores, else accuracy)")


def add_length_buckets_arg(p: argparse.ArgumentParser) -> None:
    """The flag of the stages whose training texts vary in length (`src.data.batching.LengthBatchSampler`)."""
    p.add_argument("--length_buckets", type=int, choices=(0, 1), default=1,
                   help="1: batches of texts of similar length (little padding; faster, most on a CPU); "
                        "0: plain shuffled batches, as in the papers")


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """Flags of every training stage for the Accelerate engine and for resumable runs."""
    p.add_argument("--gradient_accumulation_steps", type=positive(int), default=1,
                   help="micro-batches per optimizer step")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="fp16 mixed precision (GPU)")
    precision.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU, recent CPUs)")
    p.add_argument("--no_cuda", action="store_true", help="run on the CPU even when a GPU is available")
    p.add_argument("--save_steps", type=non_negative(int), default=500,
                   help="also write a resume checkpoint every N optimizer steps (always at each epoch end; "
                        "0: epoch ends only)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last checkpoint; a finished run is left as it is")
    p.add_argument("--report_to", choices=TRACKERS, default="none",
                   help="experiment trackers (through Accelerate) that get every loss term, the learning rate and "
                        "examples/s every --logging_steps steps and the dev scores at each evaluation; tensorboard "
                        "writes into the run directory's runs/ (pip install tensorboard; wandb, mlflow, trackio "
                        "likewise); all: every one installed")
    p.add_argument("--run_name", default=None, help="the run's name in the trackers (default: --output_dir's name)")
    p.add_argument("--logging_steps", type=positive(int), default=10,
                   help="optimizer steps between two logs to the trackers")
