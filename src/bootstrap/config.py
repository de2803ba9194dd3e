"""The experiment configuration: loaded from TOML presets into the typed schema
(bootstrap/config_schema.py).

Presets are TOML files shipped in `bootstrap/presets/`; a preset may name a `base` preset it
extends.
`--set section.key=value` overrides any field; values are parsed as TOML literals (`3`, `1e-4`,
`true`, `["q_proj"]`) and fall back to plain strings. Unknown keys and ill-typed values are
errors that name the key and suggest the closest valid one. The schema's classes are re-exported
here, so `from adaptive_learner.bootstrap.config import Config, load_config` is the one import.
"""

from __future__ import annotations

import difflib
import math
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from adaptive_learner.bootstrap.config_schema import (
    Config,
    ConsolidationConfig,
    DataConfig,
    FakeConfig,
    LoraConfig,
    ModelConfig,
    RoutingConfig,
    RunConfig,
    TrainingConfig,
)

__all__ = [
    "Config",
    "ConfigError",
    "ConsolidationConfig",
    "DataConfig",
    "FakeConfig",
    "LoraConfig",
    "ModelConfig",
    "RoutingConfig",
    "RunConfig",
    "TrainingConfig",
    "config_from_dict",
    "config_help",
    "load_config",
    "load_reference",
    "parse_override",
    "preset_names",
]


class ConfigError(ValueError):
    """A preset, key or value the configuration does not accept; the message names it."""


def _closest(key: str, options: Sequence[str], noun: str = "keys") -> str:
    match = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
    return (
        f"; did you mean {match[0]!r}?"
        if match
        else f"; valid {noun}: {', '.join(sorted(options))}"
    )


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(f"{where}: {value:.3e} is too large for a float") from None
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise ConfigError(
                f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r:.80}"
            )
        if hint is float and not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        if hint is str:
            _check_text(value, where)
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        for k in value:
            _check_text(str(k), f"{where} key {str(k)!r:.40}")
        # a key with a line or record separator is quoted, so the error stays one line
        return {
            str(k): _check_type(
                v, item, f"{where}.{k}" if str(k).isprintable() else f"{where}[{str(k)!r}]"
            )
            for k, v in value.items()
        }
    if origin in (
        types.UnionType,
        typing.Union,
    ):  # e.g. bool | str: a value of one of the members, checked as that member
        members = typing.get_args(hint)
        for member in members:
            if type(value) is member or (member is float and type(value) is int):
                return _check_type(value, member, where)
        names = " or ".join(
            "null" if m is type(None) else getattr(m, "__name__", str(m)) for m in members
        )
        raise ConfigError(f"{where}: expected {names}, got {type(value).__name__} {value!r:.80}")
    return value


def _check_text(value: str, where: str) -> None:
    """Strings end up in paths, JSON files and the tokenizer: no NUL, and encodable as UTF-8."""
    if "\x00" in value:
        raise ConfigError(f"{where}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"{where}: not valid Unicode text ({exc.reason} at character {exc.start})"
        ) from None


# Keys that earlier versions had and later ADRs superseded (docs/adr/0050): the value this version
# always uses, and why. A run folder saved with that value still loads; with another it is refused,
# since this version cannot continue or reproduce it; `--set` of a retired key is refused.
RETIRED = {
    "routing.probe_rule": (
        "supersede",
        (
            "a trained probe's evidence always supersedes the cosine "
            "prior; a zero-step probe is combined with it (docs/adr/0042)"
        ),
    ),
    "routing.probe_replica": (
        True,
        "the probe's fresh LoRA always starts as the next new expert would (docs/adr/0048)",
    ),
    "routing.probe_metric": (
        "accuracy",
        "the probe compares plain dev accuracy, what the matrix reports (docs/adr/0048)",
    ),
    "routing.embedding_layer": (-1, "routing.embedding_layers names the layers (docs/adr/0039)"),
    # A benchmark-only switch, now the benchmark's own (docs/adr/0050): any saved value loads.
    "routing.evaluate_routing": (
        None,
        "a routed run always measures routing and task-free accuracy (docs/adr/0050)",
    ),
}


def _retired(path: str, value: Any, saved: bool) -> bool:
    """True when `path` is a retired key whose saved value this version still follows (dropped)."""
    if path not in RETIRED:
        return False
    kept, why = RETIRED[path]
    if saved and (kept is None or value == kept):
        return True
    given = f"was saved as {value!r}" if saved else "is given"
    raise ConfigError(f"{path} {given}, but it was removed: {why}")


