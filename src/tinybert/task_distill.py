r"""TinyBERT task-specific distillation (Jiao et al. 2020), run twice with the original flag names.

Stage 1, intermediate layers (embedding output, hidden states and pre-softmax attention scores):
    python src/tinybert/task_distill.py --teacher_model models/teacher --student_model <student init> \
        --data_dir data/reviews --task_name reviews --output_dir models/tinybert_tmp --max_seq_length 128 \
        --train_batch_size 32 --num_train_epochs 10 --aug_train --do_lower_case
Stage 2, prediction layer (soft cross-entropy on the teacher's logits; for a regression teacher, STS-B, the MSE
between the student's and the teacher's scores, as the authors' code does):
    python src/tinybert/task_distill.py --pred_distill --teacher_model models/teacher \
        --student_model models/tinybert_tmp --data_dir data/reviews --task_name reviews \
        --output_dir models/tinybert --aug_train --do_lower_case --learning_rate 3e-5 --num_train_epochs 3 \
        --eval_step 100 --max_seq_length 128 --train_batch_size 32
Student init: `--student_model` (a general TinyBERT from src/tinybert/general_distill.py, whose projection
stage 1 takes up, or a hub id), `--student_config student.json` (random BertConfig, the teacher's vocabulary)
or `--init_from_teacher --student_layers 3` (the teacher's embeddings and layers 2, 4, 6).
Tiny CPU run:
    python src/tinybert/task_distill.py --teacher_model models/sst2/teacher --init_from_teacher \
        --student_layers 3 --task_name sst-2 --output_dir /tmp/tb1 --max_train_examples 256 --num_train_epochs 1
    python src/tinybert/task_distill.py --pred_distill --teacher_model models/sst2/teacher \
        --student_model /tmp/tb1 --task_name sst-2 --output_dir /tmp/tb2 --max_train_examples 256 \
        --num_train_epochs 1

Single texts or sentence pairs, as the teacher was trained (its config's `text_pair`; pairs are BERT's pair
input, cut longest-first). Stage 2 keeps the dev checkpoint best by the task's main metric (--task_name or the
data directory's task: F1 for MRPC and QQP, MCC for CoLA, Pearson for STS-B, else accuracy).
Neither stage needs gold labels, so the transfer set is train.tsv plus unlabeled.tsv when there is one
(--no_unlabeled leaves it out); --aug_train reads train_aug.tsv and unlabeled_aug.tsv instead
(src/tinybert/data_augmentation.py). The transfer set is tokenized a chunk at a time into memory-mapped
stores (src/train/encoded.py) that the training loader reads a row at a time: in --cache_dir when given (kept,
and reused by any run with the same inputs, tokenizer and --max_seq_length), else in `.<output_dir name>.stores/` beside
--output_dir, removed when the run ends. Stage 1 keeps its learning rate constant (--lr_schedule). Writes a
`save_pretrained` student (with the teacher's tokenizer and label names), stage 1 also `projections.pt`
(the shared student-to-teacher width map W, not needed by stage 2), `args.json` and `metrics.json` (losses; in stage 2
dev/test accuracy and macro-F1 of the best dev checkpoint; parameters; CPU inference speed of student and
teacher measured in the same run). Multi-GPU: `accelerate launch` runs this script unchanged.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

import contextlib
import hashlib
import json
import os
import shutil
from functools import partial

import numpy as np

from src.common.cli import (
    ArgumentParser,
    InputError,
    add_bert_training_args,
    add_length_buckets_arg,
    add_metric_arg,
    exits_on_input_error,
    logger,
    non_negative,
    positive,
    run_script,
    setup_logging,
)
from src.common.files import check_apart, check_output_dir, check_paths, publish_dir, save_json, staging_dir
from src.data import ragged
from src.data.examples import (
    SCORE_LABELS,
    add_data_format_args,
    check_input_kind,
    data_files,
    data_format,
    encode_labels,
    input_hashes,
    split_file,
)
from src.data.pairs import add_pair_transfer_args, check_pair_transfer_args, pair_transfer
from src.data.reading import iter_example_chunks, load_split
from src.data.tasks import TASKS, data_task, main_metric, task_data_dir
from src.modeling.bert import (
    check_max_length,
    check_model_sources,
    classifier_predictor,
    count_parameters,
    encode_texts,
    load_classifier,
    load_tokenizer,
    make_loader,
    model_label_list,
    reads_pairs,
)
from src.runs.run_dir import finish_run
from src.runs.summary import chance_check, majority_floor, print_summary, vs_teacher
from src.serve.labelling import label_input, write_predictions
from src.serve.speed import compare_speed
from src.teachers.targets import (
    add_teacher_args,
    check_same_labels,
    check_teacher_weights,
    check_teachers_read,
    describe,
    dev_weights,
    first_bert,
    load_teacher,
    score_teachers,
    teacher_targets,
)
from src.tinybert.attention import SCORES
from src.tinybert.student import (
    Projection,
    build_student,
    check_same_heads,
    check_same_vocab,
    intermediate_loss,
    layer_map,
)
from src.train.encoded import encode_to_disk, remove_stores, stores_dir
from src.train.engine import adamw, fit, fit_options, linear_schedule, start_run, training_report
from src.train.evaluation import evaluate, is_regressor
from src.train.losses import logits_mse, soft_cross_entropy


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    add_teacher_args(p, "fine-tuned teacher, save_pretrained directory or hub id (required for training); repeat "
                     "the flag for several: stage 2 learns the weighted mean of their log-probabilities and may "
                     "take linear_teacher.py directories too, while the first BERT given supplies the "
                     "tokenizer, stage 1's layers and --init_from_teacher")
    init = p.add_mutually_exclusive_group(required=True)
    init.add_argument("--student_model", default=None,
                      help="student BERT directory or hub id (a general TinyBERT, or stage 1's output)")
    init.add_argument("--student_config", default=None, help="BertConfig JSON: a randomly initialised student")
    init.add_argument("--init_from_teacher", action="store_true",
                      help="student = the teacher's embeddings and every k-th layer (see --student_layers)")
    p.add_argument("--student_layers", type=int, default=None, help="number of layers with --init_from_teacher")
    p.add_argument("--data_dir", default=None, help="directory with train.tsv, dev.tsv, test.tsv "
                                                    "(default: data/<task>, e.g. data/sst2 for sst-2)")
    p.add_argument("--task_name", default=None, help=f"task name ({', '.join(TASKS)}, or any name with "
                                                     "--data_dir); only labels the run besides the default data dir")
    p.add_argument("--output_dir", required=True, help="where the student, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--pred_distill", action="store_true",
                   help="stage 2: distil the prediction layer (default: stage 1, intermediate layers)")
    p.add_argument("--aug_train", action="store_true",
                   help="train on <data_dir>/train_aug.tsv instead of train.tsv (and unlabeled_aug.tsv if there)")
    p.add_argument("--no_unlabeled", action="store_true",
                   help="leave <data_dir>/unlabeled.tsv out of the transfer set (by default its texts, which need no "
                        "gold label, are learned from like train's)")
    p.add_argument("--lr_schedule", choices=("auto", "linear", "constant"), default="auto",
                   help="learning rate: linear warm-up and decay, or constant; auto: constant in stage 1 (as the "
                        "authors' code), linear in stage 2")
    p.add_argument("--layer_map", default=None,
                   help="student:teacher layer pairs, e.g. '1:2,2:4,3:6' (default: uniform, L_T a multiple of L_S)")
    p.add_argument("--temperature", type=positive(float), default=1.0,
                   help="softmax temperature of the stage 2 soft labels")
    add_bert_training_args(p, learning_rate=5e-5)
    add_length_buckets_arg(p)
    add_metric_arg(p)
    p.add_argument("--cache_dir", default=None,
                   help="keep the tokenized transfer set (keyed by inputs, tokenizer and length) and in stage 2 the "
                        "teacher's logits (keyed by teacher and input) on disk here, reused by later runs (default: "
                        "the tokenized set in .<output_dir name>.stores/ beside --output_dir until the run ends, the "
                        "logits in memory)")
    p.add_argument("--do_eval", action="store_true",
                   help="no training: dev and test accuracy and macro-F1 of --student_model, in "
                        "<output_dir>/eval_results.json (the original TinyBERT's flag)")
    p.add_argument("--do_predict", action="store_true",
                   help="no training: labels and probabilities of --student_model for the test split, in "
                        "<output_dir>/test_predictions.tsv")
    p.add_argument("--speed_texts", type=non_negative(int), default=512,
                   help="dev texts for the CPU speed comparison at batch 64 (a quarter of them at batch 1; 0: skip)")
    add_pair_transfer_args(p)
    add_data_format_args(p)
    args = p.parse_args(argv)
    check_pair_transfer_args(p, args)
    if (args.do_eval or args.do_predict) and not args.student_model:
        p.error("--do_eval and --do_predict score a trained --student_model")
    if not (args.do_eval or args.do_predict or args.teacher_model):
        p.error("--teacher_model is required for training")
    check_teacher_weights(p, args)
    if args.init_from_teacher != (args.student_layers is not None):
        p.error("--init_from_teacher and --student_layers go together")
    if args.data_dir is None:
        if args.task_name is None:
            p.error("give --data_dir or a --task_name")
        args.data_dir = task_data_dir("data", args.task_name)
    if args.max_seq_length < 3:
        p.error("--max_seq_length must be at least 3")
    if args.aug_train and args.max_train_examples is not None:
        p.error("--max_train_examples cannot be combined with --aug_train: train_aug.tsv lists the originals first, "
                "so a cut would keep no augmented row; augment fewer examples instead (data_augmentation.py "
                "--max_examples N)")
    return args


def lr_schedule(args):
    """Stage 1 keeps its learning rate constant by default, as the authors' code; stage 2 warms up and decays."""
    linear = args.lr_schedule == "linear" or (args.lr_schedule == "auto" and args.pred_distill)
    return linear_schedule(args.warmup_proportion) if linear else None


