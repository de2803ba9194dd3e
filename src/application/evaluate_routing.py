"""EvaluateRouting: routing and task-free accuracy beside the task-given matrix (ADR 0033)."""

from __future__ import annotations

import math

from adaptive_learner.application.ports import ExampleSource, Tracker
from adaptive_learner.application.route_query import RouteQuery
from adaptive_learner.application.state import RunState


class EvaluateRouting:
    """Answer every learned task's validation inputs without its task id, through RouteQuery."""

    def __init__(self, query: RouteQuery, examples: ExampleSource, tracker: Tracker) -> None:
        self.query, self.examples, self.tracker = query, examples, tracker

    def __call__(self, state: RunState) -> dict:
        """Routing accuracy both ways: to the task's expert (`routing_accuracy`) and to the task
        itself (`task_routing_accuracy`; two tasks sharing an expert have different labels)."""
        memory = self.query.router.settings.memory(state)
        routed_right = to_task = total = 0
        per_task = {}
        for task_id in state.library.learned_tasks():
            inputs = self.examples.inputs(self.query.catalog.task(task_id), "validation")
            answers = self.query.answer(inputs, state)
            owner = state.library.expert_for(task_id).id
            r = sum(a["expert"] == owner for a in answers)
            t = sum(a["task"] == task_id for a in answers)
            f = sum(a["label"] == x.label for a, x in zip(answers, inputs, strict=True))
            per_task[task_id] = {
                "routing_accuracy": r / len(inputs),
                "task_routing_accuracy": t / len(inputs),
                "task_free_accuracy": f / len(inputs),
                "n": len(inputs),
            }
            routed_right, to_task, total = routed_right + r, to_task + t, total + len(inputs)
        last = state.completed - 1
        given = [
            state.accuracy.get(last, j) for j, t in enumerate(state.task_ids) if t in per_task
        ] if state.completed else []  # fmt: skip
        known = [g for g in given if g is not None]
        free = [p["task_free_accuracy"] for p in per_task.values()]
        result = {
            "routing_accuracy": routed_right / total if total else math.nan,
            "task_routing_accuracy": to_task / total if total else math.nan,
            # Mean over tasks, as AvgAcc is, so it sits beside the task-given figure.
            "task_free_accuracy": sum(free) / len(free) if free else math.nan,
            "task_given_accuracy": sum(known) / len(given) if given else math.nan,
            "router_model": "learned" if self.query.router.model is not None else "cosine",
            "per_task": per_task,
        }
        memory.evaluation = result
        self.tracker.log_metrics({k: v for k, v in result.items() if isinstance(v, float)})
        return result
