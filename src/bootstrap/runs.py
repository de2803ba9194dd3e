"""Run folders: where a run's config, state, experts and events live."""

from __future__ import annotations

import time
from pathlib import Path

from adapters.storage import atomic_write_json, read_json
from application.state import RunState
from bootstrap.config import Config, ConfigError, config_from_dict


def new_run_dir(cfg: Config) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(cfg.run.output_dir) / f"{cfg.run.name}-{stamp}-s{cfg.run.seed}"
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    path.mkdir(parents=True)
    atomic_write_json(path / "config.json", cfg.to_dict())
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
