"""TinyBERT's attention loss compares the raw scores Q K^T / sqrt(d_k), untouched by attention dropout."""

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from src.tinybert.attention import SCORES
from src.train.losses import attention_mse

BATCH = {"input_ids": torch.tensor([[2, 7, 9, 11, 3], [2, 8, 3, 0, 0]]),
         "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}


def tiny_pair(tmp_path, attn_implementation, num_layers=1):
    """(teacher in eval mode, its exact copy as a student in train mode with attention dropout 0.5)."""
    config = BertConfig(vocab_size=30, hidden_size=32, num_hidden_layers=num_layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16, attention_probs_dropout_prob=0.5,
                        hidden_dropout_prob=0.0)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    load = BertForSequenceClassification.from_pretrained
    return (load(tmp_path, attn_implementation=attn_implementation).eval(),
            load(tmp_path, attn_implementation=attn_implementation).train())


def test_exact_copy_in_train_mode_has_zero_attention_loss(tmp_path):
    teacher, student = tiny_pair(tmp_path, SCORES)
    torch.manual_seed(1)
    a_T = teacher(**BATCH, output_attentions=True).attentions
    a_S = student(**BATCH, output_attentions=True).attentions
    assert len(a_S) == 1 and a_S[0].shape == (2, 2, 5, 5)
    assert attention_mse(a_S[0], a_T[0], BATCH["attention_mask"]).item() == 0.0


def test_dropped_out_probabilities_would_not_match(tmp_path):
    """What the loss compared before: eager attention's probabilities after dropout differ for a copy."""
    teacher, student = tiny_pair(tmp_path, "eager")
    torch.manual_seed(1)
    a_T = teacher(**BATCH, output_attentions=True).attentions[0]
    a_S = student(**BATCH, output_attentions=True).attentions[0]
    assert attention_mse(a_S, a_T, BATCH["attention_mask"]).item() > 1e-3


def test_scores_are_the_pre_softmax_logits_of_eager_attention(tmp_path):
    teacher, _ = tiny_pair(tmp_path, SCORES, num_layers=2)
    eager = BertForSequenceClassification.from_pretrained(tmp_path, attn_implementation="eager").eval()
    out = teacher(**BATCH, output_attentions=True)
    ref = eager(**BATCH, output_attentions=True)
    torch.testing.assert_close(out.logits, ref.logits)  # the model computes the same thing
    key_padding = (1 - BATCH["attention_mask"])[:, None, None, :] * -1e9
    for scores, probs in zip(out.attentions, ref.attentions):
        torch.testing.assert_close(torch.softmax(scores + key_padding, dim=-1), probs)


def test_masked_positions_do_not_count():
    scores_T = torch.zeros(1, 1, 3, 3)
    scores_S = scores_T.clone()
    scores_S[0, 0, 2, :] = 5.0  # the query row of a padding token
    scores_S[0, 0, :, 2] = 5.0  # and its key column
    scores_S[0, 0, 0, 1] = 1.0  # one real pair off by 1: squared error 1 over 4 real pairs
    assert attention_mse(scores_S, scores_T, torch.tensor([[1, 1, 0]])).item() == pytest.approx(0.25)
