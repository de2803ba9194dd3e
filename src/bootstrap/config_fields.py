"""Field helpers of the configuration: `doc` (a field with its help text) and the validators the
fields use, each raising ValueError with a message that names the field (config.py turns it into a
ConfigError). Split from config.py, which keeps the config classes and their loading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from attrs import field


def _positive_or_all(name: str, value: int) -> None:
    if value < 1 and value != -1:
        raise ValueError(f"{name!r} must be >= 1, or -1 for all (got {value})")


def _span(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return " and ".join(parts)


def within(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    also: tuple = (),
) -> Any:
    """A validator for a number in a range (ends open or closed); `also` lists extra allowed values
    (-1 = all)."""

    def check(_: Any, attribute: Any, value: float) -> None:
        if value in also:
            return
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        high_bad = hi is not None and (value >= hi if hi_open else value > hi)
        if low_bad or high_bad:
            extra = "".join(f", or {a}" for a in also)
            raise ValueError(
                f"{attribute.name!r} must be {_span(lo, hi, lo_open, hi_open)}{extra}"
                f" (got {value!r})"
            )

    return check


# Caps keep values a backend could overflow on (torch sizes, seeds) or that are surely typos
# (a batch of 10^11) out; docs/adr/0020 lists them.
MAX_BATCH = 65536
MAX_SEED = 2**64 - 1  # torch.manual_seed takes an unsigned 64-bit seed
_SAFE_NAME = re.compile(r"\w[\w.+=@,-]{0,99}")


def _safe_name(_: Any, attribute: Any, value: str) -> None:
    """A run name becomes a folder name under output_dir: one path component, no separators."""
    if not _SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{attribute.name!r} must be 1-100 letters, digits or . _ - + = @ , starting with a "
            f"letter or digit (it names the run folder), got {value!r:.60}"
        )


def _nonblank(_: Any, attribute: Any, value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name!r} must not be empty")


def _task_names(_: Any, attribute: Any, value: list[str]) -> None:
    for name in value:
        parts = Path(name).parts
        if not name.strip() or Path(name).is_absolute() or ".." in parts:
            raise ValueError(
                f"{attribute.name!r}: {name!r} must be a task folder name (or sub-path) inside "
                "the data directory"
            )


def _word_lists(_: Any, attribute: Any, value: dict[str, list[str]]) -> None:
    for task, words in value.items():
        if not words or any(not w.strip() for w in words):
            raise ValueError(
                f"'{attribute.name}.{task}': give one non-empty answer word per label,"
                f" got {words!r:.60}"
            )


def _nonblank_items(_: Any, attribute: Any, value: list[str]) -> None:
    if any(not v.strip() for v in value):
        raise ValueError(f"{attribute.name!r}: entries must not be empty (got {value!r:.60})")


def _signal_table(positive: bool) -> Any:
    def check(_: Any, attribute: Any, value: dict[str, float]) -> None:
        from adaptive_learner.domain.consolidation import SIGNALS

        for key, number in value.items():
            if key not in SIGNALS:
                raise ValueError(
                    f"{attribute.name!r}: unknown signal {key!r}; known: {', '.join(SIGNALS)}"
                )
            if number < 0 or (positive and number == 0):
                raise ValueError(
                    f"'{attribute.name}.{key}' must be {'> 0' if positive else '>= 0'}"
                    f" (got {number!r})"
                )

    return check


def _layer_list(_: Any, attribute: Any, value: list[int]) -> None:
    if len(value) != len(set(value)):
        raise ValueError(f"{attribute.name!r}: each layer at most once (got {value!r:.60})")
    for layer in value:
        if isinstance(layer, bool) or not isinstance(layer, int) or not -1 <= layer <= 4096:
            raise ValueError(
                f"{attribute.name!r}: layers are integers from -1 (the final layer) to 4096"
                f" (got {layer!r:.40})"
            )


def _block_weights(_: Any, attribute: Any, value: dict[str, float]) -> None:
    from adaptive_learner.domain.profiles import BLOCK_ORDER

    for key, number in value.items():
        if key not in BLOCK_ORDER:
            raise ValueError(
                f"{attribute.name!r}: unknown profile block {key!r}; known: "
                f"{', '.join(BLOCK_ORDER)}"
            )
        if number < 0:
            raise ValueError(f"'{attribute.name}.{key}' must be >= 0 (got {number!r})")


def doc(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its help text (shown by `adaptive-learner presets --show`)."""
    if isinstance(default, (list, dict)):
        kwargs["factory"] = lambda d=default: type(d)(d)
    else:
        kwargs["default"] = default
    return field(metadata={"help": help}, **kwargs)
