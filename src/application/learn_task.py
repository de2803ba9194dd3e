"""LearnTask: route -> decide -> train -> consolidate -> update the expert's profile -> save."""

from __future__ import annotations

import time

from attrs import asdict

from adaptive_learner.application.ports import AdapterStore, Learner, Tracker, TrainingSession
from adaptive_learner.application.record_outcome import OutcomeRecord
from adaptive_learner.application.reuse import ReuseRule
from adaptive_learner.application.state import RunState, TaskReport
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.divergence import TrainingDiverged, judge_epoch
from adaptive_learner.domain.early_stopping import EarlyStopping
from adaptive_learner.domain.expert import Expert
from adaptive_learner.domain.reuse import ReuseAction, ReuseDecision
from adaptive_learner.domain.task import Task


class LearnTask:
    """Teach one task to the expert the router picks, under the consolidation policy.

    With `early_stopping` set, the dev accuracy is checked after every epoch and the best
    epoch's weights are restored at the end; without it all `epochs` run.
    """

    def __init__(
        self,
        learner: Learner,
        store: AdapterStore,
        rule: ReuseRule,
        outcome: OutcomeRecord,
        tracker: Tracker,
        policy: ConsolidationPolicy,
        epochs: int,
        early_stopping: EarlyStopping | None,
    ) -> None:
        self.learner, self.store, self.rule, self.outcome = learner, store, rule, outcome
        self.tracker, self.policy, self.epochs = tracker, policy, epochs
        self.early_stopping = early_stopping

    def __call__(self, state: RunState, step: int, task: Task) -> TaskReport:
        started = time.perf_counter()
        choice = self.rule.decide(task, step, state)
        decision = choice.decision
        routing = time.perf_counter() - started  # deciding and recording it, not training
        expert = self._materialise(state, step, decision)
        self.tracker.log_event(
            "routed",
            task=task.id,
            expert=expert.id,
            action=str(decision.action),
            reason=decision.reason,
        )
        if step > 0:
            self._record_before(state, step, task, expert.id, decision)
        mark = time.perf_counter()
        pending = self.outcome.before(state, step, task, choice)  # a reuse's cost is measured on it
        routing += time.perf_counter() - mark

        session = self._continued(decision, expert.id, task) or self.learner.start(
            expert.id, task, self.policy
        )
        stopper, dev_history, losses, first, initial_loss = self.early_stopping, [], [], 1, None
        compute = {"steps": 0, "rows": 0}
        saved = session.load_checkpoint()  # a run killed mid-task continues after its last epoch
        if saved is not None:
            first, dev_history, losses = (
                saved["epoch"] + 1,
                list(saved["dev_history"]),
                list(saved["losses"]),
            )
            initial_loss = saved.get("initial_loss")
            compute = {k: saved.get(k, 0) for k in compute}
            stopper = EarlyStopping(**saved["stopper"]) if saved["stopper"] is not None else stopper
            self.tracker.log_event(
                "resumed_task", task=task.id, expert=expert.id, after_epoch=saved["epoch"]
            )
        epochs_run = first - 1
        for epoch in range(first, self.epochs + 1):
            if stopper is not None and stopper.should_stop:
                break
            report = session.train_epoch()
            routing -= report.carried_seconds  # the probe copy's steps were this training's first
            compute["steps"] += report.steps
            compute["rows"] += report.rows
            for i, loss in enumerate(report.step_losses):
                self.tracker.log_metrics(
                    {f"{task.id}/step_loss": loss},
                    step=(epoch - 1) * report.steps + i + 1,
                    axis=f"{task.id}/step",
                )
            if initial_loss is None:
                initial_loss = report.step_losses[0] if report.step_losses else report.train_loss
            verdict = judge_epoch(epoch, report.train_loss, initial_loss, report.weight_scale)
            if (
                not verdict.ok
            ):  # before any checkpoint: a resume restarts from the last healthy epoch
                self.tracker.log_event(
                    "diverged", task=task.id, expert=expert.id, epoch=epoch, reason=verdict.reason
                )
                raise TrainingDiverged(
                    f"task {task.id!r} diverged: {verdict.reason};"
                    " continue with `resume RUN --set training.learning_rate=<lower>`"
                )
            epochs_run, metrics = epoch, {f"{task.id}/train_loss": report.train_loss}
            losses.append(report.train_loss)
            if stopper is not None:
                dev = session.validate()
                dev_history.append(dev)
                metrics[f"{task.id}/dev_accuracy"] = dev
                stopper = stopper.observe(dev)
                if stopper.improved:
                    session.keep_best()
            self.tracker.log_metrics(metrics, step=epoch, axis=f"{task.id}/epoch")
            session.save_checkpoint(
                {
                    "epoch": epoch,
                    "dev_history": dev_history,
                    "losses": losses,
                    "initial_loss": initial_loss,
                    "stopper": None if stopper is None else asdict(stopper),
                    **compute,
                }
            )
        if stopper is not None:
            session.restore_best()

        # Signals cost a dev pass on the HF backbone; only gamma gating needs them.
        fisher_scale = self.policy.fisher_scale(session.signals()) if self.policy.gated else 1.0
        if self.policy.uses_ewc or self.policy.uses_replay:
            if self.rule.learns_again(step, len(state.task_ids)):
                self.learner.consolidate(expert.id, task, self.policy, fisher_scale)
            else:  # docs/adr/0041: nothing later would read it
                self.tracker.log_event(
                    "consolidation_skipped",
                    task=task.id,
                    expert=expert.id,
                    reason="the expert learns no later task",
                )
        expert = state.library.assign(task.id, expert.id)
        # after early stopping and consolidation, before saving (docs/adr/0032)
        mark = time.perf_counter()
        upkeep = self.outcome.after(state, expert.id, pending)
        routing += time.perf_counter() - mark - upkeep
        expert = state.library.set_adapter_ref(
            expert.id, self.store.save_expert(expert.id, expert.tasks)
        )
        return TaskReport(
            step=step,
            task_id=task.id,
            expert_id=expert.id,
            decision=decision,
            epochs_run=epochs_run,
            best_epoch=stopper.best_epoch if stopper is not None else epochs_run,
            seconds=time.perf_counter() - started,
            routing_seconds=routing,
            router_seconds=upkeep,
            train_steps=compute["steps"],
            train_rows=compute["rows"],
            fisher_scale=fisher_scale,
            dev_history=tuple(dev_history),
            train_losses=tuple(losses),
            stopped_early=stopper is not None and epochs_run < self.epochs,
        )

    def _record_before(
        self, state: RunState, step: int, task: Task, expert_id: str, decision: ReuseDecision
    ) -> None:
        """R[step-1][step], the routed expert on the task before training it (for FWT).

        A new expert starts as the bare backbone (LoRA B = 0), so its score is b[step].
        """
        if decision.action is ReuseAction.CREATE and step in state.accuracy.zero_shot:
            state.accuracy.record(step - 1, step, state.accuracy.zero_shot[step])
            state.balanced.record(step - 1, step, state.balanced.zero_shot[step])
            return
        score = self.learner.score(expert_id, task)
        state.accuracy.record(step - 1, step, score.accuracy)
        state.balanced.record(step - 1, step, score.balanced_accuracy)

    def _continued(
        self, decision: ReuseDecision, expert_id: str, task: Task
    ) -> TrainingSession | None:
        """The probe's trained copy of the chosen option, whose steps are this training's first
        (docs/adr/0057); None when the learner kept none (or the decision forks)."""
        if decision.action is ReuseAction.FORK:
            self.learner.drop_trials()
            return None
        source = decision.expert_id if decision.action is ReuseAction.REUSE else None
        return self.learner.adopt(source, expert_id, task, self.policy)

    def _materialise(self, state: RunState, step: int, decision: ReuseDecision) -> Expert:
        if decision.action is ReuseAction.REUSE:
            assert decision.expert_id is not None  # ReuseDecision requires one for a reuse
            return state.library.get(decision.expert_id)
        parent = decision.expert_id if decision.action is ReuseAction.FORK else None
        expert = state.library.create(step=step, parent=parent)
        self.learner.new_expert(expert.id, parent)
        return expert
