"""The hexagon is checked by import-linter, and the check itself is shown to bite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def lint(root: Path) -> subprocess.CompletedProcess:
    """import-linter over a copy of src/ placed as `root/adaptive_learner` (the installed name)."""
    code = (
        "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        check=False,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )


def copy_src(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "src",
        tmp_path / "adaptive_learner",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return tmp_path


def test_layers_are_kept(tmp_path):
    result = lint(copy_src(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "layer, line",
    [("domain", "import torch"), ("application", "from adaptive_learner.adapters import errors")],
)
def test_a_forbidden_import_breaks_the_contract(tmp_path, layer, line):
    root = copy_src(tmp_path)
    (root / "adaptive_learner" / layer / "leak.py").write_text(line + "\n")
    result = lint(root)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout or "broken" in result.stdout


def test_every_source_folder_ships_in_the_one_import_package():
    """pyproject lists the packages by hand (src/ maps onto `adaptive_learner`): a new folder must
    be listed."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        ".".join(("adaptive_learner", *p.relative_to(REPO / "src").parts)).rstrip(".")
        for p in [REPO / "src", *(REPO / "src").rglob("*")]
        if p.is_dir()
        and p.name != "__pycache__"
        and not p.name.endswith(".egg-info")
        and any(p.glob("*.py")) | any(p.glob("*.toml"))
    }
    assert folders <= listed, f"add to [tool.setuptools] packages: {sorted(folders - listed)}"
