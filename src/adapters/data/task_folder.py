"""Tasks read from a data folder: one `<task>/` with task.json, train.jsonl, validation.jsonl.

task.json holds name, description, labels, kind ("single" | "pair") and optional verbalizers;
other fields (source, counts, licence notes) are ignored. Each JSONL line is an object with
`text`, `text_pair` (pair tasks) and `label`, one of task.json's label strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from adaptive_learner.adapters.data.examples import Example, TaskData, sample_splits
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.task import TASK_KINDS, Task, TaskSequence

SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl"}


class FolderTaskSource:
    """A `TaskSource` over task folders; each task's examples are parsed on first use, once."""

    def __init__(
        self,
        data_dir: Path,
        task_names: Sequence[str] | None,
        *,
        train_samples: int = 250,
        dev_samples: int = 100,
        validation_samples: int | None = 500,
        seed: int = 0,
        verbalizers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._dir = Path(data_dir)
        self._names = tuple(task_names) if task_names is not None else None
        self._samples: dict[str, Any] = {
            "train_samples": train_samples,
            "dev_samples": dev_samples,
            "validation_samples": validation_samples,
        }
        self._seed = seed
        self._verbalizers = dict(verbalizers or {})
        self._tasks: dict[str, Task] = {}
        self._data: dict[str, TaskData] = {}
        self._folders: dict[str, Path] = {}

    def load(self) -> TaskSequence:
        """The tasks in the order given (all task folders, sorted by name, when none were)."""
        for name in self._task_ids():
            if name not in self._tasks:
                self._tasks[name] = read_task_spec(self._folders[name], self._verbalizers.get(name))
        return TaskSequence(tuple(self._tasks[name] for name in self._task_ids()))

    def data(self, task_id: str) -> TaskData:
        """The sampled train/dev/validation examples of one task of the sequence."""
        if task_id not in self._data:
            sequence = self.load()
            if task_id not in sequence.ids:
                raise DataError(
                    f"{self._dir}: task {task_id!r} is not in the sequence {list(sequence.ids)}"
                )
            folder = self._folders[task_id]
            task = self._tasks[task_id]
            self._data[task_id] = sample_splits(
                task,
                read_examples(folder / SPLIT_FILES["train"], task),
                read_examples(folder / SPLIT_FILES["validation"], task),
                seed=self._seed,
                train_name=str(folder / SPLIT_FILES["train"]),
                validation_name=str(folder / SPLIT_FILES["validation"]),
                **self._samples,
            )
        return self._data[task_id]

    def files(self) -> list[Path]:
        """The files the sequence reads, for the run manifest's data fingerprints."""
        return [
            self._folders[name] / f
            for name in self._task_ids()
            for f in ("task.json", *SPLIT_FILES.values())
        ]

    def _task_ids(self) -> tuple[str, ...]:
        """Task ids in order. A name may be a sub-path ("glue/sst2") to mix folder sets; its id is
        the last part."""
        if not self._dir.is_dir():
            raise DataError(f"data directory {self._dir} does not exist")
        available = sorted(
            p.name for p in self._dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        )
        if self._names is None:
            if not available:
                raise DataError(f"data directory {self._dir} holds no task folders")
            self._folders = {name: self._dir / name for name in available}
            return tuple(available)
        self._folders = {}
        for name in self._names:
            folder = self._dir / name
            if not folder.is_dir():
                raise DataError(f"task folder {folder} does not exist; available: {available}")
            if folder.name in self._folders:
                raise DataError(
                    f"task {folder.name!r} appears twice in data.tasks "
                    f"({self._folders[folder.name]} and {folder})"
                )
            self._folders[folder.name] = folder
        return tuple(self._folders)


def read_task_folder(
    folder: Path, verbalizers: Sequence[str] | None = None
) -> tuple[Task, list[Example], list[Example]]:
    """Parse a whole task folder: its task and all its train and validation examples."""
    folder = Path(folder)
    task = read_task_spec(folder, verbalizers)
    train = read_examples(folder / SPLIT_FILES["train"], task)
    validation = read_examples(folder / SPLIT_FILES["validation"], task)
    for split, rows in (("train", train), ("validation", validation)):
        if not rows:
            raise DataError(f"{folder / SPLIT_FILES[split]}: no examples (empty {split} split)")
    return task, train, validation


def read_task_spec(folder: Path, verbalizers: Sequence[str] | None = None) -> Task:
    """Read `<folder>/task.json` into a Task whose id is the folder name.

    `verbalizers`, when given (from the run config), replace those in task.json.
    """
    path = Path(folder) / "task.json"
    if not path.is_file():
        raise DataError(f"{path}: task.json not found (each task folder needs one)")
    try:
        # utf-8-sig: a byte-order mark is accepted here as in the JSONL files.
        spec = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        ) from None
    except (ValueError, RecursionError) as e:
        raise DataError(f"{path}: not valid JSON: {_reason(e)}") from None
    if not isinstance(spec, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(spec).__name__}")
    if spec.get("regression"):
        raise DataError(f"{path}: field 'regression' is set: regression tasks are not supported")
    for key in ("name", "labels"):
        if key not in spec:
            raise DataError(f"{path}: missing field {key!r}")
    _check_string_list(path, "labels", spec["labels"])
    if not spec["labels"]:
        raise DataError(f"{path}: field 'labels' is empty (regression tasks are not supported)")
    if "kind" in spec and spec["kind"] not in TASK_KINDS:
        raise DataError(
            f"{path}: field 'kind' is {spec['kind']!r}, expected one of {list(TASK_KINDS)}"
        )
    if verbalizers is not None:
        spec = {**spec, "verbalizers": list(verbalizers)}
    if "verbalizers" in spec:
        _check_string_list(path, "verbalizers", spec["verbalizers"])
    for key in ("name", "description", "labels", "verbalizers"):
        field = spec.get(key)
        for value in field if isinstance(field, list) else [field]:
            if isinstance(value, str):
                _check_encodable(value, f"{path}: field {key!r}")
    try:
        return Task.from_spec(spec, task_id=Path(folder).name)
    except DomainError as e:
        raise DataError(f"{path}: {e}") from None


