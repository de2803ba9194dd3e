"""Where does a non-finite loss come from on a GPU? A short diagnostic for the next GPU slot.

    python benchmarks/gpu_nan_probe.py            # CUDA: Gemma-2B shape, bf16
    python benchmarks/gpu_nan_probe.py --tiny     # CPU: the same on a tiny shape (tests run this)

The first gpu_check on an H200 (benchmarks/README.md, 2026-11-29) stopped the sl-f workload under
compile=reduce-overhead with "training loss became nan" in the first epoch of task 2, the first task
trained with the EWC penalty and latent replay. This script runs the first two sl-f tasks (2 epochs,
so task 2 again reuses task 1's expert with the Fisher, the EWC penalty and the latent memory) under
each compile mode asked for, and checks every part of the loss as it is made: the answer loss, the
Fisher tensors, the EWC penalty, the latent memory's tensors and the replay terms. It prints the
first non-finite part of each run and how often each part was checked (one host sync per check:
timings of this script are not the product's). It also times the eager training step at batch
4 x 128 with and without prompt-prefix sharing and bf16 autocast, to see where the eager step's time
goes. Writes benchmarks/results/gpu-nan-probe-<tiny|full>.json (and a copy to $OUT when set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gpu_check import (
    GEMMA_2B,
    TINY,
    Patches,
    backbone_factory,
    build_config,
    demo_tokenizer,
    gemma_model,
    train_step_ms,
)
from hf_trainer_baseline import machine, run_project


class Watch(Patches):
    """Wraps functions so that each result (a tensor, a dict or list of them, or an object with
    `.tensors`) is checked for non-finite values; remembers the first part that was not finite."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}
        self.first: dict | None = None

    def wrap(self, owner, name: str, part: str) -> None:
        self.patch(owner, name, lambda original: self._checked(original, part))

    def _checked(self, original, part: str):
        def checked(*args, **kwargs):
            out = original(*args, **kwargs)
            self.calls[part] = self.calls.get(part, 0) + 1
            bad = _non_finite(out)
            if bad is not None and self.first is None:
                self.first = {
                    "part": part,
                    "call": self.calls[part],
                    "where": bad,
                    "calls_so_far": dict(self.calls),
                }
                print(f"first non-finite: {part} (call {self.calls[part]}, {bad})", flush=True)
            return out

        return checked


def _non_finite(out, path: str = "") -> str | None:
    if isinstance(out, torch.Tensor):
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            return (
                f"{path or 'value'}: {int((~torch.isfinite(out)).sum())} of {out.numel()} "
                f"non-finite, dtype {out.dtype}"
            )
        return None
    items = (
        out.items()
        if isinstance(out, dict)
        else enumerate(out)
        if isinstance(out, list | tuple)
        else None
    )
    if items is None and hasattr(out, "tensors"):
        items = out.tensors.items()
    for key, value in items or ():
        bad = _non_finite(value, f"{path}/{key}")
        if bad is not None:
            return bad
    return None


def watch_parts(watch: Watch) -> None:
    from adaptive_learner.adapters.hf import backbone as bb
    from adaptive_learner.adapters.hf import consolidation as cons
    from adaptive_learner.adapters.hf import replay

    watch.wrap(bb, "batch_loss", "answer loss")
    watch.wrap(cons.fisher_math, "diagonal_fisher", "Fisher")
    watch.wrap(cons.fisher_math, "ewc_penalty", "EWC penalty")
    watch.wrap(replay.LatentReplay, "build", "latent memory")
    watch.wrap(replay.ExperienceReplay, "build", "experience memory")
    watch.wrap(cons, "batched_replay", "replay terms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="Tiny Gemma shape on CPU.")
    parser.add_argument(
        "--modes",
        default="none,reduce-overhead",
        help="Compile modes to run the two tasks under, in order.",
    )
    parser.add_argument("--epochs", type=int, default=2, help="Epochs per task.")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Result JSON (default benchmarks/results/gpu-nan-probe-<tiny|full>.json).",
    )
    args = parser.parse_args()

    from adaptive_learner.adapters.data.demo_suite import write_demo_suite
    from adaptive_learner.adapters.data.sources import build_source
    from adaptive_learner.adapters.hf.loading import quiet_transformers

    quiet_transformers()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    shape, dtype = (
        (TINY, torch.float32)
        if args.tiny
        else (GEMMA_2B, torch.bfloat16 if device.type == "cuda" else torch.float32)
    )
    out = args.out or HERE / "results" / f"gpu-nan-probe-{'tiny' if args.tiny else 'full'}.json"
    results: dict = {
        "machine": machine(),
        "device": str(device),
        "dtype": str(dtype),
        "step_ms": {},
        "runs": {},
        "failures": {},
    }
    started = time.perf_counter()

    def save() -> None:
        results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
        text = json.dumps(results, indent=2, default=str)
        out.write_text(text)
        if os.environ.get("OUT"):
            (Path(os.environ["OUT"]) / out.name).write_text(text)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ADAPTIVE_LEARNER_CACHE"] = tmp
        base = build_config(args.tiny, "none", [])
        write_demo_suite(Path(tmp) / "demo-suite-v2")
        source = build_source(base)
        tokenizer = demo_tokenizer(source, shape["vocab_size"])
        two = list(source.load().ids)[:2]
        sets = [
            f"data.tasks={two!r}",
            f"training.epochs={args.epochs}",
            f"training.patience={args.epochs}",
        ]

        # the eager step, piece by piece
        for name, options in (
            ("eager, prefix shared, autocast", {}),
            ("eager, no prefix sharing, autocast", {"share_prefix": False}),
            ("eager, no prefix sharing, no autocast", {"share_prefix": False, "autocast": "off"}),
        ):
            try:
                ms = 1000 * train_step_ms(
                    gemma_model(shape, device, dtype), tokenizer, base, device, "none", **options
                )
                results["step_ms"][name] = round(ms, 2)
                print(f"| train step 4 x 128, {name} | {ms:.1f} ms |", flush=True)
            except Exception:  # noqa: BLE001
                results["failures"][f"step {name}"] = traceback.format_exc()[-2000:]
            save()

        for mode in args.modes.split(","):
            cfg = build_config(args.tiny, mode, sets)
            source = build_source(cfg)
            watch = Watch()
            watch_parts(watch)
            run_dir = Path(tmp) / f"run-{mode}"
            run_dir.mkdir()
            t0 = time.perf_counter()
            entry: dict = {}
            try:
                entry.update(
                    run_project(
                        cfg,
                        run_dir,
                        source,
                        backbone_factory(
                            cfg, gemma_model(shape, device, dtype), tokenizer, source, run_dir
                        ),
                    )
                )
            except Exception as exc:  # noqa: BLE001  the divergence itself is the finding
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            finally:
                watch.restore()
                torch._dynamo.reset()
            entry.update(
                seconds=round(time.perf_counter() - t0, 1),
                first_non_finite=watch.first,
                checks=watch.calls,
            )
            results["runs"][mode] = entry
            print(
                f"| two sl-f tasks, compile={mode} | {entry.get('error', 'finished')} | first "
                f"non-finite: {watch.first} | {entry['seconds']} s |",
                flush=True,
            )
            save()
    save()
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
