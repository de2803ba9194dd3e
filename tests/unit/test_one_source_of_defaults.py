"""One source of defaults (docs/adr/0050): every default a domain value or a use case states for
a setting the config schema has must be the schema's default, so a test or a notebook that builds
one directly runs the product's rule; the retired keys of later ADRs are refused by name."""

import inspect

import attrs
import pytest

from adaptive_learner.application.learn_task import LearnTask
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.application.train_jointly import TrainJointly
from adaptive_learner.bootstrap.config import ConfigError, config_from_dict, load_config
from adaptive_learner.bootstrap.config_schema import Config
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter, AdaptiveThreshold
from adaptive_learner.domain.calibration import ReuseCalibrator
from adaptive_learner.domain.consolidation import ConsolidationPolicy, GammaGain
from adaptive_learner.domain.early_stopping import EarlyStopping
from adaptive_learner.domain.reuse import SharingSchedule, SimilarityRouter
from adaptive_learner.domain.router_memory import RouterMemory

pytestmark = pytest.mark.unit

SCHEMA = Config().to_dict()
# A value's own name for a schema key where the two differ; every other field is matched by name
# within the section(s) listed for its class.
ALIASES = {
    (AdaptiveThreshold, "step"): "routing.tau_step",
    (ReuseCalibrator, "kind"): "routing.calibration",
    (GammaGain, "weights"): "consolidation.gamma_weights",
    (GammaGain, "scales"): "consolidation.gamma_scales",
    (GammaGain, "direction"): "consolidation.gamma_direction",
}
VALUES = {
    AdaptiveRouter: "routing",
    AdaptiveThreshold: "routing",
    ReuseCalibrator: "routing",
    SharingSchedule: "routing",
    SimilarityRouter: "routing",
    ConsolidationPolicy: "consolidation",
    GammaGain: "consolidation",
    EarlyStopping: "training",
}
USE_CASES = {LearnTask: "training", RunSequence: "run", TrainJointly: "training"}


def schema(key: str):
    section, leaf = key.split(".")
    return SCHEMA[section][leaf]


def plain(value):
    return value.value if hasattr(value, "value") else value  # enums (FisherKind, ReplayKind)


def stated_defaults():
    """(where, schema key, stated default) for every default that names a schema setting."""
    for cls, section in VALUES.items():
        for f in attrs.fields(cls):
            key = ALIASES.get((cls, f.name), f"{section}.{f.name}")
            if key.split(".")[1] not in SCHEMA[key.split(".")[0]] or f.default is attrs.NOTHING:
                continue
            default = f.default.factory() if isinstance(f.default, attrs.Factory) else f.default
            yield f"{cls.__name__}.{f.name}", key, default
    for cls, section in USE_CASES.items():
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.default is not p.empty and p.name in SCHEMA[section]:
                yield f"{cls.__name__}({p.name}=)", f"{section}.{p.name}", p.default


def test_every_stated_default_is_the_schemas():
    rows = list(stated_defaults())
    assert len(rows) >= 25  # the comparison covers the values that restate settings
    wrong = [
        (where, key, plain(v), schema(key)) for where, key, v in rows if plain(v) != schema(key)
    ]
    assert not wrong, "defaults that differ from the config schema: " + repr(wrong)


def test_the_router_memorys_own_defaults_are_the_schemas():
    memory = RouterMemory()
    assert memory.threshold.tau == schema("routing.router_confidence_threshold")
    assert memory.calibrator == ReuseCalibrator()


def test_routing_settings_have_no_defaults_of_their_own():
    assert all(f.default is attrs.NOTHING for f in attrs.fields(RoutingSettings))


@pytest.mark.parametrize(
    "key, value",
    [
        ("routing.probe_rule", "'combine'"),
        ("routing.probe_replica", "false"),
        ("routing.probe_metric", "'balanced_accuracy'"),
        ("routing.embedding_layer", "20"),
        ("routing.evaluate_routing", "false"),
    ],
)
def test_a_retired_key_is_refused_with_its_reason(key, value):
    with pytest.raises(ConfigError, match=rf"{key} is given, but it was removed: .*docs/adr/00"):
        load_config("fake", [f"{key}={value}"])


def test_a_saved_run_with_a_retired_key_loads_when_it_followed_what_this_version_does():
    data = load_config("fake").to_dict()
    old = {"probe_rule": "supersede", "embedding_layer": -1, "evaluate_routing": False}
    kept = {**data, "routing": {**data["routing"], **old}}
    assert config_from_dict(kept) == load_config("fake")
    other = {**data, "routing": {**data["routing"], "probe_metric": "balanced_accuracy"}}
    with pytest.raises(ConfigError, match="probe_metric was saved as 'balanced_accuracy'"):
        config_from_dict(other, where="run/config.json")
