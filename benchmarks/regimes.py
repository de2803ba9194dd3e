"""Issue 31 item 5: does the adaptive router pay off without being told the regime?

    python benchmarks/regimes.py size  --seed 100 --tag T   # learnability of item 2's tasks at a size
    python benchmarks/regimes.py arms  --seeds 0-7          # every arm of both regimes, resumable
    python benchmarks/regimes.py table                      # the table and the targets

Routing item 2's sequence (SST-2, AG News, SST-2b = SST-2's other half, DBpedia, Yelp) under two
consolidation regimes, each with three arms (the adaptive router, always-new, always-shared):
- `replay`: the consolidation hybrid (preset cl-hybrid: gamma-gated EWC + CMT latent replay of every
  earlier task on each step), as routing item 2 ran it;
- `rehearsal-free`: the same preset without replay (no stored examples or latents; EWC kept).

The confound of routing item 2 (64 examples x 1 epoch: tasks undertrained, so replay's extra steps
lift an always-shared LoRA's early tasks) is removed by size: every task trains until its dev
accuracy stops improving (early stopping, patience and an epoch cap), at a size where each task is
learned; each arm's training steps and rows (replayed rows included) are reported beside its AvgAcc.
The protocol (tasks, sizes, seeds, regimes, arms) is benchmarks/regimes-protocol.json, committed
before the reported runs; `size` chooses it on seeds >= 100 only.

Rehearsal-free always-new is replay always-new bit for bit (each expert holds one task, nothing to
replay; verified on seed 0): its later seeds take the replay run's figures, marked `same_as`.

Resumable: each run writes benchmarks/results/regimes/<regime>-<arm>-s<seed>.json and is skipped
when that file exists. Each run is recorded with the machine's load average at its start and end
(a 2-core VM: another job beside a run distorts its seconds by far more than 2x).
"""  # noqa: E501  (this text is the --help description, printed as written)

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from routing import DATA, ITEM2, LAYERS, repeat_farm  # the same tasks and data
from run_preset import machine

from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.bootstrap.containers import make_container
from adaptive_learner.bootstrap.runs import new_run_dir, repair_run

PROTOCOL = HERE / "regimes-protocol.json"
OUT = HERE / "results" / "regimes"
REGIMES = {"replay": [], "rehearsal-free": ["consolidation.replay='none'"]}
ARMS = {
    "adaptive": ["routing.strategy='adaptive'"],
    "always-new": ["routing.strategy='schedule'", "routing.num_tasks_to_share_lora=1"],
    "always-shared": ["routing.strategy='schedule'", "routing.num_tasks_to_share_lora=-1"],
}
# An arm that is another regime's arm bit for bit: always-new gives each task an expert of its own,
# which never holds an earlier task to replay (its consolidation is even skipped: the expert learns
# no later task), so without replay it trains exactly as with it. Verified on seed 0 before any
# other seed ran (rehearsal-free-always-new-s0.json and replay-always-new-s0.json: the same matrix,
# metrics, steps, rows and routing); later seeds take the twin's figures, marked `same_as`.
SAME = {("rehearsal-free", "always-new"): "replay"}
# issue 31 item 5: a task within 0.05 of its zero-shot or majority class is not learned
LEARNED_MARGIN = 0.05


def overrides(seed: int, size: dict, extra: list[str]) -> list[str]:
    return [
        f"routing.embedding_layers={LAYERS}",
        f"run.seed={seed}",
        "run.output_dir='benchmarks/out'",
        "run.tracker='null'",
        "run.name='regimes'",
        f"data.tasks={json.dumps(ITEM2)}",
        f"data.data_dir='{repeat_farm()}'",
        f"data.train_samples_per_task={size['train']}",
        f"data.validation_samples_per_task={size['validation']}",
        f"data.dev_samples_per_task={size['dev']}",
        f"training.epochs={size['epochs']}",
        f"training.patience={size['patience']}",
        "training.early_stopping=true",
        "routing.k_examples_for_prototype=16",
        "routing.use_advanced_embeddings=true",
        *extra,
    ]


