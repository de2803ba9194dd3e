"""Everything is checked before a run folder exists: bad data or config is one line,
exit 2, no folder.

The CLI runs in-process here (the same `entry` the console script calls) to keep the many cases
fast; one case per kind also runs as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive_learner.bootstrap import containers
from adaptive_learner.bootstrap.config import load_config

pytestmark = pytest.mark.e2e


@pytest.fixture
def data(tiny_data: Path) -> Path:
    return tiny_data


@pytest.fixture
def no_model(monkeypatch):
    """The real backbone must never be built: data errors come before the model loads."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the model was loaded before the data was checked")

    # The container holds bootstrap's builder; the builder imports the adapter's at call time.
    monkeypatch.setattr("adaptive_learner.adapters.hf.backbone.build_hf_backbone", refuse)
    cfg = load_config("default")
    with pytest.raises(AssertionError, match="model was loaded"):  # the guard guards
        containers.make_container(cfg, Path("unused")).backbone()


def assert_refused(code: int, text: str, out: Path, *needles: str) -> None:
    assert code == 2, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def append(path: Path, raw: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(raw)


# (what, how to break the data folder, text the one line must hold)
DATA_CASES = [
    (
        "malformed JSONL line",
        lambda d: append(d / "alpha/train.jsonl", b'{"text": "x", "label": \n'),
        "alpha/train.jsonl:9: not valid JSON",
    ),
    (
        "unknown label",
        lambda d: append(d / "alpha/validation.jsonl", b'{"text": "x", "label": "maybe"}\n'),
        "alpha/validation.jsonl:5: field 'label': 'maybe' is not one of",
    ),
    (
        "missing field",
        lambda d: append(d / "beta/train.jsonl", b'{"text": "x", "label": "same"}\n'),
        "beta/train.jsonl:9: missing field 'text_pair'",
    ),
    (
        "missing label",
        lambda d: append(d / "alpha/train.jsonl", b'{"text": "x"}\n'),
        "alpha/train.jsonl:9: missing field 'label'",
    ),
    (
        "empty file",
        lambda d: (d / "beta/validation.jsonl").write_bytes(b""),
        "beta/validation.jsonl: no examples",
    ),
    (
        "non-UTF-8 bytes",
        lambda d: append(d / "alpha/train.jsonl", b'{"text": "caf\xe9", "label": "yes"}\n'),
        "alpha/train.jsonl:9: not UTF-8",
    ),
    (
        "missing train.jsonl",
        lambda d: (d / "beta/train.jsonl").unlink(),
        "beta/train.jsonl: file not found",
    ),
    (
        "missing validation.jsonl",
        lambda d: (d / "alpha/validation.jsonl").unlink(),
        "alpha/validation.jsonl: file not found",
    ),
    (
        "missing task.json",
        lambda d: (d / "beta/task.json").unlink(),
        "beta/task.json: task.json not found",
    ),
    (
        "lone surrogate",
        lambda d: append(
            d / "alpha/train.jsonl", b'{"text": "bad \\ud800 text", "label": "yes"}\n'
        ),
        "alpha/train.jsonl:9: field 'text' is not valid Unicode",
    ),
    (
        "lone surrogate in a pair",
        lambda d: append(
            d / "beta/validation.jsonl", b'{"text": "a", "text_pair": "\\udfff", "label": "same"}\n'
        ),
        "beta/validation.jsonl:5: field 'text_pair' is not valid Unicode",
    ),
    (
        "lone surrogate in task.json",
        lambda d: (d / "alpha/task.json").write_text(
            '{"name": "A", "description": "\\ud83d", "labels": ["yes", "no"]}'
        ),
        "alpha/task.json: field 'description' is not valid Unicode",
    ),
]


@pytest.mark.parametrize("backbone", ["fake", "hf"])
@pytest.mark.parametrize("what, breaks, message", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_is_one_line_before_any_run_folder(
    data, tmp_path, run_cli, no_model, backbone, what, breaks, message
):
    breaks(data)
    out = tmp_path / "runs"
    code, text = run_cli(
        "run", "--backbone", backbone, "--data-dir", str(data), "--output-dir", str(out)
    )
    assert_refused(code, text, out, message)


def test_a_later_seed_or_task_failing_leaves_no_folder_for_the_earlier_ones(
    data, tmp_path, run_cli
):
    out = tmp_path / "runs"
    append(data / "beta/train.jsonl", b"[1, 2]\n")  # beta is the second task; alpha is fine
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(data),
        "--seeds",
        "0,1",
        "--output-dir",
        str(out),
    )
    assert_refused(code, text, out, "beta/train.jsonl:9: expected a JSON object")
    rows = [
        {"text": "t", "text_pair": "p", "label": label} for label in ("same", "different", "same")
    ]
    (data / "beta/train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(data),
        "--seeds",
        "0,-1",
        "--output-dir",
        str(out),
    )
    assert_refused(code, text, out, "'seed' must be >= 0")


def test_byte_order_mark_in_task_json_is_accepted(data, tmp_path, run_cli):
    spec = data / "alpha/task.json"
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes())
    out = tmp_path / "runs"
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(data), "--output-dir", str(out)
    )
    assert code == 0, text
    assert len(list(out.iterdir())) == 1


def test_valid_tiny_data_runs_on_the_fake_backbone(data, tmp_path, run_cli):
    out = tmp_path / "runs"
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(data), "--output-dir", str(out)
    )
    assert code == 0, text
    (run_dir,) = out.iterdir()
    assert (run_dir / "manifest.json").exists() and (run_dir / "report.md").exists()
    assert "AvgAcc" in text


