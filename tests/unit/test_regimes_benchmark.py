"""benchmarks/regimes.py (issue 31 item 5): what counts as a learned task, that every arm and regime
of a seed runs at the protocol's one size, and how the table judges the targets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def regimes(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "regimes_benchmark", REPO / "benchmarks" / "regimes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path / "out")
    return module


def result(final: dict, zero: list, majority: list, avg: float = 0.5, **extra) -> dict:
    return {
        "final": final,
        "accuracy": {"task_ids": list(final), "zero_shot": zero},
        "majority": majority,
        "metrics": {"avg_acc": avg, "bwt": 0.0},
        "experts": 2,
        "train_steps": 10,
        "train_rows": 100,
        "deciding_seconds": 1.0,
        "training_seconds": 10.0,
        "routing": {"task_free_accuracy": avg},
        **extra,
    }


def test_a_task_is_learned_only_more_than_0_05_above_both_baselines(regimes):
    r = result({"a": 0.80, "b": 0.56, "c": 0.70}, [0.6, 0.5, 0.3], [0.5, 0.5, 0.66])
    assert regimes.learned(r) == {"a": True, "b": True, "c": False}
    assert not regimes.learned(result({"a": 0.65}, [0.6], [0.5]))["a"]  # exactly 0.05 above


def test_seed_lists(regimes):
    assert regimes.seed_list("0-3,7") == [0, 1, 2, 3, 7]
    assert regimes.seed_list("100") == [100]


def test_every_arm_and_regime_runs_at_the_protocols_size(regimes, tmp_path, monkeypatch):
    protocol = tmp_path / "protocol.json"
    size = {"train": 32, "epochs": 2, "patience": 1, "dev": 16, "validation": 20}
    protocol.write_text(json.dumps({"size": size}))
    monkeypatch.setattr(regimes, "PROTOCOL", protocol)
    calls = []

    def fake_run(seed, size_, extra, name):
        calls.append((seed, dict(size_), tuple(extra)))
        return result({"a": 0.9}, [0.5], [0.5])

    monkeypatch.setattr(regimes, "run", fake_run)
    regimes.arms_stage([0, 1], list(regimes.REGIMES), list(regimes.ARMS))
    # every arm of every regime, but an arm that is another regime's bit for bit is not run twice
    runs = 2 * (len(regimes.REGIMES) * len(regimes.ARMS) - len(regimes.SAME))
    assert len(calls) == runs
    assert all(c[1] == size for c in calls)
    assert any("consolidation.replay='none'" in c[2] for c in calls)
    # resumable: a second pass finds every file and runs nothing
    regimes.arms_stage([0, 1], list(regimes.REGIMES), list(regimes.ARMS))
    assert len(calls) == runs
    twin = json.loads((regimes.OUT / "replay-always-new-s1.json").read_text())
    same = json.loads((regimes.OUT / "rehearsal-free-always-new-s1.json").read_text())
    assert same["same_as"] == "replay-always-new-s1" and same["regime"] == "rehearsal-free"
    assert same["accuracy"] == twin["accuracy"] and same["metrics"] == twin["metrics"]
    assert "consolidation.replay='none'" in same["sets"]


def test_an_arm_without_its_twin_is_run(regimes, tmp_path, monkeypatch):
    protocol = tmp_path / "protocol.json"
    protocol.write_text(json.dumps({"size": {"train": 8}}))
    monkeypatch.setattr(regimes, "PROTOCOL", protocol)
    calls = []
    monkeypatch.setattr(
        regimes, "run", lambda *a: calls.append(a) or result({"a": 0.9}, [0.5], [0.5])
    )
    regimes.arms_stage([3], ["rehearsal-free"], ["always-new"])
    assert len(calls) == 1
    assert "same_as" not in json.loads(
        (regimes.OUT / "rehearsal-free-always-new-s3.json").read_text()
    )


def test_the_table_judges_the_adaptive_arm_against_both_fixed_arms(regimes):
    regimes.OUT.mkdir(parents=True)
    for arm, avg in (("adaptive", 0.70), ("always-new", 0.60), ("always-shared", 0.705)):
        r = result({"a": 0.9}, [0.5], [0.5], avg)
        (regimes.OUT / f"replay-{arm}-s0.json").write_text(json.dumps(r))
    text = regimes.table([0])
    # best fixed 0.705 - 0.01 = 0.695 <= 0.70: met; worst 0.60 + 0.03 = 0.63 <= 0.70: met
    assert "replay: adaptive 0.700; best fixed - 0.01 = 0.695 (met)" in text
    assert "worst fixed + 0.03 = 0.630 (met)" in text
    assert "fewer experts than tasks in every run (missed)" in text  # 2 experts for 1 task
    assert "rehearsal-free:" not in text  # no runs, no verdict


@pytest.mark.skipif(
    not (REPO.parent / "shared" / "data" / "glue" / "sst2").exists(), reason="no ../shared/data"
)
def test_a_run_whose_folder_exists_is_resumed_not_started_again(regimes, tmp_path):
    """The run folder is named in OUT/<name>.run as soon as it exists; a second call (after a
    killed session) continues that folder instead of starting a new one."""
    size = {"train": 8, "epochs": 1, "patience": 1, "dev": 8, "validation": 8}
    extra = ["run.backbone='fake'", f"run.output_dir='{tmp_path / 'runs'}'"]
    first = regimes.run(100, size, extra, "probe")
    again = regimes.run(100, size, extra, "probe")
    assert not first["resumed"] and again["resumed"]
    assert again["run_dir"] == first["run_dir"] and len(list((tmp_path / "runs").iterdir())) == 1
    assert again["accuracy"] == first["accuracy"]


def test_the_committed_protocol_is_the_sequence_and_sizes_the_script_runs(regimes):
    protocol = json.loads((REPO / "benchmarks" / "regimes-protocol.json").read_text())
    assert protocol["tasks"] == regimes.ITEM2
    assert set(protocol["size"]) == {"train", "epochs", "patience", "dev", "validation"}
    assert set(protocol["arms"]) == set(regimes.ARMS)
    assert set(protocol["regimes"]) == set(regimes.REGIMES)
    assert all(s >= 100 for s in protocol["settings_seeds"])
    assert not set(protocol["settings_seeds"]) & set(protocol["reported_seeds"])


def test_the_table_says_which_runs_are_another_regimes_and_judges_expert_counts(regimes):
    regimes.OUT.mkdir(parents=True)
    final = {"a": 0.9, "b": 0.8, "c": 0.7}
    for regime in regimes.REGIMES:
        for arm, avg in (("adaptive", 0.70), ("always-new", 0.60), ("always-shared", 0.65)):
            r = result(final, [0.5] * 3, [0.5] * 3, avg)  # 2 experts for 3 tasks
            if (regime, arm) in regimes.SAME:
                r["same_as"] = f"replay-{arm}-s0"
            (regimes.OUT / f"{regime}-{arm}-s0.json").write_text(json.dumps(r))
    text = regimes.table([0])
    assert "| rehearsal-free | always-new | 1 (1 same as replay) |" in text
    assert "| replay | always-new | 1 |" in text
    assert text.count("fewer experts than tasks in every run (met)") == 2


def test_nothing_is_judged_on_part_of_the_seeds(regimes):
    regimes.OUT.mkdir(parents=True)
    for arm in regimes.ARMS:
        for seed in (0, 1) if arm != "adaptive" else (0,):
            r = result({"a": 0.9}, [0.5], [0.5], 0.7)
            (regimes.OUT / f"replay-{arm}-s{seed}.json").write_text(json.dumps(r))
    text = regimes.table([0, 1])
    assert "replay: not judged; an arm has 1 of its 2 seeds" in text
    assert "(met)" not in text and "(missed)" not in text
