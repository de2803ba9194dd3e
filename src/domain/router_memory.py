"""What the adaptive router keeps for a run between decisions (docs/adr/0032), saved with the
run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define, field

from adaptive_learner.domain.adaptive_reuse import AdaptiveThreshold, ArmStats
from adaptive_learner.domain.calibration import ReuseCalibrator, ReuseOutcome
from adaptive_learner.domain.errors import DomainError

Vector = tuple[float, ...]
ROUTER_SCHEMA_VERSION = 1


@define
class RouterMemory:
    """What the adaptive router keeps for a run (saved with the expert library, docs/adr/0032).

    `expert_profiles` hold one clean aggregate per expert (replaced whole when the expert is
    re-profiled, never averaged with stale entries); `task_keys` are the per-task vectors that
    single inputs are routed against (the same representation a query gets).
    """

    calibrator: ReuseCalibrator = field(factory=ReuseCalibrator)
    threshold: AdaptiveThreshold = field(factory=lambda: AdaptiveThreshold(0.5))
    arms: dict[str, ArmStats] = field(factory=dict)
    expert_profiles: dict[str, Vector] = field(factory=dict)
    task_keys: dict[str, Vector] = field(factory=dict)
    block_dims: dict[str, int] = field(factory=dict)
    decisions: list[dict[str, Any]] = field(factory=list)
    evaluation: dict[str, Any] = field(factory=dict)
    base_model: str = ""

    def check_model(self, base_model: str, where: str = "state.json") -> None:
        if self.base_model != base_model:
            raise DomainError(
                f"{where}: router.base_model {self.base_model!r} differs from this run's model"
                f" {base_model!r}"
            )

    def record_outcome(
        self,
        expert_id: str,
        outcome: ReuseOutcome,
        tol_forget: float,
        tol_new: float,
        z: float = 0.0,
    ) -> bool:
        works = outcome.works(tol_forget, tol_new, z)
        if outcome.similarity is not None:  # unknown where no decision reads the calibrator (0065)
            self.calibrator = self.calibrator.observe(outcome.similarity, works)
        self.arms[expert_id] = self.arms.get(expert_id, ArmStats()).observe(1.0 if works else 0.0)
        self.threshold = self.threshold.observe(outcome.regret())
        return works

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": ROUTER_SCHEMA_VERSION,
            "base_model": self.base_model,
            "calibrator": self.calibrator.to_dict(),
            "threshold": {
                "tau": self.threshold.tau,
                "step": self.threshold.step,
                "target_regret": self.threshold.target_regret,
                "floor": self.threshold.floor,
                "ceiling": self.threshold.ceiling,
            },
            "arms": {e: [a.visits, a.reward] for e, a in self.arms.items()},
            "expert_profiles": {e: list(v) for e, v in self.expert_profiles.items()},
            "task_keys": {t: list(v) for t, v in self.task_keys.items()},
            "block_dims": dict(self.block_dims),
            "decisions": list(self.decisions),
            "evaluation": dict(self.evaluation),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "state.json") -> RouterMemory:
        version = data.get("schema_version")
        if version != ROUTER_SCHEMA_VERSION:
            raise DomainError(
                f"{where}: router.schema_version {version!r} is not the supported"
                f" {ROUTER_SCHEMA_VERSION}"
            )
        t = data["threshold"]
        return cls(
            calibrator=ReuseCalibrator.from_dict(data["calibrator"]),
            threshold=AdaptiveThreshold(
                t["tau"], t["step"], t["target_regret"], t["floor"], t["ceiling"]
            ),
            arms={e: ArmStats(int(v), float(r)) for e, (v, r) in data.get("arms", {}).items()},
            expert_profiles={e: tuple(v) for e, v in data.get("expert_profiles", {}).items()},
            task_keys={t: tuple(v) for t, v in data.get("task_keys", {}).items()},
            block_dims={k: int(v) for k, v in data.get("block_dims", {}).items()},
            decisions=list(data.get("decisions", [])),
            evaluation=dict(data.get("evaluation", {})),
            base_model=str(data.get("base_model", "")),
        )
