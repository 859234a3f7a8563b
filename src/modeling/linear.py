"""The linear model kind: TF-IDF character and word n-grams into a logistic regression (`src/linear_teacher.py`
trains it), saved as model.joblib beside a config.json of model type `linear_tfidf`; its outputs are
log-probabilities, standing where a BERT's logits stand."""

import os
from collections.abc import Sequence

import numpy as np

from src.common.cli import progress
from src.common.files import load_json, save_json

LINEAR_FILE, MODEL_TYPE = "model.joblib", "linear_tfidf"  # a linear teacher's pipeline, and its config's model_type


def jieba_words(text: str) -> list[str]:
    """jieba's words of a text, spaces dropped: a linear teacher's Chinese words (a module-level function, so
    that its pipeline pickles by name)."""
    import jieba

    return [w for w in jieba.lcut(text) if w.strip()]


WORD_SPLITTERS = {"jieba": jieba_words}  # word splitters by the name config.json keeps


def linear_log_probs(pipeline, texts: Sequence[str], batch_size: int = 8192) -> np.ndarray:
    """log p(y | x) (N, C) of a fitted linear teacher, a column per label id as a BERT teacher's logits have (its
    label list is its training file's, so every id is one of the classifier's classes, in order); `batch_size`
    texts at a time, so that a store of millions is never all in memory."""
    chunks = [pipeline.predict_log_proba([texts[i] for i in range(start, min(start + batch_size, len(texts)))])
              for start in progress(range(0, len(texts), batch_size), desc="linear teacher", leave=False,
                                    disable=len(texts) <= batch_size)]
    return np.concatenate(chunks) if chunks else np.empty((0, len(pipeline.classes_)))


def make_pipeline(cjk: bool, C: float):
    """Character and word TF-IDF n-grams, concatenated, into a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    words = {"tokenizer": WORD_SPLITTERS["jieba"], "token_pattern": None} if cjk else {}
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)),
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, **words)),
    ])
    return Pipeline([("features", features), ("classifier", LogisticRegression(C=C, max_iter=2000))])


def words_vectorizer(pipeline):
    """The pipeline's word n-gram TfidfVectorizer, whose tokenizer is jieba's for Chinese text."""
    return dict(pipeline.named_steps["features"].transformer_list)["words"]


def save_linear(pipeline, directory: str, labels: list[str]) -> None:
    """model.joblib and config.json of a fitted pipeline. The word splitter is saved by its name in config.json
    (`words`) and left out of the pickle, so that the file names no module of this project and survives its
    moves; `load_linear` puts it back."""
    import joblib

    vectorizer = words_vectorizer(pipeline)
    splitter = vectorizer.tokenizer
    words = next((name for name, f in WORD_SPLITTERS.items() if f is splitter), "default")
    vectorizer.tokenizer = None
    try:
        joblib.dump(pipeline, os.path.join(directory, LINEAR_FILE))
    finally:
        vectorizer.tokenizer = splitter
    save_json({"model_type": MODEL_TYPE, "labels": labels, "text_pair": False, "words": words},
              os.path.join(directory, "config.json"))


def load_linear(directory: str) -> tuple[object, list[str]]:
    """(fitted pipeline, label names) of a linear model directory, its word splitter put back by name; a file
    saved before the splitter was kept by name pickles it as `src.teachers.jieba_words` (still importable)."""
    import joblib

    config = load_json(os.path.join(directory, "config.json"))
    pipeline = joblib.load(os.path.join(directory, LINEAR_FILE))
    if config.get("words") in WORD_SPLITTERS:
        words_vectorizer(pipeline).tokenizer = WORD_SPLITTERS[config["words"]]
    return pipeline, config["labels"]


def is_linear(source: str) -> bool:
    """Whether `source` is a linear teacher's directory (model.joblib and a config.json of its model type)."""
    config = os.path.join(source, "config.json")
    return (os.path.isfile(os.path.join(source, LINEAR_FILE)) and os.path.isfile(config)
            and load_json(config).get("model_type") == MODEL_TYPE)
