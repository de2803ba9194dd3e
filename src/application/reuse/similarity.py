"""Reuse, fork or create by the cosine of the task's profile with each expert's profile."""

from __future__ import annotations

from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.reuse import SimilarityRouter, decided_later
from adaptive_learner.domain.task import Task


class SimilarityRule:
    """`SimilarityRouter`'s fixed thresholds over the nearest experts' profiles."""

    def __init__(self, profiles: TaskProfiles, thresholds: SimilarityRouter) -> None:
        self.profiles, self.thresholds = profiles, thresholds

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        profile, experts = self.profiles.nearest(task, state)
        return Choice(self.thresholds.decide(profile, experts))

    def learns_again(self, step: int, total: int) -> bool:
        return decided_later(step, total)
