"""Early stopping as a pure state machine over per-epoch validation metrics."""

from __future__ import annotations

import math

from attrs import evolve, field, frozen, validators

from adaptive_learner.domain.errors import DomainError


@frozen
class EarlyStopping:
    """Stop after `patience` epochs without an improvement larger than `min_delta`.

    The metric is maximised (accuracy). Never stops before `min_epochs_before_stop` epochs.
    `best_epoch` (1-based) tells the caller which weights to restore.
    """

    patience: int = field(default=3, validator=validators.ge(1))
    min_delta: float = field(default=0.001, validator=validators.ge(0.0))
    min_epochs_before_stop: int = field(default=1, validator=validators.ge(0))
    metric: str = "accuracy"
    epoch: int = 0
    best_epoch: int = 0
    best_value: float | None = None
    stale: int = 0

    def observe(self, value: float) -> EarlyStopping:
        """Return the state after one more epoch whose validation metric is `value`."""
        if math.isnan(value):  # NaN never counts as an improvement
            raise DomainError(f"validation {self.metric} is NaN at epoch {self.epoch + 1}")
        epoch = self.epoch + 1
        if self.best_value is None or value > self.best_value + self.min_delta:
            return evolve(self, epoch=epoch, best_epoch=epoch, best_value=value, stale=0)
        return evolve(self, epoch=epoch, stale=self.stale + 1)

    @property
    def improved(self) -> bool:
        """Whether the last observed epoch is the new best."""
        return self.epoch > 0 and self.best_epoch == self.epoch

    @property
    def should_stop(self) -> bool:
        return self.epoch >= self.min_epochs_before_stop and self.stale >= self.patience
