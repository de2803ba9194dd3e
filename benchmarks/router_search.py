"""Nearest-expert search at library scale: decision latency and recall@5 of ProfileIndex against
exact search.

    python benchmarks/router_search.py [--sizes 10000,100000] [--dim 640] [--queries 200]

Synthetic expert profiles: points near a low-rank subspace (rank 32) plus isotropic noise,
L2-normalised -- related tasks share directions, as real profiles do; isotropic random vectors
(`--rank 0`) are the worst case for any graph index and are reported when asked for. A "decision" is
one `search(profile, 5)` call with a plain tuple, as the router makes it. Also measured: the full
build, and adding one expert to a built index (`rebuild` is incremental). Writes
benchmarks/results/router_search.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from run_preset import machine  # benchmarks/ is on sys.path when this file runs as a script

from adaptive_learner.adapters.routing.search import DEFAULT_EXACT_LIMIT, ProfileIndex, recall_at_k

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic(
    n: int, dim: int, rank: int, rng: np.random.Generator, basis: np.ndarray | None
) -> np.ndarray:
    if rank == 0:
        x = rng.standard_normal((n, dim))
    else:
        # noise at 0.3 of the signal's norm: neighbours are close but not duplicates
        x = rng.standard_normal((n, rank)) @ basis + 0.3 * np.sqrt(rank) * rng.standard_normal(
            (n, dim)
        )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def measure(n: int, dim: int, rank: int, queries: int, seed: int, exact_limit: int) -> dict:
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim)) if rank else None
    x = synthetic(n + 1, dim, rank, rng, basis)
    items = {f"expert-{i}": row for i, row in enumerate(x[:n])}
    qs = [tuple(q.tolist()) for q in synthetic(queries, dim, rank, rng, basis)]

    exact = ProfileIndex(exact_limit=n)
    exact.rebuild(items)
    t = time.perf_counter()
    truth = [[k for k, _ in exact.search(q, 5)] for q in qs]
    exact_ms = 1000 * (time.perf_counter() - t) / len(qs)

    index = ProfileIndex(exact_limit=exact_limit)
    t = time.perf_counter()
    index.rebuild(items)
    build_s = time.perf_counter() - t
    latencies, found = [], []
    for q in qs:
        t = time.perf_counter()
        found.append([k for k, _ in index.search(q, 5)])
        latencies.append(1000 * (time.perf_counter() - t))
    items["expert-new"] = x[n]
    t = time.perf_counter()
    index.rebuild(items)
    add_s = time.perf_counter() - t
    return {
        "experts": n,
        "dim": dim,
        "rank": rank,
        "queries": queries,
        "path": "usearch HNSW" if index.uses_ann else "exact",
        "recall_at_5": round(recall_at_k(found, truth), 4),
        "ms_per_decision_median": round(statistics.median(latencies), 3),
        "ms_per_decision_p95": round(float(np.percentile(latencies, 95)), 3),
        "exact_ms_per_decision": round(exact_ms, 3),
        "build_s": round(build_s, 2),
        "add_one_expert_s": round(add_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="Comma-separated library sizes (number of expert profiles).",
    )
    parser.add_argument(
        "--dim",
        type=int,
        default=640,
        help="Profile dimension (about a SmolLM2 triple-signal profile).",
    )
    parser.add_argument(
        "--rank",
        type=int,
        default=32,
        help="Rank of the profiles' shared subspace; 0 = isotropic random.",
    )
    parser.add_argument("--queries", type=int, default=200, help="Decisions timed per size.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the synthetic profiles.")
    parser.add_argument(
        "--exact-limit",
        type=int,
        default=DEFAULT_EXACT_LIMIT,
        help="ProfileIndex cut-off (exact at or below).",
    )
    parser.add_argument(
        "--note",
        default="2-core CPU dev VM, shared with other jobs (timings distorted, often >2x)",
        help="Machine note saved with the figures.",
    )
    parser.add_argument("--name", default="router_search", help="Base name of the result files.")
    args = parser.parse_args()

    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        row = measure(n, args.dim, args.rank, args.queries, args.seed, args.exact_limit)
        rows.append(row)
        print(json.dumps(row), flush=True)
    where = f"{machine()}; {args.note}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(
        json.dumps({"machine": where, "args": vars(args), "rows": rows}, indent=2) + "\n"
    )
    head = (
        "| experts | dim | rank | path | recall@5 | ms/decision (median) | p95 | exact ms/decision "
        "| build s | add one s |"
    )
    lines = [
        f"# Nearest-expert search ({args.name})",
        "",
        f"Machine: {where}",
        "",
        head,
        "|" + "---|" * 10,
    ]
    for r in rows:
        lines.append(
            f"| {r['experts']} | {r['dim']} | {r['rank']} | {r['path']} | {r['recall_at_5']:.3f} | "
            f"{r['ms_per_decision_median']:.2f} | {r['ms_per_decision_p95']:.2f} | "
            f"{r['exact_ms_per_decision']:.2f} | {r['build_s']:.1f} | {r['add_one_expert_s']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
