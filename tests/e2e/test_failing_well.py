"""Issue 12 on the fake backbone, through the CLI entry point (in process): damaged run files,
a full disk, divergence and resume --set, incomplete runs, crash leftovers, checkpoint retention."""

import errno
import json
import sys
from pathlib import Path

import pytest

from adaptive_learner.adapters import trackers
from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES
from adaptive_learner.adapters.fake_backbone import FakeSession
from adaptive_learner.bootstrap import cli

pytestmark = pytest.mark.e2e
FAKE = ["--preset", "fake", "--set", "run.tracker='jsonl'"]


def invoke(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["adaptive-learner", *map(str, args)])
    try:
        cli.entry()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_one_line_error(code: int, out: str, *fragments: str) -> None:
    assert code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in out, out
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def only_run(folder: Path) -> Path:
    (run_dir,) = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return run_dir


@pytest.fixture
def finished(tmp_path, monkeypatch, capsys) -> Path:
    code, out = invoke(monkeypatch, capsys, "run", *FAKE, "--output-dir", tmp_path / "runs")
    assert code == 0, out
    return only_run(tmp_path / "runs")


@pytest.fixture
def diverged(tmp_path, monkeypatch, capsys) -> Path:
    """A run stopped by a NaN loss on its third task (the fake diverges above learning rate 1)."""
    original = FakeSession.train_epoch

    def nan_on_third(self):
        if self.task.id == "product_sentiment":
            self.backbone.learning_rate = 10.0
        return original(self)

    with monkeypatch.context() as patch:
        patch.setattr(FakeSession, "train_epoch", nan_on_third)
        code, out = invoke(patch, capsys, "run", *FAKE, "--output-dir", tmp_path / "runs")
    assert_one_line_error(
        code,
        out,
        "task 'product_sentiment' diverged",
        "training loss became nan",
        "training.learning_rate",
    )
    return only_run(tmp_path / "runs")


# --- damaged run files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "{}",
        '{"task_ids": 5}',
        "[1, 2]",
        (
            '{"task_ids": ["a"], "library": {}, "accuracy": {"task_ids": ["a"], "rows": [["x"]]}, '
            '"balanced_accuracy": {}}'
        ),
    ],
)
@pytest.mark.parametrize("command", ["report", "experts", "evaluate", "resume", "compare", "route"])
def test_a_damaged_state_json_is_one_line_naming_it(
    finished, monkeypatch, capsys, content, command
):
    (finished / "state.json").write_text(content)
    extra = ["--text", "hello"] if command == "route" else []
    code, out = invoke(monkeypatch, capsys, command, finished, *extra)
    assert_one_line_error(code, out, "state.json")


def test_wrong_types_inside_a_task_report_are_caught_on_load(finished, monkeypatch, capsys):
    state = json.loads((finished / "state.json").read_text())
    state["reports"][0]["seconds"] = "slow"
    (finished / "state.json").write_text(json.dumps(state))
    assert_one_line_error(*invoke(monkeypatch, capsys, "report", finished), "state.json", "seconds")


@pytest.mark.parametrize("command", ["resume", "compare", "evaluate"])
def test_a_config_json_holding_a_list_is_one_line(finished, monkeypatch, capsys, command):
    (finished / "config.json").write_text("[1, 2, 3]")
    assert_one_line_error(*invoke(monkeypatch, capsys, command, finished), "config.json", "list")


def test_a_truncated_checkpoint_on_resume_is_one_line(tmp_path, monkeypatch, capsys):
    original = FakeSession.train_epoch

    def die_in_second_epoch_of_third_task(self):
        if self.task.id == "product_sentiment" and self.epoch == 1:
            raise KeyboardInterrupt  # killed after epoch 1's checkpoint
        return original(self)

    args = [*FAKE, "--set", "training.epochs=2", "--set", "training.early_stopping=false"]
    with monkeypatch.context() as patch:
        patch.setattr(FakeSession, "train_epoch", die_in_second_epoch_of_third_task)
        code, _ = invoke(patch, capsys, "run", *args, "--output-dir", tmp_path)
    assert code == 130
    run_dir = only_run(tmp_path)
    checkpoint = run_dir / "checkpoint.json"
    checkpoint.write_text(checkpoint.read_text()[:40])
    assert_one_line_error(
        *invoke(monkeypatch, capsys, "resume", run_dir), "checkpoint.json", "damaged checkpoint"
    )
    checkpoint.unlink()  # the hint: delete it and the task restarts
    code, out = invoke(monkeypatch, capsys, "resume", run_dir)
    assert code == 0, out


