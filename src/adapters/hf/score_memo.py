"""Scores remembered by what determines them: the LoRA weights, the task and the split.

Evaluation in eval mode is a pure function of the expert's weights and the split's inputs, so a
score taken again on weights that did not change since is the same score (docs/adr/0063). A run
asks that often: the reuse probe scores an expert's earlier tasks "before" on weights the early
stopper already scored when it kept the best epoch, or that a reuse's outcome scored after its
training; the matrix scores every task whose expert did not train since the last row again. The
key is a digest of the weights' bytes, not the expert's id or a counter, so nothing can go stale:
a copy, a restore or a load that puts back weights already scored finds their score, and any
changed bit misses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import torch

from adaptive_learner.domain.metrics import Score

BARE = "bare"  # the backbone with the slot switched off


def digest(weights: Mapping[str, torch.Tensor]) -> str:
    """A digest of the tensors' names, dtypes, shapes and bytes."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(weights):
        t = weights[name].detach().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(torch.uint8).reshape(-1).cpu().numpy().tobytes())
    return h.hexdigest()


class ScoreMemo:
    """(weights digest, task id, split) -> (Score, mean entropy); `hits` and `misses` counted."""

    def __init__(self) -> None:
        self._scores: dict[tuple[str, str, str], tuple[Score, float]] = {}
        self.hits = self.misses = 0

    @staticmethod
    def key(weights: Mapping[str, torch.Tensor] | None, task_id: str, split: str) -> tuple:
        """`weights` None: the bare backbone."""
        return (BARE if weights is None else digest(weights), task_id, split)

    def get(self, key: tuple) -> tuple[Score, float] | None:
        found = self._scores.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: tuple, value: tuple[Score, float]) -> None:
        self._scores[key] = value
