"""Task and expert profiles for reuse decisions, and the nearest experts of a new task."""

from __future__ import annotations

from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.ports import ExampleSource, Profiler, VectorIndex
from adaptive_learner.application.settings import RoutingSettings
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.profiles import assemble_profile, block_dims, mean_vector
from adaptive_learner.domain.task import Task

Vector = tuple[float, ...]


class TaskProfiles:
    """Profiles of tasks (under an expert or the bare backbone) and clean per-expert aggregates.

    `defer` (docs/adr/0065): the run's rule reads profiles only to break exact ties, so they are
    computed when asked for, not after every task. A profile is a pure function of the weights it
    is taken under and of the task's inputs, and an expert's weights do not change between the end
    of its training and its next one, so one computed late is the one that would have been kept.
    """

    def __init__(
        self,
        profiler: Profiler,
        examples: ExampleSource,
        catalog: TaskCatalog,
        settings: RoutingSettings,
        index: VectorIndex | None = None,
        defer: bool = False,
    ) -> None:
        self.profiler, self.examples, self.catalog = profiler, examples, catalog
        self.settings, self.index, self.defer = settings, index, defer

    def deferred(self, state: RunState) -> bool:
        """Whether this run's profiles wait until something reads them: the rule defers them and
        every decision is measured (each task has dev inputs for the probe, and tau < 1), so the
        calibrated similarity prior is never read (docs/adr/0065)."""
        return (
            self.defer
            and not self.settings.memory(state).threshold.always_new
            and all(self.catalog.has_dev(t) for t in state.task_ids)
        )

    def profile(
        self, task: Task, expert_id: str | None = None, split: str = "train"
    ) -> tuple[Vector, dict[str, int]]:
        """The assembled profile of `task` (under `expert_id`, on `split` examples), block sizes."""
        n = self.settings.profile_examples
        examples = self.examples.inputs(task, split, n) if n else []
        blocks = self.profiler.task_blocks(task, examples, self.settings.blocks, expert_id)
        return assemble_profile(blocks, self.settings.weights), block_dims(blocks)

    def nearest(self, task: Task, state: RunState) -> tuple[Vector, dict[str, Vector]]:
        """Profile a new task (kept in the state) and return it with its nearest experts' profiles:
        the `top_k` found through the index, which the rules then score exactly."""
        memory = self.settings.memory(state)
        profile, dims = self.profile(task)
        state.task_profiles[task.id] = profile
        memory.block_dims = dims
        for expert in state.library:  # deferred ones are taken now (docs/adr/0065)
            if expert.id not in memory.expert_profiles:
                memory.expert_profiles[expert.id] = self.expert_profile(state, expert.id)
        experts = memory.expert_profiles
        if self.index is not None and experts:
            self.index.rebuild(experts)
            found = self.index.search(profile, self.settings.top_k)
            experts = {key: experts[key] for key, _ in found}
        return profile, experts

    def expert_profile(self, state: RunState, expert_id: str) -> Vector:
        """One clean aggregate: the mean of the expert's tasks' profiles, all measured now.

        Dynamic: under the trained expert on each task's dev examples (never the validation split;
        the training examples when the task has no dev examples). Static: the bare-backbone
        profiles taken when each task arrived.
        """
        tasks = state.library.get(expert_id).tasks
        if not self.settings.dynamic_profiles:
            for t in tasks:  # a deferred task profile: the bare backbone's, as on arrival
                if t not in state.task_profiles:
                    state.task_profiles[t] = self.profile(self.catalog.task(t))[0]
            return mean_vector([state.task_profiles[t] for t in tasks])
        return mean_vector(
            [self.profile(self.catalog.task(t), expert_id, self._split(t))[0] for t in tasks]
        )

    def _split(self, task_id: str) -> str:
        return "dev" if self.catalog.has_dev(task_id) else "train"