def read_examples(path: Path, task: Task) -> list[Example]:
    """Parse one JSONL split file of `task`, line by line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (each task folder needs train.jsonl and validation.jsonl)"
        )
    with path.open("rb") as lines:
        return parse_lines(lines, task, str(path))


def parse_lines(lines: Iterable[bytes | str], task: Task, source: str) -> list[Example]:
    """Parse JSONL lines (numbered from 1; blank ones skipped); errors name `source:line`."""
    return [parse_row(row, task, where) for where, row in json_rows(lines, source)]


def json_rows(lines: Iterable[bytes | str], source: str) -> Iterator[tuple[str, Any]]:
    """(`source:line`, decoded value) of each non-blank JSONL line: the one JSONL reader.

    Give it a file opened in binary: its lines end at "\n" only, so U+0085 or U+2028 inside a
    string stays inside it (str.splitlines() would cut the line there).
    """
    for number, raw in enumerate(lines, start=1):
        where = f"{source}:{number}"
        if isinstance(raw, bytes):
            try:
                # A byte-order mark is legal at the start of a UTF-8 file; json.loads would reject
                # it.
                raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        if not raw.strip():
            continue
        try:
            yield where, json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not valid JSON: {e.msg} (column {e.colno})") from None
        except (ValueError, RecursionError) as e:  # e.g. an integer over Python's digit limit
            raise DataError(f"{where}: not valid JSON: {_reason(e)}") from None


def parse_row(row: Any, task: Task, where: str) -> Example:
    """Turn one decoded JSONL value into an Example of `task`; `where` is `file:line`."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    text = string_field(row, "text", where)
    pair = None
    if task.is_pair:
        if "text_pair" not in row:
            raise DataError(f"{where}: missing field 'text_pair' (task {task.id!r} is a pair task)")
        pair = string_field(row, "text_pair", where)
    if "label" not in row:
        raise DataError(f"{where}: missing field 'label'")
    label = row["label"]
    if isinstance(label, float):
        raise DataError(
            f"{where}: field 'label' is a number ({label!r}): regression tasks are not supported"
        )
    if not isinstance(label, str):
        raise DataError(
            f"{where}: field 'label' must be a label string, "
            f"got {type(label).__name__} {label!r:.40}"
        )
    if label not in task.labels:
        raise DataError(
            f"{where}: field 'label': {label!r:.60} is not one of {list(task.labels)} "
            "(from task.json)"
        )
    return Example(text=text, text_pair=pair, label=task.labels.index(label))


def string_field(row: dict[str, Any], key: str, where: str) -> str:
    if key not in row:
        raise DataError(f"{where}: missing field {key!r}")
    value = row[key]
    if not isinstance(value, str):
        raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    _check_encodable(value, f"{where}: field {key!r}")
    return value


def _check_encodable(value: str, what: str) -> None:
    """Reject text a tokenizer cannot take: JSON escapes can spell a lone surrogate ("\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataError(
            f"{what} is not valid Unicode text "
            f"({e.reason}: {value[e.start]!r} at character {e.start})"
        ) from None


def _reason(error: BaseException) -> str:
    # One line, short: CLI errors are printed on a single line.
    lines = str(error).splitlines() or [""]
    return f"{type(error).__name__}: {lines[0]:.120}"


def _check_string_list(path: Path, key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: field {key!r} must be a list of strings, got {value!r:.80}")
