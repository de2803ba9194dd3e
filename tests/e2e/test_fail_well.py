"""Issue 27, the last dozen ways to fail badly, on the fake backbone: each case is one clear line on
stderr and exit 2, or a silent wrong result made loud. The cases that need the real model's
tokenizer or weights are in tests/integration/test_fail_well_model.py."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_learner.bootstrap import cli

pytestmark = pytest.mark.e2e
FAKE = ("--backbone", "fake")


def refused(code: int, text: str, *needles: str) -> str:
    """The one `error:` line of a refusal (exit 2, no traceback) that holds every needle."""
    assert code == 2, text
    assert "Traceback" not in text and "╭" not in text, text
    (line,) = [x for x in text.splitlines() if x.startswith("error:")]
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture
def finished(tiny_data: Path, tmp_path: Path, run_cli) -> Path:
    out = tmp_path / "runs"
    code, text = run_cli("run", *FAKE, "--data-dir", str(tiny_data), "--output-dir", str(out))
    assert code == 0, text
    (run_dir,) = out.iterdir()
    return run_dir


# --- 1, 11: predict reads its inputs as `run` does ------------------------------------------------


@pytest.mark.parametrize(
    "raw, needle",
    [
        (b'{"text": "bad \\ud800"}\n', "q.jsonl:1: field 'text' is not valid Unicode"),
        (b'{"text": "ok"}\n{"text": "bad \xff x"}\n', "q.jsonl:2: not UTF-8 text"),
        (b'{"text": "   "}\n', "q.jsonl:1: field 'text' is empty"),
        (b'{"text": "ok", "text_pair": 3}\n', "field 'text_pair' must be a string"),
    ],
)
def test_predict_file_with_bad_text_is_one_line(finished, tmp_path, run_cli, raw, needle):
    (tmp_path / "q.jsonl").write_bytes(raw)
    refused(*run_cli("predict", str(finished), "--file", str(tmp_path / "q.jsonl")), needle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--text", "bad \udcff x"], "--text: not valid Unicode"),  # argv's undecodable byte
        (["--text", "   "], "--text: empty"),
        (["--text", "ok", "--text-pair", "\t"], "--text-pair: empty"),
    ],
)
def test_predict_text_that_cannot_be_answered_is_one_line(finished, run_cli, args, needle):
    refused(*run_cli("predict", str(finished), *args), needle)


def test_predict_file_keeps_u0085_inside_a_string_as_run_does(finished, tmp_path, run_cli):
    """str.splitlines() cut this line in two at U+0085 (NEL); a JSONL line ends at '\\n' only."""
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"text": "fine\x85and\u2028more", "label": "yes"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    code, text = run_cli("predict", str(finished), "--file", str(tmp_path / "q.jsonl"))
    assert code == 0 and "on 1 labelled inputs" in text, text


# --- 9: errors on stderr --------------------------------------------------------------------------


def test_an_error_line_goes_to_stderr_and_nothing_to_stdout(finished, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.entry(["predict", str(finished), "--text", "   "])
    out = capsys.readouterr()
    assert stop.value.code == 2 and out.out == ""
    assert out.err.startswith("error: --text: empty"), out.err


# --- 12: compare counts a seed once ---------------------------------------------------------------


def test_compare_refuses_two_copies_of_one_seed(finished, tmp_path, run_cli):
    copy = shutil.copytree(finished, tmp_path / "copy")
    refused(*run_cli("compare", str(finished), str(copy)), "the same seed 0", "give one of them")


def test_compare_still_groups_two_seeds(tiny_data, tmp_path, run_cli):
    out = tmp_path / "seeds"
    args = ("--data-dir", str(tiny_data), "--output-dir", str(out), "--seeds", "0,1")
    assert run_cli("run", *FAKE, *args)[0] == 0
    code, text = run_cli("compare", *map(str, sorted(out.iterdir())))
    assert code == 0 and "0,1" in text, text


# --- 6: values that do not fit the run's tasks, or contradict each other --------------------------


@pytest.mark.parametrize(
    "sets, needle",
    [
        (["data.verbalizers={gamma=[' a', ' b']}"], "data.verbalizers: ['gamma'] are not tasks"),
        (
            ["routing.strategy='schedule'", "routing.expert_of_task=[0, 1, 2, 3, 4, 5, 6, 7]"],
            "has 8 entries for the run's 2 tasks",
        ),
        (["data.source='hub'"], "data.source is given twice"),
        (["data.verbalizers={alpha=[' good', 'good ']}"], "repeat ['good']"),
    ],
)
def test_config_that_does_not_fit_the_tasks_is_refused_before_a_folder(
    tiny_data, tmp_path, run_cli, sets, needle
):
    out = tmp_path / "runs"
    args = [a for s in sets for a in ("--set", s)]
    code, text = run_cli(
        "run", *FAKE, *args, "--data-dir", str(tiny_data), "--output-dir", str(out)
    )
    refused(code, text, needle)
    assert not out.exists()


# --- 3, 4: resume refuses edited data and a run folder that lost its state ------------------------


def test_resume_refuses_a_task_file_edited_since_the_run_started(finished, tiny_data, run_cli):
    manifest = (finished / "manifest.json").read_text()
    with (tiny_data / "alpha" / "train.jsonl").open("a") as handle:
        handle.write('{"text": "a valid line, added later", "label": "yes"}\n')
    refused(*run_cli("resume", str(finished)), "alpha/train.jsonl: changed since the run started")
    assert (finished / "manifest.json").read_text() == manifest  # no resume recorded


def test_resume_refuses_results_without_state_json(finished, run_cli):
    (finished / "state.json").unlink()
    experts = sorted(p.name for p in (finished / "experts").iterdir())
    refused(*run_cli("resume", str(finished)), "state.json is missing", "experts")
    assert sorted(p.name for p in (finished / "experts").iterdir()) == experts
    assert not (finished / "state.json").exists()


# --- 7: staging folders of runs killed while making their folder ----------------------------------


def killed_while_staging(out: Path) -> Path:
    """A real process killed (SIGKILL) between making its staging folder and renaming it."""
    script = (
        "import os, signal\n"
        "from adaptive_learner.bootstrap import runs\n"
        "from adaptive_learner.bootstrap.config import load_config\n"
        "runs.write_manifest = lambda *_: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"runs.new_run_dir(load_config('fake', ['run.output_dir={json.dumps(str(out))}']), [])\n"
    )
    assert subprocess.run([sys.executable, "-c", script], timeout=120, check=False).returncode == -9
    (left,) = out.glob(".*.tmp")
    return left


def aged(path: Path) -> Path:
    """As if an hour had passed (a staging folder that young may not hold its lock yet)."""
    then = time.time() - 3600
    os.utime(path, (then, then))
    return path


@pytest.mark.parametrize("command", ["run", "resume"])
def test_stale_staging_folders_are_removed_but_not_a_live_runs(
    finished, tiny_data, run_cli, command
):
    out = finished.parent
    dead = aged(killed_while_staging(out))
    live = out / ".fake-20260101-000000-s1.abcd1234.tmp"
    live.mkdir()
    with open(live / ".lock", "a+") as lock:  # a run still making its folder holds this
        fcntl.flock(lock, fcntl.LOCK_EX)
        aged(live)
        if command == "run":
            args = ("run", *FAKE, "--data-dir", str(tiny_data), "--output-dir", str(out))
        else:
            args = ("resume", str(finished))
        code, text = run_cli(*args)
        assert code == 0, text
        assert not dead.exists() and live.is_dir()
