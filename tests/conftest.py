"""Shared fixtures: tasks, the fake backbone wiring, the shared data folder."""

from __future__ import annotations

import contextlib
import io
import json
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
            Task(
                "sentiment",
                "Sentiment",
                "rate the movie review sentiment",
                ["positive", "negative"],
            ),
            Task(
                "topic",
                "Topic",
                "decide the news topic",
                ["sports", "business", "science", "politics"],
            ),
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


# --- the CLI in-process on tiny task folders (tests/e2e/test_preflight.py, tests/property) ------

SINGLE = {"name": "Alpha", "description": "does the text say yes", "labels": ["yes", "no"]}
PAIR = {
    "name": "Beta",
    "description": "do the two texts agree",
    "labels": ["same", "different"],
    "kind": "pair",
}


def write_tiny_data(root: Path) -> Path:
    """Two small task folders, one single-text and one pair task, valid as written."""
    for name, spec in (("alpha", SINGLE), ("beta", PAIR)):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "task.json").write_text(json.dumps(spec))
        for split, count in (("train", 8), ("validation", 4)):
            rows = [
                {"text": f"{split} text {i}", "label": spec["labels"][i % 2]} for i in range(count)
            ]
            if spec.get("kind") == "pair":
                rows = [{**r, "text_pair": f"other {i}"} for i, r in enumerate(rows)]
            (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def call_cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process (the console script's own `entry`); (exit code, everything it
    printed)."""
    from adaptive_learner.bootstrap import cli as cli_module

    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            cli_module.entry(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue()


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_tiny_data(tmp_path / "data")


@pytest.fixture
def run_cli():
    return call_cli
