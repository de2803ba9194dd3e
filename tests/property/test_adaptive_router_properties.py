"""Properties of the adaptive router's pure decision math (issue 10)."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_learner.domain.adaptive_reuse import (
    AdaptiveRouter,
    AdaptiveThreshold,
    ArmStats,
    ucb_bonus,
)
from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.profiles import assemble_profile, block_dims
from adaptive_learner.domain.reuse import ReuseAction
from adaptive_learner.domain.router_memory import RouterMemory

pytestmark = pytest.mark.property

vec = st.lists(st.floats(-10, 10, allow_nan=False), min_size=4, max_size=4)
experts = st.dictionaries(st.sampled_from(["e0", "e1", "e2", "e3"]), vec, min_size=1)
outcomes = st.lists(st.tuples(st.floats(-1, 1), st.booleans()), max_size=12)
calibrators = st.builds(
    ReuseCalibrator,
    kind=st.sampled_from(["logistic", "isotonic"]),
    prior_midpoint=st.floats(-0.5, 1.0),
    prior_slope=st.floats(0, 40),
    prior_strength=st.floats(0.5, 10),
    outcomes=outcomes,
)
arms = st.dictionaries(
    st.sampled_from(["e0", "e1", "e2", "e3"]),
    st.builds(ArmStats, visits=st.integers(0, 5), reward=st.floats(0, 5)),
)


@given(vec, experts, calibrators, st.floats(1.0, 10.0), arms)
def test_tau_at_or_above_one_always_creates(profile, profiles, cal, tau, counters):
    d = AdaptiveRouter().decide(profile, profiles, cal, AdaptiveThreshold(tau), counters)
    assert d.action is ReuseAction.CREATE and d.expert_id is None


@given(vec, experts, calibrators, st.floats(0.0, 1.5), st.floats(0.0, 1.5), arms)
def test_raising_tau_never_turns_new_into_reuse(profile, profiles, cal, t1, t2, counters):
    low, high = sorted((t1, t2))
    router = AdaptiveRouter()
    if (
        router.decide(profile, profiles, cal, AdaptiveThreshold(low), counters).action
        is ReuseAction.CREATE
    ):
        assert (
            router.decide(profile, profiles, cal, AdaptiveThreshold(high), counters).action
            is ReuseAction.CREATE
        )


@given(st.integers(1, 50), st.integers(1, 1000), st.floats(0.01, 5))
def test_ucb_bonus_shrinks_with_visits(n, total, c):
    total = max(total, n + 1)
    assert ucb_bonus(n + 1, total, c) < ucb_bonus(n, total, c) or ucb_bonus(n, total, c) == 0.0
    assert ucb_bonus(0, total, c) == math.inf


@given(st.integers(2, 4), st.lists(st.floats(0, 1), min_size=8, max_size=8), st.floats(0, 2))
def test_every_candidate_is_tried_before_exploitation(k, rewards, c):
    names = [f"e{i}" for i in range(k)]
    profiles = {e: (1.0, 0.1 * i, 0.0, 0.0) for i, e in enumerate(names)}
    counters: dict[str, ArmStats] = {}
    router = AdaptiveRouter(ucb_c=c, top_k=k, fork_below=0.0)
    chosen = []
    for step in range(k):
        d = router.decide(
            (1.0, 0.0, 0.0, 0.0), profiles, ReuseCalibrator(), AdaptiveThreshold(0.0), counters
        )
        assert d.action is ReuseAction.REUSE
        chosen.append(d.expert_id)
        counters[d.expert_id] = counters.get(d.expert_id, ArmStats()).observe(rewards[step])
    assert sorted(chosen) == names  # each once, before any is chosen twice


@given(calibrators, st.floats(-1, 1), st.floats(-1, 1))
def test_calibrator_is_monotone_and_a_probability(cal, s1, s2):
    lo, hi = sorted((s1, s2))
    p_lo, p_hi = cal.probability(lo), cal.probability(hi)
    assert 0.0 <= p_lo <= 1.0 and 0.0 <= p_hi <= 1.0
    assert p_lo <= p_hi + 1e-9


@given(
    st.dictionaries(
        st.sampled_from(["description", "prototype", "gradient", "context", "extra"]),
        st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=9),
        min_size=1,
    ),
    st.dictionaries(
        st.sampled_from(["description", "prototype", "gradient", "context"]), st.floats(0, 3)
    ),
)
def test_profile_dimensions_add_up_and_are_unit_length(blocks, weights):
    profile = assemble_profile(blocks, weights)
    assert len(profile) == sum(block_dims(blocks).values()) == sum(len(b) for b in blocks.values())
    norm = math.sqrt(sum(v * v for v in profile))
    assert norm == pytest.approx(1.0) or norm == 0.0


@settings(max_examples=30)
@given(calibrators, st.floats(0, 1.2), arms, st.dictionaries(st.sampled_from(["e0", "e1"]), vec))
def test_router_memory_round_trips_through_json(cal, tau, counters, profiles):
    memory = RouterMemory(
        calibrator=cal,
        threshold=AdaptiveThreshold(tau),
        arms=counters,
        expert_profiles={k: tuple(v) for k, v in profiles.items()},
        task_keys={"t": (1.0, 2.0)},
        block_dims={"description": 4},
        decisions=[{"step": 0, "action": "create"}],
        base_model="m",
    )
    again = RouterMemory.from_dict(json.loads(json.dumps(memory.to_dict())))
    assert again == memory
    assert again.calibrator.probability(0.5) == cal.probability(0.5)


# --- the transfer probe (docs/adr/0034) ----------------------------------------------------------
from adaptive_learner.domain.probe import ProbeResult, combine

accuracy = st.floats(0.0, 1.0)
probe_results = st.builds(ProbeResult, candidate=accuracy, fresh=accuracy, n=st.integers(1, 5000))
probes = st.dictionaries(st.sampled_from(["e0", "e1", "e2", "e3"]), probe_results)


@given(accuracy, st.integers(1, 5000), st.floats(0.0, 1.0))
def test_a_tied_probe_is_no_evidence(acc, n, prior):
    p = ProbeResult(acc, acc, n).probability()
    assert p == pytest.approx(0.5)
    assert combine(prior, p) == pytest.approx(min(max(prior, 1e-6), 1 - 1e-6), abs=1e-9)


@given(accuracy, accuracy, accuracy, st.integers(1, 5000))
def test_probe_probability_grows_with_the_candidates_accuracy(a1, a2, fresh, n):
    low, high = sorted((a1, a2))
    assert (
        0.0
        <= ProbeResult(low, fresh, n).probability()
        <= ProbeResult(high, fresh, n).probability() + 1e-12
        <= 1.0 + 1e-12
    )


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_combined_evidence_is_a_probability_monotone_in_both(p1, p2, q):
    low, high = sorted((p1, p2))
    assert 0.0 <= combine(low, q) <= combine(high, q) + 1e-12 <= 1.0 + 1e-12
    assert combine(q, low) <= combine(q, high) + 1e-12


@given(vec, experts, calibrators, st.floats(1.0, 10.0), arms, probes)
def test_tau_at_or_above_one_always_creates_whatever_the_probe(
    profile, profiles, cal, tau, counters, results
):
    d = AdaptiveRouter().decide(profile, profiles, cal, AdaptiveThreshold(tau), counters, results)
    assert d.action is ReuseAction.CREATE


@given(vec, experts, calibrators, st.floats(0.0, 0.99), arms, probes)
def test_a_probe_in_favour_never_turns_a_reuse_into_new(
    profile, profiles, cal, tau, counters, results
):
    """A probe with p_probe >= 0.5 only raises p_reuse, so a task reused without it stays reused."""
    favour = {e: r for e, r in results.items() if r.probability() >= 0.5}
    router = AdaptiveRouter()
    if (
        router.decide(profile, profiles, cal, AdaptiveThreshold(tau), counters).action
        is not ReuseAction.CREATE
    ):
        assert (
            router.decide(profile, profiles, cal, AdaptiveThreshold(tau), counters, favour).action
            is not ReuseAction.CREATE
        )


# --- the input-form gate of task-free routing (docs/adr/0039) ------------------------------------
from adaptive_learner.domain.task_free import gate_by_form

tasks_ = st.sampled_from(["t0", "t1", "t2", "t3"])


@given(
    st.dictionaries(tasks_, st.floats(0.0, 1.0), min_size=1),
    st.dictionaries(tasks_, st.booleans()),
    st.booleans(),
)
def test_form_gate_keeps_only_tasks_of_the_querys_form_or_everything(probs, forms, pair):
    out = gate_by_form(probs, forms, pair)
    same = [t for t in probs if forms.get(t, pair) == pair]
    assert set(out) == set(same or probs)
    if same:
        assert sum(out.values()) == pytest.approx(1.0)
        for a in same:  # the order among the kept tasks is the router's
            for b in same:
                if probs[a] < probs[b]:
                    assert out[a] <= out[b]


# --- the trained probe (docs/adr/0040) ----------------------------------------------------------
from adaptive_learner.domain.probe import EarlierTask

earlier_tasks = st.lists(
    st.builds(
        EarlierTask,
        task_id=st.sampled_from("abcd"),
        before=accuracy,
        after=accuracy,
        n=st.integers(1, 5000),
    ),
    max_size=4,
)


@given(accuracy, accuracy, st.integers(1, 5000), st.integers(1, 64), earlier_tasks)
def test_the_trained_probe_weighs_the_new_task_and_the_earlier_tasks_losses(
    cand, fresh, n, steps, earlier
):
    p = ProbeResult(cand, fresh, n, steps, earlier)
    assert p.total == pytest.approx(
        (cand - fresh) + sum(min(0, t.after - t.before) for t in earlier)
    )
    assert p.earlier_change == pytest.approx(sum(t.after - t.before for t in earlier))
    assert 0.0 <= p.probability() <= 1.0
    # no change anywhere is no evidence, however many tasks are involved
    tied = ProbeResult(
        cand, cand, n, steps, [EarlierTask(t.task_id, t.before, t.before, t.n) for t in earlier]
    )
    assert tied.probability() == pytest.approx(0.5)
    # without earlier tasks the trained probe reads exactly as the zero-step one
    assert (
        ProbeResult(cand, fresh, n, steps).probability()
        == ProbeResult(cand, fresh, n).probability()
    )


@given(accuracy, accuracy, st.integers(1, 5000), earlier_tasks, accuracy, accuracy)
def test_an_earlier_task_that_loses_more_never_raises_the_evidence(cand, fresh, n, earlier, a1, a2):
    low, high = sorted((a1, a2))
    worse = ProbeResult(cand, fresh, n, 8, [*earlier, EarlierTask("x", 0.5, low, n)])
    better = ProbeResult(cand, fresh, n, 8, [*earlier, EarlierTask("x", 0.5, high, n)])
    assert worse.total <= better.total + 1e-12
    assert worse.probability() <= better.probability() + 1e-9
    # a net gain is evidence for, a net loss against
    assert (worse.probability() >= 0.5 - 1e-9) == (worse.total >= -1e-12)


@given(accuracy, accuracy, st.integers(1, 5000), st.integers(1, 64), earlier_tasks, accuracy)
def test_an_earlier_tasks_gain_is_never_evidence_for_sharing(cand, fresh, n, steps, earlier, a):
    """Replay lifts an unconverged earlier task whatever the new task is (docs/adr/0056): the
    evidence reads a gain as no change, so an expert is never preferred for its unlearned tasks."""
    before = min(a, 0.5)
    flat = ProbeResult(cand, fresh, n, steps, [*earlier, EarlierTask("x", before, before, n)])
    lifted = ProbeResult(cand, fresh, n, steps, [*earlier, EarlierTask("x", before, a, n)])
    assert lifted.probability() == pytest.approx(flat.probability(), abs=1e-12)
    assert lifted.total == pytest.approx(flat.total, abs=1e-12)


@given(
    vec,
    experts,
    calibrators,
    st.floats(0.0, 0.99),
    arms,
    accuracy,
    st.integers(1, 500),
    st.none() | accuracy,
)
def test_a_measured_tie_with_no_head_start_never_reuses(
    profile, profiles, cal, tau, counters, acc, n, start
):
    """A trained probe that ties on every task, after its steps and before them (or with no start
    measured), is no evidence: a new expert, at any tau < 1 (docs/adr/0056, 0059)."""
    at = None if start is None else (start, start)
    tied = {e: ProbeResult(acc, acc, n, 8, [EarlierTask("a", acc, acc, n)], at) for e in profiles}
    d = AdaptiveRouter().decide(profile, profiles, cal, AdaptiveThreshold(tau), counters, tied)
    assert d.action is ReuseAction.CREATE


@given(accuracy, accuracy, accuracy, accuracy, accuracy, st.integers(1, 500), st.integers(1, 64))
def test_a_tie_is_read_at_the_start_and_only_a_tie(acc, other, a, b, earlier, n, steps):
    """The head start (where the candidate and a fresh LoRA stood before any step) decides a tie
    and nothing else (docs/adr/0059)."""
    tie = ProbeResult(acc, acc, n, steps, [EarlierTask("a", earlier, earlier, n)], (a, b))
    assert tie.tied and tie.undecided == (abs(a - b) < 1e-9)
    assert (tie.probability() > 0.5) == (a - b >= 1e-9) or abs(a - b) < 1e-9
    assert (tie.probability() < 0.5) == (b - a >= 1e-9) or abs(a - b) < 1e-9
    not_tie = ProbeResult(acc, other, n, steps, (), (a, b))
    if not not_tie.tied:
        assert not_tie.probability() == ProbeResult(acc, other, n, steps).probability()


def test_a_second_domain_that_ties_at_the_ceiling_reuses_the_expert_that_answered_it_first():
    """The demo's product_sentiment: review_sentiment's expert answers it 1.000 before training,
    the bare backbone 0.500; after 8 steps both options are at 1.000 and nothing earlier moved."""
    probe = ProbeResult(1.0, 1.0, 24, 8, [EarlierTask("review", 1.0, 1.0, 24)], (1.0, 0.5))
    d = AdaptiveRouter().decide(
        [1.0, 0.0], {"expert-0": [1.0, 0.0]}, ReuseCalibrator(), AdaptiveThreshold(0.5), {},
        {"expert-0": probe},
    )  # fmt: skip
    assert d.action is ReuseAction.REUSE and d.expert_id == "expert-0"
    assert "tied; as they were 1.000 vs 0.500" in d.reason


@given(vec, experts, calibrators, st.floats(0.0, 1.5), arms, st.randoms(use_true_random=False))
def test_a_probe_free_decision_never_depends_on_the_order_of_the_experts(
    profile, profiles, cal, tau, counters, rnd
):
    items = list(profiles.items())
    rnd.shuffle(items)
    router, threshold = AdaptiveRouter(), AdaptiveThreshold(tau)
    a = router.decide(profile, profiles, cal, threshold, counters)
    b = router.decide(profile, dict(items), cal, threshold, counters)
    assert (a.action, a.expert_id, a.reason) == (b.action, b.expert_id, b.reason)


@given(
    accuracy,
    accuracy,
    st.integers(1, 5000),
    st.integers(0, 64),
    st.lists(
        st.builds(
            EarlierTask,
            task_id=st.sampled_from("abcd"),
            before=accuracy,
            after=accuracy,
            n=st.integers(1, 5000),
        ),
        max_size=4,
        unique_by=lambda t: t.task_id,
    ),
)
def test_a_probe_round_trips_through_the_decision_log(cand, fresh, n, steps, earlier):
    probe = ProbeResult(cand, fresh, n, steps, earlier, (fresh, cand))
    assert ProbeResult.from_dict(probe.to_dict()) == probe
    probe = ProbeResult(cand, fresh, n, steps, earlier)
    assert ProbeResult.from_dict(probe.to_dict()) == probe


# --- how the probe meets the calibrated cosine (docs/adr/0042) ------------------------------------
trained_probes = st.dictionaries(
    st.sampled_from(["e0", "e1", "e2", "e3"]),
    st.builds(
        ProbeResult,
        candidate=accuracy,
        fresh=accuracy,
        n=st.integers(1, 5000),
        steps=st.integers(0, 64),
        earlier=earlier_tasks,
        start=st.none() | st.tuples(accuracy, accuracy),
    ),
)


@given(vec, experts, calibrators, st.floats(0.0, 0.99), trained_probes)
def test_a_trained_probe_stands_alone_and_the_rest_combine(profile, profiles, cal, tau, results):
    router = AdaptiveRouter()
    alone = router.decide(profile, profiles, cal, AdaptiveThreshold(tau), None, results)
    assert alone.scores == router.candidates(profile, profiles)  # the cosine chooses candidates
    for e, p in alone.probabilities.items():
        probe, prior = results.get(e), cal.probability(alone.scores[e])
        if probe is not None and probe.steps > 0:
            assert p == probe.probability()  # whatever the cosine says
        elif probe is not None:  # a zero-step probe does not see the earlier tasks: combined
            assert p == combine(prior, probe.probability())
        else:
            assert p == prior


@given(vec, experts, calibrators, st.floats(0.0, 0.99), trained_probes)
def test_only_candidates_at_or_above_tau_are_reused(profile, profiles, cal, tau, results):
    """... and, once a trained probe ran, only candidates it measured and that are not undecided
    (a tie after the steps with none at the start either)."""
    d = AdaptiveRouter().decide(profile, profiles, cal, AdaptiveThreshold(tau), None, results)
    trained = {e for e in d.probabilities if e in results and results[e].steps > 0}
    if d.action is ReuseAction.CREATE:
        for e, p in d.probabilities.items():
            assert p < tau or (trained and e not in trained) or results[e].undecided
    else:
        assert d.probabilities[d.expert_id] >= tau
        assert not trained or (d.expert_id in trained and not results[d.expert_id].undecided)


# --- a trained probe as UCB observations; the noise-aware outcome (docs/adr/0044) -----------------
@given(vec, experts, calibrators, st.floats(0.0, 0.99), arms, trained_probes)
def test_without_probe_visits_the_choice_is_the_plain_ucb_rule(
    profile, profiles, cal, tau, counters, results
):
    """probe_visits = 0 leaves the UCB index exactly as before: real measured reuses only."""
    d = AdaptiveRouter(probe_visits=0.0).decide(
        profile, profiles, cal, AdaptiveThreshold(tau), counters, results
    )
    if d.action is not ReuseAction.CREATE:
        total = sum(a.visits for a in counters.values())
        for e, v in d.ucb.items():
            arm = counters.get(e, ArmStats())
            expected = arm.mean + ucb_bonus(arm.visits, total, 0.5)
            assert (v is None and math.isinf(expected)) or v == pytest.approx(expected)


@given(vec, experts, calibrators, st.floats(0.0, 0.99), arms, trained_probes, st.floats(0.1, 5.0))
def test_a_trained_probe_gives_its_candidate_a_finite_index(
    profile, profiles, cal, tau, counters, results, w
):
    d = AdaptiveRouter(probe_visits=w).decide(
        profile, profiles, cal, AdaptiveThreshold(tau), counters, results
    )
    for e, v in (d.ucb or {}).items():
        probe, arm = results.get(e), counters.get(e, ArmStats())
        if probe is not None and probe.steps > 0 or arm.visits:
            assert v is not None and math.isfinite(v)
        else:
            # neither measured nor probed after training: explored first, as before
            assert v is None


@given(vec, experts, calibrators, st.floats(0.0, 0.99), trained_probes)
def test_with_no_history_the_best_measured_candidate_is_chosen(
    profile, profiles, cal, tau, results
):
    """Before any measured reuse, every probed candidate has the same observations, so the
    same bonus: among eligible candidates that were all probed after training, the highest
    p_probe wins."""
    d = AdaptiveRouter().decide(profile, profiles, cal, AdaptiveThreshold(tau), {}, results)
    eligible = [e for e, p in d.probabilities.items() if p >= tau]
    if d.action is ReuseAction.REUSE and all(
        e in results and results[e].steps > 0 for e in eligible
    ):
        assert d.probabilities[d.expert_id] == max(d.probabilities[e] for e in eligible)


@given(
    st.floats(-0.2, 0.5),
    st.floats(0.0, 0.2),
    st.floats(0.0, 0.2),
    st.floats(0.0, 5.0),
    st.floats(0.0, 5.0),
)
def test_the_noise_aware_outcome_only_forgives_more_with_more_noise_and_z(
    forgetting, tol, noise, z1, z2
):
    from adaptive_learner.domain.calibration import ReuseOutcome

    o = ReuseOutcome(0.9, forgetting=forgetting, noise=noise)
    # z = 0: the fixed tolerance of docs/adr/0031
    assert o.works(tol, 1.0, 0.0) == (forgetting <= tol)
    lo, hi = sorted((z1, z2))
    if o.works(tol, 1.0, lo):
        assert o.works(tol, 1.0, hi)
