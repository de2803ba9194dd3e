"""From the command line: a routing key the run's rule ignores is one error line before any folder
exists; `router_confidence_threshold >= 1` is one expert per task under the schedule and under the
default (adaptive) strategy."""

import json

import pytest

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES
from adaptive_learner.bootstrap.cli import entry

pytestmark = pytest.mark.e2e


def run(tmp_path, *sets: str) -> int:
    args = ["run", "--backbone", "fake", "--output-dir", str(tmp_path / "runs")]
    for s in ("run.tracker='null'", *sets):
        args += ["--set", s]
    try:
        entry(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_key_the_schedule_ignores_is_refused_before_any_folder(tmp_path, capsys):
    assert run(tmp_path, "routing.strategy='schedule'", "routing.probe_steps=4") == 2
    err = capsys.readouterr().err
    assert "routing.probe_steps has no effect under routing.strategy 'schedule'" in err
    assert "read under 'adaptive'" in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("strategy", ["schedule", "adaptive"])
def test_a_threshold_above_one_gives_one_expert_per_task(strategy, tmp_path, capsys):
    assert (
        run(tmp_path, f"routing.strategy='{strategy}'", "routing.router_confidence_threshold=1.1")
        == 0
    )
    capsys.readouterr()
    (state,) = (tmp_path / "runs").glob("*/state.json")
    library = json.loads(state.read_text())["library"]
    assert len(library["experts"]) == len(DEMO_TASK_NAMES)


def test_a_schedule_key_under_the_default_strategy_is_refused_before_any_folder(tmp_path, capsys):
    assert run(tmp_path, "routing.num_tasks_to_share_lora=2") == 2
    err = capsys.readouterr().err
    assert "routing.num_tasks_to_share_lora has no effect under routing.strategy 'adaptive'" in err
    assert "read under 'schedule'" in err and not (tmp_path / "runs").exists()
