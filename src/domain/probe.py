"""The transfer probe: does a candidate expert already start a new task ahead of a fresh LoRA?

Before a reuse decision, each of the nearest candidate experts answers the new task's dev inputs
(held out of training) with no training step, and so does the bare backbone, which is exactly
where a fresh LoRA starts (its B matrix is zero). The difference of their dev accuracies (plain
accuracy, the figure the accuracy matrix reports, docs/adr/0048),

    delta = acc(candidate) - acc(fresh)

is turned into the probability that the candidate is truly ahead, under a normal approximation
of the difference of two accuracies on the same n inputs:

    se = sqrt((a_c (1 - a_c) + a_f (1 - a_f)) / n)      p_probe = Phi(delta / se)

so a gain the size of its noise gives about 0.84, no gain gives exactly 0.5 and a loss less.
The zero-step probe is evidence beside the calibrated similarity prior, not a replacement: the
two are combined in log-odds, as independent evidence with even base rate (docs/adr/0034):

    logit p_reuse = logit p_calibrated(similarity) + logit p_probe

A probe of no information (p_probe = 0.5) leaves p_reuse unchanged; a clear gain lifts an
uncertain prior over tau; a clear loss pulls it down. There is no threshold of its own. A trained
probe measures the reuse itself, so by default it replaces p_calibrated for the candidates it
measured (docs/adr/0042).

The trained probe (`routing.probe_steps` = k > 0, docs/adr/0040) trains a throwaway copy of the
candidate and a fresh LoRA for the same k steps before comparing them, so a gain any training would
give (the answer format) cancels. It also scores the candidate's earlier tasks after those steps,
because reusing an expert changes what it knew: the evidence is the change of the summed accuracy
over every task involved, the quantity AvgAcc weighs,

    se^2 = se_new^2 + sum_j se_j^2      p_probe = Phi(total / se)   (total as below)

An earlier task's gain during the probe is not credited (docs/adr/0056): replay gives the earlier
tasks more steps, so a task that had not converged improves whether or not the tasks should share,
and crediting that lift would prefer an expert because its own tasks are unlearned. Only losses
count, so the sum is

    total = delta + sum_j min(0, after_j - before_j)

and a reuse that wins the new task by overwriting an old one counts as a loss. A trained probe
whose total is exactly 0 is a measured tie (`tied`). The trained probe also knows where the two
options started (`start`, docs/adr/0060): the candidate as it is and the bare backbone, a fresh
LoRA's start, on the same dev inputs. On a tie the evidence is that earlier point of the same
learning curves, the head start,

    p_probe = Phi(head_start / se_start)     head_start = start_candidate - start_fresh

(a candidate that already answers the task and stays level with a fresh LoRA after k steps
reached there first, with nothing measured lost); a tie with no head start either
(`undecided`) is no evidence, and the rule takes the option that is cheaper to undo, a new
expert (docs/adr/0056; domain/adaptive_reuse.py).

Every reuse the run trains records how far its earlier tasks ended from the probe's copy on the same
dev inputs (`ProbeGap`, docs/adr/0048): g_j = after_full_j - after_probe_j. Where k is the whole
training the copy is the reuse's own training and the gap is 0; where k is a small part of it, the
gap in report.md says how far the probe was from the outcome.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen, validators

from adaptive_learner.domain.calibration import difference_variance, sigmoid
from adaptive_learner.domain.errors import DomainError

EPS = 1e-6
TIE = 1e-9  # |total| below this is a measured tie (accuracies are counts over n)


def normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _logit(p: float) -> float:
    p = min(1.0 - EPS, max(EPS, p))
    return math.log(p / (1.0 - p))


@frozen
class EarlierTask:
    """Dev accuracy of one of the candidate's earlier tasks before and after the probe's
    training steps."""

    task_id: str
    before: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    after: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    n: int = field(validator=validators.ge(1))

    @property
    def change(self) -> float:
        return self.after - self.before


@frozen
class ProbeResult:
    """Dev accuracy (plain accuracy) of the new task under a candidate and under a fresh start,
    on n inputs."""

    candidate: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    fresh: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    n: int = field(validator=validators.ge(1))
    # training steps before the comparison (0: none)
    steps: int = field(default=0, validator=validators.ge(0))
    # the candidate's earlier tasks after those steps
    earlier: tuple[EarlierTask, ...] = field(default=(), converter=tuple[EarlierTask, ...])
    # the new task's dev accuracy before any step: (the candidate as it is, the bare backbone)
    start: tuple[float, float] | None = field(default=None)

    @start.validator
    def _check_start(self, _attribute: object, value: tuple[float, float] | None) -> None:
        if value is not None and not (len(value) == 2 and all(0.0 <= v <= 1.0 for v in value)):
            raise DomainError(f"a probe's start must be two accuracies in [0, 1], got {value!r}")

    @property
    def delta(self) -> float:
        return self.candidate - self.fresh

    @property
    def earlier_change(self) -> float:
        """The earlier tasks' measured change during the probe, gains included (reported)."""
        return sum(t.change for t in self.earlier)

    @property
    def earlier_cost(self) -> float:
        """What the evidence counts of the earlier tasks: their losses only (<= 0; ADR 0056)."""
        return sum(min(0.0, t.change) for t in self.earlier)

    @property
    def total(self) -> float:
        """The evidence for reusing the candidate: the new task's gain over a fresh start plus
        the earlier tasks' losses (their gains are not credited, ADR 0056)."""
        return self.delta + self.earlier_cost

    @property
    def tied(self) -> bool:
        """A trained probe that measured no difference at all: no evidence (ADR 0056)."""
        return self.steps > 0 and abs(self.total) < TIE

    @property
    def head_start(self) -> float | None:
        """How far ahead of a fresh start the candidate answered before any step (None: unknown)."""
        return None if self.start is None else self.start[0] - self.start[1]

    @property
    def undecided(self) -> bool:
        """A tie after the probe's steps and none before them either: no evidence (ADR 0056,
        0060)."""
        return self.tied and (self.head_start is None or abs(self.head_start) < TIE)

    @property
    def standard_error(self) -> float:
        # an uncredited gain adds no noise either: it is read as no change (ADR 0056)
        var = difference_variance(self.candidate, self.fresh, self.n) + sum(
            difference_variance(t.before, min(t.after, t.before), t.n) for t in self.earlier
        )
        return math.sqrt(var)

    def probability(self) -> float:
        """P(reusing the candidate ends ahead of a fresh start), in (0, 1); 0.5 when
        everything ties. A tie after the steps is read at the start (the head start, ADR 0060)."""
        if self.tied and self.start is not None:
            candidate, fresh = self.start
            se = math.sqrt(difference_variance(candidate, fresh, self.n))  # floored: never 0
            return normal_cdf((candidate - fresh) / se)
        return normal_cdf(self.total / self.standard_error)

    def note(self) -> str:
        """One line for decision reasons and report.md: 'probe 0.800 vs fresh 0.600 after 8 steps,
        earlier +0.050'."""
        steps = f" after {self.steps} steps" if self.steps else ""
        earlier = ""
        if self.earlier:
            earlier = f", earlier {self.earlier_change:+.3f}"
            if self.earlier_cost != self.earlier_change:
                earlier += f" (counted {self.earlier_cost:+.3f})"
        start = ""
        if self.tied and self.start is not None:
            start = f", tied; as they were {self.start[0]:.3f} vs {self.start[1]:.3f}"
        return f"probe {self.candidate:.3f} vs fresh {self.fresh:.3f}{steps}{earlier}{start}"

    @classmethod
    def from_dict(cls, data: dict) -> ProbeResult:
        """Back from `to_dict` (the decision log in state.json)."""
        earlier = [
            EarlierTask(t, e["before"], e["after"], e["n"])
            for t, e in data.get("earlier", {}).items()
        ]
        start = data.get("start")
        return cls(
            data["candidate"],
            data["fresh"],
            data["n"],
            data.get("steps", 0),
            earlier,
            None if start is None else (float(start[0]), float(start[1])),
        )

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "candidate": self.candidate,
            "fresh": self.fresh,
            "n": self.n,
            "p_probe": self.probability(),
        }
        if self.steps:
            out["steps"] = self.steps
        if self.start is not None:
            out["start"] = list(self.start)
        if self.earlier:
            out["earlier_change"] = self.earlier_change
            out["earlier_cost"] = self.earlier_cost
            out["earlier"] = {
                t.task_id: {"before": t.before, "after": t.after, "n": t.n} for t in self.earlier
            }
        return out