def stage_name(args):
    return "prediction layer" if args.pred_distill else "intermediate layers"


def load_teachers_of_stage(args, device):
    """The teachers as `Teacher`s: stage 1 the first BERT of --teacher_model only (its layers are what the
    student learns), stage 2 every one. Returns (teachers, that BERT)."""
    bert_source = first_bert(args.teacher_model)
    if bert_source is None:
        raise InputError("TinyBERT needs a BERT teacher (its tokenizer and layers), but every --teacher_model is "
                         "linear: add the BERT teacher as well")
    attn = "sdpa" if args.pred_distill else SCORES  # stage 1 compares the pre-softmax attention scores
    # Never trained, so never prepared: moved here, before their first use (stage 2's logits pass included).
    load = partial(load_teacher, device=device, max_seq_length=args.max_seq_length, do_lower_case=args.do_lower_case,
                   attn_implementation=attn)
    if not args.pred_distill:
        if len(args.teacher_model) > 1:
            logger.info(f"stage 1 learns the layers of {bert_source} only; the other teachers teach in stage 2")
        bert = load(bert_source)
        return [bert], bert
    teachers = [load(source) for source in args.teacher_model]
    check_same_labels(teachers)
    return teachers, teachers[args.teacher_model.index(bert_source)]


def load_models(args, device):
    """The teachers (`load_teachers_of_stage`), the BERT one's tokenizer, the BERT teacher itself, the label
    names, the student and the layer map (stage 1, and stage 2 with --init_from_teacher; else None)."""
    attn = "sdpa" if args.pred_distill else SCORES
    teachers, bert = load_teachers_of_stage(args, device)
    tokenizer, teacher, label_list = bert.tokenizer, bert.model, bert.labels
    tokenizer.model_max_length = args.max_seq_length  # saved: pipeline(...) then truncates as trained
    num_layers_T = teacher.config.num_hidden_layers
    pairs = layer_map(args.student_layers, num_layers_T, args.layer_map) if args.student_layers else None
    student = build_student(args, teacher, label_list, pairs, attn_implementation=attn)
    if args.student_model:
        check_same_vocab(load_tokenizer(args.student_model), tokenizer, args.student_model, bert.source)
    if not args.pred_distill:
        pairs = pairs or layer_map(student.config.num_hidden_layers, num_layers_T, args.layer_map)
        check_same_heads(student.config, teacher.config)
    logger.info(f"TinyBERT {stage_name(args)}: teachers {describe(teachers, args.teacher_weights)}; student "
                f"{count_parameters(student) / 1e6:.1f}M params ({student.config.num_hidden_layers} layers, "
                f"width {student.config.hidden_size}), layer map {pairs}")
    return teachers, tokenizer, teacher, label_list, student, pairs


