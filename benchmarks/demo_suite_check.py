"""Issue 31 item 3: does the shipped demo suite teach every task, and do its two decision tasks
mean what they say?

    python benchmarks/demo_suite_check.py OUT [--seeds 0,100,101] [--save]

Runs on the suite as the product writes it (src/adapters/data/demo_suite.py, seed 0 data), with
the main job's settings (preset "default": embedded SmolLM2-135M, 64 train / 24 dev / 80
validation examples, 2 epochs, batch 8, lr 1e-3):
- each task alone on a fresh expert, no replay: zero-shot, majority-class and final validation
  accuracy; the item asks for final >= 0.15 above both;
- two pairs after review_sentiment, each run with both tasks on one expert ("shared") and on two
  ("separate"), experience replay as in the main job: `product_sentiment` (a second domain: reuse
  should be right) and `stay_complaint` (the opposite yes: sharing should cost >= 0.05 on it or on
  review_sentiment).
The run seed draws the subsets and the LoRA init. The sample (tasks, pairs, seeds 0, 100, 101) was
fixed before the runs. Resumable: a finished run's OUT/results/<name>@s<seed>.json is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_learnability as screen  # the runner and table of the candidate screen

from adaptive_learner.adapters.data.demo_suite import (
    DEMO_TASK_NAMES,
    write_demo_suite,
)

STEM = "demo-suite-check-2026-12-07"
PAIRS = {
    "reuse:product_sentiment": ("review_sentiment", "product_sentiment"),
    "cost:stay_complaint": ("review_sentiment", "stay_complaint"),
}


def verdict(rows: list[dict]) -> str:
    lines = ["| check | seeds | result |", "|---|---|---|"]
    for name in DEMO_TASK_NAMES:
        runs = [r for r in rows if r["candidate"] == name]
        low = min(r["margin"] for r in runs)
        lines.append(
            f"| {name} learned alone (margin >= 0.15) | {len(runs)} | min margin {low:+.3f}: "
            f"{'yes' if low >= 0.15 else 'no'} |"
        )
    for name, (first, second) in PAIRS.items():
        runs = [r for r in rows if r["candidate"] == name]
        costs = [
            max(
                r["separate"]["second_final"] - r["shared"]["second_final"],
                r["separate"]["first_final"] - r["shared"]["first_final"],
            )
            for r in runs
        ]
        before = [r["shared"]["second_before"] - r["shared"]["zero_shot"][1] for r in runs]
        lines.append(
            f"| {second} on {first}'s expert: largest loss vs separate | {len(runs)} | "
            + ", ".join(f"{c:+.3f}" for c in costs)
            + "; on the shared expert before its own training, minus zero-shot: "
            + ", ".join(f"{b:+.3f}" for b in before)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="0,100,101", help="comma-separated run seeds")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/" + STEM)
    args = parser.parse_args()
    out = args.out.resolve()
    write_demo_suite(out / "data")
    screen.PAIRS.clear()
    screen.PAIRS.update(PAIRS)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in DEMO_TASK_NAMES:
            rows.append(screen.run_single(out, name, seed))
            print(json.dumps(rows[-1]), flush=True)
        for name in PAIRS:
            rows.append(screen.run_pair(out, name, seed))
            print(json.dumps(rows[-1]), flush=True)
    text = screen.table(rows) + "\n\n" + verdict(rows)
    print(text)
    if args.save:
        screen.RESULTS.mkdir(exist_ok=True)
        (screen.RESULTS / f"{STEM}.json").write_text(
            json.dumps({"machine": screen.machine(), "rows": rows}, indent=2) + "\n",
            encoding="utf-8",
        )
        (screen.RESULTS / f"{STEM}.md").write_text(
            f"# The shipped demo suite, checked (issue 31 item 3)\n\n{text}\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