@frozen
class ProbeGap:
    """How far the end of a trained reuse was from its probe on the expert's earlier tasks: the mean
    over them of after_full - after_probe (dev accuracy, same inputs), and that mean's variance."""

    mean: float
    variance: float = field(validator=validators.ge(0.0))
    tasks: int = field(default=1, validator=validators.ge(1))

    @classmethod
    def measure(
        cls, probe_after: Mapping[str, float], full_after: Mapping[str, float], n: Mapping[str, int]
    ) -> ProbeGap | None:
        """The gap of one reuse over the earlier tasks both measured (None when there are none)."""
        tasks = [t for t in probe_after if t in full_after]
        if not tasks:
            return None
        m = len(tasks)
        return cls(
            sum(full_after[t] - probe_after[t] for t in tasks) / m,
            sum(difference_variance(full_after[t], probe_after[t], max(1, n[t])) for t in tasks)
            / m**2,
            m,
        )

    def to_dict(self) -> dict:
        return {"mean": self.mean, "variance": self.variance, "tasks": self.tasks}

    @classmethod
    def from_dict(cls, data: dict) -> ProbeGap:
        return cls(data["mean"], data["variance"], data.get("tasks", 1))


def combine(p_prior: float, p_probe: float) -> float:
    """Log-odds sum of two independent pieces of evidence (each a probability in [0, 1])."""
    if math.isnan(p_prior) or math.isnan(p_probe):
        raise DomainError("cannot combine a NaN probability")
    return sigmoid(_logit(p_prior) + _logit(p_probe))
