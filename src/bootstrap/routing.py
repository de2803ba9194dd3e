"""The routing part of bootstrap: the one table of reuse rules and the settings they receive.

`routing.strategy` is decoded here and nowhere else (docs/adr/0049): each row of `STRATEGIES` builds
its rule, names the domain object checked before a run folder exists, says whether the run measures
(keeps a router memory) or follows a schedule, and lists the routing keys its decisions read
(docs/adr/0054). The container (containers.py) wires what these functions build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from attrs import frozen

from adaptive_learner.application.evaluate_routing import EvaluateRouting
from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.record_outcome import KeepProfile, RecordOutcome
from adaptive_learner.application.reuse import ReuseRule
from adaptive_learner.application.reuse.adaptive import AdaptiveRule
from adaptive_learner.application.reuse.always_new import AlwaysNew
from adaptive_learner.application.reuse.fixed import FixedRule
from adaptive_learner.application.reuse.probe import TransferProbe
from adaptive_learner.application.reuse.schedule import ScheduleRule
from adaptive_learner.application.reuse.similarity import SimilarityRule
from adaptive_learner.application.route_query import RouteQuery
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.bootstrap.config import Config
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter
from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.reuse import FixedAssignment, SharingSchedule, SimilarityRouter


def build_assignment(cfg: Config) -> FixedAssignment:
    r = cfg.routing
    if cfg.data.tasks and len(r.expert_of_task) != len(cfg.data.tasks):
        raise ValueError(
            f"expert_of_task has {len(r.expert_of_task)} entries for {len(cfg.data.tasks)} tasks "
            "in data.tasks"
        )
    return FixedAssignment(r.expert_of_task)


def build_similarity(cfg: Config) -> SimilarityRouter:
    r = cfg.routing
    return SimilarityRouter(r.reuse_threshold, r.fork_threshold, r.temperature)


def build_adaptive_router(cfg: Config) -> AdaptiveRouter:
    r = cfg.routing
    return AdaptiveRouter(ucb_c=r.ucb_c, top_k=r.top_k, probe_visits=r.probe_visits)


@frozen
class Strategy:
    """One row of the reuse-rule table: how to build the rule, whether the run measures (records
    outcomes and expert profiles) or follows a schedule, and the routing
    keys its decisions read (a key given for a rule that does not read it is refused)."""

    check: Callable[[Config], object]  # the rule's domain math: its own checks fire in preflight
    build: Callable[[Config, TaskProfiles, TransferProbe], ReuseRule]
    measured: bool
    reads: frozenset[str]


# The profile of a task and what a measured run records: read by the rules that profile tasks.
PROFILE_KEYS = frozenset({
    "top_k", "use_advanced_embeddings", "profile_weights", "grad_sketch_layer_names",
    "grad_sketch_dim", "grad_sketch_examples", "dynamic_profiles",
})  # fmt: skip
ADAPTIVE_KEYS = frozenset({
    "router_confidence_threshold", "probe_candidates", "probe_steps", "probe_visits", "ucb_c",
    "decision_dev_examples",
    "tau_step", "target_regret", "calibration", "prior_midpoint", "prior_slope", "prior_strength",
    "tol_forget", "tol_new", "outcome_z",
})  # fmt: skip

# The one table of reuse rules (docs/adr/0049).
STRATEGIES = {
    "schedule": Strategy(
        lambda cfg: SharingSchedule(cfg.routing.num_tasks_to_share_lora),
        lambda cfg, profiles, probe: ScheduleRule(
            SharingSchedule(cfg.routing.num_tasks_to_share_lora)
        ),
        measured=False,
        reads=frozenset({"num_tasks_to_share_lora"}),
    ),
    "fixed": Strategy(
        build_assignment,
        lambda cfg, profiles, probe: FixedRule(build_assignment(cfg)),
        measured=False,
        reads=frozenset({"expert_of_task"}),
    ),
    "similarity": Strategy(
        build_similarity,
        lambda cfg, profiles, probe: SimilarityRule(profiles, build_similarity(cfg)),
        measured=True,
        reads=PROFILE_KEYS | {"reuse_threshold", "fork_threshold"},
    ),
    "adaptive": Strategy(
        build_adaptive_router,
        lambda cfg, profiles, probe: AdaptiveRule(profiles, probe, build_adaptive_router(cfg)),
        measured=True,
        reads=PROFILE_KEYS | ADAPTIVE_KEYS,
    ),
}
# Keys some rule's decisions read; the rest of the section (strategy, temperature, the task keys'
# examples and layers, the learned router) serves every run, since every run answers queries.
DECISION_KEYS = frozenset().union(*(s.reads for s in STRATEGIES.values()))


def strategy_name(cfg: Config) -> str:
    """The table's row for this config: a schedule written out (`expert_of_task`) is 'fixed'."""
    r = cfg.routing
    return "fixed" if r.strategy == "schedule" and r.expert_of_task else r.strategy


