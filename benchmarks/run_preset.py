"""Run a preset (with overrides) on the real backbone and save its figures.

    python benchmarks/run_preset.py NAME --preset glue5 --set data.tasks="['sst2']" [--seeds 0,1,2]

Prints the accuracy matrix and metrics and writes benchmarks/results/NAME.json (matrices, metrics,
per-task wall time, config, machine) plus a row in benchmarks/results/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.bootstrap.containers import make_container
from adaptive_learner.bootstrap.runs import new_run_dir
from adaptive_learner.domain.metrics import mean_std


def machine() -> str:
    import torch

    cpu = "cpu"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{platform.node()} {cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help="Name of this benchmark row / result file.")
    parser.add_argument("--preset", default="glue5", help="Preset to run.")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], help="Config override section.key=value."
    )
    parser.add_argument("--seeds", default="0", help="Comma-separated seeds.")
    parser.add_argument(
        "--joint",
        action="store_true",
        help="Multitask joint-training baseline instead of the sequence.",
    )
    parser.add_argument(
        "--note", default="", help="Free text stored with the row (what was shortened and why)."
    )
    args = parser.parse_args()

    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        cfg = load_config(
            args.preset, [*args.sets, f"run.seed={seed}", "run.output_dir='benchmarks/out'"]
        )
        run_dir = new_run_dir(cfg)
        started = time.perf_counter()
        if args.joint:
            result = make_container(cfg, run_dir).train_jointly()()
            runs.append(
                {
                    "seed": seed,
                    "run_dir": str(run_dir),
                    "wall_seconds": round(time.perf_counter() - started, 1),
                    "metrics": {"avg_acc": result.avg_acc, "bwt": 0.0, "forgetting": 0.0},
                    "balanced_avg_acc": result.balanced_avg_acc,
                    "majority": result.majority,
                    "scores": {k: v.accuracy for k, v in result.scores.items()},
                }
            )
            print(json.dumps(runs[-1]))
            continue
        state = make_container(cfg, run_dir).run_sequence()()
        wall = time.perf_counter() - started
        summary = state.accuracy.summary()
        runs.append(
            {
                "seed": seed,
                "run_dir": str(run_dir),
                "wall_seconds": round(wall, 1),
                "metrics": summary,
                "balanced_avg_acc": state.balanced.avg_acc(),
                "accuracy": state.accuracy.to_dict(),
                "balanced_accuracy": state.balanced.to_dict(),
                "majority": state.majority,
                "task_seconds": {r.task_id: round(r.seconds, 1) for r in state.reports},
                "epochs": {r.task_id: r.epochs_run for r in state.reports},
                "fisher_scales": {r.task_id: round(r.fisher_scale, 3) for r in state.reports},
            }
        )
        print(
            json.dumps(
                {"seed": seed, "wall_seconds": round(wall, 1), **{k: v for k, v in summary.items()}}
            )
        )
        print("R =", json.dumps(state.accuracy.rows()))
    agg = {}
    for key in ("avg_acc", "bwt", "forgetting"):
        agg[key] = mean_std([r["metrics"][key] for r in runs])
    agg["balanced_avg_acc"] = mean_std([r["balanced_avg_acc"] for r in runs])
    majority = sum(runs[0]["majority"].values()) / len(runs[0]["majority"])
    result = {
        "name": args.name,
        "preset": args.preset,
        "overrides": args.sets,
        "note": args.note,
        "machine": machine(),
        "aggregate": agg,
        "mean_majority": majority,
        "runs": runs,
        "date": time.strftime("%Y-%m-%d"),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    fmt = lambda m: f"{m[0]:.3f} ± {m[1]:.3f}" if len(runs) > 1 else f"{m[0]:.3f}"
    row = (
        f"| {args.name} | {args.preset} {' '.join(args.sets)} | {args.seeds} | "
        f"{fmt(agg['avg_acc'])} | {fmt(agg['balanced_avg_acc'])} | {fmt(agg['bwt'])} | "
        f"{fmt(agg['forgetting'])} | {majority:.3f} | {sum(r['wall_seconds'] for r in runs):.0f} | "
        f"{args.note} |\n"
    )
    table = HERE / "results" / "RESULTS.md"
    if not table.exists():
        table.write_text(
            f"Machine: {machine()}\n\n| name | preset / overrides | seeds | AvgAcc | balanced "
            "AvgAcc | BWT | forgetting | mean majority | wall s | note "
            "|\n|---|---|---|---|---|---|---|---|---|---|\n"
        )
    with table.open("a") as handle:
        handle.write(row)
    print(row)


if __name__ == "__main__":
    main()
