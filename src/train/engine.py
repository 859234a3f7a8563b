"""The training loop of every stage, written once: `fit(model, loss_fn, train_loader, optimizer, ...)`.

A stage script keeps the paper's part in view (its data, its model and a `loss_fn(model, batch)` that
returns `{"loss": total, <term>: value, ...}`); `fit` owns the plumbing every stage needs:

- the optimizer step, with gradient accumulation and clipping, and the learning-rate schedule;
- mixed precision and several processes (DDP), through HF Accelerate;
- the resume checkpoint (model, optimizer, scheduler, RNG and `TrainState`), every `save_steps` optimizer
  steps and at each epoch's end, and on `resume` the skipping of the batches already seen;
- evaluation on dev every `eval_step` optimizer steps and at each epoch's end, keeping the best checkpoint;
- a progress bar with the epoch's running loss, and the per-epoch mean of every loss term in the history.

Each epoch's shuffle depends on (seed, epoch) only, so a resumed run repeats an uninterrupted one.
"""

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from src.common.cli import InputError, logger, progress, set_seed, setup_logging
from src.common.files import (
    check_output_dir,
    checkpoint_dir,
    is_finished,
    load_json,
    publish_dir,
    publish_run,
    save_json,
    staging_dir,
)

LossFn = Callable[..., dict[str, torch.Tensor]]
ETA_AFTER_STEPS = 20  # the time left is estimated from this many steps' pace
STATE_FILE = "trainer_state.json"  # written last into a checkpoint: its presence marks a complete one


@dataclass
class TrainState:
    """Where a run stands; saved as JSON with every resume checkpoint."""

    epoch: int = 1  # the current epoch, counted from 1
    batch: int = 0  # batches of the current epoch done
    step: int = 0  # optimizer steps done
    seen: int = 0  # training examples seen, over all processes
    train_time: float = 0.0  # seconds spent training, evaluation and checkpoints left out
    best: dict | None = None  # dev scores of the kept checkpoint, with its epoch and step
    history: list[dict] = field(default_factory=list)  # one entry per evaluation and per epoch end
    loss_sums: dict[str, float] = field(default_factory=dict)  # the current epoch's summed loss terms
    flags: dict = field(default_factory=dict)  # the stage's command-line flags, which --resume must repeat
    metric: str = "accuracy"  # the dev score that picks the best checkpoint (higher is better)

    @property
    def examples_per_s(self) -> float:
        return self.seen / self.train_time if self.train_time > 0 else 0.0


