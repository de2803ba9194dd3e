"""A run's human- and machine-readable results: matrix JSON/CSV, heatmap PNG, report.md.

Everything is rebuilt from `state.json` (`adaptive-learner report RUN`), so a report never
disagrees with the state it describes. All files are written atomically.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from adaptive_learner.adapters.storage import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from adaptive_learner.application.state import RunState
from adaptive_learner.domain.probe import ProbeResult


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def matrix_csv(state: RunState) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["after_task", "row", "on_task", "col", "accuracy", "balanced_accuracy"])
    for i in range(state.completed):
        for j, on in enumerate(state.task_ids):
            acc = state.accuracy.get(i, j)
            if acc is not None:
                writer.writerow(
                    [state.task_ids[i], i, on, j, f"{acc:.6f}", f"{state.balanced.get(i, j):.6f}"]
                )
    return out.getvalue()


def heatmap_png(task_ids, grid: list[list[float | None]]) -> bytes:
    """The matrix as a PNG heatmap (cells never measured are left blank)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, ids = len(task_ids), list(task_ids)
    values = [[float("nan") if v is None else v for v in row] for row in grid]
    fig, ax = plt.subplots(figsize=(1.2 * n + 2, 1.0 * n + 1.5))
    image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), ids, rotation=35, ha="right")
    ax.set_yticks(range(n), ids)
    ax.set_xlabel("evaluated on task j")
    ax.set_ylabel("after training task i")
    for i in range(n):
        for j in range(n):
            value = grid[i][j]
            if value is not None:
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    color="white" if value < 0.6 else "black",
                )
    fig.colorbar(image, ax=ax, label="accuracy")
    ax.set_title("Accuracy matrix R[i][j]")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def reference_rows(
    state: RunState, reference: dict
) -> list[tuple[str, float | None, float | None]]:
    """(what, this run, reference) for the summary metrics and each task's final accuracy."""
    s = state.accuracy.summary() if state.completed else {}
    rows = [
        (label, s.get(key), reference["metrics"].get(key))
        for key, label in (("avg_acc", "AvgAcc"), ("bwt", "BWT"), ("forgetting", "Forgetting"))
    ]
    last = state.completed - 1
    final = dict(zip(reference["tasks"], reference["final_row"], strict=True))
    rows += [
        (f"final {t}", state.accuracy.get(last, j) if state.completed else None, final.get(t))
        for j, t in enumerate(state.task_ids)
    ]
    return rows


def reference_markdown(state: RunState, reference: dict) -> list[str]:
    lines = [
        "",
        f"## Beside the reference: {reference['label']}",
        "",
        (
            f"Reference run (not measured in this run): `{reference['command']}`, seed "
            f"{reference['seed']}, {reference['machine']}."
        ),
        "",
        "| | this run | reference |",
        "|---|---|---|",
    ]
    lines += [
        f"| {what} | {_f(mine) or 'n/a'} | {_f(theirs) or 'n/a'} |"
        for what, mine, theirs in reference_rows(state, reference)
    ]
    return lines


