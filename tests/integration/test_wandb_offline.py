"""The W&B tracker in offline mode (no key, no network): a syncable run appears under the
run folder."""

import pytest

pytestmark = pytest.mark.integration


def test_offline_run_is_written_for_later_sync(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    from adaptive_learner.adapters.wandb_tracker import WandbTracker

    tracker = WandbTracker(tmp_path, "test-run", {"training": {"epochs": 2}})
    tracker.log_metrics({"sst2/train_loss": 0.5}, step=1, axis="sst2/epoch")
    tracker.log_metrics({"sst2/step_loss": 0.6}, step=3, axis="sst2/step")
    tracker.log_metrics({"avg_acc": 0.7})
    tracker.log_event("task_trained", task="sst2", accuracy=0.9, seconds=1.0)
    tracker.log_matrix(("a", "b"), [[0.9, None], [0.8, 0.7]])
    tracker.finish()
    assert list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
