"""Shared-prompt-prefix forward: the prompt head a batch has in common runs once, not once per row.

Every prompt of a task starts with the same tokens ("<description>\\nInput:"), about half of a
short prompt. The rows' longest common prefix is run once with batch 1, its key/value cache is
repeated over the batch, and only the rest of each row (left-padded) runs per row. Positions and
the set of tokens each token attends to are exactly those of the full, left-padded sequence, so
the answer logits equal the plain forward's up to float rounding; gradients reach the LoRA
weights through the shared prefix too (repeat is differentiable). docs/adr/0026.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from adaptive_learner.adapters.hf import scoring

MIN_PREFIX = 4  # below this the extra (batch-1) pass costs more than it saves


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix, leaving at least one token of every row outside it."""
    first, limit = rows[0], min(len(r) for r in rows) - 1
    for k in range(max(limit, 0)):
        token = first[k]
        if any(r[k] != token for r in rows):
            return k
    return max(limit, 0)


def _cache_keyword(decoder) -> str:
    """transformers >= 5.2x names the cache argument `cache` (`past_key_values` is deprecated);
    older 5.x only knows the latter."""
    return (
        "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    )


def answer_logits(
    model,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
    *,
    share: bool = True,
    pad_to_multiple: int = 0,
    groups: Sequence[int] | None = None,
) -> torch.Tensor:
    """Vocabulary logits [B, V] at the answer position (the last token) of each token row.

    `groups` gives the sizes of consecutive runs of rows that share a prefix (e.g. the replayed
    batches of several tasks); default: all rows form one group. Every group's prefix runs in one
    left-padded batch of G rows, and all suffixes in one batch of B rows.
    """
    sizes = list(groups) if groups else [len(rows)]
    starts = [sum(sizes[:g]) for g in range(len(sizes))]
    lengths = [
        common_prefix(rows[s : s + n]) if share and n > 1 else 0
        for s, n in zip(starts, sizes, strict=True)
    ]
    if min(lengths) < MIN_PREFIX:
        ids, mask = scoring.collate(rows, pad_id, device, pad_to_multiple)
        return scoring.answer_logits(model, ids, mask)
    from transformers import DynamicCache

    base = scoring.base_model(model)
    decoder = base.get_decoder()
    cache = DynamicCache(config=base.config)
    head_ids, head_mask = scoring.collate(
        [rows[s][:p] for s, p in zip(starts, lengths, strict=True)], pad_id, device
    )
    key = _cache_keyword(decoder)
    decoder(
        input_ids=head_ids,
        attention_mask=head_mask,
        position_ids=(head_mask.cumsum(-1) - 1).clamp(min=0),
        use_cache=True,
        **{key: cache},
    )
    group_of_row = torch.tensor([g for g, n in enumerate(sizes) for _ in range(n)], device=device)
    if len(sizes) == 1:
        cache.batch_repeat_interleave(len(rows))
    else:
        cache.batch_select_indices(group_of_row)
    row_prefix = torch.tensor(
        [lengths[g] for g, n in enumerate(sizes) for _ in range(n)], device=device
    )
    ids, mask = scoring.collate(
        [r[p:] for r, p in zip(rows, row_prefix.tolist(), strict=True)],
        pad_id,
        device,
        pad_to_multiple,
    )
    position_ids = row_prefix[:, None] + (mask.cumsum(-1) - 1).clamp(min=0)
    full_mask = torch.cat([head_mask[group_of_row], mask], dim=1)
    hidden = decoder(
        input_ids=ids,
        attention_mask=full_mask,
        position_ids=position_ids,
        use_cache=True,
        **{key: cache},
    )
    return base.get_output_embeddings()(hidden.last_hidden_state[:, -1]).float()
