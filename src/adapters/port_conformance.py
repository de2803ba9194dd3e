"""Every adapter bound to each port it implements, so that mypy compares the two.

mypy compares a class with a Protocol only where the class is used as that Protocol; the container
hands adapters to the use cases untyped, so without these bindings a port could drift from its
implementations unnoticed. Each function below is such a use: if an adapter's method no longer
matches its port (a parameter added on one side only, another return type), mypy fails on the
`return` line naming both. Nothing here runs: the module is read by mypy
(tests/unit/test_code_checks.py) and imported by no one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adaptive_learner.adapters.data.hub_glue import HubGlueSource
    from adaptive_learner.adapters.data.inputs import SourceInputs
    from adaptive_learner.adapters.data.task_folder import FolderTaskSource
    from adaptive_learner.adapters.fake_backbone import FakeBackbone, FakeJointSession, FakeSession
    from adaptive_learner.adapters.fake_profiler import FakeProfiler
    from adaptive_learner.adapters.hf.backbone import HFBackbone
    from adaptive_learner.adapters.hf.profiles import HFProfiler
    from adaptive_learner.adapters.hf.sessions import HFJointSession, HFSession
    from adaptive_learner.adapters.routing.learned import LearnedRouter
    from adaptive_learner.adapters.routing.search import ProfileIndex
    from adaptive_learner.adapters.storage import JsonRunStore, MemoryRunStore
    from adaptive_learner.adapters.trackers import (
        FanoutTracker,
        JsonlTracker,
        LogTracker,
        NullTracker,
        RecordingTracker,
    )
    from adaptive_learner.adapters.wandb_tracker import WandbTracker
    from adaptive_learner.application.ports import (
        AdapterStore,
        Answerer,
        Encoder,
        ExampleSource,
        JointSession,
        Learner,
        Profiler,
        RouterModel,
        RunStore,
        TaskSource,
        Tracker,
        TrainingSession,
        VectorIndex,
    )


# The backbones: learner, adapter store and encoder in one object, and their training sessions.
def hf_learner(a: HFBackbone) -> Learner:
    return a


def hf_adapter_store(a: HFBackbone) -> AdapterStore:
    return a


def hf_encoder(a: HFBackbone) -> Encoder:
    return a


def hf_session(a: HFSession) -> TrainingSession:
    return a


def hf_joint_session(a: HFJointSession) -> JointSession:
    return a


def fake_learner(a: FakeBackbone) -> Learner:
    return a


def fake_adapter_store(a: FakeBackbone) -> AdapterStore:
    return a


def fake_encoder(a: FakeBackbone) -> Encoder:
    return a


def fake_session(a: FakeSession) -> TrainingSession:
    return a


def fake_joint_session(a: FakeJointSession) -> JointSession:
    return a


# Profiles for routing, and the experts' answers to task-free queries.
def hf_profiler(a: HFProfiler) -> Profiler:
    return a


def hf_answerer(a: HFProfiler) -> Answerer:
    return a


def fake_profiler(a: FakeProfiler) -> Profiler:
    return a


def fake_answerer(a: FakeProfiler) -> Answerer:
    return a


# Routing: nearest-expert search and the learned router (LinearRouter, MLPRouter).
def profile_index(a: ProfileIndex) -> VectorIndex:
    return a


def learned_router(a: LearnedRouter) -> RouterModel:
    return a


# Data.
def folder_tasks(a: FolderTaskSource) -> TaskSource:
    return a


def hub_glue_tasks(a: HubGlueSource) -> TaskSource:
    return a


def source_inputs(a: SourceInputs) -> ExampleSource:
    return a


# Run state and trackers.
def json_run_store(a: JsonRunStore) -> RunStore:
    return a


def memory_run_store(a: MemoryRunStore) -> RunStore:
    return a


def null_tracker(a: NullTracker) -> Tracker:
    return a


def recording_tracker(a: RecordingTracker) -> Tracker:
    return a


def jsonl_tracker(a: JsonlTracker) -> Tracker:
    return a


def log_tracker(a: LogTracker) -> Tracker:
    return a


def fanout_tracker(a: FanoutTracker) -> Tracker:
    return a


def wandb_tracker(a: WandbTracker) -> Tracker:
    return a
