"""The adaptive rule: calibrated p_reuse, the transfer probe, UCB and an adaptive tau.

The decision math is domain/adaptive_reuse.py (docs/adr/0031, 0042, 0044, 0046); this gathers its
evidence: the task's profile and its nearest experts (TaskProfiles) and the probe (TransferProbe).
Where every decision is measured (TaskProfiles.deferred), the probe runs first and the profiles are
taken only if the decision asks for them: an exact tie to break (docs/adr/0065).
"""

from __future__ import annotations

from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.reuse import Choice
from adaptive_learner.application.reuse.probe import Probed, TransferProbe
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter, SimilarityNeeded
from adaptive_learner.domain.reuse import ReuseAction, ReuseDecision, decided_later
from adaptive_learner.domain.task import Task


class AdaptiveRule:
    """Reuse the expert the evidence favours, or make a new one (see the module docstring)."""

    def __init__(
        self, profiles: TaskProfiles, probe: TransferProbe, router: AdaptiveRouter
    ) -> None:
        self.profiles, self.probe, self.router = profiles, probe, router

    def decide(self, task: Task, step: int, state: RunState) -> Choice:
        memory = self.profiles.settings.memory(state)
        experts = [e.id for e in state.library]
        # profiles wait for a tie where every candidate is measured, none picked as nearest (0065)
        if self.profiles.deferred(state) and len(experts) <= self.profiles.settings.top_k:
            if not experts:  # nothing to compare
                first = self.router.decide_from([], None, memory.calibrator, memory.threshold)
                return Choice(first)
            if self.probe.wanted(task, experts):
                return self._measured(task, state, experts)
        profile, nearest = self.profiles.nearest(task, state)
        probed = None
        if not memory.threshold.always_new and self.probe.wanted(task, nearest):
            probed = self.probe(task, state, self.router.candidates(profile, nearest))
        decision = self.router.decide(
            profile,
            nearest,
            memory.calibrator,
            memory.threshold,
            memory.arms,
            probed.results if probed else {},
        )
        return self._choice(decision, probed)

    def _measured(self, task: Task, state: RunState, experts: list[str]) -> Choice:
        """The probe measures every expert it trains; the cosines (nearest first) are computed
        only if the screen or the decision meets an exact tie (docs/adr/0065)."""
        memory = self.profiles.settings.memory(state)
        cosines: dict[str, float] = {}

        def similarity() -> dict[str, float]:
            if not cosines:
                cosines.update(self.router.candidates(*self.profiles.nearest(task, state)))
            return cosines

        probed = self.probe(task, state, experts, order=lambda: list(similarity()))
        evidence = (memory.calibrator, memory.threshold, memory.arms, probed.results)
        try:  # with the cosines where the screen took them, so the evidence shows them
            decision = self.router.decide_from(list(cosines) or experts, cosines or None, *evidence)
        except SimilarityNeeded:
            decision = self.router.decide_from(list(similarity()), similarity(), *evidence)
        return self._choice(decision, probed)

    @staticmethod
    def _choice(decision: ReuseDecision, probed: Probed | None) -> Choice:
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
