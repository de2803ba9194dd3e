import pytest

from adaptive_learner.domain.early_stopping import EarlyStopping
from adaptive_learner.domain.errors import DomainError

pytestmark = pytest.mark.unit


def run(values, **kw):
    s = EarlyStopping(**kw)
    for epoch, v in enumerate(values, 1):
        s = s.observe(v)
        if s.should_stop:
            return s, epoch
    return s, None


def test_stops_after_patience_and_remembers_best():
    s, stopped_at = run([0.6, 0.7, 0.69, 0.7005, 0.65, 0.9], patience=3, min_delta=0.001)
    assert stopped_at == 5
    assert s.best_epoch == 2 and s.best_value == 0.7


def test_small_gains_do_not_count():
    s, stopped_at = run([0.5, 0.5005, 0.5009, 0.5010], patience=3, min_delta=0.001)
    assert stopped_at == 4 and s.best_epoch == 1


def test_min_epochs_before_stop():
    _, stopped_at = run([0.5, 0.4, 0.4, 0.4, 0.4], patience=1, min_epochs_before_stop=4)
    assert stopped_at == 4


def test_nan_is_an_error():
    with pytest.raises(DomainError, match="NaN"):
        EarlyStopping().observe(float("nan"))
