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
