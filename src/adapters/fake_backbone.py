"""A torch-free backbone for fast tests and dry runs (`--backbone fake`).

It is a real adapter (Learner, AdapterStore, Encoder) with a deterministic model of
learning and interference, so tests can assert exact metrics:

  acc(expert, t)   = base(t) + (peak - base(t)) * s_t          base(t) = 1 / |labels of t|
  s_t              = max(skill_t, max_A (1 - d(A, t)) * skill_A) over the expert's tasks A with
                     t's labels: a task answered in an earlier task's label space starts from what
                     that task taught, in proportion to their overlap (so a second domain of a task
                     gains from reuse, while an unrelated task only interferes)
  training B       : skill_B rises by 1/epochs_to_learn per epoch, up to 1, and in each of
                     those epochs every other task A on the same expert keeps
                     skill_A *= 1 - d(A, B) * (1 - protection_A) / epochs_to_learn
  d(A, B)          = 1 - Jaccard(words of A, words of B)   (description words and labels)
  protection_A     = 1 - (1 - ewc) * (1 - replay),  ewc = L / (L + 100),
                     L = ewc_lambda * fisher_scale, replay = 0.5 when a replay kind is on

Experts never touch each other, so one expert per task gives BWT = 0 exactly.
A learning rate above DIVERGING_LEARNING_RATE makes the training loss NaN (to rehearse divergence).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from pathlib import Path

from attrs import define, field

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.application.ports import EpochReport
from adaptive_learner.domain.consolidation import ConsolidationPolicy, TrainingSignals
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import Task

PROFILE_DIM = 64
DIVERGING_LEARNING_RATE = 1.0
STEPS = 10  # optimiser steps a fake epoch reports
TRIAL = "trial-probe"  # the trained probe's throwaway expert


def task_words(task: Task) -> frozenset[str]:
    return frozenset(
        re.findall(r"[a-z0-9]+", f"{task.description} {' '.join(task.labels)}".lower())
    )


def dissimilarity(a: Task, b: Task) -> float:
    wa, wb = task_words(a), task_words(b)
    union = wa | wb
    return 0.0 if not union else 1.0 - len(wa & wb) / len(union)


def skill_on(state: _ExpertState | None, task: Task) -> float:
    """The expert's skill on `task`, its own or carried over from a task with its labels."""
    if state is None:
        return 0.0
    carried = (
        (1.0 - dissimilarity(other, task)) * state.skill.get(other_id, 0.0)
        for other_id, other in state.tasks.items()
        if other_id != task.id and tuple(other.labels) == tuple(task.labels)
    )
    return max([state.skill.get(task.id, 0.0), *carried])


def hashed_bag_of_words(text: str) -> tuple[float, ...]:
    """A stable (process-independent) bag-of-words vector."""
    vec = [0.0] * PROFILE_DIM
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vec[
            int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            % PROFILE_DIM
        ] += 1.0
    return tuple(vec)


@define
class _ExpertState:
    skill: dict[str, float] = field(factory=dict)
    protection: dict[str, float] = field(factory=dict)
    tasks: dict[str, Task] = field(factory=dict)

    def copy(self) -> _ExpertState:
        return _ExpertState(dict(self.skill), dict(self.protection), dict(self.tasks))


