"""The state of one run: everything needed to print its results or resume it."""

from __future__ import annotations

from typing import Any

from attrs import asdict, define, field, frozen
from attrs.validators import deep_iterable, instance_of

from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.expert import ExpertLibrary
from adaptive_learner.domain.metrics import AccuracyMatrix
from adaptive_learner.domain.reuse import ReuseDecision
from adaptive_learner.domain.router_memory import RouterMemory
from adaptive_learner.domain.task import TaskSequence

Vector = tuple[float, ...]
_number = instance_of((int, float))
_numbers = deep_iterable(_number, instance_of(tuple))


@frozen
class TaskReport:
    """What happened while one task was learned."""

    step: int = field(validator=instance_of(int))
    task_id: str = field(validator=instance_of(str))
    expert_id: str = field(validator=instance_of(str))
    decision: ReuseDecision = field(validator=instance_of(ReuseDecision))
    epochs_run: int = field(validator=instance_of(int))
    best_epoch: int = field(validator=instance_of(int))
    seconds: float = field(validator=_number)
    fisher_scale: float = field(default=1.0, validator=_number)
    # of `seconds`, the rule's decision with its probe and the outcome record around training
    routing_seconds: float = field(default=0.0, validator=_number)
    # of `seconds`, neither deciding nor training: the task-free router's upkeep (the task's routing
    # key embedded, the router refitted), which every strategy pays once per task (ADR 0063)
    router_seconds: float = field(default=0.0, validator=_number)
    # the training's compute: optimiser steps and examples through a training forward (replayed
    # rows included; 0 where the learner does not count them)
    train_steps: int = field(default=0, validator=instance_of(int))
    train_rows: int = field(default=0, validator=instance_of(int))
    dev_history: tuple[float, ...] = field(default=(), validator=_numbers)
    train_losses: tuple[float, ...] = field(default=(), validator=_numbers)
    stopped_early: bool = field(default=False, validator=instance_of(bool))
    health: str = field(default="ok", validator=instance_of(str))  # domain.divergence.Health
    health_reason: str = field(default="", validator=instance_of(str))
    # the same judgement on the run's final row (replay may lift a task, a later task may sink it)
    end_health: str = field(default="ok", validator=instance_of(str))
    end_health_reason: str = field(default="", validator=instance_of(str))

    @property
    def training_seconds(self) -> float:
        """Of `seconds`, neither deciding nor router upkeep: training, consolidation, saving."""
        return self.seconds - self.routing_seconds - self.router_seconds

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self, recurse=False)
        data["decision"] = {
            k: str(v) if k == "action" else v for k, v in asdict(self.decision).items()
        }
        data["dev_history"], data["train_losses"] = list(self.dev_history), list(self.train_losses)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskReport:
        fields = dict(data)
        fields["decision"] = ReuseDecision(**fields["decision"])
        fields["dev_history"] = tuple(fields.get("dev_history", ()))
        fields["train_losses"] = tuple(fields.get("train_losses", ()))
        return cls(**fields)


