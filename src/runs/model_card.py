"""The model card of a run directory: a `README.md` in the Hugging Face layout (a YAML header, then what the
model is, its data, its scores and speed, the command that made it, how to use it, its limits), written from
the run's flags (args.json) and measurements (metrics.json) alone: no number in it is typed in."""

import json
import os
import shlex

from src.data.examples import DEFAULT_ENCODING, SCORE_LABELS, is_cjk, split_file

LANGUAGES = {"en": "English", "zh": "Chinese"}
LANGUAGE_SAMPLE_CHARS = 20_000  # the start of the training file that tells its language
KINDS = {  # run kind -> what the card calls it
    "teacher": "BERT teacher", "bilstm": "BiLSTM student", "tinybert_stage1": "TinyBERT student after task stage 1",
    "tinybert_stage2": "TinyBERT student", "general": "general TinyBERT", "mlm": "masked LM",
}
BERT_CLASSIFIERS = ("teacher", "tinybert_stage2")


def run_kind(metrics: dict) -> str:
    """Which stage wrote `metrics` (a KINDS key), from the entries only that stage records."""
    if "stage" in metrics:  # task_distill.py; stage 2 alone has a test score
        return "tinybert_stage2" if "test" in metrics else "tinybert_stage1"
    if "distill" in metrics:
        return "bilstm"
    if "heldout_after" in metrics:
        return "mlm"
    return "general" if "corpus" in metrics else "teacher"


def data_language(args: dict, metrics: dict) -> str | None:
    """`zh` or `en` from the start of the training text (`zh`: CJK ideographs, `en`: ASCII letters only), else None
    (another language, or the file is gone)."""
    path = metrics.get("train_file") or args.get("corpus")
    if not path and args.get("data_dir"):
        path = split_file(args["data_dir"], "train")
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding=args.get("encoding") or DEFAULT_ENCODING, errors="replace") as f:
        sample = f.read(LANGUAGE_SAMPLE_CHARS)
    if is_cjk(sample):
        return "zh"
    letters = [c for c in sample if c.isalpha()]
    return "en" if letters and all(c.isascii() for c in letters) else None


def command(script: str, args: dict) -> str:
    """The command line that `args` (args.json) came from: a switch when true, a list comma-joined as the scripts
    read it, flags left unset (None, false, an empty list) left out; one flag per line."""
    parts = [f"python {shlex.quote(script)}"]
    for key, value in args.items():
        if value is None or value is False or value == []:
            continue
        if value is True:
            parts.append(f"--{key}")
        else:
            text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            parts.append(f"--{key} {shlex.quote(text)}")
    return " \\\n    ".join(parts)


def header(kind: str, metrics: dict, language: str | None) -> list[str]:
    """The YAML front matter: language, tags, the main metric."""
    lines = ["---", *([f"language: {language}"] if language else []), "tags:",
             "- knowledge-distillation", "- text-classification"]
    if kind != "teacher" and kind != "mlm":
        lines.append("- bilstm" if kind == "bilstm" else "- tinybert")
    if "test" in metrics:
        lines += ["metrics:", f"- {metrics.get('main_metric') or 'accuracy'}"]
    return [*lines, "---"]


def layer_map(pairs: list) -> str:
    """(student layer, teacher layer) pairs as the flag writes them: `1:2, 2:4`."""
    return ", ".join(f"{s}:{t}" for s, t in pairs)


