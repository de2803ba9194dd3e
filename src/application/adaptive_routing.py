"""AdaptiveRouting: profiles, reuse decisions, their measured outcomes, and task-free routing.

The decision math is `domain.router`; this use case gathers its evidence through ports:
profile blocks (Profiler), examples (ExampleSource), dev scores of the expert's earlier tasks
(Learner) and answers (Answerer). It keeps everything in `RunState.router`, so the router is
saved and resumed with the run (docs/adr/0030-0033).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from attrs import field, frozen

from adaptive_learner.application.ports import (
    Answerer,
    ExampleSource,
    LabelledInput,
    Learner,
    Profiler,
    RouterModel,
    TaskSource,
    Tracker,
    VectorIndex,
)
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.calibration import ReuseCalibrator, ReuseOutcome, mean_change_se
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.probe import EarlierTask, ProbeGap, ProbeResult
from adaptive_learner.domain.profiles import assemble_profile, block_dims, mean_vector
from adaptive_learner.domain.router import (
    AdaptiveRouter,
    AdaptiveThreshold,
    RouterMemory,
    gate_by_form,
    mixture,
)
from adaptive_learner.domain.routing import (
    ReuseAction,
    ReuseDecision,
    SimilarityRouter,
    exact_top_k,
    softmax,
)
from adaptive_learner.domain.task import Task, TaskSequence

Vector = tuple[float, ...]


@frozen
class RoutingSettings:
    """The routing part of the config, as the use case needs it."""

    base_model: str
    blocks: tuple[str, ...] = ("description",)
    weights: dict[str, float] = field(factory=dict)
    profile_examples: int = 0  # examples handed to the profiler (prototype and sketch)
    key_examples: int = (
        256  # inputs per task (train, then dev) behind its routing key / the learned router
    )
    dynamic_profiles: bool = True
    tol_forget: float = 0.02
    tol_new: float = 0.02
    outcome_z: float = 0.0  # a reuse's forgetting may exceed tol_forget by this many standard errors (docs/adr/0044)
    temperature: float = 0.05
    probe_candidates: int = 0  # transfer probe on the nearest N candidates (0 = off; docs/adr/0034)
    probe_steps: int = (
        0  # training steps of the trained probe (0 = the zero-step probe; docs/adr/0040)
    )
    probe_replica: bool = (
        False  # the fresh probe copy starts as the new expert would (its LoRA init; docs/adr/0048)
    )
    probe_metric: str = "accuracy"  # the Score field the probe compares (what the matrix reports; "balanced_accuracy" before docs/adr/0048)
    adaptive: bool = True  # False: the plain cosine rule (`similarity` strategy)


class AdaptiveRouting:
    """Decide reuse / fork / new for tasks, learn from outcomes, and route single inputs."""

    def __init__(
        self,
        source: TaskSource,
        profiler: Profiler,
        examples: ExampleSource,
        learner: Learner,
        answerer: Answerer,
        tracker: Tracker,
        settings: RoutingSettings,
        router: AdaptiveRouter,
        new_memory: Callable[[], RouterMemory],
        similarity: SimilarityRouter | None = None,
        router_model: RouterModel | None = None,
        router_dir: str | None = None,
        index: VectorIndex | None = None,
        policy: ConsolidationPolicy | None = None,
    ) -> None:
        self.profiler, self.examples, self.learner, self.answerer = (
            profiler,
            examples,
            learner,
            answerer,
        )
        self.source = source
        self.tracker, self.settings, self.router, self.new_memory = (
            tracker,
            settings,
            router,
            new_memory,
        )
        self.similarity, self.router_model, self.router_dir, self.index = (
            similarity,
            router_model,
            router_dir,
            index,
        )
        self.policy = (
            policy or ConsolidationPolicy()
        )  # what a reuse trains under: the trained probe trains the same way
        self._features: dict[
            str, list[Vector]
        ] = {}  # per-task input vectors behind the learned router
        self._fitted_on: tuple[str, ...] = ()
        self._probes: dict[
            str, tuple[dict, float]
        ] = {}  # task id -> (probe results, seconds), until logged
        self._scored: dict[
            str, dict[str, Score]
        ] = {}  # expert id -> its earlier tasks' dev scores, taken by this decision's probe

    # --- memory ------------------------------------------------------------------------------
    def memory(self, state: RunState) -> RouterMemory:
        if state.router is None:
            state.router = self.new_memory()
        state.router.check_model(self.settings.base_model)
        return state.router

    # --- task-level profiles and decisions ------------------------------------------------------
    def profile(
        self, task: Task, expert_id: str | None = None, split: str = "train"
    ) -> tuple[Vector, dict[str, int]]:
        """The assembled profile of `task` (under `expert_id`, on `split` examples) and its block sizes."""
        n = self.settings.profile_examples
        examples = self.examples.inputs(task, split, n) if n else []
        blocks = self.profiler.task_blocks(task, examples, self.settings.blocks, expert_id)
        return assemble_profile(blocks, self.settings.weights), block_dims(blocks)

    def decide(self, task: Task, state: RunState) -> ReuseDecision:
        memory = self.memory(state)
        self._scored = {}
        profile, dims = self.profile(task)
        state.task_profiles[task.id] = profile
        memory.block_dims = dims
        experts = memory.expert_profiles
        if (
            self.index is not None and experts
        ):  # nearest experts through the index; the router scores them exactly
            self.index.rebuild(experts)
            experts = {
                key: experts[key] for key, _ in self.index.search(profile, self.router.top_k)
            }
        if not self.settings.adaptive and self.similarity is not None:
            return self.similarity.decide(profile, experts)
        probes = (
            self._probe(task, state, profile, experts) if not memory.threshold.always_new else {}
        )
        return self.router.decide(
            profile, experts, memory.calibrator, memory.threshold, memory.arms, probes
        )

    def _probe(
        self, task: Task, state: RunState, profile: Vector, experts: dict[str, Vector]
    ) -> dict[str, ProbeResult]:
        """The transfer probe: dev accuracy (`routing.probe_metric`) of the new task under each of the `probe_candidates`
        nearest experts and under a fresh start. Zero-step (docs/adr/0034): as they are, the fresh start
        being the bare backbone. Trained (`probe_steps` k > 0, docs/adr/0040): throwaway copies of each
        candidate and a fresh LoRA trained k steps under the consolidation policy, and the candidate's
        earlier tasks scored before and after, so the evidence is the change of summed accuracy."""
        n, k = self.settings.probe_candidates, self.settings.probe_steps
        if not n or not experts or not self._has_dev(task.id):
            return {}
        started = time.perf_counter()
        as_id = (
            state.library.next_id() if self.settings.probe_replica else None
        )  # the id a new expert would get
        fresh = (
            self.learner.trial(None, task, self.policy, k, as_id=as_id)[task.id]
            if k
            else self.learner.score(None, task, "dev")
        )
        out, m = {}, self._metric
        for expert_id in list(self.router.candidates(profile, experts))[:n]:
            if not k:
                score = self.learner.score(expert_id, task, "dev")
                out[expert_id] = ProbeResult(m(score), m(fresh), max(1, fresh.n))
                continue
            earlier = tuple(
                self._task(t) for t in state.library.get(expert_id).tasks if self._has_dev(t)
            )
            before = self._scored[expert_id] = {
                t.id: self.learner.score(expert_id, t, "dev") for t in earlier
            }
            after = self.learner.trial(expert_id, task, self.policy, k, earlier)
            changes = [
                EarlierTask(t.id, m(before[t.id]), m(after[t.id]), max(1, before[t.id].n))
                for t in earlier
            ]
            out[expert_id] = ProbeResult(m(after[task.id]), m(fresh), max(1, fresh.n), k, changes)
        self._probes[task.id] = (
            {e: r.to_dict() for e, r in out.items()},
            time.perf_counter() - started,
        )
        return out

    def _metric(self, score: Score) -> float:
        """What the probe compares (`routing.probe_metric`): plain dev accuracy by default, or balanced accuracy."""
        return getattr(score, self.settings.probe_metric)

    def before_training(
        self, state: RunState, task: Task, decision: ReuseDecision
    ) -> dict[str, Score]:
        """Dev scores of the reused expert's earlier tasks, to measure what the reuse costs. The trained
        probe of this decision already scored them on the same expert (its copy was thrown away), so
        those scores are taken as they are; anything it did not score is scored now."""
        scored, self._scored = self._scored.get(decision.expert_id, {}), {}
        if decision.action is not ReuseAction.REUSE:
            return {}
        expert = state.library.get(decision.expert_id)
        return {
            t: scored.get(t) or self._dev(expert.id, t) for t in expert.tasks if self._has_dev(t)
        }

    def after_training(
        self,
        state: RunState,
        step: int,
        task: Task,
        expert_id: str,
        decision: ReuseDecision,
        before: dict[str, Score],
    ) -> None:
        """Record the reuse outcome, re-profile the expert, refresh routing keys; log the decision.

        Runs after early stopping restored the best weights and after consolidation, before the
        expert is saved; the library already lists `task` under `expert_id`.
        """
        memory = self.memory(state)
        entry = {
            "step": step,
            "task": task.id,
            "action": str(decision.action),
            "expert": expert_id,
            "score": decision.score,
            "probability": decision.probability,
            "reason": decision.reason,
            "scores": dict(decision.scores),
            "probabilities": dict(decision.probabilities),
            "tau": decision.tau,
        }
        if task.id in self._probes:
            entry["probes"], entry["probe_seconds"] = self._probes.pop(task.id)
        if before:
            after = {t: self._dev(expert_id, t) for t in before}
            forgetting = sum(before[t].accuracy - after[t].accuracy for t in before) / len(before)
            noise = mean_change_se(
                [(before[t].accuracy, after[t].accuracy, max(1, before[t].n)) for t in before]
            )
            outcome = ReuseOutcome(similarity=decision.score, forgetting=forgetting, noise=noise)
            s = self.settings
            entry["works"] = memory.record_outcome(
                expert_id, outcome, s.tol_forget, s.tol_new, s.outcome_z
            )
            entry["forgetting"], entry["forgetting_se"], entry["tau_after"] = (
                forgetting,
                noise,
                memory.threshold.tau,
            )
            probed = entry.get("probes", {}).get(expert_id, {}).get("earlier", {})
            gap = ProbeGap.measure(
                {t: e["after"] for t, e in probed.items()},
                {t: self._metric(a) for t, a in after.items()},
                {t: e["n"] for t, e in probed.items()},
            )
            if (
                gap is not None
            ):  # how far the trained reuse ended from its probe on the earlier tasks
                entry["probe_gap"] = gap.to_dict()
        memory.expert_profiles[expert_id] = self.expert_profile(state, expert_id)
        memory.task_keys[task.id] = self.task_key(task)
        memory.decisions.append(entry)
        self._fit_router(state)
        self.tracker.log_event(
            "router_decision",
            **{k: v for k, v in entry.items() if k not in ("scores", "probabilities")},
        )

    def expert_profile(self, state: RunState, expert_id: str) -> Vector:
        """One clean aggregate: the mean of the expert's tasks' profiles, all measured now.

        Dynamic: under the trained expert on each task's dev examples (never the validation split).
        Static: the bare-backbone profiles taken when each task arrived.
        """
        tasks = state.library.get(expert_id).tasks
        if not self.settings.dynamic_profiles:
            return mean_vector([state.task_profiles[t] for t in tasks])
        # No dev examples (data.dev_samples_per_task = 0): the training examples, never the validation split.
        return mean_vector(
            [
                self.profile(self._task(t), expert_id, "dev" if self._has_dev(t) else "train")[0]
                for t in tasks
            ]
        )

    # --- single inputs -------------------------------------------------------------------------
    def task_key(self, task: Task) -> Vector:
        """What single inputs of `task` are compared with: the mean vector of its stored train inputs
        (the description's embedding in description-only mode), in the queries' own representation."""
        if "prototype" not in self.settings.blocks:
            return tuple(self.profiler.task_blocks(task, [], ("description",), None)["description"])
        return mean_vector(self._task_features(task))

    def _key_inputs(self, task: Task) -> list[LabelledInput]:
        """Up to `key_examples` of the task's own inputs: its training inputs, then its dev inputs (held
        out of training, never the validation split that routing accuracy is measured on)."""
        n = self.settings.key_examples
        inputs = self.examples.inputs(task, "train", n)
        return inputs + (
            self.examples.inputs(task, "dev", n - len(inputs)) if len(inputs) < n else []
        )

    def _task_features(self, task: Task) -> list[Vector]:
        """Per-input vectors of the task's key inputs (embedded once per task in this process)."""
        if task.id not in self._features:
            self._features[task.id] = self.profiler.embed_inputs(self._key_inputs(task))
        return self._features[task.id]

    def _task_forms(self, task_ids) -> dict[str, bool]:
        """Whether each task's inputs are text pairs (most of its key inputs), for `gate_by_form`."""
        out = {}
        for task_id in task_ids:
            inputs = self._key_inputs(self._task(task_id))
            out[task_id] = 2 * sum(x.text_pair is not None for x in inputs) > len(inputs)
        return out

    def _fit_router(self, state: RunState) -> None:
        learned = tuple(t for t in state.task_ids if t in state.library.learned_tasks())
        if self.router_model is None or learned == self._fitted_on:
            return
        if (
            not self._fitted_on and self.router_dir is not None
        ):  # first use in this process: the saved router
            keys = self.router_model.restore(self.router_dir)
            if keys is not None and set(keys) == set(learned):
                self._fitted_on = learned
                self.tracker.log_event("router_loaded", tasks=len(learned))
                return
        features, labels = [], []
        for task_id in learned:
            vectors = self._task_features(self._task(task_id))
            features += vectors
            labels += [task_id] * len(vectors)
        stats = self.router_model.fit(features, labels, seed=0)
        if self.router_dir is not None:
            self.router_model.save(self.router_dir)
        self._fitted_on = learned
        self.tracker.log_event(
            "router_fitted",
            tasks=len(learned),
            **{k: v for k, v in stats.items() if isinstance(v, int | float)},
        )

    def route_inputs(
        self, inputs: list[LabelledInput], state: RunState, k: int = 1
    ) -> list[list[tuple[str, float]]]:
        """For each input, up to `k` (task id, probability) pairs, best first."""
        memory = self.memory(state)
        if not state.library.learned_tasks():
            raise DomainError("the run has no expert yet: learn a task before routing inputs")
        for task_id in state.library.learned_tasks():
            if task_id not in memory.task_keys:  # a run whose router was off, or an older run
                memory.task_keys[task_id] = self.task_key(self._task(task_id))
        vectors = self.profiler.embed_inputs(inputs)
        forms = self._task_forms(list(memory.task_keys))
        if self.router_model is not None:
            self._fit_router(state)
            dists = self.router_model.predict_proba(vectors)
        else:
            dists = []
            if self.index is not None:
                self.index.rebuild(memory.task_keys)
            for v in vectors:
                n = len(memory.task_keys)
                ranked = (
                    self.index.search(v, n)
                    if self.index is not None
                    else exact_top_k(v, memory.task_keys, n)
                )
                dists.append(
                    dict(
                        zip(
                            [key for key, _ in ranked],
                            softmax([s for _, s in ranked], self.settings.temperature),
                            strict=True,
                        )
                    )
                )
        gated = [
            gate_by_form(p, forms, x.text_pair is not None)
            for p, x in zip(dists, inputs, strict=True)
        ]
        return [sorted(p.items(), key=lambda kv: (-kv[1], kv[0]))[:k] for p in gated]

    def answer(self, inputs: list[LabelledInput], state: RunState, k: int = 1) -> list[dict]:
        """Task-free answers: routed task and expert, label and probability (top-k mixture when k > 1)."""
        routes = self.route_inputs(inputs, state, k)
        dists: dict[int, list[tuple[float, dict[str, float]]]] = {i: [] for i in range(len(inputs))}
        by_task: dict[str, list[int]] = {}
        for i, ranked in enumerate(routes):
            for task_id, _ in ranked:
                by_task.setdefault(task_id, []).append(i)
        for task_id, rows in by_task.items():
            expert = state.library.expert_for(task_id).id
            answers = self.answerer.answer(expert, self._task(task_id), [inputs[i] for i in rows])
            for i, dist in zip(rows, answers, strict=True):
                weight = dict(routes[i])[task_id]
                dists[i].append((weight, dist))
        out = []
        for i, ranked in enumerate(routes):
            top_task, route_p = ranked[0]
            dist = dists[i][0][1] if k == 1 else mixture(dists[i])
            label = max(dist, key=lambda lab: (dist[lab], lab))
            out.append(
                {
                    "task": top_task,
                    "expert": state.library.expert_for(top_task).id,
                    "route_probability": route_p,
                    "label": label,
                    "probability": dist[label],
                    "candidates": [t for t, _ in ranked],
                }
            )
        return out

    def evaluate(self, state: RunState) -> dict:
        """Routing accuracy and task-free accuracy on the validation inputs of every learned task."""
        memory = self.memory(state)
        routed_right = free_right = total = 0
        per_task = {}
        for task_id in state.library.learned_tasks():
            inputs = self.examples.inputs(self._task(task_id), "validation")
            answers = self.answer(inputs, state)
            owner = state.library.expert_for(task_id).id
            r = sum(a["expert"] == owner for a in answers)
            f = sum(a["label"] == x.label for a, x in zip(answers, inputs, strict=True))
            per_task[task_id] = {
                "routing_accuracy": r / len(inputs),
                "task_free_accuracy": f / len(inputs),
                "n": len(inputs),
            }
            routed_right, free_right, total = routed_right + r, free_right + f, total + len(inputs)
        last = state.completed - 1
        given = (
            [state.accuracy.get(last, j) for j, t in enumerate(state.task_ids) if t in per_task]
            if state.completed
            else []
        )
        result = {
            "routing_accuracy": routed_right / total if total else math.nan,
            # Mean over tasks, as AvgAcc is, so it sits beside the task-given figure.
            "task_free_accuracy": sum(p["task_free_accuracy"] for p in per_task.values())
            / len(per_task)
            if per_task
            else math.nan,
            "task_given_accuracy": sum(g for g in given if g is not None) / len(given)
            if given
            else math.nan,
            "router_model": "learned" if self.router_model is not None else "cosine",
            "per_task": per_task,
        }
        memory.evaluation = result
        self.tracker.log_metrics({k: v for k, v in result.items() if isinstance(v, float)})
        return result

    # --- helpers -------------------------------------------------------------------------------
    def _task(self, task_id: str) -> Task:
        tasks: TaskSequence = self.source.load()
        return tasks[tasks.index_of(task_id)]

    def _has_dev(self, task_id: str) -> bool:
        return bool(self.examples.inputs(self._task(task_id), "dev", 1))

    def _dev(self, expert_id: str, task_id: str) -> Score:
        return self.learner.score(expert_id, self._task(task_id), "dev")


def default_memory(
    settings: RoutingSettings,
    tau: float,
    calibrator: ReuseCalibrator,
    step: float,
    target_regret: float,
) -> RouterMemory:
    return RouterMemory(
        calibrator=calibrator,
        threshold=AdaptiveThreshold(tau, step, target_regret),
        base_model=settings.base_model,
    )
