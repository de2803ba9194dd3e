"""A run, and a finished run's task-free answers, composed without printing.

The CLI prints around these functions; the Python API (`bootstrap/api.py`) returns what they
give. Both therefore run the same checks, in the same order, with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.progress import progress
from adaptive_learner.adapters.reporting import write_report
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.application.route_query import RouteQuery
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import Config, ConfigError, load_reference
from adaptive_learner.bootstrap.containers import make_container
from adaptive_learner.bootstrap.preflight import Plan, prepare_runs
from adaptive_learner.bootstrap.runs import RunLock, run_config, run_state
from adaptive_learner.domain.errors import DomainError


def checked_plans(preset: str, overrides: Sequence[str], seeds: str | None) -> list[Plan]:
    """Each seed's checked run (`prepare_runs`: every config value and task file), and the
    `run.reference` it names, all before any run folder exists."""
    plans = prepare_runs(preset, overrides, seeds)
    for plan in plans:
        load_reference(plan.cfg.run.reference)
    return plans


@frozen
class Finished:
    """A run that learned its whole sequence: its state, the reference shown beside it (None
    when there is none for this backbone) and the report.md written for it."""

    state: RunState
    reference: dict[str, Any] | None
    report: Path


def execute(
    cfg: Config, run_dir: Path, source: Any = None, prepare: Callable[[], None] | None = None
) -> Finished:
    """Run (or resume) the sequence under the run folder's lock and write its report.

    `prepare` runs first, under the lock (resume repairs the folder there). A run that stops on
    a known error (divergence, a full disk, ...) still gets its report.md, which says how far it
    got and why it stopped; the error is raised again.
    """
    with RunLock(run_dir):
        if prepare is not None:
            prepare()
        container = make_container(cfg, run_dir)
        if source is not None:
            container.task_source.override(source)
        tracker = container.tracker()
        try:
            state = container.run_sequence()()
        except (DomainError, AdapterError):
            _report_partial(run_dir)
            raise
        finally:
            tracker.finish()
        reference = reference_for(cfg)
        return Finished(state, reference, write_report(run_dir, state, reference))


def reference_for(cfg: Config) -> dict[str, Any] | None:
    """The configured reference, unless it was measured on another backbone (the fake one is a
    simulation)."""
    reference = load_reference(cfg.run.reference)
    if reference is not None and reference.get("backbone", "hf") != cfg.run.backbone:
        return None
    return reference


def _report_partial(run_dir: Path) -> None:
    try:
        write_report(run_dir, run_state(run_dir))
    except (ConfigError, DomainError, AdapterError):
        pass  # no state yet, or the disk is full: the original error is the one to show


def load_predictor(run_dir: Path) -> tuple[RunState, RouteQuery]:
    """A run's state and its router with every expert loaded, ready to answer inputs that come
    without a task id. Raises ConfigError (not a run folder, no state.json) or DomainError (no
    expert yet)."""
    state = run_state(run_dir)
    if not state.library.learned_tasks():
        raise DomainError(
            f"{run_dir}: the run has no trained expert yet; predict needs at least one learned task"
        )
    return state, load_routing(run_dir, state)


def load_routing(run_dir: Path, state: RunState) -> RouteQuery:
    """The run's query use case with every expert loaded: inputs are routed over the run's task
    keys (by the learned router when the run has one), whatever rule the run learned under."""
    container = make_container(run_config(run_dir), run_dir)
    backbone = container.backbone()
    for expert in state.library:
        backbone.load_expert(expert.id, expert.adapter_ref)
    return container.route_query()


def answer(
    routing: RouteQuery,
    state: RunState,
    inputs: Sequence[LabelledInput],
    top_k: int,
    batch_size: int,
) -> list[dict[str, Any]]:
    """One answer per input (task, expert, label, probability, route_probability), `batch_size`
    inputs routed and answered at a time; `top_k` > 1 mixes the k likeliest tasks' answers."""
    inputs = list(inputs)
    answers: list[dict[str, Any]] = []
    for start in progress(range(0, len(inputs), batch_size), "predict"):
        answers += routing.answer(inputs[start : start + batch_size], state, k=top_k)
    return answers
