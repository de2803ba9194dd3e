"""The state of one run: everything needed to print its results or resume it."""

from __future__ import annotations

from typing import Any

from attrs import asdict, define, field, frozen

from adaptive_learner.domain.expert import ExpertLibrary
from adaptive_learner.domain.metrics import AccuracyMatrix
from adaptive_learner.domain.routing import ReuseDecision
from adaptive_learner.domain.task import TaskSequence

Vector = tuple[float, ...]


@frozen
class TaskReport:
    """What happened while one task was learned."""

    step: int
    task_id: str
    expert_id: str
    decision: ReuseDecision
    epochs_run: int
    best_epoch: int
    seconds: float
    fisher_scale: float = 1.0
    dev_history: tuple[float, ...] = ()
    train_losses: tuple[float, ...] = ()
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self, recurse=False)
        data["decision"] = {k: str(v) if k == "action" else v for k, v in asdict(self.decision).items()}
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

    def expert_profiles(self) -> dict[str, Vector]:
        """Each expert's profile: the mean of its tasks' profiles."""
        profiles: dict[str, Vector] = {}
        for expert in self.library:
            vectors = [self.task_profiles[t] for t in expert.tasks if t in self.task_profiles]
            if vectors:
                profiles[expert.id] = tuple(sum(col) / len(vectors) for col in zip(*vectors, strict=True))
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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            task_ids=tuple(data["task_ids"]),
            library=ExpertLibrary.from_dict(data["library"]),
            accuracy=AccuracyMatrix.from_dict(data["accuracy"]),
            balanced=AccuracyMatrix.from_dict(data["balanced_accuracy"]),
            majority=dict(data.get("majority", {})),
            task_profiles={k: tuple(v) for k, v in data.get("task_profiles", {}).items()},
            reports=[TaskReport.from_dict(r) for r in data.get("reports", [])],
            zero_shot_done=bool(data.get("zero_shot_done", False)),
        )