def make_accelerator(args):
    """The Accelerate engine for the flags of `add_engine_args`: device, mixed precision, accumulation,
    data parallelism when launched with torchrun / accelerate launch, and the trackers of --report_to, whose
    files (tensorboard's) go into the run's staging directory, so into the run directory once it is done."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    run_dir = staging_dir(args.output_dir, create=False)
    project = ProjectConfiguration(project_dir=run_dir, logging_dir=os.path.join(run_dir, "runs"))
    return Accelerator(mixed_precision="fp16" if args.fp16 else "bf16" if args.bf16 else "no",
                       gradient_accumulation_steps=args.gradient_accumulation_steps, cpu=args.no_cuda,
                       log_with=trackers(args.report_to), project_config=project)


def trackers(report_to: str) -> list[str] | str | None:
    """Accelerate's `log_with` for --report_to; a tracker whose package is missing is an InputError saying what
    to install (none of them is a requirement of the project)."""
    from accelerate import utils

    if report_to in ("none", "all"):
        return None if report_to == "none" else "all"
    if not getattr(utils, f"is_{report_to}_available")():
        raise InputError(f"--report_to {report_to}: the {report_to} package is not installed (pip install {report_to})")
    return [report_to]


def start_tracking(accelerator, flags: dict, run_name: str | None) -> None:
    """Open the trackers' run, named --run_name or after the output directory, with the run's flags as its
    configuration (the scalar ones: the trackers take no lists)."""
    if accelerator.log_with:
        config = {k: v for k, v in flags.items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers(run_name or os.path.basename(os.path.abspath(flags.get("output_dir", "run"))),
                                  config=config)


def log_step(accelerator, state: "TrainState", terms: dict, optimizer, logging_steps: int, train_time: float) -> None:
    """Every `logging_steps` optimizer steps, each loss term of the last batch, the learning rate and the
    examples/s so far (`train_time`: the seconds spent training until now), to the trackers."""
    if accelerator.log_with and logging_steps and state.step % logging_steps == 0:
        values = {f"train/{'loss' if k == 'loss' else 'loss_' + k}": v.item() for k, v in terms.items()}
        accelerator.log({**values, "train/learning_rate": optimizer.param_groups[0]["lr"],
                         "train/examples_per_s": state.seen / max(train_time, 1e-9)}, step=state.step)


def start_run(args):
    """Engine, logging and seed of a training stage, after finishing the moves a kill interrupted and refusing
    a non-empty --output_dir, an interrupted run's checkpoint that a fresh start would delete (unless
    --overwrite_output_dir), or --resume with other flags. Returns the Accelerator, or None when --resume
    finds the run finished."""
    accelerator = make_accelerator(args)
    setup_logging(accelerator.is_main_process)
    if accelerator.is_main_process:
        complete_interrupted_moves(args.output_dir)
    accelerator.wait_for_everyone()
    checkpoint = os.path.join(checkpoint_dir(staging_dir(args.output_dir, create=False)), STATE_FILE)
    if args.resume and is_finished(args.output_dir) and not os.path.isfile(checkpoint):
        logger.info(f"{args.output_dir} is finished already; nothing to resume")
        return None
    check_output_dir(args.output_dir, args.overwrite_output_dir)
    if not args.resume and not args.overwrite_output_dir and os.path.isfile(checkpoint):
        raise InputError(f"{os.path.dirname(checkpoint)} holds an interrupted run: add --resume to continue it, or "
                         f"--overwrite_output_dir to start over")
    if args.resume and os.path.isfile(checkpoint):
        check_resume_flags(load_json(checkpoint).get("flags", {}), command_line_flags(args))
    set_seed(args.seed)
    return accelerator


def command_line_flags(args) -> dict:
    """The flags as JSON has them (what a checkpoint saves), less those a resumed run may change (they do not
    touch the training)."""
    flags = json.loads(json.dumps(vars(args), default=str))
    free = ("resume", "overwrite_output_dir", "report_to", "run_name", "logging_steps")
    return {k: v for k, v in flags.items() if k not in free}


def check_resume_flags(saved: dict, flags: dict) -> None:
    """Refuse to resume with other flags than the interrupted run had: two schedules or data sets would mix."""
    changed = [f"--{k} {flags[k]} (was {saved[k]})" for k in sorted(saved.keys() & flags.keys())
               if saved[k] != flags[k]]
    if changed:
        raise InputError(f"--resume with other flags than the interrupted run: {', '.join(changed)}; resume with "
                         f"its flags, or start over with --overwrite_output_dir")


def complete_interrupted_moves(output_dir: str) -> None:
    """Finish what a kill stopped halfway (each source is complete once its last file is written): a resume
    checkpoint not yet swapped in (its STATE_FILE is written last), and a finished run (metrics.json)
    not yet moved to `output_dir`."""
    tmp = staging_dir(output_dir, create=False)
    checkpoint = checkpoint_dir(tmp)
    if os.path.isfile(os.path.join(checkpoint + ".new", STATE_FILE)):
        logger.info(f"completing the interrupted swap of {checkpoint}")
        publish_dir(checkpoint + ".new", checkpoint)
    if is_finished(tmp):
        logger.info(f"completing the interrupted move of the finished run to {output_dir}")
        publish_run(tmp, output_dir)


def training_report(state: TrainState, accelerator) -> dict:
    """What every stage's metrics.json says of its training: the history, time, speed and hardware."""
    return {"history": state.history, "train_time_s": state.train_time, "train_examples_per_s": state.examples_per_s,
            "device": str(accelerator.device), "num_processes": accelerator.num_processes}


def fit_options(args) -> dict:
    """The keyword arguments of `fit` that come straight from the flags of `add_engine_args` and a stage."""
    return {"num_epochs": args.num_train_epochs, "seed": args.seed, "eval_step": getattr(args, "eval_step", 0),
            "save_steps": args.save_steps, "max_grad_norm": args.max_grad_norm, "resume": args.resume,
            "flags": command_line_flags(args), "run_name": args.run_name, "logging_steps": args.logging_steps}


def adamw(named_parameters, learning_rate: float, weight_decay: float, embedding_params=(),
          embedding_learning_rate: float | None = None) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and LayerNorm weights (BERT's recipe). `embedding_params` (e.g.
    the word embeddings) get their own group at `embedding_learning_rate`, without weight decay."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    special = {id(p) for p in embedding_params}
    named = [(n, p) for n, p in named_parameters if id(p) not in special]
    groups = [{"params": [p for n, p in named if not n.endswith(no_decay)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if n.endswith(no_decay)], "weight_decay": 0.0}]
    if special:
        groups.append({"params": list(embedding_params), "weight_decay": 0.0, "lr": embedding_learning_rate})
    return torch.optim.AdamW(groups, lr=learning_rate)


def linear_schedule(warmup_proportion: float) -> Callable:
    """BERT's schedule for `fit`: linear warm-up over a share of the steps, then linear decay to 0."""
    from transformers import get_linear_schedule_with_warmup

    return lambda optimizer, total: get_linear_schedule_with_warmup(optimizer, int(warmup_proportion * total), total)


