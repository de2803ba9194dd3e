"""The CLI end to end on the fake backbone, as a user runs it (a real subprocess)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "adaptive_learner.bootstrap.cli", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def schedule(share: int) -> list[str]:
    """The seed's schedule: the first `share` tasks on one LoRA (-1: all), the rest on their own."""
    return [
        "--set",
        "routing.strategy='schedule'",
        "--set",
        f"routing.num_tasks_to_share_lora={share}",
    ]


def metric(out: str, name: str) -> float:
    return float(re.search(rf"{name} ([+-]?\d\.\d+)", out).group(1))


def run_dir_of(out: str) -> Path:
    return Path(re.search(r"run folder: (\S+)", out).group(1))


def test_run_prints_the_suites_matrix_avgacc_bwt(tmp_path):
    result = cli("run", "--backbone", "fake", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Accuracy matrix" in out and "AvgAcc" in out and "BWT" in out
    state = json.loads((run_dir_of(out) / "state.json").read_text())
    assert len(state["task_ids"]) == len(DEMO_TASK_NAMES)
    assert all(row[i] is not None for i, row in enumerate(state["accuracy"]["rows"]))


def test_one_expert_per_task_gives_zero_bwt(tmp_path):
    out = cli(
        "run",
        "--backbone",
        "fake",
        *schedule(1),
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    ).stdout
    assert metric(out, "BWT") == 0.0
    assert metric(out, "AvgAcc") == pytest.approx(0.9, abs=1e-3)


def test_one_shared_expert_forgets(tmp_path):
    out = cli(
        "run",
        "--backbone",
        "fake",
        *schedule(-1),
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    ).stdout
    assert metric(out, "BWT") < -0.05
    assert metric(out, "AvgAcc") < 0.9


def test_several_seeds_report_mean_and_std(tmp_path):
    out = cli(
        "run", "--preset", "fake", "--seeds", "0,1", "--output-dir", str(tmp_path), cwd=tmp_path
    ).stdout
    assert "Across seeds [0, 1]" in out and "±" in out


def test_inspection_commands_on_a_finished_run(tmp_path):
    run_dir = run_dir_of(
        cli("run", "--preset", "fake", "--output-dir", str(tmp_path), cwd=tmp_path).stdout
    )
    experts = cli("experts", str(run_dir), cwd=tmp_path)
    assert experts.returncode == 0 and "expert-0" in experts.stdout
    routed = cli("route", str(run_dir), "--text", "Is this a question?", cwd=tmp_path)
    assert routed.returncode == 0 and "reuse: expert-" in routed.stdout
    evaluated = cli("evaluate", str(run_dir), cwd=tmp_path)
    assert evaluated.returncode == 0
    assert all(a == b for a, b in re.findall(r"now (\d\.\d+)\s+saved (\d\.\d+)", evaluated.stdout))
    # already complete: reprints, learns nothing new
    resumed = cli("resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0 and "AvgAcc" in resumed.stdout


def test_presets_listing_and_show(tmp_path):
    listed = cli("presets", cwd=tmp_path)
    assert "default" in listed.stdout and "fake" in listed.stdout
    shown = cli("presets", "--show", "fake", cwd=tmp_path)
    assert "training.learning_rate" in shown.stdout and "# AdamW learning rate" in shown.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--preset", "nope"], "unknown preset 'nope'"),
        (["run", "--preset", "fake", "--set", "training.epoch=3"], "did you mean 'epochs'"),
        (["run", "--preset", "fake", "--data-dir", "/does/not/exist"], "/does/not/exist"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    result = cli(*args, "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    text = (result.stdout + result.stderr).strip()
    assert message in text and "Traceback" not in text
    assert len(text.splitlines()) == 1


def test_duplicate_task_names_are_one_line_errors(tmp_path):
    result = cli(
        "run",
        "--preset",
        "fake",
        "--tasks",
        "news_topic,news_topic",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and not result.stdout  # errors go to stderr
    assert (
        "'news_topic' appears twice" in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )


def test_every_run_ends_with_its_wall_time(tmp_path):
    out = cli("run", "--backbone", "fake", "--output-dir", str(tmp_path), cwd=tmp_path).stdout
    assert re.search(r"wall time (\d+ min \d+ s \(\d+ s\)|\d+\.\d s)", out.splitlines()[-1])


def test_an_unknown_reference_is_one_line_and_leaves_no_run_folder(tmp_path):
    result = cli(
        "run",
        "--backbone",
        "fake",
        "--set",
        "run.reference='nope'",
        "--output-dir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "run.reference: no shipped reference 'nope'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_a_reference_run_is_printed_and_reported_beside_the_run(tmp_path):
    """A naive run turned into a reference (benchmarks/make_reference.py), then a replay run shown
    beside it."""
    naive = cli(
        "run",
        "--backbone",
        "fake",
        "--set",
        "consolidation.replay='none'",
        *schedule(-1),
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    ref = tmp_path / "naive.reference.json"
    made = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "make_reference.py"),
            str(run_dir_of(naive.stdout)),
            "naive",
            "--label",
            "naive (one LoRA, no replay)",
            "--command",
            "adaptive-learner run ...",
            "--machine",
            "test",
            "--out",
            str(ref),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    result = cli(
        "run",
        "--backbone",
        "fake",
        *schedule(-1),
        "--set",
        f"run.reference='{ref}'",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Beside the reference: naive (one LoRA, no replay)" in result.stdout
        and "not measured in this run" in result.stdout
    )
    report = (run_dir_of(result.stdout) / "report.md").read_text()
    assert "## Beside the reference: naive" in report
    naive_bwt = json.loads(ref.read_text())["metrics"]["bwt"]
    assert re.search(rf"\| BWT \| [-0-9.]+ \| {naive_bwt:.3f} \|", report)


def test_the_default_preset_replays_every_earlier_task_and_the_naive_baselines_stay_naive():
    from adaptive_learner.bootstrap.config import load_config, load_reference

    cfg = load_config("default")
    assert (
        cfg.consolidation.replay == "experience" and cfg.consolidation.replay_tasks_per_step == -1
    )
    # shipped once measured on the real model (docs/adr/0027)
    reference = load_reference(cfg.run.reference)
    assert reference is None or (
        reference["backbone"] == "hf"
        and reference["tasks"] == list(DEMO_TASK_NAMES)
        and len(reference["final_row"]) == len(DEMO_TASK_NAMES)
    )
    for naive in ("glue5", "sl-a", "cl-learnable"):
        assert load_config(naive).consolidation.replay == "none"
