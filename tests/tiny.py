"""Tiny random-weight BERTs and toy data sets for the tests (seconds on a CPU, no download)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertTokenizer

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["good", "bad", "the", "a", "movie", "film", "plot", "actor", "was", "is", "very", "quite", "story",
         "and", "but", "it", "this", "scene", "music", "really", ".", ",", "!"]
CJK = list("好坏的电影很非常这个故事演员音乐剧情真是了我们")
FILLER = [w for w in WORDS if w not in ("good", "bad")]
VOCAB = SPECIAL + WORDS + CJK
# distill.py flags for a small BiLSTM that learns the toy task in a second or two
FAST_BILSTM = ["--num_train_epochs", "8", "--learning_rate", "1e-2", "--train_batch_size", "8", "--embedding_dim", "16",
        "--hidden_size", "16", "--fc_dim", "16", "--speed_texts", "16", "--speed_repeats", "1", "--no_cuda"]


def write_tiny_bert(path, arch="classifier", num_layers=2, hidden=32, heads=2, vocab=VOCAB, seed=0, labels=None):
    """Save a random BERT (`classifier`: 2-label sequence classifier, named `labels` if given, as a fine-tuned
    teacher is; `mlm`: masked LM) and its tokenizer."""
    import torch

    torch.manual_seed(seed)
    os.makedirs(path, exist_ok=True)
    vocab_file = os.path.join(path, "vocab.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=num_layers,
                        num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64,
                        num_labels=2)
    if labels:
        config.id2label, config.label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    model = (BertForMaskedLM if arch == "mlm" else BertForSequenceClassification)(config)
    model.save_pretrained(path)
    BertTokenizer(vocab=vocab_file).save_pretrained(path)
    return str(path)


def toy_examples(n, seed=0, lang="en"):
    """`n` (label, text) pairs whose label is decided by one token: good/好 -> 1, bad/坏 -> 0."""
    rng = random.Random(seed)
    filler, cue = (FILLER, {"1": "good", "0": "bad"}) if lang == "en" else (CJK[2:], {"1": "好", "0": "坏"})
    sep = " " if lang == "en" else ""
    out = []
    for i in range(n):
        label = str(i % 2)
        words = rng.choices(filler, k=rng.randint(3, 8))
        words.insert(rng.randint(0, len(words)), cue[label])
        out.append((label, sep.join(words)))
    return out


def write_toy_data(data_dir, n_train=64, n_dev=32, n_test=32, lang="en", header=True):
    """train/dev/test.tsv of toy examples, with a `label<TAB>sentence` header or headerless."""
    os.makedirs(data_dir, exist_ok=True)
    rows = toy_examples(n_train + n_dev + n_test, lang=lang)
    parts = {"train": rows[:n_train], "dev": rows[n_train:n_train + n_dev], "test": rows[n_train + n_dev:]}
    for split, part in parts.items():
        with open(os.path.join(data_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            if header:
                f.write("label\tsentence\n")
            f.writelines(f"{label}\t{text}\n" for label, text in part)
    return str(data_dir)


def write_toy_pairs(data_dir, n_train=64, n_dev=32, n_test=32, scores=False, lang="en"):
    """train/dev/test.tsv of sentence pairs (`label<TAB>text_a<TAB>text_b`, the project's own layout). Classes:
    the label is the cue of the second text (good/好 -> 1, bad/坏 -> 0), so that only the pair input can learn it.
    `scores`: a regression, the score 1.25 x the number of times `good` appears in the second text (0 to 3)."""
    os.makedirs(data_dir, exist_ok=True)
    rng = random.Random(0)
    filler, good, bad, sep = (FILLER, "good", "bad", " ") if lang == "en" else (CJK[2:], "好", "坏", "")
    rows = []
    for i in range(n_train + n_dev + n_test):
        words_a, words_b = (rng.choices(filler, k=rng.randint(2, 5)) for _ in range(2))
        cue = [good] * (i % 4) if scores else [good if i % 2 else bad]
        words_a.insert(0, rng.choice([good, bad]))  # a cue in the first text that says nothing
        label = f"{1.25 * (i % 4):.2f}" if scores else str(i % 2)
        rows.append((label, sep.join(words_a), sep.join(words_b + cue)))
    parts = {"train": rows[:n_train], "dev": rows[n_train:n_train + n_dev], "test": rows[n_train + n_dev:]}
    for split, part in parts.items():
        with open(os.path.join(data_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("label\ttext_a\ttext_b\n")
            f.writelines(f"{label}\t{a}\t{b}\n" for label, a, b in part)
    return str(data_dir)


def interrupt(monkeypatch, run, optimizer_cls, kill_at):
    """Call `run()`, interrupted at the `kill_at`-th `optimizer_cls.step` as a Ctrl-C would be."""
    real_step, calls = optimizer_cls.step, []

    def step_then_die(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(optimizer_cls, "step", step_then_die)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(optimizer_cls, "step", real_step)


def kill_then_resume(monkeypatch, run, out, optimizer_cls, kill_at):
    """Train with `run(out, *extra)`, interrupted at the `kill_at`-th `optimizer_cls.step`, check that nothing
    was published at `out`, then rerun with --resume and return what it returns (a metrics dict), after
    checking that the rerun continued from the checkpoint, not from step 0: the checkpoint's step plus the
    rerun's optimizer steps make the run's last step."""
    from src.train import engine

    real_step, real_load, resumed_steps, checkpoints = optimizer_cls.step, engine.load_checkpoint, [], []

    def counted_step(self, *args, **kwargs):
        resumed_steps.append(1)
        return real_step(self, *args, **kwargs)

    def recorded_load(*args):
        state = real_load(*args)
        checkpoints.append(state.step)  # fit moves `state` on from here
        return state

    interrupt(monkeypatch, lambda: run(out), optimizer_cls, kill_at)
    assert not os.path.exists(out)  # nothing half-written where the result goes
    with pytest.raises(SystemExit, match="holds an interrupted run: add --resume to continue it, or "):
        run(out)  # a fresh start would delete the checkpoint: refused
    monkeypatch.setattr(engine, "load_checkpoint", recorded_load)
    monkeypatch.setattr(optimizer_cls, "step", counted_step)
    result = run(out, "--resume")
    monkeypatch.setattr(optimizer_cls, "step", real_step)
    [checkpoint_step] = checkpoints
    assert 0 < checkpoint_step < kill_at
    assert checkpoint_step + len(resumed_steps) == result["history"][-1]["step"]
    return result


def in_process(script, flags):
    """A script run in this process as its command line would run it (no interpreter start-up per stage: the same
    code, a faster test); its exit code, its one-line error printed to stderr as its process would."""
    import runpy

    old_argv = sys.argv
    sys.argv = [script, *flags]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
        return 0 if e.code in (None, 0) else e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = old_argv
    return 0


def script_env():
    """The environment of a stage script started as a process: the repo on PYTHONPATH, one thread each."""
    return {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}


def torchrun_cmd(nproc=2):
    """The command line that starts a script on `nproc` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]


