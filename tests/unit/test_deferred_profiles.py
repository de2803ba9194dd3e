"""docs/adr/0065: where a trained probe measures every candidate, the adaptive rule decides without
the profile cosines and asks for them only when a tie or an unmeasured candidate needs them; what
it answers without them is what it answers with any of them."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_learner.application.reuse.probe import TransferProbe
from adaptive_learner.domain.adaptive_reuse import (
    AdaptiveRouter,
    AdaptiveThreshold,
    ArmStats,
    SimilarityNeeded,
)
from adaptive_learner.domain.calibration import ReuseCalibrator, ReuseOutcome
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.probe import EarlierTask, ProbeResult
from adaptive_learner.domain.router_memory import RouterMemory

pytestmark = pytest.mark.unit
N = 8  # dev inputs: accuracies are counts over N, so exact ties are common, as on a real dev split
accuracy = st.integers(0, N).map(lambda k: k / N)


@st.composite
def situations(draw):
    ids = [f"expert-{i}" for i in range(draw(st.integers(1, 4)))]
    measured = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
    probes = {}
    for e in measured:
        earlier = tuple(
            EarlierTask(f"t{j}", draw(accuracy), draw(accuracy), N)
            for j in range(draw(st.integers(0, 2)))
        )
        start = draw(st.none() | st.tuples(accuracy, accuracy))
        probes[e] = ProbeResult(draw(accuracy), draw(accuracy), N, 8, earlier, start)
    arms = {e: ArmStats(v, draw(st.integers(0, v))) for e in ids if (v := draw(st.integers(0, 3)))}
    scores = {e: draw(st.sampled_from([-0.2, 0.5, 0.9, 0.999])) for e in ids}
    tau = draw(st.sampled_from([0.05, 0.3, 0.5, 0.8]))
    order = draw(st.permutations(ids))
    return ids, probes, arms, scores, tau, order


@settings(max_examples=300, deadline=None)
@given(situations())
def test_a_decision_without_cosines_is_the_decision_with_any_cosines(situation):
    ids, probes, arms, scores, tau, order = situation
    router, calibrator, threshold = AdaptiveRouter(), ReuseCalibrator(), AdaptiveThreshold(tau)
    nearest = sorted(ids, key=lambda e: (-scores[e], e))  # as AdaptiveRouter.candidates orders
    full = router.decide_from(nearest, scores, calibrator, threshold, arms, probes)
    try:
        blind = router.decide_from(list(order), None, calibrator, threshold, arms, probes)
    except SimilarityNeeded:
        # asked only where the cosines are read: no candidate measured (the calibrated prior),
        # or two measured ones of equal p_reuse (the last tie-breaks before the cosine)
        probs = [probes[e].probability() for e in probes]
        assert not probes or len(set(probs)) < len(probs)
        return
    assert (blind.action, blind.expert_id, blind.probability) == (
        full.action,
        full.expert_id,
        full.probability,
    )
    assert blind.score is None and blind.scores == {} and "cosine" not in blind.reason
    assert blind.reason == _without_cosines(full.reason)


def _without_cosines(reason: str) -> str:
    import re

    return re.sub(r"(\(\S+), cosine [-0-9.]+|cosine [-0-9.]+, ", r"\1", reason)


def test_it_asks_for_the_cosines_for_an_unmeasured_candidate_or_a_tie():
    router, cal, tau = AdaptiveRouter(), ReuseCalibrator(), AdaptiveThreshold(0.5)
    with pytest.raises(SimilarityNeeded):  # no trained probe: p_reuse is the calibrated prior
        router.decide_from(["e0"], None, cal, tau, {}, {})
    level = ProbeResult(0.9, 0.5, N, 8)
    with pytest.raises(SimilarityNeeded):  # two equal measurements: the cosine breaks the tie
        router.decide_from(["e0", "e1"], None, cal, tau, {}, {"e0": level, "e1": level})
    clear = router.decide_from(
        ["e0", "e1"], None, cal, tau, {}, {"e0": level, "e1": ProbeResult(0.6, 0.5, N, 8)}
    )
    assert clear.expert_id == "e0" and clear.score is None
    # nothing to compare: no cosine needed
    assert router.decide_from([], None, cal, tau).reason == "no expert yet"


def test_an_outcome_without_a_similarity_teaches_the_arms_and_tau_not_the_calibrator():
    memory = RouterMemory()
    works = memory.record_outcome("e0", ReuseOutcome(None, forgetting=0.5), 0.02, 0.02)
    assert not works and memory.calibrator.outcomes == ()
    assert memory.arms["e0"] == ArmStats(1, 0.0) and memory.threshold.tau > 0.5
    memory.record_outcome("e0", ReuseOutcome(0.9, forgetting=0.0), 0.02, 0.02)
    assert memory.calibrator.outcomes == ((0.9, True),)


class ScreenOnly:
    """A learner whose experts answer the new task with fixed accuracies; trials are not
    needed for the screen."""

    def __init__(self, accuracies):
        self.accuracies = accuracies

    def score(self, expert_id, task, split):
        return _score(self.accuracies[expert_id] if expert_id else 0.5)

    def trial(self, expert_id, task, policy, steps, earlier=(), **_):
        return {task.id: _score(0.5), **{t.id: _score(0.5) for t in earlier}}


def _score(accuracy: float) -> Score:
    return Score(accuracy, accuracy, 0.5, 8)


class Settings:
    probe_candidates, probe_steps, decision_split = 1, 2, "dev"


class Catalog:
    def has_dev(self, task_id):
        return False  # no earlier task to score: the screen is what is tested


class State:
    class library:
        @staticmethod
        def next_id():
            return "expert-9"

        @staticmethod
        def get(expert_id):
            class Expert:
                tasks = ()

            return Expert()


@pytest.mark.parametrize(
    "accuracies, asked, trained",
    [
        ({"e0": 0.5, "e1": 0.75, "e2": 0.25}, False, "e1"),  # one best: nothing to break
        ({"e0": 0.75, "e1": 0.5, "e2": 0.75}, True, "e2"),  # a tie at the cut: nearest first
    ],
)
def test_the_screen_asks_for_the_nearest_first_order_only_on_a_tie_at_the_cut(
    accuracies, asked, trained
):
    from adaptive_learner.domain.task import Task

    calls = []

    def nearest_first():
        calls.append(1)
        return ["e2", "e1", "e0"]

    probe = TransferProbe(ScreenOnly(accuracies), Catalog(), Settings(), None)
    task = Task("new", "new", "a new task", ("yes", "no"))
    probed = probe(task, State(), ["e0", "e1", "e2"], order=nearest_first)
    assert bool(calls) == asked and list(probed.results) == [trained]
