import pytest

from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.metrics import AccuracyMatrix, Score, mean_std

pytestmark = pytest.mark.unit

# A 3-task run worked by hand: R rows after tasks 0, 1, 2.
ROWS = [
    [0.80, None, None],
    [0.60, 0.90, None],
    [0.50, 0.70, 0.95],
]


def test_avg_acc_and_bwt_by_hand():
    m = AccuracyMatrix.from_rows(ROWS)
    assert m.avg_acc() == pytest.approx((0.50 + 0.70 + 0.95) / 3)
    assert m.bwt() == pytest.approx(((0.50 - 0.80) + (0.70 - 0.90)) / 2)  # -0.25
    assert m.bwt_clipped() == pytest.approx(((0.50 - 0.80) + (0.70 - 0.90) + 0.0) / 3)
    # forgetting: task 0 best before end 0.80 -> 0.50; task 1 best 0.90 -> 0.70
    assert m.forgetting() == pytest.approx((0.30 + 0.20) / 2)


def test_fwt_needs_before_and_zero_shot():
    m = AccuracyMatrix.from_rows(ROWS)
    assert m.fwt() is None
    m.record(0, 1, 0.55)
    m.record(1, 2, 0.40)
    m.record_zero_shot(1, 0.50)
    m.record_zero_shot(2, 0.50)
    assert m.fwt() == pytest.approx(((0.55 - 0.50) + (0.40 - 0.50)) / 2)


def test_partial_matrix_uses_trained_rows_only():
    m = AccuracyMatrix.from_rows([[0.8, None], [None, None]], ["a", "b"])
    assert m.trained == 1
    assert m.avg_acc() == 0.8 and m.bwt() == 0.0 and m.forgetting() == 0.0


def test_positive_backward_transfer_is_not_clipped_in_bwt():
    m = AccuracyMatrix.from_rows([[0.5, None], [0.7, 0.9]])
    assert m.bwt() == pytest.approx(0.2)
    assert m.bwt_clipped() == 0.0


def test_rejects_out_of_range_accuracy_and_index():
    m = AccuracyMatrix(("a", "b"))
    with pytest.raises(DomainError, match=r"R\[0\]\[1\]"):
        m.record(0, 1, 1.5)
    with pytest.raises(DomainError, match="outside a 2x2"):
        m.record(2, 0, 0.5)
    with pytest.raises(DomainError, match="no task has been trained"):
        m.avg_acc()


def test_round_trip():
    m = AccuracyMatrix.from_rows(ROWS, ["a", "b", "c"])
    m.record_zero_shot(1, 0.5)
    again = AccuracyMatrix.from_dict(m.to_dict())
    assert again.rows() == m.rows() and again.zero_shot == {1: 0.5}


def test_score_balanced_accuracy_and_majority():
    # gold: 3 of class 0, 1 of class 1; the model always says 0
    s = Score.from_predictions([0, 0, 0, 1], [0, 0, 0, 0], ["neg", "pos"])
    assert s.accuracy == 0.75
    assert s.balanced_accuracy == 0.5
    assert s.majority_baseline == 0.75
    assert s.predictions == {"neg": 4, "pos": 0}


def test_mean_std():
    assert mean_std([1.0]) == (1.0, 0.0)
    mean, std = mean_std([0.0, 2.0])
    assert mean == 1.0 and std == pytest.approx(2**0.5)
