"""EvaluateSequence: fill one row of the accuracy matrix."""

from __future__ import annotations

from application.ports import Learner, Tracker
from application.state import RunState
from domain.task import TaskSequence


class EvaluateSequence:
    """Score every task learned so far with the expert that learned it (row `row` of R)."""

    def __init__(self, learner: Learner, tracker: Tracker, split: str = "validation") -> None:
        self.learner, self.tracker, self.split = learner, tracker, split

    def zero_shot(self, state: RunState, tasks: TaskSequence) -> None:
        """b[j]: the bare backbone on every task, for FWT and as a reference."""
        for j, task in enumerate(tasks):
            score = self.learner.score(None, task, self.split)
            state.accuracy.record_zero_shot(j, score.accuracy)
            state.balanced.record_zero_shot(j, score.balanced_accuracy)
            state.majority[task.id] = score.majority_baseline
            self.tracker.log_event("zero_shot", task=task.id, accuracy=score.accuracy)
        state.zero_shot_done = True

    def __call__(self, state: RunState, tasks: TaskSequence, row: int) -> None:
        for j in range(row + 1):
            task = tasks[j]
            expert = state.library.expert_for(task.id)
            score = self.learner.score(expert.id, task, self.split)
            state.accuracy.record(row, j, score.accuracy)
            state.balanced.record(row, j, score.balanced_accuracy)
            self.tracker.log_metrics({f"R/{task.id}": score.accuracy}, step=row)
