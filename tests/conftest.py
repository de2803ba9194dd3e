"""Shared fixtures: tasks, the fake backbone wiring, the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_learner.domain.task import Task, TaskSequence

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the generated demo suite and model caches out of the user's home."""
    monkeypatch.setenv("ADAPTIVE_LEARNER_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")


def make_tasks() -> TaskSequence:
    return TaskSequence(
        [
            Task("sentiment", "Sentiment", "rate the movie review sentiment", ["positive", "negative"]),
            Task("topic", "Topic", "decide the news topic", ["sports", "business", "science", "politics"]),
            Task("animal", "Animal", "does the sentence mention an animal", ["yes", "no"]),
        ]
    )


class StaticSource:
    def __init__(self, tasks: TaskSequence) -> None:
        self.tasks = tasks

    def load(self) -> TaskSequence:
        return self.tasks


@pytest.fixture
def tasks() -> TaskSequence:
    return make_tasks()
