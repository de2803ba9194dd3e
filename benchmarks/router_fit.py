"""Seconds to fit LinearRouter / MLPRouter on CPU at library sizes, and their accuracy on
held-out points.

    python benchmarks/router_fit.py [--dim 640] [--keys 6,60] [--per-key 100]

Synthetic data: one Gaussian blob per key (centres 0.15 N(0,1), points at std 1.5 around them, so
the classes overlap a little). Writes benchmarks/results/router_fit.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from run_preset import machine  # benchmarks/ is on sys.path when this file runs as a script

from adaptive_learner.adapters.routing.learned import LinearRouter, MLPRouter

RESULTS = Path(__file__).resolve().parent / "results"


def blobs(keys: int, per_key: int, dim: int, seed: int) -> tuple[list, list, list, list]:
    g = torch.Generator().manual_seed(seed)
    centres = 0.15 * torch.randn(keys, dim, generator=g)
    x = centres.repeat_interleave(2 * per_key, 0) + 1.5 * torch.randn(
        2 * per_key * keys, dim, generator=g
    )
    y = [f"task-{i}" for i in range(keys) for _ in range(2 * per_key)]
    rows = [tuple(r) for r in x.tolist()]
    return rows[0::2], y[0::2], rows[1::2], y[1::2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dim", type=int, default=640, help="Vector dimension.")
    parser.add_argument(
        "--keys", default="6,60", help="Comma-separated numbers of keys (experts or tasks)."
    )
    parser.add_argument(
        "--per-key", type=int, default=100, help="Training vectors per key (as many are held out)."
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    parser.add_argument(
        "--note",
        default="2-core CPU dev VM, shared with other jobs (timings distorted, often >2x)",
        help="Machine note saved with the figures.",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for keys in [int(k) for k in args.keys.split(",")]:
        train_x, train_y, test_x, test_y = blobs(keys, args.per_key, args.dim, seed=0)
        for make in (LinearRouter, MLPRouter):
            router = make("synthetic")
            t = time.perf_counter()
            stats = router.fit(train_x, train_y, seed=0)
            fit_s = time.perf_counter() - t
            probs = router.predict_proba(test_x)
            held_out = sum(
                max(p, key=p.get) == y for p, y in zip(probs, test_y, strict=True)
            ) / len(test_y)
            row = {
                "kind": router.kind,
                "keys": keys,
                "examples": len(train_y),
                "dim": args.dim,
                "fit_s": round(fit_s, 2),
                "train_accuracy": round(stats["train_accuracy"], 4),
                "held_out_accuracy": round(held_out, 4),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    where = f"{machine()}; {args.note}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "router_fit.json").write_text(
        json.dumps({"machine": where, "args": vars(args), "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# Learned-router fit cost",
        "",
        f"Machine: {where}",
        "",
        "| kind | keys | train examples | dim | fit s | train acc | held-out acc |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['kind']} | {r['keys']} | {r['examples']} | {r['dim']} | {r['fit_s']:.2f} | "
        f"{r['train_accuracy']:.3f} | {r['held_out_accuracy']:.3f} |"
        for r in rows
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "router_fit.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
