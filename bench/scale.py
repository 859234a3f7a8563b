"""How time and peak memory grow with the transfer set: distill.py (Tang et al.'s BiLSTM) on 10k, 100k and 1M
transfer texts, each size in a fresh process whose peak resident memory (ru_maxrss) is recorded.

The data are synthetic, so every size exists offline and the texts are distinct: sentences of 6 to 20 words
from a 5,000-word vocabulary with a Zipf-like distribution, the label of the 1,000 training sentences carried
by a cue word. The transfer set of size n is the 1,000 training sentences, unlabeled ones, and Tang et al.'s
augmentation of both (--augment mask,ngram --n_iter 9), which yields 7.37 distinct inputs an original on these
sentences (duplicates dropped): n / 7.37 originals give about n inputs in all. The teacher is a random
2-layer, 64-wide BERT (its logits cost what a small teacher's cost; its accuracy is not the point), the
student a 64-wide BiLSTM trained one epoch. Per size: the wall time of the whole run and of each part that
distill.py's metrics.json times (the transfer set's build with the augmentation, the teacher's logits, the
training epoch), and the peak resident memory. Written to results/scale/scale.json, scale.md and scale.png
(log-log). --repo runs another checkout's distill.py (a "before" measurement).

    python bench/scale.py --sizes 10000,100000,1000000 --output_dir results/scale
    python bench/scale.py --pipeline tinybert --sizes 10000,100000,1000000 --output_dir results/scale
    python bench/scale.py --pipeline augmentation --sizes 10000,100000 --output_dir results/scale

With --pipeline tinybert: task_distill.py's stage 1 (a 1-layer student cut from the teacher) and stage 2, one
epoch each, on train and n - 1,000 unlabeled sentences (no augmentation). With --pipeline augmentation:
data_augmentation.py (--N 20 --M 15, the same random BERT with a masked-LM head) on those n sentences.
"""

import argparse
import os
import random
import subprocess
import sys
import time

from src.common.files import load_json, save_json
from src.runs.curves import pyplot

# Runs a script in this process and writes its peak resident memory (MB) to the file named first.
MEASURE = """
import resource, runpy, sys
out, script, *argv = sys.argv[1:]
sys.argv = [script, *argv]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    with open(out, "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""
TRAIN, HELD_OUT, N_ITER, YIELD = 1000, 200, 9, 7.37


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated transfer-set sizes")
    p.add_argument("--output_dir", default="results/scale", help="where scale.json, scale.md and scale.png go")
    p.add_argument("--work_dir", default="/tmp/kd_scale", help="data, teacher, caches and students (large)")
    p.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   help="the checkout whose src/distill_task_specific_bert/distill.py runs")
    p.add_argument("--label", default="after", help="this measurement's name in the table (e.g. before, after)")
    p.add_argument("--pipeline", choices=("bilstm", "tinybert", "augmentation"), default="bilstm",
                   help="distill.py, task_distill.py's two stages, or TinyBERT's data_augmentation.py")
    return p.parse_args(argv)


def vocabulary(n_words=5000):
    """Distinct pronounceable words from syllables, the first two the cues."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    rng = random.Random(0)
    words = set()
    while len(words) < n_words:
        words.add("".join(rng.choices(syllables, k=rng.randint(1, 3))))
    return ["good", "bad"] + sorted(words)


def sentences(rng, words, weights, n, labelled):
    """n sentences (label, text); with `labelled` a cue word says the label."""
    for i in range(n):
        text = rng.choices(words[2:], weights=weights, k=rng.randint(6, 20))
        if labelled:
            text.insert(rng.randrange(len(text)), words[i % 2])
        yield (str(i % 2) if labelled else None), " ".join(text)


