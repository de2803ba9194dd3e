"""The HF profiler on a tiny random model: blocks, sketch math, dynamic profiles, answers, layer
check."""

import pytest
from tests.integration.conftest import make_backbone

torch = pytest.importorskip("torch")

from adaptive_learner.adapters.data.inputs import SourceInputs
from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.hf.profiles import HFProfiler, count_sketch, sketch_hashes
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.bootstrap.config import RoutingConfig

pytestmark = pytest.mark.integration
ALL = ("description", "prototype", "gradient", "context")


def test_count_sketch_matches_a_plain_python_reference():
    g = torch.randn(3, 5)
    buckets, signs = sketch_hashes("layer", g.numel(), 4)
    ref = [0.0] * 4
    for v, b, s in zip(g.flatten().tolist(), buckets.tolist(), signs.tolist(), strict=True):
        ref[b] += s * v
    assert count_sketch(g, buckets, signs, 4).tolist() == pytest.approx(ref, abs=1e-5)
    assert torch.equal(
        sketch_hashes("layer", 15, 4)[0], buckets
    )  # seeded by the name: every task shares it


def test_blocks_dimensions_answers_and_dynamic_profile(tokenizer, demo_source):
    backbone = make_backbone(tokenizer, demo_source)
    profiler = HFProfiler(
        backbone,
        RoutingConfig(k_examples_for_prototype=4, grad_sketch_dim=16, grad_sketch_examples=3),
    )
    task = demo_source.load()[0]
    examples = SourceInputs(demo_source).inputs(task, "train", 4)
    blocks = profiler.task_blocks(task, examples, ALL)
    hidden = (
        2 * backbone.experts.model.config.hidden_size
    )  # the default layers of a 2-layer model: 1 and 2
    assert {k: len(v) for k, v in blocks.items()} == {
        "description": hidden,
        "prototype": hidden,
        "gradient": 16,
        "context": 5,
    }
    assert any(abs(v) > 0 for v in blocks["gradient"])
    queries = profiler.embed_inputs(examples)
    assert len(queries) == 4 and torch.tensor(queries).mean(0).tolist() == pytest.approx(
        list(blocks["prototype"]), abs=1e-4
    )

    backbone.new_expert("expert-0")
    from adaptive_learner.domain.consolidation import ConsolidationPolicy

    session = backbone.start("expert-0", task, ConsolidationPolicy())
    session.train_epoch()
    trained = profiler.task_blocks(task, examples, ALL, "expert-0")
    assert trained["gradient"] != blocks["gradient"]  # measured under the trained expert
    answers = profiler.answer("expert-0", task, examples)
    assert len(answers) == 4 and all(
        set(a) == set(task.labels) and sum(a.values()) == pytest.approx(1.0) for a in answers
    )
    score = backbone.score("expert-0", task, "train")
    assert score.n >= 4


def test_unknown_sketch_layer_names_the_closest(tokenizer, demo_source):
    backbone = make_backbone(tokenizer, demo_source)
    with pytest.raises(
        AdapterError,
        match=r"unknown module 'model.layers.1.mlp.down_prj' "
        r"\(closest: model.layers.1.mlp.down_proj",
    ):
        HFProfiler(backbone, RoutingConfig(grad_sketch_layer_names=["model.layers.1.mlp.down_prj"]))
    with pytest.raises(
        AdapterError, match=r"embedding_layers 3 is outside the model's hidden states 0..2"
    ):
        HFProfiler(backbone, RoutingConfig(embedding_layers=[3]))
    middle = HFProfiler(backbone, RoutingConfig(embedding_layers=[1])).embed_inputs(
        [LabelledInput("hello")]
    )[0]
    assert len(middle) == backbone.experts.model.config.hidden_size
    with pytest.raises(
        AdapterError, match=r"embedding_layers 5 is outside the model's hidden states 0..2"
    ):
        HFProfiler(backbone, RoutingConfig(embedding_layers=[1, 5]))
    both = HFProfiler(backbone, RoutingConfig(embedding_layers=[1, -1])).embed_inputs(
        [LabelledInput("hello")]
    )[0]
    final = HFProfiler(backbone, RoutingConfig(embedding_layers=[2])).embed_inputs(
        [LabelledInput("hello")]
    )[0]
    hidden = backbone.experts.model.config.hidden_size
    assert (
        len(both) == 2 * hidden
        and both[:hidden] == pytest.approx(middle)
        and both[hidden:] == pytest.approx(final)
    )
    assert HFProfiler(backbone, RoutingConfig()).embed_inputs([LabelledInput("hello")])[
        0
    ] == pytest.approx(both)  # default: 1, 2


def test_default_embedding_layers_follow_the_depth():
    from adaptive_learner.adapters.hf.profiles import default_embedding_layers

    assert default_embedding_layers(30) == [8, 15, 22] and default_embedding_layers(18) == [
        4,
        9,
        14,
    ]
    assert default_embedding_layers(2) == [1, 2] and default_embedding_layers(1) == [1]


def test_adaptive_run_end_to_end_on_a_tiny_model(tokenizer, demo_source, tmp_path):
    from tests.wiring import fake_container

    from adaptive_learner.application.ports import LabelledInput
    from adaptive_learner.application.state import RunState

    backbone = make_backbone(tokenizer, demo_source, run_dir=tmp_path, epochs=1)
    sets = [
        "run.backbone='hf'",
        "routing.strategy='adaptive'",
        "routing.router_confidence_threshold=1.1",
        "routing.k_examples_for_prototype=4",
        "routing.use_advanced_embeddings=true",
        "routing.grad_sketch_dim=16",
        "routing.grad_sketch_examples=3",
        "routing.router_examples_per_task=8",
        "training.epochs=1",
        "training.early_stopping=false",
    ]
    container = fake_container(demo_source, sets, backbone=backbone, run_dir=tmp_path)
    state = container.run_sequence()()
    store, routing = container.run_store(), container.route_query()
    memory = state.router
    assert len(state.library) == 3 and all(d["action"] == "create" for d in memory.decisions)
    hidden = 2 * backbone.experts.model.config.hidden_size  # default layers 1 and 2, side by side
    assert memory.block_dims == {
        "description": hidden,
        "prototype": hidden,
        "gradient": 16,
        "context": 5,
    }
    assert all(len(p) == 2 * hidden + 21 for p in memory.expert_profiles.values())
    ev = memory.evaluation
    assert set(ev["per_task"]) == set(state.task_ids) and 0.0 <= ev["routing_accuracy"] <= 1.0
    assert RunState.from_dict(store.state).router == memory  # saved with the library in state.json
    answer = routing.answer([LabelledInput("Is the sky blue?")], state, k=2)[0]
    assert answer["expert"] in {e.id for e in state.library} and 0.0 <= answer["probability"] <= 1.0
