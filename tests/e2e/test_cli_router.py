"""The router from the command line on the fake backbone: tau 1.1, predict, route, errors."""

import json

import pytest
from tests.e2e.test_cli_fake import cli, run_dir_of

from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES

pytestmark = pytest.mark.e2e
ADAPTIVE = [
    "--backbone",
    "fake",
    "--set",
    "routing.strategy='adaptive'",
    "--set",
    "routing.k_examples_for_prototype=8",
]


def test_seed_threshold_1_1_always_creates_and_reports_routing(tmp_path):
    result = cli(
        "run",
        *ADAPTIVE,
        "--set",
        "routing.router_confidence_threshold=1.1",
        "--set",
        "routing.use_advanced_embeddings=true",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result.stdout)
    state = json.loads((run_dir / "state.json").read_text())
    assert len(state["library"]["experts"]) == len(DEMO_TASK_NAMES)
    assert all(d["action"] == "create" for d in state["router"]["decisions"])
    assert state["router"]["schema_version"] == 1 and state["router"]["base_model"] == "fake"
    assert "routing accuracy" in result.stdout and "task-free accuracy" in result.stdout
    report = (run_dir / "report.md").read_text()
    assert "## Routing" in report and "always a new expert" in report
    # each task's compute (the fake counts steps, not rows) and the run's total
    steps = [r["train_steps"] for r in state["reports"]]
    assert (
        all(s > 0 for s in steps) and f"Training compute: {sum(steps)} optimiser steps." in report
    )

    answer = cli(
        "predict", str(run_dir), "--text", "Did the team win the match yesterday?", cwd=tmp_path
    )
    assert answer.returncode == 0, answer.stderr
    assert "expert-" in answer.stdout and " p 0." in answer.stdout
    paired = cli(
        "predict",
        str(run_dir),
        "--text",
        "The cat sat.",
        "--text-pair",
        "A cat was sitting.",
        cwd=tmp_path,
    )
    assert paired.returncode == 0 and "expert-" in paired.stdout, paired.stderr
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"text": "a dog ran in the park", "label": "animal"}\n{"text": "Is it raining?"}\n'
    )
    batch = cli("predict", str(run_dir), "--file", str(queries), "--top-k", "2", cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr
    assert batch.stdout.count("expert-") == 2 and "task-free accuracy" in batch.stdout
    routed = cli("route", str(run_dir), "--text", "a wonderful film", cwd=tmp_path)
    assert routed.returncode == 0 and "nearest task" in routed.stdout


def test_predict_errors_are_one_line(tmp_path):
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    (run_dir / "state.json").write_text(
        json.dumps(
            {
                "task_ids": ["a"],
                "library": {"experts": []},
                "accuracy": {"task_ids": ["a"], "rows": [[None]], "zero_shot": {}},
                "balanced_accuracy": {"task_ids": ["a"], "rows": [[None]], "zero_shot": {}},
            }
        )
    )
    result = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert (
        result.returncode == 2
        and "no trained expert yet" in result.stderr
        and "Traceback" not in result.stderr
    )
    lone = cli("predict", str(run_dir), "--text-pair", "world", cwd=tmp_path)
    assert lone.returncode == 2 and "Traceback" not in lone.stderr
    pair = cli(
        "predict",
        str(run_dir),
        "--file",
        str(run_dir / "state.json"),
        "--text-pair",
        "world",
        cwd=tmp_path,
    )
    assert pair.returncode == 2 and "--text-pair goes with --text" in pair.stdout + pair.stderr


def test_router_state_from_another_model_is_a_one_line_error(tmp_path):
    run_dir = run_dir_of(cli("run", *ADAPTIVE, "--output-dir", str(tmp_path), cwd=tmp_path).stdout)
    state = json.loads((run_dir / "state.json").read_text())
    state["router"]["base_model"] = "gemma3-270m"
    (run_dir / "state.json").write_text(json.dumps(state))
    result = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert (
        result.returncode == 2
        and "router.base_model 'gemma3-270m'" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_a_failed_reuse_raises_tau_and_the_next_similar_task_forks(tmp_path):
    # A permissive prior (coin flip at cosine 0.3) makes news_topic reuse the sentiment expert; on
    # the fake backbone that reuse makes the sentiment task forget, so it does not work. The
    # zero-step probe: the trained one (the default) would see the forgetting before the reuse and
    # never make it.
    result = cli(
        "run",
        *ADAPTIVE,
        "--set",
        "routing.prior_midpoint=0.3",
        "--set",
        "routing.probe_steps=0",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    decisions = json.loads((run_dir_of(result.stdout) / "state.json").read_text())["router"][
        "decisions"
    ]
    first_reuse = next(d for d in decisions if d["action"] == "reuse")
    assert (
        first_reuse["works"] is False
        and first_reuse["forgetting"] > 0.02
        and first_reuse["tau_after"] > first_reuse["tau"]
    )
    assert any(d["action"] == "fork" and "mostly failed" in d["reason"] for d in decisions)


def test_the_trained_probe_sees_the_forgetting_a_reuse_would_cause(tmp_path):
    """The default trained probe (docs/adr/0040) on the fake backbone: 8 steps on a copy of a
    candidate make its unprotected earlier tasks fade and gain nothing on the new task, so the
    evidence is against reuse; the same permissive prior then shares experts less than with the
    zero-step probe."""
    runs = {}
    for steps in (8, 0):
        out = tmp_path / f"k{steps}"
        result = cli(
            "run",
            *ADAPTIVE,
            "--set",
            "routing.prior_midpoint=0.3",
            "--set",
            f"routing.probe_steps={steps}",
            "--output-dir",
            str(out),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        runs[steps] = json.loads((run_dir_of(result.stdout) / "state.json").read_text())["router"][
            "decisions"
        ]
    probes = [p for d in runs[8] for p in d.get("probes", {}).values()]
    assert probes and all(
        p["steps"] == 8 and p["earlier_change"] < 0 and p["p_probe"] < 0.5 for p in probes
    )
    shared = {
        k: sum(d["action"] != "create" for d in decisions) for k, decisions in runs.items()
    }  # reuses and forks
    assert shared[8] < shared[0]
    # the same candidate, now with the evidence against it
    assert runs[8][1]["probability"] < runs[0][1]["probability"]


def test_learned_router_is_fitted_saved_and_answers(tmp_path):
    result = cli(
        "run",
        *ADAPTIVE,
        "--set",
        "routing.router_model='linear'",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result.stdout)
    evaluation = json.loads((run_dir / "state.json").read_text())["router"]["evaluation"]
    assert evaluation["router_model"] == "learned" and 0.0 <= evaluation["routing_accuracy"] <= 1.0
    assert any((run_dir / "router").iterdir())  # weights written by the RouterModel adapter
    answer = cli(
        "predict", str(run_dir), "--text", "Did the team win the match yesterday?", cwd=tmp_path
    )
    assert answer.returncode == 0 and "expert-" in answer.stdout, answer.stderr


def _routed_tasks(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line.strip().startswith("expert-")]


def test_predict_uses_the_saved_router_weights(tmp_path):
    from safetensors.torch import load_file, save_file

    result = cli(
        "run",
        *ADAPTIVE,
        "--set",
        "routing.router_model='linear'",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result.stdout)
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"text": t}) + "\n"
            for t in (
                "a wonderful film",
                "Did the team win the match yesterday?",
                "stocks fell sharply",
                "a dog ran in the park",
            )
        )
    )
    before = cli("predict", str(run_dir), "--file", str(queries), cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    header = json.loads((run_dir / "router" / "router.json").read_text())
    # Tamper with the saved weights: zero weights, a bias that picks one key for every input. A
    # refit router would not know about it; the saved one answers with that key everywhere.
    forced = next(k for k in header["keys"] if k not in _routed_tasks(before.stdout)[:1])
    weights = load_file(str(run_dir / "router" / "router.safetensors"))
    weights["net.weight"] = weights["net.weight"] * 0
    weights["net.bias"] = weights["net.bias"] * 0
    weights["net.bias"][header["keys"].index(forced)] = 50.0
    save_file(weights, str(run_dir / "router" / "router.safetensors"))
    after = cli("predict", str(run_dir), "--file", str(queries), cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert (
        _routed_tasks(after.stdout) == [forced] * 4 and _routed_tasks(before.stdout) != [forced] * 4
    )

    header["base_model"] = "gemma3-270m"
    (run_dir / "router" / "router.json").write_text(json.dumps(header))
    other = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert (
        other.returncode == 2
        and "base_model 'gemma3-270m'" in other.stderr
        and "Traceback" not in other.stderr
    )

    header |= {"base_model": "fake", "kind": "mlp"}
    (run_dir / "router" / "router.json").write_text(json.dumps(header))
    kind = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert (
        kind.returncode == 2
        and "does not match the run's routing.router_model 'linear'" in kind.stderr
    )


def test_predict_refits_the_router_when_none_is_saved(tmp_path):
    import shutil

    result = cli(
        "run",
        *ADAPTIVE,
        "--set",
        "routing.router_model='linear'",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    run_dir = run_dir_of(result.stdout)
    saved = json.loads((run_dir / "router" / "router.json").read_text())
    shutil.rmtree(run_dir / "router")
    answer = cli("predict", str(run_dir), "--text", "a wonderful film", cwd=tmp_path)
    assert answer.returncode == 0 and "expert-" in answer.stdout, answer.stderr
    # refitted and saved again
    assert json.loads((run_dir / "router" / "router.json").read_text())["keys"] == saved["keys"]
