"""The transfer probe: does a candidate expert already start a new task ahead of a fresh LoRA?

Before a reuse decision, each of the nearest candidate experts answers the new task's dev inputs
(held out of training) with no training step, and so does the bare backbone, which is exactly
where a fresh LoRA starts (its B matrix is zero). The difference of their balanced accuracies,

    delta = bal_acc(candidate) - bal_acc(fresh)

is turned into the probability that the candidate is truly ahead, under a normal approximation
of the difference of two accuracies on the same n inputs:

    se = sqrt((a_c (1 - a_c) + a_f (1 - a_f)) / n)      p_probe = Phi(delta / se)

so a gain the size of its noise gives about 0.84, no gain gives exactly 0.5 and a loss less.
The probe is evidence beside the calibrated similarity prior, not a replacement: the two are
combined in log-odds, as independent evidence with even base rate (docs/adr/0034):

    logit p_reuse = logit p_calibrated(similarity) + logit p_probe

A probe of no information (p_probe = 0.5) leaves p_reuse unchanged; a clear gain lifts an
uncertain prior over tau; a clear loss pulls it down. There is no threshold of its own.
"""

from __future__ import annotations

import math

from attrs import field, frozen, validators

from adaptive_learner.domain.calibration import sigmoid
from adaptive_learner.domain.errors import DomainError

EPS = 1e-6


def normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _logit(p: float) -> float:
    p = min(1.0 - EPS, max(EPS, p))
    return math.log(p / (1.0 - p))


@frozen
class ProbeResult:
    """Balanced dev accuracy of the new task under a candidate and under a fresh start, on n inputs."""

    candidate: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    fresh: float = field(validator=[validators.ge(0.0), validators.le(1.0)])
    n: int = field(validator=validators.ge(1))

    @property
    def delta(self) -> float:
        return self.candidate - self.fresh

    @property
    def standard_error(self) -> float:
        var = self.candidate * (1 - self.candidate) + self.fresh * (1 - self.fresh)
        return math.sqrt(max(var, 0.25 / self.n) / self.n)  # floor: an accuracy of 0 or 1 on n inputs is not certainty

    def probability(self) -> float:
        """P(candidate ahead of a fresh start), in (0, 1); 0.5 when they tie."""
        return normal_cdf(self.delta / self.standard_error)

    def to_dict(self) -> dict:
        return {"candidate": self.candidate, "fresh": self.fresh, "n": self.n, "p_probe": self.probability()}


def combine(p_prior: float, p_probe: float) -> float:
    """Log-odds sum of two independent pieces of evidence (each a probability in [0, 1])."""
    if math.isnan(p_prior) or math.isnan(p_probe):
        raise DomainError("cannot combine a NaN probability")
    return sigmoid(_logit(p_prior) + _logit(p_probe))
