"""Where a single input goes: its task's key, by cosine or by the learned router (ADR 0033, 0036).

A task's key is the mean vector of up to `key_examples` of its own inputs (train, then dev; never
the validation split that routing accuracy is measured on), in the representation a query gets;
in description-only mode it is the description's embedding. The learned router is fitted on the
same inputs whenever the set of learned tasks changes, and saved with the run.
"""

from __future__ import annotations

from collections.abc import Iterable

from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.ports import (
    ExampleSource,
    LabelledInput,
    Profiler,
    RouterModel,
    Tracker,
    VectorIndex,
)
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.profiles import mean_vector
from adaptive_learner.domain.task import Task
from adaptive_learner.domain.vectors import exact_top_k, softmax

Vector = tuple[float, ...]


class TaskKeys:
    """Each task's routing key and its per-input vectors (embedded once per task per process)."""

    def __init__(
        self,
        profiler: Profiler,
        examples: ExampleSource,
        catalog: TaskCatalog,
        settings: RoutingSettings,
    ) -> None:
        self.profiler, self.examples, self.catalog = profiler, examples, catalog
        self.settings = settings
        self._features: dict[str, list[Vector]] = {}  # a memo: the same inputs, the same vectors

    def key(self, task: Task) -> Vector:
        if "prototype" not in self.settings.blocks:
            blocks = self.profiler.task_blocks(task, [], ("description",), None)
            return tuple(blocks["description"])
        return mean_vector(self.features(task))

    def features(self, task: Task) -> list[Vector]:
        if task.id not in self._features:
            self._features[task.id] = self.profiler.embed_inputs(self._inputs(task))
        return self._features[task.id]

    def pair_forms(self, task_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each task's inputs are text pairs (most of its key inputs)."""
        out = {}
        for task_id in task_ids:
            inputs = self._inputs(self.catalog.task(task_id))
            out[task_id] = 2 * sum(x.text_pair is not None for x in inputs) > len(inputs)
        return out

    def _inputs(self, task: Task) -> list[LabelledInput]:
        n = self.settings.key_examples
        inputs = self.examples.inputs(task, "train", n)
        if len(inputs) < n:
            inputs += self.examples.inputs(task, "dev", n - len(inputs))
        return inputs


class InputRouter:
    """A distribution over the learned tasks for each input vector."""

    def __init__(
        self,
        keys: TaskKeys,
        settings: RoutingSettings,
        tracker: Tracker,
        model: RouterModel | None = None,
        index: VectorIndex | None = None,
    ) -> None:
        self.keys, self.settings, self.tracker, self.model, self.index = (
            keys, settings, tracker, model, index,
        )  # fmt: skip
        self._fitted_on: tuple[str, ...] = ()

    def key(self, task: Task) -> Vector:
        return self.keys.key(task)

    def distributions(self, vectors: list[Vector], state: RunState) -> list[dict[str, float]]:
        memory = self.settings.memory(state)
        if self.model is not None:
            self.fit(state)
            return self.model.predict_proba(vectors)
        keys, n = memory.task_keys, len(memory.task_keys)
        if self.index is not None:
            self.index.rebuild(keys)
        out = []
        for v in vectors:
            ranked = self.index.search(v, n) if self.index is not None else exact_top_k(v, keys, n)
            probs = softmax([s for _, s in ranked], self.settings.temperature)
            out.append(dict(zip([key for key, _ in ranked], probs, strict=True)))
        return out

    def fit(self, state: RunState) -> None:
        """(Re)fit the learned router when the learned tasks changed; first the saved one."""
        learned = tuple(t for t in state.task_ids if t in state.library.learned_tasks())
        if self.model is None or learned == self._fitted_on:
            return
        folder = self.settings.router_dir
        if not self._fitted_on and folder is not None:  # first use in this process
            keys = self.model.restore(folder)
            if keys is not None and set(keys) == set(learned):
                self._fitted_on = learned
                self.tracker.log_event("router_loaded", tasks=len(learned))
                return
        features, labels = [], []
        for task_id in learned:
            vectors = self.keys.features(self.keys.catalog.task(task_id))
            features += vectors
            labels += [task_id] * len(vectors)
        stats = self.model.fit(features, labels, seed=0)
        if folder is not None:
            self.model.save(folder)
        self._fitted_on = learned
        numbers = {k: v for k, v in stats.items() if isinstance(v, int | float)}
        self.tracker.log_event("router_fitted", tasks=len(learned), **numbers)