def transfer_files(args) -> list[tuple[str, dict]]:
    """The files of the transfer set and the format each is read with: train.tsv (or train_aug.tsv with
    --aug_train), then, unless --no_unlabeled, unlabeled_aug.tsv with --aug_train when there is one, else
    unlabeled.tsv when there is one. The augmented files are in the project's own layout; the others are read
    with the format flags."""
    train = os.path.join(args.data_dir, "train_aug.tsv") if args.aug_train else (
        split_file(args.data_dir, "train") or os.path.join(args.data_dir, "train.tsv"))
    if args.aug_train and not os.path.isfile(train):
        raise InputError(f"--aug_train: {train} does not exist; make it with src/tinybert/data_augmentation.py")
    if not os.path.isfile(train):
        raise InputError(f"data file {train} does not exist")
    files = [(train, {} if args.aug_train else data_format(args))]
    unlabeled_aug = os.path.join(args.data_dir, "unlabeled_aug.tsv")
    if args.no_unlabeled:
        return files
    if args.aug_train and os.path.isfile(unlabeled_aug):
        return files + [(unlabeled_aug, {})]
    unlabeled = split_file(args.data_dir, "unlabeled")
    return files + ([(unlabeled, data_format(args))] if unlabeled else [])


def transfer_inputs(args, files, label_list, teachers, held_out):
    """The inputs of `files` (`transfer_files`), read a chunk at a time (`iter_example_chunks`): train's first
    --max_train_examples, whose labels must be ones the teacher knows (no gold label is learned), then the
    unlabeled ones; each file of the kind the teachers read; then the new pairs of --pair_transfer, built from
    the training pairs, none of them a `held_out` input."""
    train = []  # the training pairs, kept only for --pair_transfer
    for i, (path, fmt) in enumerate(files):
        left = args.max_train_examples if i == 0 else None
        for chunk in iter_example_chunks(path, require_label=i == 0, **fmt):  # every row checked, as read_examples
            chunk = chunk[:max(left, 0)] if left is not None else chunk
            if i == 0:
                encode_labels(chunk, label_list, path)
            check_teachers_read(teachers, [ex.input for ex in chunk[:1]], path)
            if i == 0 and args.pair_transfer:
                train += [ex.input for ex in chunk]
            yield from (ex.input for ex in chunk)
            left = None if left is None else left - len(chunk)
    yield from pair_transfer(args, train, [*train, *held_out], files[0][0])


