"""RouteQuery: which expert a new task, or a single input, should go to."""

from __future__ import annotations

from adaptive_learner.application.ports import Encoder
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.routing import ReuseDecision, SharingSchedule, SimilarityRouter
from adaptive_learner.domain.task import Task


class RouteQuery:
    """Decide reuse / create / fork for a task, or pick the nearest expert for a text.

    With a `SharingSchedule` the decision depends only on the task's position; with a
    `SimilarityRouter` it compares the task's profile with each expert's profile.
    """

    def __init__(self, encoder: Encoder, rule: SharingSchedule | SimilarityRouter) -> None:
        self.encoder = encoder
        self.rule = rule

    def for_task(self, task: Task, step: int, state: RunState) -> ReuseDecision:
        if isinstance(self.rule, SharingSchedule):
            previous = state.library.expert_for(state.task_ids[step - 1]).id if step > 0 else None
            return self.rule.decide(step, previous)
        return self.rule.decide(self.encoder.profile(task), state.expert_profiles())

    def for_text(self, text: str, state: RunState) -> ReuseDecision:
        router = self.rule if isinstance(self.rule, SimilarityRouter) else SimilarityRouter()
        return router.nearest(self.encoder.embed(text), state.expert_profiles())
