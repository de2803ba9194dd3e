"""Consolidation policy and the neuromodulation gain that gates EWC.

The gain (docs/adr/0010-neuromodulation-gain.md, amended by 0018) turns the signals of the task
just learned into one multiplier for that task's Fisher information:

    s_k      = clip(signal_k / scale_k, 0, 1)              each signal normalised to [0, 1]
    surprise = sum_k w_k * s_k' / sum_k |w_k|              s_k' = s_k, or 1 - s_k for accuracy
    drive    = 1 - surprise  (direction "competence", the default)  or  surprise  ("surprise")
    gamma    = 1 + gamma_gain_lambda * (drive - 0.5)       clamped to [gamma_min, gamma_max]

With "competence" a task the expert learned well (low NLL, high accuracy, small gradients,
confident predictions) is consolidated more strongly and a task it barely learned less: there is
little skill to protect there, and anchoring it only costs plasticity. "surprise" is the opposite
reading (hard tasks consolidated more), kept for comparison. gamma = 1 at drive 0.5.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from attrs import field, frozen, validators

from adaptive_learner.domain.errors import DomainError


class ReplayKind(enum.StrEnum):
    NONE = "none"
    EXPERIENCE = "experience"
    CMT = "cmt"
    PCGR = "pcgr"


class FisherKind(enum.StrEnum):
    EMPIRICAL = "empirical"
    TRUE = "true"


@frozen
class TrainingSignals:
    """What the learner measured while learning a task, in natural units."""

    nll: float
    accuracy: float
    grad_norm: float
    entropy: float


SIGNALS = ("nll", "accuracy", "grad_norm", "entropy")


@frozen
class GammaGain:
    """Weights and scales of the neuromodulation gain; see module docstring."""

    weights: Mapping[str, float] = field(
        factory=lambda: {"nll": 1.0, "accuracy": 1.0, "grad_norm": 0.5, "entropy": 0.5}
    )
    scales: Mapping[str, float] = field(
        factory=lambda: {"nll": 2.0, "accuracy": 1.0, "grad_norm": 10.0, "entropy": 1.0}
    )
    gamma_min: float = 0.0
    gamma_max: float = 4.0
    direction: str = field(
        default="competence", validator=validators.in_(("competence", "surprise"))
    )

    def __attrs_post_init__(self) -> None:
        for name, table in (("weights", self.weights), ("scales", self.scales)):
            unknown = set(table) - set(SIGNALS)
            if unknown:
                raise DomainError(
                    f"gamma {name}: unknown signal(s) {sorted(unknown)}; known: {list(SIGNALS)}"
                )
        if any(v <= 0 for v in self.scales.values()):
            raise DomainError("gamma scales must be positive")
        if not sum(abs(w) for w in self.weights.values()) > 0:
            raise DomainError("gamma weights must not all be zero")
        if self.gamma_min > self.gamma_max:
            raise DomainError("gamma_min must not exceed gamma_max")

    def surprise(self, signals: TrainingSignals) -> float:
        total, norm = 0.0, 0.0
        for name, weight in self.weights.items():
            s = min(max(getattr(signals, name) / self.scales.get(name, 1.0), 0.0), 1.0)
            if name == "accuracy":
                s = 1.0 - s
            total += weight * s
            norm += abs(weight)
        return total / norm

    def drive(self, signals: TrainingSignals) -> float:
        """What the gain follows, in [0, 1]: competence (1 - surprise) or surprise."""
        surprise = self.surprise(signals)
        return surprise if self.direction == "surprise" else 1.0 - surprise

    def gain(self, signals: TrainingSignals, gamma_gain_lambda: float) -> float:
        gamma = 1.0 + gamma_gain_lambda * (self.drive(signals) - 0.5)
        return min(max(gamma, self.gamma_min), self.gamma_max)


@frozen
class ConsolidationPolicy:
    """How an expert keeps what it learned when it learns the next task."""

    ewc_lambda: float = field(default=0.0, validator=validators.ge(0.0))
    ewc_data_loader_num_samples: int = field(default=25, validator=validators.ge(1))
    ewc_batch_size: int = field(default=10, validator=validators.ge(1))
    fisher: FisherKind = field(default=FisherKind.EMPIRICAL, converter=FisherKind)
    use_gamma_gating: bool = False
    ewc_fixed_lambda_bypass_gamma: bool = False
    gamma_gain_lambda: float = field(default=3.0, validator=validators.ge(0.0))
    gamma: GammaGain = field(factory=GammaGain)
    replay: ReplayKind = field(default=ReplayKind.NONE, converter=ReplayKind)
    replay_alpha: float = field(default=0.2, validator=validators.ge(0.0))
    feature_replay_alpha: float = field(default=0.1, validator=validators.ge(0.0))
    replay_backbone_encoding_batch_size: int = field(default=8, validator=validators.ge(1))
    replay_budget_bytes: int = field(default=262_144, validator=validators.ge(1))
    # -1: every earlier task
    replay_tasks_per_step: int = field(default=1, validator=validators.ge(-1))
    # rows of each replayed batch; 0: the training batch
    replay_batch_size: int = field(default=0, validator=validators.ge(0))

    def __attrs_post_init__(self) -> None:
        if self.replay_tasks_per_step == 0:
            raise DomainError("replay_tasks_per_step must be >= 1, or -1 for every earlier task")

    def replayed_per_step(self, earlier: int) -> int:
        """How many earlier tasks' memories one training step replays, given `earlier` of them."""
        if self.replay_tasks_per_step == -1:
            return earlier
        return min(self.replay_tasks_per_step, earlier)

    def replay_rows(self, batch_size: int) -> int:
        """Rows of each replayed batch: `replay_batch_size`, or the training batch size
        when it is 0."""
        return self.replay_batch_size or batch_size

    @property
    def uses_ewc(self) -> bool:
        return self.ewc_lambda > 0

    @property
    def uses_replay(self) -> bool:
        return self.replay is not ReplayKind.NONE

    @property
    def gated(self) -> bool:
        return self.uses_ewc and self.use_gamma_gating and not self.ewc_fixed_lambda_bypass_gamma

    def fisher_scale(self, signals: TrainingSignals | None) -> float:
        """Multiplier for the Fisher of the task just learned (1 unless gamma gating is on)."""
        if not self.gated or signals is None:
            return 1.0
        return self.gamma.gain(signals, self.gamma_gain_lambda)
