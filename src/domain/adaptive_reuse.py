"""The adaptive router: reuse / fork / new from evidence (docs/adr/0031).

For a new task with profile q and experts with profiles P_e:

  1. scores      s_e = cosine(q, P_e) for the top-k nearest experts
  2. p_reuse     p_e = calibrator(s_e), the probability that reusing e works
  3. eligible    E = {e : p_e >= tau, and e's trained probe is not undecided}; tau >= 1 means
                 "always a new expert". A measured tie is read at the options' start (the head
                 start, docs/adr/0060); a tie there too (docs/adr/0056) is no evidence: the option
                 cheaper to undo, a new expert, leaves every existing expert as it was. When a
                 trained probe ran, only the candidates it measured are eligible
  4. choice      among E, the highest UCB index  mean_reward_e + c * sqrt(ln N / n_e)
                 (an expert never reused yet has an infinite index: each is tried once before
                 the means are exploited); E empty -> a new expert. A trained probe of a candidate
                 counts as `probe_visits` observations of it with reward p_probe (docs/adr/0044),
                 so a measured candidate has a finite index and the measurement is weighed
     (with the transfer probe on, a trained probe's evidence replaces p_e for the candidates it
     measured, docs/adr/0042; a zero-step probe's is combined with p_e in log-odds, domain/probe.py,
     docs/adr/0034)
  5. fork        a chosen expert whose measured reuses mostly failed is forked, not reused
  6. tau         moves with observed regret: tau += step * (regret - target_regret)

Where a trained probe measured every candidate, steps 1-2 are not read: p_e is the probe's, and the
cosine only breaks exact ties. `decide_from` then decides without the cosines and asks for them
(`SimilarityNeeded`) only when a tie or an unmeasured candidate needs them, so a run need not
compute profiles nothing reads (docs/adr/0065).

Every decision carries its scores, probabilities, tau and a reason. `RouterMemory`
(domain/router_memory.py) is what a run keeps between decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import evolve, field, frozen, validators

from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.probe import ProbeResult, combine
from adaptive_learner.domain.reuse import ReuseAction, ReuseDecision
from adaptive_learner.domain.vectors import cosine


@frozen
class ArmStats:
    """Reuses of one expert whose outcome was measured, and the sum of their rewards. A decision may
    add weighted observations (a trained probe, docs/adr/0044), so `visits` can be fractional there;
    what a run saves counts measured reuses only, each of weight 1."""

    visits: float = field(default=0, validator=validators.ge(0))
    reward: float = 0.0

    @property
    def mean(self) -> float:
        return self.reward / self.visits if self.visits else 0.0

    def observe(self, reward: float, weight: float = 1.0) -> ArmStats:
        return ArmStats(self.visits + weight, self.reward + weight * reward)


def ucb_bonus(visits: float, total: float, c: float) -> float:
    """c * sqrt(ln N / n); infinite for an arm never visited."""
    if visits == 0:
        return math.inf
    return c * math.sqrt(math.log(max(total, 1)) / visits)


def ucb_index(arm: ArmStats, total: float, c: float) -> float:
    return arm.mean + ucb_bonus(arm.visits, total, c)


@frozen
class AdaptiveThreshold:
    """tau on p_reuse. A configured tau >= 1 is "always new" and never moves."""

    tau: float = field(validator=validators.ge(0.0))
    step: float = field(default=0.05, validator=validators.ge(0.0))
    target_regret: float = field(default=0.1, validator=[validators.ge(0.0), validators.le(1.0)])
    floor: float = 0.05
    ceiling: float = 0.99

    @property
    def always_new(self) -> bool:
        return self.tau >= 1.0

    def observe(self, regret: float) -> AdaptiveThreshold:
        if self.always_new:
            return self
        return evolve(
            self,
            tau=min(
                self.ceiling, max(self.floor, self.tau + self.step * (regret - self.target_regret))
            ),
        )


@frozen
class AdaptiveRouter:
    """The decision rule of the module docstring; pure, so it is tested in milliseconds."""

    ucb_c: float = field(default=0.5, validator=validators.ge(0.0))
    top_k: int = field(default=5, validator=validators.ge(1))
    fork_below: float = field(default=0.5, validator=[validators.ge(0.0), validators.le(1.0)])
    probe_visits: float = field(
        default=1.0, validator=validators.ge(0.0)
    )  # a trained probe as UCB observations (0: not counted)

    def candidates(
        self, profile: Sequence[float], experts: Mapping[str, Sequence[float]]
    ) -> dict[str, float]:
        scores = {e: cosine(profile, p) for e, p in experts.items()}
        return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[: self.top_k])

    def decide(
        self,
        profile: Sequence[float],
        experts: Mapping[str, Sequence[float]],
        calibrator: ReuseCalibrator,
        threshold: AdaptiveThreshold,
        arms: Mapping[str, ArmStats] | None = None,
        probes: Mapping[str, ProbeResult] | None = None,
    ) -> ReuseDecision:
        """`probes`: transfer-probe results of some candidates (docs/adr/0034), combined with their
        calibrated p_reuse in log-odds; candidates without one keep the calibrated value."""
        scores = self.candidates(profile, experts)
        return self.decide_from(list(scores), scores, calibrator, threshold, arms, probes)

    def decide_from(
        self,
        candidates: Sequence[str],
        scores: Mapping[str, float] | None,
        calibrator: ReuseCalibrator,
        threshold: AdaptiveThreshold,
        arms: Mapping[str, ArmStats] | None = None,
        probes: Mapping[str, ProbeResult] | None = None,
    ) -> ReuseDecision:
        """`decide` over `candidates` (nearest first) with their cosines `scores`, or with none
        (docs/adr/0065): measurements alone decide where every candidate was measured by a trained
        probe and no exact tie is left for the similarity to break; otherwise `SimilarityNeeded`
        is raised, and the caller computes the profiles and asks again. Where it answers without
        `scores`, it answers what it would with any `scores` (tested), the cosine fields aside."""
        arms, probes = arms or {}, probes or {}
        tau = threshold.tau
        if scores is None and not candidates:
            scores = {}  # nothing to compare: no cosine is needed
        measured = {e for e in candidates if e in probes and probes[e].steps > 0}

        def similarity() -> Mapping[str, float]:
            if scores is None:
                raise SimilarityNeeded("a candidate's p_reuse or a tie needs the profile cosine")
            return scores

        if scores is None and (not measured or threshold.always_new):
            similarity()  # the calibrator or the always-new score reads the cosines
        # with a trained probe run, a reuse rests on a measurement: an expert it did not measure
        # is not reused on its similarity prior alone (docs/adr/0056)
        pool = [e for e in candidates if not measured or e in measured]
        probs = {
            e: self._with_probe(
                None if e in measured else calibrator.probability(similarity()[e]), probes.get(e)
            )
            for e in (candidates if scores is not None else pool)
        }
        # ReuseDecision's evidence fields: scores, probabilities, tau, and the UCB indices below.
        evidence: dict[str, Any] = {
            "scores": dict(scores or {}),
            "probabilities": probs,
            "tau": tau,
        }
        if threshold.always_new:
            return ReuseDecision(
                ReuseAction.CREATE,
                None,
                max(similarity().values(), default=0.0),
                1.0,
                f"router_confidence_threshold {tau:g} >= 1: always a new expert",
                **evidence,
            )
        if not candidates:
            return ReuseDecision(ReuseAction.CREATE, None, 0.0, 1.0, "no expert yet", **evidence)
        tied = {e for e in candidates if e in probes and probes[e].undecided}
        eligible = [e for e in pool if probs[e] >= tau and e not in tied]

        def cosine_of(e: str) -> float | None:
            return scores[e] if scores is not None else None

        if not eligible:
            top = _best(pool, lambda e: (probs[e],), similarity)
            if top in tied and probs[top] >= tau:
                why = "a measured tie is no evidence; a new expert is cheaper to undo"
            else:
                why = f"< tau {tau:.3f}"
            if len(pool) < len(candidates):
                why += f"; {len(candidates) - len(pool)} unmeasured candidate(s) not reused"
            return ReuseDecision(
                ReuseAction.CREATE,
                None,
                cosine_of(top),
                1.0 - max(probs[e] for e in pool),
                f"best p_reuse {probs[top]:.3f}"
                f" ({_notes(top, cosine_of(top), probes, named=True)}) {why}",
                **evidence,
            )
        weights = {e: self._probe_weight(probes.get(e)) for e in eligible}
        observed = {
            e: arms.get(e, ArmStats()).observe(probes[e].probability(), w)
            if w
            else arms.get(e, ArmStats())
            for e, w in weights.items()
        }
        total = sum(a.visits for a in arms.values()) + sum(weights.values())
        index = {e: ucb_index(o, total, self.ucb_c) for e, o in observed.items()}
        chosen = _best(eligible, lambda e: (index[e], probs[e]), similarity)
        arm = arms.get(chosen, ArmStats())
        evidence["ucb"] = {e: (v if math.isfinite(v) else None) for e, v in index.items()}
        head = (
            f"p_reuse {probs[chosen]:.3f} ({_notes(chosen, cosine_of(chosen), probes)})"
            f" >= tau {tau:.3f}"
        )
        if arm.visits and arm.mean < self.fork_below:
            return ReuseDecision(
                ReuseAction.FORK,
                chosen,
                cosine_of(chosen),
                probs[chosen],
                f"{head}; but {arm.visits} measured reuse(s) of {chosen} mostly failed"
                f" (mean reward {arm.mean:.2f}): fork",
                **evidence,
            )
        if not observed[chosen].visits:
            why = "never reused yet (UCB explores it)"
        else:
            probe = f" + probe as {weights[chosen]:g}" if weights[chosen] else ""
            why = (
                f"UCB {index[chosen]:.3f} (mean reward {observed[chosen].mean:.2f}"
                f" over {arm.visits:g} measured reuse(s){probe})"
            )
        return ReuseDecision(
            ReuseAction.REUSE,
            chosen,
            cosine_of(chosen),
            probs[chosen],
            f"{head}; {why}",
            **evidence,
        )

    def _probe_weight(self, probe: ProbeResult | None) -> float:
        """How many UCB observations a candidate's probe counts for: `probe_visits` for a trained
        probe, 0 for none or a zero-step probe (it does not see what a reuse costs the earlier
        tasks)."""
        return self.probe_visits if probe is not None and probe.steps > 0 else 0.0

    def _with_probe(self, p_calibrated: float | None, probe: ProbeResult | None) -> float:
        if probe is not None and probe.steps > 0:  # it measured the reuse itself (ADR 0042)
            return probe.probability()
        assert p_calibrated is not None  # decide_from computes it for every unmeasured candidate
        if probe is None:
            return p_calibrated
        return combine(p_calibrated, probe.probability())


class SimilarityNeeded(Exception):
    """`AdaptiveRouter.decide_from` cannot decide without the profile cosines: a candidate no
    trained probe measured (its p_reuse is the calibrated prior of its cosine), the always-new
    score, or an exact tie of the evidence, which the cosine breaks (docs/adr/0065)."""


def _best(
    ids: Sequence[str],
    key: Callable[[str], tuple[float, ...]],
    similarity: Callable[[], Mapping[str, float]],
) -> str:
    """`max(ids, key=lambda e: (*key(e), cosine_e, e))`, reading the cosines only when `key` ties
    (the expert id breaks what the cosine leaves tied)."""
    top = max(key(e) for e in ids)
    level = [e for e in ids if key(e) == top]
    if len(level) == 1:
        return level[0]
    scores = similarity()
    return max(level, key=lambda e: (scores[e], e))


def _notes(
    expert_id: str, cosine: float | None, probes: Mapping[str, ProbeResult], named: bool = False
) -> str:
    """A candidate's evidence in a reason: its id (`named`), its cosine where one was taken, its
    probe."""
    probe = probes.get(expert_id)
    parts = [
        expert_id if named else None,
        None if cosine is None else f"cosine {cosine:.3f}",
        probe.note() if probe is not None else None,
    ]
    return ", ".join(p for p in parts if p)
