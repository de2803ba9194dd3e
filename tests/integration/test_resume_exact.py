"""Resume on the HF backbone: crash after two tasks, resume in a fresh backbone, same
final matrix."""

import pytest
from tests.integration.conftest import make_backbone, schedule_learner

from adaptive_learner.adapters.storage import JsonRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = pytest.mark.integration
POLICY = ConsolidationPolicy(
    ewc_lambda=50.0, ewc_data_loader_num_samples=8, ewc_batch_size=4, replay="experience"
)


def sequence(tokenizer, source, run_dir, seed=0):
    b = make_backbone(tokenizer, source, run_dir=run_dir, seed=seed)
    b.experts.lora.lora_dropout = (
        0.1  # dropout draws random numbers: resume must replay them exactly
    )
    tracker = RecordingTracker()
    learn = schedule_learner(b, tracker, POLICY, epochs=1)
    return RunSequence(
        source, learn, EvaluateSequence(b, tracker), b, JsonRunStore(run_dir), tracker
    )


def test_resumed_run_matches_uninterrupted(tokenizer, demo_source, tmp_path):
    whole = sequence(tokenizer, demo_source, tmp_path / "whole")()

    crashing = sequence(tokenizer, demo_source, tmp_path / "crashed")
    learn = crashing.learn

    class CrashOnThird:
        def __call__(self, state, step, task):
            if step == 2:
                raise KeyboardInterrupt  # the process dies while task 3 trains
            return learn(state, step, task)

    crashing.learn = CrashOnThird()
    with pytest.raises(KeyboardInterrupt):
        crashing()

    # a fresh backbone, as after kill -9
    resumed = sequence(tokenizer, demo_source, tmp_path / "crashed")()
    assert resumed.accuracy.rows() == whole.accuracy.rows()
    assert [r.task_id for r in resumed.reports] == [r.task_id for r in whole.reports]
    from safetensors.torch import load_file

    final = "experts/expert-0/v3/adapter_model.safetensors"
    a, b = load_file(tmp_path / "whole" / final), load_file(tmp_path / "crashed" / final)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_killed_mid_task_resumes_from_the_epoch_checkpoint(
    tokenizer, demo_source, tmp_path, monkeypatch
):
    from adaptive_learner.adapters.hf.sessions import HFSession

    def two_epochs(run_dir):
        run = sequence(tokenizer, demo_source, run_dir)
        run.learn.epochs = 2
        return run

    whole = two_epochs(tmp_path / "whole")()

    original = HFSession.save_checkpoint

    def die_after_first_epoch_of_second_task(self, progress):
        original(self, progress)
        if self.task.id == whole.task_ids[1] and progress["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(HFSession, "save_checkpoint", die_after_first_epoch_of_second_task)
    with pytest.raises(KeyboardInterrupt):
        two_epochs(tmp_path / "crashed")()
    monkeypatch.setattr(HFSession, "save_checkpoint", original)

    resumed_run = two_epochs(tmp_path / "crashed")
    resumed = resumed_run()
    assert (
        "resumed_task",
        {"task": whole.task_ids[1], "expert": "expert-0", "after_epoch": 1},
    ) in resumed_run.tracker.events
    assert resumed.accuracy.rows() == whole.accuracy.rows()
    from safetensors.torch import load_file

    final = "experts/expert-0/v3/adapter_model.safetensors"
    a, b = load_file(tmp_path / "whole" / final), load_file(tmp_path / "crashed" / final)
    assert all((a[k] == b[k]).all() for k in a)