def origin(kind: str, args: dict, metrics: dict) -> str:
    """How the model was made: what it started from, its teacher and the loss it learned by."""
    teacher = metrics.get("teacher") or metrics.get("teacher_model")
    if len(metrics.get("teachers", [])) > 1:  # targets: the mean of several teachers' log-probabilities
        teacher = "the teachers " + ", ".join(f"`{t['model']}` ({t['kind']}, weight {t['weight']:g})"
                                              for t in metrics["teachers"]) + " (the mean of their log-probabilities)"
    else:
        teacher = f"the teacher `{teacher}`"
    regressor = metrics.get("labels") == SCORE_LABELS
    if kind in ("teacher", "mlm"):
        how = (f"its masked-LM pretraining continued on `{metrics['corpus']}`" if kind == "mlm" else
               f"fine-tuned on the gold labels by {'squared error' if regressor else 'cross-entropy'}")
        return f"Not distilled: `{metrics['model']}` {how}."
    if kind == "bilstm":
        if not metrics["distill"]:
            return f"Not distilled: trained on the gold labels only, the baseline of the students of {teacher}."
        augmented = (f"{metrics['num_augmented']:,} augmented by {', '.join(metrics['augment'])}"
                     if metrics["augment"] else "no augmentation")
        return (f"Distilled from {teacher} (Tang et al.): it learns the teacher's logits z_T by "
                f"loss = alpha * {'(y - z_S)^2' if regressor else 'CE(y, z_S)'} + (1 - alpha) * ||z_T - z_S||^2 "
                f"with alpha {metrics['alpha']}, on a transfer set of {metrics['num_transfer_examples']:,} texts "
                f"({metrics['num_unlabeled']:,} unlabeled, {augmented}).")
    if kind == "general":
        return (f"General distillation from {teacher} (Jiao et al.) on the plain text `{metrics['corpus']}`: "
                f"embeddings, hidden states and attention scores matched to the teacher's by MSE, layer map "
                f"{layer_map(metrics['layer_map'])}.")
    start = (f"`{args['student_model']}`" if args.get("student_model") else "the teacher's own layers"
             if args.get("init_from_teacher") else f"a random BERT of `{args.get('student_config')}`")
    if kind == "tinybert_stage1":
        return (f"Task distillation from {teacher} (Jiao et al.), stage 1 ({metrics['stage']}): embeddings, hidden "
                f"states and pre-softmax attention scores matched to the teacher's by MSE, layer map "
                f"{layer_map(metrics['layer_map'])}; started from {start}.")
    loss = ("the squared error between the two scores" if regressor else
            f"soft cross-entropy at temperature {metrics['temperature']}")
    return (f"Task distillation from {teacher} (Jiao et al.), stage 2 ({metrics['stage']}): the teacher's logits "
            f"learned by {loss}; started from {start}.")


def about(kind: str, args: dict, metrics: dict) -> list[str]:
    """What the model is: kind, size, origin."""
    size = f"{metrics['num_params']:,} parameters"
    if "num_layers" in metrics:
        size += f", {metrics['num_layers']} layers of width {metrics['hidden_size']}"
    if metrics.get("teacher_num_params"):
        size += f" (the teacher: {metrics['teacher_num_params']:,})"
    return ["", f"# {os.path.basename(os.path.normpath(args['output_dir']))}", "",
            f"A {KINDS[kind]}: {size}.", "", origin(kind, args, metrics)]


def data_section(kind: str, args: dict, metrics: dict) -> list[str]:
    """Where the training text came from, and the dev/test split."""
    lines = ["", "## Data", ""]
    if kind == "general":
        return [*lines, f"`{metrics['corpus']}`: {metrics['num_lines']:,} lines packed into "
                        f"{metrics['num_sequences']:,} sequences. No dev set: the last student is kept."]
    if kind == "mlm":
        return [*lines, f"`{metrics['corpus']}`: {metrics['num_train_lines']:,} lines to train on, "
                        f"{metrics['num_heldout_lines']:,} held out to pick the best checkpoint."]
    source = f" (`{metrics['train_file']}`)" if "train_file" in metrics else ""
    lines.append(f"`{metrics['data_dir']}`: {metrics['num_train_examples']:,} training examples{source}.")
    if "dev" in metrics:
        dev, metric = metrics["dev"], metrics.get("main_metric") or "accuracy"
        lines.append(f"The checkpoint kept is the best on its {dev['examples']:,} dev examples by {metric} "
                     f"(step {dev['step']}, epoch {dev['epoch']}); the {metrics['test']['examples']:,} test examples "
                     f"were used for the scores below only.")
    else:
        lines.append("No dev selection: the last student is kept.")
    return lines


def scores_section(kind: str, metrics: dict) -> list[str]:
    """Test scores (main metric first, with the dev score of the kept checkpoint) and the share of the teacher's;
    the masked LM's held-out scores; an intermediate model's last losses."""
    if kind == "mlm":
        before, after = metrics["heldout_before"], metrics["heldout_after"]
        return ["", "## Held-out scores", "",
                f"Masked-token accuracy {before['accuracy']:.4f} -> {after['accuracy']:.4f}, "
                f"perplexity {before['perplexity']:.1f} -> {after['perplexity']:.1f}."]
    if "test" not in metrics:
        last = (metrics.get("history") or [{}])[-1]
        losses = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k.startswith("train_loss"))
        return ["", "## Training", "", f"No test score: not a classifier yet. The last epoch's mean losses: {losses}."]
    metric, test, dev = metrics.get("main_metric") or "accuracy", metrics["test"], metrics["dev"]
    names = [metric, *(k for k, v in test.items() if k not in (metric, "examples") and isinstance(v, float))]
    lines = ["", "## Test scores", "", "| metric | test | dev (kept checkpoint) |", "|---|---|---|"]
    lines += [f"| {name}{' (main)' if name == metric else ''} | {test[name]:.4f} | "
              f"{'-' if dev.get(name) is None else format(dev[name], '.4f')} |" for name in names]
    teacher_test = (metrics.get("teacher_scores") or {}).get("test") or {}
    shares = [(key[len("test_"):-len("_vs_teacher")], value) for key, value in metrics.items()
              if key.startswith("test_") and key.endswith("_vs_teacher") and value is not None]
    if shares:
        lines.append("")
    for name, value in shares:
        known = f" ({teacher_test[name]:.4f})" if name in teacher_test else ""
        lines.append(f"{value:.1%} of the teacher's test {name}{known}.")
    if metrics.get("majority_floor"):  # 0 (MCC, Pearson): the share of the gain is the share of the score
        floor, gain = metrics["majority_floor"], metrics.get("share_of_teacher_gain")
        lines.append(f"{gain:.1%} of what the teacher learned beyond always answering the majority class "
                     f"({metric} {floor:.4f})." if gain is not None else
                     f"The teacher is at chance: not above always answering the majority class ({metric} {floor:.4f}).")
    return lines