def write_data(data_dir, size, words, inputs_per_original):
    """train/dev/test.tsv and unlabeled.tsv of one size (size / inputs_per_original originals), written once."""
    if os.path.isfile(os.path.join(data_dir, "test.tsv")):
        return
    os.makedirs(data_dir, exist_ok=True)
    rng = random.Random(size)
    weights = [1 / (rank + 10) for rank in range(len(words) - 2)]  # Zipf-like
    for split, n, labelled in (("train", TRAIN, True), ("unlabeled", round(size / inputs_per_original) - TRAIN, False),
                               ("dev", HELD_OUT, True), ("test", HELD_OUT, True)):
        if n <= 0:
            continue
        with open(os.path.join(data_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("label\ttext\n" if labelled else "text\n")
            f.writelines(f"{label}\t{text}\n" if labelled else f"{text}\n"
                         for label, text in sentences(rng, words, weights, n, labelled))


def write_teacher(path, words):
    """A random 2-layer, 64-wide BERT classifier and its word-level tokenizer at `path`, and the same BERT
    with a masked-LM head at `<path>_mlm` (for TinyBERT's augmentation)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, num_labels=2,
                        id2label={0: "0", 1: "1"}, label2id={"0": 0, "1": 1})
    for model_class, out in ((BertForSequenceClassification, path), (BertForMaskedLM, f"{path}_mlm")):
        if os.path.isfile(os.path.join(out, "config.json")):  # written by an earlier run: kept
            continue
        model = model_class(config)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
        model.save_pretrained(out)
        BertTokenizer(os.path.join(out, "vocab.txt")).save_pretrained(out)


TRAINING = ["--overwrite_output_dir", "--max_seq_length", "32", "--num_train_epochs", "1", "--train_batch_size",
            "256", "--speed_texts", "0", "--no_cuda"]


def measured(args, script, argv, out):
    """Run a stage script on `argv` in a fresh process, in the checkout (whose `src` then comes first on the
    path: `python -c` puts the working directory there). Returns (wall s, peak RSS MB, its metrics.json or {})."""
    cmd = [sys.executable, "-c", MEASURE, f"{out}.rss", os.path.join(args.repo, script), *argv]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=args.repo, env={**os.environ, "PYTHONPATH": args.repo, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    with open(f"{out}.rss", encoding="utf-8") as f:
        rss = float(f.read())
    metrics = os.path.join(out, "metrics.json")
    return wall, rss, load_json(metrics) if os.path.isfile(metrics) else {}


def bilstm_rows(args, size, teacher):
    """distill.py on about `size` transfer inputs (train, unlabeled, augmentation): one row."""
    data, out = os.path.join(args.work_dir, f"data_{size}"), os.path.join(args.work_dir, f"{args.label}_{size}")
    write_data(data, size, vocabulary(), YIELD)
    wall, rss, m = measured(args, "src/distill_task_specific_bert/distill.py", [
        "--data_dir", data, "--teacher_model", teacher, "--teacher_max_seq_length", "32",
        "--cache_dir", os.path.join(args.work_dir, f"cache_{args.label}_{size}"), "--augment", "mask,ngram",
        "--n_iter", str(N_ITER), "--embedding_dim", "64", "--hidden_size", "64", "--fc_dim", "64",
        "--output_dir", out, *TRAINING], out)
    return [{"pipeline": "bilstm", "version": args.label, "size": size, "transfer_inputs": m["num_transfer_examples"],
             "wall_s": wall, "transfer_set_s": m.get("transfer_set_time_s"),
             "teacher_logits_s": m["teacher_logits_time_s"], "epoch_s": m["train_time_s"], "peak_rss_mb": rss}]


def tinybert_rows(args, size, teacher):
    """task_distill.py stage 1 (one teacher layer's student), then stage 2, on `size` transfer texts (train and
    unlabeled, no augmentation): one row each."""
    data = os.path.join(args.work_dir, f"data_tinybert_{size}")
    write_data(data, size, vocabulary(), 1)
    stage_1 = os.path.join(args.work_dir, f"{args.label}_tinybert_stage_1_{size}")
    rows = []
    for stage, extra in (("tinybert stage 1", ["--init_from_teacher", "--student_layers", "1"]),
                         ("tinybert stage 2", ["--pred_distill", "--student_model", stage_1])):
        out = os.path.join(args.work_dir, f"{args.label}_{stage.replace(' ', '_')}_{size}")
        wall, rss, m = measured(args, "src/tinybert/task_distill.py", [
            "--teacher_model", teacher, "--data_dir", data, "--task_name", "synthetic", *extra, "--output_dir", out,
            *TRAINING], out)
        rows.append({"pipeline": stage, "version": args.label, "size": size, "transfer_inputs": size, "wall_s": wall,
                     "transfer_set_s": None, "teacher_logits_s": None, "epoch_s": m["train_time_s"],
                     "peak_rss_mb": rss})
    return rows


def augmentation_rows(args, size, teacher):
    """data_augmentation.py (--N 20 --M 15, the random masked LM) on the `size` texts of train and unlabeled:
    one row."""
    data = os.path.join(args.work_dir, f"data_tinybert_{size}")
    write_data(data, size, vocabulary(), 1)
    out = os.path.join(args.work_dir, f"{args.label}_augmentation_{size}")
    wall, rss, _ = measured(args, "src/tinybert/data_augmentation.py", [
        "--pretrained_bert_model", f"{teacher}_mlm", "--data_dir", data, "--output",
        f"{out}.tsv", "--overwrite_output", "--max_seq_length", "32", "--no_cuda"], out)
    return [{"pipeline": "tinybert augmentation", "version": args.label, "size": size, "transfer_inputs": size,
             "wall_s": wall, "transfer_set_s": None, "teacher_logits_s": None, "epoch_s": wall, "peak_rss_mb": rss}]


PIPELINES = {"bilstm": bilstm_rows, "tinybert": tinybert_rows, "augmentation": augmentation_rows}


def markdown(rows):
    lines = ["| stage | version | transfer inputs | wall s | transfer set (augmentation) s | teacher logits s "
             "| epoch s | peak RSS MB |", "|---" * 8 + "|"]
    for r in rows:
        build, logits = ("-" if r[k] is None else f"{r[k]:.0f}" for k in ("transfer_set_s", "teacher_logits_s"))
        lines.append(f"| {r['pipeline']} | {r['version']} | {r['transfer_inputs']:,} | {r['wall_s']:.0f} | {build} | "
                     f"{logits} | {r['epoch_s']:.0f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def figure(rows, path):
    """Log-log, one colour per stage, solid after and dashed before: each stage's epoch time (the augmentation's
    whole run) against the inputs (left), and its peak memory (right)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    colours = dict(zip(dict.fromkeys(r["pipeline"] for r in rows), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for key in dict.fromkeys((r["pipeline"], r["version"]) for r in rows):
        mine = sorted((r for r in rows if (r["pipeline"], r["version"]) == key), key=lambda r: r["size"])
        style = {"color": colours[key[0]], "marker": "o", "linestyle": "--" if key[1] == "before" else "-",
                 "label": " ".join(key)}
        left.plot([r["transfer_inputs"] for r in mine], [r["epoch_s"] for r in mine], **style)
        right.plot([r["transfer_inputs"] for r in mine], [r["peak_rss_mb"] for r in mine], **style)
    for ax, label in ((left, "seconds: one epoch (augmentation: the run)"), (right, "peak resident memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("transfer-set inputs (log)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle("distill.py, task_distill.py and data_augmentation.py on synthetic transfer sets "
                 "(1 CPU thread, shared cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    teacher = os.path.join(args.work_dir, "teacher")
    write_teacher(teacher, vocabulary())
    record = os.path.join(args.output_dir, "scale.json")
    # rows recorded before --pipeline existed are distill.py's
    rows = [{"pipeline": "bilstm", **r} for r in load_json(record)] if os.path.isfile(record) else []
    for size in map(int, args.sizes.split(",")):
        new = PIPELINES[args.pipeline](args, size, teacher)
        done = {(r["pipeline"], r["version"], r["size"]) for r in new}
        rows = [r for r in rows if (r["pipeline"], r["version"], r["size"]) not in done] + new
        save_json(rows, record)  # after each size: a long run keeps what it measured
    with open(os.path.join(args.output_dir, "scale.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows) + "\n")
    figure(rows, os.path.join(args.output_dir, "scale.png"))
    print(markdown(rows))


if __name__ == "__main__":
    main()
