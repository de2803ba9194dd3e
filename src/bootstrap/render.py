"""Printing results: the accuracy matrix as a table, metrics, experts, decisions."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from adaptive_learner.adapters.reporting import reference_rows
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.metrics import mean_std
from adaptive_learner.domain.reuse import ReuseAction, ReuseDecision

# Run keys that do not change a run's numbers: runs differing only in these are seeds of one config.
NOT_RESULT_KEYS = (
    "seed",
    "output_dir",
    "keep_checkpoints",
    "tracker",
    "wandb_project",
    "wandb_tags",
)
METRICS = ("avg_acc", "bwt", "bwt_clipped", "fwt", "forgetting")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def matrix_table(
    state: RunState, title: str = "Accuracy matrix R[i][j] (row: after training task i)"
) -> Table:
    ids = state.task_ids
    table = Table(title=title, title_justify="left")
    table.add_column("after \\ on", style="bold")
    for tid in ids:
        table.add_column(tid, justify="right")
    table.add_row(
        "zero-shot", *(_fmt(state.accuracy.zero_shot.get(j)) for j in range(len(ids))), style="dim"
    )
    for i in range(state.completed):
        table.add_row(ids[i], *(_fmt(state.accuracy.get(i, j)) for j in range(len(ids))))
    table.add_row("majority", *(_fmt(state.majority.get(t)) for t in ids), style="dim")
    if state.completed:
        last = state.completed - 1
        table.add_row(
            "balanced", *(_fmt(state.balanced.get(last, j)) for j in range(len(ids))), style="dim"
        )
    return table


def status_line(state: RunState) -> str | None:
    """Why a reader must not take the numbers at face value: incomplete, stopped, tasks
    not learned."""
    notes = []
    if not state.finished:
        notes.append(f"INCOMPLETE: {state.progress} tasks learned")
    if state.stopped:
        notes.append(f"stopped: {state.stopped}")
    weak = [r.task_id for r in state.reports if r.health != "ok"]
    if weak:
        notes.append(f"did not learn: {', '.join(weak)}")
    at_end = [r.task_id for r in state.reports if r.end_health != "ok"]
    if at_end:
        notes.append(f"at the end at or below zero-shot or majority: {', '.join(at_end)}")
    return "; ".join(notes) or None


def metrics_line(state: RunState) -> str:
    if not state.completed:
        return "no task completed yet"
    s = state.accuracy.summary()
    parts = [] if state.finished else [f"[{state.progress} tasks]"]
    parts += [
        f"AvgAcc {s['avg_acc']:.3f}",
        f"BWT {s['bwt']:+.3f}",
        f"BWT(clipped) {s['bwt_clipped']:+.3f}",
    ]
    parts.append("FWT n/a" if s["fwt"] is None else f"FWT {s['fwt']:+.3f}")
    parts.append(f"forgetting {s['forgetting']:.3f}")
    parts.append(f"balanced AvgAcc {state.balanced.avg_acc():.3f}")
    return "  ".join(parts)


def wall_time(seconds: float) -> str:
    """The run's wall time, model loading included: '3 min 28 s (208 s)'."""
    minutes, rest = divmod(round(seconds), 60)
    return (
        f"wall time {minutes} min {rest} s ({seconds:.0f} s)"
        if minutes
        else f"wall time {seconds:.1f} s"
    )


def reports_table(state: RunState) -> Table:
    table = Table(title="Per task", title_justify="left")
    columns = ("task", "expert", "decision", "epochs", "best", "seconds (deciding)", "health")
    for col in (*columns, "reason"):
        table.add_column(col)
    for r in state.reports:
        table.add_row(
            r.task_id,
            r.expert_id,
            str(r.decision.action),
            str(r.epochs_run),
            str(r.best_epoch),
            f"{r.seconds:.1f} ({r.routing_seconds:.1f})",
            r.health,
            r.decision.reason,
        )
    return table


def print_run(console: Console, state: RunState, reference: dict | None = None) -> None:
    console.print(matrix_table(state))
    console.print(reports_table(state))
    console.print(metrics_line(state), style="bold")
    status = status_line(state)
    if status:
        console.print(status, style="bold yellow")
    ev = state.router.evaluation if state.router is not None else {}
    if ev:
        console.print(
            f"routing accuracy {ev['routing_accuracy']:.3f}{_to_task(ev)}  task-free accuracy "
            f"{ev['task_free_accuracy']:.3f}  task-given accuracy {ev['task_given_accuracy']:.3f}",
            style="bold",
        )
    if reference is not None:
        console.print(reference_table(state, reference))


