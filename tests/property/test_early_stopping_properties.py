import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.domain.early_stopping import EarlyStopping

pytestmark = pytest.mark.property

values = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=30)


@given(values, st.integers(1, 5), st.integers(0, 6), st.floats(0.0, 0.05))
def test_never_stops_early_or_while_improving(vals, patience, min_epochs, min_delta):
    s = EarlyStopping(patience=patience, min_epochs_before_stop=min_epochs, min_delta=min_delta)
    best = None
    for v in vals:
        s = s.observe(v)
        improved = best is None or v > best + min_delta
        if improved:
            best = v
        if s.should_stop:
            assert s.epoch >= min_epochs
            assert not improved
            assert s.stale >= patience
            break
    assert s.best_value == best
    assert 1 <= s.best_epoch <= s.epoch
