"""The transfer probe: the new task's dev accuracy under each candidate and under a fresh start.

Zero-step (docs/adr/0034): the candidates as they are, the fresh start being the bare backbone.
Trained (`probe_steps` k > 0, docs/adr/0040): throwaway copies of candidates and of a fresh LoRA
trained k steps under the consolidation policy, with the candidate's earlier tasks scored before
and after, so the evidence is the change of summed dev accuracy (plain accuracy, what the matrix
reports; docs/adr/0048). Before it (docs/adr/0060), when there are more candidates than
`probe_candidates`, every candidate answers the new task's dev inputs as it is (forward passes
only) and the best-answering ones are trained, ties kept in the similarity order. Where a trained
probe ties, the starting points (the candidate as it is, the bare backbone) are its evidence; they
are measured then, and only then (docs/adr/0063). The math is domain/probe.py; this gathers the
measurements through the Learner port.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence

from attrs import evolve, field, frozen

from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.ports import Learner
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.probe import EarlierTask, ProbeResult
from adaptive_learner.domain.task import Task


@frozen
class Probed:
    """The probe's results per candidate, the earlier tasks' dev scores it took per candidate
    (before any training), its wall time, and the screen that chose which candidates to train
    (the new task's dev accuracy under each expert as it is; empty when none was needed)."""

    results: dict[str, ProbeResult]
    scored: dict[str, dict[str, Score]]
    seconds: float
    screened: dict[str, float] = field(factory=dict)


class TransferProbe:
    """Measure each option on the new task's dev inputs before deciding (docs/adr/0034, 0040)."""

    def __init__(
        self,
        learner: Learner,
        catalog: TaskCatalog,
        settings: RoutingSettings,
        policy: ConsolidationPolicy,
    ) -> None:
        self.learner, self.catalog, self.settings, self.policy = learner, catalog, settings, policy

    def wanted(self, task: Task, experts: Collection[str]) -> bool:
        """Whether a probe runs: it is on, there are experts, and the task has dev inputs."""
        return bool(self.settings.probe_candidates and experts and self.catalog.has_dev(task.id))

    def __call__(
        self,
        task: Task,
        state: RunState,
        candidates: Iterable[str],
        order: Callable[[], Sequence[str]] | None = None,
    ) -> Probed:
        """Probe `probe_candidates` of `candidates` (nearest first): the first ones for the
        zero-step probe, the best-answering ones as they are for the trained probe. `order`: the
        candidates nearest first, asked for only when the screen ties at the last place trained
        (then `candidates` need not be in that order; docs/adr/0065)."""
        n, k = self.settings.probe_candidates, self.settings.probe_steps
        split = self.settings.decision_split  # the dev inputs a decision reads (ADR 0064)
        started = time.perf_counter()
        candidates, screened = list(candidates), {}
        if k and len(candidates) > n:  # which candidates to train: the best as they are
            screened = {e: self.learner.score(e, task, split).accuracy for e in candidates}
            ranked = sorted(screened.values(), reverse=True)
            if order is not None and n and ranked[n - 1] == ranked[n]:
                candidates = list(order())  # a tie at the cut is broken nearest first
            candidates.sort(key=lambda e: -screened[e])  # stable: ties stay nearest first
        # the id a new expert would get, so the fresh copy starts as that expert would (ADR 0048)
        as_id = state.library.next_id()
        if k:
            # each copy is kept: the chosen one goes on as the real training (docs/adr/0057)
            fresh = self.learner.trial(
                None, task, self.policy, k, as_id=as_id, keep=True, split=split
            )[task.id]
        else:
            fresh = self.learner.score(None, task, split)
        results, scored = {}, {}
        for expert_id in candidates[:n]:
            if not k:
                score = self.learner.score(expert_id, task, split)
                results[expert_id] = ProbeResult(score.accuracy, fresh.accuracy, max(1, fresh.n))
                continue
            earlier = tuple(
                self.catalog.task(t)
                for t in state.library.get(expert_id).tasks
                if self.catalog.has_dev(t)
            )
            before = scored[expert_id] = {
                t.id: self.learner.score(expert_id, t, split) for t in earlier
            }
            after = self.learner.trial(
                expert_id, task, self.policy, k, earlier, keep=True, split=split
            )
            changes = [
                EarlierTask(
                    t.id, before[t.id].accuracy, after[t.id].accuracy, max(1, before[t.id].n)
                )
                for t in earlier
            ]
            result = ProbeResult(
                after[task.id].accuracy, fresh.accuracy, max(1, fresh.n), k, changes
            )
            if result.tied:  # read at the start (docs/adr/0060), measured only when needed
                result = evolve(result, start=self._start(expert_id, task, split))
            results[expert_id] = result
        return Probed(results, scored, time.perf_counter() - started, screened)

    def _start(self, expert_id: str, task: Task, split: str) -> tuple[float, float]:
        """Where the two options started on the new task's dev inputs: the candidate as it is and
        the bare backbone, a fresh LoRA's start (a screened candidate's score is remembered by the
        backbone, docs/adr/0063, not taken again)."""
        candidate = self.learner.score(expert_id, task, split).accuracy
        return candidate, self.learner.score(None, task, split).accuracy
