"""Nearest-expert search: exact cosine (one numpy matmul) up to a size cut-off, usearch
HNSW above it.

`ProfileIndex` satisfies the `VectorIndex` port. Both paths return the same thing: (key, cosine)
pairs, best first, the cosine always recomputed exactly from the stored vectors -- the graph only
chooses candidates, so scores never depend on which path ran. Why usearch: docs/adr/0035.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adaptive_learner.adapters.errors import RoutingError

DEFAULT_EXACT_LIMIT = 2048


def _unit_rows(matrix: np.ndarray, names: Sequence[str], what: str) -> np.ndarray:
    """L2-normalise float32 rows in place; a zero or non-finite row has no cosine, so it is an error
    naming the row."""
    # einsum: ~15x faster than linalg.norm on 100k rows
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        raise RoutingError(
            f"{what} {names[bad[0]]!r} is zero or not finite: it has no cosine similarity"
        )
    matrix /= norms[:, None]
    return matrix


class ProfileIndex:
    """Cosine search over named profile vectors.

    Up to `exact_limit` vectors it is a brute-force matmul (exact, and faster than a graph at that
    size); above, an HNSW graph (usearch) finds candidates. `rebuild` is incremental on the graph:
    unchanged keys stay, removed or changed ones are deleted, new ones added, so a growing library
    does not pay a full build per new expert. The graph is built on one thread, which makes results
    reproducible for the same sequence of `rebuild` calls (multi-threaded inserts are not).
    """

    def __init__(
        self,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        *,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
    ) -> None:
        if exact_limit < 0:
            raise RoutingError(f"exact_limit must be >= 0, got {exact_limit}")
        self.exact_limit = exact_limit
        self._graph_options = {
            "connectivity": connectivity,
            "expansion_add": expansion_add,
            "expansion_search": expansion_search,
        }
        self._keys: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)  # unit rows, in `_keys` order
        self._graph: Any = None  # usearch Index over row positions' labels in `_labels`
        self._labels: dict[str, int] = {}  # key -> usearch label (stable across rebuilds)
        self._by_label: dict[int, int] = {}  # usearch label -> row in `_matrix`
        self._next_label = 0

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def dim(self) -> int | None:
        """The vectors' dimension, None while empty."""
        return self._matrix.shape[1] if self._keys else None

    @property
    def uses_ann(self) -> bool:
        """Whether searches go through the HNSW graph (the index holds more than `exact_limit`
        vectors)."""
        return self._graph is not None

    def rebuild(self, items: Mapping[str, Sequence[float]]) -> None:
        """Replace the indexed set with `items` (all vectors of one dimension, none zero)."""
        keys = list(items)
        dims = {len(v) for v in items.values()}
        if len(dims) > 1:
            first: dict[int, str] = {}
            for key, v in items.items():
                first.setdefault(len(v), key)
            shown = ", ".join(f"{first[d]!r} has {d}" for d in sorted(dims))
            raise RoutingError(f"profiles of different dimensions cannot share one index: {shown}")
        dim = dims.pop() if dims else 0
        matrix = _unit_rows(
            np.array([items[k] for k in keys], dtype=np.float32).reshape(len(keys), dim),
            keys,
            "profile",
        )
        same_dim = bool(self._keys) and self._matrix.shape[1] == dim
        before = (
            ({k: i for i, k in enumerate(self._keys)}, self._matrix)
            if same_dim
            else ({}, self._matrix)
        )
        self._keys, self._matrix = keys, matrix
        if len(keys) <= self.exact_limit:
            self._drop_graph()
            return
        if self._graph is None or not same_dim:
            self._drop_graph()
            self._graph = self._new_graph(dim)
        self._update_graph(*before)

    def _drop_graph(self) -> None:
        self._graph, self._labels, self._by_label, self._next_label = None, {}, {}, 0

    def _new_graph(self, dim: int):
        from usearch.index import Index  # imported here: small libraries never need it

        return Index(ndim=dim, metric="cos", dtype="f32", **self._graph_options)

    def _update_graph(self, old_rows: dict[str, int], old_matrix: np.ndarray) -> None:
        rows = {k: i for i, k in enumerate(self._keys)}
        kept = [k for k in self._labels if k in rows and k in old_rows]
        unchanged: set[str] = set()
        if kept:
            before, after = [old_rows[k] for k in kept], [rows[k] for k in kept]
            # the usual case, keys appended: compare views, no copies
            if before == after == list(range(len(kept))):
                same = np.all(old_matrix[: len(kept)] == self._matrix[: len(kept)], axis=1)
            else:
                same = np.all(old_matrix[before] == self._matrix[after], axis=1)
            unchanged = {k for k, eq in zip(kept, same, strict=True) if eq}
        stale = [k for k in self._labels if k not in unchanged]
        if stale:
            self._graph.remove(np.array([self._labels.pop(k) for k in stale], dtype=np.uint64))
        fresh = [k for k in self._keys if k not in self._labels]
        for k in fresh:
            self._labels[k] = self._next_label
            self._next_label += 1
        if fresh:
            labels = np.array([self._labels[k] for k in fresh], dtype=np.uint64)
            self._graph.add(labels, self._matrix[[rows[k] for k in fresh]], threads=1)
        self._by_label = {self._labels[k]: rows[k] for k in self._keys}

    def search(self, query: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Up to `k` (key, cosine) pairs, highest cosine first (ties: earlier key first)."""
        if k < 1:
            raise RoutingError(f"search needs k >= 1, got {k}")
        if not self._keys:
            return []
        dim = self._matrix.shape[1]
        if len(query) != dim:
            raise RoutingError(
                f"query has dimension {len(query)} but the index holds profiles of dimension {dim}"
            )
        q = _unit_rows(np.array(query, dtype=np.float32).reshape(1, dim), ["query"], "the")[0]
        rows = self._candidates(q, min(k, len(self._keys)))
        scores = self._matrix[rows] @ q
        order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]))
        return [(self._keys[rows[i]], float(min(1.0, max(-1.0, scores[i])))) for i in order]

    def _candidates(self, q: np.ndarray, k: int) -> np.ndarray:
        if self._graph is None:
            scores = self._matrix @ q
            if k >= len(scores):
                return np.arange(len(scores))
            return np.argpartition(-scores, k - 1)[:k]
        found = self._graph.search(q, k)
        return np.array([self._by_label[int(label)] for label in found.keys], dtype=np.int64)


def recall_at_k(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> float:
    """Mean fraction of each true top-k that was found (the benchmark's recall@k)."""
    if not truth:
        return math.nan
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t])
    )
