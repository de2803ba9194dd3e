"""Side by side: this project's naive sequence against the same sequence trained with HF
`Trainer` + PEFT.

    python benchmarks/hf_trainer_baseline.py [--preset default] [--tasks 3] [--set key=value ...]
    [--name NAME]

Both sides get the same model, the same prompts (adapters.hf.prompts), the same examples, the same
LoRA (rank, alpha, dropout, target modules), the same optimiser settings (AdamW, constant learning
rate, weight decay, gradient clipping), batch size and epochs, and one LoRA shared by every task
(naive sequential fine-tuning). Both produce the full accuracy matrix on the validation sets.

- this project: `RunSequence` with `routing.num_tasks_to_share_lora=-1`,
  `consolidation.replay='none'`, `consolidation.ewc_lambda=0`, `training.early_stopping=false`
  (the Trainer has no dev pass either);
- baseline: what a user writes: `Trainer` on prompt + answer token with answer-only labels
  (-100 elsewhere), right padding; scoring with the full model forward (`model(...).logits[:, -1]`,
  every position through the LM head), argmax over the label tokens, batch `eval_batch_size`, after
  each task on every task learned so far.

Prints one table and writes benchmarks/results/<name>.json: wall and CPU seconds of each side and
their ratio, both accuracy matrices, the machine and its load average (CPU timings on a shared
machine are distorted; the CPU-seconds ratio is the steadier figure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import torch
from run_preset import machine  # benchmarks/ is on sys.path when this file runs as a script

HERE = Path(__file__).resolve().parent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()

    def read(self) -> dict:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return {
            "wall_seconds": round(time.perf_counter() - self.wall, 2),
            "cpu_seconds": round(cpu_seconds() - self.cpu, 2),
        }


def naive_overrides(extra: list[str]) -> list[str]:
    return [
        "routing.num_tasks_to_share_lora=-1",
        "consolidation.replay='none'",
        "consolidation.ewc_lambda=0.0",
        "training.early_stopping=false",
        "run.tracker='null'",
        *extra,
    ]


# --- this project ----------------------------------------------------------------------------
def run_project(cfg, run_dir: Path, source=None, backbone=None) -> dict:
    """The project's sequence through its DI container; `backbone` replaces the HF loader
    (gpu_check's random model)."""
    from adaptive_learner.bootstrap.containers import make_container

    clock = Clock()
    container = make_container(cfg, run_dir)
    if source is not None:
        container.task_source.override(source)
    if backbone is not None:
        container.backbone.override(backbone)
    state = container.run_sequence()()
    return {**clock.read(), "matrix": state.accuracy.rows(), "metrics": state.accuracy.summary()}


# --- the HF Trainer baseline -----------------------------------------------------------------
class AnswerDataset(torch.utils.data.Dataset):
    def __init__(self, rows, labels, label_ids):
        self.items = [(list(r) + [label_ids[y]], len(r)) for r, y in zip(rows, labels, strict=True)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        ids, prompt = self.items[i]
        return {"input_ids": ids, "labels": [-100] * prompt + [ids[-1]]}


def make_collator(pad_id: int):
    def collate(batch):
        width = max(len(b["input_ids"]) for b in batch)
        # right padding, as Trainer users do
        pad = lambda seq, value: seq + [value] * (width - len(seq))
        return {
            "input_ids": torch.tensor([pad(b["input_ids"], pad_id) for b in batch]),
            "attention_mask": torch.tensor([pad([1] * len(b["input_ids"]), 0) for b in batch]),
            "labels": torch.tensor([pad(b["labels"], -100) for b in batch]),
        }

    return collate


@torch.inference_mode()
def user_score(model, tokenizer, rows, labels, label_ids, batch_size: int, device) -> float:
    """Accuracy as a user computes it: full forward, logits at the last position, argmax over the
    label tokens."""
    model.eval()
    correct = 0
    for s in range(0, len(rows), batch_size):
        chunk = rows[s : s + batch_size]
        enc = tokenizer.pad(
            {"input_ids": [list(r) for r in chunk]}, padding=True, return_tensors="pt"
        )  # left (tokenizer.padding_side)
        logits = model(
            input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)
        ).logits[:, -1]
        predicted = logits[:, list(label_ids)].argmax(-1).cpu()
        correct += int((predicted == torch.tensor(labels[s : s + batch_size])).sum())
    return correct / len(rows)


def run_trainer(cfg, model, tokenizer, source, device) -> dict:
    """Naive sequential LoRA with transformers.Trainer, scored after every task."""
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from adaptive_learner.adapters.hf.experts import default_targets
    from adaptive_learner.adapters.hf.prompts import encode_split, label_token_ids

    clock = Clock()
    tasks = source.load()
    t, lora = cfg.training, cfg.lora
    encode = lambda task, split: encode_split(
        tokenizer, task, getattr(source.data(task.id), split), cfg.data.max_length
    )
    splits = {
        task.id: (
            encode(task, "train"),
            encode(task, "validation"),
            label_token_ids(tokenizer, task),
        )
        for task in tasks
    }
    torch.manual_seed(cfg.run.seed)
    peft = get_peft_model(
        model,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules or default_targets(model.config.model_type),
            bias="none",
            task_type="CAUSAL_LM",
        ),
    )
    score = lambda task_id: user_score(
        peft,
        tokenizer,
        list(splits[task_id][1].ids),
        list(splits[task_id][1].labels),
        splits[task_id][2],
        t.eval_batch_size,
        device,
    )
    zero_shot = {}
    with peft.disable_adapter():
        for task in tasks:
            zero_shot[task.id] = score(task.id)
    matrix, train_seconds = [], 0.0
    for i, task in enumerate(tasks):
        train, _, label_ids = splits[task.id]
        args = TrainingArguments(
            output_dir=str(HERE / "out" / "hf-trainer"),
            per_device_train_batch_size=t.batch_size,
            num_train_epochs=t.epochs,
            learning_rate=t.learning_rate,
            weight_decay=t.weight_decay,
            max_grad_norm=t.max_grad_norm or 1e9,
            lr_scheduler_type="constant",
            warmup_steps=0,
            save_strategy="no",
            logging_strategy="no",
            eval_strategy="no",
            report_to=[],
            seed=cfg.run.seed,
            dataloader_num_workers=0,
            use_cpu=device.type == "cpu",
            bf16=device.type == "cuda",
            disable_tqdm=True,
            remove_unused_columns=False,
        )
        started = time.perf_counter()
        peft.train()
        Trainer(
            model=peft,
            args=args,
            train_dataset=AnswerDataset(train.ids, train.labels, label_ids),
            data_collator=make_collator(tokenizer.pad_token_id),
        ).train()
        train_seconds += time.perf_counter() - started
        matrix.append([score(tasks[j].id) if j <= i else None for j in range(len(tasks))])
    return {
        **clock.read(),
        "train_seconds": round(train_seconds, 2),
        "matrix": matrix,
        "zero_shot": zero_shot,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset",
        default="default",
        help="Preset giving model, data, prompts, LoRA and training settings.",
    )
    parser.add_argument(
        "--tasks", type=int, default=0, help="Use only the first N tasks of the preset (0 = all)."
    )
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], help="Config override section.key=value."
    )
    parser.add_argument(
        "--name", default="hf-trainer-baseline", help="Result file name under benchmarks/results/."
    )
    parser.add_argument(
        "--note",
        default="",
        help="Free text stored with the result (workload reductions, machine state).",
    )
    args = parser.parse_args()

    from adaptive_learner.adapters.data.sources import build_source
    from adaptive_learner.adapters.hf.loading import load_backbone, pick_device, quiet_transformers
    from adaptive_learner.bootstrap.config import load_config
    from adaptive_learner.bootstrap.runs import new_run_dir

    quiet_transformers()
    cfg = load_config(args.preset, naive_overrides([*args.sets, "run.output_dir='benchmarks/out'"]))
    if args.tasks:
        names = list(build_source(cfg).load().ids)[: args.tasks]
        cfg = load_config(
            args.preset,
            naive_overrides(
                [
                    *args.sets,
                    "run.output_dir='benchmarks/out'",
                    "data.tasks=[" + ", ".join(repr(n) for n in names) + "]",
                ]
            ),
        )
    device = pick_device(cfg.run.device)
    load_before = os.getloadavg()
    project = run_project(cfg, new_run_dir(cfg))
    model, tokenizer = load_backbone(cfg.model, device)
    trainer = run_trainer(cfg, model, tokenizer, build_source(cfg), device)
    result = {
        "name": args.name,
        "preset": args.preset,
        "overrides": naive_overrides(args.sets),
        "tasks": args.tasks or "all",
        "machine": machine(),
        "platform": platform.platform(),
        "load_average_before_after": [load_before, os.getloadavg()],
        "note": args.note,
        "project": project,
        "hf_trainer": trainer,
        "ratio_wall": round(project["wall_seconds"] / trainer["wall_seconds"], 3),
        "ratio_cpu": round(project["cpu_seconds"] / trainer["cpu_seconds"], 3),
    }
    print(f"{'':24}{'this project':>14}{'HF Trainer':>14}{'ratio':>8}")
    for key in ("wall_seconds", "cpu_seconds"):
        print(
            f"{key:24}{project[key]:>14.1f}{trainer[key]:>14.1f}{project[key] / trainer[key]:>8.2f}"
        )
    final = lambda m: [round(v, 3) for v in m[-1] if v is not None]
    print(
        f"{'final accuracy row':24}{final(project['matrix'])!s:>14}  {final(trainer['matrix'])!s}"
    )
    out = HERE / "results" / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
