"""GLUE from the hub, tested offline with a stand-in loader shaped like `datasets`."""

from typing import ClassVar

import pytest

from adaptive_learner.adapters.data.hub_glue import HubGlueSource
from adaptive_learner.adapters.errors import DataError

pytestmark = pytest.mark.unit


class Labels:
    names: ClassVar[list[str]] = ["negative", "positive"]


class Split(list):
    features: ClassVar[dict[str, Labels]] = {"label": Labels()}


def fake_glue(hub_id, name):
    assert hub_id == "nyu-mll/glue"
    rows = [{"sentence": f"film {i}", "label": i % 2} for i in range(40)] + [
        {"sentence": "unlabelled", "label": -1}
    ]
    return {"train": Split(rows), "validation": Split(rows[:10])}


def test_maps_glue_to_tasks_and_samples():
    source = HubGlueSource(
        ["sst2"], train_samples=20, dev_samples=5, validation_samples=None, loader=fake_glue
    )
    task = source.load()[0]
    assert task.id == "sst2" and task.labels == ("negative", "positive") and task.kind == "single"
    data = source.data("sst2")
    assert len(data.train) == 20 and len(data.dev) == 5 and len(data.validation) == 10
    assert all(e.text != "unlabelled" for e in data.train + data.dev)


def test_offline_points_at_data_dir():
    def offline(*_):
        raise ConnectionError("no network")

    with pytest.raises(DataError, match="--data-dir"):
        HubGlueSource(["rte"], loader=offline).load()


def test_unknown_config():
    with pytest.raises(DataError, match="not GLUE classification configs"):
        HubGlueSource(["stsb"])