def reference_table(state: RunState, reference: dict) -> Table:
    table = Table(
        title=f"Beside the reference: {reference['label']}",
        title_justify="left",
        caption=(
            f"reference run, not measured in this run: {reference['command']} "
            f"(seed {reference['seed']}, {reference['machine']})"
        ),
        caption_justify="left",
    )
    for col in ("", "this run", "reference"):
        table.add_column(col, justify="right" if col else "left")
    for what, mine, theirs in reference_rows(state, reference):
        table.add_row(what, _fmt(mine), _fmt(theirs))
    return table


def seeds_table(states: Sequence[RunState], seeds: Sequence[int]) -> Table:
    table = Table(title=f"Across seeds {list(seeds)} (mean ± std)", title_justify="left")
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    for name in METRICS:
        values = [s.accuracy.summary()[name] for s in states]
        measured = [v for v in values if v is not None]
        if len(measured) < len(values):
            continue
        mean, std = mean_std(measured)
        table.add_row(name, f"{mean:.3f} ± {std:.3f}")
    return table


def decision_text(decision: ReuseDecision) -> str:
    target = decision.expert_id or "a new expert"
    score = "" if decision.score is None else f"score {decision.score:.3f}, "
    return f"{decision.action}: {target} ({score}p {decision.probability:.2f}) — {decision.reason}"


def _to_task(ev: dict) -> str:
    """Routing accuracy to the task itself, beside the figure to its expert (older runs lack it)."""
    to_task = ev.get("task_routing_accuracy")
    return "" if to_task is None else f" (to the task itself {to_task:.3f})"


def route_text(ranked: list[tuple[str, float]], expert_id: str) -> str:
    """Where a single input goes: the nearest task's expert, with the runners-up."""
    (task_id, p), others = ranked[0], ", ".join(f"{t} {q:.2f}" for t, q in ranked[1:])
    reason = f"nearest task {task_id}" + (f" (next: {others})" if others else "")
    return decision_text(ReuseDecision(ReuseAction.REUSE, expert_id, p, p, reason))


def experts_table(state: RunState) -> Table:
    table = Table(title="Experts", title_justify="left")
    for col in ("id", "tasks", "parent", "created at step", "adapter"):
        table.add_column(col)
    for e in state.library:
        table.add_row(
            e.id, ", ".join(e.tasks), e.parent or "", str(e.created_at_step), e.adapter_ref
        )
    return table


def compare_table(runs, include_incomplete: bool = False) -> Table:
    """runs: (run_dir, config, state). Finished runs whose config differs only in seed form one row
    (mean ± std); a run that did not learn every task gets a row of its own, marked with its
    tasks done / total, unless `include_incomplete` counts it in its group."""
    groups: dict[str, list] = {}
    for run_dir, cfg, state in runs:
        key = cfg.to_dict()
        key["run"] = {k: v for k, v in key["run"].items() if k not in NOT_RESULT_KEYS}
        alone = not state.finished and not include_incomplete
        groups.setdefault(f"{run_dir}" if alone else repr(key), []).append((run_dir, cfg, state))
    table = Table(title="Runs compared (mean ± std over seeds)", title_justify="left")
    for col in ("runs", "seeds", "tasks", *METRICS, "balanced AvgAcc"):
        table.add_column(col)
    for members in groups.values():
        states = [s for _, _, s in members if s.completed]
        if not states:
            continue
        cells = []
        for name in METRICS:
            values = [s.accuracy.summary()[name] for s in states]
            cells.append(
                "n/a"
                if any(v is None for v in values)
                else "{:.3f} ± {:.3f}".format(*mean_std(values))
            )
        cells.append("{:.3f} ± {:.3f}".format(*mean_std([s.balanced.avg_acc() for s in states])))
        done = ",".join(s.progress for _, _, s in members)
        tasks = done if all(s.finished for _, _, s in members) else f"{done} INCOMPLETE"
        table.add_row(
            ", ".join(d.name for d, _, _ in members),
            ",".join(str(c.run.seed) for _, c, _ in members),
            tasks,
            *cells,
        )
    return table


def layers_table(rows: Sequence[tuple[str, str, str, int]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("module", "left"),
        ("type", "left"),
        ("own parameters", "left"),
        ("parameters", "right"),
    ):
        table.add_column(name, justify=justify)
    for name, kind, shapes, count in rows:
        table.add_row(name, kind, shapes, f"{count:,}")
    return table
