import pytest

from adaptive_learner.bootstrap.config import (
    Config,
    ConfigError,
    config_from_dict,
    config_help,
    load_config,
    preset_names,
)

pytestmark = pytest.mark.unit


def test_default_preset_loads_and_round_trips():
    cfg = load_config()
    assert isinstance(cfg, Config) and cfg.run.backbone == "hf" and cfg.data.source == "demo"
    assert config_from_dict(cfg.to_dict()) == cfg


def test_every_shipped_preset_loads():
    for name in preset_names():
        assert load_config(name).description, f"preset {name} has no description"


def test_overrides_are_parsed_as_toml_literals():
    cfg = load_config(
        "default",
        [
            "training.learning_rate=1e-4",
            "lora.target_modules=['q_proj']",
            "run.name=abc",
            "training.early_stopping=false",
        ],
    )
    assert cfg.training.learning_rate == 1e-4 and cfg.lora.target_modules == ["q_proj"]
    assert cfg.run.name == "abc" and cfg.training.early_stopping is False


def test_int_is_accepted_for_float():
    assert (
        load_config("default", ["consolidation.ewc_lambda=100"]).consolidation.ewc_lambda == 100.0
    )


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "training.learning_rat=1e-4",
            "unknown config key 'training.learning_rat'; did you mean 'learning_rate'",
        ),
        ("trainin.epochs=2", "did you mean 'training'"),
        ("training.epochs=two", "training.epochs: expected int, got str 'two'"),
        ("training.epochs=0", "epochs"),
        ("run.backbone=gpt", "backbone"),
        ("noequals", "section.key=value"),
        (
            "consolidation.replay_tasks_per_step=0",
            "consolidation: 'replay_tasks_per_step' must be >= 1, or -1 for all (got 0)",
        ),
        (
            "consolidation.replay='foo'",
            "consolidation: 'replay' must be in ('none', 'experience', 'cmt', 'pcgr') (got 'foo')",
        ),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        load_config("default", [override])


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="unknown preset 'defualt'; did you mean 'default'"):
        load_config("defualt")


def test_preset_file_path(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('base = "fake"\ndescription = "mine"\n[training]\nepochs = 5\n')
    cfg = load_config(str(p))
    assert cfg.training.epochs == 5 and cfg.run.backbone == "fake"
    p.write_text("[training\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(str(p))


def test_every_field_has_help():
    rows = config_help()
    assert len(rows) > 40
    assert all(help_text for _key, help_text, _default in rows), [k for k, h, _ in rows if not h]


def _keys_of(kind):
    return [key for key, _, default in config_help() if type(default) is kind]


@pytest.mark.parametrize("key", _keys_of(float))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_every_float_must_be_finite(key, value):
    with pytest.raises(ConfigError, match=f"^{key.replace('.', r'[.]')}: expected a finite number"):
        load_config("default", [f"{key}={value}"])


@pytest.mark.parametrize("key", _keys_of(str))
def test_no_string_may_hold_nul_or_a_lone_surrogate(key):
    with pytest.raises(ConfigError, match="NUL"):
        load_config("default", [f'{key}="a\\u0000"'])
    with pytest.raises(ConfigError, match="not valid Unicode"):
        load_config("default", [f"{key}=a\udcff"])  # how argv carries a non-UTF-8 byte


@pytest.mark.parametrize(
    "override",
    [
        "run.seed=-1",
        "run.seed=18446744073709551616",
        "data.train_samples_per_task=0",
        "data.dev_samples_per_task=-1",
        "data.max_length=0",
        "lora.r=0",
        "lora.alpha=0",
        "lora.dropout=1.0",
        "lora.first_layer=-1",
        "training.epochs=0",
        "training.eval_batch_size=65537",
        "training.weight_decay=-0.1",
        "training.max_grad_norm=-1",
        "training.patience=0",
        "training.min_epochs_before_stop=-1",
        "routing.num_tasks_to_share_lora=-2",
        "routing.temperature=-1",
        "consolidation.ewc_data_loader_num_samples=0",
        "consolidation.ewc_batch_size=0",
        "consolidation.gamma_gain_lambda=-1",
        "consolidation.replay_alpha=-1",
        "consolidation.feature_replay_alpha=-1",
        "consolidation.replay_budget_bytes=0",
        "consolidation.replay_backbone_encoding_batch_size=0",
        "fake.peak_accuracy=1.5",
        "fake.epochs_to_learn=0",
        "fake.seconds_per_epoch=3601",
        "model.name_or_path=' '",
        "lora.target_modules=['']",
        "run.name='.hidden'",
        "consolidation.gamma_weights={bogus = 1.0}",
    ],
)
def test_out_of_range_values_name_their_key(override):
    key = override.partition("=")[0]
    section, leaf = key.split(".")
    with pytest.raises(ConfigError, match=f"^{section}: '{leaf}"):
        load_config("default", [override])


def test_edges_that_stay_valid():
    cfg = load_config(
        "default",
        [
            "run.seed=18446744073709551615",
            "routing.reuse_threshold=1.1",
            "routing.num_tasks_to_share_lora=-1",
            "lora.dropout=0.0",
            "training.learning_rate=1e9",
            "run.name='exp_1.v2-a+b'",
        ],
    )
    assert cfg.run.seed == 2**64 - 1 and cfg.routing.reuse_threshold == 1.1
