"""The use cases wired to the fake backbone and in-memory stores; exact, hand-derived numbers."""

import time

import pytest
from tests.conftest import StaticSource, make_tasks
from tests.wiring import fake_container

from adaptive_learner.adapters.fake_backbone import FakeBackbone
from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.learn_task import LearnTask
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.application.record_outcome import KeepProfile
from adaptive_learner.application.reuse.schedule import ScheduleRule
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.early_stopping import EarlyStopping
from adaptive_learner.domain.reuse import SharingSchedule
from adaptive_learner.domain.task import TaskSequence

pytestmark = pytest.mark.unit
# Frozen values, shared as defaults of `build`.
DEFAULT_POLICY, DEFAULT_STOPPER = ConsolidationPolicy(), EarlyStopping()


def build(tasks, rule, policy=DEFAULT_POLICY, epochs=2, stopper=DEFAULT_STOPPER, backbone=None):
    fb = backbone or FakeBackbone()
    tracker, store = RecordingTracker(), MemoryRunStore()
    learn = LearnTask(fb, fb, ScheduleRule(rule), KeepProfile(fb), tracker, policy, epochs, stopper)
    return (
        RunSequence(StaticSource(tasks), learn, EvaluateSequence(fb, tracker), fb, store, tracker),
        tracker,
        store,
        fb,
    )


def two_tasks():
    return TaskSequence(make_tasks().tasks[:2])


def test_one_expert_per_task_never_forgets(tasks):
    run, tracker, store, _ = build(tasks, SharingSchedule(1))
    state = run()
    assert state.accuracy.bwt() == 0.0
    assert state.accuracy.avg_acc() == pytest.approx(0.9)
    assert len(state.library) == 3
    assert store.saves == 1 + 3 + 1  # after zero-shot, after every task, after the final row
    trained = [f for e, f in tracker.events if e == "task_trained"]
    assert len(trained) == 3 and all(f["health"] == "ok" for f in trained)


def test_shared_expert_forgets_by_task_dissimilarity():
    # sentiment words {rate the movie review sentiment positive negative},
    # topic words {decide the news topic sports business science politics}: d = 13/14.
    # skill_sentiment = 1 - 13/14; acc = 0.5 + 0.4 * (1/14); BWT = acc - 0.9 = -13/35.
    state = build(two_tasks(), SharingSchedule(-1))[0]()
    assert state.accuracy[1, 0] == pytest.approx(0.5 + 0.4 / 14)
    assert state.accuracy.bwt() == pytest.approx(-13 / 35)
    assert state.accuracy.avg_acc() == pytest.approx((0.5 + 0.4 / 14 + 0.9) / 2)
    assert len(state.library) == 1 and state.library.get("expert-0").tasks == ("sentiment", "topic")


def test_ewc_halves_the_forgetting():
    # lambda 100 -> protection 100 / (100 + 100) = 0.5 -> BWT = -13/70
    state = build(two_tasks(), SharingSchedule(-1), policy=ConsolidationPolicy(ewc_lambda=100))[0]()
    assert state.accuracy.bwt() == pytest.approx(-13 / 70)


def test_fwt_from_before_accuracies(tasks):
    state = build(tasks, SharingSchedule(-1))[0]()
    # a reused expert that never saw the task scores its zero-shot accuracy: FWT = 0
    assert state.accuracy.fwt() == pytest.approx(0.0)
    assert state.accuracy.get(0, 1) == pytest.approx(0.25)


def test_early_stopping_stops_and_restores_best(tasks):
    run = build(tasks, SharingSchedule(1), epochs=10, stopper=EarlyStopping(patience=2))[0]
    state = run()
    # the fake learns in one epoch, then plateaus: stop after 1 + patience epochs
    assert [r.epochs_run for r in state.reports] == [3, 3, 3]
    assert all(r.best_epoch == 1 and r.stopped_early for r in state.reports)


def test_without_early_stopping_all_epochs_run(tasks):
    state = build(tasks, SharingSchedule(1), epochs=4, stopper=None)[0]()
    assert [r.epochs_run for r in state.reports] == [4, 4, 4]


def test_similarity_routing_creates_for_dissimilar_tasks(tasks):
    sets = ["routing.strategy='similarity'", "routing.reuse_threshold=0.95"]
    state = fake_container(tasks, sets).run_sequence()()
    assert [str(r.decision.action) for r in state.reports] == ["create", "create", "create"]


def test_a_text_is_routed_to_its_task_whatever_rule_the_run_learned_under(tasks):
    container = fake_container(
        tasks, ["routing.strategy='schedule'", "routing.num_tasks_to_share_lora=1"]
    )
    state = container.run_sequence()()
    # a schedule run records no decisions, only its routing evaluation (every run has one) ...
    assert state.router.decisions == [] and state.router.evaluation["routing_accuracy"] >= 0
    text = LabelledInput("the news topic about sports and business")
    ranked = container.route_query().route([text], state, k=2)[0]
    assert ranked[0][0] == "topic"  # ... and its inputs are routed all the same


def test_resume_continues_and_matches_uninterrupted(tasks, tmp_path):
    whole = build(tasks, SharingSchedule(-1), backbone=FakeBackbone(root=tmp_path / "a"))[0]()

    fb = FakeBackbone(root=tmp_path / "b")
    run, _, store, _ = build(tasks, SharingSchedule(-1), backbone=fb)
    original = run.learn.__call__
    calls = {"n": 0}

    def crash_on_third(state, step, task):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(state, step, task)

    run.learn = type("L", (), {"__call__": staticmethod(crash_on_third)})()
    with pytest.raises(KeyboardInterrupt):
        run()
    assert RunState.from_dict(store.state).completed == 2

    fresh = FakeBackbone(root=tmp_path / "b")  # a new process: nothing in memory
    run2 = build(tasks, SharingSchedule(-1), backbone=fresh)[0]
    run2.run_store = store
    resumed = run2()
    assert resumed.accuracy.rows() == whole.accuracy.rows()


