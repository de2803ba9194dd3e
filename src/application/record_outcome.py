"""What a decision led to: a reuse's measured cost, fresh profiles and keys, the decision log.

`before` runs before the task trains and returns a `Pending` record that `after` is handed;
`after` runs once early stopping restored the best weights and consolidation ran, before the
expert is saved (docs/adr/0032); the library already lists the task under its expert.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from attrs import frozen

from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.input_router import InputRouter
from adaptive_learner.application.ports import Encoder, Learner, Tracker
from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.calibration import ReuseOutcome, mean_change_se
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.probe import ProbeGap
from adaptive_learner.domain.reuse import ReuseAction
from adaptive_learner.domain.task import Task


@frozen
class Pending:
    """A decision whose outcome is not measured yet: what `after` compares with."""

    step: int
    task: Task
    choice: Choice
    before: dict[str, Score]  # dev scores of a reused expert's earlier tasks, before training


class OutcomeRecord(Protocol):
    """What LearnTask asks of a decision's record: `before` training, then `after` it."""

    def before(self, state: RunState, step: int, task: Task, choice: Choice) -> Pending: ...

    def after(self, state: RunState, expert_id: str, pending: Pending) -> float:
        """Record the outcome; returns the seconds of it that were the task-free router's upkeep
        (the task's key and the router's fit), which are not deciding (docs/adr/0063)."""
        ...


class RecordOutcome:
    """Measure a reuse's forgetting, teach the router from it, re-profile the expert (or drop its
    profile until a decision reads it, docs/adr/0065), log."""

    def __init__(
        self,
        learner: Learner,
        catalog: TaskCatalog,
        profiles: TaskProfiles,
        router: InputRouter,
        tracker: Tracker,
    ) -> None:
        self.learner, self.catalog, self.profiles, self.router = learner, catalog, profiles, router
        self.tracker, self.settings = tracker, profiles.settings

    def before(self, state: RunState, step: int, task: Task, choice: Choice) -> Pending:
        """Dev scores of a reused expert's earlier tasks; those the probe took (on the same
        expert, its copy thrown away) are taken as they are, the rest are scored now."""
        decision = choice.decision
        if decision.action is not ReuseAction.REUSE:
            return Pending(step, task, choice, {})
        assert decision.expert_id is not None  # ReuseDecision requires one for a reuse
        expert = state.library.get(decision.expert_id)
        scores = {
            t: choice.scored.get(t) or self._dev(expert.id, t)
            for t in expert.tasks
            if self.catalog.has_dev(t)
        }
        return Pending(step, task, choice, scores)

    def after(self, state: RunState, expert_id: str, pending: Pending) -> float:
        memory, task, choice = self.settings.memory(state), pending.task, pending.choice
        entry = self._entry(pending.step, task, expert_id, choice)
        if pending.before:
            entry.update(self._outcome(state, expert_id, choice, pending.before))
        if self.profiles.deferred(state):  # taken when a decision reads it (docs/adr/0065)
            memory.expert_profiles.pop(expert_id, None)
        else:
            memory.expert_profiles[expert_id] = self.profiles.expert_profile(state, expert_id)
        memory.decisions.append(entry)
        started = time.perf_counter()
        memory.task_keys[task.id] = self.router.key(task)
        self.router.fit(state)
        upkeep = time.perf_counter() - started
        hidden = ("scores", "probabilities")
        self.tracker.log_event(
            "router_decision", **{k: v for k, v in entry.items() if k not in hidden}
        )
        return upkeep

    def _entry(self, step: int, task: Task, expert_id: str, choice: Choice) -> dict[str, Any]:
        d = choice.decision
        entry = {
            "step": step, "task": task.id, "action": str(d.action), "expert": expert_id,
            "score": d.score, "probability": d.probability, "reason": d.reason,
            "scores": dict(d.scores), "probabilities": dict(d.probabilities), "tau": d.tau,
        }  # fmt: skip
        if choice.probes is not None:
            entry["probes"], entry["probe_seconds"] = choice.probes, choice.probe_seconds
        if choice.screened:
            entry["screened"] = choice.screened
        return entry

    def _outcome(
        self, state: RunState, expert_id: str, choice: Choice, before: dict[str, Score]
    ) -> dict[str, Any]:
        """The reuse's forgetting against its noise, recorded in the router memory (ADR 0044),
        and how far the earlier tasks ended from the probe's copy (ADR 0048)."""
        memory, s = self.settings.memory(state), self.settings
        after = {t: self._dev(expert_id, t) for t in before}
        forgetting = sum(before[t].accuracy - after[t].accuracy for t in before) / len(before)
        noise = mean_change_se(
            [(before[t].accuracy, after[t].accuracy, max(1, before[t].n)) for t in before]
        )
        outcome = ReuseOutcome(similarity=choice.decision.score, forgetting=forgetting, noise=noise)
        out: dict[str, Any] = {
            "works": memory.record_outcome(
                expert_id, outcome, s.tol_forget, s.tol_new, s.outcome_z
            ),
            "forgetting": forgetting,
            "forgetting_se": noise,
            "tau_after": memory.threshold.tau,
        }
        probed = (choice.probes or {}).get(expert_id, {}).get("earlier", {})
        gap = ProbeGap.measure(
            {t: e["after"] for t, e in probed.items()},
            {t: a.accuracy for t, a in after.items()},
            {t: e["n"] for t, e in probed.items()},
        )
        if gap is not None:
            out["probe_gap"] = gap.to_dict()
        return out

    def _dev(self, expert_id: str, task_id: str) -> Score:
        return self.learner.score(
            expert_id, self.catalog.task(task_id), self.settings.decision_split
        )


class KeepProfile:
    """The outcome record of a run that routes by schedule: the task's profile, nothing else."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def before(self, state: RunState, step: int, task: Task, choice: Choice) -> Pending:
        return Pending(step, task, choice, {})

    def after(self, state: RunState, expert_id: str, pending: Pending) -> float:
        state.task_profiles[pending.task.id] = self.encoder.profile(pending.task)
        return 0.0  # the task-free router is fitted at the evaluation