def test_a_full_disk_while_appending_an_event_is_one_line(tmp_path, monkeypatch, capsys):
    class FullDisk:
        def __init__(self, handle, room: int) -> None:
            self.handle, self.room = handle, room

        def write(self, text):
            self.room -= 1
            if self.room < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(text)

        def flush(self):
            self.handle.flush()

        def close(self):
            self.handle.close()

    original = trackers.JsonlTracker.__init__

    def small_disk(self, path):
        original(self, path)
        self._handle = FullDisk(self._handle, room=8)

    monkeypatch.setattr(trackers.JsonlTracker, "__init__", small_disk)
    code, out = invoke(monkeypatch, capsys, "run", *FAKE, "--output-dir", tmp_path)
    assert_one_line_error(code, out, "events.jsonl", "No space left on device")


def test_rich_markup_in_an_error_message_is_printed_as_text(tmp_path, monkeypatch, capsys):
    code, out = invoke(
        monkeypatch, capsys, "run", *FAKE, "--set", "training=3", "--output-dir", tmp_path
    )
    assert_one_line_error(code, out, "[training]")


def test_the_log_renderer_keeps_brackets(capsys):
    import structlog

    from adaptive_learner.bootstrap import logging_setup

    logging_setup.configure(json=False)
    structlog.get_logger("t").warning("diverged", reason="[training] learning_rate [bold]x[/]")
    assert "[training] learning_rate [bold]x[/]" in capsys.readouterr().err


# --- runs that went wrong say so ------------------------------------------------------------


