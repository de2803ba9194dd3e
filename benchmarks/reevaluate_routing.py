"""Routing and task-free accuracy of a finished run under another router, without retraining.

    python benchmarks/reevaluate_routing.py RUN_DIR --router-model linear --out FILE.json

The run folder is copied to a scratch folder first (the run itself is never changed); its experts
are loaded, the task keys rebuilt and the end-of-run evaluation rerun through RouteQuery with
`routing.router_model` set as given. Prints the figures and writes them, with the machine, as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_preset import machine

from adaptive_learner.application.evaluate_routing import EvaluateRouting
from adaptive_learner.bootstrap.containers import make_container
from adaptive_learner.bootstrap.runs import run_config, run_state


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="A finished run folder written by `run`.")
    parser.add_argument(
        "--router-model",
        default="linear",
        choices=["cosine", "linear", "mlp"],
        help="The router to evaluate (routing.router_model).",
    )
    parser.add_argument("--out", type=Path, required=True, help="Where the JSON figures go.")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="reevaluate-")) / "run"
    shutil.copytree(args.run_dir, scratch)
    try:
        cfg = run_config(scratch)
        routing = attrs.evolve(cfg.routing, router_model=args.router_model)
        cfg = attrs.evolve(cfg, routing=routing, run=attrs.evolve(cfg.run, tracker="null"))
        container, state = make_container(cfg, scratch), run_state(scratch)
        for expert in state.library:
            container.backbone().load_expert(expert.id, expert.adapter_ref)
        saved = dict(state.router.evaluation) if state.router else {}
        if state.router is not None:
            state.router.task_keys, state.router.evaluation = {}, {}
        started = time.perf_counter()
        ev = EvaluateRouting(container.route_query(), container.examples(), container.tracker())(
            state
        )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    result = {
        "run_dir": str(args.run_dir),
        "router_model": args.router_model,
        "evaluation": ev,
        "saved_evaluation": saved,
        "seconds": round(seconds, 1),
        "machine": machine(),
    }
    print(json.dumps({k: v for k, v in ev.items() if k != "per_task"}), f"{seconds:.1f} s")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
