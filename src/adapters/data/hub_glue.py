"""GLUE from the Hugging Face hub (`nyu-mll/glue` via `datasets`), for users who are online.

Maps each GLUE config to the same Task model as a task folder. Offline, it fails with one line
that points at `--data-dir` (the same tasks in task-folder form).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adaptive_learner.adapters.data.examples import Example, TaskData, sample_splits
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.task import Task, TaskSequence

HUB_ID = "nyu-mll/glue"
# config -> (description, first text field, second text field or None, validation split)
GLUE = {
    "sst2": ("Classify the sentiment of the movie review.", "sentence", None, "validation"),
    "cola": (
        "Decide whether the sentence is grammatically acceptable.",
        "sentence",
        None,
        "validation",
    ),
    "rte": (
        "Decide whether the first passage entails the second sentence.",
        "sentence1",
        "sentence2",
        "validation",
    ),
    "mrpc": (
        "Decide whether the two sentences are paraphrases.",
        "sentence1",
        "sentence2",
        "validation",
    ),
    "qnli": (
        "Decide whether the sentence answers the question.",
        "question",
        "sentence",
        "validation",
    ),
    "qqp": (
        "Decide whether the two questions are duplicates.",
        "question1",
        "question2",
        "validation",
    ),
    "mnli": (
        "Decide whether the premise entails, contradicts or is neutral to the hypothesis.",
        "premise",
        "hypothesis",
        "validation_matched",
    ),
    "wnli": (
        "Decide whether the first sentence entails the second.",
        "sentence1",
        "sentence2",
        "validation",
    ),
}


class HubGlueSource:
    """A TaskSource over GLUE configs downloaded with `datasets.load_dataset`."""

    def __init__(
        self,
        task_names: Sequence[str],
        *,
        train_samples: int = 250,
        dev_samples: int = 100,
        validation_samples: int | None = 500,
        seed: int = 0,
        verbalizers: Mapping[str, Sequence[str]] | None = None,
        loader=None,
    ) -> None:
        names = list(task_names) or ["sst2", "rte", "mrpc", "cola", "qnli"]
        unknown = [n for n in names if n not in GLUE]
        if unknown:
            raise DataError(
                f"data.tasks: {unknown} are not GLUE classification configs; known: {sorted(GLUE)}"
            )
        self._names, self._seed, self._verbalizers = names, seed, dict(verbalizers or {})
        self._samples: dict[str, Any] = {
            "train_samples": train_samples,
            "dev_samples": dev_samples,
            "validation_samples": validation_samples,
        }
        self._loader = loader
        self._raw: dict[str, object] = {}
        self._data: dict[str, TaskData] = {}

    def _load(self, name: str):
        if name not in self._raw:
            loader = self._loader
            if loader is None:
                from datasets import load_dataset

                loader = load_dataset
            try:
                self._raw[name] = loader(HUB_ID, name)
            # ConnectionError, OfflineModeIsEnabled, DatasetNotFoundError...
            except Exception as exc:  # noqa: BLE001
                raise DataError(
                    f"cannot load {HUB_ID}/{name} from the hub ({type(exc).__name__}); offline, "
                    "run the same tasks from task folders with --data-dir DIR (e.g. "
                    "../shared/data/glue)"
                ) from None
        return self._raw[name]

    def _task(self, name: str) -> Task:
        description, _, second, _ = GLUE[name]
        labels = tuple(self._load(name)["train"].features["label"].names)
        return Task(
            name,
            name,
            description,
            labels,
            "pair" if second else "single",
            tuple(self._verbalizers.get(name, ())),
        )

    def files(self) -> list:
        return []  # hub data is identified by HUB_ID and config name in the manifest's config

    def load(self) -> TaskSequence:
        return TaskSequence(tuple(self._task(n) for n in self._names))

    def data(self, task_id: str) -> TaskData:
        if task_id not in self._data:
            task, raw = self._task(task_id), self._load(task_id)
            _, first, second, validation = GLUE[task_id]

            def rows(split):
                return [
                    Example(r[first], r[second] if second else None, int(r["label"]))
                    for r in raw[split]
                    if r["label"] >= 0
                ]

            self._data[task_id] = sample_splits(
                task, rows("train"), rows(validation), seed=self._seed, **self._samples
            )
        return self._data[task_id]
