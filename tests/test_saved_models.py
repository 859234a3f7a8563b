"""Models saved by the code from before the re-layout of src/ (tests/fixtures/saved_models/README.md: never regenerate
them) still load through the public serving path and predict what they predicted when they were written."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from src.serve.predictors import batched_logits, load_predictor, model_kind, softmax

FIXTURES = Path(__file__).parent / "fixtures" / "saved_models"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
KINDS = {"bert_teacher": "bert", "bilstm": "bilstm", "linear_zh": "linear", "tinybert": "bert"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_saved_model_loads_and_predicts_as_when_it_was_saved(name):
    torch.set_num_threads(1)
    expected = EXPECTED["models"][name]
    texts = EXPECTED["inputs"][expected["inputs"]]
    path = str(FIXTURES / name)
    assert model_kind(path) == KINDS[name]
    predict, labels = load_predictor(path)  # what src/predict.py does: batched logits, then their softmax
    probs = softmax(batched_logits(predict, texts, EXPECTED["batch_size"], len(labels)))
    assert labels == expected["labels"]
    np.testing.assert_allclose(probs, np.array(expected["probs"]), rtol=0, atol=1e-5)
    assert [labels[i] for i in probs.argmax(axis=1)] == expected["predicted"]


def test_chinese_linear_fixture_pickles_jieba_words_by_its_old_module_path():
    """The pipeline pickles its word splitter by name; written before the re-layout, the name is
    src.teachers.jieba_words, which the loader must still resolve (a fixture regenerated after it would not be)."""
    data = (FIXTURES / "linear_zh" / "model.joblib").read_bytes()
    # a pickle global: SHORT_BINUNICODE module, MEMOIZE, SHORT_BINUNICODE "jieba_words", MEMOIZE, STACK_GLOBAL
    modules = re.findall(rb"\x8c.([\w.]+)\x94?\x8c\x0bjieba_words\x94?\x93", data, flags=re.DOTALL)
    assert modules == [b"src.teachers"]
