"""Tasks and task sequences: what a continual learner is asked to learn, in order."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from attrs import field, frozen, validators

from adaptive_learner.domain.errors import DomainError

TASK_KINDS = ("single", "pair")
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _check_labels(instance: Task, attribute: Any, value: tuple[str, ...]) -> None:
    if len(value) < 2:
        raise DomainError(f"task {instance.id!r}: needs at least two labels, got {list(value)}")
    if len(set(value)) != len(value):
        raise DomainError(f"task {instance.id!r}: duplicate labels in {list(value)}")


def _check_id(instance: Task, attribute: Any, value: str) -> None:
    if not _ID.match(value):
        raise DomainError(f"task id {value!r} must be lower-case letters, digits, '-' or '_'")


@frozen
class Task:
    """A classification task: an ordered label set over single texts or text pairs.

    `verbalizers` are the words the language model answers with, one per label, in label order;
    they default to the labels themselves.
    """

    id: str = field(validator=_check_id)
    name: str
    description: str
    # A typed converter (not plain `tuple`) lets mypy type __init__; it converts, it checks nothing.
    labels: tuple[str, ...] = field(converter=tuple[str, ...], validator=_check_labels)
    kind: str = field(default="single", validator=validators.in_(TASK_KINDS))
    verbalizers: tuple[str, ...] = field(converter=tuple[str, ...], default=())

    def __attrs_post_init__(self) -> None:
        if self.verbalizers and len(self.verbalizers) != len(self.labels):
            raise DomainError(
                f"task {self.id!r}: {len(self.verbalizers)} verbalizers for {len(self.labels)} "
                "labels"
            )

    @property
    def answers(self) -> tuple[str, ...]:
        """The words the model is scored on, in label order."""
        return self.verbalizers or self.labels

    @property
    def is_pair(self) -> bool:
        return self.kind == "pair"

    def label_index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise DomainError(
                f"task {self.id!r}: label {label!r} is not one of {list(self.labels)}"
            ) from None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, task_id: str | None = None) -> Task:
        """Build a task from a task.json-style mapping (name, description, labels, kind)."""
        missing = [k for k in ("name", "labels") if k not in spec]
        if missing:
            raise DomainError(f"task spec is missing field(s) {missing}")
        name = str(spec["name"])
        return cls(
            id=task_id or name.lower(),
            name=name,
            description=str(spec.get("description", "")),
            labels=tuple(str(label) for label in spec["labels"]),
            kind=str(spec.get("kind", "single")),
            verbalizers=tuple(str(v) for v in spec.get("verbalizers", ())),
        )


@frozen
class TaskSequence:
    """Tasks in the order they are learned; task ids are unique."""

    tasks: tuple[Task, ...] = field(converter=tuple[Task, ...])

    @tasks.validator
    def _unique(self, attribute: Any, value: tuple[Task, ...]) -> None:
        if not value:
            raise DomainError("a task sequence needs at least one task")
        seen: set[str] = set()
        for task in value:
            if task.id in seen:
                raise DomainError(f"task {task.id!r} appears twice in the sequence")
            seen.add(task.id)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> Task:
        return self.tasks[index]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks)

    def index_of(self, task_id: str) -> int:
        try:
            return self.ids.index(task_id)
        except ValueError:
            raise DomainError(f"task {task_id!r} is not in the sequence {list(self.ids)}") from None


SPLITS = ("train", "dev", "validation")
_SPLIT = re.compile(r"^(?P<name>[a-z]+)(?:\[:(?P<n>[0-9]+)\])?$")


def split_head(split: str, n: int) -> str:
    """The first `n` examples of a split, named as datasets slices it ('dev[:64]'); n <= 0: all.
    `split` is a whole split: a head of a head is refused, not named 'dev[:8][:4]'."""
    if parse_split(split)[1] is not None:
        raise DomainError(f"split {split!r}: already a head; name the whole split")
    return split if n <= 0 else f"{split}[:{n}]"


def parse_split(split: str) -> tuple[str, int | None]:
    """('dev', 64) for 'dev[:64]', ('dev', None) for 'dev'; a name outside SPLITS is refused."""
    match = _SPLIT.match(split)
    if match is None or match["name"] not in SPLITS or match["n"] == "0":
        raise DomainError(
            f"split {split!r}: expected one of {list(SPLITS)},"
            " optionally its first N examples as 'dev[:N]' (N >= 1)"
        )
    return match["name"], None if match["n"] is None else int(match["n"])
