"""A hostile pass over the CLI with the fake backbone: usage mistakes, text that cannot be encoded,
preset files, WANDB_* variables, resume on changed data, damaged fake experts, run-folder names.
Every case ends in exit 2 (or 0) with a clear line and no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive_learner.bootstrap import cli, runs
from adaptive_learner.bootstrap.config import load_config

pytestmark = pytest.mark.e2e


def assert_clean_refusal(code: int, text: str, *needles: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text and "╭" not in text, text  # no plain or rich traceback
    for needle in needles:
        assert needle in text, text


@pytest.fixture
def finished(tiny_data: Path, tmp_path: Path, run_cli) -> Path:
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(tmp_path / "runs"),
    )
    assert code == 0, text
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


# --- usage mistakes: click's usage line and exit 2, never a traceback ----------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--no-such-option"], "No such option: --no-such-option"),
        (["run", "--backbone", "fake", "--seeds"], "'--seeds' requires an argument"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["--debug"], "Missing command"),
        (["compare"], "Missing argument"),
        (["report", "/no/such/run/folder"], "does not exist"),
    ],
)
def test_usage_mistakes_are_a_usage_line_and_exit_2(run_cli, args, needle):
    assert_clean_refusal(*run_cli(*args), needle)


@pytest.mark.parametrize("extra", [[], ["--text", "x", "--task", "alpha"]])
def test_route_needs_exactly_one_of_text_or_task(finished, run_cli, extra):
    assert_clean_refusal(
        *run_cli("route", str(finished), *extra), "give exactly one of --text or --task"
    )


def test_help_exits_0(run_cli):
    code, text = run_cli("inspect-layers", "--help")
    assert code == 0 and "--filter" in text, text


# --- text from the command line -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            "\udcff",
            "--text: not valid Unicode text",
        ),  # argv bytes that are not UTF-8 arrive as lone surrogates
        ("  ", "--text: empty"),
    ],
)
def test_route_text_that_cannot_be_encoded_or_is_empty_is_one_line(finished, run_cli, text, needle):
    code, out = run_cli("route", str(finished), "--text", text)
    assert_clean_refusal(code, out, needle)
    assert len(out.strip().splitlines()) == 1, out


def test_route_a_lone_surrogate_through_a_real_process(finished, tmp_path):
    """As a user meets it: a byte that is not UTF-8 on the command line."""
    result = subprocess.run(
        [
            os.fsencode(sys.executable),
            b"-m",
            b"adaptive_learner.bootstrap.cli",
            b"route",
            os.fsencode(finished),
            b"--text",
            b"caf\xe9",
        ],
        check=False,
        capture_output=True,
        timeout=120,
    )
    text = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert_clean_refusal(result.returncode, text, "--text: not valid Unicode text")


@pytest.mark.parametrize("name", ["a\\b", "tab\there", 'quo"te', "it's"])
def test_output_dir_is_taken_verbatim(tiny_data, tmp_path, run_cli, name):
    """--output-dir/--data-dir reach the config as the exact text (Python's repr is not TOML)."""
    out = tmp_path / name
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(tiny_data), "--output-dir", str(out)
    )
    assert code == 0, text
    assert len(list(out.iterdir())) == 1


def test_output_dir_with_a_lone_surrogate_is_one_line(tiny_data, tmp_path, run_cli):
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(tmp_path / "\udcff"),
    )
    assert_clean_refusal(code, text, "run.output_dir: not valid Unicode text")
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


def test_evaluate_refuses_an_unknown_split(finished, run_cli):
    assert_clean_refusal(
        *run_cli("evaluate", str(finished), "--split", "test"),
        "--split: 'test' is not one of validation, dev",
    )


# --- preset files and --set -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: p.write_bytes(b"\xff\xfe[run]\n"), "not UTF-8 text"),
        (lambda p: p.mkdir(), "cannot read the preset file"),
        (lambda p: p.write_text("x = [\n"), "invalid TOML"),
    ],
)
def test_a_bad_preset_file_is_one_line(tiny_data, tmp_path, run_cli, make, needle):
    preset = tmp_path / "mine.toml"
    make(preset)
    out = tmp_path / "runs"
    code, text = run_cli(
        "run",
        "--preset",
        str(preset),
        "--backbone",
        "fake",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(out),
    )
    assert_clean_refusal(code, text, "mine.toml", needle)
    assert not out.exists()


def test_a_preset_file_with_a_byte_order_mark_is_read(tmp_path):
    preset = tmp_path / "bom.toml"
    preset.write_bytes(b"\xef\xbb\xbf[training]\nepochs = 7\n")
    assert load_config(str(preset)).training.epochs == 7


