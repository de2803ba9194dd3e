"""Plain-float vector math for profiles and routing keys: cosine, softmax, exact nearest keys."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from adaptive_learner.domain.errors import DomainError


def exact_top_k(
    query: Sequence[float], items: Mapping[str, Sequence[float]], k: int
) -> list[tuple[str, float]]:
    """The exact nearest keys by cosine, best first (ties by key): the reference for any index."""
    scored = sorted(
        ((key, cosine(query, v)) for key, v in items.items()), key=lambda kv: (-kv[1], kv[0])
    )
    return scored[:k]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        raise DomainError(f"profiles of different length: {len(a)} vs {len(b)}")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)


def softmax(scores: Sequence[float], temperature: float) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]
