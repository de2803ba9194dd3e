"""The W&B tracker against a recording stand-in for the `wandb` module (no network, no wandb
server): mode choice without hanging, step axes through define_metric, project and tags from
the config."""

import socket
import sys
import types

import pytest

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.wandb_tracker import WandbTracker, choose_mode, host_reachable

pytestmark = pytest.mark.unit


class FakeRun:
    def __init__(self, **kwargs) -> None:
        self.init, self.logged, self.defined, self.finished = kwargs, [], [], False

    def log(self, data):
        self.logged.append(dict(data))

    def define_metric(self, name, step_metric=None):
        self.defined.append((name, step_metric))

    def finish(self):
        self.finished = True


@pytest.fixture
def fake_wandb(monkeypatch):
    module = types.ModuleType("wandb")
    module.runs, module.fail_online = [], None

    def init(**kwargs):
        if kwargs.get("mode") == "online" and module.fail_online:
            raise module.fail_online
        run = FakeRun(**kwargs)
        module.runs.append(run)
        return run

    module.init = init
    module.Settings = lambda **kwargs: kwargs
    monkeypatch.setitem(sys.modules, "wandb", module)
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "WANDB_BASE_URL", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    return module


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


def test_mode_choice():
    up, down = (
        (lambda url: None),
        (lambda url: "api.wandb.ai:443 unreachable (Network is unreachable)"),
    )
    assert choose_mode({}, down) == ("offline", None)
    assert choose_mode({"WANDB_MODE": "disabled", "WANDB_API_KEY": "k"}, down) == ("disabled", None)
    assert choose_mode({"WANDB_API_KEY": "k"}, up) == ("online", None)
    mode, warning = choose_mode({"WANDB_API_KEY": "k"}, down)
    assert mode == "offline" and "unreachable" in warning and "wandb sync" in warning
    with pytest.raises(AdapterError, match="WANDB_MODE=online but W&B cannot be reached"):
        choose_mode({"WANDB_MODE": "online"}, down)


def test_an_unreachable_host_is_found_without_waiting_for_wandb():
    assert "unreachable" in host_reachable(f"http://127.0.0.1:{closed_port()}", timeout=2.0)
    assert host_reachable("not a url") is not None


def test_a_key_without_network_falls_back_to_offline_with_a_warning(
    fake_wandb, monkeypatch, tmp_path
):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    warnings = []
    WandbTracker(tmp_path, "r", {}, warn=warnings.append)
    assert fake_wandb.runs[0].init["mode"] == "offline"
    assert len(warnings) == 1 and "logging offline" in warnings[0]


def test_an_online_init_that_fails_falls_back_to_offline(fake_wandb, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr("adaptive_learner.adapters.wandb_tracker.host_reachable", lambda url: None)
    fake_wandb.fail_online = TimeoutError("init timed out\n" + "stack line\n" * 200)
    warnings = []
    WandbTracker(tmp_path, "r", {}, warn=warnings.append)
    assert [r.init["mode"] for r in fake_wandb.runs] == ["offline"]
    assert "TimeoutError" in warnings[0] and "\n" not in warnings[0]


def test_steps_go_on_per_task_axes_and_the_global_step_is_wandbs(fake_wandb, tmp_path):
    tracker = WandbTracker(tmp_path, "r", {})
    tracker.log_metrics({"sst2/step_loss": 0.7}, step=1, axis="sst2/step")
    tracker.log_metrics({"sst2/step_loss": 0.6}, step=2, axis="sst2/step")
    tracker.log_metrics(
        {"sst2/train_loss": 0.65, "sst2/dev_accuracy": 0.8}, step=1, axis="sst2/epoch"
    )
    tracker.log_metrics({"rte/train_loss": 0.69}, step=1, axis="rte/epoch")
    tracker.log_metrics({"avg_acc": 0.7})
    run = fake_wandb.runs[0]
    assert run.logged == [
        {"sst2/step_loss": 0.7, "sst2/step": 1},
        {"sst2/step_loss": 0.6, "sst2/step": 2},
        {"sst2/train_loss": 0.65, "sst2/dev_accuracy": 0.8, "sst2/epoch": 1},
        {"rte/train_loss": 0.69, "rte/epoch": 1},
        {"avg_acc": 0.7},
    ]
    assert run.defined == [
        ("sst2/step", None),
        ("sst2/step_loss", "sst2/step"),
        ("sst2/epoch", None),
        ("sst2/train_loss", "sst2/epoch"),
        ("sst2/dev_accuracy", "sst2/epoch"),
        ("rte/epoch", None),
        ("rte/train_loss", "rte/epoch"),
    ]


def test_project_and_tags_come_from_the_preset_and_wandb_project_wins(
    fake_wandb, monkeypatch, tmp_path
):
    from adaptive_learner.bootstrap.config import load_config
    from adaptive_learner.bootstrap.containers import build_wandb_tracker

    cfg = load_config("sl-f-rep1")
    build_wandb_tracker(cfg, tmp_path)
    init = fake_wandb.runs[-1].init
    assert init["project"] == "adaptive-learner-cl-sharedlora"
    assert init["tags"] == [
        "MVE_CL_SharedLoRA_SL_F_Rep1_Hybrid_50F",
        "MVE_CL_SharedLoRA_SL_F_Rep1_Hybrid_50F_seed123",
    ]
    assert init["group"] == "MVE_CL_SharedLoRA_SL_F_Rep1_Hybrid_50F"
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    build_wandb_tracker(load_config("default", ["run.wandb_tags=['a']"]), tmp_path)
    assert fake_wandb.runs[-1].init["project"] == "mine" and fake_wandb.runs[-1].init["tags"] == [
        "a"
    ]
    assert fake_wandb.runs[-1].init["group"] is None


def test_wandb_mode_online_without_network_fails_before_a_run_folder_exists(
    monkeypatch, capsys, tmp_path
):
    from adaptive_learner.bootstrap import cli

    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "adaptive-learner",
            "run",
            "--preset",
            "fake",
            "--set",
            "run.tracker='wandb'",
            "--output-dir",
            str(tmp_path),
        ],
    )
    with pytest.raises(SystemExit) as info:
        cli.entry()
    assert info.value.code == 2
    assert "error: WANDB_MODE=online but W&B cannot be reached" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