def test_setting_a_whole_section_to_a_value_is_refused(tiny_data, tmp_path, run_cli):
    """`--set run=1` used to vanish when a later run.* override (here --backbone) replaced it."""
    code, text = run_cli(
        "run",
        "--set",
        "run=1",
        "--backbone",
        "fake",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(tmp_path / "runs"),
    )
    assert_clean_refusal(code, text, "[run] is a table of keys; give run.key=value")


# --- W&B environment variables, before the run folder exists --------------------------------------


@pytest.mark.parametrize(
    "name, value, needle",
    [
        ("WANDB_MODE", "sometimes", "WANDB_MODE='sometimes'"),
        ("WANDB_PROJECT", "\udcff", "WANDB_PROJECT: not valid UTF-8 text"),
    ],
)
def test_bad_wandb_variables_are_one_line_before_the_run_folder(
    tiny_data, tmp_path, run_cli, monkeypatch, name, value, needle
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv(name, value)
    out = tmp_path / "runs"
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(out),
        "--set",
        "run.tracker='wandb'",
    )
    assert_clean_refusal(code, text, needle)
    assert not out.exists()


# --- resume checks the data and config first (like run) -------------------------------------------


def test_resume_checks_the_task_files_before_the_model_loads(
    finished, tiny_data, run_cli, monkeypatch
):
    with (tiny_data / "alpha" / "train.jsonl").open("a") as handle:
        handle.write('{"text": "x", "label": "maybe"}\n')
    before = sorted(p.name for p in finished.iterdir())
    manifest = (finished / "manifest.json").read_text()

    def refuse(*_args, **_kwargs):
        raise AssertionError("the backbone was built before the data was checked")

    monkeypatch.setattr(cli, "make_container", refuse)
    code, text = run_cli("resume", str(finished))
    assert_clean_refusal(code, text, "alpha/train.jsonl:9: field 'label': 'maybe' is not one of")
    assert sorted(p.name for p in finished.iterdir()) == before  # no lock, no resume recorded
    assert (finished / "manifest.json").read_text() == manifest


def test_resume_checks_the_config_first(finished, run_cli):
    data = json.loads((finished / "config.json").read_text())
    data["routing"]["temperature"] = 0.0
    (finished / "config.json").write_text(json.dumps(data))
    assert_clean_refusal(*run_cli("resume", str(finished)), "temperature")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_resume_of_a_read_only_run_folder_is_one_line(finished, run_cli):
    finished.chmod(0o500)
    try:
        assert_clean_refusal(*run_cli("resume", str(finished)), "not writable")
    finally:
        finished.chmod(0o700)


# --- fake experts carry a checksum ----------------------------------------------------------------


def _last_expert_file(run_dir: Path) -> Path:
    return max(
        (run_dir / "experts").glob("*.json"),
        key=lambda p: (p.stem.split("@")[0], int(p.stem.split("@")[1])),
    )


def test_fake_expert_files_carry_a_checksum_that_evaluate_checks(finished, run_cli):
    path = _last_expert_file(finished)
    raw = json.loads(path.read_text())
    assert len(raw["sha256"]) == 64
    task = next(iter(raw["skill"]))
    raw["skill"][task] = raw["skill"][task] / 2  # valid JSON, different weights
    path.write_text(json.dumps(raw))
    assert_clean_refusal(*run_cli("evaluate", str(finished)), path.name, "checksum mismatch")


@pytest.mark.parametrize(
    "content, needle",
    [("[]", "expected a JSON object"), ('{"skill": {}}', "not a saved fake expert")],
)
def test_a_damaged_fake_expert_is_one_line(finished, run_cli, content, needle):
    path = _last_expert_file(finished)
    path.write_text(content)
    assert_clean_refusal(*run_cli("evaluate", str(finished)), path.name, needle)


def test_fake_experts_saved_without_a_checksum_still_load(finished, run_cli):
    for path in (finished / "experts").glob("*.json"):
        raw = json.loads(path.read_text())
        del raw["sha256"]
        path.write_text(json.dumps(raw))
    code, text = run_cli("evaluate", str(finished))
    assert code == 0, text


# --- a new run folder never replaces an existing (empty) folder -----------------------------------


def test_a_new_run_folder_never_replaces_an_empty_folder_of_the_same_name(tmp_path, monkeypatch):
    cfg = load_config("fake", [f"run.output_dir={json.dumps(str(tmp_path))}"])
    monkeypatch.setattr(runs.time, "strftime", lambda *_: "20260101-000000")
    taken = tmp_path / f"{cfg.run.name}-20260101-000000-s{cfg.run.seed}"
    taken.mkdir()
    # a dangling link holds a name too
    (tmp_path / f"{taken.name}-1").symlink_to(tmp_path / "nowhere")
    made = runs.new_run_dir(cfg)
    assert made == tmp_path / f"{taken.name}-2"
    assert taken.is_dir() and list(taken.iterdir()) == []
    assert (made / "config.json").exists()


