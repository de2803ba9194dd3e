"""The routing settings a run's use cases receive, built from the config schema in bootstrap.

No field has a default: the config schema (bootstrap/config_schema.py) is the one place where a
default lives (docs/adr/0050), and tests build these settings from it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from adaptive_learner.application.state import RunState
from adaptive_learner.domain.adaptive_reuse import AdaptiveThreshold
from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.router_memory import RouterMemory
from adaptive_learner.domain.task import split_head


def _weights(value: Mapping[str, float]) -> dict[str, float]:
    return dict(value)


@frozen
class RoutingSettings:
    """The routing part of the config, as the routing use cases need it."""

    base_model: str
    blocks: tuple[str, ...]  # profile blocks of a task (description, prototype, gradient, context)
    weights: dict[str, float] = field(converter=_weights)
    profile_examples: int  # examples handed to the profiler (prototype and sketch)
    key_examples: int  # inputs per task (train, then dev) behind its key / the learned router
    dynamic_profiles: bool
    top_k: int  # candidate experts per decision, nearest by cosine
    temperature: float  # softmax temperature of cosine routing
    tol_forget: float
    tol_new: float
    outcome_z: float  # forgetting may exceed tol_forget by this many standard errors (ADR 0044)
    probe_candidates: int  # transfer probe on the nearest N candidates (0 = off; ADR 0034)
    probe_steps: int  # training steps of the trained probe (0 = the zero-step probe; ADR 0040)
    decision_dev_examples: int  # dev inputs per task a decision reads (0: all; ADR 0064)
    tau: float  # the initial threshold on p_reuse; >= 1 is "always a new expert"
    tau_step: float
    target_regret: float
    calibrator: ReuseCalibrator
    router_dir: str | None  # where the learned router is saved (None: not saved)

    @property
    def decision_split(self) -> str:
        """The dev inputs a decision reads: the probe's screen and copies, a reuse's earlier tasks
        before and after (docs/adr/0064)."""
        return split_head("dev", self.decision_dev_examples)

    def new_memory(self) -> RouterMemory:
        """The router memory of a run that has none yet."""
        threshold = AdaptiveThreshold(self.tau, self.tau_step, self.target_regret)
        return RouterMemory(
            calibrator=self.calibrator, threshold=threshold, base_model=self.base_model
        )

    def memory(self, state: RunState) -> RouterMemory:
        """The run's router memory, made on first use; refused when saved for another model."""
        if state.router is None:
            state.router = self.new_memory()
        state.router.check_model(self.base_model)
        return state.router
