"""RunSequence: drive an experiment over a task sequence and return its state."""

from __future__ import annotations

from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.learn_task import LearnTask
from adaptive_learner.application.ports import AdapterStore, RunStore, TaskSource, Tracker
from adaptive_learner.application.state import RunState


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
    ) -> None:
        self.source, self.learn, self.evaluate = source, learn, evaluate
        self.store, self.run_store, self.tracker = store, run_store, tracker

    def __call__(self) -> RunState:
        tasks = self.source.load()
        saved = self.run_store.load_state()
        if saved is None:
            state = RunState.new(tasks)
        else:
            state = RunState.from_dict(saved)
            if state.task_ids != tasks.ids:
                raise ValueError(f"saved run learned {list(state.task_ids)}, but the tasks are now {list(tasks.ids)}")
            for expert in state.library:
                self.store.load_expert(expert.id, expert.adapter_ref)
            self.tracker.log_event("resumed", completed=state.completed)
        if not state.zero_shot_done:
            self.evaluate.zero_shot(state, tasks)
            self.run_store.save_state(state.to_dict())
        for step in range(state.completed, len(tasks)):
            report = self.learn(state, step, tasks[step])
            state.reports.append(report)
            self.evaluate(state, tasks, step)
            self.run_store.save_state(state.to_dict())
            self.tracker.log_event(
                "task_learned",
                task=report.task_id,
                expert=report.expert_id,
                decision=str(report.decision.action),
                epochs=report.epochs_run,
                accuracy=state.accuracy[step, step],
                seconds=round(report.seconds, 2),
            )
        self.tracker.log_metrics({k: v for k, v in state.accuracy.summary().items() if v is not None})
        self.tracker.log_matrix(state.task_ids, state.accuracy.rows())
        return state