def report_markdown(state: RunState, title: str, reference: dict | None = None) -> str:
    ids = state.task_ids
    lines = [f"# {title}", ""]
    if not state.finished:
        lines += [
            (
                f"**Incomplete run: {state.progress} tasks learned.** The metrics cover the "
                "learned tasks only; `adaptive-learner resume RUN` continues it."
            ),
            "",
        ]
    if state.stopped:
        lines += [f"**Stopped:** {state.stopped}", ""]
    for r in state.reports:
        if r.health != "ok":
            lines += [
                f"**Warning — {r.task_id} {r.health.replace('_', ' ')}:** {r.health_reason}",
                "",
            ]
        if r.end_health != "ok":
            lines += [f"**Warning — {r.task_id} at the end:** {r.end_health_reason}", ""]
    lines += [
        "## Accuracy matrix R[i][j] (row: after training task i; column: evaluated on task j)",
        "",
    ]
    lines += ["| after \\ on | " + " | ".join(ids) + " |", "|---" * (len(ids) + 1) + "|"]
    lines.append(
        "| zero-shot | "
        + " | ".join(_f(state.accuracy.zero_shot.get(j)) for j in range(len(ids)))
        + " |"
    )
    for i in range(state.completed):
        lines.append(
            f"| {ids[i]} | "
            + " | ".join(_f(state.accuracy.get(i, j)) for j in range(len(ids)))
            + " |"
        )
    lines.append("| majority class | " + " | ".join(_f(state.majority.get(t)) for t in ids) + " |")
    if state.completed:
        last = state.completed - 1
        lines.append(
            "| balanced (final) | "
            + " | ".join(_f(state.balanced.get(last, j)) for j in range(len(ids)))
            + " |"
        )
        s = state.accuracy.summary()
        lines += [
            "",
            "## Metrics",
            "",
            "| metric | accuracy | balanced accuracy |",
            "|---|---|---|",
        ]
        b = state.balanced.summary()
        for key, label in (
            ("avg_acc", "AvgAcc"),
            ("bwt", "BWT"),
            ("bwt_clipped", "BWT (clipped)"),
            ("fwt", "FWT"),
            ("forgetting", "Forgetting"),
        ):
            lines.append(f"| {label} | {_f(s[key]) or 'n/a'} | {_f(b[key]) or 'n/a'} |")
        majority = sum(state.majority.values()) / len(state.majority) if state.majority else None
        lines.append(f"| mean majority-class accuracy | {_f(majority)} | |")
    if reference is not None:
        lines += reference_markdown(state, reference)
    lines += [
        "",
        "## Per task",
        "",
        (
            "| task | expert | decision | reason | epochs | best epoch | steps (rows, replayed "
            "included) | seconds | of them deciding | gamma/Fisher scale | health |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in state.reports:
        counted = f" ({r.train_rows})" if r.train_rows else ""
        lines.append(
            f"| {r.task_id} | {r.expert_id} | {r.decision.action} | {r.decision.reason} | "
            f"{r.epochs_run} | {r.best_epoch} | {r.train_steps}{counted} | {r.seconds:.1f} | "
            f"{r.routing_seconds:.1f} | {r.fisher_scale:.3f} | {r.health} |"
        )
    steps, rows = (
        sum(r.train_steps for r in state.reports),
        sum(r.train_rows for r in state.reports),
    )
    if steps:
        lines += [
            "",
            f"Training compute: {steps} optimiser steps"
            + (
                f", {rows} examples through a training forward (replayed included)."
                if rows
                else "."
            ),
        ]
    deciding = sum(r.routing_seconds for r in state.reports)
    upkeep = sum(r.router_seconds for r in state.reports)
    training = sum(r.training_seconds for r in state.reports)
    if deciding and training > 0:
        lines += [
            "",
            (
                f"Deciding: {deciding:.1f} s against {training:.1f} s of training, consolidation "
                f"and saving ({deciding / training:.2f}x; a probe copy's steps that go on as "
                "training count as training, docs/adr/0060)"
                + (
                    f"; the task-free router's keys and fits, in neither: {upkeep:.1f} s"
                    " (docs/adr/0063)."
                    if upkeep
                    else "."
                )
            ),
        ]
    lines += routing_markdown(state)
    lines += [
        "",
        "Formulas: docs/adr/0007-metrics.md. Heatmap: matrix.png. Long format: matrix.csv.",
        "",
    ]
    return "\n".join(lines)


def _to_task(ev: dict) -> str:
    to_task = ev.get("task_routing_accuracy")
    return "" if to_task is None else f" (**{_f(to_task)}** to the task itself)"


def routing_markdown(state: RunState) -> list[str]:
    """Routing and task-free accuracy beside the task-given figure, and every router decision."""
    router = state.router
    if router is None:
        return []
    lines = ["", "## Routing (docs/adr/0031, 0033)", ""]
    ev = router.evaluation
    if ev:
        lines += [
            (
                f"Task-free answering on the validation inputs ({ev.get('router_model', '')} "
                f"router): routing accuracy **{_f(ev['routing_accuracy'])}** to the task's expert"
                f"{_to_task(ev)}, task-free accuracy "
                f"**{_f(ev['task_free_accuracy'])}**, task-given accuracy "
                f"{_f(ev['task_given_accuracy'])}."
            ),
            "",
            "| task | routing accuracy | to the task itself | task-free accuracy | n |",
            "|---|---|---|---|---|",
        ]
        for task_id, p in ev.get("per_task", {}).items():
            lines.append(
                f"| {task_id} | {_f(p['routing_accuracy'])} | "
                f"{_f(p.get('task_routing_accuracy'))} | {_f(p['task_free_accuracy'])} | {p['n']} |"
            )
        lines.append("")
    lines += [
        (
            f"tau now {router.threshold.tau:.3f}; measured reuse outcomes: "
            f"{sum('works' in d for d in router.decisions)}."
        ),
        "",
        (
            "| step | task | decision | expert | cosine | probability | tau | works | reason | "
            "candidates (cosine / p_reuse, probe) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in router.decisions:
        scores = d.get("scores") or {}  # none where nothing read them (docs/adr/0065)
        cands = "; ".join(
            f"{e} {_cosine(scores.get(e))}/{d['probabilities'].get(e, 0.0):.2f}"
            f"{_probe_cell(d.get('probes', {}).get(e))}"
            for e in scores or d.get("probabilities", {})
        )
        tau = "" if d.get("tau") is None else f"{d['tau']:.3f}"
        works = "" if "works" not in d else _works(d)
        lines.append(
            f"| {d['step']} | {d['task']} | {d['action']} | {d['expert']} | "
            f"{_cosine(d['score'])} | "
            f"{d['probability']:.3f} | {tau} | {works} | {d['reason']} | {cands} |"
        )
    return lines


def _cosine(score: float | None) -> str:
    """A cosine in the decision table; '-' where the run did not compute it (docs/adr/0065)."""
    return "-" if score is None else f"{score:.3f}"


def _probe_cell(probe: dict | None) -> str:
    """A candidate's transfer probe (docs/adr/0034, 0040) in the decision table."""
    return f" ({ProbeResult.from_dict(probe).note()}, p {probe['p_probe']:.2f})" if probe else ""


def completed_rows(state: RunState) -> list[list[float | None]]:
    return [
        [
            state.accuracy.get(i, j) if i < state.completed else None
            for j in range(len(state.task_ids))
        ]
        for i in range(len(state.task_ids))
    ]


def write_report(run_dir: Path, state: RunState, reference: dict | None = None) -> Path:
    run_dir = Path(run_dir)
    atomic_write_json(
        run_dir / "matrix.json",
        {
            "accuracy": state.accuracy.to_dict(),
            "balanced_accuracy": state.balanced.to_dict(),
            "metrics": state.accuracy.summary() if state.completed else {},
            "majority": state.majority,
            "tasks_done": state.completed,
            "tasks_total": len(state.task_ids),
            "stopped": state.stopped,
        },
    )
    atomic_write_text(run_dir / "matrix.csv", matrix_csv(state))
    atomic_write_bytes(run_dir / "matrix.png", heatmap_png(state.task_ids, completed_rows(state)))
    atomic_write_text(
        run_dir / "report.md", report_markdown(state, f"Run {run_dir.name}", reference)
    )
    return run_dir / "report.md"


def _works(entry: dict) -> str:
    """'yes (forgetting 0.021 ± 0.041; earlier tasks +0.030 against its probe)': the measured
    outcome with the standard error it was judged against, and how far the earlier tasks ended from
    the probe's k steps (docs/adr/0048)."""
    se = f" ± {entry['forgetting_se']:.3f}" if "forgetting_se" in entry else ""
    gap = (
        f"; earlier tasks {entry['probe_gap']['mean']:+.3f} against its probe"
        if "probe_gap" in entry
        else ""
    )
    return f"{'yes' if entry['works'] else 'no'} (forgetting {entry['forgetting']:.3f}{se}{gap})"
