"""Run folders: where a run's config, state, experts and events live."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.adapters.storage import atomic_write_json, read_json
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import Config, ConfigError, config_from_dict


def new_run_dir(cfg: Config) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(cfg.run.output_dir) / f"{cfg.run.name}-{stamp}-s{cfg.run.seed}"
    if base.parent != Path(cfg.run.output_dir) or base.name in (".", ".."):  # run.name is validated; stay inside anyway
        raise ConfigError(f"run.name: {cfg.run.name!r} would leave the output directory")
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the run folder ({exc.strerror or exc})") from None
    try:
        atomic_write_json(path / "config.json", cfg.to_dict())
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # no half-made folder
        raise
    return path


def run_config(run_dir: Path) -> Config:
    """The config a run was started with."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise ConfigError(f"{run_dir}: not a run folder (no config.json)")
    return config_from_dict(read_json(path), where=str(path))


def run_state(run_dir: Path) -> RunState:
    path = Path(run_dir) / "state.json"
    if not path.exists():
        raise ConfigError(f"{run_dir}: the run has not saved any state yet (no state.json)")
    return RunState.from_dict(read_json(path))


def write_manifest(run_dir: Path, cfg: Config, data_files: list[Path]) -> None:
    """What a reader needs to reproduce the run: config, seed, versions, git revision, data fingerprints."""
    import hashlib
    import platform
    import subprocess
    import sys
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                  cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        revision = None
    fingerprints = {}
    for path in data_files:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        fingerprints[str(path)] = digest.hexdigest()
    packages = ("adaptive-learner", "torch", "transformers", "peft", "bitsandbytes", "datasets", "attrs", "structlog", "wandb")
    atomic_write_json(run_dir / "manifest.json", {
        "config": cfg.to_dict(), "seed": cfg.run.seed, "git_revision": revision, "python": sys.version.split()[0],
        "platform": platform.platform(), "packages": {p: version(p) for p in packages}, "data": fingerprints,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


class RunLock:
    """An exclusive lock on a run folder, so two processes never write one run."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self.handle = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ConfigError(f"{self.path.parent}: another process is writing this run") from None
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
