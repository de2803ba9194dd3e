"""A schedule written out task by task (`routing.expert_of_task`), for ablations."""

from __future__ import annotations

from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.reuse import FixedAssignment
from adaptive_learner.domain.task import Task


class FixedRule:
    """Task i joins the expert made for task `assignment[i]`."""

    def __init__(self, assignment: FixedAssignment) -> None:
        self.assignment = assignment

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        experts = [state.library.expert_for(t).id for t in state.task_ids[:step]]
        return Choice(self.assignment.decide(step, experts))

    def learns_again(self, step: int, total: int) -> bool:
        return self.assignment.learns_again(step, total)
