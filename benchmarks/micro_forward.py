"""CPU-seconds of the answer forward on the embedded model: plain vs shared-prefix, and a replay
step with n memories in one batched forward vs one forward per memory (1 thread, process time, so a
machine shared with other jobs distorts it less than wall time).

    python benchmarks/micro_forward.py  # prints a table, writes
                                        # benchmarks/results/micro-forward.json
"""

from __future__ import annotations

import json
import random
import time
import warnings
from pathlib import Path

import torch

from adaptive_learner.adapters.data.sources import build_source
from adaptive_learner.adapters.hf import prefix, scoring
from adaptive_learner.adapters.hf.backbone import HFBackbone
from adaptive_learner.adapters.hf.loading import load_backbone, pick_device, quiet_transformers
from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.domain.consolidation import ConsolidationPolicy

HERE = Path(__file__).resolve().parent


def cpu(f, n=3) -> float:
    f()
    start = time.process_time()
    for _ in range(n):
        f()
    return (time.process_time() - start) / n


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    quiet_transformers()
    cfg = load_config("default")
    device = pick_device("cpu")
    model, tokenizer = load_backbone(cfg.model, device)
    source = build_source(cfg)
    b = HFBackbone(
        model,
        tokenizer,
        source,
        lora=cfg.lora,
        training=cfg.training,
        max_length=cfg.data.max_length,
        seed=0,
        run_dir=None,
        base_name="smollm2",
    )
    tasks = source.load()
    rows = list(b.encoded(tasks[0], "validation").ids[:32])
    out = {"machine": "2-core CPU dev VM, shared with other jobs; 1 thread, process CPU seconds"}
    with torch.inference_mode():
        ids, mask = scoring.collate(rows, b.pad_id, device)
        out["scoring_plain_s"] = cpu(lambda: scoring.answer_logits(b.experts.model, ids, mask))
        out["scoring_prefix_s"] = cpu(
            lambda: prefix.answer_logits(b.experts.model, rows, b.pad_id, device)
        )
    b.new_expert("e0")
    policy = ConsolidationPolicy(replay="experience", replay_tasks_per_step=-1)
    for t in tasks[:3]:
        b.consolidate("e0", t, policy, 1.0)
    kept, model_, named = b.consolidation["e0"], b.experts.model.train(), b.experts.parameters("e0")

    def step(batched):
        def run():
            loss = kept.extra_loss(
                model_,
                named,
                "e0",
                tasks[3].id,
                policy,
                random.Random(0),
                8,
                b.pad_id,
                forward=b.forward,
                batched=batched,
            )
            loss.backward()

        return run

    out["replay3_loop_s"], out["replay3_batched_s"] = cpu(step(False)), cpu(step(True))
    for k, v in out.items():
        print(f"{k:24} {v if isinstance(v, str) else f'{v:.3f}'}")
    (HERE / "results" / "micro-forward.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