def train_labels(args, label_list) -> list[int]:
    """The class ids of train.tsv's first --max_train_examples rows (none for a regressor), a chunk at a time:
    what the majority-class floor is counted on."""
    if label_list == SCORE_LABELS:
        return []
    path, ids = split_file(args.data_dir, "train"), []
    for chunk in iter_example_chunks(path, **data_format(args)):
        ids += encode_labels(chunk, label_list, path)
    return ids[:args.max_train_examples]


def load_transfer_set(args, accelerator, label_list, teachers, held_out):
    """The texts the student learns the teachers' outputs on (`transfer_files`), streamed into a store of inputs
    in `stores_dir` (`ragged.Inputs`, keyed by the files' bytes, the format flags and --max_train_examples) by
    the main process and read from it, so that memory never holds the whole set. Returns (inputs, files)."""
    files = transfer_files(args)
    pairs = [args.pair_transfer, args.pair_kinds, args.seed] if args.pair_transfer else []  # keys of before: kept
    key = hashlib.sha1(json.dumps([args.max_train_examples, files, *pairs]).encode())
    if pairs:
        key.update(np.sort(input_hashes(list(held_out))).tobytes())
    for path, _ in files:
        with open(path, "rb") as f:
            key.update(hashlib.file_digest(f, "sha1").digest())
    store = os.path.join(stores_dir(args), f"inputs_{key.hexdigest()[:20]}")
    with accelerator.main_process_first():
        if accelerator.is_main_process and not ragged.exists(store):
            created = not os.path.isdir(stores_dir(args))
            os.makedirs(stores_dir(args), exist_ok=True)
            try:
                ragged.write_inputs(store, transfer_inputs(args, files, label_list, teachers, held_out))
            except BaseException:  # bad input found while streaming: leave no directory behind that we made
                if created:
                    shutil.rmtree(stores_dir(args), ignore_errors=True)
                raise
    return ragged.Inputs(store, teachers[0].pairs), [path for path, _ in files]


