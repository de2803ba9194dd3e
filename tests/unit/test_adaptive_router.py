"""The adaptive router by hand: calibration prior, outcomes, fork, tau, persistence errors, and
the whole loop on the fake backbone (profiles, decisions, task-free answers)."""

import attrs
import pytest
from tests.wiring import fake_container

from adaptive_learner.adapters.fake_backbone import FakeBackbone
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter, AdaptiveThreshold, ArmStats
from adaptive_learner.domain.calibration import ReuseCalibrator, ReuseOutcome, sigmoid
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.profiles import assemble_profile, block_slice
from adaptive_learner.domain.reuse import FixedAssignment, ReuseAction
from adaptive_learner.domain.router_memory import RouterMemory
from adaptive_learner.domain.task import Task, TaskSequence, split_head
from adaptive_learner.domain.task_free import mixture

pytestmark = pytest.mark.unit


def test_calibrator_answers_its_prior_before_outcomes_and_learns_from_them():
    cal = ReuseCalibrator(prior_midpoint=0.8, prior_slope=20.0)
    assert cal.probability(0.8) == pytest.approx(0.5, abs=0.05)
    assert cal.probability(0.95) == pytest.approx(sigmoid(20 * 0.15), abs=0.05)
    burnt = cal
    for _ in range(20):
        burnt = burnt.observe(0.95, False)
    assert burnt.probability(0.95) < 0.3  # twenty failed reuses at 0.95 outweigh the prior
    iso = ReuseCalibrator(kind="isotonic", prior_midpoint=0.8, prior_slope=20.0)
    assert iso.probability(1.0) > iso.probability(0.5)


def test_works_and_regret():
    assert ReuseOutcome(0.9, forgetting=0.01).works(0.02, 0.02)
    assert not ReuseOutcome(0.9, forgetting=0.05).works(0.02, 0.02)
    assert not ReuseOutcome(0.9, forgetting=0.0, shortfall=0.1).works(0.02, 0.02)
    assert ReuseOutcome(0.9, forgetting=0.05, shortfall=0.1).regret() == pytest.approx(0.15)


def test_a_loss_of_one_dev_example_in_192_is_noise_not_a_failed_reuse():
    """Item 2 seed 0 (docs/adr/0044): the SST-2 repeat cost SST-2 0.021 dev accuracy (0.812 -> 0.792
    on 192 inputs), over tol_forget 0.02 by one example; its standard error is ~0.041, so at z = 1
    the reuse works."""
    from adaptive_learner.domain.calibration import mean_change_se

    se = mean_change_se([(0.8125, 0.7917, 192)])
    assert se == pytest.approx(((0.8125 * 0.1875 + 0.7917 * 0.2083) / 192) ** 0.5)
    assert 0.04 < se < 0.042
    outcome = ReuseOutcome(0.9, forgetting=0.8125 - 0.7917, noise=se)
    assert not outcome.works(0.02, 0.02)  # the fixed tolerance of docs/adr/0031
    assert outcome.works(0.02, 0.02, z=1.0)
    assert not ReuseOutcome(0.9, forgetting=0.08, noise=se).works(
        0.02, 0.02, z=1.0
    )  # a clear loss still fails
    # two earlier tasks: the mean's standard error shrinks as 1/m of the root summed variance
    two = mean_change_se([(0.8, 0.8, 100), (0.6, 0.6, 100)])
    assert two == pytest.approx(((0.32 + 0.48) / 100) ** 0.5 / 2)
    assert mean_change_se([]) == 0.0


def test_a_trained_probe_counts_as_a_ucb_observation():
    """Item 2 seed 101's pattern (docs/adr/0044): expert e0 was reused once and worked; both e0 and
    e1 were probed after 8 steps, e0 at p 0.99, e1 at p 0.75, both above tau. Without probe visits
    e1 has never been reused, so its index is infinite and it is explored; with the probe counted as
    one observation the measured better candidate wins."""
    from adaptive_learner.domain.probe import ProbeResult

    cal = ReuseCalibrator()
    profiles = {"e0": (1.0, 0.0), "e1": (0.0, 1.0)}
    probes = {"e0": ProbeResult(0.90, 0.70, 192, 8), "e1": ProbeResult(0.75, 0.72, 192, 8)}
    assert probes["e0"].probability() > 0.97 and 0.7 < probes["e1"].probability() < 0.8
    arms = {"e0": ArmStats(1, 1.0)}
    tau = AdaptiveThreshold(0.69)
    blind = AdaptiveRouter(probe_visits=0.0).decide((0.7, 0.7), profiles, cal, tau, arms, probes)
    assert blind.expert_id == "e1" and blind.ucb["e1"] is None and "explores" in blind.reason
    weighed = AdaptiveRouter().decide((0.7, 0.7), profiles, cal, tau, arms, probes)
    assert weighed.action is ReuseAction.REUSE and weighed.expert_id == "e0"
    assert "probe as 1" in weighed.reason and all(v is not None for v in weighed.ucb.values())