def save_checkpoint(accelerator, run_dir: str, state: TrainState) -> None:
    """Model, optimizer, scheduler and RNG states (`accelerator.save_state`) and the `TrainState` in
    `<run_dir>/resume`. Written beside the previous checkpoint and swapped in, so a kill while saving keeps it."""
    resume_dir = checkpoint_dir(run_dir)
    accelerator.save_state(resume_dir + ".new")
    accelerator.wait_for_everyone()  # every rank has written its RNG state before the directory moves
    if accelerator.is_main_process:
        save_json(asdict(state), os.path.join(resume_dir + ".new", STATE_FILE))
        publish_dir(resume_dir + ".new", resume_dir)
    accelerator.wait_for_everyone()


def load_checkpoint(accelerator, run_dir: str) -> TrainState:
    """Restore what `save_checkpoint` wrote into the prepared objects; returns the `TrainState`."""
    resume_dir = checkpoint_dir(run_dir)
    if not os.path.isfile(os.path.join(resume_dir, STATE_FILE)):
        raise InputError(f"nothing to resume: no checkpoint in {resume_dir}; run without --resume")
    accelerator.load_state(resume_dir)
    state = TrainState(**load_json(os.path.join(resume_dir, STATE_FILE)))
    logger.info(f"resuming at epoch {state.epoch}, step {state.step}")
    return state


def _prepare(accelerator, model, optimizer, train_loader):
    """Hand the trained modules, the optimizer and the loader to Accelerate. A module without trainable
    weights (an identity projection) is only moved: DDP refuses to wrap it. Returns what `loss_fn` gets
    (the prepared model, or the list of them when `model` is a list), the modules to put in train mode,
    the optimizer and the loader."""
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    trained = [m for m in models if any(p.requires_grad for p in m.parameters())]
    *wrapped, optimizer, train_loader = accelerator.prepare(*trained, optimizer, train_loader)
    swap = {id(m): w for m, w in zip(trained, wrapped)}
    models = [swap.get(id(m), m.to(accelerator.device)) for m in models]
    return (models if isinstance(model, (list, tuple)) else models[0]), models, optimizer, train_loader


def _dev_check(state: TrainState, evaluate_fn, save_fn, accelerator, run_dir: str) -> dict:
    """Score dev, log it, and save the model when it is the best so far. Returns the `dev_*` entries."""
    scores = evaluate_fn()
    logger.info(f"epoch {state.epoch} step {state.step}: dev " + ", ".join(
        f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float)))
    if state.best is None or scores[state.metric] > state.best[state.metric]:
        state.best = {**scores, "epoch": state.epoch, "step": state.step}
        if accelerator.is_main_process and save_fn is not None:
            save_fn(run_dir)
    if accelerator.log_with:
        accelerator.log({f"dev/{k}": v for k, v in scores.items()}, step=state.step)
    return {f"dev_{k}": v for k, v in scores.items()}


def _mid_epoch(state: TrainState, at_eval: bool, models, evaluate_fn, save_fn, accelerator, run_dir: str) -> None:
    """An evaluation (when due) and a resume checkpoint between two optimizer steps of an epoch."""
    if at_eval:
        state.history.append({"epoch": state.epoch, "step": state.step,
                              **_dev_check(state, evaluate_fn, save_fn, accelerator, run_dir)})
        for m in models:
            m.train()
    save_checkpoint(accelerator, run_dir, state)


