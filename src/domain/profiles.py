"""Task and expert profiles: named blocks of floats assembled into one routing vector.

A profile is built from blocks (description embedding, k-example prototype, gradient sketch,
context statistics; docs/adr/0030). Each block is L2-normalised so that no block wins by scale,
multiplied by the square root of its weight (so a block's share of the squared norm is its
weight), concatenated in a fixed order, and the whole vector is L2-normalised again. The
dimension of the result is the sum of the block dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from adaptive_learner.domain.errors import DomainError

Vector = tuple[float, ...]

# The order blocks are concatenated in; a profile never depends on dict order.
BLOCK_ORDER = ("description", "prototype", "gradient", "context")


def l2_normalise(values: Sequence[float]) -> Vector:
    norm = math.sqrt(sum(v * v for v in values))
    return tuple(values) if norm == 0.0 else tuple(v / norm for v in values)


def mean_vector(vectors: Sequence[Sequence[float]]) -> Vector:
    if not vectors:
        raise DomainError("the mean of no vectors is undefined")
    width = len(vectors[0])
    if any(len(v) != width for v in vectors):
        raise DomainError(f"vectors of different length: {sorted({len(v) for v in vectors})}")
    return tuple(sum(col) / len(vectors) for col in zip(*vectors, strict=True))


def ordered_blocks(names: Sequence[str]) -> list[str]:
    known = [b for b in BLOCK_ORDER if b in names]
    return known + sorted(n for n in names if n not in BLOCK_ORDER)


def block_dims(blocks: Mapping[str, Sequence[float]]) -> dict[str, int]:
    return {name: len(blocks[name]) for name in ordered_blocks(list(blocks))}


def assemble_profile(
    blocks: Mapping[str, Sequence[float]], weights: Mapping[str, float] | None = None
) -> Vector:
    """Normalise each block, weight it, concatenate, L2-normalise (see module docstring).

    A block without a weight gets 1; a weight below 0 is an error; a block of weight 0 keeps its
    dimensions (zeros), so profiles of one configuration always have one length.
    """
    if not blocks:
        raise DomainError("a profile needs at least one block")
    weights = weights or {}
    out: list[float] = []
    for name in ordered_blocks(list(blocks)):
        w = float(weights.get(name, 1.0))
        if w < 0:
            raise DomainError(f"profile weight of block {name!r} is negative ({w})")
        scale = math.sqrt(w)
        out.extend(scale * v for v in l2_normalise(blocks[name]))
    return l2_normalise(out)


def block_slice(dims: Mapping[str, int], name: str) -> slice:
    """Where block `name` lies inside an assembled profile with block dimensions `dims`."""
    start = 0
    for block in ordered_blocks(list(dims)):
        if block == name:
            return slice(start, start + dims[block])
        start += dims[block]
    raise DomainError(f"profile has no block {name!r}; blocks: {ordered_blocks(list(dims))}")


def label_entropy(labels: list[str]) -> float:
    """Entropy (nats) of the label distribution of some examples: one of the ContextStats."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    n = len(labels)
    return -sum(c / n * math.log(c / n) for c in counts.values()) if n else 0.0