# --- odd files and environment --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["report", "experts", "evaluate", "resume"])
def test_a_folder_in_place_of_state_json_is_one_line(finished, run_cli, command):
    (finished / "state.json").unlink()
    (finished / "state.json").mkdir()
    assert_clean_refusal(*run_cli(command, str(finished)), "state.json: cannot read")


def test_a_cache_that_cannot_hold_the_demo_suite_is_one_line(tmp_path, run_cli, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ADAPTIVE_LEARNER_CACHE", str(blocker))
    out = tmp_path / "runs"
    code, text = run_cli("run", "--backbone", "fake", "--output-dir", str(out))
    assert_clean_refusal(code, text, "cannot write the demo suite", "ADAPTIVE_LEARNER_CACHE")
    assert not out.exists()


def test_an_empty_cache_variable_means_the_default(tmp_path, monkeypatch):
    from adaptive_learner.adapters.data.sources import cache_root

    monkeypatch.setenv("ADAPTIVE_LEARNER_CACHE", "")
    assert cache_root() == Path.home() / ".cache" / "adaptive-learner"


# --- a state.json whose parts disagree ------------------------------------------------------------


def _cut(name: str, keep: int):
    def edit(d):
        d[name]["rows"] = d[name]["rows"][:keep]

    return edit


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d.update(task_ids=d["task_ids"][:1]), "accuracy.task_ids"),
        (_cut("accuracy", 1), "balanced_accuracy has 2 rows, accuracy 1"),
        (lambda d: d.update(reports=d["reports"][:1]), "reports cover"),
        (lambda d: d.update(library={}), "no expert holds"),
        (
            lambda d: (
                _cut("accuracy", 1)(d),
                _cut("balanced_accuracy", 1)(d),
                d.update(reports=d["reports"][:1]),
            ),
            "have no accuracy row",
        ),
    ],
)
@pytest.mark.parametrize("command", ["report", "resume"])
def test_a_state_whose_parts_disagree_is_one_line(finished, run_cli, edit, needle, command):
    path = finished / "state.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    assert_clean_refusal(
        *run_cli(command, str(finished)), "state.json: not a valid run state", needle
    )


def test_resume_when_the_data_gives_other_tasks_is_one_line(finished, tiny_data, run_cli):
    """A task folder added to the data folder since the run started (data.tasks not set)."""
    shutil.copytree(tiny_data / "alpha", tiny_data / "gamma")
    code, text = run_cli("resume", str(finished))
    assert_clean_refusal(
        code,
        text,
        "the run's tasks are ['alpha', 'beta'], but the data now gives ['alpha', 'beta', 'gamma']",
    )


def test_compare_refuses_a_run_given_twice(finished, run_cli):
    same = finished.parent / "." / finished.name
    assert_clean_refusal(
        *run_cli("compare", str(finished), str(same)), "is the same run folder as", "count twice"
    )


def test_report_into_a_read_only_run_folder_is_one_line(finished, run_cli, monkeypatch):
    """What a non-root user meets in a read-only run folder (simulated: the tests may run
    as root)."""
    import tempfile

    def read_only(*_args, **kwargs):
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert_clean_refusal(
        *run_cli("report", str(finished)), "matrix.json: cannot write (Permission denied)"
    )


# --- a file that is not GGUF, named as one --------------------------------------------------------


def test_inspect_layers_on_a_file_that_is_not_gguf_is_one_line(tmp_path, run_cli):
    (tmp_path / "model.gguf").write_text("[run]\n")
    code, text = run_cli("inspect-layers", "--model", str(tmp_path), "--gguf-file", "model.gguf")
    assert_clean_refusal(code, text, "model.gguf: not a GGUF file")


def test_run_with_a_file_that_is_not_gguf_stops_before_the_run_folder(
    tiny_data, tmp_path, run_cli, monkeypatch
):
    from adaptive_learner.bootstrap import containers

    def refuse(*_args, **_kwargs):
        raise AssertionError("the model was loaded before its file was checked")

    monkeypatch.setattr("adaptive_learner.adapters.hf.backbone.build_hf_backbone", refuse)
    with pytest.raises(AssertionError, match="model was loaded"):  # the guard guards
        containers.make_container(load_config("default"), tmp_path).backbone()
    (tmp_path / "model.gguf").write_bytes(b"\x00" * 64)
    out = tmp_path / "runs"
    code, text = run_cli(
        "run",
        "--backbone",
        "hf",
        "--data-dir",
        str(tiny_data),
        "--output-dir",
        str(out),
        "--set",
        f"model.name_or_path={json.dumps(str(tmp_path))}",
        "--set",
        "model.gguf_file='model.gguf'",
    )
    assert_clean_refusal(code, text, "model.gguf_file:", "not a GGUF file")
    assert not out.exists()
