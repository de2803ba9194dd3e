"""p_reuse: the probability that reusing an expert of a given profile similarity works.

"Works" is defined in docs/adr/0031 (`ReuseOutcome.works`). The calibrator is fitted on the
measured outcomes of earlier reuses, together with a stated prior counted as `prior_strength`
pseudo-outcomes spread over a grid of similarities:

    prior p(s) = sigmoid(prior_slope * (s - prior_midpoint))

so before any outcome it answers the prior, and the outcomes take over as they accumulate.
Both fits are monotone non-decreasing in the similarity by construction: the logistic fit keeps
its slope >= 0; the isotonic fit is pool-adjacent-violators, interpolated linearly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from attrs import evolve, field, frozen, validators

from adaptive_learner.domain.errors import DomainError

GRID = tuple(i / 10 for i in range(-10, 11))  # prior pseudo-outcomes at cosine -1.0 ... 1.0


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def difference_variance(a: float, b: float, n: int) -> float:
    """Variance of the difference of two accuracies on the same n inputs (unpaired bound), floored:
    an accuracy of 0 or 1 on n inputs is not certainty."""
    return max(a * (1 - a) + b * (1 - b), 0.25 / n) / n


def mean_change_se(changes: Sequence[tuple[float, float, int]]) -> float:
    """Standard error of the mean of several (before - after) accuracy changes, each on its own
    n inputs."""
    if not changes:
        return 0.0
    return math.sqrt(sum(difference_variance(a, b, n) for a, b, n in changes)) / len(changes)


@frozen
class ReuseOutcome:
    """What a reuse did: its similarity (None: not computed, docs/adr/0065), the mean dev-accuracy
    loss of the expert's earlier tasks, and, when a fresh expert was measured too, how far the
    reused expert fell short of it.
    `noise` is the standard error of `forgetting` (`mean_change_se`; 0 = taken as exact)."""

    similarity: float | None
    forgetting: float
    shortfall: float | None = None
    noise: float = field(default=0.0, validator=validators.ge(0.0))

    def works(self, tol_forget: float, tol_new: float, z: float = 0.0) -> bool:
        """Forgetting within `tol_forget` plus `z` standard errors of its own measurement
        (docs/adr/0044): a loss the dev sets cannot tell from noise is not counted as a failure.
        z = 0: the fixed tolerance."""
        ok_new = self.shortfall is None or self.shortfall <= tol_new
        return self.forgetting <= tol_forget + z * self.noise and ok_new

    def regret(self) -> float:
        """Accuracy lost against the better alternative, in [0, 1]."""
        return min(1.0, max(0.0, self.forgetting) + max(0.0, self.shortfall or 0.0))


@frozen
class ReuseCalibrator:
    """Logistic or isotonic fit of works ~ similarity over outcomes plus the prior."""

    kind: str = field(default="logistic", validator=validators.in_(("logistic", "isotonic")))
    prior_midpoint: float = 0.9
    prior_slope: float = field(default=20.0, validator=validators.ge(0.0))
    prior_strength: float = field(default=4.0, validator=validators.gt(0.0))
    outcomes: tuple[tuple[float, bool], ...] = field(
        default=(), converter=lambda v: tuple((float(s), bool(w)) for s, w in v)
    )

    def observe(self, similarity: float, works: bool) -> ReuseCalibrator:
        return evolve(self, outcomes=(*self.outcomes, (similarity, works)))

    def _points(self) -> list[tuple[float, float, float]]:
        """(similarity, target in [0, 1], weight): prior pseudo-outcomes, then real ones."""
        w = self.prior_strength / len(GRID)
        points = [(s, sigmoid(self.prior_slope * (s - self.prior_midpoint)), w) for s in GRID]
        return points + [(s, 1.0 if ok else 0.0, 1.0) for s, ok in self.outcomes]

    def probability(self, similarity: float) -> float:
        if math.isnan(similarity):
            raise DomainError("similarity is NaN")
        p = self._logistic(similarity) if self.kind == "logistic" else self._isotonic(similarity)
        return min(1.0, max(0.0, p))

    # --- logistic: p = sigmoid(a + b s), b >= 0, Newton on the weighted cross-entropy ----------
    def _fit_logistic(self) -> tuple[float, float]:
        points = self._points()
        a, b = 0.0, 0.0
        for _ in range(50):
            ga = gb = haa = hab = hbb = 0.0
            for s, y, w in points:
                p = sigmoid(a + b * s)
                r, v = w * (p - y), w * p * (1 - p) + 1e-9
                ga, gb = ga + r, gb + r * s
                haa, hab, hbb = haa + v, hab + v * s, hbb + v * s * s
            ridge = 1e-3  # keeps the step finite when the data are separable
            haa, hbb = haa + ridge, hbb + ridge
            det = haa * hbb - hab * hab
            da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
            a, b = a - da, max(0.0, b - db)
            if abs(da) + abs(db) < 1e-9:
                break
        return a, b

    def _logistic(self, similarity: float) -> float:
        a, b = _cached_fit(self)
        return sigmoid(a + b * similarity)

    # --- isotonic: weighted pool-adjacent-violators ---------------------------------------------
    def _fit_isotonic(self) -> list[tuple[float, float]]:
        blocks: list[list[float]] = []  # [x_mean, y_mean, weight]
        for s, y, w in sorted(self._points()):
            blocks.append([s, y, w])
            while len(blocks) > 1 and blocks[-2][1] > blocks[-1][1]:
                x2, y2, w2 = blocks.pop()
                x1, y1, w1 = blocks[-1]
                total = w1 + w2
                blocks[-1] = [(x1 * w1 + x2 * w2) / total, (y1 * w1 + y2 * w2) / total, total]
        return [(x, y) for x, y, _ in blocks]

    def _isotonic(self, similarity: float) -> float:
        knots = _cached_fit(self)
        if similarity <= knots[0][0]:
            return knots[0][1]
        for (x1, y1), (x2, y2) in itertools.pairwise(knots):
            if similarity <= x2:
                return y1 if x2 == x1 else y1 + (y2 - y1) * (similarity - x1) / (x2 - x1)
        return knots[-1][1]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "prior_midpoint": self.prior_midpoint,
            "prior_slope": self.prior_slope,
            "prior_strength": self.prior_strength,
            "outcomes": [list(o) for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReuseCalibrator:
        return cls(
            data["kind"],
            data["prior_midpoint"],
            data["prior_slope"],
            data["prior_strength"],
            data.get("outcomes", ()),
        )


_FITS: dict[ReuseCalibrator, object] = {}


def _cached_fit(cal: ReuseCalibrator):
    """Fits are pure functions of the (frozen, hashable) calibrator; cache a few."""
    if cal not in _FITS:
        if len(_FITS) > 64:
            _FITS.clear()
        _FITS[cal] = cal._fit_logistic() if cal.kind == "logistic" else cal._fit_isotonic()
    return _FITS[cal]
