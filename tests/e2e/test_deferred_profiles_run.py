"""docs/adr/0065 on the fake backbone: the adaptive main job, whose every decision a trained probe
measures, takes profiles only where a tie needs them, and decides, learns and answers exactly as
the run that profiles every task and expert."""

import json

import pytest
from tests.conftest import call_cli

from adaptive_learner.adapters.fake_profiler import FakeProfiler
from adaptive_learner.application.profiling import TaskProfiles

pytestmark = pytest.mark.e2e


def main_job(tmp_path, monkeypatch, deferred: bool, *sets: str):
    calls = []
    original = FakeProfiler.task_blocks

    def counted(self, *args, **kwargs):
        calls.append(args[0].id)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FakeProfiler, "task_blocks", counted)
    if not deferred:
        monkeypatch.setattr(TaskProfiles, "deferred", lambda self, state: False)
    sets = ("run.tracker='null'", *sets)
    out = ("--output-dir", str(tmp_path))
    code, _ = call_cli("run", "--backbone", "fake", *out, *(a for s in sets for a in ("--set", s)))
    monkeypatch.undo()
    assert code == 0
    (state_file,) = tmp_path.glob("*/state.json")
    state = json.loads(state_file.read_text())
    router = state["router"]
    return {
        "accuracy": state["accuracy"],
        "decisions": [
            {k: r["decision"][k] for k in ("action", "expert_id", "probability")}
            for r in state["reports"]
        ],
        "outcomes": [
            {k: d.get(k) for k in ("action", "expert", "works", "forgetting", "tau_after")}
            for d in router["decisions"]
        ],
        "probes": [d.get("probes") for d in router["decisions"]],
        "evaluation": router["evaluation"],
        "cosines taken": [bool(d["scores"]) for d in router["decisions"]],
    }, calls


@pytest.mark.parametrize("sets", [(), ("routing.probe_candidates=2",)])
def test_a_deferred_run_decides_as_an_eager_one_and_profiles_only_for_ties(
    tmp_path, monkeypatch, sets
):
    lazy, lazy_calls = main_job(tmp_path / "lazy", monkeypatch, True, *sets)
    eager, eager_calls = main_job(tmp_path / "eager", monkeypatch, False, *sets)
    assert all(eager.pop("cosines taken")[1:])  # the first task has no expert to compare
    taken = lazy.pop("cosines taken")
    assert lazy == eager
    assert any(p for p in eager["probes"]) and len(lazy_calls) < len(eager_calls)
    assert len(eager_calls) > len(eager["decisions"])  # eager: every task and expert
    if not any(taken):  # no decision met a tie: not one profile was taken
        assert lazy_calls == []