def _build(cls: type, data: Mapping[str, Any], where: str, saved: bool = False) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in attrs.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in names and _retired(path, value, saved):
            continue
        if key not in names:
            raise ConfigError(f"unknown config key {path!r}{_closest(key, names)}")
        hint = hints[key]
        if attrs.has(hint):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{path}: expected a [{path}] table, got {value!r}")
            kwargs[key] = _build(hint, value, path, saved)
        else:
            kwargs[key] = _check_type(value, hint, path)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        message = (
            exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc
        )  # attrs validators add a tuple of details
        raise ConfigError(f"{where or 'config'}: {message}") from None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def preset_names() -> list[str]:
    return sorted(
        p.name[:-5]
        for p in resources.files("adaptive_learner.bootstrap.presets").iterdir()
        if p.name.endswith(".toml")
    )


def _read_preset(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        label = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM is fine, as in task files
        except OSError as exc:
            raise ConfigError(
                f"{label}: cannot read the preset file ({exc.strerror or exc})"
            ) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    else:
        if name not in preset_names():
            raise ConfigError(f"unknown preset {name!r}{_closest(name, preset_names(), 'presets')}")
        text, label = (
            resources.files("adaptive_learner.bootstrap.presets")
            .joinpath(f"{name}.toml")
            .read_text(encoding="utf-8"),
            f"preset {name}",
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML ({exc})") from None
    base = data.pop("base", None)
    if base:
        if base in seen:
            raise ConfigError(f"{label}: preset cycle through {base!r}")
        data = _merge(_read_preset(base, (*seen, name)), data)
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], parsed value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip().split("."), value


def load_config(preset: str = "default", overrides: Sequence[str] = ()) -> Config:
    """The preset (or a .toml path) with `section.key=value` overrides applied."""
    data = _read_preset(preset)
    for text in overrides:
        path, value = parse_override(text)
        if (
            len(path) == 1
            and attrs.has(typing.get_type_hints(Config).get(path[0], int))
            and not isinstance(value, Mapping)
        ):
            raise ConfigError(
                f"override {text!r}: [{path[0]}] is a table of keys; give {path[0]}.key=value"
            )
        node: dict[str, Any] = {}
        cursor = node
        for part in path[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[path[-1]] = value
        data = _merge(data, node)
    return _build(Config, data, "")


def load_reference(name: str) -> dict[str, Any] | None:
    """The reference result `name` (run.reference): a shipped name or a path to a .reference.json
    file; None when empty."""
    if not name:
        return None
    import json

    if name.endswith(".json"):
        try:
            return json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"run.reference: cannot read {name} ({exc})") from None
    found = resources.files("adaptive_learner.bootstrap.presets").joinpath(f"{name}.reference.json")
    if not found.is_file():
        shipped = sorted(
            p.name[: -len(".reference.json")]
            for p in resources.files("adaptive_learner.bootstrap.presets").iterdir()
            if p.name.endswith(".reference.json")
        )
        raise ConfigError(
            f"run.reference: no shipped reference {name!r}{_closest(name, shipped, 'references')}"
        )
    return json.loads(found.read_text(encoding="utf-8"))


def config_from_dict(data: Mapping[str, Any], where: str = "config") -> Config:
    """Rebuild a Config from `Config.to_dict()` output (a run folder's config.json)."""
    try:
        return _build(Config, data, "", saved=True)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_help(cls: type = Config, prefix: str = "") -> list[tuple[str, str, Any]]:
    """(key, help, default) for every leaf field, for `presets --show` and the docs."""
    rows = []
    for f in attrs.fields(cls):
        if attrs.has(f.type if isinstance(f.type, type) else typing.get_type_hints(cls)[f.name]):
            rows += config_help(typing.get_type_hints(cls)[f.name], f"{prefix}{f.name}.")
        else:
            # attrs' stubs type Factory as a function (so that `x: list = Factory(list)` checks);
            # at run time it is the class of a factory default.
            factory_class: type[Any] = typing.cast(Any, attrs.Factory)
            default = f.default.factory() if isinstance(f.default, factory_class) else f.default
            rows.append((f"{prefix}{f.name}", f.metadata.get("help", ""), default))
    return rows
