"""Overrides from Python values (bootstrap/overrides.py): what `--set` would take, read back the
same by the config; a whole Config written as a preset file loads as itself."""

from __future__ import annotations

import math
import tomllib
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.bootstrap.config import ConfigError, load_config, preset_names
from adaptive_learner.bootstrap.overrides import option_overrides, toml_value, write_preset

pytestmark = pytest.mark.unit

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text().filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(values)
def test_a_value_reads_back_as_itself(value):
    assert tomllib.loads(f"v = {toml_value(value, 'k')}")["v"] == value


def test_non_finite_floats_and_paths():
    assert math.isnan(tomllib.loads(f"v = {toml_value(math.nan, 'k')}")["v"])
    assert toml_value(-math.inf, "k") == "-inf" and toml_value((1, 2), "k") == "[1, 2]"
    assert toml_value(PurePosixPath("a/b"), "k") == '"a/b"'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "k: None has no config form; leave the key out"),
        ({1: 2}, "k: table keys must be strings"),
        ([1, {None}], r"k\[1\]: set"),
        (b"x", "k: bytes"),
    ],
)
def test_a_value_without_a_config_form_is_named(value, message):
    with pytest.raises(ConfigError, match=message):
        toml_value(value, "k")


def test_options_follow_sets_as_the_cli_gives_them():
    assert option_overrides(["a.b=1"], "fake", "d", "x, y", "out") == [
        "a.b=1",
        'run.backbone="fake"',
        "data.source=folder",
        'data.data_dir="d"',
        'data.tasks=["x", "y"]',
        'run.output_dir="out"',
    ]
    assert option_overrides([], None, None, ["x", "y "], None) == ['data.tasks=["x", "y"]']


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_written_out_loads_as_itself(tmp_path, name):
    cfg = load_config(name)
    assert load_config(str(write_preset(cfg, tmp_path / "cfg.toml"))) == cfg
