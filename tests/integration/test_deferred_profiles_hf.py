"""docs/adr/0065 on the HF backbone (tiny random Llama, triple-signal profiles: a gradient sketch
and context statistics besides the embeddings): an adaptive run that takes profiles only when a
decision asks for them, before the probe or after it, ends bit for bit where the run that profiles
every task and expert ends: decisions, matrix and every saved expert's weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from tests.integration.conftest import tiny_model

from adaptive_learner.application.profiling import TaskProfiles
from adaptive_learner.domain.adaptive_reuse import AdaptiveRouter, SimilarityNeeded
from adaptive_learner.domain.probe import ProbeResult

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module")
def setup(tokenizer, tmp_path_factory):
    from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES, write_demo_suite

    root = tmp_path_factory.mktemp("deferred")
    model = root / "tiny-model"
    tiny_model(tokenizer).save_pretrained(model)
    tokenizer.save_pretrained(model)
    data = write_demo_suite(root / "demo", train_per_task=60, validation_per_task=24)
    return model, data, list(DEMO_TASK_NAMES[:3])


def run(setup, run_dir: Path, monkeypatch, mode: str, reuse: bool) -> dict:
    from adaptive_learner.bootstrap.config import load_config
    from adaptive_learner.bootstrap.containers import make_container

    model, data, tasks = setup
    calls = []
    original = TaskProfiles.profile

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(TaskProfiles, "profile", counted)
        if reuse:  # the random model learns nothing, so every probe ties: make them say "reuse"
            m.setattr(ProbeResult, "probability", lambda self: 0.9)
            m.setattr(ProbeResult, "undecided", property(lambda self: False))
        if mode == "eager":
            m.setattr(TaskProfiles, "deferred", lambda self, state: False)
        if mode == "asked after the probe":
            decide_from = AdaptiveRouter.decide_from

            def always_asks(self, candidates, scores, *args, **kwargs):
                if scores is None and candidates:
                    raise SimilarityNeeded("as on a tie")
                return decide_from(self, candidates, scores, *args, **kwargs)

            m.setattr(AdaptiveRouter, "decide_from", always_asks)
        cfg = load_config(
            "default",
            [
                f"model.name_or_path={json.dumps(str(model))}",
                "data.source='folder'",
                f"data.data_dir={json.dumps(str(data))}",
                f"data.tasks={json.dumps(tasks)}",
                "data.train_samples_per_task=24",
                "data.dev_samples_per_task=8",
                "data.validation_samples_per_task=16",
                "training.epochs=1",
                "training.batch_size=8",
                "routing.strategy='adaptive'",
                "routing.probe_steps=2",
                "routing.router_confidence_threshold=0.3",
                "routing.k_examples_for_prototype=4",
                "routing.use_advanced_embeddings=true",
                "routing.grad_sketch_examples=4",
                "run.tracker='null'",
            ],
        )
        state = make_container(cfg, run_dir).run_sequence()()
    weights = {}
    for f in sorted(run_dir.glob("experts/*/*/adapter_model.safetensors")):
        weights[str(f.relative_to(run_dir))] = load_file(f)
    router = state.router
    return {
        "rows": state.accuracy.rows(),
        "decisions": [
            (r.decision.action, r.decision.expert_id, r.decision.probability) for r in state.reports
        ],
        "probes": [d.get("probes") for d in router.decisions],
        "weights": weights,
        "profiles": len(calls),
    }


@pytest.mark.parametrize("reuse", [False, True], ids=["as-measured", "reuse"])
def test_deferred_profiles_end_where_eager_ones_end(setup, tmp_path, monkeypatch, reuse):
    eager = run(setup, tmp_path / "eager", monkeypatch, "eager", reuse)
    lazy = run(setup, tmp_path / "lazy", monkeypatch, "deferred", reuse)
    asked = run(setup, tmp_path / "asked", monkeypatch, "asked after the probe", reuse)
    assert any(eager["probes"]), "no decision was probed"
    actions = {str(a) for a, _, _ in eager["decisions"][1:]}
    assert actions == ({"reuse"} if reuse else {"create"}), eager["decisions"]
    assert eager["profiles"] > lazy["profiles"] and asked["profiles"] > lazy["profiles"]
    for other in (lazy, asked):
        assert other["rows"] == eager["rows"] and other["decisions"] == eager["decisions"]
        assert other["probes"] == eager["probes"]
        assert other["weights"].keys() == eager["weights"].keys() and eager["weights"]
        for name, tensors in eager["weights"].items():
            assert all((tensors[k] == other["weights"][name][k]).all() for k in tensors), name
