"""The trained probe measures what its decision reads and no more (docs/adr/0060, 0063): the
screen only when there are more candidates than it trains, where the options started only when
the trained evidence ties."""

from types import SimpleNamespace

import pytest

from adaptive_learner.application.reuse.probe import TransferProbe
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import Task

NEW = Task("new", "N", "the new task", ["a", "b"])
OLD = Task("old", "O", "an earlier task", ["a", "b"])


def score(accuracy: float) -> Score:
    return Score(accuracy, accuracy, 0.5, 100)


class Learner:
    """Dev accuracy of each option as it is (`as_is`, None: bare) and after the probe's steps."""

    def __init__(self, as_is: dict, trained: dict) -> None:
        self.as_is, self.trained, self.scored, self.splits = as_is, trained, [], set()

    def score(self, expert_id, task, split="validation"):
        self.scored.append((expert_id, task.id))
        self.splits.add(split)
        return score(self.as_is[expert_id] if task.id == NEW.id else 0.8)

    def trial(self, parent, task, policy, steps, earlier=(), as_id=None, keep=False, split="dev"):
        self.splits.add(split)
        return {NEW.id: score(self.trained[parent]), **{t.id: score(0.8) for t in earlier}}


def probe(learner: Learner, candidates: int, split: str = "dev") -> TransferProbe:
    settings = SimpleNamespace(probe_candidates=candidates, probe_steps=8, decision_split=split)
    catalog = SimpleNamespace(task=lambda t: {"new": NEW, "old": OLD}[t], has_dev=lambda t: True)
    return TransferProbe(learner, catalog, settings, ConsolidationPolicy())


def state(experts: list[str]):
    library = SimpleNamespace(
        next_id=lambda: "expert-9", get=lambda e: SimpleNamespace(tasks=("old",))
    )
    return SimpleNamespace(library=library)


def test_one_candidate_and_no_tie_measure_no_start():
    learner = Learner({"e0": 0.7, None: 0.5}, {"e0": 0.9, None: 0.6})
    probed = probe(learner, 1)(NEW, state(["e0"]), ["e0"])
    result = probed.results["e0"]
    assert result.start is None and not result.tied and probed.screened == {}
    # the earlier task before the steps; never the new task as it is, never the bare backbone
    assert learner.scored == [("e0", "old")]


def test_a_tie_measures_where_the_options_started():
    learner = Learner({"e0": 0.7, None: 0.5}, {"e0": 0.6, None: 0.6})  # earlier 0.8 -> 0.8
    result = probe(learner, 1)(NEW, state(["e0"]), ["e0"]).results["e0"]
    assert result.tied and result.start == (0.7, 0.5)
    assert result.probability() > 0.5  # the head start decides it
    assert ("e0", "new") in learner.scored and (None, "new") in learner.scored


@pytest.mark.parametrize("tie", [False, True])
def test_more_candidates_than_trained_are_screened_and_the_best_trained(tie):
    learner = Learner({"e0": 0.55, "e1": 0.75, None: 0.5}, {"e1": 0.6 if tie else 0.9, None: 0.6})
    probed = probe(learner, 1)(NEW, state(["e0", "e1"]), ["e0", "e1"])
    assert probed.screened == {"e0": 0.55, "e1": 0.75} and list(probed.results) == ["e1"]
    result = probed.results["e1"]
    assert (result.start == (0.75, 0.5)) if tie else (result.start is None)
    assert ((None, "new") in learner.scored) == tie


def test_every_measurement_reads_the_decision_split():
    """The screen, the copies, the earlier tasks before them and a tie's start all read the dev
    inputs the settings name (docs/adr/0064), never the whole dev split behind their back."""
    learner = Learner({"e0": 0.7, "e1": 0.6, None: 0.5}, {"e0": 0.6, "e1": 0.6, None: 0.6})
    probe(learner, 1, "dev[:64]")(NEW, state(["e0", "e1"]), ["e0", "e1"])
    assert learner.splits == {"dev[:64]"}
