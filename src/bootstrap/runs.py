"""Run folders: where a run's config, state, experts and events live."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Self, TextIO

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.adapters.storage import (
    JsonRunStore,
    atomic_write_json,
    read_json,
    sha256_file,
)
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import Config, ConfigError, config_from_dict, parse_override

RESUMABLE_SECTIONS = ("training",)


def world_size() -> int:
    """Processes of this run (torchrun / accelerate launch set WORLD_SIZE; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0, the only process that writes the run folder, prints and tracks."""
    return int(os.environ.get("RANK", "0")) == 0


def new_run_dir(cfg: Config, data_files: list[Path] | None = None) -> Path:
    """A new run folder that appears with its config.json (and manifest.json) already in it.

    Both are written into a hidden staging folder that is renamed into place, so a kill leaves
    either no run folder or one that `resume` can continue (docs/adr/0023-run-file-integrity.md).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = Path(cfg.run.output_dir)
    base = output / f"{cfg.run.name}-{stamp}-s{cfg.run.seed}"
    if base.parent != output or base.name in (
        ".",
        "..",
    ):  # run.name is validated; stay inside anyway
        raise ConfigError(f"run.name: {cfg.run.name!r} would leave the output directory")
    try:
        output.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(output)
        staging = Path(tempfile.mkdtemp(dir=output, prefix=f".{base.name}.", suffix=".tmp"))
        # held while staging (a live run's is never stale), so not closed by a `with` block
        lock = open(staging / ".lock", "a+")  # noqa: SIM115
        fcntl.flock(lock, fcntl.LOCK_EX)
    except OSError as exc:
        raise StorageError(
            f"{output}: cannot create the run folder ({exc.strerror or exc})"
        ) from None
    try:
        atomic_write_json(staging / "config.json", cfg.to_dict())
        if data_files is not None:
            write_manifest(staging, cfg, data_files)
        path, n = base, 1
        while True:
            # rename() would silently replace an existing EMPTY folder (someone's, or a run folder
            # being made): never take a name that exists. A folder that appears between the check
            # and the rename is refused by rename() itself unless it is still empty.
            if not os.path.lexists(path):
                try:
                    os.rename(staging, path)
                    return path
                except OSError as exc:
                    if not os.path.lexists(path):
                        raise StorageError(
                            f"{path}: cannot create the run folder ({exc.strerror or exc})"
                        ) from None
            path, n = base.with_name(f"{base.name}-{n}"), n + 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock.close()  # renamed with the folder, the run's own .lock (RunLock) from here on


# `.<run name>-<stamp>-s<seed>.<random>.tmp`: new_run_dir's staging folders, and only those.
_STAGING = re.compile(r"\..+-\d{8}-\d{6}-s-?\d+\.\w+\.tmp")
STAGING_GRACE_S = 60  # a staging folder younger than this may be one whose lock is not taken yet


def remove_stale_staging(output: Path) -> list[Path]:
    """Remove the staging folders that runs killed while creating their run folder left in
    `output`. A live run holds its staging folder's lock, so only dead runs' folders go."""
    removed = []
    for path in Path(output).glob(".*.tmp"):
        if _STAGING.fullmatch(path.name) and not path.is_symlink() and _is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _is_stale(staging: Path) -> bool:
    try:
        if time.time() - staging.stat().st_mtime < STAGING_GRACE_S:
            return False
        fd = os.open(staging / ".lock", os.O_RDONLY)
    except FileNotFoundError:
        return staging.is_dir()  # killed before it took its lock (or made before locks existed)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True  # nobody holds it: its run is dead (it is never locked again)
    except OSError:
        return False
    finally:
        os.close(fd)


def run_config(run_dir: Path) -> Config:
    """The config a run was started with (from manifest.json when config.json is missing)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        manifest = Path(run_dir) / "manifest.json"
        if (
            manifest.exists()
            and isinstance(saved := read_json(manifest), dict)
            and isinstance(saved.get("config"), dict)
        ):
            return config_from_dict(saved["config"], where=f"{manifest} (config)")
        raise ConfigError(f"{run_dir}: not a run folder (no config.json)")
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a JSON object of config sections, got {type(data).__name__}"
        )
    return config_from_dict(data, where=str(path))


def run_state(run_dir: Path) -> RunState:
    data = JsonRunStore(run_dir).load_state()
    if data is None:
        raise ConfigError(f"{run_dir}: the run has not saved any state yet (no state.json)")
    return RunState.from_dict(data)


def resume_config(cfg: Config, overrides: list[str]) -> Config:
    """The run's config with `--set` overrides for a resume; only training.* keys may change."""
    data = cfg.to_dict()
    for text in overrides:
        path, value = parse_override(text)
        if len(path) != 2 or path[0] not in RESUMABLE_SECTIONS:
            raise ConfigError(
                f"resume --set {text!r}: only {', '.join(s + '.*' for s in RESUMABLE_SECTIONS)} "
                "keys can change when a run resumes"
            )
        data[path[0]] = {**data[path[0]], path[1]: value}
    return config_from_dict(data, where="resume --set")


def clean_leftovers(run_dir: Path) -> list[Path]:
    """Remove the `.<name>.tmp` files and folders a killed writer left behind (call under the run
    lock)."""
    removed = []
    for path in sorted(Path(run_dir).rglob(".*.tmp"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def repair_run(run_dir: Path, cfg: Config, data_files: list[Path], overrides: list[str]) -> None:
    """Before `resume` continues: clean leftovers, put back a missing config.json or manifest.json,
    and record the resume (with its `--set` overrides) in the manifest."""
    clean_leftovers(run_dir)
    remove_stale_staging(run_dir.parent)
    if not (run_dir / "config.json").exists() or overrides:
        atomic_write_json(run_dir / "config.json", cfg.to_dict())
    manifest = run_dir / "manifest.json"
    if not manifest.exists():
        write_manifest(run_dir, cfg, data_files)
    data = read_json(manifest)
    if not isinstance(data, dict):
        raise ConfigError(f"{manifest}: expected a JSON object, got {type(data).__name__}")
    data.setdefault("resumes", []).append(
        {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "set": list(overrides)}
    )
    if overrides:
        data["config"] = cfg.to_dict()
    atomic_write_json(manifest, data)


def check_data_unchanged(run_dir: Path, data_files: list[Path]) -> None:
    """Each task file still has the sha256 manifest.json recorded when the run started: a run
    resumed on edited data would put two datasets into one accuracy matrix without a word.
    Files are matched by task folder and name, so a data folder that moved still matches."""
    manifest = Path(run_dir) / "manifest.json"
    saved = read_json(manifest) if manifest.exists() else {}  # a lost one is written anew
    recorded = saved.get("data") if isinstance(saved, dict) else None
    if not isinstance(recorded, dict):
        return
    started = {Path(name).parts[-2:]: digest for name, digest in recorded.items()}
    for path in data_files:
        digest = started.get(path.parts[-2:])
        if digest is not None and sha256_file(path) != digest:
            raise ConfigError(
                f"{path}: changed since the run started (its sha256 differs from manifest.json's); "
                "restore the file the run started with, or start a new run on the new data"
            )


# What a run writes once its state.json exists (experts after the zero-shot pass saved it).
RESULTS = ("experts", "checkpoint", "checkpoint.json", "router", "matrix.json", "report.md")


def check_results_have_state(run_dir: Path) -> None:
    """A run folder without state.json starts from its first task on resume. Refuse when it holds
    results (state.json deleted or lost): starting over would retrain and overwrite them."""
    found = [
        name
        for name in RESULTS
        if (path := Path(run_dir) / name).is_file()
        or (path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir()))
    ]
    if found:
        raise ConfigError(
            f"{run_dir}: state.json is missing, but the run folder holds {', '.join(found)}; "
            "resuming would retrain every task over them. Restore state.json, or start a new run"
        )


def write_manifest(run_dir: Path, cfg: Config, data_files: list[Path]) -> None:
    """What a reader needs to reproduce the run: config, seed, versions, git revision, data
    fingerprints."""
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
        revision = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=False,
                timeout=5,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        revision = None
    fingerprints = {str(path): sha256_file(path) for path in data_files}
    packages = (
        "adaptive-learner",
        "torch",
        "transformers",
        "peft",
        "bitsandbytes",
        "datasets",
        "attrs",
        "structlog",
        "wandb",
    )
    atomic_write_json(
        run_dir / "manifest.json",
        {
            "config": cfg.to_dict(),
            "seed": cfg.run.seed,
            "git_revision": revision,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": {p: version(p) for p in packages},
            "data": fingerprints,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


class RunLock:
    """An exclusive lock on a run folder, so two processes never write one run."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self.handle: TextIO | None = None

    def __enter__(self) -> Self:
        try:
            self.handle = open(self.path, "a+")
        except OSError as exc:
            raise ConfigError(
                f"{self.path.parent}: cannot lock the run folder ({exc.strerror or exc})"
            ) from None
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ConfigError(f"{self.path.parent}: another process is writing this run") from None
        return self

    def __exit__(self, *exc) -> None:
        assert self.handle is not None  # set by __enter__
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
