"""LinearRouter / MLPRouter (the RouterModel adapter): fit, determinism, save/load,
one-line errors."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.routing.learned import (
    HEADER_FILE,
    WEIGHTS_FILE,
    LearnedRouter,
    LinearRouter,
    MLPRouter,
)

pytestmark = pytest.mark.integration
KINDS = [LinearRouter, MLPRouter]


def clusters(
    n_per_key=30, dim=12, keys=("sst2", "agnews", "dbpedia"), seed=0, spread=0.5, points_seed=None
):
    """Gaussian blobs around one random centre per key (clearly separable at spread 0.5).

    `seed` draws the centres; `points_seed` (default: the same) draws the points around them.
    """
    centres = torch.randn(len(keys), dim, generator=torch.Generator().manual_seed(seed)) * 3
    g = torch.Generator().manual_seed((seed if points_seed is None else points_seed) + 10_000)
    features, labels = [], []
    for i, key in enumerate(keys):
        for row in (centres[i] + spread * torch.randn(n_per_key, dim, generator=g)).tolist():
            features.append(tuple(row))
            labels.append(key)
    return features, labels


@pytest.mark.parametrize("make", KINDS)
def test_fit_separates_clear_clusters_on_held_out_points(make):
    router = make("tiny-llama", epochs=150)
    features, labels = clusters(seed=0)
    stats = router.fit(features, labels, seed=1)
    assert stats["train_accuracy"] == 1.0 and stats["input_dim"] == 12 and stats["keys"] == 3
    test_x, test_y = clusters(n_per_key=10, seed=0, points_seed=1)  # same centres, held-out points
    probs = router.predict_proba(test_x)
    assert [max(p, key=p.get) for p in probs] == test_y
    for p in probs:
        assert set(p) == {"sst2", "agnews", "dbpedia"}
        assert sum(p.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= v <= 1.0 for v in p.values())


def test_input_dimension_comes_from_the_data():
    for dim in (3, 40):
        router = MLPRouter("m", epochs=5, hidden=8)
        router.fit(*clusters(n_per_key=4, dim=dim))
        assert router.input_dim == dim


@pytest.mark.parametrize("make", KINDS)
def test_the_same_seed_gives_the_same_router_and_another_seed_does_not(make):
    features, labels = clusters(spread=2.0)
    probe = features[:7]
    runs = {}
    for seed in (3, 3, 4):
        router = make("m", epochs=20)
        router.fit(features, labels, seed=seed)
        runs.setdefault(seed, []).append(router.predict_proba(probe))
    assert runs[3][0] == runs[3][1]
    assert runs[3][0] != runs[4][0]


def test_fitting_leaves_the_global_torch_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    LinearRouter("m", epochs=2).fit(*clusters(n_per_key=3), seed=9)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("make", KINDS)
def test_save_and_load_give_identical_probabilities(tmp_path, make):
    features, labels = clusters(spread=2.0)
    router = make("tiny-llama", epochs=30)
    router.fit(features, labels, seed=0)
    router.save(tmp_path / "router")
    header = json.loads((tmp_path / "router" / HEADER_FILE).read_text())
    assert (
        header["schema_version"] == 1
        and header["base_model"] == "tiny-llama"
        and header["input_dim"] == 12
    )
    assert header["keys"] == ["agnews", "dbpedia", "sst2"] and header["kind"] == router.kind
    loaded = LearnedRouter.load(tmp_path / "router", "tiny-llama", input_dim=12)
    assert loaded.kind == router.kind and loaded.keys == router.keys
    assert loaded.predict_proba(features) == router.predict_proba(features)


@pytest.mark.parametrize("make", KINDS)
def test_a_query_of_another_dimension_names_both(make):
    router = make("m", epochs=3)
    router.fit(*clusters(n_per_key=3, dim=12))
    with pytest.raises(AdapterError, match="expects vectors of dimension 12, got 5") as err:
        router.predict_proba([(0.0,) * 5])
    assert "\n" not in str(err.value)


def saved(tmp_path):
    router = LinearRouter("smollm2-135m", epochs=3)
    router.fit(*clusters(n_per_key=3))
    router.save(tmp_path)
    return tmp_path / HEADER_FILE


def test_loading_for_another_base_model_schema_or_dimension_is_a_one_line_error_naming_the_file(
    tmp_path,
):
    head = saved(tmp_path)
    with pytest.raises(
        AdapterError,
        match=rf"{head}: base_model 'smollm2-135m' does not match the run's 'gemma3-270m'",
    ):
        LearnedRouter.load(tmp_path, "gemma3-270m")
    with pytest.raises(
        AdapterError, match=rf"{head}: input_dim 12 does not match the profiles' dimension 640"
    ):
        LearnedRouter.load(tmp_path, "smollm2-135m", input_dim=640)
    header = json.loads(head.read_text())
    head.write_text(json.dumps(header | {"schema_version": 2}))
    with pytest.raises(AdapterError, match=rf"{head}: schema_version 2, this version reads 1"):
        LearnedRouter.load(tmp_path, "smollm2-135m")


def test_a_missing_or_inconsistent_file_is_a_one_line_error(tmp_path):
    with pytest.raises(AdapterError, match=f"{tmp_path / HEADER_FILE}: cannot read"):
        LearnedRouter.load(tmp_path, "m")
    head = saved(tmp_path)
    head.write_text(json.dumps(json.loads(head.read_text()) | {"keys": ["only-one"]}))
    with pytest.raises(
        AdapterError, match=f"{tmp_path / WEIGHTS_FILE}: does not fit router.json"
    ) as err:
        LearnedRouter.load(tmp_path, "smollm2-135m")
    assert "\n" not in str(err.value)


def test_bad_training_data_and_unfitted_use_are_one_line_errors(tmp_path):
    router = MLPRouter("m")
    with pytest.raises(AdapterError, match="not fitted"):
        router.predict_proba([(1.0,)])
    with pytest.raises(AdapterError, match="as many labels"):
        router.fit([(1.0,), (2.0,)], ["a"])
    with pytest.raises(AdapterError, match="different dimensions"):
        router.fit([(1.0,), (2.0, 3.0)], ["a", "b"])
    with pytest.raises(AdapterError, match="kind must be one of"):
        LearnedRouter("forest", "m")


def test_restore_loads_into_the_configured_router_or_reports_nothing_saved(tmp_path):
    features, labels = clusters()
    saved = LinearRouter("tiny-llama", epochs=50)
    saved.fit(features, labels)
    saved.save(tmp_path / "router")
    assert LinearRouter("tiny-llama").restore(tmp_path / "nothing") is None
    router = LinearRouter("tiny-llama")
    assert router.restore(tmp_path / "router") == ("agnews", "dbpedia", "sst2")
    assert router.predict_proba(features[:5]) == saved.predict_proba(features[:5])
    with pytest.raises(
        AdapterError, match="kind 'linear' does not match the run's routing.router_model 'mlp'"
    ):
        MLPRouter("tiny-llama").restore(tmp_path / "router")
    with pytest.raises(AdapterError, match="base_model 'tiny-llama' does not match"):
        LinearRouter("gemma3-270m").restore(tmp_path / "router")
