import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.domain.reuse import ReuseAction, SharingSchedule, SimilarityRouter
from adaptive_learner.domain.vectors import cosine

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
    created = sum(
        rule.decide(s, None if s == 0 else "e").action is ReuseAction.CREATE for s in range(tasks)
    )
    expected = 1 if n == -1 else (tasks if n <= 1 else 1 + max(0, tasks - n))
    assert created == expected


# --- which experts learn again (docs/adr/0041: consolidation only where a later task reads it) ---
from adaptive_learner.domain.reuse import FixedAssignment


def _experts_of(rule, total: int) -> list[str]:
    """The expert each task of the sequence lands on, by playing the rule's decisions out."""
    owners: list[str] = []
    for step in range(total):
        if isinstance(rule, SharingSchedule):
            d = rule.decide(step, owners[-1] if owners else None)
        else:
            d = rule.decide(step, owners)
        owners.append(d.expert_id if d.action is ReuseAction.REUSE else f"e{step}")
    return owners


@given(st.integers(-1, 8), st.integers(1, 10))
def test_a_schedule_knows_exactly_which_experts_learn_again(n, total):
    rule, owners = SharingSchedule(n), _experts_of(SharingSchedule(n), total)
    for step in range(total):
        assert rule.learns_again(step, total) == (owners[step] in owners[step + 1 :])


@given(st.lists(st.integers(0, 9), min_size=1, max_size=10))
def test_a_written_out_schedule_knows_exactly_which_experts_learn_again(raw):
    plan = []
    # make a valid plan: an earlier task that made its own expert, or i itself
    for i, j in enumerate(raw):
        j = min(j, i)
        plan.append(j if plan[j : j + 1] == [j] or j == i else i)
    rule, owners = FixedAssignment(plan), _experts_of(FixedAssignment(plan), len(plan))
    for step in range(len(plan)):
        assert rule.learns_again(step, len(plan)) == (owners[step] in owners[step + 1 :])
