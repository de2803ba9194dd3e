"""Issue 31 item 4: where an adaptive run's seconds go, per task and per kind of backbone call.

    python benchmarks/decision_profile.py OUT.json [--seed 100] [--regime replay] [--set KEY=VALUE]

Runs the regimes benchmark's adaptive arm (benchmarks/regimes-protocol.json: routing item 2's five
tasks at the reported size) once, with timers around the HF backbone's scoring (labelled by the
function that asked for it, bare backbone or expert, and task), the probe's trial copies and their
steps, training epochs, early-stopping validation, consolidation, the profiler (task profiles,
routing-key embeddings) and the learned router's fit. Timers are inclusive (a trial holds its steps
and scores) and count remembered scores (docs/adr/0063) as calls of ~0 s. Writes OUT.json with the
timers, the run's per-task figures (deciding, training) and its final accuracies, and prints them.
Time it with nothing else on the CPU: another job distorts a 2-core VM's seconds by far more than 2x.
"""  # noqa: E501

from __future__ import annotations

import argparse
import collections
import inspect
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import regimes  # the same protocol, tasks and run folder handling

from adaptive_learner.adapters.hf import backbone, profiles, sessions
from adaptive_learner.adapters.routing import learned
from adaptive_learner.application import learn_task

SECONDS: dict[tuple, float] = collections.defaultdict(float)
CALLS: dict[tuple, int] = collections.defaultdict(int)
CURRENT = {"task": None}  # the task being learned (None: before the first, the zero-shot pass)
TIMED = [  # (class, method, labelled by its caller)
    (backbone.HFBackbone, "score", True),
    (backbone.HFBackbone, "trial", False),
    (backbone.HFBackbone, "consolidate", False),
    (sessions.HFSession, "train_steps", False),
    (sessions.HFSession, "train_epoch", False),
    (sessions.HFSession, "validate", False),
    (profiles.HFProfiler, "task_blocks", True),
    (profiles.HFProfiler, "embed_inputs", True),
    (learned.LearnedRouter, "fit", False),
]


def timed(cls, name: str, by_caller: bool = False) -> None:
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        tag = name
        if by_caller:
            tag += f"<{inspect.stack()[1].function}"
            if name == "score":
                task = args[1] if len(args) > 1 else kwargs.get("task")
                tag += f":{'bare' if args[0] is None else 'expert'}:{getattr(task, 'id', '?')}"
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            SECONDS[(CURRENT["task"], tag)] += time.perf_counter() - started
            CALLS[(CURRENT["task"], tag)] += 1

    setattr(cls, name, wrapper)


def instrument() -> None:
    learn = learn_task.LearnTask.__call__

    def learn_one(self, state, step, task):
        CURRENT["task"] = task.id
        return learn(self, state, step, task)

    learn_task.LearnTask.__call__ = learn_one
    for cls, name, by_caller in TIMED:
        timed(cls, name, by_caller)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to write the timers (JSON)")
    parser.add_argument("--seed", type=int, default=100, help="run seed (default 100, settings).")
    parser.add_argument(
        "--regime", default="replay", choices=sorted(regimes.REGIMES), help="consolidation regime."
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override after the arm's own, e.g. routing.decision_dev_examples=64 "
        "(repeatable).",
    )
    args = parser.parse_args()
    protocol = json.loads(regimes.PROTOCOL.read_text())
    instrument()
    extra = regimes.REGIMES[args.regime] + regimes.ARMS["adaptive"] + args.sets
    suffix = "".join(  # routing.decision_dev_examples=64 -> -decision_dev_examples64
        "-{}{}".format(key.rsplit(".", 1)[-1], value.strip("'\""))
        for key, _, value in (s.partition("=") for s in args.sets)
    )
    result = regimes.run(
        args.seed, protocol["size"], extra, f"profile-{args.regime}-s{args.seed}{suffix}"
    )
    timers = {
        f"{task}|{tag}": [round(s, 2), CALLS[(task, tag)]]
        for (task, tag), s in sorted(SECONDS.items(), key=lambda kv: str(kv[0]))
    }
    out = {
        "seed": args.seed,
        "regime": args.regime,
        "sets": args.sets,
        "timers (task|call: inclusive seconds, calls)": timers,
        **{k: result[k] for k in ("per_task", "final", "wall_seconds", "machine", "date")},
        **{k: result[k] for k in ("metrics", "experts", "majority", "accuracy", "routing")},
        **{k: result.get(k) for k in ("deciding_seconds", "router_seconds", "training_seconds")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for key, (seconds, calls) in timers.items():
        print(f"{key:60s} {seconds:8.2f} s  {calls} call(s)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
