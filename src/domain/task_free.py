"""Answering without a task id: mix the routed experts' label distributions; gate routes by input
form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adaptive_learner.domain.errors import DomainError


def mixture(distributions: Sequence[tuple[float, Mapping[str, float]]]) -> dict[str, float]:
    """Top-k mixture: sum_i w_i * P_i(label), renormalised over the union of labels."""
    total_w = sum(w for w, _ in distributions)
    if total_w <= 0:
        raise DomainError("mixture weights sum to zero")
    out: dict[str, float] = {}
    for w, dist in distributions:
        for label, p in dist.items():
            out[label] = out.get(label, 0.0) + w * p / total_w
    norm = sum(out.values())
    return {k: v / norm for k, v in out.items()} if norm > 0 else out


def gate_by_form(
    probabilities: Mapping[str, float], task_has_pair: Mapping[str, bool], query_has_pair: bool
) -> dict[str, float]:
    """Route a query only among tasks whose inputs have its form (one text, or a text pair),
    renormalised (docs/adr/0039). Tasks of unknown form stay candidates; when no task has the
    query's form, nothing is removed. The form is part of the input a user gives, not a threshold
    fitted to tasks."""
    kept = {
        t: p
        for t, p in probabilities.items()
        if task_has_pair.get(t, query_has_pair) == query_has_pair
    }
    if not kept:
        return dict(probabilities)
    total = sum(kept.values())
    return (
        {t: p / total for t, p in kept.items()} if total > 0 else {t: 1.0 / len(kept) for t in kept}
    )
