import pytest
from tests.conftest import StaticSource

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES
from adaptive_learner.adapters.fake_backbone import FakeBackbone
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.train_jointly import TrainJointly
from adaptive_learner.bootstrap.config import load_config, preset_names
from adaptive_learner.bootstrap.containers import make_container

pytestmark = pytest.mark.unit


def test_joint_training_learns_every_task_without_interference(tasks):
    result = TrainJointly(StaticSource(tasks), FakeBackbone(), RecordingTracker(), epochs=1)()
    assert result.task_ids == tasks.ids
    assert result.avg_acc == pytest.approx(0.9)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_runs_on_the_fake_backbone(name, tmp_path):
    cfg = load_config(
        name,
        [
            "run.backbone='fake'",
            "data.source='demo'",
            "data.tasks=[]",
            "training.epochs=1",
            "run.tracker='null'",
        ],
    )
    state = make_container(cfg, tmp_path).run_sequence()()
    assert state.completed == len(DEMO_TASK_NAMES)
    consolidates = cfg.consolidation.ewc_lambda > 0 or cfg.consolidation.replay != "none"
    if consolidates and cfg.routing.strategy == "schedule":  # adaptive presets decide sharing
        assert any(r.expert_id == state.reports[0].expert_id for r in state.reports[1:]), (
            "consolidation preset without sharing"
        )