def test_consolidation_is_paid_only_where_a_later_task_reads_it(tasks):
    """docs/adr/0041: with 2 of 3 tasks sharing, only the first task's expert learns again."""
    fb = FakeBackbone()
    consolidated = []
    real = fb.consolidate
    fb.consolidate = lambda expert_id, task, policy, scale: (
        consolidated.append((expert_id, task.id)) or real(expert_id, task, policy, scale)
    )
    run, tracker, _, _ = build(
        tasks, SharingSchedule(2), policy=ConsolidationPolicy(ewc_lambda=100), backbone=fb
    )
    state = run()
    ids = state.task_ids
    assert consolidated == [("expert-0", ids[0])]
    skipped = [f["task"] for e, f in tracker.events if e == "consolidation_skipped"]
    assert skipped == [ids[1], ids[2]]
    # the result is the one eager consolidation gives: nothing read what was skipped
    eager = build(tasks, SharingSchedule(2), policy=ConsolidationPolicy(ewc_lambda=100))
    eager[0].learn.rule.learns_again = lambda step, total: True
    assert eager[0]().accuracy.to_dict() == state.accuracy.to_dict()


def test_each_task_is_judged_after_training_and_again_on_the_final_row(tasks, monkeypatch):
    """At or below zero-shot or the majority class is flagged (issue 31): here the last task's
    training wipes what the shared expert knew of the first, so the first task, learned right
    after its training, is flagged at the end; the last never learns and is flagged both times."""
    from adaptive_learner.adapters.fake_backbone import FakeSession

    original = FakeSession.train_epoch

    def forget_first_and_never_learn_last(self):
        report = original(self)
        if self.task.id == "animal":
            self.state.skill["sentiment"] = 0.0
            self.state.skill["animal"] = 0.0
        return report

    monkeypatch.setattr(FakeSession, "train_epoch", forget_first_and_never_learn_last)
    run, tracker, _, _ = build(tasks, SharingSchedule(-1), stopper=None)
    state = run()
    health = {r.task_id: (r.health, r.end_health) for r in state.reports}
    assert health == {
        "sentiment": ("ok", "did_not_learn"),
        "topic": ("ok", "ok"),
        "animal": ("did_not_learn", "did_not_learn"),
    }
    first = state.reports[0]
    assert "at the end is at or below" in first.end_health_reason
    ends = [f["task"] for e, f in tracker.events if e == "did_not_learn" and f.get("when") == "end"]
    assert ends == ["sentiment", "animal"]


def test_at_or_below_the_majority_class_is_not_learned():
    from adaptive_learner.domain.divergence import judge_outcome

    assert judge_outcome(0.6, 0.5, 0.55).ok
    majority = judge_outcome(0.512, 0.487, 0.512)
    assert not majority.ok and "at or below the majority class 0.512" in majority.reason
    zero_shot = judge_outcome(0.45, 0.5, 0.512, when="at the end")
    assert zero_shot.reason == "accuracy 0.450 at the end is at or below zero-shot 0.500"


def test_each_task_reports_the_seconds_its_routing_took_beside_its_total():
    """The decision (with its probe) and the outcome record around training are timed apart from
    training (issue 31 item 4 compares the two)."""
    from tests.wiring import fake_container

    from adaptive_learner.adapters.fake_backbone import FakeBackbone

    class SlowDecisions(FakeBackbone):
        def trial(self, *args, **kwargs):
            time.sleep(0.05)  # a probe that costs something measurable
            return super().trial(*args, **kwargs)

    sets = ["routing.strategy='adaptive'", "training.epochs=1"]
    state = fake_container(make_tasks(), sets, backbone=SlowDecisions()).run_sequence()()
    probed = [r for r in state.reports if r.step > 0]
    assert all(r.routing_seconds >= 0.05 for r in probed)  # each later task was probed
    assert all(0.0 <= r.routing_seconds <= r.seconds for r in state.reports)


@pytest.mark.parametrize("tau", ["0.5", "0.0"])
def test_training_goes_on_from_the_chosen_options_probe_copy(tau):
    """docs/adr/0057: before starting a session LearnTask asks the learner for the kept probe copy
    of the option it chose (the expert for a reuse, the fresh copy for a new expert), and trains
    the session it gets."""
    from tests.wiring import fake_container

    from adaptive_learner.adapters.fake_backbone import FakeBackbone, FakeSession

    calls, adopted = [], []

    class KeepsCopies(FakeBackbone):
        def adopt(self, parent, expert_id, task, policy):
            calls.append((parent, expert_id, task.id))
            session = FakeSession(self, expert_id, task)
            adopted.append(session)
            return session

    sets = [f"routing.router_confidence_threshold={tau}", "training.epochs=1"]
    state = fake_container(make_tasks(), sets, backbone=KeepsCopies()).run_sequence()()
    expected = [
        (r.expert_id if str(r.decision.action) == "reuse" else None, r.expert_id, r.task_id)
        for r in state.reports
    ]
    assert calls == expected and all(s.epoch == 1 for s in adopted)
    if tau == "0.0":
        assert any(source is not None for source, _, _ in calls)  # a reuse was adopted too
