"""Which hidden states, and how many inputs per task, the learned router needs (issue 10, item 1).

Chosen on the unreported seeds 100 and 101, never on the reported seed 0. For each seed: the six
item-1 tasks' inputs are embedded once by the bare embedded SmolLM2 (every hidden state,
mean-pooled, raw input text as a query gets it), then the product's LinearRouter is fitted on
  * the 64 training inputs, or 64 training + 32 dev inputs (what the router saw before / after
    docs/adr/0039), or the first n of 320 training inputs (n = 64 ... 320),
and scored on the 100 validation inputs per task, for single layers and concatenations.

    python benchmarks/routing_layers.py          # ~15 min on 2 cores; writes
                                                 # results/routing-layers-s100-101.{json,md}
    python benchmarks/routing_layers.py --table  # the .md again from the .json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import routing as R
from run_preset import machine

from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.hf.prompts import length_batches
from adaptive_learner.adapters.routing.learned import LinearRouter
from adaptive_learner.bootstrap.config import load_config
from adaptive_learner.bootstrap.containers import build_task_source, make_container
from adaptive_learner.bootstrap.runs import new_run_dir

SEEDS = (100, 101)
LAYER_SETS = ([20], [30], [10, 20], [8, 15, 22], [6, 11, 20], [5, 10, 15, 20, 25])
SIZES = (64, 128, 192, 256, 320)


def embed_all(seed: int, train: int, dev: int) -> dict:
    cfg = load_config(
        "cl-learnable",
        R.overrides(seed, R.SIX, 1.1)
        + [f"data.train_samples_per_task={train}", f"data.dev_samples_per_task={dev}"],
    )
    source = build_task_source(cfg)
    backbone = make_container(cfg, new_run_dir(cfg)).backbone()
    decoder = scoring.base_model(backbone.experts.model).get_decoder()

    def pooled(texts):
        rows = [
            tuple(
                backbone.tokenizer(t, add_special_tokens=False)["input_ids"][: backbone.max_length]
            )
            or (backbone.pad_id,)
            for t in texts
        ]
        out = [None] * len(rows)
        with torch.inference_mode():
            for batch in length_batches([len(r) for r in rows], 32):
                ids, mask = scoring.collate(
                    [rows[i] for i in batch], backbone.pad_id, backbone.device
                )
                hs = decoder(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                    output_hidden_states=True,
                ).hidden_states
                for j, v in zip(
                    batch,
                    torch.stack([scoring.mean_pool(h.float(), mask) for h in hs], 1),
                    strict=True,
                ):
                    out[j] = v
        return torch.stack(out)

    # as HFProfiler joins a pair
    text = lambda e: e.text if e.text_pair is None else f"{e.text}\n{e.text_pair}"
    out = {}
    for split in ("train", "dev", "validation"):
        xs, ys = [], []
        for task in source.load():
            rows = getattr(source.data(task.id), split)
            xs += [text(e) for e in rows]
            ys += [task.id] * len(rows)
        out[split] = (pooled(xs), ys)
    return out


def accuracy(train: list, layers: list[int], validation) -> float:
    x = torch.cat([v[:, layers].flatten(1) for v, _ in train])
    y = [label for _, labels in train for label in labels]
    router = LinearRouter("bare")
    router.fit(x.tolist(), y)
    vx, vy = validation
    p = router.predict_proba(vx[:, layers].flatten(1).tolist())
    return sum(max(q, key=q.get) == t for q, t in zip(p, vy, strict=True)) / len(vy)


def first_n(split, n: int):
    x, y = split
    keep = [i for task in dict.fromkeys(y) for i in [j for j, t in enumerate(y) if t == task][:n]]
    return x[keep], [y[i] for i in keep]


def main() -> None:
    torch.set_num_threads(2)
    result, started = {"seeds": list(SEEDS), "pool": {}, "size": {}}, time.perf_counter()
    for seed in SEEDS:
        small = embed_all(seed, 64, 32)
        big = embed_all(seed, 320, 1)  # validation is its own file: the same 100 inputs per task
        for layers in LAYER_SETS:
            key = str(layers)
            result["pool"].setdefault(key, {})[seed] = {
                "train 64": accuracy([small["train"]], layers, small["validation"]),
                "train 64 + dev 32": accuracy(
                    [small["train"], small["dev"]], layers, small["validation"]
                ),
            }
            result["size"].setdefault(key, {})[seed] = {
                n: accuracy([first_n(big["train"], n)], layers, big["validation"]) for n in SIZES
            }
            print(seed, key, result["pool"][key][seed], result["size"][key][seed], flush=True)
    result |= {
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d"),
    }
    (R.RESULTS / "routing-layers-s100-101.json").write_text(json.dumps(result, indent=2) + "\n")
    table(result)


def table(result: dict) -> None:
    seeds = [str(s) for s in result["seeds"]]
    # 64 of 320 = the 64-input column
    sizes = [n for n in next(iter(result["size"].values()))[seeds[0]] if n != "64"]
    lines = [
        "# Routing accuracy by hidden states and router data (unreported seeds 100, 101)",
        "",
        (
            f"Machine: {result['machine']}. Generated by `benchmarks/routing_layers.py`; "
            "LinearRouter (product defaults), six item-1 tasks, 100 validation inputs per task, "
            "bare SmolLM2-135M."
        ),
        "",
        (
            "Cells: seed 100 / seed 101. Columns 3+: the first n of 320 training inputs per task "
            "(the first 64 are the 64 of column 1)."
        ),
        "",
        "| layers | train 64 | train 64 + dev 32 | "
        + " | ".join(f"train {n}" for n in sizes)
        + " |",
        "|---" * (3 + len(sizes)) + "|",
    ]
    for key in result["pool"]:
        pool, size = result["pool"][key], result["size"][key]
        cell = lambda a, b: f"{a:.3f} / {b:.3f}"
        lines.append(
            f"| {key} | {cell(*(pool[s]['train 64'] for s in seeds))} | "
            f"{cell(*(pool[s]['train 64 + dev 32'] for s in seeds))} | "
            + " | ".join(cell(*(size[s][n] for s in seeds)) for n in sizes)
            + " |"
        )
    (R.RESULTS / "routing-layers-s100-101.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        table(json.loads((R.RESULTS / "routing-layers-s100-101.json").read_text()))
    else:
        main()
