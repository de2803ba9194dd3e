"""Weights & Biases behind the Tracker port; `wandb` is imported only when this tracker is chosen.

Project: WANDB_PROJECT, else `run.wandb_project`; entity from WANDB_ENTITY; tags and group from
`run.wandb_tags` / `run.experiment_tag` (docs/adr/0025-wandb.md). Mode: WANDB_MODE when set; else
online when WANDB_API_KEY is set and the W&B host answers within a few seconds, otherwise offline
under the run folder (upload later with `wandb sync <run>/wandb/offline-run-*`), with a warning when
a key was set. WANDB_MODE=online with an unreachable host is a one-line error instead.

Steps follow W&B's own conventions: its step counter is the run's global step (one per log call);
per-task curves get their own x-axes through `define_metric(key, step_metric=axis)`, e.g.
`sst2/train_loss` against `sst2/epoch` and `sst2/step_loss` against `sst2/step`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adaptive_learner.adapters.errors import AdapterError

DEFAULT_HOST = "https://api.wandb.ai"
CONNECT_TIMEOUT_S = 3.0
INIT_TIMEOUT_S = 30.0


def host_reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when a TCP connection to the W&B host opens within `timeout`; else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (80 if parsed.scheme == "http" else 443)
    if not host:
        return f"WANDB_BASE_URL {url!r} names no host"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc.strerror or exc})"


WANDB_MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")  # wandb.Settings.mode


def choose_mode(env: dict[str, str], probe=None) -> tuple[str, str | None]:
    """(mode, warning). Never waits for wandb's own 90 s init timeout on a machine
    without network."""
    probe = probe or host_reachable
    for name, value in sorted(env.items()):
        if name.startswith("WANDB_"):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise AdapterError(f"{name}: not valid UTF-8 text ({ascii(value)[:40]})") from None
    url = env.get("WANDB_BASE_URL") or DEFAULT_HOST
    explicit = env.get("WANDB_MODE")
    if explicit and explicit not in WANDB_MODES:
        raise AdapterError(f"WANDB_MODE={explicit[:40]!r}: W&B knows {', '.join(WANDB_MODES)}")
    if explicit and explicit != "online":
        return explicit, None
    if explicit == "online":
        problem = probe(url)
        if problem:
            raise AdapterError(
                f"WANDB_MODE=online but W&B cannot be reached: {problem}; unset WANDB_MODE to log "
                "offline"
            )
        return "online", None
    if not env.get("WANDB_API_KEY"):
        return "offline", None
    problem = probe(url)
    if problem:
        return (
            "offline",
            f"WANDB_API_KEY is set but {problem}; logging offline (upload later with `wandb sync`)",
        )
    return "online", None


class WandbTracker:
    def __init__(
        self,
        run_dir: Path,
        name: str,
        config: dict[str, Any],
        *,
        project: str = "adaptive-learner",
        tags: Sequence[str] = (),
        group: str | None = None,
        warn=None,
    ) -> None:
        try:
            import wandb
        except ImportError:
            raise AdapterError(
                "run.tracker = 'wandb' needs the wandb package: pip install wandb"
            ) from None
        self._wandb = wandb
        self._axes: set[str] = set()  # step axes declared with define_metric
        self._keys: set[str] = set()  # metrics bound to their axis
        warn = warn or _warn
        mode, warning = choose_mode(dict(os.environ))
        if warning:
            warn(warning)
        kwargs = dict(
            project=os.environ.get("WANDB_PROJECT") or project,
            entity=os.environ.get("WANDB_ENTITY"),
            name=name,
            dir=str(run_dir),
            config=config,
            tags=list(tags) or None,
            group=group,
        )
        try:
            self.run = wandb.init(
                **kwargs, mode=mode, settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S)
            )
        # wandb's CommError/UsageError/timeouts: keep the run, log offline
        except Exception as exc:  # noqa: BLE001
            if mode != "online" or os.environ.get("WANDB_MODE") == "online":
                raise AdapterError(
                    f"wandb.init failed ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''})"
                ) from None
            warn(
                f"W&B online init failed ({type(exc).__name__}); logging offline (upload later "
                "with `wandb sync`)"
            )
            self.run = wandb.init(**kwargs, mode="offline")

    def log_event(self, event: str, **fields: Any) -> None:
        if event == "task_trained":
            self.run.log(
                {
                    f"task/{fields['task']}/{k}": v
                    for k, v in fields.items()
                    if isinstance(v, (int, float))
                }
            )

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        data = dict(metrics)
        if axis is not None and step is not None:
            if axis not in self._axes:
                self.run.define_metric(axis)
                self._axes.add(axis)
            for key in data:
                if key not in self._keys:
                    self.run.define_metric(key, step_metric=axis)
                    self._keys.add(key)
            data[axis] = step
        self.run.log(data)

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        from adaptive_learner.adapters.reporting import heatmap_png

        png = heatmap_png(task_ids, rows)
        table = self._wandb.Table(
            columns=["after", *task_ids], data=[[task_ids[i], *row] for i, row in enumerate(rows)]
        )
        import io

        from PIL import Image

        self.run.log(
            {
                "accuracy_matrix": table,
                "accuracy_heatmap": self._wandb.Image(Image.open(io.BytesIO(png))),
            }
        )

    def finish(self) -> None:
        self.run.finish()


def _warn(message: str) -> None:
    import structlog

    structlog.get_logger("adaptive_learner").warning("tracker_offline", reason=message)