def test_tau_moves_with_regret_and_stays_when_always_new():
    t = AdaptiveThreshold(0.7, step=0.1, target_regret=0.1)
    assert t.observe(0.6).tau == pytest.approx(0.75)
    assert t.observe(0.0).tau == pytest.approx(0.69)
    assert AdaptiveThreshold(1.1).observe(0.0).tau == 1.1


def test_decision_carries_evidence_and_forks_an_expert_whose_reuses_failed():
    profiles = {"e0": (1.0, 0.0), "e1": (0.0, 1.0)}
    cal = ReuseCalibrator(prior_midpoint=0.5, prior_slope=20.0)
    d = AdaptiveRouter().decide((1.0, 0.1), profiles, cal, AdaptiveThreshold(0.5))
    assert d.action is ReuseAction.REUSE and d.expert_id == "e0"
    assert (
        set(d.scores) == {"e0", "e1"}
        and d.probabilities["e0"] > 0.9
        and d.tau == 0.5
        and "never reused" in d.reason
    )
    fork = AdaptiveRouter().decide(
        (1.0, 0.1), profiles, cal, AdaptiveThreshold(0.5), {"e0": ArmStats(2, 0.0)}
    )
    assert fork.action is ReuseAction.FORK and fork.expert_id == "e0"
    new = AdaptiveRouter().decide((1.0, 0.1), profiles, cal, AdaptiveThreshold(1.1))
    assert new.action is ReuseAction.CREATE and "always a new expert" in new.reason


def test_profile_blocks_are_weighted_by_share_of_the_norm():
    p = assemble_profile(
        {"description": (3.0, 4.0), "prototype": (0.0, 0.0, 2.0)},
        {"description": 1.0, "prototype": 3.0},
    )
    dims = {"description": 2, "prototype": 3}
    share = sum(v * v for v in p[block_slice(dims, "prototype")])
    assert len(p) == 5 and share == pytest.approx(0.75)
    with pytest.raises(DomainError, match="negative"):
        assemble_profile({"description": (1.0,)}, {"description": -1.0})


def test_router_memory_rejects_another_schema_or_model():
    data = RouterMemory(base_model="smollm2-135m").to_dict()
    with pytest.raises(DomainError, match="schema_version 99"):
        RouterMemory.from_dict({**data, "schema_version": 99})
    with pytest.raises(DomainError, match="differs from this run's model 'gemma3-270m'"):
        RouterMemory.from_dict(data).check_model("gemma3-270m")


def test_mixture_weights_distributions():
    mixed = mixture([(0.75, {"a": 1.0, "b": 0.0}), (0.25, {"a": 0.0, "c": 1.0})])
    assert mixed == pytest.approx({"a": 0.75, "b": 0.0, "c": 0.25})


# --- the loop on the fake backbone ---------------------------------------------------------------
WORDS = {
    "sentiment": ["great film", "awful movie plot"],
    "topic": ["stocks market rally", "football match goal"],
    "sentiment2": ["lovely film acting", "boring movie scenes"],
}


class Examples:
    """ExampleSource over a few generated sentences per task; records what was asked."""

    def __init__(self, tasks: TaskSequence) -> None:
        self.tasks, self.asked = tasks, []

    def inputs(self, task, split, limit=None):
        self.asked.append((task.id, split))
        rows = [
            LabelledInput(f"{w} {i}", None, task.labels[i % len(task.labels)], task.id)
            for i, w in enumerate(WORDS[task.id] * 10)
        ]
        return rows[:limit] if limit is not None else rows


@attrs.define
class Routed:
    """The pieces of a routed run on the fake backbone that the tests look into."""

    run: object
    learner: FakeBackbone
    profiler: object
    query: object
    keys: object
    examples: object
    tracker: RecordingTracker


