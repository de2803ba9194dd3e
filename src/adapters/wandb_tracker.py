"""Weights & Biases behind the Tracker port; `wandb` is imported only when this tracker is chosen.

Project/entity come from WANDB_PROJECT / WANDB_ENTITY (default project "adaptive-learner"); the key
from WANDB_API_KEY. Without a key the run is logged offline under the run folder and can be
uploaded later with `wandb sync <run>/wandb/offline-run-*`. WANDB_MODE=disabled turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from adaptive_learner.adapters.errors import AdapterError


class WandbTracker:
    def __init__(self, run_dir: Path, name: str, config: dict[str, Any]) -> None:
        try:
            import wandb
        except ImportError:
            raise AdapterError("run.tracker = 'wandb' needs the wandb package: pip install wandb") from None
        self._wandb = wandb
        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "adaptive-learner"),
            entity=os.environ.get("WANDB_ENTITY"),
            name=name,
            dir=str(run_dir),
            config=config,
            mode=mode,
        )

    def log_event(self, event: str, **fields: Any) -> None:
        if event == "task_learned":
            self.run.log({f"task/{fields['task']}/{k}": v for k, v in fields.items() if isinstance(v, (int, float))})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.run.log(dict(metrics))

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None:
        from adaptive_learner.adapters.reporting import heatmap_png

        png = heatmap_png(task_ids, rows)
        table = self._wandb.Table(columns=["after", *task_ids], data=[[task_ids[i], *row] for i, row in enumerate(rows)])
        import io

        from PIL import Image

        self.run.log({"accuracy_matrix": table, "accuracy_heatmap": self._wandb.Image(Image.open(io.BytesIO(png)))})

    def finish(self) -> None:
        self.run.finish()
