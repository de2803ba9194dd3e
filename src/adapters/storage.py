"""Crash-safe files: every write goes to a temporary file, is fsynced, then renamed."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.errors import DomainError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    try:  # a read-only folder fails here, before there is a temporary file to clean up
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StorageError(f"{path}: no such file") from None
    except OSError as exc:  # a folder in its place, no permission, an I/O error
        raise StorageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise StorageError(f"{path}: not valid JSON ({exc})") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonRunStore:
    """RunStore over `<run>/state.json`, written atomically after every task."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "state.json"

    def save_state(self, state: dict[str, Any]) -> None:
        atomic_write_json(self.path, state)

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, checked field by field: a damaged file is one StorageError naming it."""
        if not self.path.exists():
            return None
        data = read_json(self.path)
        try:
            RunState.from_dict(data)
        except DomainError as exc:
            raise StorageError(f"{self.path}: not a valid run state: {exc}") from None
        return data


class MemoryRunStore:
    """RunStore that keeps the state in memory (tests, dry runs)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.saves = 0

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))
        self.saves += 1

    def load_state(self) -> dict[str, Any] | None:
        return self.state
