"""The hexagon is checked by import-linter, and the check itself is shown to bite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def lint(src: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=src.parent,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )


def test_layers_are_kept():
    result = lint(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("layer, line", [("domain", "import torch"), ("application", "from adapters import errors")])
def test_a_forbidden_import_breaks_the_contract(tmp_path, layer, line):
    src = tmp_path / "src"
    shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (src / layer / "leak.py").write_text(line + "\n")
    result = lint(src)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout or "broken" in result.stdout
