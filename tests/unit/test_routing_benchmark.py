"""benchmarks/routing.py's item-2 counterfactual bookkeeping: which schedule measures each
decision's other option, and when an alternative measured under another tag may be read instead of
trained again."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def routing():
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "routing_benchmark", REPO / "benchmarks" / "routing.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decision(action: str, expert: str, probabilities: dict | None = None) -> dict:
    return {"action": action, "expert": expert, "probabilities": probabilities or {}, "scores": {}}


DECISIONS = [
    decision("create", "expert-0"),
    decision("create", "expert-1", {"expert-0": 0.2}),
    decision("reuse", "expert-0"),
    decision("create", "expert-2", {"expert-0": 0.4, "expert-1": 0.6}),
]


def test_each_decision_gets_the_other_option_as_a_schedule(routing):
    assert routing.assignments(DECISIONS)[-1] == [0, 1, 0, 3]
    alts = routing.alternatives(DECISIONS)
    assert [(k, plan) for k, plan, _ in alts] == [(1, [0, 0]), (2, [0, 1, 2]), (3, [0, 1, 0, 1])]
    assert alts[2][2] == "reuse expert-1 (p_reuse 0.600)"


def test_an_alternative_is_read_only_where_the_adaptive_rows_before_it_agree(
    routing, tmp_path, monkeypatch
):
    monkeypatch.setattr(routing, "RESULTS", tmp_path)
    rows = [[0.8], [0.7, 0.6], [0.75, 0.6, 0.7], [0.7, 0.5, 0.7, 0.9]]
    old = {"decisions": DECISIONS, "accuracy": {"rows": rows}}
    (tmp_path / "routing-item2-s5-adaptive-old.json").write_text(json.dumps(old))
    cf_rows = [{"step": k, "alternative_mean": 0.1 * k, "prefix_check": 0.0} for k in (1, 2, 3)]
    (tmp_path / "routing-item2-s5-counterfactuals-old.json").write_text(
        json.dumps({"rows": cf_rows})
    )
    # The new run agrees up to step 1 and differs from step 2 on (its row 2 differs).
    new = {
        "decisions": DECISIONS,
        "accuracy": {"rows": [rows[0], rows[1], [0.75, 0.6, 0.71], rows[3]]},
    }
    known = routing.measured_under(5, "-old", new)
    # Its counterfactuals' alternatives and its own choices, up to the step where the rows part.
    assert set(known) == {(1, (0, 0)), (2, (0, 1, 2)), (1, (0, 1)), (2, (0, 1, 0))}
    assert known[(2, (0, 1, 2))][0]["alternative_mean"] == pytest.approx(0.2)
    assert known[(2, (0, 1, 0))][0]["alternative_mean"] == pytest.approx((0.75 + 0.6 + 0.7) / 3)
    assert routing.measured_under(5, "-missing", new) == {}
    # A row's last entry is the next task before training (it depends on decision k): it
    # does not count.
    fwt = {
        "decisions": DECISIONS,
        "accuracy": {"rows": [rows[0], [0.7, 0.6, 0.65], rows[2], [0.7, 0.5, 0.7, 0.8]]},
    }
    assert set(routing.measured_under(5, "-old", fwt)) == {
        (1, (0, 0)),
        (2, (0, 1, 2)),
        (3, (0, 1, 0, 1)),
        (1, (0, 1)),
        (2, (0, 1, 0)),
        (3, (0, 1, 0, 3)),
    }
