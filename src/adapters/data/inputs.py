"""Task examples as the router's plain inputs (the ExampleSource port over a task source)."""

from __future__ import annotations

from pathlib import Path

from adaptive_learner.adapters.data.task_folder import json_rows, string_field
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.domain.task import Task


class SourceInputs:
    """`inputs(task, split)`: the sampled train / dev / validation examples of a task source."""

    def __init__(self, source) -> None:
        self.source = source

    def inputs(self, task: Task, split: str, limit: int | None = None) -> list[LabelledInput]:
        rows = self.source.data(task.id).rows(split)
        rows = rows[:limit] if limit is not None else rows
        return [LabelledInput(e.text, e.text_pair, task.labels[e.label], task.id) for e in rows]


def read_queries(path: Path) -> list[LabelledInput]:
    """A JSONL file in the task-folder format (`text`, optional `text_pair`, optional `label`),
    read line by line as `run` reads task files (adapters/data/task_folder.py `json_rows`)."""
    path = Path(path)
    out = []
    try:
        with path.open("rb") as lines:
            for where, row in json_rows(lines, str(path)):
                if not isinstance(row, dict):
                    raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
                if not string_field(row, "text", where).strip():
                    raise DataError(f"{where}: field 'text' is empty")
                pair, label = row.get("text_pair"), row.get("label")
                pair = None if pair is None else string_field(row, "text_pair", where)
                label = string_field(row, "label", where) if isinstance(label, str) else label
                out.append(LabelledInput(row["text"], pair, None if label is None else str(label)))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not out:
        raise DataError(f"{path}: no inputs")
    return out
