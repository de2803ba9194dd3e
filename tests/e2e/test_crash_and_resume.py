"""Kill -9 a real run at several moments (mid-task, mid-save); `resume` ends with the
same matrix."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
ARGS = [
    "--preset",
    "fake",
    "--set",
    "run.tracker='jsonl'",
    "--set",
    "routing.strategy='schedule'",
    "--set",
    "routing.num_tasks_to_share_lora=-1",
    "--set",
    "fake.seconds_per_epoch=0.15",
]


def cli(*args, cwd):
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


def final_rows(run_dir: Path):
    return json.loads((run_dir / "state.json").read_text())["accuracy"]["rows"]


def wait_for_events(folder: Path, count: int, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for events in folder.glob("*/events.jsonl"):
            if len(events.read_text().splitlines()) >= count:
                return events.parent
        time.sleep(0.01)
    raise AssertionError(f"the run never logged {count} events")


@pytest.mark.parametrize("events, delay", [(1, 0.0), (6, 0.07), (13, 0.15), (20, 0.01)])
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, events, delay):
    whole = cli("run", *ARGS, "--output-dir", str(tmp_path / "whole"), cwd=tmp_path)
    expected = final_rows(Path(re.search(r"run folder: (\S+)", whole.stdout).group(1)))

    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adaptive_learner.bootstrap.cli",
            "run",
            *ARGS,
            "--output-dir",
            str(tmp_path / "killed"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run_dir = wait_for_events(tmp_path / "killed", events)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    for f in run_dir.glob("*.json"):
        json.loads(f.read_text())  # every visible JSON file is complete
    resumed = cli("resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert final_rows(run_dir) == expected
    assert (run_dir / "report.md").exists() and (run_dir / "matrix.png").exists()


def test_report_and_compare(tmp_path):
    out = cli(
        "run", "--preset", "fake", "--seeds", "0,1", "--output-dir", str(tmp_path), cwd=tmp_path
    ).stdout
    runs = re.findall(r"run folder: (\S+)", out)
    assert len(runs) == 2
    for name in ("report.md", "matrix.csv", "matrix.json", "matrix.png", "manifest.json"):
        assert (Path(runs[0]) / name).exists(), name
    (Path(runs[0]) / "report.md").unlink()
    assert (
        cli("report", runs[0], cwd=tmp_path).returncode == 0
        and (Path(runs[0]) / "report.md").exists()
    )
    assert "| AvgAcc |" in (Path(runs[0]) / "report.md").read_text()
    compared = cli("compare", *runs, cwd=tmp_path)
    assert compared.returncode == 0 and "0,1" in compared.stdout and "±" in compared.stdout
    manifest = json.loads((Path(runs[0]) / "manifest.json").read_text())
    assert manifest["packages"]["attrs"] and len(manifest["data"]) == 3 * len(
        DEMO_TASK_NAMES
    )  # 3 files a task


def test_kill_mid_task_resumes_after_the_last_finished_epoch(tmp_path):
    args = [*ARGS, "--set", "training.epochs=3", "--set", "training.early_stopping=false"]
    whole = cli("run", *args, "--output-dir", str(tmp_path / "whole"), cwd=tmp_path)
    expected = final_rows(Path(re.search(r"run folder: (\S+)", whole.stdout).group(1)))

    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adaptive_learner.bootstrap.cli",
            "run",
            *args,
            "--output-dir",
            str(tmp_path / "killed"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    run_dir = None
    while time.monotonic() < deadline:
        found = list((tmp_path / "killed").glob("*/checkpoint.json"))
        if found:
            meta = json.loads(found[0].read_text())
            if meta["task"] == "news_topic" and meta["epoch"] == 1:
                run_dir = found[0].parent
                break
        time.sleep(0.005)
    assert run_dir is not None, "never saw the checkpoint of news_topic epoch 1"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = cli("resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(
        e.get("event") == "resumed_task" and e["task"] == "news_topic" and e["after_epoch"] == 1
        for e in events
    )
    assert final_rows(run_dir) == expected
