"""The divergence / did-not-learn rule (pure domain) and how a run reports it."""

import math

import pytest

from adaptive_learner.domain.divergence import (
    LOSS_GROWTH,
    WEIGHT_LIMIT,
    Health,
    judge_epoch,
    judge_outcome,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_is_divergence(loss):
    verdict = judge_epoch(2, loss, 0.7, 0.1)
    assert verdict.health is Health.DIVERGED and "epoch 2" in verdict.reason


@pytest.mark.parametrize("scale", [math.nan, math.inf, WEIGHT_LIMIT * 1.01, 1e9])
def test_non_finite_or_exploding_weights_are_divergence(scale):
    assert judge_epoch(1, 0.5, 0.7, scale).health is Health.DIVERGED


def test_an_exploding_loss_is_divergence_a_noisy_one_is_not():
    assert judge_epoch(3, LOSS_GROWTH * 2.0 + 0.1, 2.0, 0.5).health is Health.DIVERGED
    assert judge_epoch(3, LOSS_GROWTH * 2.0 - 0.1, 2.0, 0.5).ok
    # A task that starts almost solved (tiny first loss) is judged against a floor of 1 nat, not
    # 10x its loss.
    assert judge_epoch(2, 0.5, 0.01, 0.5).ok


def test_a_healthy_epoch_passes_and_unmeasured_signals_are_not_held_against_it():
    assert judge_epoch(1, 0.3, None, None).ok
    assert judge_epoch(1, 0.3, 0.7, WEIGHT_LIMIT).ok


def test_a_task_at_or_below_zero_shot_did_not_learn():
    assert judge_outcome(0.5, 0.5).health is Health.DID_NOT_LEARN
    assert judge_outcome(0.4, 0.5).health is Health.DID_NOT_LEARN
    assert judge_outcome(0.51, 0.5).ok
    assert judge_outcome(0.3, None).ok  # no zero-shot measured: nothing to compare with
