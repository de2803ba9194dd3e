"""Reuse decisions and the fixed rules that make them (docs/adr/0049).

A `ReuseDecision` says: reuse expert X, create a new one, or fork X, with the evidence behind it.
Three rules need no measurement, only the task's position or profile:
  * `SharingSchedule` — the seed's rule: the first `num_tasks_to_share_lora` tasks share one
    LoRA and every later task gets a new one (N = -1: one LoRA for all; N <= 1: one per task).
  * `FixedAssignment` — the schedule written out task by task (ablations, counterfactuals).
  * `SimilarityRouter` — compares a task profile with each expert's profile by cosine
    similarity: reuse at or above `reuse_threshold`, fork at or above `fork_threshold`,
    otherwise create. `probability` is a softmax over the scores with `temperature`,
    the "create" option scored at `reuse_threshold`.
The adaptive rule, which measures, is domain/adaptive_reuse.py.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from attrs import field, frozen, validators

from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.vectors import cosine, softmax


class ReuseAction(enum.StrEnum):
    REUSE = "reuse"
    CREATE = "create"
    FORK = "fork"


@frozen
class ReuseDecision:
    """Reuse expert X, create a new one, or fork X, with the evidence behind it."""

    action: ReuseAction = field(converter=ReuseAction)
    expert_id: str | None
    score: float | None = 0.0  # the cosine of the expert (None: not computed, docs/adr/0065)
    probability: float = 1.0
    reason: str = ""
    # The evidence: cosine and p_reuse per candidate expert, UCB indices, and tau (adaptive router).
    scores: dict[str, float] = field(factory=dict, eq=False)
    probabilities: dict[str, float] = field(factory=dict, eq=False)
    ucb: dict[str, float | None] = field(factory=dict, eq=False)
    tau: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.action is not ReuseAction.CREATE and self.expert_id is None:
            raise DomainError(f"a {self.action} decision needs an expert id")
        if not 0.0 <= self.probability <= 1.0:
            raise DomainError(f"probability {self.probability} is outside [0, 1]")

    @classmethod
    def create(cls, reason: str, score: float = 0.0, probability: float = 1.0) -> ReuseDecision:
        return cls(ReuseAction.CREATE, None, score, probability, reason)


@frozen
class SharingSchedule:
    """The seed's shared-LoRA schedule; `step` is the 0-based position of the task."""

    num_tasks_to_share_lora: int = field(default=1, validator=validators.ge(-1))

    def decide(self, step: int, previous_expert: str | None) -> ReuseDecision:
        n = self.num_tasks_to_share_lora
        if previous_expert is None:
            return ReuseDecision.create("first task")
        if n == -1:
            return ReuseDecision(
                ReuseAction.REUSE, previous_expert, 1.0, 1.0, "one LoRA for all tasks"
            )
        if step < n:
            return ReuseDecision(
                ReuseAction.REUSE,
                previous_expert,
                1.0,
                1.0,
                f"task {step + 1} of {n} sharing one LoRA",
            )
        return ReuseDecision.create(f"task {step + 1} is past the {n} tasks that share a LoRA")

    def learns_again(self, step: int, total: int) -> bool:
        """Whether the expert that learned task `step` is chosen by a later task of the `total`."""
        n = self.num_tasks_to_share_lora
        last_sharing = (
            total - 1 if n == -1 else min(n, total) - 1
        )  # the last task on the first expert
        return step < last_sharing


def decided_later(step: int, total: int) -> bool:
    """`learns_again` of a router that decides from evidence (cosine or adaptive): any expert may be
    chosen by a later task, so only the last task's expert learns no more."""
    return step < total - 1


@frozen
class FixedAssignment:
    """A schedule written out task by task, for ablations and counterfactual runs: task i joins the
    expert first made for task `assignment[i]`; `assignment[i] == i` makes a new expert."""

    assignment: tuple[int, ...] = field(converter=tuple[int, ...])

    def __attrs_post_init__(self) -> None:
        for i, j in enumerate(self.assignment):
            if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j <= i:
                raise DomainError(
                    f"expert_of_task[{i}] must be an earlier task's index or {i} itself"
                    f" (a new expert), got {j!r}"
                )
            if self.assignment[j] != j:
                raise DomainError(
                    f"expert_of_task[{i}] = {j}, but task {j} did not make an expert of its own"
                    f" (expert_of_task[{j}] = {self.assignment[j]})"
                )

    def decide(self, step: int, expert_of: Sequence[str]) -> ReuseDecision:
        """`expert_of[j]`: the expert of the j-th task already learned."""
        if step >= len(self.assignment):
            raise DomainError(
                f"expert_of_task has {len(self.assignment)} entries,"
                f" the sequence has a task number {step + 1}"
            )
        j = self.assignment[step]
        if j == step:
            return ReuseDecision.create(f"expert_of_task[{step}] = {step}: a new expert")
        return ReuseDecision(
            ReuseAction.REUSE,
            expert_of[j],
            1.0,
            1.0,
            f"expert_of_task[{step}] = {j}: the expert of task {j + 1}",
        )

    def learns_again(self, step: int, total: int) -> bool:
        """Whether the expert that learned task `step` is chosen by a later task of the `total`."""
        return self.assignment[step] in self.assignment[step + 1 : total]


@frozen
class SimilarityRouter:
    """Routes by cosine similarity of profiles; see module docstring."""

    reuse_threshold: float = field(default=0.9)  # > 1: never reuse
    fork_threshold: float = field(default=1.01)
    temperature: float = field(default=0.1, validator=validators.gt(0.0))

    def decide(
        self, task_profile: Sequence[float], expert_profiles: Mapping[str, Sequence[float]]
    ) -> ReuseDecision:
        if not expert_profiles:
            return ReuseDecision.create("no expert yet")
        scores = {eid: cosine(task_profile, p) for eid, p in expert_profiles.items()}
        best = max(scores, key=lambda eid: (scores[eid], eid))
        probs = softmax([*scores.values(), self.reuse_threshold], self.temperature)
        prob_of = dict(zip([*scores, None], probs, strict=True))
        score = scores[best]
        if score >= self.reuse_threshold:
            return ReuseDecision(
                ReuseAction.REUSE,
                best,
                score,
                prob_of[best],
                f"cosine {score:.3f} >= reuse threshold {self.reuse_threshold}",
            )
        if score >= self.fork_threshold:
            return ReuseDecision(
                ReuseAction.FORK,
                best,
                score,
                prob_of[best],
                f"cosine {score:.3f} >= fork threshold {self.fork_threshold}",
            )
        return ReuseDecision.create(
            f"best cosine {score:.3f} ({best}) < reuse threshold {self.reuse_threshold}",
            score,
            prob_of[None],
        )

    def learns_again(self, step: int, total: int) -> bool:
        return decided_later(step, total)

    def nearest(
        self, query_profile: Sequence[float], expert_profiles: Mapping[str, Sequence[float]]
    ) -> ReuseDecision:
        """The expert whose profile is closest to a single input (always a reuse)."""
        if not expert_profiles:
            raise DomainError("no expert has a profile yet; learn a task first")
        scores = {eid: cosine(query_profile, p) for eid, p in expert_profiles.items()}
        probs = dict(zip(scores, softmax(list(scores.values()), self.temperature), strict=True))
        best = max(scores, key=lambda eid: (scores[eid], eid))
        return ReuseDecision(
            ReuseAction.REUSE,
            best,
            scores[best],
            probs[best],
            f"nearest profile, cosine {scores[best]:.3f}",
        )