def routed_run(
    tasks,
    tau,
    blocks=("description", "prototype", "gradient", "context"),
    probe=0,
    steps=0,
    examples=None,
):
    """The adaptive rule with the schema's defaults, except: tau, the profile blocks (8 examples),
    8 key inputs, the probe settings, a calibrator prior centred at cosine 0.5, one epoch, no
    early stopping, no replay."""
    sets = [
        "routing.strategy='adaptive'",
        f"routing.router_confidence_threshold={tau}",
        f"routing.k_examples_for_prototype={8 if 'prototype' in blocks else 0}",
        f"routing.use_advanced_embeddings={'true' if 'gradient' in blocks else 'false'}",
        "routing.router_examples_per_task=8",
        f"routing.probe_candidates={probe}",
        f"routing.probe_steps={steps}",
        "routing.prior_midpoint=0.5",
        "training.epochs=1",
        "training.early_stopping=false",
    ]
    examples = examples or Examples(tasks)
    c = fake_container(tasks, sets, examples=examples, backbone=FakeBackbone())
    return Routed(
        c.run_sequence(), c.backbone(), c.profiler(), c.route_query(), c.input_router().keys,
        examples, c.tracker(),
    )  # fmt: skip


def seq():
    return TaskSequence(
        [
            Task("sentiment", "S", "rate the movie review sentiment", ["positive", "negative"]),
            Task("topic", "T", "decide the news topic", ["business", "sports"]),
            Task("sentiment2", "S2", "rate the movie review sentiment", ["positive", "negative"]),
        ]
    )


def test_always_new_at_tau_above_one_with_profiles_and_task_free_evaluation():
    r = routed_run(seq(), 1.1)
    run, examples, tracker = r.run, r.examples, r.tracker
    state = run()
    assert len(state.library) == 3
    memory = state.router
    assert set(memory.expert_profiles) == {"expert-0", "expert-1", "expert-2"} and set(
        memory.task_keys
    ) == set(state.task_ids)
    assert sum(memory.block_dims.values()) == len(next(iter(memory.expert_profiles.values())))
    ev = memory.evaluation
    assert 0.0 <= ev["routing_accuracy"] <= 1.0 and ev["task_given_accuracy"] == pytest.approx(0.9)
    assert (
        ev["per_task"]["topic"]["routing_accuracy"] == 1.0
    )  # topic words never appear in the other tasks
    # dynamic profiles read dev examples, never the validation split, until the final evaluation
    first_validation = examples.asked.index(next(a for a in examples.asked if a[1] == "validation"))
    assert ("sentiment", "dev") in examples.asked[:first_validation]
    assert [e for e, _ in tracker.events].count("router_decision") == 3


def test_a_repeat_task_reuses_and_its_outcome_is_measured():
    r = routed_run(seq(), 0.5)
    run = r.run
    state = run()
    d = state.router.decisions
    assert d[2]["action"] == "reuse" and d[2]["expert"] == "expert-0"
    assert (
        "works" in d[2]
        and len(state.router.calibrator.outcomes) == 1
        and state.router.arms["expert-0"].visits == 1
    )
    assert (
        d[2]["forgetting_se"] > 0
    )  # the outcome is judged against its own measurement's noise (docs/adr/0044)
    from adaptive_learner.adapters.reporting import routing_markdown

    assert f"(forgetting {d[2]['forgetting']:.3f} ± {d[2]['forgetting_se']:.3f})" in "\n".join(
        routing_markdown(state)
    )
    assert state.library.get("expert-0").tasks == ("sentiment", "sentiment2")
    again = RunState.from_dict(state.to_dict())
    assert again.router == state.router


def test_predict_on_a_run_without_experts_is_an_error():
    r = routed_run(seq(), 1.1)
    with pytest.raises(DomainError, match="no expert yet"):
        r.query.route([LabelledInput("great film")], RunState.new(seq()))


def test_query_file_errors_name_the_line(tmp_path):
    from adaptive_learner.adapters.data.inputs import read_queries
    from adaptive_learner.adapters.errors import DataError

    path = tmp_path / "q.jsonl"
    path.write_text('{"text": "fine", "label": "x"}\n{"text": ""}\n')
    with pytest.raises(DataError, match=r"q.jsonl:2: field 'text'"):
        read_queries(path)
    path.write_text('{"text": "fine", "text_pair": "too", "label": 1}\n')
    assert read_queries(path) == [LabelledInput("fine", "too", "1")]


