"""Stateless tensor functions: answer-position logits, label scores, losses, pooling.

Inputs are left-padded, so the answer position is the last column for every row and the
LM head runs on one position per example, not on the whole sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def collate(
    rows: Sequence[Sequence[int]], pad_id: int, device: torch.device, pad_to_multiple: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id rows into (input_ids, attention_mask); with `pad_to_multiple` > 1 the width
    is rounded up to a multiple of it (length buckets: fewer distinct shapes for torch.compile /
    CUDA graphs)."""
    width = max(len(r) for r in rows)
    if pad_to_multiple > 1:
        width = -(-width // pad_to_multiple) * pad_to_multiple
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    return ids.to(device), mask.to(device)


def base_model(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def hidden_states(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Final-layer hidden states [B, L, H] of the decoder (LoRA layers active if enabled)."""
    # left padding must not shift positions
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    decoder = base_model(model).get_decoder()
    return decoder(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
    ).last_hidden_state


def answer_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Vocabulary logits [B, V] at the answer position only."""
    last = hidden_states(model, input_ids, attention_mask)[:, -1]
    return base_model(model).get_output_embeddings()(last).float()


def label_log_probs(logits: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
    """Log-probabilities [B, K] of the K answer tokens, renormalised over those K tokens."""
    return F.log_softmax(logits[:, label_ids], dim=-1)


def answer_loss(logits: torch.Tensor, label_ids: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """LM loss on the gold answer token (full-vocabulary cross-entropy at the answer position)."""
    return F.cross_entropy(logits, label_ids[gold])


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Per-row entropy (nats) of a log-probability matrix."""
    return -(log_probs.exp() * log_probs).sum(-1)


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
