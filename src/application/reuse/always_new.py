"""One expert per task: `routing.router_confidence_threshold >= 1` under any rule, as the seed
uses it (the adaptive rule reads the threshold itself and keeps its evidence)."""

from __future__ import annotations

from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.reuse import ReuseDecision
from adaptive_learner.domain.task import Task


class AlwaysNew:
    """Every task gets a new expert; no expert learns a second task."""

    def __init__(self, tau: float) -> None:
        self.tau = tau

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        reason = f"router_confidence_threshold {self.tau:g} >= 1: always a new expert"
        return Choice(ReuseDecision.create("no expert yet" if step == 0 else reason))

    def learns_again(self, step: int, total: int) -> bool:
        return False
