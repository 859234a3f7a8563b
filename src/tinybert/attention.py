"""Pre-softmax attention scores for TinyBERT's attention loss.

TinyBERT (Jiao et al. 2020, eq. 7) matches the unnormalised attention scores A = Q K^T / sqrt(d_k); with
`output_attentions=True` transformers returns softmax probabilities instead, and in 5.x after attention
dropout (in train mode rows no longer sum to 1). `SCORES` names an attention implementation, registered
with transformers' attention and mask interfaces, that computes exactly what eager attention computes but
returns as the model's `attentions` the raw scores (B, H, L, L): before the padding mask, the softmax and
the dropout. Load a model with `attn_implementation=SCORES` to get them.
"""

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

SCORES = "tinybert_scores"


def scores_attention_forward(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                             attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                             **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention that returns (output (B, L, H, d_k), scores Q K^T * scaling (B, H, L, L)).

    query, key, value: (B, H, L, d_k); attention_mask: additive (B, 1, L, L) or None.
    """
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    weights = scores if attention_mask is None else scores + attention_mask
    weights = F.dropout(F.softmax(weights, dim=-1), p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), scores


AttentionInterface.register(SCORES, scores_attention_forward)
AttentionMaskInterface.register(SCORES, eager_mask)  # the same additive mask as eager attention