def _end_epoch(state: TrainState, n_batches: int, evaluate_fn, save_fn, accelerator, run_dir: str) -> None:
    """The epoch's mean loss terms and dev scores go into the history; the next epoch starts."""
    means = {("train_loss" if k == "loss" else f"train_loss_{k}"): v / n_batches for k, v in state.loss_sums.items()}
    logger.info(f"epoch {state.epoch}: mean " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
    entry = {"epoch": state.epoch, "step": state.step, **means}
    if evaluate_fn is not None:
        entry.update(_dev_check(state, evaluate_fn, save_fn, accelerator, run_dir))
    state.history.append(entry)
    state.epoch, state.batch, state.loss_sums = state.epoch + 1, 0, {}


def log_eta(seconds_per_step: float, steps_left: int) -> None:
    """The time a run will still take, from the pace of its first steps; evaluations and checkpoints are extra."""
    seconds = seconds_per_step * steps_left
    left = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    logger.info(f"{seconds_per_step:.2f} s per optimizer step: about {left} for the {steps_left} steps "
                f"left (evaluations and checkpoints extra)")


def _micro_step(accelerator, model, models, loss_fn: LossFn, batch: dict, optimizer, params: list,
                max_grad_norm: float | None, state: TrainState) -> dict[str, torch.Tensor]:
    """One micro-batch: the loss terms, backward, and at an accumulation boundary the optimizer step with the
    gradients of `params` clipped; the terms are added to the epoch's sums. Returns the terms."""
    with accelerator.accumulate(*models):
        terms = loss_fn(model, batch)
        accelerator.backward(terms["loss"])
        if accelerator.sync_gradients and max_grad_norm:
            accelerator.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        optimizer.zero_grad()
    for k, v in terms.items():
        state.loss_sums[k] = state.loss_sums.get(k, 0.0) + v.item()
    state.batch += 1
    state.seen += len(batch["input_ids"]) * accelerator.num_processes
    return terms


def fit(model: torch.nn.Module | Sequence[torch.nn.Module], loss_fn: LossFn, train_loader, optimizer, accelerator,
        run_dir: str, *, num_epochs: int, seed: int, schedule: Callable | None = None,
        evaluate_fn: Callable[[], dict] | None = None, save_fn: Callable[[str], None] | None = None,
        eval_step: int = 0, save_steps: int = 0, max_grad_norm: float | None = None,
        resume: bool = False, flags: dict | None = None, metric: str = "accuracy", run_name: str | None = None,
        logging_steps: int = 0) -> TrainState:
    """Train `model` (one module, or a list trained together) on `loss_fn(model, batch)["loss"]`.

    `train_loader` is a plain DataLoader built with `generator=torch.Generator()` and `optimizer` holds the
    trained weights; `fit` prepares both with the model(s). `schedule(optimizer, total_steps)` makes the
    learning-rate scheduler (None: constant). `evaluate_fn()` scores dev (a dict with at least `metric`, the
    selection metric, higher is better); whenever it improves, the main process calls `save_fn(run_dir)`. Checkpoints go
    to `<run_dir>/resume`, with `flags` (the command line, which `start_run` compares on --resume). Returns
    the final `TrainState`. With trackers (--report_to), every `logging_steps` optimizer steps the loss terms,
    learning rate and examples/s go to them, and every evaluation's dev scores, in a run named `run_name`.
    """
    generator = train_loader.generator  # the sampler draws from it: re-seeded per epoch
    model, models, optimizer, train_loader = _prepare(accelerator, model, optimizer, train_loader)
    n_batches = len(train_loader)
    total_steps = math.ceil(n_batches / accelerator.gradient_accumulation_steps) * num_epochs
    scheduler = schedule(optimizer, total_steps) if schedule else None
    if scheduler is not None:  # stepped by hand once per optimizer step, so not handed to prepare()
        accelerator.register_for_checkpointing(scheduler)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = load_checkpoint(accelerator, run_dir) if resume else TrainState(flags=flags or {}, metric=metric)
    logger.info(f"{num_epochs} epoch(s) x {n_batches} batches: {total_steps} optimizer steps, {state.step} done")
    eta_at, time_at_start = state.step + ETA_AFTER_STEPS, state.train_time
    start_tracking(accelerator, state.flags, run_name)

    while state.epoch <= num_epochs:
        for m in models:
            m.train()
        generator.manual_seed(seed + state.epoch)
        bar = progress(accelerator.skip_first_batches(train_loader, state.batch), desc=f"epoch {state.epoch}",
                       initial=state.batch, total=n_batches, disable=not accelerator.is_main_process)
        start = time.perf_counter()
        for batch in bar:
            terms = _micro_step(accelerator, model, models, loss_fn, batch, optimizer, params, max_grad_norm, state)
            bar.set_postfix(loss=f"{state.loss_sums['loss'] / state.batch:.4f}", refresh=False)
            if not accelerator.sync_gradients:
                continue
            if scheduler is not None and not accelerator.optimizer_step_was_skipped:  # fp16 overflow: no step
                scheduler.step()
            state.step += 1
            log_step(accelerator, state, terms, optimizer, logging_steps,
                     state.train_time + time.perf_counter() - start)
            if state.step == eta_at and state.step < total_steps:
                elapsed = state.train_time + time.perf_counter() - start - time_at_start
                log_eta(elapsed / ETA_AFTER_STEPS, total_steps - state.step)
            at_eval = evaluate_fn is not None and eval_step and state.step % eval_step == 0
            at_save = save_steps and state.step % save_steps == 0
            if (at_eval or at_save) and state.batch < n_batches:  # the epoch's end comes below anyway
                state.train_time += time.perf_counter() - start
                _mid_epoch(state, at_eval, models, evaluate_fn, save_fn, accelerator, run_dir)
                start = time.perf_counter()
        state.train_time += time.perf_counter() - start
        _end_epoch(state, n_batches, evaluate_fn, save_fn, accelerator, run_dir)
        save_checkpoint(accelerator, run_dir, state)
    for tracker in accelerator.trackers:  # its files closed (end_training would also end the process group)
        tracker.finish()
    accelerator.wait_for_everyone()
    return state
