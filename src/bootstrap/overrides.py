"""Config overrides as the CLI's `--set` takes them (`section.key=<TOML literal>`), built from
Python values, from `run`'s options, and from a whole Config (written out as a preset file).

The CLI and the Python API both go through `load_config`, so a value means the same and is
refused with the same message whichever way it came in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adaptive_learner.bootstrap.config import Config, ConfigError


def toml_string(text: str) -> str:
    """`text` as a TOML basic string, every character kept (Python's repr is not TOML: 'a\\b'
    would come back with two backslashes). What the config then refuses (NUL, lone surrogates)
    it names."""
    escaped = (c if c not in '"\\' and " " <= c != "\x7f" else f"\\u{ord(c):04x}" for c in text)
    return '"' + "".join(escaped) + '"'


def toml_value(value: Any, where: str) -> str:
    """`value` as the TOML literal `--set` would take; ConfigError naming `where` when TOML has
    no form for it (None, arbitrary objects). Non-finite floats are written as TOML's inf/nan so
    that the config's own range check names them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str | os.PathLike):
        return toml_string(os.fspath(value))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "[" + ", ".join(toml_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: table keys must be strings, got {key!r:.40}")
            items.append(f"{toml_string(key)} = {toml_value(item, f'{where}.{key}')}")
        return "{" + ", ".join(items) + "}"
    if value is None:
        raise ConfigError(
            f"{where}: None has no config form; leave the key out to keep the preset's value"
        )
    raise ConfigError(f"{where}: {type(value).__name__} {value!r:.40} has no config form")


def set_overrides(values: Mapping[str, Any]) -> list[str]:
    """{"training.epochs": 2} -> ["training.epochs=2"], the text `--set` takes."""
    out = []
    for key, value in values.items():
        if not isinstance(key, str) or "=" in key or not key.strip():
            raise ConfigError(f"overrides: {key!r:.60} is not a 'section.key' name")
        out.append(f"{key}={toml_value(value, key)}")
    return out


def option_overrides(
    sets: Sequence[str],
    backbone: str | None,
    data_dir: str | os.PathLike | None,
    tasks: str | Sequence[str] | None,
    output_dir: str | os.PathLike | None,
) -> list[str]:
    """`sets` followed by what `run`'s options stand for, so an option wins over a `--set`.

    `tasks` is a list of task folder names, or one comma-separated string as the CLI gives it.
    """
    extra = list(sets)
    if backbone:
        extra.append(f"run.backbone={toml_string(backbone)}")
    if data_dir:
        extra += ["data.source=folder", f"data.data_dir={toml_string(os.fspath(data_dir))}"]
    if tasks:
        names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
        names = [t.strip() if isinstance(t, str) else t for t in names]
        extra.append(f"data.tasks={toml_value(names, 'data.tasks')}")
    if output_dir:
        extra.append(f"run.output_dir={toml_string(os.fspath(output_dir))}")
    return extra


def write_preset(cfg: Config, path: Path) -> Path:
    """`cfg` as a preset file (no `base`): `load_config(path)` gives `cfg` back, field by field.

    A whole preset rather than one override a key: an override of a table-valued key
    (`consolidation.gamma_weights`) merges into the preset's table instead of replacing it.
    """
    top, tables = [], []
    for name, value in cfg.to_dict().items():
        if isinstance(value, dict):
            tables += ["", f"[{name}]"]
            tables += [f"{key} = {toml_value(v, f'{name}.{key}')}" for key, v in value.items()]
        else:
            top.append(f"{name} = {toml_value(value, name)}")
    path.write_text("\n".join(top + tables) + "\n", encoding="utf-8")
    return path