CONFIG_CASES = [
    (["--seeds", "a"], "--seeds: 'a' is not an integer"),
    (["--seeds", "0,,1"], "--seeds: entry 2 of '0,,1' is empty"),
    (["--seeds", "1.5"], "--seeds: '1.5' is not an integer"),
    (["--seeds", "0,0"], "--seeds: seed 0 is given twice"),
    (["--seeds", "12345678901234567890123"], "'seed' must be >= 0 and <= 18446744073709551615"),
    (["--set", "run.seed=18446744073709551616"], "'seed' must be >= 0 and <= 18446744073709551615"),
    (["--set", "consolidation.ewc_lambda=-100"], "consolidation: 'ewc_lambda' must be >= 0.0"),
    (
        ["--set", "consolidation.ewc_lambda=nan"],
        "consolidation.ewc_lambda: expected a finite number, got nan",
    ),
    (
        ["--set", "routing.num_tasks_to_share_lora=-5"],
        "routing: 'num_tasks_to_share_lora' must be >= 0, or -1",
    ),
    (["--set", "routing.temperature=0"], "routing: 'temperature' must be > 0.0"),
    (["--set", "routing.temperature=nan"], "routing.temperature: expected a finite number"),
    (["--set", "fake.seconds_per_epoch=-1"], "fake: 'seconds_per_epoch' must be >= 0.0"),
    (
        ["--set", "training.learning_rate=inf"],
        "training.learning_rate: expected a finite number, got inf",
    ),
    (
        ["--set", "training.batch_size=100000000000"],
        "training: 'batch_size' must be >= 1 and <= 65536",
    ),
    (["--set", "training.batch_size=1e11"], "training.batch_size: expected int, got float"),
    (["--set", "run.name='../../escaped'"], "run: 'name' must be"),
    (["--set", "run.name='a/b'"], "run: 'name' must be"),
    (["--set", "run.name=''"], "run: 'name' must be"),
    (["--set", 'model.cache_dir="nul\\u0000"'], "model.cache_dir: contains a NUL character"),
    (["--set", "lora.dropout=1.0"], "lora: 'dropout' must be >= 0.0 and < 1.0"),
    (
        ["--set", "consolidation.gamma_scales.nll=0"],
        "consolidation: 'gamma_scales.nll' must be > 0",
    ),
    (
        ["--set", "consolidation.gamma_weights={nll = 0.0}"],
        "consolidation: gamma weights must not all be zero",
    ),
    (["--set", "data.tasks=['../x']"], "data: 'tasks'"),
    (["--set", "data.verbalizers={alpha = [' yes', '']}"], "data: 'verbalizers.alpha'"),
    (["--set", "training.min_delta=-0.1"], "training: 'min_delta' must be >= 0.0"),
]


@pytest.mark.parametrize("args, message", CONFIG_CASES, ids=[" ".join(a) for a, _ in CONFIG_CASES])
def test_bad_config_is_one_line_before_any_run_folder(data, tmp_path, run_cli, args, message):
    out = tmp_path / "runs"
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(data), "--output-dir", str(out), *args
    )
    assert_refused(code, text, out, message)


def test_reuse_threshold_above_one_is_accepted(data, tmp_path, run_cli):
    """> 1 means "never reuse": a permissive bound, not an error."""
    out = tmp_path / "runs"
    code, text = run_cli(
        "run",
        "--backbone",
        "fake",
        "--data-dir",
        str(data),
        "--output-dir",
        str(out),
        "--set",
        "routing.strategy='similarity'",
        "--set",
        "routing.reuse_threshold=1.1",
    )
    assert code == 0, text


def test_output_dir_that_is_a_file(data, tmp_path, run_cli):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(data), "--output-dir", str(target / "below")
    )
    assert code == 2 and len(text.strip().splitlines()) == 1, text
    assert f"run.output_dir: {target} is a file, not a folder" in text
    assert target.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_dir_not_writable(data, tmp_path, run_cli):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, text = run_cli(
        "run", "--backbone", "fake", "--data-dir", str(data), "--output-dir", str(locked / "runs")
    )
    assert code == 2 and f"run.output_dir: {locked} is not writable" in text


def test_the_console_script_gives_one_line_and_exit_2(data, tmp_path, run_cli):
    """The same refusal through a real process, as a user meets it."""
    append(data / "alpha/train.jsonl", b'{"text": "\\ud800", "label": "yes"}\n')
    out = tmp_path / "runs"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "adaptive_learner.bootstrap.cli",
            "run",
            "--backbone",
            "hf",
            "--data-dir",
            str(data),
            "--output-dir",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = result.stdout + result.stderr
    assert_refused(
        result.returncode, text, out, "alpha/train.jsonl:9: field 'text' is not valid Unicode"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--set", "model.name_or_path='/no/such/model'"],
            "model.name_or_path: /no/such/model: no such model folder",
        ),
        (
            ["--set", "model.gguf_file='missing.gguf'", "--set", "model.name_or_path='.'"],
            "model.gguf_file: missing.gguf: no such GGUF file",
        ),
        (
            ["--set", "consolidation.replay='cmt'", "--set", "lora.first_layer=0"],
            "consolidation: latent replay (cmt) needs frozen layers below the replay point",
        ),
    ],
)
def test_model_settings_are_checked_before_the_run_folder(
    data, tmp_path, run_cli, no_model, args, message
):
    out = tmp_path / "runs"
    code, text = run_cli(
        "run", "--backbone", "hf", "--data-dir", str(data), "--output-dir", str(out), *args
    )
    assert_refused(code, text, out, message)
