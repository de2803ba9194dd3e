"""Failures that must lose nothing: a full disk while saving, a NaN loss mid-run."""

import errno
import json
import os

import pytest

from adaptive_learner.adapters.errors import AdapterError, StorageError
from adaptive_learner.adapters.fake_backbone import FakeSession
from adaptive_learner.adapters.storage import atomic_write_json

pytestmark = pytest.mark.unit


def test_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    atomic_write_json(path, {"completed": 1})

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageError, match="No space left on device"):
        atomic_write_json(path, {"completed": 2})
    assert json.loads(path.read_text()) == {"completed": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left behind


def test_nan_loss_stops_the_task_keeps_earlier_tasks(tmp_path, monkeypatch, capsys):
    import sys

    from adaptive_learner.bootstrap import cli

    original = FakeSession.train_epoch

    def explode_on_third_task(self):
        if self.task.id == "product_sentiment":
            raise AdapterError(
                f"task {self.task.id!r}: loss became nan at epoch 1; lower training.learning_rate"
            )
        return original(self)

    monkeypatch.setattr(FakeSession, "train_epoch", explode_on_third_task)
    monkeypatch.setattr(
        sys, "argv", ["adaptive-learner", "run", "--preset", "fake", "--output-dir", str(tmp_path)]
    )
    with pytest.raises(SystemExit) as exit_info:
        cli.entry()
    assert exit_info.value.code == 2
    out = capsys.readouterr().err  # error lines go to stderr
    assert "loss became nan" in out and "Traceback" not in out
    (run_dir,) = tmp_path.iterdir()
    state = json.loads((run_dir / "state.json").read_text())
    rows = state["accuracy"]["rows"]
    assert rows[0][0] is not None and rows[1][1] is not None and rows[2][2] is None