def run(seed: int, size: dict, extra: list[str], name: str) -> dict:
    """One sequence; the figures of its state (matrix, steps, seconds, routing evaluation).

    OUT/<name>.run names the run folder once it exists: a run killed with its session (the
    product's runs are crash-safe, docs/adr/0016) is resumed from its last saved task, not
    started again."""
    cfg = load_config("cl-hybrid", overrides(seed, size, extra))
    marker = OUT / f"{name}.run"
    resumed = marker.exists() and Path(marker.read_text().strip()).is_dir()
    if resumed:
        run_dir = Path(marker.read_text().strip())
        repair_run(run_dir, cfg, [], [])
    else:
        run_dir = new_run_dir(cfg)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{run_dir.resolve()}\n")  # absolute: resumable from any directory
    load = os.getloadavg()[0]
    started = time.perf_counter()
    state = make_container(cfg, run_dir).run_sequence()()
    wall = time.perf_counter() - started
    reports = state.reports
    ids = state.task_ids
    acc = state.accuracy.to_dict()
    final = acc["rows"][-1]  # the run's last row: every task after the whole sequence
    evaluation = state.router.evaluation if state.router else {}
    return {
        "seed": seed,
        "sets": extra,
        # the routing settings the run resolved (defaults included): which rule a result is of
        "routing_config": attrs.asdict(cfg.routing),
        "run_dir": str(run_dir),
        "wall_seconds": round(wall, 1),  # of the last process only when resumed
        "resumed": resumed,
        "task_seconds": round(sum(r.seconds for r in reports), 1),
        "load_at_start": round(load, 2),
        "load_at_end": round(os.getloadavg()[0], 2),
        "metrics": state.accuracy.summary(),
        "accuracy": acc,
        "majority": [state.majority.get(t) for t in ids],
        "final": dict(zip(ids, final, strict=True)),
        "experts": len(state.library),
        "owners": {t: state.library.expert_for(t).id for t in state.library.learned_tasks()},
        "train_steps": sum(r.train_steps for r in reports),
        "train_rows": sum(r.train_rows for r in reports),
        "deciding_seconds": round(sum(r.routing_seconds for r in reports), 1),
        # the task-free router's keys and fits (ADR 0063): neither deciding nor training
        "router_seconds": round(sum(r.router_seconds for r in reports), 1),
        "training_seconds": round(sum(r.training_seconds for r in reports), 1),
        "per_task": [
            {
                "task": r.task_id,
                "action": str(r.decision.action),
                "expert": r.expert_id,
                "epochs": r.epochs_run,
                "train_steps": r.train_steps,
                "train_rows": r.train_rows,
                "seconds": round(r.seconds, 1),
                "deciding_seconds": round(r.routing_seconds, 1),
                "router_seconds": round(r.router_seconds, 1),
            }
            for r in reports
        ],
        "routing": {k: v for k, v in evaluation.items() if k != "per_task"},
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def learned(result: dict) -> dict[str, bool]:
    """Per task: final validation accuracy more than LEARNED_MARGIN above both its zero-shot and
    its majority-class accuracy."""
    zero = dict(zip(result["accuracy"]["task_ids"], result["accuracy"]["zero_shot"], strict=True))
    majority = dict(zip(result["accuracy"]["task_ids"], result["majority"], strict=True))
    return {
        t: acc > max(zero[t], majority[t] or 0.0) + LEARNED_MARGIN
        for t, acc in result["final"].items()
    }


def save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)  # a killed run leaves no half-written result
    print(f"wrote {path}", flush=True)


# --- stages ---------------------------------------------------------------------------------------
def size_stage(seed: int, tag: str, size: dict, arm: str) -> None:
    """Learnability at `size` on a settings seed (>= 100): one arm, each task judged learned."""
    if seed < 100:
        sys.exit("size: settings are chosen on seeds >= 100 only")
    path = OUT / f"size-{tag}-{arm}-s{seed}.json"
    if not path.exists():
        result = run(seed, size, ARMS[arm], path.stem)
        save(path, {"stage": "size", "size": size, "arm": arm, **result})
    result = json.loads(path.read_text())
    ok = learned(result)
    for t, acc in result["final"].items():
        print(f"{t:10s} final {acc:.3f}  learned {ok[t]}")
    print(f"wall {result['wall_seconds']} s, steps {result['train_steps']}")


def arms_stage(seeds: list[int], regimes: list[str], arms: list[str]) -> None:
    protocol = json.loads(PROTOCOL.read_text())
    if protocol.get("tasks", ITEM2) != ITEM2:
        sys.exit(f"{PROTOCOL}: tasks {protocol['tasks']} are not the sequence this script runs")
    for seed in seeds:
        for regime in regimes:
            for arm in arms:
                path = OUT / f"{regime}-{arm}-s{seed}.json"
                if path.exists():
                    continue
                twin = (
                    OUT / f"{SAME[regime, arm]}-{arm}-s{seed}.json"
                    if (regime, arm) in SAME
                    else None
                )
                if twin is not None and twin.exists():
                    print(f"{regime} {arm} seed {seed}: the same run as {twin.stem}", flush=True)
                    figures = {**json.loads(twin.read_text()), "same_as": twin.stem}
                    save(
                        path, {**figures, "regime": regime, "sets": [*REGIMES[regime], *ARMS[arm]]}
                    )
                    continue
                print(f"{regime} {arm} seed {seed} ...", flush=True)
                result = run(seed, protocol["size"], [*REGIMES[regime], *ARMS[arm]], path.stem)
                save(path, {"stage": "arms", "regime": regime, "arm": arm, **result})


