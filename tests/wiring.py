"""Tests build the product's own wiring: the container of bootstrap/containers.py with the config
schema's defaults, a few `--set` overrides and test doubles swapped in, so no test runs a rule or
a default the product does not use (issue 26)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dependency_injector import providers

from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.bootstrap.containers import Container, make_container
from adaptive_learner.domain.task import TaskSequence


class DescribedExamples:
    """An ExampleSource for tasks without data: 20 inputs per task and split, each the task's
    description with a label word and a number (labels in turn)."""

    def inputs(self, task, split, limit=None):
        rows = [
            LabelledInput(f"{task.description} {label} {i}", None, label, task.id)
            for i, label in ((i, task.labels[i % len(task.labels)]) for i in range(20))
        ]
        return rows[:limit] if limit is not None else rows


def fake_container(
    tasks, sets=(), *, examples=None, backbone=None, tracker=None, preset="fake", run_dir=None
) -> Container:
    """A container over `tasks` (a TaskSequence, answered by `examples` or DescribedExamples; or
    a task source with data, answered by the container's own SourceInputs). `backbone` and
    `tracker` replace the container's own (a RecordingTracker by default); state is in memory."""
    cfg = load_config(preset, ["consolidation.replay='none'", *sets])
    folder = Path(run_dir or tempfile.mkdtemp(prefix="al-test-"))
    container = make_container(cfg, folder)
    from tests.conftest import StaticSource

    source = StaticSource(tasks) if isinstance(tasks, TaskSequence) else tasks
    container.task_source.override(providers.Object(source))
    container.run_store.override(providers.Object(MemoryRunStore()))
    container.tracker.override(providers.Object(tracker or RecordingTracker()))
    if examples is not None or isinstance(tasks, TaskSequence):
        container.examples.override(providers.Object(examples or DescribedExamples()))
    if backbone is not None:
        container.backbone.override(providers.Object(backbone))
    return container


def routing_settings(sets=(), preset="fake", run_dir=None):
    """The RoutingSettings the product builds from the config schema (plus `sets`)."""
    from adaptive_learner.bootstrap.routing import build_routing_settings

    return build_routing_settings(load_config(preset, list(sets)), run_dir)
