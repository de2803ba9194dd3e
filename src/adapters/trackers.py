"""Trackers behind the Tracker port: nowhere, a JSONL file, a list (tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from adaptive_learner.adapters.errors import StorageError


class NullTracker:
    def log_event(self, event: str, **fields: Any) -> None:
        pass

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        pass

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        pass

    def finish(self) -> None:
        pass


class RecordingTracker:
    """Keeps everything it is told; tests assert on `events` and `metrics`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.metrics: list[tuple[int | None, dict[str, float]]] = []
        self.axes: list[str | None] = []  # the axis of each entry of `metrics`
        self.finished = False

    def log_event(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        self.metrics.append((step, dict(metrics)))
        self.axes.append(axis)

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        self.events.append(("matrix", {"task_ids": task_ids, "rows": rows}))

    def finish(self) -> None:
        self.finished = True


class JsonlTracker:
    """Appends one JSON object per event or metric line to `<run>/events.jsonl`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise StorageError(
                f"{self.path}: cannot open the event log ({exc.strerror or exc})"
            ) from None

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self._handle.write(
                json.dumps({"time": round(time.time(), 3), **record}, default=str) + "\n"
            )
            self._handle.flush()
        except OSError as exc:  # e.g. ENOSPC: one line naming the file, not a traceback
            raise StorageError(
                f"{self.path}: cannot append an event ({exc.strerror or exc})"
            ) from None

    def log_event(self, event: str, **fields: Any) -> None:
        self._write({"event": event, **fields})

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        self._write({"metrics": metrics, "step": step, "axis": axis})

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        self._write({"matrix": rows, "task_ids": list(task_ids)})

    def finish(self) -> None:
        try:
            self._handle.close()
        except OSError:
            pass  # the failed write was already reported; closing must not hide that error


class LogTracker:
    """One canonical structlog line per learned task (and per notable event), for people."""

    QUIET = frozenset({"zero_shot"})
    WARNINGS = frozenset({"diverged", "did_not_learn", "tracker_offline"})

    def __init__(self) -> None:
        import structlog

        self.log = structlog.get_logger("adaptive_learner")

    def log_event(self, event: str, **fields: Any) -> None:
        if event in self.WARNINGS:
            self.log.warning(event, **fields)
        elif event not in self.QUIET:
            self.log.info(event, **fields)

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        pass

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        pass

    def finish(self) -> None:
        pass


class FanoutTracker:
    """Sends everything to several trackers (e.g. the console log and W&B)."""

    def __init__(self, *trackers: Any) -> None:
        self.trackers = trackers

    def log_event(self, event: str, **fields: Any) -> None:
        for t in self.trackers:
            t.log_event(event, **fields)

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        for t in self.trackers:
            t.log_metrics(metrics, step, axis)

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        for t in self.trackers:
            t.log_matrix(task_ids, rows)

    def finish(self) -> None:
        for t in self.trackers:
            t.finish()
