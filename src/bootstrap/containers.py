"""The dependency-injection container: the one place where adapters are chosen.

`providers.Selector` picks the backbone, tracker and task source from the config; tests
swap any provider with `container.<name>.override(...)`. Heavy adapters (torch, wandb) are
imported inside their builder functions so `--backbone fake` never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from adaptive_learner.adapters.data.inputs import SourceInputs
from adaptive_learner.adapters.fake_backbone import FakeBackbone
from adaptive_learner.adapters.fake_profiler import FakeProfiler
from adaptive_learner.adapters.storage import JsonRunStore
from adaptive_learner.adapters.trackers import FanoutTracker, JsonlTracker, LogTracker, NullTracker
from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.input_router import InputRouter, TaskKeys
from adaptive_learner.application.learn_task import LearnTask
from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.application.reuse.probe import TransferProbe
from adaptive_learner.application.route_query import RouteQuery
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.application.train_jointly import TrainJointly
from adaptive_learner.bootstrap.config import Config
from adaptive_learner.bootstrap.routing import (
    base_model_name,
    build_evaluate_routing,
    build_outcome_record,
    build_reuse_rule,
    build_routing_settings,
    defers_profiles,
)
from adaptive_learner.domain.consolidation import ConsolidationPolicy, GammaGain
from adaptive_learner.domain.early_stopping import EarlyStopping


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
        TaskProfiles,
        profiler,
        examples,
        catalog,
        routing_settings,
        index,
        providers.Callable(defers_profiles, settings),
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
