"""TinyBERT task-specific distillation (Jiao et al. 2020), run twice with the original flag names.

Stage 1, intermediate layers (embedding output, hidden states and attention probabilities):
    python src/tinybert/task_distill.py --teacher_model models/teacher --student_model <student init> \
        --data_dir data/reviews --task_name reviews --output_dir models/tinybert_tmp --max_seq_length 128 \
        --train_batch_size 32 --num_train_epochs 10 --aug_train --do_lower_case
Stage 2, prediction layer (soft cross-entropy on the teacher's logits):
    python src/tinybert/task_distill.py --pred_distill --teacher_model models/teacher \
        --student_model models/tinybert_tmp --data_dir data/reviews --task_name reviews \
        --output_dir models/tinybert --aug_train --do_lower_case --learning_rate 3e-5 --num_train_epochs 3 \
        --eval_step 100 --max_seq_length 128 --train_batch_size 32
Student init instead of --student_model: `--student_config student.json` (random BertConfig, the teacher's
vocabulary) or `--init_from_teacher --student_layers 3` (the teacher's embeddings and layers 2, 4, 6).
Tiny CPU run:
    python src/tinybert/task_distill.py --teacher_model models/sst2/teacher --init_from_teacher \
        --student_layers 3 --task_name sst-2 --output_dir /tmp/tb1 --max_train_examples 256 --num_train_epochs 1
    python src/tinybert/task_distill.py --pred_distill --teacher_model models/sst2/teacher \
        --student_model /tmp/tb1 --task_name sst-2 --output_dir /tmp/tb2 --max_train_examples 256 \
        --num_train_epochs 1

--aug_train trains on `train_aug.tsv` (src/tinybert/data_augmentation.py) instead of train.tsv. Writes a
`save_pretrained` student (with the teacher's tokenizer and label names), stage 1 also `projections.pt`
(the student-to-teacher width maps, not needed by stage 2), `args.json` and `metrics.json` (losses; in stage 2
dev/test accuracy and macro-F1 of the best dev checkpoint; parameters; CPU inference speed of student and
teacher measured in the same run). Multi-GPU: `accelerate launch` runs this script unchanged.
"""

import argparse
import math
import os
import time

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from src.losses import attention_mse, hidden_mse, soft_cross_entropy
from src.tinybert.student import (TASK_DIRS, Projections, build_student, check_same_vocab, layer_map,
                                  task_data_dir)
from src.cli import InputError, add_bert_training_args, exits_on_input_error, logger
from src.data import encode_labels, load_split, read_examples
from src.engine import adamw, load_checkpoint, save_checkpoint, start_run
from src.evaluation import evaluate
from src.modeling import count_parameters, encode_texts, load_classifier, load_tokenizer, make_loader, model_label_list
from src.runs import finish_run, staging_dir
from src.speed import classifier_predictor, compare_speed
from src.teacher_logits import cached_teacher_logits


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher_model", required=True, help="fine-tuned teacher (save_pretrained directory or hub id)")
    init = p.add_mutually_exclusive_group(required=True)
    init.add_argument("--student_model", default=None,
                      help="student BERT directory or hub id (a general TinyBERT, or stage 1's output)")
    init.add_argument("--student_config", default=None, help="BertConfig JSON: a randomly initialised student")
    init.add_argument("--init_from_teacher", action="store_true",
                      help="student = the teacher's embeddings and every k-th layer (see --student_layers)")
    p.add_argument("--student_layers", type=int, default=None, help="number of layers with --init_from_teacher")
    p.add_argument("--data_dir", default=None, help="directory with train.tsv, dev.tsv, test.tsv "
                                                    "(default: data/<task>, e.g. data/sst2 for sst-2)")
    p.add_argument("--task_name", default=None, help=f"task name ({', '.join(TASK_DIRS)}, or any name with "
                                                     "--data_dir); only labels the run besides the default data dir")
    p.add_argument("--output_dir", required=True, help="where the student, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--pred_distill", action="store_true",
                   help="stage 2: distil the prediction layer (default: stage 1, intermediate layers)")
    p.add_argument("--aug_train", action="store_true", help="train on <data_dir>/train_aug.tsv instead of train.tsv")
    p.add_argument("--layer_map", default=None,
                   help="student:teacher layer pairs, e.g. '1:2,2:4,3:6' (default: uniform, L_T a multiple of L_S)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the stage 2 soft labels")
    add_bert_training_args(p, learning_rate=5e-5)
    p.add_argument("--cache_dir", default=None,
                   help="stage 2: keep teacher logits on disk here, keyed by teacher and text (default: memory only)")
    p.add_argument("--speed_texts", type=int, default=512,
                   help="dev texts for the CPU speed comparison at batch 64 (a quarter of them at batch 1; 0: skip)")
    args = p.parse_args(argv)
    if args.init_from_teacher != (args.student_layers is not None):
        p.error("--init_from_teacher and --student_layers go together")
    if args.data_dir is None:
        if args.task_name is None:
            p.error("give --data_dir or a --task_name")
        args.data_dir = task_data_dir("data", args.task_name)
    if args.max_seq_length < 3:
        p.error("--max_seq_length must be at least 3")
    return args