def test_seed_threshold_1_1_is_accepted_by_the_config_and_bad_weights_are_named():
    from adaptive_learner.bootstrap.config import ConfigError, load_config

    for backbone in ("hf", "fake"):
        cfg = load_config(
            "default",
            [
                f"run.backbone='{backbone}'",
                "routing.strategy='adaptive'",
                "routing.router_confidence_threshold=1.1",
                "routing.reuse_threshold=1.1",
            ],
        )
        assert cfg.routing.router_confidence_threshold == 1.1
    with pytest.raises(ConfigError, match="unknown profile block 'prototyp'"):
        load_config("default", ["routing.profile_weights={prototyp = 1.0}"])
    with pytest.raises(ConfigError, match="'profile_weights.context' must be >= 0"):
        load_config("default", ["routing.profile_weights={context = -1.0}"])


def test_the_transfer_probe_tips_an_uncertain_prior_and_is_logged():
    """Prior 0.5 at the midpoint; the candidate starts 0.80 vs a fresh 0.60 on 200 dev inputs:
    reuse."""
    from adaptive_learner.domain.probe import ProbeResult

    cal = ReuseCalibrator(prior_midpoint=0.9, prior_slope=20.0)
    profiles = {"e0": (1.0, 0.0)}
    query = (0.9, (1 - 0.81) ** 0.5)  # cosine 0.9 with e0: the prior's midpoint
    router, tau = AdaptiveRouter(), AdaptiveThreshold(0.7)
    assert router.decide(query, profiles, cal, tau).action is ReuseAction.CREATE
    ahead = router.decide(query, profiles, cal, tau, probes={"e0": ProbeResult(0.8, 0.6, 200)})
    assert ahead.action is ReuseAction.REUSE and "probe 0.800 vs fresh 0.600" in ahead.reason
    behind = router.decide(query, profiles, cal, tau, probes={"e0": ProbeResult(0.5, 0.6, 200)})
    assert behind.action is ReuseAction.CREATE and behind.probabilities["e0"] < 0.5


def test_supersede_lets_a_trained_probe_outweigh_a_confident_cosine_prior():
    """Item 2's pattern (docs/adr/0042): cosine 0.72 gives the stated prior p 0.03; a trained probe
    measured a gain of +0.10 on the new task (p_probe ~0.95; the earlier task's +0.03 is not
    counted, docs/adr/0056). Combined, the prior wins (new expert); superseded, the measurement
    decides (reuse). A zero-step probe, which does not see the earlier tasks, still combines.
    ('combine' for trained probes was the rule before docs/adr/0042; its option is retired.)"""
    from adaptive_learner.domain.probe import EarlierTask, ProbeResult

    cal = ReuseCalibrator(prior_midpoint=0.9, prior_slope=20.0)
    profiles = {"e0": (1.0, 0.0)}
    query = (0.72, (1 - 0.72**2) ** 0.5)
    tau = AdaptiveThreshold(0.7)
    trained = {"e0": ProbeResult(0.70, 0.60, 192, 8, [EarlierTask("sst2", 0.80, 0.83, 192)])}
    assert 0.9 < trained["e0"].probability() < 0.99 and cal.probability(0.72) < 0.05
    alone = AdaptiveRouter().decide(query, profiles, cal, tau, probes=trained)
    assert (
        alone.action is ReuseAction.REUSE
        and alone.probabilities["e0"] == trained["e0"].probability()
        and "after 8 steps, earlier +0.030 (counted +0.000)" in alone.reason
    )
    zero_step = {"e0": ProbeResult(0.70, 0.60, 192)}
    assert (
        AdaptiveRouter().decide(query, profiles, cal, tau, probes=zero_step).action
        is ReuseAction.CREATE
    )
    # a measured net loss is a new expert, even at a cosine the prior likes
    close = (0.99, (1 - 0.99**2) ** 0.5)
    loss = {"e0": ProbeResult(0.60, 0.64, 192, 8, [EarlierTask("sst2", 0.80, 0.70, 192)])}
    assert (
        AdaptiveRouter().decide(close, profiles, cal, tau, probes=loss).action is ReuseAction.CREATE
    )


