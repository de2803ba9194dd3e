import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.domain.metrics import AccuracyMatrix

pytestmark = pytest.mark.property

acc = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def lower_triangular(draw, min_tasks=1, max_tasks=8):
    t = draw(st.integers(min_tasks, max_tasks))
    return [[draw(acc) if j <= i else None for j in range(t)] for i in range(t)]


@given(lower_triangular())
def test_avg_acc_in_unit_interval_and_bwt_bounded(rows):
    m = AccuracyMatrix.from_rows(rows)
    assert 0.0 <= m.avg_acc() <= 1.0
    assert -1.0 <= m.bwt() <= 1.0
    assert -1.0 <= m.bwt_clipped() <= 0.0
    assert -1.0 <= m.forgetting() <= 1.0


@given(st.lists(acc, min_size=1, max_size=8))
def test_bwt_is_zero_when_nothing_changes_after_training(diagonal):
    t = len(diagonal)
    rows = [[diagonal[j] if j <= i else None for j in range(t)] for i in range(t)]
    m = AccuracyMatrix.from_rows(rows)
    assert m.bwt() == 0.0 and m.forgetting() == 0.0 and m.bwt_clipped() == 0.0
    assert m.avg_acc() == pytest.approx(sum(diagonal) / t)


@given(lower_triangular(min_tasks=2))
def test_forgetting_at_least_minus_bwt(rows):
    m = AccuracyMatrix.from_rows(rows)
    # max over rows >= the diagonal entry, so forgetting >= -BWT
    assert m.forgetting() >= -m.bwt() - 1e-12
