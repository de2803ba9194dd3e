"""Choose the task source the config asks for: the demo suite, a folder set, or GLUE online."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES, write_demo_suite
from adaptive_learner.adapters.data.task_folder import FolderTaskSource
from adaptive_learner.adapters.errors import DataError

if TYPE_CHECKING:
    from adaptive_learner.adapters.data.hub_glue import HubGlueSource


def cache_root() -> Path:
    return Path(
        os.environ.get("ADAPTIVE_LEARNER_CACHE") or Path.home() / ".cache" / "adaptive-learner"
    )  # empty = unset


def build_source(cfg) -> FolderTaskSource | HubGlueSource:
    d = cfg.data
    kwargs = dict(
        train_samples=d.train_samples_per_task,
        dev_samples=d.dev_samples_per_task,
        validation_samples=d.validation_samples_per_task or None,
        seed=cfg.run.seed,
        verbalizers=d.verbalizers,
    )
    if d.source == "demo":
        try:
            root = write_demo_suite(cache_root() / "demo-suite-v2")
        except OSError as exc:
            raise DataError(
                f"cannot write the demo suite under {cache_root()} ({exc.strerror or exc}); "
                "set ADAPTIVE_LEARNER_CACHE to a writable folder"
            ) from None
        return FolderTaskSource(root, d.tasks or list(DEMO_TASK_NAMES), **kwargs)
    if d.source == "folder":
        if not d.data_dir:
            raise DataError(
                "data.source is 'folder' but no data directory was given (use --data-dir DIR)"
            )
        return FolderTaskSource(Path(d.data_dir), d.tasks or None, **kwargs)
    from adaptive_learner.adapters.data.hub_glue import HubGlueSource

    return HubGlueSource(d.tasks, **kwargs)
