"""The adaptive rule: calibrated p_reuse, the transfer probe, UCB and an adaptive tau.

The decision math is domain/adaptive_reuse.py (docs/adr/0031, 0042, 0044, 0046); this gathers its
evidence: the task's profile and its nearest experts (TaskProfiles) and the probe (TransferProbe).
"""

from __future__ import annotations

from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.reuse.probe import TransferProbe
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter
from adaptive_learner.domain.reuse import ReuseAction, decided_later
from adaptive_learner.domain.task import Task


class AdaptiveRule:
    """Reuse the expert the evidence favours, or make a new one (see the module docstring)."""

    def __init__(
        self, profiles: TaskProfiles, probe: TransferProbe, router: AdaptiveRouter
    ) -> None:
        self.profiles, self.probe, self.router = profiles, probe, router

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        memory = self.profiles.settings.memory(state)
        profile, experts = self.profiles.nearest(task, state)
        probed = None
        if not memory.threshold.always_new and self.probe.wanted(task, experts):
            probed = self.probe(task, state, self.router.candidates(profile, experts))
        decision = self.router.decide(
            profile,
            experts,
            memory.calibrator,
            memory.threshold,
            memory.arms,
            probed.results if probed else {},
        )
        if probed is None:
            return Choice(decision)
        chosen = decision.expert_id if decision.action is ReuseAction.REUSE else None
        return Choice(
            decision,
            probes={e: r.to_dict() for e, r in probed.results.items()},
            probe_seconds=probed.seconds,
            scored=probed.scored.get(chosen, {}) if chosen else {},
            screened=probed.screened,
        )

    def learns_again(self, step: int, total: int) -> bool:
        return decided_later(step, total)
