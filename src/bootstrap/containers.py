"""The dependency-injection container: the one place where adapters are chosen.

`providers.Selector` picks the backbone, tracker and task source from the config; tests
swap any provider with `container.<name>.override(...)`. Heavy adapters (torch, wandb) are
imported inside their builder functions so `--backbone fake` never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from attrs import frozen
from dependency_injector import containers, providers

from adaptive_learner.adapters.data.inputs import SourceInputs
from adaptive_learner.adapters.fake_backbone import FakeBackbone
from adaptive_learner.adapters.fake_profiler import FakeProfiler
from adaptive_learner.adapters.storage import JsonRunStore
from adaptive_learner.adapters.trackers import FanoutTracker, JsonlTracker, LogTracker, NullTracker
from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.evaluate_routing import EvaluateRouting
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.input_router import InputRouter, TaskKeys
from adaptive_learner.application.learn_task import LearnTask
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
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.application.train_jointly import TrainJointly
from adaptive_learner.bootstrap.config import Config
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter
from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.consolidation import ConsolidationPolicy, GammaGain
from adaptive_learner.domain.early_stopping import EarlyStopping
from adaptive_learner.domain.reuse import FixedAssignment, SharingSchedule, SimilarityRouter


def build_policy(cfg: Config) -> ConsolidationPolicy:
    c = cfg.consolidation
    return ConsolidationPolicy(
        ewc_lambda=c.ewc_lambda,
        ewc_data_loader_num_samples=c.ewc_data_loader_num_samples,
        ewc_batch_size=c.ewc_batch_size,
        fisher=c.fisher,
        use_gamma_gating=c.use_gamma_gating,
        ewc_fixed_lambda_bypass_gamma=c.ewc_fixed_lambda_bypass_gamma,
        gamma_gain_lambda=c.gamma_gain_lambda,
        gamma=GammaGain(
            weights=dict(c.gamma_weights), scales=dict(c.gamma_scales), direction=c.gamma_direction
        ),
        replay=c.replay,
        replay_alpha=c.replay_alpha,
        feature_replay_alpha=c.feature_replay_alpha,
        replay_backbone_encoding_batch_size=c.replay_backbone_encoding_batch_size,
        replay_budget_bytes=c.replay_budget_bytes,
        replay_tasks_per_step=c.replay_tasks_per_step,
        replay_batch_size=c.replay_batch_size,
    )


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
    """One row of the reuse-rule table: how to build the rule, whether the run measures (keeps a
    router memory: outcomes, profiles, routing evaluation) or follows a schedule, and the routing
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
    "tau_step", "target_regret", "calibration", "prior_midpoint", "prior_slope", "prior_strength",
    "tol_forget", "tol_new", "outcome_z",
})  # fmt: skip

# The one table of reuse rules (docs/adr/0049): `routing.strategy` is decoded here and nowhere else.
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


def build_rule(cfg: Config) -> object:
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


def build_outcome_record(cfg: Config, learner, catalog, profiles, router, tracker):
    if not strategy_of(cfg).measured:
        return KeepProfile(learner)
    return RecordOutcome(learner, catalog, profiles, router, tracker)


def build_evaluate_routing(cfg: Config, query: RouteQuery, examples, tracker):
    """End-of-run routing and task-free accuracy, for runs that keep a router memory."""
    if not strategy_of(cfg).measured:
        return None
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
        tau=r.router_confidence_threshold,
        tau_step=r.tau_step,
        target_regret=r.target_regret,
        calibrator=ReuseCalibrator(
            r.calibration, r.prior_midpoint, r.prior_slope, r.prior_strength
        ),
        router_dir=None if run_dir is None else str(Path(run_dir) / "router"),
    )


def build_router_model(cfg: Config):
    """A learned router (LinearRouter / MLPRouter, issue 10's adapters) or None for cosine
    routing."""
    kind = cfg.routing.router_model
    if kind == "cosine":
        return None
    from adaptive_learner.adapters.routing.learned import LinearRouter, MLPRouter

    return (LinearRouter if kind == "linear" else MLPRouter)(base_model_name(cfg))


def build_vector_index():
    """Nearest-key search: exact below its size cut-off, usearch HNSW above (docs/adr/0035)."""
    from adaptive_learner.adapters.routing.search import ProfileIndex

    return ProfileIndex()


def build_hf_profiler(cfg: Config, backbone):
    from adaptive_learner.adapters.hf.profiles import HFProfiler

    return HFProfiler(backbone, cfg.routing)


def build_early_stopping(cfg: Config) -> EarlyStopping | None:
    t = cfg.training
    if not t.early_stopping:
        return None
    return EarlyStopping(
        patience=t.patience, min_delta=t.min_delta, min_epochs_before_stop=t.min_epochs_before_stop
    )


def build_task_source(cfg: Config):
    from adaptive_learner.adapters.data.sources import build_source

    return build_source(cfg)


