"""The seed's rule: the first N tasks share one LoRA, later tasks get their own."""

from __future__ import annotations

from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.reuse import SharingSchedule
from adaptive_learner.domain.task import Task


class ScheduleRule:
    """`SharingSchedule` over the run's library: the previous task's expert, or a new one."""

    def __init__(self, schedule: SharingSchedule) -> None:
        self.schedule = schedule

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        previous = state.library.expert_for(state.task_ids[step - 1]).id if step > 0 else None
        return Choice(self.schedule.decide(step, previous))

    def learns_again(self, step: int, total: int) -> bool:
        return self.schedule.learns_again(step, total)
