import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.domain.routing import ReuseAction, SharingSchedule, SimilarityRouter, cosine

pytestmark = pytest.mark.property

vec = st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=3)


@given(vec, st.dictionaries(st.sampled_from(["e0", "e1", "e2"]), vec, min_size=1), st.floats(-1, 1))
def test_router_decision_is_consistent(query, profiles, threshold):
    router = SimilarityRouter(reuse_threshold=threshold)
    d = router.decide(query, profiles)
    best = max(cosine(query, p) for p in profiles.values())
    assert 0.0 <= d.probability <= 1.0
    if d.action is ReuseAction.REUSE:
        assert d.expert_id in profiles and d.score == pytest.approx(best) and best >= threshold
    else:
        assert d.action is ReuseAction.CREATE and best < threshold


@given(st.integers(-1, 10), st.integers(1, 12))
def test_schedule_creates_exactly_the_expected_experts(n, tasks):
    rule = SharingSchedule(n)
    created = sum(rule.decide(s, None if s == 0 else "e").action is ReuseAction.CREATE for s in range(tasks))
    expected = 1 if n == -1 else (tasks if n <= 1 else 1 + max(0, tasks - n))
    assert created == expected