def speed_comparison(student_dir, teacher_name, tokenizer, texts, args):
    """CPU examples/s of the saved student next to the teacher, batch 64 and 1, tokenisation included."""
    student, teacher = (classifier_predictor(load_classifier(source).cpu(), tokenizer, args.max_seq_length)
                        for source in (student_dir, teacher_name))
    return compare_speed(student, teacher, texts)


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    accelerator = start_run(args)
    if accelerator is None:
        return
    stage = "prediction layer" if args.pred_distill else "intermediate layers"

    # --- teacher, student, shared tokenizer. Stage 1 needs attentions: eager attention returns them.
    attn = "sdpa" if args.pred_distill else "eager"
    tokenizer = load_tokenizer(args.teacher_model, args.do_lower_case)
    teacher = load_classifier(args.teacher_model, attn_implementation=attn)
    label_list = model_label_list(teacher)
    num_layers_T = teacher.config.num_hidden_layers
    num_layers_S = args.student_layers if args.init_from_teacher else None
    pairs = layer_map(num_layers_S, num_layers_T, args.layer_map) if num_layers_S else None
    student = build_student(args, teacher, label_list, pairs, attn_implementation=attn)
    if args.student_model:
        check_same_vocab(load_tokenizer(args.student_model), tokenizer, args.student_model, args.teacher_model)
    if not args.pred_distill:
        pairs = pairs or layer_map(student.config.num_hidden_layers, num_layers_T, args.layer_map)
        if student.config.num_attention_heads != teacher.config.num_attention_heads:
            raise InputError(f"the attention loss compares head by head: the student has "
                             f"{student.config.num_attention_heads} heads, the teacher "
                             f"{teacher.config.num_attention_heads}; give the student as many heads")

    config_S = student.config  # kept: after prepare() the student may be wrapped (DDP)

    # --- data: the training texts only need the teacher's outputs; dev and test keep their labels
    train_path = os.path.join(args.data_dir, "train_aug.tsv" if args.aug_train else "train.tsv")
    if args.aug_train and not os.path.isfile(train_path):
        raise InputError(f"--aug_train: {train_path} does not exist; make it with src/tinybert/data_augmentation.py")
    train_examples = read_examples(train_path)[:args.max_train_examples]
    encode_labels(train_examples, label_list, train_path)  # refuses labels the teacher does not know
    train_texts = [ex.text for ex in train_examples]
    dev_texts, dev_labels, _ = load_split(args.data_dir, "dev", label_list)
    test_texts, test_labels, _ = load_split(args.data_dir, "test", label_list)

    train_features, n_trunc = encode_texts(tokenizer, train_texts, args.max_seq_length)
    if args.pred_distill:
        logits_T, computed = cached_teacher_logits(teacher, tokenizer, train_texts, args.max_seq_length,
                                                   args.eval_batch_size, args.cache_dir, args.teacher_model)  # (N, C)
        logger.info(f"teacher logits: {computed} computed, {len(train_texts) - computed} from the cache")
        for i, feature in enumerate(train_features):
            feature["idx"] = i
    train_loader = make_loader(tokenizer, train_features, args.train_batch_size, shuffle=True)
    train_generator = train_loader.generator
    dev_loader = make_loader(tokenizer, encode_texts(tokenizer, dev_texts, args.max_seq_length, dev_labels)[0],
                             args.eval_batch_size)
    test_loader = make_loader(tokenizer, encode_texts(tokenizer, test_texts, args.max_seq_length, test_labels)[0],
                              args.eval_batch_size)

    # --- stage 1 trains the width projections W_e, W_h with the student
    projections = None if args.pred_distill else Projections(config_S.hidden_size, teacher.config.hidden_size,
                                                              pairs)
    if projections is not None:
        # Stage 1's losses never reach the pooler and the classifier: frozen, so DDP expects no gradient there.
        for module in (student.base_model.pooler, student.classifier):
            if module is not None:
                module.requires_grad_(False)
    named = [(n, p) for n, p in student.named_parameters() if p.requires_grad]
    named += list(projections.named_parameters()) if projections else []
    optimizer = adamw(named, args.learning_rate, args.weight_decay)
    student, optimizer, train_loader, dev_loader, test_loader = accelerator.prepare(
        student, optimizer, train_loader, dev_loader, test_loader)
    trained = [student]
    if projections is not None and any(True for _ in projections.parameters()):  # identity maps have no weights
        projections = accelerator.prepare(projections)
        trained.append(projections)
    teacher.to(accelerator.device).eval()  # never trained: not prepared (no DDP wrapper, no gradients)
    total_steps = math.ceil(len(train_loader) / args.gradient_accumulation_steps) * args.num_train_epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_proportion * total_steps), total_steps)

    logger.info(f"TinyBERT {stage}: teacher {args.teacher_model} {count_parameters(teacher) / 1e6:.1f}M params, "
                f"student {count_parameters(student) / 1e6:.1f}M ({config_S.num_hidden_layers} layers, "
                f"width {config_S.hidden_size}), layer map {pairs}\n"
                f"train {len(train_texts)} from {train_path} ({n_trunc} truncated to {args.max_seq_length}) / "
                f"dev {len(dev_texts)} / test {len(test_texts)}; {total_steps} steps on "
                f"{accelerator.num_processes} x {accelerator.device}")

    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    accelerator.register_for_checkpointing(scheduler)
    state = {"epoch": 1, "batch": 0, "step": 0, "best": None, "history": [], "train_time": 0.0, "seen": 0,
             "loss_sums": {}}
    if args.resume:
        state = load_checkpoint(accelerator, tmp_dir)

    def save_student():
        if accelerator.is_main_process:
            accelerator.unwrap_model(student).save_pretrained(tmp_dir)
            tokenizer.save_pretrained(tmp_dir)

    def dev_check():
        scores = evaluate(student, dev_loader, accelerator, desc="dev")
        state["history"].append({"epoch": state["epoch"], "step": state["step"],
                                 **{f"dev_{k}": v for k, v in scores.items()}})
        logger.info(f"epoch {state['epoch']} step {state['step']}: dev accuracy {scores['accuracy']:.4f} "
                    f"macro-F1 {scores['macro_f1']:.4f}")
        if state["best"] is None or scores["accuracy"] > state["best"]["accuracy"]:
            state["best"] = {**scores, "step": state["step"], "epoch": state["epoch"]}
            save_student()
        student.train()

    while state["epoch"] <= args.num_train_epochs:
        for module in trained:
            module.train()
        # The epoch's order depends on (seed, epoch) only, so a resumed run sees the same batches.
        train_generator.manual_seed(args.seed + state["epoch"])
        loader = accelerator.skip_first_batches(train_loader, state["batch"])
        start, sums = time.perf_counter(), state["loss_sums"]
        progress = tqdm(loader, desc=f"epoch {state['epoch']}", initial=state["batch"], total=len(train_loader),
                        disable=not accelerator.is_main_process)
        for batch in progress:
            inputs = {k: v for k, v in batch.items() if k != "idx"}
            with accelerator.accumulate(*trained):
                if args.pred_distill:
                    # L_pred: soft cross-entropy against the cached teacher logits
                    z_S = student(**inputs).logits  # (B, C)
                    z_T = logits_T[batch["idx"].cpu()].to(z_S.device)
                    parts = {"pred": soft_cross_entropy(z_S, z_T, args.temperature)}
                else:
                    with torch.no_grad():
                        out_T = teacher(**inputs, output_hidden_states=True, output_attentions=True)
                    out_S = student(**inputs, output_hidden_states=True, output_attentions=True)
                    mask = inputs["attention_mask"]  # (B, L); padding is left out of every term
                    # hidden_states[0] is the embedding output, hidden_states[m] layer m; attentions[m - 1] layer m
                    embd_S, *hidden_S = projections(out_S.hidden_states)  # each (B, L, d_T)
                    parts = {"embd": hidden_mse(embd_S, out_T.hidden_states[0], mask),
                             "hidn": sum(hidden_mse(h_S, out_T.hidden_states[n], mask)
                                         for h_S, (_, n) in zip(hidden_S, pairs)),
                             "attn": sum(attention_mse(out_S.attentions[m - 1], out_T.attentions[n - 1], mask)
                                         for m, n in pairs)}
                loss = sum(parts.values())  # L = L_embd + sum_m (L_hidn + L_attn), or L_pred
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_([p for _, p in named], args.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            progress.set_postfix(loss=f"{loss.item():.4f}")
            state["batch"] += 1
            state["seen"] += len(batch["input_ids"]) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            state["step"] += 1
            at_eval = args.pred_distill and args.eval_step and state["step"] % args.eval_step == 0
            at_save = args.save_steps and state["step"] % args.save_steps == 0
            if (at_eval or at_save) and state["batch"] < len(train_loader):
                state["train_time"] += time.perf_counter() - start
                if at_eval:
                    dev_check()
                save_checkpoint(accelerator, tmp_dir, state)
                start = time.perf_counter()
        state["train_time"] += time.perf_counter() - start
        n_batches = len(train_loader)
        state["history"].append({"epoch": state["epoch"], "step": state["step"],
                                 **{f"train_loss_{k}": v / n_batches for k, v in sums.items()}})
        logger.info(f"epoch {state['epoch']}: mean losses "
                    + ", ".join(f"{k} {v / n_batches:.4f}" for k, v in sums.items()))
        if args.pred_distill:
            dev_check()
        state["epoch"], state["batch"], state["loss_sums"] = state["epoch"] + 1, 0, {}
        save_checkpoint(accelerator, tmp_dir, state)

    # --- stage 1 keeps its last student and projections; stage 2 tests its best dev checkpoint
    accelerator.wait_for_everyone()
    metrics = {"stage": stage, "teacher": args.teacher_model, "data_dir": args.data_dir, "train_file": train_path,
               "labels": label_list, "num_train_examples": len(train_texts), "num_truncated_train": n_trunc,
               "num_params": count_parameters(student), "teacher_num_params": count_parameters(teacher),
               "num_layers": config_S.num_hidden_layers, "hidden_size": config_S.hidden_size}
    if args.pred_distill:
        best_model = load_classifier(tmp_dir).to(accelerator.device)  # evaluation only: no DDP wrapper needed
        test = evaluate(best_model, test_loader, accelerator, desc="test")
        best = state["best"]
        logger.info(f"best dev accuracy {best['accuracy']:.4f} (step {best['step']}); test accuracy "
                    f"{test['accuracy']:.4f} macro-F1 {test['macro_f1']:.4f}")
        metrics.update({"dev": best, "test": test, "temperature": args.temperature})
    else:
        save_student()
        if accelerator.is_main_process:
            accelerator.unwrap_model(projections).save(tmp_dir)
        metrics["layer_map"] = pairs
    if accelerator.is_main_process:
        if args.speed_texts:
            speed = speed_comparison(tmp_dir, args.teacher_model, tokenizer, dev_texts[:args.speed_texts], args)
            metrics["speed"] = speed
            logger.info(f"CPU speed-up over the teacher: batch 64 {speed['speedup_batch_64']:.2f}x, "
                        f"batch 1 {speed['speedup_batch_1']:.2f}x ({speed['threads']} threads)")
        metrics.update({"history": state["history"], "train_time_s": state["train_time"],
                        "train_examples_per_s": state["seen"] / max(state["train_time"], 1e-9),
                        "device": str(accelerator.device), "num_processes": accelerator.num_processes})
        finish_run(tmp_dir, args.output_dir, vars(args), metrics)
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
