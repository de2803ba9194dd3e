"""Experts (one LoRA each) and the library that owns who learned what."""

from __future__ import annotations

from collections.abc import Iterator

from attrs import define, evolve, field, frozen

from adaptive_learner.domain.errors import DomainError


@frozen
class Expert:
    """A LoRA expert. `adapter_ref` and `profile_ref` are opaque keys owned by adapters."""

    id: str
    adapter_ref: str
    tasks: tuple[str, ...] = ()
    profile_ref: str | None = None
    parent: str | None = None
    created_at_step: int = 0

    @property
    def is_shared(self) -> bool:
        return len(self.tasks) > 1


@define
class ExpertLibrary:
    """Aggregate over all experts of a run.

    Invariants: expert ids are unique; each learned task maps to exactly one expert;
    an expert's task list is exactly the tasks mapped to it, in learning order.
    """

    _experts: dict[str, Expert] = field(factory=dict, alias="experts")
    _owner: dict[str, str] = field(factory=dict, alias="owner")

    def __iter__(self) -> Iterator[Expert]:
        return iter(self._experts.values())

    def __len__(self) -> int:
        return len(self._experts)

    def __contains__(self, expert_id: object) -> bool:
        return expert_id in self._experts

    def get(self, expert_id: str) -> Expert:
        try:
            return self._experts[expert_id]
        except KeyError:
            raise DomainError(f"no expert {expert_id!r}; known: {sorted(self._experts)}") from None

    def next_id(self) -> str:
        return f"expert-{len(self._experts)}"

    def create(
        self, *, step: int, parent: str | None = None, expert_id: str | None = None
    ) -> Expert:
        """Add a new, empty expert (a fork when `parent` is given)."""
        expert_id = expert_id or self.next_id()
        if expert_id in self._experts:
            raise DomainError(f"expert {expert_id!r} already exists")
        if parent is not None:
            self.get(parent)
        expert = Expert(id=expert_id, adapter_ref=expert_id, parent=parent, created_at_step=step)
        self._experts[expert_id] = expert
        return expert

    def assign(self, task_id: str, expert_id: str) -> Expert:
        """Record that `expert_id` learned `task_id`; a task is learned by one expert only."""
        if task_id in self._owner:
            raise DomainError(f"task {task_id!r} is already learned by {self._owner[task_id]!r}")
        expert = self.get(expert_id)
        updated = evolve(expert, tasks=(*expert.tasks, task_id))
        self._experts[expert_id] = updated
        self._owner[task_id] = expert_id
        return updated

    def set_adapter_ref(self, expert_id: str, adapter_ref: str) -> Expert:
        """Point the expert at a newly saved version of its weights."""
        self._experts[expert_id] = evolve(self.get(expert_id), adapter_ref=adapter_ref)
        return self._experts[expert_id]

    def expert_for(self, task_id: str) -> Expert:
        try:
            return self._experts[self._owner[task_id]]
        except KeyError:
            raise DomainError(f"task {task_id!r} has not been learned yet") from None

    def learned_tasks(self) -> tuple[str, ...]:
        return tuple(self._owner)

    def shared_experts(self) -> tuple[Expert, ...]:
        return tuple(e for e in self._experts.values() if e.is_shared)

    def to_dict(self) -> dict:
        return {
            "experts": [
                {
                    "id": e.id,
                    "adapter_ref": e.adapter_ref,
                    "tasks": list(e.tasks),
                    "profile_ref": e.profile_ref,
                    "parent": e.parent,
                    "created_at_step": e.created_at_step,
                }
                for e in self._experts.values()
            ]
        }

    @classmethod
    def from_dict(cls, data: dict) -> ExpertLibrary:
        library = cls()
        for raw in data.get("experts", []):
            expert = Expert(
                id=raw["id"],
                adapter_ref=raw["adapter_ref"],
                profile_ref=raw.get("profile_ref"),
                parent=raw.get("parent"),
                created_at_step=int(raw.get("created_at_step", 0)),
            )
            if expert.id in library._experts:
                raise DomainError(f"expert {expert.id!r} appears twice")
            library._experts[expert.id] = expert
            for task_id in raw.get("tasks", []):
                library.assign(task_id, expert.id)
        return library
