"""TinyBERT augmentation candidates of a few sentences from two models side by side, e.g. a masked LM you
pretrained against the bundled MiniLM (no masked-LM head: input-embedding neighbours).

    python bench/aug_candidates.py --models models/minilm_zh DEFAULT --data data/hotel/test.tsv --n 3
Prints, per sentence and model, each replaceable word with its first candidates (a Markdown table).
"""

import argparse

from src.common.cli import setup_logging
from src.data.reading import read_examples
from src.modeling.bert import default_bert_model
from src.tinybert.data_augmentation import Augmenter


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["DEFAULT"], help="model directories (DEFAULT: the bundled MiniLM)")
    p.add_argument("--data", required=True, help="a data file whose first texts are shown")
    p.add_argument("--n", type=int, default=3, help="sentences")
    p.add_argument("--max_chars", type=int, default=40, help="sentences are cut to this many characters")
    p.add_argument("--shown", type=int, default=4, help="candidates shown per word")
    args = p.parse_args()
    setup_logging()
    texts = [ex.text[:args.max_chars] for ex in read_examples(args.data)[:args.n]]
    print("| sentence | word | " + " | ".join(args.models) + " |\n|---|---|" + "---|" * len(args.models))
    results = [Augmenter(default_bert_model() if m == "DEFAULT" else m, M=15).candidates(texts) for m in args.models]
    for k, text in enumerate(texts):
        segments = results[0][k][0]
        for i in sorted({i for r in results for i in r[k][1]}):
            cands = [" ".join(r[k][1].get(i, [])[:args.shown]) or "—" for r in results]
            print(f"| {text} | {segments[i]} | " + " | ".join(cands) + " |")


if __name__ == "__main__":
    main()
