"""Adaptive Learner: continual learning on a frozen LM with a library of LoRA experts.

The hexagon's layers are sub-packages: `adaptive_learner.domain`, `.application`, `.adapters`
and `.bootstrap` (the folders `src/domain/`, ... mapped onto one import package, ADR 0019).

The Python API (`run_sequence`, `Learner`, `RunResult`, `Answer`, from `bootstrap/api.py`) is
imported on first use, so `import adaptive_learner` alone loads neither torch nor the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Answer", "Learner", "RunResult", "run_sequence"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from adaptive_learner.bootstrap import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