def signal_after_checkpoint(cmd, state_file, sig, log, min_step=5):
    """Start `cmd` (the repo on PYTHONPATH, one thread per process, stderr to the file `log`), wait until its
    checkpoint `state_file` has passed `min_step`, then send `sig` to its whole process group (every rank of
    a torchrun) and return the exit code. Fails if no such checkpoint comes within 120 s."""
    env = script_env()
    with open(log, "w") as stderr:  # a file, not a pipe: a full pipe would block the run
        # SIGINT back to its default in the child: a shell starts background jobs (`pytest &`) with SIGINT ignored,
        # which the child would inherit, and Python then installs no KeyboardInterrupt handler
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while proc.poll() is None:
            if time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"no checkpoint past step {min_step} within 120 s")
            try:
                if json.loads(state_file.read_text())["step"] >= min_step:
                    break
            except (OSError, ValueError):  # not written yet, or caught mid-swap
                pass
            time.sleep(0.02)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        return proc.wait()


def torchrun(script, *args, nproc=2):
    """Run a stage script under `torchrun --nproc_per_node nproc` on the CPU (gloo); fail with its stderr."""
    cmd = [*torchrun_cmd(nproc), script, *map(str, args)]
    env = script_env()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-6000:]  # the failing rank's own error, not only the summary
