"""ruff and mypy as tests, so that CI's one test command runs them (pyproject configures both).

ruff: its default rules plus lines of at most 100 characters, over src/, tests/ and benchmarks/.
mypy: src/ read as `adaptive_learner`, which also checks every adapter against each port it
implements (src/adapters/port_conformance.py binds them), so a Protocol cannot drift.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def check(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def test_ruff_finds_nothing():
    code, output = check(["ruff", "check", "--no-cache", "src", "tests", "benchmarks"])
    assert code == 0, output


def test_mypy_finds_nothing_and_every_adapter_matches_its_port(tmp_path):
    # mypy cannot follow the finder of setuptools' editable install: a link gives it src/ under
    # the installed name.
    link = tmp_path / "adaptive_learner"
    link.symlink_to(REPO / "src", target_is_directory=True)
    env = {**os.environ, "MYPYPATH": str(tmp_path)}
    code, output = check(["mypy", "--cache-dir", str(tmp_path / "cache")], env)
    assert code == 0, output.replace(str(link), "src")
