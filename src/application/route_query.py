"""RouteQuery: answer inputs that come without a task id (docs/adr/0033).

`predict`, `route --text` and the end-of-run routing evaluation all go through this use case:
each input is routed to a learned task (InputRouter), gated by its form (one text or a pair),
and answered by that task's expert in that task's label space.
"""

from __future__ import annotations

from adaptive_learner.application.catalog import TaskCatalog
from adaptive_learner.application.input_router import InputRouter
from adaptive_learner.application.ports import Answerer, LabelledInput, Profiler
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.task_free import gate_by_form, mixture


class RouteQuery:
    """Route inputs to learned tasks, and answer them with those tasks' experts."""

    def __init__(
        self,
        profiler: Profiler,
        router: InputRouter,
        answerer: Answerer,
        catalog: TaskCatalog,
    ) -> None:
        self.profiler, self.router, self.answerer, self.catalog = (
            profiler, router, answerer, catalog,
        )  # fmt: skip

    def route(
        self, inputs: list[LabelledInput], state: RunState, k: int = 1
    ) -> list[list[tuple[str, float]]]:
        """For each input, up to `k` (task id, probability) pairs, best first."""
        memory = self.router.settings.memory(state)
        if not state.library.learned_tasks():
            raise DomainError("the run has no expert yet: learn a task before routing inputs")
        for task_id in state.library.learned_tasks():
            if task_id not in memory.task_keys:  # a run whose router was off, or an older run
                memory.task_keys[task_id] = self.router.key(self.catalog.task(task_id))
        vectors = self.profiler.embed_inputs(inputs)
        forms = self.router.keys.pair_forms(list(memory.task_keys))
        dists = self.router.distributions(vectors, state)
        gated = [
            gate_by_form(p, forms, x.text_pair is not None)
            for p, x in zip(dists, inputs, strict=True)
        ]
        return [sorted(p.items(), key=lambda kv: (-kv[1], kv[0]))[:k] for p in gated]

    def answer(self, inputs: list[LabelledInput], state: RunState, k: int = 1) -> list[dict]:
        """Task-free answers: routed task and expert, label and probability (a mixture of the
        top `k` tasks' answers when k > 1)."""
        routes = self.route(inputs, state, k)
        dists: dict[int, list[tuple[float, dict[str, float]]]] = {i: [] for i in range(len(inputs))}
        by_task: dict[str, list[int]] = {}
        for i, ranked in enumerate(routes):
            for task_id, _ in ranked:
                by_task.setdefault(task_id, []).append(i)
        for task_id, rows in by_task.items():
            expert = state.library.expert_for(task_id).id
            task = self.catalog.task(task_id)
            answers = self.answerer.answer(expert, task, [inputs[i] for i in rows])
            for i, dist in zip(rows, answers, strict=True):
                dists[i].append((dict(routes[i])[task_id], dist))
        out = []
        for i, ranked in enumerate(routes):
            top_task, route_p = ranked[0]
            dist = dists[i][0][1] if k == 1 else mixture(dists[i])
            label = max(dist, key=lambda lab: (dist[lab], lab))
            out.append({
                "task": top_task, "expert": state.library.expert_for(top_task).id,
                "route_probability": route_p, "label": label, "probability": dist[label],
                "candidates": [t for t, _ in ranked],
            })  # fmt: skip
        return out
