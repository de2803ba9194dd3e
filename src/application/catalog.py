"""The run's tasks by id, and whether each has held-out dev examples."""

from __future__ import annotations

from adaptive_learner.application.ports import ExampleSource, TaskSource
from adaptive_learner.domain.task import Task


class TaskCatalog:
    """Look tasks up by id in the task source; `has_dev` asks the example source."""

    def __init__(self, source: TaskSource, examples: ExampleSource) -> None:
        self.source, self.examples = source, examples

    def task(self, task_id: str) -> Task:
        tasks = self.source.load()
        return tasks[tasks.index_of(task_id)]

    def has_dev(self, task_id: str) -> bool:
        return bool(self.examples.inputs(self.task(task_id), "dev", 1))
