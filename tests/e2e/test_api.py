"""The Python API (`adaptive_learner.run_sequence`, `Learner`) and the example notebook, on the
fake backbone, as a notebook user calls them."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import adaptive_learner as al
from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import ConfigError, load_config
from adaptive_learner.bootstrap.containers import build_task_source
from adaptive_learner.bootstrap.runs import run_config

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


def code_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells), (
        "the notebook is committed without outputs"
    )
    return ["".join(c["source"]) for c in cells]


def labels_of(run_dir: Path) -> dict[str, tuple[str, ...]]:
    tasks = build_task_source(run_config(run_dir)).load()
    return {task.id: tuple(task.labels) for task in tasks}


def test_the_quickstart_notebook_runs_and_answers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for n, source in enumerate(code_cells(NOTEBOOK)):
            # Running the notebook's own cells is what this test checks.
            exec(compile(source, f"{NOTEBOOK.name} cell {n}", "exec"), namespace)  # noqa: S102
    result, answers = namespace["result"], namespace["answers"]
    assert result.run_dir.parent == Path("runs") and (result.run_dir / "report.md").exists()
    assert 0.0 <= result.avg_acc <= 1.0 and -1.0 <= result.bwt <= 1.0
    n = len(result.task_ids)
    assert (
        n == len(DEMO_TASK_NAMES)
        and len(result.matrix) == n
        and all(len(row) == n for row in result.matrix)
    )
    assert all(result.matrix[i][j] is not None for i in range(n) for j in range(i + 1))
    assert f"AvgAcc {result.avg_acc:.3f}" in printed.getvalue()
    labels = labels_of(result.run_dir)
    assert len(answers) == 2 and answers[1].task == "same_event"  # the pair goes to a pair task
    for a in answers:
        assert isinstance(a, al.Answer) and a.label in labels[a.task]
        assert a.task in result.experts[a.expert] and 0.0 <= a.probability <= 1.0


def test_import_alone_loads_no_torch_typer_or_di():
    heavy = ("torch", "typer", "dependency_injector", "transformers")
    code = (
        "import sys, adaptive_learner\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))\n"
        "adaptive_learner.Learner, adaptive_learner.run_sequence\n"
        "print('torch' in sys.modules, 'typer' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split("\n")[:2] == ["[]", "False False"], out.stdout + out.stderr
    assert set(al.__all__) <= set(dir(al))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        al.nothing  # noqa: B018


def test_result_matches_the_run_state_json(tmp_path, tiny_data):
    result = al.run_sequence(
        backbone="fake",
        data_dir=tiny_data,
        tasks=["alpha", "beta"],
        seed=4,
        output_dir=tmp_path / "runs",
        overrides={
            "training.epochs": 1,
            "routing.strategy": "schedule",
            "routing.num_tasks_to_share_lora": 1,
        },
    )
    saved = json.loads((result.run_dir / "state.json").read_text())
    state = RunState.from_dict(saved)
    assert result.task_ids == ("alpha", "beta") == tuple(saved["task_ids"])
    assert result.matrix == saved["accuracy"]["rows"]
    assert result.avg_acc == state.accuracy.avg_acc() and result.bwt == state.accuracy.bwt()
    assert result.fwt == state.accuracy.fwt() and result.forgetting == state.accuracy.forgetting()
    assert result.balanced_avg_acc == state.balanced.avg_acc()
    assert result.experts == {e["id"]: tuple(e["tasks"]) for e in saved["library"]["experts"]}
    assert result.experts == {"expert-0": ("alpha",), "expert-1": ("beta",)}
    # every run answers without a task id too, a schedule run included (issue 31)
    assert result.routing == saved["router"]["evaluation"]
    assert result.routing["routing_accuracy"] == 1.0
    cfg = run_config(result.run_dir)
    assert (cfg.run.seed, cfg.training.epochs, cfg.run.backbone) == (4, 1, "fake")
    learner = result.learner()
    assert learner.experts == result.experts and learner.state.task_ids == result.task_ids
    (answer,) = learner.predict("train text 1", top_k=2)
    assert answer.task == "alpha" and answer.label in ("yes", "no")


def test_a_config_object_runs_as_given(tmp_path, tiny_data):
    cfg = load_config(
        "fake",
        [
            "data.source='folder'",
            f"data.data_dir='{tiny_data}'",
            "training.epochs=1",
            "consolidation.gamma_weights={accuracy=1.0}",  # a table replaces the preset's
        ],
    )
    result = al.run_sequence(cfg, output_dir=tmp_path / "runs", seed=2)
    saved = run_config(result.run_dir).to_dict()
    assert saved["consolidation"]["gamma_weights"] == {"accuracy": 1.0}
    assert saved["run"]["seed"] == 2
    assert {**saved, "run": {**saved["run"], "seed": 0, "output_dir": "runs"}} == cfg.to_dict()
    with pytest.raises(ConfigError, match="config or preset='glue5', not both"):
        al.run_sequence(cfg, preset="glue5")
    with pytest.raises(ConfigError, match="expected a Config"):
        al.run_sequence({"training": {"epochs": 1}})


@pytest.mark.parametrize(
    ("overrides", "kwargs", "message"),
    [
        ({"training.epoch": 2}, {}, "unknown config key 'training.epoch'; did you mean 'epochs'"),
        ({"training.epochs": None}, {}, "training.epochs: None has no config form"),
        ({"training.epochs": -1}, {}, "'epochs' must be >= 1"),
        ({"training.learning_rate": float("nan")}, {}, "learning_rate"),
        ({"training": 2}, {}, "[training] is a table of keys"),
        ({}, {"seed": True}, "run.seed: expected int, got bool"),
        ({}, {"preset": "nope"}, "unknown preset 'nope'"),
        ({}, {"tasks": ["alpha", "missing"]}, "missing"),
    ],
)
def test_a_refused_run_names_the_problem_and_creates_nothing(
    tmp_path, tiny_data, overrides, kwargs, message
):
    out = tmp_path / "runs"
    with pytest.raises((ConfigError, DataError)) as caught:
        al.run_sequence(
            backbone="fake", data_dir=tiny_data, output_dir=out, overrides=overrides, **kwargs
        )
    assert message in str(caught.value)
    assert not out.exists()


def test_a_bad_task_file_is_refused_before_any_folder(tmp_path, tiny_data):
    with (tiny_data / "beta" / "train.jsonl").open("a") as handle:
        handle.write('{"text": "no label"}\n')
    out = tmp_path / "runs"
    with pytest.raises(DataError, match=r"beta[/\\]train.jsonl:9"):
        al.run_sequence(backbone="fake", data_dir=tiny_data, output_dir=out)
    assert not out.exists()


def test_learner_load_needs_a_run_with_state(tmp_path):
    with pytest.raises(ConfigError, match="no such run folder"):
        al.Learner.load(tmp_path / "absent")
    with pytest.raises(ConfigError, match=r"has not saved any state yet \(no state.json\)"):
        al.Learner.load(tmp_path)


def test_predict_refuses_bad_inputs_in_one_line(tmp_path, tiny_data):
    result = al.run_sequence(
        backbone="fake", data_dir=tiny_data, output_dir=tmp_path, overrides={"training.epochs": 1}
    )
    learner = al.Learner.load(result.run_dir)
    assert learner.predict([]) == []
    for bad, message in [
        ([""], r"inputs\[0\]: expected a non-empty text"),
        (["fine", 3], r"inputs\[1\]: expected"),
        ([("a", "b", "c")], r"inputs\[0\]: expected"),
        (["nul\x00"], r"inputs\[0\]: contains a NUL"),
    ]:
        with pytest.raises(ConfigError, match=message):
            learner.predict(bad)
    with pytest.raises(ConfigError, match="top_k: expected an integer of at least 1"):
        learner.predict(["fine"], top_k=0)
    with pytest.raises(ConfigError, match="batch_size"):
        learner.predict(["fine"], batch_size=True)