def speed_section(metrics: dict) -> list[str]:
    """The CPU speed-up over the teacher that the run measured, when it did."""
    speed = metrics.get("speed") or {}
    if speed.get("speedup_batch_64") is None:
        return []
    line = (f"On a CPU ({speed['threads']} thread(s), {speed['num_texts']:,} dev texts, tokenisation included): "
            f"{speed['speedup_batch_64']:.1f}x the teacher's examples per second at batch 64")
    if speed.get("speedup_batch_1") is not None:
        line += f", {speed['speedup_batch_1']:.1f}x at batch 1"
    return ["", "## Speed", "", line + "."]


def usage_section(kind: str, args: dict) -> list[str]:
    """How to use the directory: predict and export a classifier (and transformers' pipeline for a BERT one), or
    the flag of the next stage that takes an intermediate model."""
    model_dir = shlex.quote(args["output_dir"])
    lines = ["", "## How to use it", ""]
    if kind in ("tinybert_stage1", "general"):
        stage = "--pred_distill " if kind == "tinybert_stage1" else ""
        return [*lines, f"Not a classifier to use as is: the student of the next stage, "
                        f"`python src/tinybert/task_distill.py {stage}--student_model {model_dir} ...`."]
    if kind == "mlm":
        return [*lines, f"The model a teacher is fine-tuned from (`bert_classification.py --bert_model {model_dir}`) "
                        f"and TinyBERT's augmentation draws from (`data_augmentation.py --pretrained_bert_model "
                        f"{model_dir}`)."]
    name = os.path.basename(os.path.normpath(args["output_dir"]))
    lines += ["```bash", f"python src/predict.py --model {model_dir} --input texts.txt",
              f"python src/export.py --model {model_dir} --output_dir exports/{shlex.quote(name)}  # ONNX", "```"]
    if kind in BERT_CLASSIFIERS:
        lines += ["", "```python", "from transformers import pipeline", "",
                  f"classifier = pipeline(\"text-classification\", model={json.dumps(args['output_dir'])})",
                  "classifier(\"a text to label\")  # a pair: {\"text\": ..., \"text_pair\": ...}", "```"]
    return lines


def limits_section(kind: str, args: dict, metrics: dict, language: str | None) -> list[str]:
    """What the model cannot do: longer texts, other languages, the other input kind; what it outputs."""
    length = metrics.get("student_max_seq_length") or args["max_seq_length"]
    unit = "tokens of its own tokenizer" if kind == "bilstm" else "word pieces, [CLS] and [SEP] included"
    lines = ["", "## Limits", "", f"- It reads at most {length} {unit}: the rest of a longer input is cut."]
    lines.append(f"- Trained on {LANGUAGES[language]} text (`{language}`) only." if language else
                 "- Trained on the language of its training text only (not detected).")
    if "text_pair" in metrics:
        lines.append("- It reads sentence pairs (two texts an input), not single texts." if metrics["text_pair"] else
                     "- It reads single texts, not sentence pairs.")
    if metrics.get("labels") == SCORE_LABELS:
        lines.append("- A regressor: one score an input, no classes.")
    elif metrics.get("labels"):
        lines.append(f"- Its classes: {', '.join(map(str, metrics['labels']))}.")
    if metrics.get("at_chance"):
        lines.append("- WARNING: its dev score is no better than chance: it learned next to nothing.")
    return lines


def model_card(args: dict, metrics: dict, script: str) -> str:
    """The README.md of a run directory from its args.json and metrics.json; `script` is the stage script (a path
    from the repository root), which args.json does not record."""
    kind = run_kind(metrics)
    language = data_language(args, metrics)
    sections = (header(kind, metrics, language), about(kind, args, metrics), data_section(kind, args, metrics),
                scores_section(kind, metrics), speed_section(metrics),
                ["", "## How it was made", "", "```bash", command(script, args), "```"],
                usage_section(kind, args), limits_section(kind, args, metrics, language))
    return "\n".join(line for section in sections for line in section) + "\n"
