"""RouteQuery: which expert a new task, or a single input, should go to."""

from __future__ import annotations

from adaptive_learner.application.adaptive_routing import AdaptiveRouting
from adaptive_learner.application.ports import Encoder, LabelledInput
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.routing import (
    FixedAssignment,
    ReuseAction,
    ReuseDecision,
    SharingSchedule,
    SimilarityRouter,
    decided_later,
)
from adaptive_learner.domain.task import Task


class RouteQuery:
    """Decide reuse / create / fork for a task, or pick the expert for a text.

    With a `SharingSchedule` the decision depends only on the task's position; with `adaptive`
    (strategies 'similarity' and 'adaptive') the profiles, calibrated p_reuse, UCB and tau of
    `AdaptiveRouting` decide, and a text is routed in the representation of the stored task keys.
    """

    def __init__(
        self,
        encoder: Encoder,
        rule: SharingSchedule | SimilarityRouter | FixedAssignment,
        adaptive: AdaptiveRouting | None = None,
    ) -> None:
        self.encoder = encoder
        self.rule = rule
        self.adaptive = adaptive

    def for_task(self, task: Task, step: int, state: RunState) -> ReuseDecision:
        if self.adaptive is not None:
            return self.adaptive.decide(task, state)
        if isinstance(self.rule, FixedAssignment):
            return self.rule.decide(
                step, [state.library.expert_for(t).id for t in state.task_ids[:step]]
            )
        if isinstance(self.rule, SharingSchedule):
            previous = state.library.expert_for(state.task_ids[step - 1]).id if step > 0 else None
            return self.rule.decide(step, previous)
        return self.rule.decide(self.encoder.profile(task), state.expert_profiles())

    def learns_again(self, step: int, state: RunState) -> bool:
        """Whether the expert of task `step` can learn (or be forked for) a later task of the run.

        Fixed schedules know; a router that decides from evidence may pick any expert for any later
        task. Consolidation for an expert that never learns again is work nothing uses (docs/adr/0041)."""
        total = len(state.task_ids)
        return (
            decided_later(step, total)
            if self.adaptive is not None
            else self.rule.learns_again(step, total)
        )

    def for_text(self, text: str, state: RunState) -> ReuseDecision:
        if self.adaptive is not None:
            ranked = self.adaptive.route_inputs([LabelledInput(text)], state, k=3)[0]
            task_id, p = ranked[0]
            expert = state.library.expert_for(task_id).id
            others = ", ".join(f"{t} {q:.2f}" for t, q in ranked[1:])
            return ReuseDecision(
                ReuseAction.REUSE,
                expert,
                p,
                p,
                f"nearest task {task_id}" + (f" (next: {others})" if others else ""),
                probabilities=dict(ranked),
            )
        router = self.rule if isinstance(self.rule, SimilarityRouter) else SimilarityRouter()
        return router.nearest(self.encoder.embed(text), state.expert_profiles())
