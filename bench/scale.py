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
"""

import argparse
import os
import random
import subprocess
import sys
import time

from src.plot_results import pyplot
from src.runs import load_json, save_json

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


def write_data(data_dir, size, words):
    """train/dev/test.tsv and unlabeled.tsv of one size, written once."""
    if os.path.isfile(os.path.join(data_dir, "test.tsv")):
        return
    os.makedirs(data_dir, exist_ok=True)
    rng = random.Random(size)
    weights = [1 / (rank + 10) for rank in range(len(words) - 2)]  # Zipf-like
    for split, n, labelled in (("train", TRAIN, True), ("unlabeled", round(size / YIELD) - TRAIN, False),
                               ("dev", HELD_OUT, True), ("test", HELD_OUT, True)):
        if n <= 0:
            continue
        with open(os.path.join(data_dir, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("label\ttext\n" if labelled else "text\n")
            f.writelines(f"{label}\t{text}\n" if labelled else f"{text}\n"
                         for label, text in sentences(rng, words, weights, n, labelled))


def write_teacher(path, words):
    """A random 2-layer, 64-wide BERT classifier and its word-level tokenizer."""
    if os.path.isfile(os.path.join(path, "config.json")):
        return
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, num_labels=2,
                        id2label={0: "0", 1: "1"}, label2id={"0": 0, "1": 1})
    BertForSequenceClassification(config).save_pretrained(path)
    BertTokenizer(os.path.join(path, "vocab.txt")).save_pretrained(path)


def run_size(args, size, teacher):
    """One distill.py run on a transfer set of about `size` inputs: its metrics and peak memory."""
    data, out = os.path.join(args.work_dir, f"data_{size}"), os.path.join(args.work_dir, f"{args.label}_{size}")
    write_data(data, size, vocabulary())
    rss_file = f"{out}.rss"
    script = os.path.join(args.repo, "src/distill_task_specific_bert/distill.py")
    cmd = [sys.executable, "-c", MEASURE, rss_file, script, "--data_dir", data, "--teacher_model", teacher,
           "--output_dir", out, "--overwrite_output_dir",
           "--cache_dir", os.path.join(args.work_dir, f"cache_{args.label}_{size}"), "--teacher_max_seq_length",
           "32", "--max_seq_length", "32", "--augment", "mask,ngram", "--n_iter", str(N_ITER),
           "--num_train_epochs", "1", "--train_batch_size", "256", "--embedding_dim", "64", "--hidden_size", "64",
           "--fc_dim", "64", "--speed_texts", "0", "--no_cuda"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": args.repo, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    m = load_json(os.path.join(out, "metrics.json"))
    with open(rss_file, encoding="utf-8") as f:
        rss = float(f.read())
    return {"version": args.label, "size": size, "transfer_inputs": m["num_transfer_examples"], "wall_s": wall,
            "transfer_set_s": m.get("transfer_set_time_s"), "teacher_logits_s": m["teacher_logits_time_s"],
            "epoch_s": m["train_time_s"], "peak_rss_mb": rss}


def markdown(rows):
    lines = ["| version | transfer inputs | wall s | transfer set (augmentation) s | teacher logits s | BiLSTM epoch s "
             "| peak RSS MB |", "|---" * 7 + "|"]
    for r in rows:
        build = "-" if r["transfer_set_s"] is None else f"{r['transfer_set_s']:.0f}"
        lines.append(f"| {r['version']} | {r['transfer_inputs']:,} | {r['wall_s']:.0f} | {build} | "
                     f"{r['teacher_logits_s']:.0f} | {r['epoch_s']:.0f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def figure(rows, path):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for version in dict.fromkeys(r["version"] for r in rows):
        mine = [r for r in rows if r["version"] == version]
        x = [r["transfer_inputs"] for r in mine]
        left.plot(x, [r["wall_s"] for r in mine], marker="o", label=f"{version}: whole run")
        left.plot(x, [r["epoch_s"] for r in mine], marker="s", linestyle="--", label=f"{version}: BiLSTM epoch")
        right.plot(x, [r["peak_rss_mb"] for r in mine], marker="o", label=version)
    for ax, label in ((left, "seconds"), (right, "peak resident memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("transfer-set inputs (log)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("distill.py on synthetic transfer sets (1 CPU thread)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    teacher = os.path.join(args.work_dir, "teacher")
    write_teacher(teacher, vocabulary())
    record = os.path.join(args.output_dir, "scale.json")
    rows = load_json(record) if os.path.isfile(record) else []
    for size in map(int, args.sizes.split(",")):
        rows = [r for r in rows if (r["version"], r["size"]) != (args.label, size)] + [run_size(args, size, teacher)]
        save_json(rows, record)  # after each size: a long run keeps what it measured
    with open(os.path.join(args.output_dir, "scale.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows) + "\n")
    figure(rows, os.path.join(args.output_dir, "scale.png"))
    print(markdown(rows))


if __name__ == "__main__":
    main()
