"""Is a student really less accurate than its teacher? A paired comparison on the same test set.

    python bench/paired_test.py --data data/hotel/test.tsv --reference models/hotel256_zh3/teacher \
        --models models/hotel256_zh3/tinybert_trunc3_aug models/hotel256_zh3/bilstm_distill_lac_char_h100

Every model (a BiLSTM or BERT-family directory, or an exported .onnx) labels the test texts; each is
compared with --reference on the examples where exactly one of the two is right (McNemar's exact test),
by a paired bootstrap of the accuracy difference, and by the share of examples where both predict the same
label (`src.train.evaluation.paired_comparison`). Prints a Markdown table; --output also writes the numbers as
JSON. A difference of a few examples in 1,000 has p well above 0.05: the test set cannot tell such models
apart.
"""

import argparse
import os

import numpy as np
import torch

from src.common.files import save_json
from src.data.examples import encode_labels
from src.data.reading import read_examples
from src.serve.predictors import batched_logits, load_predictor
from src.train.evaluation import paired_comparison


def predictions(model: str, texts: list[str], batch_size: int, labels: list[str] | None = None):
    """(label ids of `model` for `texts` in the order of `labels`, `labels`); default: the model's own labels."""
    predict, own = load_predictor(model)
    labels = labels or own
    if sorted(own) != sorted(labels):
        raise SystemExit(f"error: {model} has labels {own}, the reference {labels}")
    ids = batched_logits(predict, texts, batch_size, len(own)).argmax(axis=1)
    return np.array([labels.index(own[i]) for i in ids]), labels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="labelled test file (.tsv, .csv or .jsonl)")
    p.add_argument("--reference", required=True, help="the model the others are compared with (the teacher)")
    p.add_argument("--models", nargs="+", required=True, help="the models to compare with --reference")
    p.add_argument("--batch_size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    p.add_argument("--output", default=None, help="also write the comparisons to this JSON file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    examples = read_examples(args.data)
    texts = [ex.text for ex in examples]
    ref, labels = predictions(args.reference, texts, args.batch_size)
    gold = np.array(encode_labels(examples, labels, args.data))
    results = {}
    print(f"reference {args.reference}: accuracy {np.mean(ref == gold):.4f} on {len(gold)} examples\n")
    print("| model | accuracy | difference (95 % interval) | reference only right | model only right | McNemar p | "
          "agreement |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        r = results[model] = paired_comparison(gold, ref, predictions(model, texts, args.batch_size, labels)[0])
        low, high = r["diff_95"]
        print(f"| {os.path.basename(os.path.normpath(model))} | {r['accuracy_B']:.4f} | "
              f"{r['accuracy_B'] - r['accuracy_A']:+.4f} ({low:+.4f}, {high:+.4f}) | {r['A_only']} | "
              f"{r['B_only']} | {r['mcnemar_p']:.3f} | {r['agreement']:.3f} |")
    if args.output:
        save_json({"reference": args.reference, "data": args.data, "comparisons": results}, args.output)


if __name__ == "__main__":
    main()