def encode_transfer_set(args, accelerator, tokenizer, texts):
    """The transfer set tokenized into memory-mapped stores (`src/train/encoded.py`) in `stores_dir`, a chunk at a
    time, and read from them by the training loader; stage 2's rows carry their index into the teacher's
    logits. The main process writes them, the other ranks then open them. Returns (dataset, number truncated)."""
    with accelerator.main_process_first():
        return encode_to_disk(tokenizer, texts, args.max_seq_length, stores_dir(args), row_index=args.pred_distill)


def teacher_logits(args, accelerator, teachers, weights, texts):
    """The targets (N, C) for the transfer set: the one teacher's logits, or several teachers' mean
    log-probabilities (`teacher_targets`), from --cache_dir where it has them."""
    # With a cache the main process computes and writes it, the others then read it; without, all compute at once.
    with accelerator.main_process_first() if args.cache_dir else contextlib.nullcontext():
        return teacher_targets(teachers, weights, texts, args.eval_batch_size, args.cache_dir)[0]


def make_eval_loaders(args, tokenizer, splits, accelerator):
    """Prepared loaders of labelled (texts, labels) splits, e.g. dev and test."""
    return accelerator.prepare(*(
        make_loader(tokenizer, encode_texts(tokenizer, texts, args.max_seq_length, labels)[0], args.eval_batch_size)
        for texts, labels in splits))


def trainable_parameters(*modules):
    """(name, weight) of every weight that gets gradients."""
    return [(n, p) for m in modules for n, p in m.named_parameters() if p.requires_grad]


def freeze_unused_heads(student):
    """Stage 1's losses never reach the pooler and the classifier: frozen, so DDP expects no gradient there."""
    for module in (student.base_model.pooler, student.classifier):
        if module is not None:
            module.requires_grad_(False)


def prediction_loss(student, batch, logits_T, temperature):
    """Stage 2: L_pred, the soft cross-entropy of the student's logits against the teacher's cached ones; for a
    regressor (C = 1) the squared error between the two scores (`logits_mse`), as the authors' code does."""
    z_S = student(**{k: v for k, v in batch.items() if k != "idx"}).logits  # (B, C); idx only finds the row
    z_T = logits_T[batch["idx"].cpu()].to(z_S.device)
    if z_S.shape[-1] == 1:  # a regressor (the student may be wrapped in DDP here: its config is not at hand)
        return {"loss": logits_mse(z_S.float(), z_T)}
    return {"loss": soft_cross_entropy(z_S, z_T, temperature)}


