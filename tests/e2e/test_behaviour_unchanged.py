"""The main job on the fake backbone under every reuse rule gives what it gave before the routing
code was restructured (issue 26): the accuracy matrices, each decision with its reason, each
measured outcome and the routing evaluation. `golden/fake_main_job.json` was written by the code
at 1db1e56, before the restructuring; a change that alters one of these on purpose rewrites the
file in the same commit and says why. Rewritten since: the evaluation gained
`task_routing_accuracy` (routing accuracy to the task itself; every other figure unchanged); the
schedule and fixed runs gained their routing evaluation (issue 31: every run reports it; their
matrices and decisions unchanged); `default` was added when the defaults became adaptive with the
learned router (issue 31); two `adaptive`/`default` reasons gained "n unmeasured candidate(s) not
reused" (docs/adr/0056; the decisions themselves unchanged); every case for the six-task demo
suite (docs/adr/0059; `fixed` gained a sixth entry, the new task on expert 0); the adaptive
cases' reasons when one best-screened candidate is probed instead of the two nearest
(docs/adr/0060; every decision, matrix and evaluation unchanged); the adaptive cases' reasons
without the profile cosines, which their probed decisions no longer compute (docs/adr/0065; every
decision, matrix, outcome and evaluation unchanged)."""

import json
from pathlib import Path

import pytest

from adaptive_learner.bootstrap.cli import entry

pytestmark = pytest.mark.e2e

GOLDEN = json.loads((Path(__file__).parent / "golden" / "fake_main_job.json").read_text())
SCHEDULE, COSINE = "routing.strategy='schedule'", "routing.router_model='cosine'"
CASES = {
    # the settings each case had before the defaults became adaptive + linear (issue 31), written
    # out so the figures stay comparable with the file's first version
    "schedule": [SCHEDULE, "routing.num_tasks_to_share_lora=3"],
    "schedule-all": [SCHEDULE, "routing.num_tasks_to_share_lora=-1"],
    "fixed": [SCHEDULE, "routing.expert_of_task=[0, 1, 0, 3, 1, 0]"],
    "similarity": ["routing.strategy='similarity'", "routing.reuse_threshold=0.3", COSINE],
    "adaptive": ["routing.strategy='adaptive'", COSINE],
    "adaptive-reuse": [
        "routing.strategy='adaptive'",
        "routing.router_confidence_threshold=0.02",
        COSINE,
    ],
    "adaptive-linear": [
        "routing.strategy='adaptive'",
        "routing.router_model='linear'",
        "routing.router_confidence_threshold=0.02",
    ],
    "default": [],  # the product's defaults today
}


def summary(state: dict) -> dict:
    router = state.get("router") or {}
    keep = ("action", "expert", "works", "forgetting", "tau_after")
    return {
        "accuracy": state["accuracy"],
        "balanced": state["balanced_accuracy"],
        "decisions": [
            {k: r["decision"][k] for k in ("action", "expert_id", "reason")}
            for r in state["reports"]
        ],
        "outcomes": [{k: d.get(k) for k in keep} for d in router.get("decisions", [])],
        "evaluation": {k: v for k, v in router.get("evaluation", {}).items() if k != "per_task"},
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_main_job_on_the_fake_backbone_is_unchanged(case, tmp_path, capsys):
    args = [
        "run",
        "--backbone",
        "fake",
        "--output-dir",
        str(tmp_path),
        "--set",
        "run.tracker='null'",
    ]
    for s in CASES[case]:
        args += ["--set", s]
    entry(args)
    capsys.readouterr()
    (state_file,) = tmp_path.glob("*/state.json")
    assert summary(json.loads(state_file.read_text())) == GOLDEN[case]