class FakeSession:
    def __init__(self, backbone: FakeBackbone, expert_id: str, task: Task) -> None:
        self.backbone, self.expert_id, self.task = backbone, expert_id, task
        self.state = backbone.experts[expert_id]
        self.state.tasks[task.id] = task
        self.state.skill.setdefault(task.id, 0.0)
        self.epoch, self.best = 0, self.state.copy()

    def train_epoch(self) -> EpochReport:
        time.sleep(self.backbone.seconds_per_epoch)
        self.epoch += 1
        if self.backbone.learning_rate > DIVERGING_LEARNING_RATE:
            return EpochReport(
                epoch=self.epoch,
                train_loss=math.nan,
                steps=STEPS,
                seconds=0.0,
                weight_scale=math.inf,
            )
        self.learn(1.0 / self.backbone.epochs_to_learn)
        loss = -math.log(max(self.backbone.accuracy(self.state, self.task), 1e-6))
        return EpochReport(epoch=self.epoch, train_loss=loss, steps=STEPS, seconds=0.0)

    def learn(self, rate: float) -> None:
        """Skill on the task grows by `rate`; the expert's other tasks fade with dissimilarity, less
        where protected."""
        if self.state.skill[self.task.id] < 1.0:
            for other_id, other in self.state.tasks.items():
                if other_id != self.task.id:
                    keep = (
                        1.0
                        - dissimilarity(other, self.task)
                        * (1.0 - self.state.protection.get(other_id, 0.0))
                        * rate
                    )
                    self.state.skill[other_id] *= keep
            self.state.skill[self.task.id] = min(1.0, self.state.skill[self.task.id] + rate)

    def validate(self) -> float:
        return self.backbone.accuracy(self.state, self.task)

    def keep_best(self) -> None:
        self.best = self.state.copy()

    def restore_best(self) -> None:
        self.backbone.experts[self.expert_id] = self.state = self.best.copy()

    def save_checkpoint(self, progress: dict) -> None:
        if self.backbone.root is None:
            return
        from adaptive_learner.adapters.storage import atomic_write_json

        payload = {
            "task": self.task.id,
            "expert": self.expert_id,
            "epoch": self.epoch,
            "progress": progress,
            "state": [self.state.skill, self.state.protection],
            "best": [self.best.skill, self.best.protection],
        }
        atomic_write_json(self.backbone.root / "checkpoint.json", payload)

    def load_checkpoint(self) -> dict | None:
        path = self.backbone.root / "checkpoint.json" if self.backbone.root is not None else None
        if path is None or not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if (raw["task"], raw["expert"]) != (self.task.id, self.expert_id):
                return None  # a checkpoint of a task that has since completed
            epoch, (skill, protection), best, progress = (
                raw["epoch"],
                raw["state"],
                raw["best"],
                raw["progress"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"{path}: damaged checkpoint ({type(exc).__name__}: {exc}); delete it to restart "
                "the task"
            ) from None
        self.epoch = epoch
        self.state.skill, self.state.protection = skill, protection
        self.best = _ExpertState(best[0], best[1], dict(self.state.tasks))
        return progress

    def signals(self) -> TrainingSignals:
        acc = self.backbone.accuracy(self.state, self.task)
        return TrainingSignals(
            nll=-math.log(max(acc, 1e-6)), accuracy=acc, grad_norm=1.0, entropy=1.0 - acc
        )


class FakeJointSession:
    """All tasks learned together: each gains skill and none interferes with another."""

    def __init__(self, sessions: list[FakeSession]) -> None:
        self.sessions = sessions

    def train_epoch(self) -> EpochReport:
        for s in self.sessions:
            s.state.skill[s.task.id] = min(
                1.0, s.state.skill[s.task.id] + 1.0 / s.backbone.epochs_to_learn
            )
        acc = sum(s.validate() for s in self.sessions) / len(self.sessions)
        return EpochReport(epoch=1, train_loss=-math.log(max(acc, 1e-6)), steps=STEPS, seconds=0.0)


class FakeBackbone:
    """Deterministic stand-in for the HF backbone; see module docstring."""

    def __init__(
        self,
        *,
        peak_accuracy: float = 0.9,
        epochs_to_learn: int = 1,
        seconds_per_epoch: float = 0.0,
        root: Path | None = None,
        learning_rate: float = 1e-3,
    ) -> None:
        self.peak, self.epochs_to_learn, self.root = peak_accuracy, max(1, epochs_to_learn), root
        self.learning_rate = learning_rate
        self.seconds_per_epoch = seconds_per_epoch
        self.experts: dict[str, _ExpertState] = {}

    def accuracy(self, state: _ExpertState | None, task: Task) -> float:
        base = 1.0 / len(task.labels)
        return base + (self.peak - base) * skill_on(state, task)

    # Learner
    def new_expert(self, expert_id: str, parent: str | None = None) -> None:
        self.experts[expert_id] = self.experts[parent].copy() if parent else _ExpertState()

    def start(self, expert_id: str, task: Task, policy: ConsolidationPolicy) -> FakeSession:
        return FakeSession(self, expert_id, task)

    def start_joint(
        self, expert_id: str, tasks: tuple[Task, ...], policy: ConsolidationPolicy
    ) -> FakeJointSession:
        return FakeJointSession([FakeSession(self, expert_id, t) for t in tasks])

    def consolidate(
        self, expert_id: str, task: Task, policy: ConsolidationPolicy, fisher_scale: float
    ) -> None:
        strength = policy.ewc_lambda * fisher_scale
        ewc = strength / (strength + 100.0)
        replay = 0.5 if policy.uses_replay else 0.0
        self.experts[expert_id].protection[task.id] = 1.0 - (1.0 - ewc) * (1.0 - replay)

    def score(self, expert_id: str | None, task: Task, split: str = "validation") -> Score:
        acc = self.accuracy(self.experts[expert_id] if expert_id else None, task)
        return Score(
            accuracy=acc, balanced_accuracy=acc, majority_baseline=1.0 / len(task.labels), n=100
        )

    def trial(
        self,
        parent: str | None,
        task: Task,
        policy: ConsolidationPolicy,
        steps: int,
        earlier: tuple[Task, ...] = (),
        as_id: str | None = None,
        keep: bool = False,
        split: str = "dev",
    ) -> dict[str, Score]:
        """The trained probe on a copy: `steps` of an epoch's 10 steps, then dev scores; nothing
        kept (`keep` is declined: the fake's epoch is one update, so a copy cannot go on). The fake
        backbone draws nothing at random, so every copy is already a replica (`as_id` is moot)."""
        self.experts[TRIAL] = self.experts[parent].copy() if parent else _ExpertState()
        try:
            FakeSession(self, TRIAL, task).learn(min(steps, STEPS) / STEPS / self.epochs_to_learn)
            return {t.id: self.score(TRIAL, t, split) for t in (task, *earlier)}
        finally:
            del self.experts[TRIAL]

    def adopt(
        self, parent: str | None, expert_id: str, task: Task, policy: ConsolidationPolicy
    ) -> FakeSession | None:
        return None  # no copy is kept (see `trial`)

    def drop_trials(self) -> None:
        return None

    # AdapterStore
    def save_expert(self, expert_id: str, task_ids: tuple[str, ...]) -> str:
        ref = f"{expert_id}@{len(task_ids)}"
        if self.root is not None:
            from adaptive_learner.adapters.storage import atomic_write_text

            s = self.experts[expert_id]
            payload = {
                "skill": s.skill,
                "protection": s.protection,
                "tasks": {k: _task_dict(t) for k, t in s.tasks.items()},
            }
            # as HF experts keep theirs (docs/adr/0023)
            payload["sha256"] = _payload_digest(payload)
            atomic_write_text(
                self.root / "experts" / f"{ref}.json", json.dumps(payload, sort_keys=True)
            )
        return ref

    def load_expert(self, expert_id: str, adapter_ref: str) -> None:
        if self.root is None:
            raise StorageError("the fake backbone has no run folder to load experts from")
        path = self.root / "experts" / f"{adapter_ref}.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StorageError(f"{path}: cannot read saved fake expert ({exc})") from None
        if not isinstance(raw, dict):
            raise StorageError(f"{path}: expected a JSON object, got {type(raw).__name__}")
        saved = raw.pop("sha256", None)  # experts saved before checksums existed have none
        if saved is not None and saved != _payload_digest(raw):
            raise StorageError(
                f"{path}: checksum mismatch (saved sha256 {str(saved)[:12]}…): the file changed "
                "after it was saved"
            )
        try:
            tasks = {
                k: Task(**{**v, "labels": tuple(v["labels"])}) for k, v in raw["tasks"].items()
            }
            skill, protection = dict(raw["skill"]), dict(raw["protection"])
        except (KeyError, TypeError, ValueError, AttributeError, DomainError) as exc:
            raise StorageError(
                f"{path}: not a saved fake expert ({type(exc).__name__}: {exc})"
            ) from None
        self.experts[expert_id] = _ExpertState(skill, protection, tasks)

    def discard_checkpoints(self) -> None:
        if self.root is not None:
            (self.root / "checkpoint.json").unlink(missing_ok=True)

    # Encoder
    def profile(self, task: Task) -> tuple[float, ...]:
        return hashed_bag_of_words(f"{task.description} {' '.join(task.labels)}")

    def embed(self, text: str) -> tuple[float, ...]:
        return hashed_bag_of_words(text)


def _payload_digest(payload: dict) -> str:
    """sha256 of the expert's content in canonical JSON (the file holds it beside the content)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def _task_dict(task: Task) -> dict:
    return {
        "id": task.id,
        "name": task.name,
        "description": task.description,
        "labels": list(task.labels),
        "kind": task.kind,
        "verbalizers": list(task.verbalizers),
    }