def score_best_checkpoint(run_dir, test_loader, accelerator, best, metric):
    """Test scores of the best dev checkpoint, which `fit` saved in `run_dir`."""
    best_model = load_classifier(run_dir).to(accelerator.device)  # evaluation only: no DDP wrapper needed
    test = evaluate(best_model, test_loader, accelerator, desc="test")
    logger.info(f"best dev {metric} {best[metric]:.4f} (step {best['step']}); test {metric} {test[metric]:.4f}")
    return test


def speed_comparison(student_dir, teacher_name, tokenizer, texts, args):
    """CPU examples/s of the saved student next to the teacher, batch 64 and 1, tokenisation included."""
    student, teacher = (classifier_predictor(load_classifier(source).cpu(), tokenizer, args.max_seq_length)
                        for source in (student_dir, teacher_name))
    speed = compare_speed(student, teacher, texts)
    logger.info(f"CPU speed-up over the teacher: batch 64 {speed['speedup_batch_64']:.2f}x, "
                f"batch 1 {speed['speedup_batch_1']:.2f}x ({speed['threads']} threads)")
    return speed


def stage_metrics(args, accelerator, models, transfer_set, state):
    """What metrics.json records of either stage: models (teacher, student, label names), transfer set (file,
    number of texts, number truncated), losses and training speed."""
    teacher, student, label_list = models
    files, num_texts, num_truncated = transfer_set
    return {"stage": stage_name(args), "teacher": ", ".join(args.teacher_model), "data_dir": args.data_dir,
            "task": data_task(args.data_dir, args.task_name), "main_metric": state.metric,
            "text_pair": reads_pairs(teacher.config),
            "train_file": files[0], "transfer_files": files, "labels": label_list, "num_train_examples": num_texts,
            "num_truncated_train": num_truncated, "num_params": count_parameters(student),
            "teacher_num_params": count_parameters(teacher), "num_layers": student.config.num_hidden_layers,
            "hidden_size": student.config.hidden_size, **training_report(state, accelerator)}


def summarise(args, metrics: dict) -> None:
    """The stage's one result line: stage 2 its scores against the teacher's, stage 1 its last loss."""
    name = f"TinyBERT stage {2 if args.pred_distill else 1} ({stage_name(args)})"
    speed = metrics.get("speed")
    if args.pred_distill:
        print_summary(name, args.output_dir, dev=metrics["dev"], test=metrics["test"], speed=speed,
                      metric=metrics["main_metric"], teacher_test=(metrics["teacher_scores"] or {}).get("test"),
                      floor=metrics["majority_floor"])
    else:
        losses = [entry["train_loss"] for entry in metrics["history"]]
        trend = (f"mean loss {losses[-1]:.4f} in the last epoch, {losses[-1] / losses[0]:.1%} of the first's "
                 f"({losses[0]:.4f})" if len(losses) > 1 else f"mean loss {losses[0]:.4f} in its one epoch")
        print_summary(name, args.output_dir, speed=speed,
                      facts=(trend, "no dev score before stage 2 gives it its predictions"))


