"""RunSequence: drive an experiment over a task sequence and return its state."""

from __future__ import annotations

from attrs import evolve

from adaptive_learner.application.evaluate_routing import EvaluateRouting
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.learn_task import LearnTask
from adaptive_learner.application.ports import AdapterStore, RunStore, TaskSource, Tracker
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.divergence import TrainingDiverged, judge_outcome
from adaptive_learner.domain.errors import DomainError


class RunSequence:
    """Zero-shot baseline, then for each task: learn it, evaluate all tasks so far, save.

    State is saved after the zero-shot pass and after every task, so a run that stops
    resumes at the first task whose matrix row was not saved.
    """

    def __init__(
        self,
        source: TaskSource,
        learn: LearnTask,
        evaluate: EvaluateSequence,
        store: AdapterStore,
        run_store: RunStore,
        tracker: Tracker,
        keep_checkpoints: bool = False,
        evaluate_routing: EvaluateRouting | None = None,
    ) -> None:
        self.source, self.learn, self.evaluate = source, learn, evaluate
        self.store, self.run_store, self.tracker = store, run_store, tracker
        self.keep_checkpoints, self.evaluate_routing = keep_checkpoints, evaluate_routing

    def __call__(self) -> RunState:
        tasks = self.source.load()
        saved = self.run_store.load_state()
        if saved is None:
            state = RunState.new(tasks)
        else:
            state = RunState.from_dict(saved)
            if state.task_ids != tasks.ids:
                raise DomainError(
                    f"the run's tasks are {list(state.task_ids)},"
                    f" but the data now gives {list(tasks.ids)}; "
                    "restore the data folder (or data.tasks) the run started with"
                )
            for expert in state.library:
                self.store.load_expert(expert.id, expert.adapter_ref)
            self.tracker.log_event("resumed", completed=state.completed)
            state.stopped = None
        if not state.zero_shot_done:
            self.evaluate.zero_shot(state, tasks)
            self.run_store.save_state(state.to_dict())
        for step in range(state.completed, len(tasks)):
            before = state.to_dict()
            try:
                report = self.learn(state, step, tasks[step])
            except TrainingDiverged as exc:
                # Saved as it was before the task (no half-made expert), plus why the run stopped.
                self.run_store.save_state({**before, "stopped": str(exc)})
                raise
            state.reports.append(report)
            self.evaluate(state, tasks, step)
            verdict = judge_outcome(
                state.accuracy[step, step],
                state.accuracy.zero_shot.get(step),
                state.majority.get(report.task_id),
            )
            if not verdict.ok:
                state.reports[-1] = report = evolve(
                    report, health=str(verdict.health), health_reason=verdict.reason
                )
                self.tracker.log_event(
                    str(verdict.health),
                    task=report.task_id,
                    expert=report.expert_id,
                    reason=verdict.reason,
                )
            self.run_store.save_state(state.to_dict())
            self.tracker.log_event(  # "trained", not "learned": a flagged task says so
                "task_trained",
                task=report.task_id,
                expert=report.expert_id,
                health=report.health,
                decision=str(report.decision.action),
                epochs=report.epochs_run,
                accuracy=state.accuracy[step, step],
                seconds=round(report.seconds, 2),
            )
        self._judge_final_row(state)
        routing = self.evaluate_routing
        done = state.router is not None and state.router.evaluation
        if routing is not None and state.completed and not done:
            routing(state)  # routing and task-free accuracy beside the task-given matrix
            self.run_store.save_state(state.to_dict())
        self.tracker.log_metrics(
            {k: v for k, v in state.accuracy.summary().items() if v is not None}
        )
        self.tracker.log_matrix(state.task_ids, state.accuracy.rows())
        if not self.keep_checkpoints:
            self.store.discard_checkpoints()
        return state

    def _judge_final_row(self, state: RunState) -> None:
        """Judge every task again on the final row, beside the judgement after its training."""
        if not state.finished:
            return
        last = state.completed - 1
        for j, report in enumerate(state.reports):
            verdict = judge_outcome(
                state.accuracy[last, j],
                state.accuracy.zero_shot.get(j),
                state.majority.get(report.task_id),
                when="at the end",
            )
            state.reports[j] = evolve(
                report, end_health=str(verdict.health), end_health_reason=verdict.reason
            )
            if not verdict.ok and report.end_health == "ok":
                self.tracker.log_event(
                    str(verdict.health), task=report.task_id, when="end", reason=verdict.reason
                )
        self.run_store.save_state(state.to_dict())
