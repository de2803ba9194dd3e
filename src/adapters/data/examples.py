"""Labelled examples of one task and the seeded draw of its train, dev and validation splits."""

from __future__ import annotations

import random
from collections.abc import Sequence

from attrs import field, frozen

from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.task import Task, parse_split


@frozen
class Example:
    """One labelled input: a text (and a second text for pair tasks) and its label's index."""

    text: str
    text_pair: str | None
    label: int  # index into Task.labels


@frozen
class TaskData:
    """A task with the examples a learner sees.

    `dev` is drawn from the train file, disjoint from `train`, and is what early stopping looks
    at, so that `validation` (the reported split) never influences training.
    """

    task: Task
    # A typed converter (not plain `tuple`) lets mypy type __init__; it converts, it checks nothing.
    train: tuple[Example, ...] = field(converter=tuple[Example, ...])
    dev: tuple[Example, ...] = field(converter=tuple[Example, ...])
    validation: tuple[Example, ...] = field(converter=tuple[Example, ...])

    def rows(self, split: str) -> tuple[Example, ...]:
        """The examples of a split: 'train', 'dev', 'validation', or the first N as 'dev[:N]'."""
        name, n = parse_split(split)
        rows = getattr(self, name)
        return rows if n is None else rows[:n]

    def canonical(self, split: str) -> str:
        """One name per set of rows: 'dev[:64]' of a 24-row dev split is 'dev' (what a score is
        remembered by, docs/adr/0064)."""
        name, n = parse_split(split)
        return name if n is None or n >= len(getattr(self, name)) else f"{name}[:{n}]"


def sample_splits(
    task: Task,
    train_rows: Sequence[Example],
    validation_rows: Sequence[Example],
    *,
    train_samples: int,
    dev_samples: int,
    validation_samples: int | None,
    seed: int,
    train_name: str = "train.jsonl",
    validation_name: str = "validation.jsonl",
) -> TaskData:
    """Draw train and a disjoint dev set from the train rows, and cap the validation rows.

    The draw depends only on `seed`, the task id and the rows, never on the process (string
    seeds are hashed with SHA-512 by `random.Random`, not with the salted `hash`). Train and
    validation use separate generators, so changing `train_samples` leaves the reported
    validation subset unchanged. With fewer train rows than asked for, train takes what there
    is and dev the rest, but dev keeps at least one row when it can: an empty dev set would
    leave early stopping blind. `train_name`/`validation_name` name the files in errors.
    """
    _check_counts(
        train_samples=train_samples, dev_samples=dev_samples, validation_samples=validation_samples
    )
    if not train_rows:
        raise DataError(f"{train_name}: no examples (empty train split) for task {task.id!r}")
    if not validation_rows:
        raise DataError(
            f"{validation_name}: no examples (empty validation split) for task {task.id!r}"
        )

    order = list(range(len(train_rows)))
    random.Random(f"{seed}:{task.id}:train").shuffle(order)
    n_train = min(train_samples, len(order))
    if dev_samples > 0 and n_train == len(order) and n_train > 1:
        n_train -= 1
    n_dev = min(dev_samples, len(order) - n_train)
    train = tuple(train_rows[i] for i in order[:n_train])
    dev = tuple(train_rows[i] for i in order[n_train : n_train + n_dev])

    if validation_samples is None or validation_samples >= len(validation_rows):
        validation = tuple(validation_rows)
    else:
        picked = random.Random(f"{seed}:{task.id}:validation").sample(
            range(len(validation_rows)), validation_samples
        )
        # Source order keeps the capped split easy to compare with the file it came from.
        validation = tuple(validation_rows[i] for i in sorted(picked))
    return TaskData(task=task, train=train, dev=dev, validation=validation)


def _check_counts(*, train_samples: int, dev_samples: int, validation_samples: int | None) -> None:
    if train_samples < 1:
        raise DataError(f"train_samples must be at least 1, got {train_samples}")
    if dev_samples < 0:
        raise DataError(f"dev_samples must not be negative, got {dev_samples}")
    if validation_samples is not None and validation_samples < 1:
        raise DataError(
            f"validation_samples must be at least 1 or None (all), got {validation_samples}"
        )
