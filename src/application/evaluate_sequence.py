"""EvaluateSequence: fill one row of the accuracy matrix."""

from __future__ import annotations

from adaptive_learner.application.ports import AdapterStore, Learner, Tracker
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import TaskSequence


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
        """Row `row` of R. Scoring is deterministic, so a task whose expert did not train in this
        step keeps its previous cell (the same weights on the same examples) instead of being
        re-scored: one pass per changed expert, not T(T+1)/2 passes over the data."""
        trained = state.reports[row].expert_id if len(state.reports) > row else None
        for j in range(row + 1):
            task = tasks[j]
            expert = state.library.expert_for(task.id)
            if j < row and expert.id != trained and state.accuracy.get(row - 1, j) is not None:
                state.accuracy.record(row, j, state.accuracy[row - 1, j])
                state.balanced.record(row, j, state.balanced[row - 1, j])
                continue
            score = self.learner.score(expert.id, task, self.split)
            state.accuracy.record(row, j, score.accuracy)
            state.balanced.record(row, j, score.balanced_accuracy)
            self.tracker.log_metrics({f"R/{task.id}": score.accuracy}, step=row, axis="after_task")

    def rescore(
        self, state: RunState, tasks: TaskSequence, store: AdapterStore
    ) -> dict[str, Score]:
        """Load a finished run's saved experts and score every learned task again (a
        reproducibility check)."""
        for expert in state.library:
            store.load_expert(expert.id, expert.adapter_ref)
        return {
            t: self.learner.score(
                state.library.expert_for(t).id, tasks[tasks.index_of(t)], self.split
            )
            for t in state.task_ids[: state.completed]
        }
