"""Write the texts of a labelled .tsv, one per line: a plain-text corpus for general distillation.

    python bench/tsv_texts.py data/sst2/train.tsv logs/sst2_corpus.txt [--max_lines 20000]
"""

import argparse

from src.data.reading import read_examples


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tsv", help="labelled .tsv (train.tsv of a data directory)")
    p.add_argument("output", help="the corpus file to write")
    p.add_argument("--max_lines", type=int, default=None, help="only the first N texts (default: all)")
    args = p.parse_args()
    texts = [ex.text for ex in read_examples(args.tsv)[:args.max_lines]]
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("".join(text + "\n" for text in texts))


if __name__ == "__main__":
    main()
