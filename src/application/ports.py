"""Ports: the narrow interfaces the use cases need from the outside world.

Adapters satisfy them structurally; none inherits from these Protocols.
Tensors never cross: experts are named by id, profiles are tuples of floats.
"""

from __future__ import annotations

from typing import Any, Protocol

from attrs import frozen

from adaptive_learner.domain.consolidation import ConsolidationPolicy, TrainingSignals
from adaptive_learner.domain.expert import ExpertLibrary
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import Task, TaskSequence

Vector = tuple[float, ...]


@frozen
class EpochReport:
    epoch: int
    train_loss: float
    steps: int
    seconds: float
    step_losses: tuple[float, ...] = ()
    weight_scale: float | None = None  # largest |LoRA weight| after the epoch (None: not measured)
    rows: int = 0  # examples through a training forward, replayed rows included (0: not counted)
    # seconds of this epoch's steps a probe copy took before this session went on from it
    # (docs/adr/0057): training, though LearnTask timed them while deciding (docs/adr/0060)
    carried_seconds: float = 0.0


class TaskSource(Protocol):
    """Where the task sequence and each task's examples come from."""

    def load(self) -> TaskSequence: ...


class TrainingSession(Protocol):
    """One expert learning one task; created by `Learner.start`."""

    def train_epoch(self) -> EpochReport:
        """Run one pass over the task's training examples."""

    def validate(self) -> float:
        """Accuracy on the task's held-out dev examples (never the reported validation split)."""

    def keep_best(self) -> None:
        """Remember the current weights as the best so far."""

    def restore_best(self) -> None:
        """Put back the weights remembered by `keep_best`."""

    def signals(self) -> TrainingSignals:
        """Training signals of the finished task, for the neuromodulation gain."""

    def save_checkpoint(self, progress: dict[str, Any]) -> None:
        """Durably keep this session's state after an epoch, with the caller's `progress`."""

    def load_checkpoint(self) -> dict[str, Any] | None:
        """Restore a checkpoint of this same task and expert, returning its `progress`;
        else None."""


class JointSession(Protocol):
    """One expert learning every task at once (the multitask upper bound); created by
    `Learner.start_joint`."""

    def train_epoch(self) -> EpochReport:
        """Run one pass over the training examples of all the tasks, shuffled together."""


class Learner(Protocol):
    """The frozen backbone with its LoRA experts: creates, trains, consolidates and scores them."""

    def new_expert(self, expert_id: str, parent: str | None = None) -> None:
        """Create an expert; a fork starts from a copy of `parent`'s weights and memory."""

    def start(self, expert_id: str, task: Task, policy: ConsolidationPolicy) -> TrainingSession:
        """Begin training `expert_id` on `task` under `policy` (penalties from earlier
        tasks apply)."""

    def start_joint(
        self, expert_id: str, tasks: tuple[Task, ...], policy: ConsolidationPolicy
    ) -> JointSession:
        """Begin training one expert on all `tasks` at once (the multitask upper bound)."""

    def consolidate(
        self, expert_id: str, task: Task, policy: ConsolidationPolicy, fisher_scale: float
    ) -> None:
        """Store what the expert must keep of `task` (Fisher, anchors, replay memory)."""

    def score(self, expert_id: str | None, task: Task, split: str = "validation") -> Score:
        """Evaluate an expert (None: the bare backbone, zero-shot) on a split of a task."""

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
        """Train a throwaway copy of `parent` (None: a fresh LoRA) for `steps` optimiser steps on
        `task` under `policy`, as a reuse would; return its scores on `split` (a dev split, 'dev'
        or its first N, 'dev[:N]', docs/adr/0064) of `task` and of `earlier`, keyed by task id.
        Every expert, memory and random stream is left as it was (docs/adr/0040).
        With `as_id` a fresh copy starts as a new expert of that id would (its LoRA initialisation),
        so the copy's steps are the first steps of that option's real training (docs/adr/0048).
        With `keep` the learner may keep the copy for `adopt` (docs/adr/0057)."""

    def adopt(
        self, parent: str | None, expert_id: str, task: Task, policy: ConsolidationPolicy
    ) -> TrainingSession | None:
        """The training session of `expert_id` on `task`, going on from the kept trial copy of
        `parent` (None: the fresh one), whose steps were its first; None when the learner kept no
        such copy (then `start`). Every other kept copy is dropped (docs/adr/0057)."""

    def drop_trials(self) -> None:
        """Drop every kept trial copy."""


