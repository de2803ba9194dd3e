import pytest

from adaptive_learner.bootstrap.config import Config, ConfigError, config_from_dict, config_help, load_config, preset_names

pytestmark = pytest.mark.unit


def test_default_preset_loads_and_round_trips():
    cfg = load_config()
    assert isinstance(cfg, Config) and cfg.run.backbone == "hf" and cfg.data.source == "demo"
    assert config_from_dict(cfg.to_dict()) == cfg


def test_every_shipped_preset_loads():
    for name in preset_names():
        assert load_config(name).description, f"preset {name} has no description"


def test_overrides_are_parsed_as_toml_literals():
    cfg = load_config("default", ["training.learning_rate=1e-4", "lora.target_modules=['q_proj']", "run.name=abc", "training.early_stopping=false"])
    assert cfg.training.learning_rate == 1e-4 and cfg.lora.target_modules == ["q_proj"]
    assert cfg.run.name == "abc" and cfg.training.early_stopping is False


def test_int_is_accepted_for_float():
    assert load_config("default", ["consolidation.ewc_lambda=100"]).consolidation.ewc_lambda == 100.0


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.learning_rat=1e-4", "unknown config key 'training.learning_rat'; did you mean 'learning_rate'"),
        ("trainin.epochs=2", "did you mean 'training'"),
        ("training.epochs=two", "training.epochs: expected int, got str 'two'"),
        ("training.epochs=0", "epochs"),
        ("run.backbone=gpt", "backbone"),
        ("noequals", "section.key=value"),
        ("consolidation.replay_tasks_per_step=0", "consolidation: 'replay_tasks_per_step' must be >= 1, or -1 for all (got 0)"),
        ("consolidation.replay='foo'", "consolidation: 'replay' must be in ('none', 'experience', 'cmt', 'pcgr') (got 'foo')"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
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
