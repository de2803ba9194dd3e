"""The EWC penalty (lam/2) sum F (theta - theta*)^2 against a plain-Python reference and its
properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from adaptive_learner.adapters.hf.fisher import accumulate, ewc_penalty

pytestmark = pytest.mark.property

value = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, width=32)
fisher_value = st.floats(min_value=0.0, max_value=10.0, allow_nan=False, width=32)
lam = st.floats(min_value=0.0, max_value=1e3, allow_nan=False)


@st.composite
def ewc_state(draw):
    """Two named tensors with their anchors and non-negative Fisher, as plain lists."""
    shapes = {"a": draw(st.integers(1, 4)), "b": draw(st.integers(1, 4))}
    vec = lambda n, s: draw(st.lists(s, min_size=n, max_size=n))
    return {k: (vec(n, value), vec(n, value), vec(n, fisher_value)) for k, n in shapes.items()}


def tensors(state, i):
    return {k: torch.tensor(v[i], dtype=torch.float64) for k, v in state.items()}


def plain_penalty(state, lam):
    return (
        lam
        / 2
        * sum(
            f * (t - a) ** 2
            for theta, anchor, fish in state.values()
            for t, a, f in zip(theta, anchor, fish)
        )
    )


@settings(max_examples=60, deadline=None)
@given(ewc_state(), lam)
def test_penalty_matches_plain_reference_and_is_non_negative(state, lam):
    got = ewc_penalty(tensors(state, 0), tensors(state, 1), tensors(state, 2), lam).item()
    assert got >= 0.0
    assert got == pytest.approx(plain_penalty(state, lam), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(ewc_state(), lam)
def test_penalty_is_zero_at_the_anchor(state, lam):
    anchors = tensors(state, 1)
    assert ewc_penalty(anchors, anchors, tensors(state, 2), lam).item() == 0.0


@settings(max_examples=40, deadline=None)
@given(ewc_state(), lam, lam)
def test_penalty_is_monotone_in_lambda(state, lam1, lam2):
    lo, hi = sorted((lam1, lam2))
    args = tensors(state, 0), tensors(state, 1), tensors(state, 2)
    assert ewc_penalty(*args, lo).item() <= ewc_penalty(*args, hi).item()


@settings(max_examples=40, deadline=None)
@given(ewc_state(), lam, st.floats(min_value=0.0, max_value=5.0))
def test_penalty_is_monotone_in_fisher(state, lam, extra):
    fisher = tensors(state, 2)
    more = {k: f + extra for k, f in fisher.items()}
    theta, anchors = tensors(state, 0), tensors(state, 1)
    assert (
        ewc_penalty(theta, anchors, fisher, lam).item()
        <= ewc_penalty(theta, anchors, more, lam).item() + 1e-9
    )


@settings(max_examples=40, deadline=None)
@given(
    ewc_state(), st.floats(min_value=0.0, max_value=4.0), st.floats(min_value=0.0, max_value=4.0)
)
def test_online_accumulation_adds_scaled_fisher(state, s1, s2):
    f1, f2 = tensors(state, 2), {k: v * 2 for k, v in tensors(state, 2).items()}
    total = accumulate(accumulate(None, f1, s1), f2, s2)
    for k in f1:
        assert torch.allclose(total[k], s1 * f1[k] + s2 * f2[k])
