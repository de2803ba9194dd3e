"""Reuse rules: which expert a new task goes to (docs/adr/0049).

Every rule implements `ReuseRule`, one module each, the way PEFT keeps one folder per tuner:

  schedule.py    the seed's shared-LoRA schedule (position only)
  fixed.py       a schedule written out task by task (ablations, counterfactual runs)
  similarity.py  reuse / fork / new by profile cosine against fixed thresholds
  adaptive.py    calibrated p_reuse, the transfer probe, UCB and an adaptive tau

Bootstrap picks one from a single table (bootstrap/routing.py); no caller branches on which.
A rule returns a `Choice`: the decision and what was measured to make it, handed on explicitly to
the outcome record (application/record_outcome.py) instead of being cached between calls.
"""

from __future__ import annotations

from typing import Any, Protocol

from attrs import field, frozen

from adaptive_learner.application.state import RunState
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.reuse import ReuseDecision
from adaptive_learner.domain.task import Task


@frozen
class Choice:
    """A rule's decision with its measurements: the probe's results per candidate (logged), how
    long the probe took, the chosen expert's earlier tasks' dev scores it took before any
    training (a reuse's outcome is measured against them), and the screen that picked which
    candidates the probe trained (the new task's dev accuracy under each as it is)."""

    decision: ReuseDecision
    probes: dict[str, dict[str, Any]] | None = None  # None: no probe ran
    probe_seconds: float = 0.0
    scored: dict[str, Score] = field(factory=dict)
    screened: dict[str, float] = field(factory=dict)


class ReuseRule(Protocol):
    """Decide reuse / create / fork for the task at position `step` of the run."""

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        """The decision for `task`; may profile and probe, never trains a real expert."""
        ...

    def learns_again(self, step: int, total: int) -> bool:
        """Whether the expert of task `step` can learn (or be forked for) a later task of the
        `total`: a fixed schedule knows; a rule that decides from evidence may pick any expert
        for any later task. Consolidation nothing reads again is skipped (docs/adr/0041)."""
        ...