@define
class RunState:
    """Library, profiles, accuracy and balanced-accuracy matrices, and per-task reports."""

    task_ids: tuple[str, ...]
    library: ExpertLibrary = field(factory=ExpertLibrary)
    accuracy: AccuracyMatrix = field(default=None)
    balanced: AccuracyMatrix = field(default=None)
    majority: dict[str, float] = field(factory=dict)
    task_profiles: dict[str, Vector] = field(factory=dict)
    reports: list[TaskReport] = field(factory=list)
    zero_shot_done: bool = False
    stopped: str | None = None  # why the run stopped early (e.g. diverged); cleared when it resumes
    router: RouterMemory | None = (
        None  # the adaptive router's memory (docs/adr/0032); None when routing is off
    )

    def __attrs_post_init__(self) -> None:
        self.accuracy = self.accuracy or AccuracyMatrix(self.task_ids)
        self.balanced = self.balanced or AccuracyMatrix(self.task_ids)

    @classmethod
    def new(cls, tasks: TaskSequence) -> RunState:
        return cls(tasks.ids)

    @property
    def completed(self) -> int:
        """Tasks learned and evaluated (a task counts once its matrix row is saved)."""
        return self.accuracy.trained

    @property
    def finished(self) -> bool:
        """Every task of the sequence is learned and evaluated."""
        return self.completed == len(self.task_ids)

    @property
    def progress(self) -> str:
        """Tasks done / total, e.g. "2/5"."""
        return f"{self.completed}/{len(self.task_ids)}"

    def expert_profiles(self) -> dict[str, Vector]:
        """Each expert's profile: the mean of its tasks' profiles."""
        profiles: dict[str, Vector] = {}
        for expert in self.library:
            vectors = [self.task_profiles[t] for t in expert.tasks if t in self.task_profiles]
            if vectors:
                profiles[expert.id] = tuple(
                    sum(col) / len(vectors) for col in zip(*vectors, strict=True)
                )
        return profiles

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_ids": list(self.task_ids),
            "library": self.library.to_dict(),
            "accuracy": self.accuracy.to_dict(),
            "balanced_accuracy": self.balanced.to_dict(),
            "majority": self.majority,
            "task_profiles": {k: list(v) for k, v in self.task_profiles.items()},
            "reports": [r.to_dict() for r in self.reports],
            "zero_shot_done": self.zero_shot_done,
            "stopped": self.stopped,
            **({"router": self.router.to_dict()} if self.router is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """The state saved by `to_dict`; a missing field or a wrong type is one DomainError naming
        it."""
        if not isinstance(data, dict):
            raise DomainError(f"expected a JSON object, got {type(data).__name__}")
        try:
            return cls._from_dict(data)
        except KeyError as exc:
            raise DomainError(f"missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise DomainError(f"a field has the wrong type or value ({exc})") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> RunState:
        if not isinstance(data["task_ids"], list) or not all(
            isinstance(t, str) for t in data["task_ids"]
        ):
            raise TypeError(f"task_ids must be a list of strings, got {data['task_ids']!r}")
        if not all(isinstance(v, (int, float)) for v in data.get("majority", {}).values()):
            raise TypeError(f"majority must map task ids to numbers, got {data['majority']!r}")
        state = cls(
            task_ids=tuple(data["task_ids"]),
            library=ExpertLibrary.from_dict(data["library"]),
            accuracy=AccuracyMatrix.from_dict(data["accuracy"]),
            balanced=AccuracyMatrix.from_dict(data["balanced_accuracy"]),
            majority=dict(data.get("majority", {})),
            task_profiles={k: tuple(v) for k, v in data.get("task_profiles", {}).items()},
            reports=[TaskReport.from_dict(r) for r in data.get("reports", [])],
            zero_shot_done=bool(data.get("zero_shot_done", False)),
            stopped=None if data.get("stopped") is None else str(data["stopped"]),
            router=RouterMemory.from_dict(data["router"])
            if data.get("router") is not None
            else None,
        )
        state._check_consistent()
        return state

    def _check_consistent(self) -> None:
        """The parts agree with each other (a hand-edited or mixed-up state.json fails here, not in
        a report)."""
        for name, matrix in (("accuracy", self.accuracy), ("balanced_accuracy", self.balanced)):
            if matrix.task_ids != self.task_ids:
                raise ValueError(
                    f"{name}.task_ids {list(matrix.task_ids)} differ from task_ids"
                    f" {list(self.task_ids)}"
                )
        if self.balanced.trained != self.completed:
            raise ValueError(
                f"balanced_accuracy has {self.balanced.trained} rows, accuracy {self.completed}"
            )
        learned = [r.task_id for r in self.reports]
        if learned != list(self.task_ids[: len(learned)]) or len(learned) < self.completed:
            raise ValueError(
                f"reports cover {learned}, but the first {self.completed} of task_ids are"
                f" {list(self.task_ids[: self.completed])}"
            )
        done, held = self.task_ids[: self.completed], self.library.learned_tasks()
        if missing := [t for t in done if t not in held]:
            raise ValueError(f"library: no expert holds the learned task(s) {missing}")
        if extra := [t for t in held if t not in done]:
            raise ValueError(f"library: experts hold task(s) {extra} that have no accuracy row")