def strategy_of(cfg: Config) -> Strategy:
    return STRATEGIES[strategy_name(cfg)]


def check_rule(cfg: Config) -> object:
    """The chosen rule's domain object, so its checks fire before a run folder exists."""
    return strategy_of(cfg).check(cfg)


def check_keys_take_effect(cfg: Config, given: Iterable[str]) -> None:
    """Refuse a routing key the user gave (`--set`, an option, an API override) that the run's
    rule does not read, naming the rules that would; `router_confidence_threshold >= 1` takes
    effect under every rule (one expert per task)."""
    name, r = strategy_name(cfg), cfg.routing
    for key in given:
        section, _, leaf = key.partition(".")
        if section != "routing" or leaf not in DECISION_KEYS or leaf in STRATEGIES[name].reads:
            continue
        if leaf == "router_confidence_threshold" and r.router_confidence_threshold >= 1:
            continue
        readers = " or ".join(_label(n) for n, s in STRATEGIES.items() if leaf in s.reads)
        raise ValueError(
            f"routing.{leaf} has no effect under routing.strategy {_label(name)}; it is read "
            f"under {readers}"
        )


def _label(name: str) -> str:
    return "'schedule' with routing.expert_of_task" if name == "fixed" else f"'{name}'"


def build_reuse_rule(cfg: Config, profiles: TaskProfiles, probe: TransferProbe) -> ReuseRule:
    row, tau = strategy_of(cfg), cfg.routing.router_confidence_threshold
    if tau >= 1 and "router_confidence_threshold" not in row.reads:
        return AlwaysNew(tau)  # the seed's "one expert per task", whatever the rule
    return row.build(cfg, profiles, probe)


def defers_profiles(cfg: Config) -> bool:
    """Whether the run's rule reads profiles only to break exact ties, so TaskProfiles computes
    them when asked (docs/adr/0065): the adaptive rule with a trained probe."""
    r = cfg.routing
    return strategy_name(cfg) == "adaptive" and r.probe_steps > 0 and r.probe_candidates > 0


def build_outcome_record(cfg: Config, learner, catalog, profiles, router, tracker):
    if not strategy_of(cfg).measured:
        return KeepProfile(learner)
    return RecordOutcome(learner, catalog, profiles, router, tracker)


def build_evaluate_routing(cfg: Config, query: RouteQuery, examples, tracker):
    """End-of-run routing and task-free accuracy: every run answers queries, whatever rule placed
    its tasks (issue 31), so every run measures how well it does."""
    return EvaluateRouting(query, examples, tracker)


def base_model_name(cfg: Config) -> str:
    if cfg.run.backbone == "fake":
        return "fake"
    return cfg.model.name_or_path + (f"/{cfg.model.gguf_file}" if cfg.model.gguf_file else "")


def build_routing_settings(cfg: Config, run_dir: Path | None = None) -> RoutingSettings:
    r = cfg.routing
    blocks = ["description"] + (["prototype"] if r.k_examples_for_prototype > 0 else [])
    blocks += ["gradient", "context"] if r.use_advanced_embeddings else []
    n = r.k_examples_for_prototype or (r.grad_sketch_examples if r.use_advanced_embeddings else 0)
    return RoutingSettings(
        base_model=base_model_name(cfg),
        blocks=tuple(blocks),
        weights=dict(r.profile_weights),
        profile_examples=n,
        key_examples=r.router_examples_per_task,
        dynamic_profiles=r.dynamic_profiles,
        top_k=r.top_k,
        temperature=r.temperature,
        tol_forget=r.tol_forget,
        tol_new=r.tol_new,
        outcome_z=r.outcome_z,
        probe_candidates=r.probe_candidates,
        probe_steps=r.probe_steps,
        decision_dev_examples=r.decision_dev_examples,
        tau=r.router_confidence_threshold,
        tau_step=r.tau_step,
        target_regret=r.target_regret,
        calibrator=ReuseCalibrator(
            r.calibration, r.prior_midpoint, r.prior_slope, r.prior_strength
        ),
        router_dir=None if run_dir is None else str(Path(run_dir) / "router"),
    )