def test_probe_runs_on_the_nearest_candidates_and_lands_in_the_decision_log():
    r = routed_run(seq(), 0.5, probe=1)
    run = r.run
    state = run()
    d = state.router.decisions
    assert "probes" not in d[0]  # no expert yet: nothing to probe
    assert len(d[1]["probes"]) == 1 and d[1]["probe_seconds"] >= 0
    probe = next(iter(d[2]["probes"].values()))
    assert set(probe) == {"candidate", "fresh", "n", "p_probe"} and 0 <= probe["p_probe"] <= 1


def test_the_trained_probe_trains_throwaway_copies_and_weighs_the_earlier_tasks():
    """Fake backbone: k of an epoch's 10 steps on a copy; the unprotected earlier task fades, the
    library does not."""
    r = routed_run(seq(), 0.5, probe=1, steps=5)
    run = r.run
    fb = r.learner
    trials, real = [], fb.trial

    def spy(parent, task, policy, steps, earlier=(), as_id=None, keep=False, split="dev"):
        before = {e: (dict(s.skill), dict(s.protection)) for e, s in fb.experts.items()}
        out = real(parent, task, policy, steps, earlier, as_id, keep, split)
        assert {
            e: (dict(s.skill), dict(s.protection)) for e, s in fb.experts.items()
        } == before  # nothing kept
        trials.append((parent, task.id, steps, tuple(t.id for t in earlier)))
        return out

    fb.trial = spy
    state = run()
    d = state.router.decisions
    probe = next(iter(d[1]["probes"].values()))
    assert probe["steps"] == 5 and set(probe["earlier"]) == {"sentiment"}
    assert (
        probe["earlier"]["sentiment"]["after"] < probe["earlier"]["sentiment"]["before"]
    )  # the copy forgot some
    assert (
        probe["earlier_change"] < 0 and probe["p_probe"] < 0.5
    )  # no gain on the new task: a net loss
    assert (None, "topic", 5, ()) in trials and ("expert-0", "topic", 5, ("sentiment",)) in trials
    assert "trial-probe" not in fb.experts
    from adaptive_learner.adapters.reporting import routing_markdown

    table = "\n".join(routing_markdown(state))
    assert (
        "(probe 0." in table and "after 5 steps, earlier -0." in table
    )  # every probed candidate in report.md


def test_learned_router_keys_take_train_inputs_then_dev_inputs():
    class Limited(Examples):
        def inputs(self, task, split, limit=None):
            rows = super().inputs(task, split, limit)[: 3 if split == "train" else None]
            return [LabelledInput(f"{split} {r.text}", None, r.label, r.task_id) for r in rows]

    r = routed_run(seq(), 1.1, examples=Limited(seq()))
    seen = []
    embed = r.profiler.embed_inputs
    r.profiler.embed_inputs = lambda inputs: (
        seen.append([x.text.split()[0] for x in inputs]) or embed(inputs)
    )
    r.keys.features(seq()[0])
    assert seen == [["train"] * 3 + ["dev"] * 5]  # key_examples = 8


def test_a_written_out_schedule_assigns_each_task_and_bad_ones_fail_before_the_run():
    from adaptive_learner.bootstrap.config import ConfigError, load_config
    from adaptive_learner.bootstrap.preflight import check_config

    fixed = FixedAssignment([0, 1, 0])
    assert fixed.decide(0, []).action is ReuseAction.CREATE
    assert fixed.decide(2, ["expert-0", "expert-1"]).expert_id == "expert-0"
    with pytest.raises(
        DomainError, match=r"expert_of_task\[1\] must be an earlier task's index or 1"
    ):
        FixedAssignment([0, 2])
    with pytest.raises(DomainError, match=r"task 1 did not make an expert of its own"):
        FixedAssignment([0, 0, 1])
    with pytest.raises(DomainError, match="has 3 entries"):
        fixed.decide(3, ["a", "b", "a"])
    cfg = load_config(
        "default",
        [
            "run.backbone='fake'",
            "data.tasks=['a', 'b']",
            "routing.strategy='schedule'",
            "routing.expert_of_task=[0, 0, 2]",
        ],
    )
    with pytest.raises(ConfigError, match="routing: expert_of_task has 3 entries for 2 tasks"):
        check_config(cfg)


