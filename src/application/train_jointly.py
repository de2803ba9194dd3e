"""TrainJointly: the multitask upper bound — one LoRA trained on all tasks at once."""

from __future__ import annotations

import time

from attrs import frozen

from adaptive_learner.application.ports import Learner, TaskSource, Tracker
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.metrics import Score


@frozen
class JointResult:
    """Per-task validation scores of the jointly trained expert (no sequence, so no BWT)."""

    task_ids: tuple[str, ...]
    scores: dict[str, Score]
    majority: dict[str, float]
    seconds: float

    @property
    def avg_acc(self) -> float:
        return sum(s.accuracy for s in self.scores.values()) / len(self.scores)

    @property
    def balanced_avg_acc(self) -> float:
        return sum(s.balanced_accuracy for s in self.scores.values()) / len(self.scores)


class TrainJointly:
    """Train one expert on the union of the tasks for `epochs`, then score every task."""

    def __init__(self, source: TaskSource, learner: Learner, tracker: Tracker, epochs: int) -> None:
        self.source, self.learner, self.tracker, self.epochs = source, learner, tracker, epochs

    def __call__(self) -> JointResult:
        started = time.perf_counter()
        tasks = self.source.load()
        self.learner.new_expert("joint")
        session = self.learner.start_joint("joint", tuple(tasks), ConsolidationPolicy())
        for epoch in range(1, self.epochs + 1):
            report = session.train_epoch()
            self.tracker.log_metrics(
                {"joint/train_loss": report.train_loss}, step=epoch, axis="joint/epoch"
            )
        scores = {t.id: self.learner.score("joint", t) for t in tasks}
        result = JointResult(
            tasks.ids,
            scores,
            {k: s.majority_baseline for k, s in scores.items()},
            time.perf_counter() - started,
        )
        self.tracker.log_event(
            "joint_trained", avg_acc=result.avg_acc, seconds=round(result.seconds, 1)
        )
        return result
