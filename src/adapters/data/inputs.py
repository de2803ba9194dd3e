"""Task examples as the router's plain inputs (the ExampleSource port over a task source)."""

from __future__ import annotations

import json
from pathlib import Path

from adaptive_learner.adapters.errors import DataError
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.domain.task import Task


class SourceInputs:
    """`inputs(task, split)`: the sampled train / dev / validation examples of a task source."""

    def __init__(self, source) -> None:
        self.source = source

    def inputs(self, task: Task, split: str, limit: int | None = None) -> list[LabelledInput]:
        rows = getattr(self.source.data(task.id), split)
        rows = rows[:limit] if limit is not None else rows
        return [LabelledInput(e.text, e.text_pair, task.labels[e.label], task.id) for e in rows]


def read_queries(path: Path) -> list[LabelledInput]:
    """A JSONL file in the task-folder format (`text`, optional `text_pair`, optional `label`)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{n}: not valid JSON ({exc})") from None
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("text"), str)
            or not row["text"].strip()
        ):
            raise DataError(f"{path}:{n}: field 'text' must be a non-empty string")
        pair, label = row.get("text_pair"), row.get("label")
        if pair is not None and not isinstance(pair, str):
            raise DataError(f"{path}:{n}: field 'text_pair' must be a string")
        out.append(LabelledInput(row["text"], pair, None if label is None else str(label)))
    if not out:
        raise DataError(f"{path}: no inputs")
    return out
