"""The adaptive main job on the fake backbone screens every candidate forward-only and trains the
probe on the best-answering one (docs/adr/0060); report.md says what deciding cost against
training, and the task-free router's upkeep apart from both (docs/adr/0063). A tie at the screen's
cut is broken nearest first, the one place the screen reads profiles (docs/adr/0065)."""

import json

import pytest

from adaptive_learner.bootstrap.cli import entry

pytestmark = pytest.mark.e2e


def test_the_probe_trains_the_candidate_that_answers_best_as_it_is(tmp_path, capsys):
    # the default tracker writes events.jsonl, which keeps the screen's order
    entry(["run", "--backbone", "fake", "--output-dir", str(tmp_path / "runs")])
    capsys.readouterr()
    (state_file,) = (tmp_path / "runs").glob("*/state.json")
    scores = {
        d["step"]: d["scores"] for d in json.loads(state_file.read_text())["router"]["decisions"]
    }
    events = (state_file.parent / "events.jsonl").read_text().splitlines()
    decisions = [e for e in map(json.loads, events) if e.get("event") == "router_decision"]
    screened = [d for d in decisions if "screened" in d]
    assert screened, "no decision was screened"
    many = 0
    for d in screened:
        (probed,) = d["probes"]  # probe_candidates = 1
        best = max(d["screened"].values())
        level = [e for e in d["screened"] if d["screened"][e] == best]
        if len(level) > 1:  # a tie at the cut is broken nearest first, so cosines were taken
            cosines = scores[d["step"]]
            assert probed == min(level, key=lambda e: (-cosines[e], e)), d
        else:  # the one best; nothing read the profiles for it (docs/adr/0065)
            assert probed == level[0], d
        # where the options started is measured only for a tie, the one use it has (ADR 0063)
        probe = d["probes"][probed]
        total = probe["candidate"] - probe["fresh"] + probe.get("earlier_cost", 0.0)
        assert ("start" in probe) == (abs(total) < 1e-9), probe
        if "start" in probe:
            assert probe["start"][0] == d["screened"][probed]
        many += len(d["screened"]) > 1
    assert many, "no decision had more than one candidate to screen"
    report = (state_file.parent / "report.md").read_text()
    assert "| of them deciding |" in report and "Deciding: " in report
    # the task-free router's keys and fits are their own line, neither deciding nor training
    reports = json.loads(state_file.read_text())["reports"]
    assert all(r["router_seconds"] > 0 for r in reports)
    assert all(r["seconds"] >= r["routing_seconds"] + r["router_seconds"] for r in reports)
    assert "the task-free router's keys and fits, in neither" in report
