"""benchmarks/gpu_check.py on its tiny CPU path: the script a GPU slot runs must work
before the slot.

The regular test leaves out the HF Trainer side by side (~15 CPU-seconds); the whole tiny check
(~20 CPU-seconds, minutes on a shared machine) is marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _check(tmp_path, *extra, returncode=0):
    out = tmp_path / "gpu-check.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", ADAPTIVE_LEARNER_CACHE=str(tmp_path / "cache"))
    env.pop("OUT", None)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--tiny",
            "--out",
            str(out),
            *extra,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == returncode, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout, json.loads(out.read_text())


def test_the_tiny_gpu_check_times_every_phase_and_checks_bf16(tmp_path):
    stdout, found = _check(tmp_path, "--skip-trainer")
    assert {"training", "fisher", "replay memory", "scoring", "saving"} <= set(
        found["sl_f"]["phases"]
    )
    assert len(found["sl_f"]["matrix"]) == 5 and all(len(r) == 5 for r in found["sl_f"]["matrix"])
    assert found["bf16_check"]["ok"] and found["train_step_seconds"]["none"] > 0
    assert "train step, batch 4 x 128, compile=none" in stdout and "bf16 vs CPU float32" in stdout


@pytest.mark.slow
def test_the_tiny_gpu_check_with_the_trainer_side_by_side(tmp_path):
    stdout, found = _check(tmp_path)
    assert len(found["hf_trainer"]["matrix"]) == 5 and found["naive"]["wall_seconds"] > 0
    assert "ratio project / Trainer" in stdout


def test_a_part_that_fails_is_recorded_and_the_check_goes_on(tmp_path):
    """A slot is short: a failing workload (here a learning rate that diverges) must not cost the
    other figures."""
    stdout, found = _check(
        tmp_path, "--skip-trainer", "--set", "training.learning_rate=1e9", returncode=1
    )
    assert (
        list(found["failures"]) == ["sl-f workload, compile=none"]
        and "diverged" in found["failures"]["sl-f workload, compile=none"]
    )
    assert (
        found["bf16_check"]["ok"]
        and found["train_step_seconds"]["none"] > 0
        and "sl_f" not in found
    )
    assert "FAILED TrainingDiverged" in stdout and "gpu_check total" in stdout
