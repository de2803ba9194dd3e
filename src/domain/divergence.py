"""Did training go wrong? Pure rules over the numbers the backbones report (docs/adr/0024).

Two verdicts, so a run that went wrong says so instead of reporting success:

- diverged (judged after every epoch; the run stops, nothing of that epoch is kept):
  the epoch's training loss or the expert's largest LoRA weight is not finite; the largest
  |weight| exceeds WEIGHT_LIMIT; or the epoch's loss exceeds LOSS_GROWTH x max(the task's first
  training loss, LOSS_FLOOR).
- did not learn (judged after the task's evaluation and again on the run's final row; the run
  continues, the task is flagged): its accuracy is at or below its zero-shot accuracy or its
  majority-class accuracy.
"""

from __future__ import annotations

import enum
import math

from attrs import frozen

from adaptive_learner.domain.errors import DomainError

# LoRA B starts at 0 and A at ~1/sqrt(width); healthy experts stay far below 1e3 (a learning rate
# of 1e9 on SmolLM2 drives them to ~1e9). A tenfold rise of the mean loss over where the task
# started (at least 1 nat) is not noise at any learning rate that trains.
WEIGHT_LIMIT = 1e3
LOSS_GROWTH = 10.0
LOSS_FLOOR = 1.0


class Health(enum.StrEnum):
    OK = "ok"
    DIVERGED = "diverged"
    DID_NOT_LEARN = "did_not_learn"


@frozen
class Verdict:
    health: Health
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.health is Health.OK


OK = Verdict(Health.OK)


class TrainingDiverged(DomainError):
    """Training of a task diverged; the message says how and what to change."""


def judge_epoch(
    epoch: int, loss: float, initial_loss: float | None, weight_scale: float | None
) -> Verdict:
    """Epoch `epoch` ended with mean training `loss` and largest |LoRA weight| `weight_scale`."""
    if not math.isfinite(loss):
        return Verdict(Health.DIVERGED, f"training loss became {loss} at epoch {epoch}")
    if weight_scale is not None and not math.isfinite(weight_scale):
        return Verdict(Health.DIVERGED, f"LoRA weights became {weight_scale} at epoch {epoch}")
    if weight_scale is not None and weight_scale > WEIGHT_LIMIT:
        return Verdict(
            Health.DIVERGED,
            f"the largest LoRA weight reached {weight_scale:.3g} (limit {WEIGHT_LIMIT:g}) at epoch "
            f"{epoch}",
        )
    if (
        initial_loss is not None
        and math.isfinite(initial_loss)
        and loss > LOSS_GROWTH * max(initial_loss, LOSS_FLOOR)
    ):
        return Verdict(
            Health.DIVERGED,
            f"training loss exploded to {loss:.3g} at epoch {epoch} (it started at "
            f"{initial_loss:.3g})",
        )
    return OK


def judge_outcome(
    accuracy: float,
    zero_shot: float | None,
    majority: float | None = None,
    when: str = "after training",
) -> Verdict:
    """A task's accuracy (right after it was trained, or on the run's final row) against what
    needs no learning: the bare backbone's on the same examples, and always answering the most
    frequent label. At or below either, the task is not shown to be learned."""
    for name, baseline in (("zero-shot", zero_shot), ("the majority class", majority)):
        if baseline is not None and accuracy <= baseline:
            return Verdict(
                Health.DID_NOT_LEARN,
                f"accuracy {accuracy:.3f} {when} is at or below {name} {baseline:.3f}",
            )
    return OK