def test_a_written_out_schedule_runs_on_the_fake_backbone():
    sets = ["routing.strategy='schedule'", "routing.expert_of_task=[0, 1, 0]", "training.epochs=1"]
    state = fake_container(seq(), sets, examples=Examples(seq())).run_sequence()()
    assert [e.tasks for e in state.library] == [("sentiment", "sentiment2"), ("topic",)]


def test_pair_queries_are_routed_among_pair_tasks():
    class Pairs(Examples):
        def inputs(self, task, split, limit=None):
            rows = super().inputs(task, split, limit)
            return [
                LabelledInput(
                    r.text, "a second text" if task.id == "topic" else None, r.label, r.task_id
                )
                for r in rows
            ]

    r = routed_run(seq(), 1.1, examples=Pairs(seq()))
    state = r.run()
    pair = r.query.route([LabelledInput("great film", "a second text")], state, k=3)[0]
    single = r.query.route([LabelledInput("stocks market rally")], state, k=3)[0]
    assert [t for t, _ in pair] == ["topic"] and pair[0][1] == pytest.approx(1.0)
    assert "topic" not in [t for t, _ in single] and sum(p for _, p in single) == pytest.approx(1.0)


def test_a_reuse_after_a_trained_probe_scores_the_earlier_tasks_once_before_training():
    """The probe's before-scores of the chosen expert are the reuse's before-scores (same expert,
    unchanged)."""
    r = routed_run(seq(), 0.0, probe=2, steps=5)
    run = r.run
    fb = r.learner
    calls, real = [], fb.score

    def spy(expert_id, task, split="validation"):
        calls.append((expert_id, task.id, split))
        return real(expert_id, task, split)

    fb.score = spy
    marks = []
    real_train = fb.start

    def start(expert_id, task, policy):
        marks.append((task.id, len(calls)))
        return real_train(expert_id, task, policy)

    fb.start = start
    state = run()
    # what a decision reads (docs/adr/0064): the schema's default head of dev
    split = split_head("dev", load_config("fake").routing.decision_dev_examples)
    d = state.router.decisions
    reuses = [e for e in d if e["action"] == "reuse"]
    assert reuses, "the sequence must reuse an expert for the test to mean anything"
    for e in reuses:
        begin, end = (
            marks[e["step"] - 1][1],
            marks[e["step"]][1],
        )  # from the previous task's training to this one's
        tasks = state.library.get(e["expert"]).tasks
        for t in tasks[: tasks.index(e["task"])]:  # the expert's tasks before this reuse
            assert (
                calls[begin:end].count((e["expert"], t, split)) == 1
            )  # the probe's score, not a second pass
        assert e["forgetting_se"] > 0 and "works" in e


def test_the_probe_gap_is_measured_per_reuse():
    from adaptive_learner.domain.calibration import difference_variance
    from adaptive_learner.domain.probe import ProbeGap

    gap = ProbeGap.measure(
        {"a": 0.70, "b": 0.50}, {"a": 0.80, "b": 0.56, "c": 0.9}, {"a": 100, "b": 50}
    )
    assert gap.tasks == 2 and gap.mean == pytest.approx(0.08)  # c was not probed: left out
    assert gap.variance == pytest.approx(
        (difference_variance(0.8, 0.7, 100) + difference_variance(0.56, 0.5, 50)) / 4
    )
    assert ProbeGap.measure({"a": 0.7}, {"b": 0.8}, {"a": 10}) is None
    assert ProbeGap.from_dict(gap.to_dict()) == gap


def test_measured_reuses_record_their_probe_gap():
    r = routed_run(seq(), 0.0, probe=2, steps=5)
    run = r.run
    state = run()
    d = state.router.decisions
    gaps = [e for e in d if "probe_gap" in e]
    assert gaps and all(e["action"] == "reuse" for e in gaps), (
        "the sequence must measure a reuse after a trained probe"
    )
    first = gaps[0]
    probed = first["probes"][first["expert"]]["earlier"]
    assert first["probe_gap"]["tasks"] == len(probed)
    from adaptive_learner.adapters.reporting import routing_markdown

    assert f"earlier tasks {first['probe_gap']['mean']:+.3f} against its probe" in "\n".join(
        routing_markdown(state)
    )


