"""benchmarks/decision_profile.py times methods by name: each must still exist where it looks."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import decision_profile


@pytest.mark.parametrize(("cls", "name", "by_caller"), decision_profile.TIMED)
def test_every_timed_method_exists(cls, name, by_caller):
    assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name} is gone"


def test_the_learner_entry_it_wraps_exists():
    from adaptive_learner.application.learn_task import LearnTask

    assert callable(LearnTask.__call__)
