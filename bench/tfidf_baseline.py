"""Reference point without any neural network: TF-IDF character n-grams + logistic regression.

    python bench/tfidf_baseline.py --data_dir data/reviews [--ngram_range 1,3]

Prints dev and test accuracy / macro-F1 for the data directory (fit on train.tsv only).
"""

import argparse
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from src.data import load_split
from src.evaluation import classification_metrics


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", required=True, help="directory with train/dev/test.tsv")
    p.add_argument("--ngram_range", default="1,3", help="smallest,largest character n-gram")
    p.add_argument("--max_train_examples", type=int, default=None, help="use only the first N training examples")
    args = p.parse_args(argv)
    lo, hi = (int(n) for n in args.ngram_range.split(","))
    train_x, train_y, labels = load_split(args.data_dir, "train", max_examples=args.max_train_examples)
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(lo, hi), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, C=4.0).fit(vectorizer.fit_transform(train_x), train_y)
    print(f"| data | split | accuracy | macro-F1 |  ({len(train_x)} train, char {lo}-{hi}-grams, "
          f"{time.perf_counter() - start:.1f} s)")
    for split in ("dev", "test"):
        x, y, _ = load_split(args.data_dir, split, labels)
        m = classification_metrics(y, clf.predict(vectorizer.transform(x)))
        print(f"| {args.data_dir} | {split} | {100 * m['accuracy']:.1f} | {100 * m['macro_f1']:.1f} |")


if __name__ == "__main__":
    main()