def build_hf_backbone(cfg: Config, run_dir: Path, source):
    from adaptive_learner.adapters.hf.backbone import build_hf_backbone as build

    return build(cfg, run_dir, source)


def check_backbone(cfg: Config) -> None:
    """Cheap checks of the chosen backbone's settings, before a run folder exists."""
    if cfg.run.backbone == "hf":
        from adaptive_learner.adapters.hf.loading import check_model_config

        check_model_config(cfg.model, cfg.run.device)


def check_tracker(cfg: Config) -> None:
    """Refuse a tracker that cannot work before a run folder exists (WANDB_MODE=online without
    network)."""
    if cfg.run.tracker == "wandb":
        import os

        from adaptive_learner.adapters.wandb_tracker import choose_mode

        choose_mode(dict(os.environ))


def build_wandb_tracker(cfg: Config, run_dir: Path):
    from adaptive_learner.adapters.wandb_tracker import WandbTracker

    tag, tags = cfg.run.experiment_tag, list(cfg.run.wandb_tags)
    if tag:
        tags += [tag, f"{tag}_seed{cfg.run.seed}"]
    return WandbTracker(
        run_dir=run_dir,
        name=run_dir.name,
        config=cfg.to_dict(),
        project=cfg.run.wandb_project,
        tags=tags,
        group=tag or None,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Config)
    run_dir = providers.Dependency(instance_of=Path)
    config = providers.Configuration()

    task_source = providers.Singleton(build_task_source, settings)
    backbone = providers.Selector(
        config.run.backbone,
        fake=providers.Singleton(
            FakeBackbone,
            peak_accuracy=config.fake.peak_accuracy,
            epochs_to_learn=config.fake.epochs_to_learn,
            seconds_per_epoch=config.fake.seconds_per_epoch,
            root=run_dir,
            learning_rate=config.training.learning_rate,
        ),
        hf=providers.Singleton(build_hf_backbone, settings, run_dir, task_source),
    )
    chosen_tracker = providers.Selector(
        config.run.tracker,
        null=providers.Singleton(NullTracker),
        jsonl=providers.Singleton(
            JsonlTracker, providers.Callable(lambda d: d / "events.jsonl", run_dir)
        ),
        wandb=providers.Singleton(build_wandb_tracker, settings, run_dir),
    )
    tracker = providers.Singleton(FanoutTracker, providers.Singleton(LogTracker), chosen_tracker)
    run_store = providers.Singleton(JsonRunStore, run_dir)
    profiler = providers.Selector(
        config.run.backbone,
        fake=providers.Singleton(FakeProfiler, backbone),
        hf=providers.Singleton(build_hf_profiler, settings, backbone),
    )
    router_model = providers.Singleton(build_router_model, settings)
    policy = providers.Singleton(build_policy, settings)

    # Routing: one piece a job (docs/adr/0049); the reuse rule comes from the STRATEGIES table.
    examples = providers.Singleton(SourceInputs, task_source)
    catalog = providers.Singleton(TaskCatalog, task_source, examples)
    routing_settings = providers.Singleton(build_routing_settings, settings, run_dir)
    index = providers.Singleton(build_vector_index)
    task_profiles = providers.Singleton(
        TaskProfiles, profiler, examples, catalog, routing_settings, index
    )
    input_router = providers.Singleton(
        InputRouter,
        providers.Singleton(TaskKeys, profiler, examples, catalog, routing_settings),
        routing_settings,
        tracker,
        router_model,
        index,
    )
    probe = providers.Singleton(TransferProbe, backbone, catalog, routing_settings, policy)
    reuse_rule = providers.Singleton(build_reuse_rule, settings, task_profiles, probe)
    outcome = providers.Singleton(
        build_outcome_record, settings, backbone, catalog, task_profiles, input_router, tracker
    )
    route_query = providers.Singleton(RouteQuery, profiler, input_router, profiler, catalog)
    evaluate_routing = providers.Singleton(
        build_evaluate_routing, settings, route_query, examples, tracker
    )

    learn_task = providers.Factory(
        LearnTask,
        learner=backbone,
        store=backbone,
        rule=reuse_rule,
        outcome=outcome,
        tracker=tracker,
        policy=policy,
        epochs=config.training.epochs,
        early_stopping=providers.Callable(build_early_stopping, settings),
    )
    evaluate = providers.Factory(EvaluateSequence, learner=backbone, tracker=tracker)
    train_jointly = providers.Factory(
        TrainJointly,
        source=task_source,
        learner=backbone,
        tracker=tracker,
        epochs=config.training.epochs,
    )
    run_sequence = providers.Factory(
        RunSequence,
        source=task_source,
        learn=learn_task,
        evaluate=evaluate,
        store=backbone,
        run_store=run_store,
        tracker=tracker,
        keep_checkpoints=config.run.keep_checkpoints,
        evaluate_routing=evaluate_routing,
    )


def make_container(cfg: Config, run_dir: Path) -> Container:
    container = Container(settings=cfg, run_dir=Path(run_dir))
    container.config.from_dict(cfg.to_dict())
    return container