class AdapterStore(Protocol):
    """Persists experts' weights (and consolidation state) under a run folder."""

    def save_expert(self, expert_id: str, task_ids: tuple[str, ...]) -> str:
        """Write the expert durably; returns its adapter reference."""

    def load_expert(self, expert_id: str, adapter_ref: str) -> None:
        """Bring a saved expert back into the learner."""

    def discard_checkpoints(self) -> None:
        """Delete the within-task checkpoints (a finished run no longer needs them)."""


class Encoder(Protocol):
    """Profiles for routing: a task's or a text's representation as plain floats."""

    def profile(self, task: Task) -> Vector: ...

    def embed(self, text: str) -> Vector: ...


@frozen
class LabelledInput:
    """One input as the router sees it: text(s), and, when known, its label name and task."""

    text: str
    text_pair: str | None = None
    label: str | None = None
    task_id: str | None = None


class ExampleSource(Protocol):
    """The examples of a task, as plain inputs (train: profiles and the learned router; dev: dynamic
    profiles and reuse outcomes; validation: routing accuracy)."""

    def inputs(self, task: Task, split: str, limit: int | None = None) -> list[LabelledInput]: ...


class Profiler(Protocol):
    """Profile blocks of a task and per-input vectors (docs/adr/0030); floats only cross."""

    def task_blocks(
        self,
        task: Task,
        examples: list[LabelledInput],
        blocks: tuple[str, ...],
        expert_id: str | None = None,
    ) -> dict[str, Vector]:
        """The named `blocks` of `task` (any of description, prototype, gradient, context),
        measured under `expert_id` (None: the bare backbone) on `examples`."""

    def embed_inputs(self, inputs: list[LabelledInput]) -> list[Vector]:
        """One vector per input, in the representation of the profiles' prototype block."""


class Answerer(Protocol):
    """An expert answering inputs in a task's label space."""

    def answer(
        self, expert_id: str, task: Task, inputs: list[LabelledInput]
    ) -> list[dict[str, float]]:
        """For each input, a probability per label name of `task`."""


class VectorIndex(Protocol):
    """Nearest-expert search over profile vectors (issue 10, phase 2): exact below a size
    cut-off, ANN above.

    Keys are opaque strings (expert or task ids); scores are cosine similarities, best first.
    """

    def rebuild(self, items: dict[str, Vector]) -> None:
        """Replace the indexed set with `items` (all vectors of one dimension)."""

    def search(self, query: Vector, k: int) -> list[tuple[str, float]]:
        """Up to `k` (key, cosine) pairs, highest cosine first."""


class RouterModel(Protocol):
    """A learned router (LinearRouter, MLPRouter): maps a profile/input vector to a
    distribution over keys.

    Tensors stay inside the adapter; it is fitted on the library's own data (stored examples of each
    expert's tasks) and saved as safetensors + JSON with a schema version and the base model's name.
    """

    def fit(self, features: list[Vector], labels: list[str], seed: int = 0) -> dict[str, float]:
        """Fit on (feature, key) pairs; returns fit statistics (e.g. train accuracy,
        seconds, epochs)."""

    def predict_proba(self, features: list[Vector]) -> list[dict[str, float]]:
        """For each feature vector, a probability per known key (sums to 1)."""

    def save(self, folder: str) -> None:
        """Write the router's weights and header durably under `folder`."""

    def restore(self, folder: str) -> tuple[str, ...] | None:
        """Load the router saved under `folder` (None when there is none); returns the keys it
        routes to."""


class RunStore(Protocol):
    """Durable state of one run: the expert library, profiles, matrices and per-task reports."""

    def save_state(self, state: dict[str, Any]) -> None: ...

    def load_state(self) -> dict[str, Any] | None: ...


class Tracker(Protocol):
    """Where events and metrics go (console, JSONL, W&B, nowhere)."""

    def log_event(self, event: str, **fields: Any) -> None: ...

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, axis: str | None = None
    ) -> None:
        """`step` counts along `axis` (e.g. "sst2/epoch", "sst2/step", "after_task"); None:
        run-level."""

    def log_matrix(self, task_ids: tuple[str, ...], rows: list[list[float | None]]) -> None: ...

    def finish(self) -> None: ...


__all__ = [
    "AdapterStore",
    "Answerer",
    "Encoder",
    "EpochReport",
    "ExampleSource",
    "ExpertLibrary",
    "JointSession",
    "LabelledInput",
    "Learner",
    "Profiler",
    "RouterModel",
    "RunStore",
    "TaskSource",
    "Tracker",
    "TrainingSession",
    "Vector",
    "VectorIndex",
]
