"""Turn a finished run folder into a shipped reference result (`run.reference`, docs/adr/0027).

    python benchmarks/make_reference.py RUN_DIR NAME --label TEXT --command TEXT --machine TEXT

Writes src/bootstrap/presets/NAME.reference.json: the run's task ids, final accuracy row, diagonal,
summary metrics, seed, and where and how it was measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adaptive_learner.bootstrap.runs import run_config, run_state

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="A finished run folder.")
    parser.add_argument("name", help="Reference name (run.reference).")
    parser.add_argument(
        "--label", required=True, help="What the reference is, e.g. 'naive (no replay)'."
    )
    parser.add_argument("--command", required=True, help="The command that produced the run.")
    parser.add_argument("--machine", required=True, help="Where it ran.")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Write here instead of src/bootstrap/presets/NAME.reference.json.",
    )
    args = parser.parse_args()
    state, cfg = run_state(args.run_dir), run_config(args.run_dir)
    if state.completed != len(state.task_ids):
        raise SystemExit(
            f"{args.run_dir}: the run is not finished ({state.completed}/{len(state.task_ids)} "
            "tasks)"
        )
    last = state.completed - 1
    reference = {
        "name": args.name,
        "backbone": cfg.run.backbone,
        "label": args.label,
        "command": args.command,
        "machine": args.machine,
        "seed": cfg.run.seed,
        "run": args.run_dir.name,
        "tasks": list(state.task_ids),
        "final_row": [state.accuracy.get(last, j) for j in range(len(state.task_ids))],
        "diagonal": [state.accuracy.get(j, j) for j in range(len(state.task_ids))],
        "metrics": state.accuracy.summary(),
        "seconds_per_task": [round(r.seconds, 1) for r in state.reports],
    }
    out = args.out or HERE.parent / "src" / "bootstrap" / "presets" / f"{args.name}.reference.json"
    out.write_text(json.dumps(reference, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
