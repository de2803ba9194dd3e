"""The router from the command line on the fake backbone: tau 1.1, predict, route, errors."""

import json

import pytest
from tests.e2e.test_cli_fake import cli, run_dir_of

pytestmark = pytest.mark.e2e
ADAPTIVE = ["--backbone", "fake", "--set", "routing.strategy='adaptive'", "--set", "routing.k_examples_for_prototype=8"]


def test_seed_threshold_1_1_always_creates_and_reports_routing(tmp_path):
    result = cli("run", *ADAPTIVE, "--set", "routing.router_confidence_threshold=1.1", "--set", "routing.use_advanced_embeddings=true",
                 "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result.stdout)
    state = json.loads((run_dir / "state.json").read_text())
    assert len(state["library"]["experts"]) == 5
    assert all(d["action"] == "create" for d in state["router"]["decisions"])
    assert state["router"]["schema_version"] == 1 and state["router"]["base_model"] == "fake"
    assert "routing accuracy" in result.stdout and "task-free accuracy" in result.stdout
    report = (run_dir / "report.md").read_text()
    assert "## Routing" in report and "always a new expert" in report

    answer = cli("predict", str(run_dir), "--text", "Did the team win the match yesterday?", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert "expert-" in answer.stdout and " p 0." in answer.stdout
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"text": "a dog ran in the park", "label": "animal"}\n{"text": "Is it raining?"}\n')
    batch = cli("predict", str(run_dir), "--file", str(queries), "--top-k", "2", cwd=tmp_path)
    assert batch.returncode == 0, batch.stderr
    assert batch.stdout.count("expert-") == 2 and "task-free accuracy" in batch.stdout
    routed = cli("route", str(run_dir), "--text", "a wonderful film", cwd=tmp_path)
    assert routed.returncode == 0 and "nearest task" in routed.stdout


def test_predict_errors_are_one_line(tmp_path):
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    (run_dir / "state.json").write_text(json.dumps({"task_ids": ["a"], "library": {"experts": []},
                                                   "accuracy": {"task_ids": ["a"], "rows": [[None]], "zero_shot": {}},
                                                   "balanced_accuracy": {"task_ids": ["a"], "rows": [[None]], "zero_shot": {}}}))
    result = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert result.returncode == 2 and "no trained expert yet" in result.stdout and "Traceback" not in result.stderr


def test_router_state_from_another_model_is_a_one_line_error(tmp_path):
    run_dir = run_dir_of(cli("run", *ADAPTIVE, "--output-dir", str(tmp_path), cwd=tmp_path).stdout)
    state = json.loads((run_dir / "state.json").read_text())
    state["router"]["base_model"] = "gemma3-270m"
    (run_dir / "state.json").write_text(json.dumps(state))
    result = cli("predict", str(run_dir), "--text", "hello", cwd=tmp_path)
    assert result.returncode == 2 and "router.base_model 'gemma3-270m'" in result.stdout and "Traceback" not in result.stderr


def test_a_failed_reuse_raises_tau_and_the_next_similar_task_forks(tmp_path):
    # A permissive prior (coin flip at cosine 0.3) makes news_topic reuse the sentiment expert; on the
    # fake backbone that reuse makes the sentiment task forget, so it does not work.
    result = cli("run", *ADAPTIVE, "--set", "routing.prior_midpoint=0.3", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    decisions = json.loads((run_dir_of(result.stdout) / "state.json").read_text())["router"]["decisions"]
    first_reuse = next(d for d in decisions if d["action"] == "reuse")
    assert first_reuse["works"] is False and first_reuse["forgetting"] > 0.02 and first_reuse["tau_after"] > 0.7
    assert any(d["action"] == "fork" and "mostly failed" in d["reason"] for d in decisions)


def test_learned_router_is_fitted_saved_and_answers(tmp_path):
    result = cli("run", *ADAPTIVE, "--set", "routing.router_model='linear'", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result.stdout)
    evaluation = json.loads((run_dir / "state.json").read_text())["router"]["evaluation"]
    assert evaluation["router_model"] == "learned" and 0.0 <= evaluation["routing_accuracy"] <= 1.0
    assert any((run_dir / "router").iterdir())  # weights written by the RouterModel adapter
    answer = cli("predict", str(run_dir), "--text", "Did the team win the match yesterday?", cwd=tmp_path)
    assert answer.returncode == 0 and "expert-" in answer.stdout, answer.stderr