def evaluate_only(args) -> None:
    """--do_eval / --do_predict: score or label with a trained --student_model, no training. Written through a
    staging directory into --output_dir (never into the model's)."""
    setup_logging()
    check_output_dir(args.output_dir, args.overwrite_output_dir)
    tmp = staging_dir(args.output_dir)
    if args.do_predict:
        test = split_file(args.data_dir, "test") or os.path.join(args.data_dir, "test.tsv")
        texts, _, outputs, labels = label_input(args.student_model, test, data_format(args), args.eval_batch_size)
        write_predictions(os.path.join(tmp, "test_predictions.tsv"), texts, outputs, labels)
    if args.do_eval:
        model, tokenizer = load_classifier(args.student_model), load_tokenizer(args.student_model, args.do_lower_case)
        label_list = model_label_list(model)
        results = {}
        for split in ("dev", "test"):
            texts, labels, _ = load_split(args.data_dir, split, label_list, **data_format(args))
            check_input_kind(texts, reads_pairs(model.config), args.student_model, f"{args.data_dir}/{split}")
            features = encode_texts(tokenizer, texts, args.max_seq_length, labels)[0]
            results[split] = evaluate(model, make_loader(tokenizer, features, args.eval_batch_size), desc=split)
            print(f"{split}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[split].items() if k != "examples"))
        save_json(results, os.path.join(tmp, "eval_results.json"))
    publish_dir(tmp, args.output_dir)
    logger.info(f"wrote {args.output_dir}")


def test_stage2(args, accelerator, run: tuple, teachers: tuple, splits: tuple, label_list: list[str]) -> dict:
    """Stage 2's results: its best dev checkpoint on test, the teachers' scores on dev and test, and its share of
    theirs and of their gain over the majority class. `run` is (staging directory, TrainState, test loader),
    `teachers` (teachers, weights), `splits` (dev, test)."""
    (tmp_dir, state, test_loader), (dev, test_split) = run, splits
    test = score_best_checkpoint(tmp_dir, test_loader, accelerator, state.best, state.metric)
    scores = score_teachers(*teachers, {"dev": dev, "test": test_split}, args.eval_batch_size, args.cache_dir)
    floor = majority_floor(train_labels(args, label_list), test_split[1], state.metric)
    return {"dev": state.best, "test": test, "temperature": args.temperature, **scores,
            **vs_teacher(test, scores["teacher_scores"], state.metric, floor),
            **chance_check(state.best, dev[1], state.metric)}


def finish_stage(args, tmp_dir: str, metrics: dict, tokenizer, dev_texts: list) -> None:
    """The speed comparison (unless --speed_texts 0), then the finished run directory and its summary line."""
    if args.speed_texts:
        metrics["speed"] = speed_comparison(tmp_dir, first_bert(args.teacher_model), tokenizer,
                                            dev_texts[:args.speed_texts], args)
    finish_run(tmp_dir, args.output_dir, vars(args), metrics, script=__file__)
    summarise(args, metrics)


def check_inputs(args) -> None:
    """What can be refused before any work: an output over an input, missing paths, unloadable models, a length
    past their positions."""
    models = {"--teacher_model": args.teacher_model, "--student_model": args.student_model}
    check_apart({"--output_dir": args.output_dir}, {**models, "--student_config": args.student_config,
                                                    "--data_dir": data_files(args.data_dir)})
    check_paths(dirs={"--data_dir": args.data_dir}, files={"--student_config": args.student_config},
                new_dirs={"--cache_dir": args.cache_dir})
    check_model_sources(models)
    check_max_length(args.max_seq_length, {**models, "--student_config": args.student_config})


def load_data(args, accelerator, teachers, tokenizer, label_list) -> tuple:
    """(dev, test): (inputs, labels) each, checked to be of the kind the teachers read; then the transfer set,
    checked as it is streamed to disk, and its tokenized stores. Returns (dev, test, (texts, files), stores,
    number truncated)."""
    dev, test = (load_split(args.data_dir, split, label_list, **data_format(args))[:2] for split in ("dev", "test"))
    for texts, split in ((dev[0], "dev"), (test[0], "test")):
        check_teachers_read(teachers, texts, split_file(args.data_dir, split) or f"{args.data_dir}/{split}")
    train_texts, train_files = load_transfer_set(args, accelerator, label_list, teachers, [*dev[0], *test[0]])
    train_set, n_trunc = encode_transfer_set(args, accelerator, tokenizer, train_texts)
    logger.info(f"train {len(train_texts)} from {', '.join(train_files)} ({n_trunc} truncated to "
                f"{args.max_seq_length}) / dev {len(dev[0])} / test {len(test[0])}; "
                f"{accelerator.num_processes} x {accelerator.device}")
    return dev, test, (train_texts, train_files), train_set, n_trunc


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    if args.do_eval or args.do_predict:
        return evaluate_only(args)
    if (accelerator := start_run(args)) is None:  # --resume found the run finished
        return

    # --- teacher, student and data: the training texts only need the teacher's outputs; dev and test keep labels
    teachers, tokenizer, teacher, label_list, student, pairs = load_models(args, accelerator.device)
    dev, test_split, (train_texts, train_files), train_set, n_trunc = load_data(args, accelerator, teachers,
                                                                                tokenizer, label_list)
    metric = main_metric(data_task(args.data_dir, args.task_name), is_regressor(teacher), args.metric)

    def save_student(path):
        accelerator.unwrap_model(student).save_pretrained(path)
        tokenizer.save_pretrained(path)

    if args.pred_distill:
        # --- stage 2: the prediction layer learns the teacher's logits; dev picks the checkpoint to test
        with accelerator.main_process_first() if args.cache_dir else contextlib.nullcontext():
            weights, weight_stats = dev_weights(teachers, args.teacher_weights, args.teacher_weights_on_dev, dev,
                                                metric, args.eval_batch_size, args.cache_dir)
        logits_T = teacher_logits(args, accelerator, teachers, weights, train_texts)  # (N, C); row idx = i
        dev_loader, test_loader = make_eval_loaders(args, tokenizer, (dev, test_split), accelerator)
        models, loss_fn = student, partial(prediction_loss, logits_T=logits_T, temperature=args.temperature)
        optimizer = adamw(trainable_parameters(student), args.learning_rate, args.weight_decay)
        evaluate_fn = partial(evaluate, student, dev_loader, accelerator, desc="dev")
    else:
        # --- stage 1: the intermediate layers, through the width maps W_e, W_h trained with the student
        projection, loaded = Projection.from_student(args.student_model, student.config.hidden_size,
                                                     teacher.config.hidden_size)
        logger.info(f"projection W: {'from ' + args.student_model if loaded else 'new'}")
        freeze_unused_heads(student)
        models, loss_fn = [student, projection], partial(intermediate_loss, teacher=teacher, pairs=pairs)
        optimizer = adamw(trainable_parameters(student, projection), args.learning_rate, args.weight_decay)
        evaluate_fn = None  # no dev selection: stage 1 keeps its last student
    train_loader = make_loader(tokenizer, train_set, args.train_batch_size, shuffle=True,
                               length_buckets=bool(args.length_buckets))
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    state = fit(models, loss_fn, train_loader, optimizer, accelerator, tmp_dir,
                schedule=lr_schedule(args), evaluate_fn=evaluate_fn, save_fn=save_student, metric=metric,
                **fit_options(args))

    # --- stage 1 saves its last student and projection; stage 2 tests its best dev checkpoint
    if args.pred_distill:
        results = {**test_stage2(args, accelerator, (tmp_dir, state, test_loader), (teachers, weights),
                                 (dev, test_split), label_list), **weight_stats}
    else:
        results = {"layer_map": pairs}
        if accelerator.is_main_process:
            save_student(tmp_dir)
            projection.save(tmp_dir)
    if accelerator.is_main_process:
        metrics = {**stage_metrics(args, accelerator, (teacher, student, label_list),
                                   (train_files, len(train_texts), n_trunc), state), **results}
        finish_stage(args, tmp_dir, metrics, tokenizer, dev[0])
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:  # every rank is done with the stores
        remove_stores(args)


if __name__ == "__main__":
    run_script(main, resumable=True)