def table(seeds: list[int]) -> str:
    lines = [
        "| regime | arm | seeds | AvgAcc (mean) | BWT | experts | steps | rows | task-free"
        + " | deciding / training (s) | runs with every task learned |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    means: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    fewer: dict[tuple[str, str], bool] = {}  # every run used fewer experts than tasks
    for regime in REGIMES:
        for arm in ARMS:
            found = [
                json.loads(p.read_text())
                for s in seeds
                if (p := OUT / f"{regime}-{arm}-s{s}.json").exists()
            ]
            if not found:
                continue
            avg = statistics.mean(r["metrics"]["avg_acc"] for r in found)
            means[regime, arm], counts[regime, arm] = avg, len(found)
            fewer[regime, arm] = all(r["experts"] < len(r["final"]) for r in found)
            task_free = [r["routing"].get("task_free_accuracy") for r in found]
            task_free = [x for x in task_free if x is not None]
            learned_all = sum(all(learned(r).values()) for r in found)
            free = f"{statistics.mean(task_free):.3f}" if task_free else "-"
            same = sum("same_as" in r for r in found)  # another regime's run, bit for bit
            runs = f"{len(found)}" + (f" ({same} same as {SAME[regime, arm]})" if same else "")
            lines.append(
                f"| {regime} | {arm} | {runs} | {avg:.3f} |"
                f" {statistics.mean(r['metrics']['bwt'] for r in found):+.3f} |"
                f" {statistics.mean(r['experts'] for r in found):.1f} |"
                f" {statistics.mean(r['train_steps'] for r in found):.0f} |"
                f" {statistics.mean(r['train_rows'] for r in found):.0f} | {free} |"
            )
            lines[-1] += (
                f" {sum(r['deciding_seconds'] for r in found):.0f} /"
                f" {sum(r['training_seconds'] for r in found):.0f} |"
                f" {learned_all} of {len(found)} runs |"
            )
    for regime in REGIMES:
        if not all((regime, a) in means for a in ARMS):
            continue
        if any(counts[regime, a] < len(seeds) for a in ARMS):  # nothing judged on part of them
            have = min(counts[regime, a] for a in ARMS)
            lines.append(f"\n{regime}: not judged; an arm has {have} of its {len(seeds)} seeds")
        else:
            best = max(means[regime, "always-new"], means[regime, "always-shared"])
            worst = min(means[regime, "always-new"], means[regime, "always-shared"])
            a = means[regime, "adaptive"]
            lines.append(
                f"\n{regime}: adaptive {a:.3f}; best fixed - 0.01 = {best - 0.01:.3f} "
                f"({'met' if a >= best - 0.01 else 'missed'}); worst fixed + 0.03 = "
                f"{worst + 0.03:.3f} ({'met' if a >= worst + 0.03 else 'missed'}); fewer experts"
                f" than tasks in every run ({'met' if fewer[regime, 'adaptive'] else 'missed'})"
            )
    return "\n".join(lines)


def seed_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=("size", "arms", "table"), help="What to run.")
    parser.add_argument("--seed", type=int, default=100, help="size: the settings seed (>= 100).")
    parser.add_argument("--seeds", default="0-7", help="arms/table: seeds, e.g. 0-7 or 0,1,2.")
    parser.add_argument("--tag", default="", help="size: a name for the candidate size.")
    parser.add_argument("--train", type=int, default=256, help="size: train examples per task.")
    parser.add_argument("--epochs", type=int, default=4, help="size: epoch cap per task.")
    parser.add_argument("--patience", type=int, default=1, help="size: early-stopping patience.")
    parser.add_argument("--dev", type=int, default=96, help="size: dev examples per task.")
    parser.add_argument("--validation", type=int, default=200, help="size: validation examples.")
    parser.add_argument("--arm", default="always-new", choices=list(ARMS), help="size: the arm.")
    parser.add_argument(
        "--regimes", default=",".join(REGIMES), help="arms: regimes to run, comma-separated."
    )
    parser.add_argument("--arms", default=",".join(ARMS), help="arms: arms, comma-separated.")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"no task data at {DATA}")
    if args.stage == "size":
        size = {
            "train": args.train,
            "epochs": args.epochs,
            "patience": args.patience,
            "dev": args.dev,
            "validation": args.validation,
        }
        size_stage(args.seed, args.tag or "x", size, args.arm)
    elif args.stage == "arms":
        arms_stage(seed_list(args.seeds), args.regimes.split(","), args.arms.split(","))
    else:
        text = table(seed_list(args.seeds))
        print(text)
        (OUT / "SUMMARY.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