def test_the_replica_probe_initialises_the_fresh_copy_as_the_next_new_expert():
    r = routed_run(seq(), 0.5, probe=2, steps=5)
    run = r.run
    fb, asked = r.learner, []
    real = fb.trial

    def spy(parent, task, policy, steps, earlier=(), as_id=None, keep=False, split="dev"):
        asked.append((parent, task.id, as_id))
        return real(parent, task, policy, steps, earlier, as_id, keep, split)

    fb.trial = spy
    d = run().router.decisions
    probed = [e for e in d if "probes" in e]
    assert len(probed) >= 2 and all(
        a is None for p, _, a in asked if p is not None
    )  # a candidate's copy is the reuse's own
    fresh = [(t, a) for p, t, a in asked if p is None]
    # the id the library gives the next new expert: one per create (or fork) decided before
    expected = [
        (
            e["task"],
            f"expert-{sum(x['action'] != 'reuse' for x in d[: e['step']])}",
        )
        for e in probed
    ]
    assert fresh == expected


def test_the_probe_compares_plain_accuracy():
    """Every number of the probe (new task and earlier tasks) is the dev score's plain accuracy,
    what the matrix reports (docs/adr/0048), never its balanced accuracy."""
    from attrs import evolve

    metric = "accuracy"
    r = routed_run(seq(), 0.5, probe=2, steps=5)
    run = r.run
    fb, fresh = r.learner, []
    real_trial, real_score = fb.trial, fb.score
    # The two fields differ wherever accuracy > 0.
    skew = lambda s: evolve(s, balanced_accuracy=s.accuracy / 2)

    def trial(parent, task, *a, **kw):
        out = {t: skew(s) for t, s in real_trial(parent, task, *a, **kw).items()}
        fresh.extend([out[task.id]] if parent is None else [])
        return out

    fb.trial, fb.score = trial, lambda *a, **kw: skew(real_score(*a, **kw))
    d = run().router.decisions
    logged = [next(iter(e["probes"].values())) for e in d if e.get("probes")]
    assert logged and len(logged) == len(fresh) and all(s.accuracy > 0 for s in fresh)
    assert [p["fresh"] for p in logged] == [getattr(s, metric) for s in fresh]
    earlier = [(e["before"], e["after"]) for p in logged for e in p.get("earlier", {}).values()]
    assert earlier and all(
        0 <= b <= (1 if metric == "accuracy" else 0.5) for pair in earlier for b in pair
    )


def test_routing_accuracy_is_reported_to_the_expert_and_to_the_task_itself():
    """Two tasks on one expert have different label sets: an input routed to the other task of
    its expert counts as routed right to the expert, not to its task (issue 31). Here the second
    sentiment task's inputs are the first's words, so no router can tell the two apart."""

    class Twins(Examples):
        def inputs(self, task, split, limit=None):
            twin = seq()[0] if task.id == "sentiment2" else task
            rows = super().inputs(twin, split, limit)
            return [LabelledInput(r.text, None, r.label, task.id) for r in rows]

    state = routed_run(seq(), 0.5, examples=Twins(seq())).run()
    ev = state.router.evaluation
    assert state.library.get("expert-0").tasks == ("sentiment", "sentiment2")
    for p in ev["per_task"].values():
        assert p["task_routing_accuracy"] <= p["routing_accuracy"]
    assert ev["task_routing_accuracy"] < ev["routing_accuracy"]  # the shared pair is confused


def test_the_fake_backbone_rewards_a_second_domain_and_punishes_an_unrelated_task():
    """Issue 31: under the product's defaults the decision logic meets a task that gains from reuse
    (a second domain of an earlier task: its labels, its words) and one that conflicts (another
    label space, other words): the first reuses its expert, the other gets one of its own."""
    state = fake_container(seq(), ["training.epochs=1"]).run_sequence()()
    decided = [(str(r.decision.action), r.expert_id) for r in state.reports]
    assert decided == [("create", "expert-0"), ("create", "expert-1"), ("reuse", "expert-0")]
    reuse = state.router.decisions[2]["probes"]["expert-0"]
    assert reuse["candidate"] > reuse["fresh"] and reuse["earlier_cost"] == 0.0
    conflict = state.router.decisions[1]["probes"]["expert-0"]
    assert conflict["earlier_cost"] < 0.0  # training the topic on it cost the sentiment task
    assert state.accuracy.bwt() == pytest.approx(0.0)
