import json

import pytest
import torch

from tests.tiny import write_tiny_bert, write_toy_data


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def tiny_bert(tmp_path):
    """Directory of a random 2-layer, 32-wide BERT sequence classifier with its tokenizer."""
    return write_tiny_bert(tmp_path / "tiny_bert")


@pytest.fixture
def toy_data(tmp_path):
    """A data directory whose labels are decided by the token good/bad."""
    return write_toy_data(tmp_path / "toy")


@pytest.fixture
def student_config(tmp_path):
    """A BertConfig JSON of a 1-layer, 16-wide, 2-head student (half the tiny teacher's width)."""
    path = tmp_path / "student.json"
    path.write_text(json.dumps({"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                "intermediate_size": 32, "max_position_embeddings": 64}))
    return str(path)
