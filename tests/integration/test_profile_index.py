"""ProfileIndex (the VectorIndex adapter): exact below the cut-off, usearch HNSW above,
same answers."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")
pytest.importorskip("usearch")

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.routing.search import ProfileIndex, recall_at_k

pytestmark = pytest.mark.integration


def profiles(n: int, dim: int = 32, seed: int = 0, rank: int = 8) -> dict[str, tuple[float, ...]]:
    """Vectors near a `rank`-dimensional subspace plus noise (profiles of related tasks), keyed
    e-0, e-1, ..."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim))
    x = rng.standard_normal((n, rank)) @ basis + 0.3 * rng.standard_normal((n, dim))
    return {f"e-{i}": tuple(row) for i, row in enumerate(x.tolist())}


def plain_top(items, query, k):
    """Reference: cosine by hand, best first."""

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(
            sum(x * x for x in a) * sum(y * y for y in b)
        )

    return sorted(((key, cos(v, query)) for key, v in items.items()), key=lambda p: -p[1])[:k]


vector = st.lists(
    st.floats(-5, 5, allow_nan=False).filter(lambda x: abs(x) > 1e-3), min_size=3, max_size=3
)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), vector, min_size=1, max_size=12),
    vector,
    st.integers(1, 15),
)
def test_exact_search_matches_a_plain_python_reference(items, query, k):
    index = ProfileIndex()
    index.rebuild(items)
    got = index.search(query, k)
    want = plain_top(items, query, k)
    assert len(got) == min(k, len(items))
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)
    assert all(s1 >= s2 for (_, s1), (_, s2) in itertools.pairwise(got))
    for key, score in got:
        assert score == pytest.approx(plain_top({key: items[key]}, query, 1)[0][1], abs=1e-5)


def test_ann_above_the_cut_off_recalls_the_exact_top_5():
    items = profiles(3000, seed=1)
    queries = list(profiles(50, seed=2).values())
    exact, ann = ProfileIndex(exact_limit=10_000), ProfileIndex(exact_limit=100)
    exact.rebuild(items)
    ann.rebuild(items)
    assert not exact.uses_ann and ann.uses_ann
    truth = [[key for key, _ in exact.search(q, 5)] for q in queries]
    found = [[key for key, _ in ann.search(q, 5)] for q in queries]
    assert recall_at_k(found, truth) >= 0.95
    # Scores are recomputed exactly, so a key both paths return has the same cosine.
    for q in queries[:5]:
        ref = dict(exact.search(q, 20))
        for key, score in ann.search(q, 5):
            assert key not in ref or score == pytest.approx(ref[key], abs=1e-6)


def test_the_cut_off_switches_both_ways_and_keeps_answers():
    items = profiles(60)
    index = ProfileIndex(exact_limit=50)
    index.rebuild(dict(list(items.items())[:50]))
    assert not index.uses_ann
    index.rebuild(items)
    assert index.uses_ann and len(index) == 60
    query = items["e-7"]
    assert index.search(query, 1)[0] == ("e-7", pytest.approx(1.0, abs=1e-6))
    index.rebuild(dict(list(items.items())[:10]))
    assert not index.uses_ann and len(index) == 10
    assert index.search(items["e-59"], 3)[0][0] != "e-59"


def test_incremental_rebuild_forgets_removed_and_changed_vectors():
    items = profiles(120)
    index = ProfileIndex(exact_limit=10)
    index.rebuild(items)
    moved = dict(items)
    del moved["e-3"]
    moved["e-5"] = items["e-9"]  # e-5 now sits where e-9 is
    moved["new"] = items["e-3"]
    index.rebuild(moved)
    assert index.uses_ann and len(index) == 120
    keys = [key for key, _ in index.search(items["e-3"], 3)]
    assert keys[0] == "new" and "e-3" not in keys
    assert {key for key, _ in index.search(items["e-9"], 2)} == {"e-5", "e-9"}


def test_graph_results_are_reproducible():
    items, query = profiles(400, seed=3), profiles(1, seed=4)["e-0"]
    runs = []
    for _ in range(2):
        index = ProfileIndex(exact_limit=50)
        index.rebuild(items)
        runs.append(index.search(query, 10))
    assert runs[0] == runs[1]


def test_empty_index_and_k_larger_than_the_index():
    index = ProfileIndex()
    assert index.search((1.0, 0.0), 3) == [] and index.dim is None
    index.rebuild({"a": (1.0, 0.0), "b": (0.0, 1.0)})
    assert [key for key, _ in index.search((1.0, 0.1), 10)] == ["a", "b"]
    index.rebuild({})
    assert index.search((1.0, 0.0), 3) == [] and len(index) == 0


@pytest.mark.parametrize("limit", [0, 1000])
def test_a_query_of_another_dimension_is_a_one_line_error(limit):
    index = ProfileIndex(exact_limit=limit)
    index.rebuild(profiles(5, dim=8))
    with pytest.raises(
        AdapterError, match="query has dimension 3 but the index holds profiles of dimension 8"
    ) as err:
        index.search((1.0, 2.0, 3.0), 1)
    assert "\n" not in str(err.value)


def test_bad_profiles_and_bad_k_are_one_line_errors():
    index = ProfileIndex()
    with pytest.raises(AdapterError, match="different dimensions.*'a' has 2.*'b' has 3"):
        index.rebuild({"a": (1.0, 0.0), "b": (1.0, 0.0, 0.0)})
    with pytest.raises(AdapterError, match="profile 'z' is zero"):
        index.rebuild({"a": (1.0, 0.0), "z": (0.0, 0.0)})
    index.rebuild({"a": (1.0, 0.0)})
    with pytest.raises(AdapterError, match="k >= 1"):
        index.search((1.0, 0.0), 0)
    with pytest.raises(AdapterError, match="zero or not finite"):
        index.search((0.0, 0.0), 1)
