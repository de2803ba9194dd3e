"""Issue 31 item 4: the adaptive main job's cost beside the same suite under a fixed schedule.

    python benchmarks/main_job_cost.py OUT [--seed 0] [--arms schedule,adaptive]

Runs `adaptive-learner run` (the README's main job, embedded SmolLM2 on the demo suite) once per
arm, one after the other in this process's machine, each in its own subprocess so one arm's caches
cannot help another: `schedule` (the former default: the first three tasks share one LoRA) and
`adaptive` (today's default, no flags). Resumable by arm: an arm whose OUT/<arm>/result.json exists
is not run again. Prints and writes OUT/summary.md and OUT/summary.json: wall time, AvgAcc, BWT,
experts, routing and task-free accuracy, and per task the seconds spent deciding (with the probe and
the outcome record) beside the seconds spent training.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ARMS = {
    "schedule": ["routing.strategy='schedule'", "routing.num_tasks_to_share_lora=3"],
    "adaptive": [],
}


def run_arm(out: Path, arm: str, seed: int) -> dict:
    folder = out / arm
    done = folder / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "adaptive_learner.bootstrap.cli", "run", "--seeds", str(seed)]
    cmd += ["--output-dir", str(folder / "runs"), "--set", "run.tracker='jsonl'"]
    for s in ARMS[arm]:
        cmd += ["--set", s]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with open(folder / "stdout.txt", "w") as so, open(folder / "stderr.txt", "w") as se:
        subprocess.run(cmd, check=True, stdout=so, stderr=se)
    wall = time.perf_counter() - started
    (state_file,) = (folder / "runs").glob("*/state.json")
    state = json.loads(state_file.read_text())
    result = {"arm": arm, "command": cmd[1:], "wall_s": wall, "load_at_start": load}
    result |= summarise(state)
    done.write_text(json.dumps(result, indent=1) + "\n")
    return result


def summarise(state: dict) -> dict:
    from adaptive_learner.application.state import RunState

    s = RunState.from_dict(state)
    reports = state["reports"]
    evaluation = (state.get("router") or {}).get("evaluation", {})
    return {
        "avg_acc": s.accuracy.avg_acc(),
        "bwt": s.accuracy.bwt(),
        "experts": len(state["library"]["experts"]),
        "routing_accuracy": evaluation.get("routing_accuracy"),
        "task_routing_accuracy": evaluation.get("task_routing_accuracy"),
        "task_free_accuracy": evaluation.get("task_free_accuracy"),
        "task_given_accuracy": evaluation.get("task_given_accuracy"),
        "tasks": [
            {
                "task": r["task_id"],
                "action": r["decision"]["action"],
                "expert": r["expert_id"],
                "seconds": r["seconds"],
                "routing_seconds": r.get("routing_seconds", 0.0),
                "router_seconds": r.get("router_seconds", 0.0),
                "train_steps": r.get("train_steps", 0),
                "train_rows": r.get("train_rows", 0),
            }
            for r in reports
        ],
    }


def table(results: dict[str, dict]) -> str:
    head = "| arm | wall | AvgAcc | BWT | experts | routing (expert / task) | task-free |"
    rows = [
        head + " deciding / training (s) | router keys and fits (s) |"
        " steps (rows, replayed included) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, r in results.items():
        decide = sum(t["routing_seconds"] for t in r["tasks"])
        upkeep = sum(t.get("router_seconds", 0.0) for t in r["tasks"])  # ADR 0063: neither
        train = sum(t["seconds"] for t in r["tasks"]) - decide - upkeep
        ra, rt, tf = r["routing_accuracy"], r["task_routing_accuracy"], r["task_free_accuracy"]
        steps = sum(t.get("train_steps", 0) for t in r["tasks"])
        seen = sum(t.get("train_rows", 0) for t in r["tasks"])
        rows.append(
            f"| {arm} | {r['wall_s']:.0f} s | {r['avg_acc']:.3f} | {r['bwt']:+.3f} | "
            f"{r['experts']} | {ra:.3f} / {rt:.3f} | {tf:.3f} | {decide:.0f} / {train:.0f} | "
            f"{upkeep:.0f} | {steps} ({seen}) |"
        )
    if {"schedule", "adaptive"} <= set(results):
        ratio = results["adaptive"]["wall_s"] / results["schedule"]["wall_s"]
        rows.append(f"\nadaptive / schedule wall time: **{ratio:.2f}x** (target <= 1.25x)")
    rows.append("\nPer task (adaptive): seconds deciding / seconds in all")
    for t in results.get("adaptive", {}).get("tasks", []):
        rows.append(
            f"- {t['task']}: {t['action']} {t['expert']}, "
            f"{t['routing_seconds']:.1f} s / {t['seconds']:.1f} s"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Folder for the arms' runs and the summary.")
    parser.add_argument("--seed", type=int, default=0, help="Run seed of both arms.")
    parser.add_argument(
        "--arms", default="schedule,adaptive", help="Comma-separated arms, run in this order."
    )
    args = parser.parse_args()
    results = {arm: run_arm(args.out, arm, args.seed) for arm in args.arms.split(",")}
    text = table(results)
    print(text)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