def test_divergence_is_recorded_then_resume_with_a_lower_learning_rate_finishes(
    diverged, monkeypatch, capsys
):
    state = json.loads((diverged / "state.json").read_text())
    assert "diverged" in state["stopped"] and len(state["reports"]) == 2
    # no half-made expert saved: the experts saved are those of the two tasks learned
    saved = sorted(e["id"] for e in state["library"]["experts"])
    assert saved == sorted({r["expert_id"] for r in state["reports"]}) and "expert-2" not in saved
    report = (diverged / "report.md").read_text()
    assert (
        "**Incomplete run: 2/6 tasks learned.**" in report
        and "**Stopped:** task 'product_sentiment' diverged" in report
    )
    events = [json.loads(line) for line in (diverged / "events.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "diverged" and e["task"] == "product_sentiment" for e in events)

    code, out = invoke(
        monkeypatch, capsys, "resume", diverged, "--set", "training.learning_rate=1e-3"
    )
    assert code == 0, out
    state = json.loads((diverged / "state.json").read_text())
    assert state["stopped"] is None and len(state["reports"]) == len(DEMO_TASK_NAMES)
    manifest = json.loads((diverged / "manifest.json").read_text())
    assert manifest["resumes"][-1]["set"] == ["training.learning_rate=1e-3"]
    assert manifest["config"]["training"]["learning_rate"] == 1e-3
    assert json.loads((diverged / "config.json").read_text())["training"]["learning_rate"] == 1e-3
    assert "Incomplete" not in (diverged / "report.md").read_text()


@pytest.mark.parametrize(
    "override",
    [
        "run.seed=3",
        "routing.strategy='schedule'",
        "routing.num_tasks_to_share_lora=2",
        "training=3",
    ],
)
def test_resume_refuses_keys_outside_training(diverged, monkeypatch, capsys, override):
    assert_one_line_error(
        *invoke(monkeypatch, capsys, "resume", diverged, "--set", override), "only training.*"
    )


def test_a_task_that_ends_at_zero_shot_is_flagged_did_not_learn(tmp_path, monkeypatch, capsys):
    original = FakeSession.train_epoch

    def never_learns_news(self):
        report = original(self)
        if self.task.id == "news_topic":
            self.state.skill[self.task.id] = 0.0
        return report

    monkeypatch.setattr(FakeSession, "train_epoch", never_learns_news)
    code, out = invoke(
        monkeypatch,
        capsys,
        "run",
        *FAKE,
        "--set",
        "routing.strategy='schedule'",
        "--set",
        "routing.num_tasks_to_share_lora=1",
        "--output-dir",
        tmp_path,
    )
    assert code == 0, out
    assert "did not learn: news_topic" in out
    run_dir = only_run(tmp_path)
    state = json.loads((run_dir / "state.json").read_text())
    flagged = {r["task_id"]: r["health"] for r in state["reports"]}
    assert flagged["news_topic"] == "did_not_learn"
    assert list(flagged.values()).count("ok") == len(DEMO_TASK_NAMES) - 1
    assert "**Warning — news_topic did not learn:** accuracy" in (run_dir / "report.md").read_text()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    trained = {e["task"]: e["health"] for e in events if e.get("event") == "task_trained"}
    assert trained["news_topic"] == "did_not_learn"  # never "learned"
    assert len(trained) == len(DEMO_TASK_NAMES)
    assert not any(e.get("event") == "task_learned" for e in events)


def test_an_incomplete_run_is_marked_and_kept_out_of_mean_std(
    tmp_path, diverged, monkeypatch, capsys
):
    code, out = invoke(monkeypatch, capsys, "report", diverged)
    assert code == 0 and "[2/6 tasks]" in out and "INCOMPLETE: 2/6 tasks learned" in out
    code, out = invoke(
        monkeypatch, capsys, "run", *FAKE, "--set", "run.seed=1", "--output-dir", tmp_path / "more"
    )
    other = only_run(tmp_path / "more")
    code, out = invoke(monkeypatch, capsys, "compare", diverged, other)
    assert code == 0
    rows = [
        line for line in out.splitlines() if diverged.name[:10] in line or other.name[:10] in line
    ]
    # one row each: the incomplete run is not averaged with the finished one
    assert len(rows) == 2, out
    assert any("2/6 INCOMPLETE" in r for r in rows) and any(
        "6/6" in r and "INCOMPLETE" not in r for r in rows
    )
    code, out = invoke(monkeypatch, capsys, "compare", diverged, other, "--include-incomplete")
    assert code == 0 and "2/6,6/6" in out and "INCOMPLETE" in out, out
    assert "0,1" in out  # asked for: both seeds in one mean ± std row


# --- crash leftovers and checkpoint retention ------------------------------------------------


def test_resume_cleans_tmp_files_and_rewrites_a_lost_manifest_and_config(
    diverged, monkeypatch, capsys
):
    (diverged / ".state.json.x1.tmp").write_text("{")
    (diverged / "experts" / "expert-0" / ".v3.abc.tmp").mkdir(parents=True)
    (diverged / "experts" / "expert-0" / ".v3.abc.tmp" / "adapter_model.safetensors").write_bytes(
        b"half"
    )
    (diverged / "manifest.json").unlink()
    code, out = invoke(
        monkeypatch, capsys, "resume", diverged, "--set", "training.learning_rate=1e-3"
    )
    assert code == 0, out
    assert not list(diverged.rglob(".*.tmp"))
    manifest = json.loads((diverged / "manifest.json").read_text())
    assert (
        manifest["seed"] == 0
        and len(manifest["data"]) == 3 * len(DEMO_TASK_NAMES)
        and manifest["resumes"]
    )


def test_a_run_folder_without_config_json_is_resumed_from_its_manifest(
    diverged, monkeypatch, capsys
):
    (diverged / "config.json").unlink()
    code, out = invoke(
        monkeypatch, capsys, "resume", diverged, "--set", "training.learning_rate=1e-3"
    )
    assert code == 0, out
    assert json.loads((diverged / "config.json").read_text())["run"]["name"] == "fake"


def test_a_run_folder_appears_only_with_its_config_and_manifest(tmp_path, monkeypatch, capsys):
    from adaptive_learner.bootstrap import runs

    def killed(*_):
        raise KeyboardInterrupt  # the process dies while the manifest is written

    monkeypatch.setattr(runs, "write_manifest", killed)
    code, _ = invoke(monkeypatch, capsys, "run", *FAKE, "--output-dir", tmp_path)
    assert code == 130
    assert list(tmp_path.iterdir()) == []  # no half-made run folder, no staging folder


def test_a_finished_run_drops_its_checkpoint_unless_asked_to_keep_it(
    tmp_path, finished, monkeypatch, capsys
):
    assert not (finished / "checkpoint.json").exists()
    code, out = invoke(
        monkeypatch,
        capsys,
        "run",
        *FAKE,
        "--set",
        "run.keep_checkpoints=true",
        "--output-dir",
        tmp_path / "kept",
    )
    assert code == 0, out
    assert (only_run(tmp_path / "kept") / "checkpoint.json").exists()
