"""Distillation losses as pure functions, named after the papers. Suffix _S: student, _T: teacher.

Shapes: B batch, C classes, L sequence length, d hidden width, H attention heads.
"""

import torch.nn.functional as F


def logits_mse(logits_S, logits_T):
    """Tang et al. (2019), eq. 2: L_distill = ||z_T - z_S||_2^2, the squared L2 distance between logits.

    Summed over the C classes and averaged over the batch (so it is C times F.mse_loss).
    logits_S, logits_T: (B, C). Returns a scalar.
    """
    return (logits_S - logits_T).pow(2).sum(-1).mean()


def soft_cross_entropy(logits_S, logits_T, temperature=1.0):
    """TinyBERT (Jiao et al. 2020), eq. 10: L_pred = -sum_c softmax(z_T / t)_c * log_softmax(z_S / t)_c.

    Summed over the C classes and averaged over the batch, so that with a one-hot teacher distribution
    and t = 1 it equals the ordinary cross-entropy; no t^2 factor, as in TinyBERT's code (whose `.mean()`
    over all B x C entries makes its value C times smaller).
    logits_S, logits_T: (B, C). Returns a scalar.
    """
    p_T = F.softmax(logits_T / temperature, dim=-1)
    return -(p_T * F.log_softmax(logits_S / temperature, dim=-1)).sum(-1).mean()


def hidden_mse(hidden_S, hidden_T, mask):
    """TinyBERT eqs. 8-9: L_hidn = MSE(H_S W_h, H_T) and L_embd = MSE(E_S W_e, E_T), over real tokens only.

    hidden_S: (B, L, d) student states already projected to the teacher's width; hidden_T: (B, L, d);
    mask: (B, L), 1 for real tokens and 0 for padding. The mean runs over the unpadded positions and the
    d features, so padding changes nothing (the authors' code averages over the padded positions too, which
    weighs a batch of short texts less). Returns a scalar.
    """
    mask = mask.to(hidden_S.dtype).unsqueeze(-1)  # (B, L, 1)
    sq_err = (hidden_S - hidden_T).pow(2) * mask
    return sq_err.sum() / (mask.sum() * hidden_S.size(-1)).clamp(min=1)


def attention_mse(scores_S, scores_T, mask):
    """TinyBERT eq. 7: L_attn = (1/H) sum_h MSE(A_S^h, A_T^h), over pairs of real tokens only.

    A is the *unnormalised* attention score matrix Q K^T / sqrt(d_k), before the softmax and dropout, as
    in the paper and its authors' code (`src.tinybert.attention.SCORES` makes transformers return it, before
    the padding mask too; the authors add the mask and then zero entries <= -100, the same loss).
    Each head is compared with the teacher's head of the same index, so both models need the
    same number of heads. Entries whose query or key is padding are zeroed on both sides and left out of
    the mean (the authors' code zeroes masked keys and averages over every entry, padding included).
    scores_S, scores_T: (B, H, L, L); mask: (B, L), 1 for real tokens. Returns a scalar.
    """
    mask = mask.to(scores_S.dtype)
    pair = (mask[:, None, :, None] * mask[:, None, None, :]).expand_as(scores_S)  # (B, H, L, L)
    sq_err = (scores_S - scores_T).pow(2) * pair
    return sq_err.sum() / pair.sum().clamp(min=1)


def intermediate_layer_loss(hidden_S, scores_S, hidden_T, scores_T, pairs, mask, project):
    """TinyBERT's loss on the layers below the prediction layer (eq. 11 without L_pred, as in general
    distillation and task stage 1): L = L_embd + sum over (m, n) in `pairs` of (L_hidn(m, n) + L_attn(m, n)).

    hidden_*: the models' `hidden_states`, num_layers + 1 tensors (B, L, d), index 0 the embedding output;
    scores_*: their pre-softmax attention scores, one (B, H, L, L) per layer (index m - 1 for layer m);
    pairs: (student layer m, teacher layer n), counted from 1; mask: (B, L); project: the student's width
    to the teacher's (W_e = W_h, one shared map). Returns {"loss", "embd", "hidn", "attn"} (scalars).
    """
    terms = {"embd": hidden_mse(project(hidden_S[0]), hidden_T[0], mask),
             "hidn": sum(hidden_mse(project(hidden_S[m]), hidden_T[n], mask) for m, n in pairs),
             "attn": sum(attention_mse(scores_S[m - 1], scores_T[n - 1], mask) for m, n in pairs)}
    return {"loss": sum(terms.values()), **terms}


def uniform_layer_map(num_layers_S, num_layers_T):
    """TinyBERT's uniform mapping n = g(m) = m * L_T / L_S: student layer m learns from teacher layer g(m).

    Layers are numbered from 1 (0 is the embedding output, always mapped to 0). Returns a list of
    (student_layer, teacher_layer) pairs; 6 -> 3 gives [(1, 2), (2, 4), (3, 6)].
    Raises ValueError when L_T is not a multiple of L_S.
    """
    if num_layers_S < 1 or num_layers_T % num_layers_S:
        raise ValueError(f"cannot map {num_layers_S} student layers uniformly onto {num_layers_T} teacher layers "
                         f"(not a divisor); give the pairs with --layer_map")
    k = num_layers_T // num_layers_S
    return [(m, m * k) for m in range(1, num_layers_S + 1)]
