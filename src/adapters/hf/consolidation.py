"""What one expert keeps of the tasks it learned: online-EWC Fisher and anchors, replay memories.

The state lives per expert, is copied on fork, and is saved beside the expert's PEFT files as
`consolidation.safetensors` (every tensor) + `consolidation.json` (small metadata), so nothing is
pickled and a resumed run continues from identical tensors. Parameter keys carry no adapter name
(the `.{}.` form of PeftExperts.state), so a fork or a reload under another id lines up.
Decisions: docs/adr/0013-online-ewc.md, docs/adr/0014-replay.md.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import torch
from attrs import define, field
from safetensors.torch import load_file
from safetensors.torch import save as save_bytes

from adaptive_learner.adapters.errors import BackboneError, StorageError
from adaptive_learner.adapters.hf import fisher as fisher_math
from adaptive_learner.adapters.hf.experts import neutral
from adaptive_learner.adapters.hf.replay import (
    ExperienceReplay,
    LatentReplay,
    experience_losses,
    latent_losses,
    memory_from_tensors,
)
from adaptive_learner.adapters.storage import atomic_write_bytes, atomic_write_json
from adaptive_learner.domain.consolidation import ConsolidationPolicy, ReplayKind
from adaptive_learner.domain.task import Task

TENSORS, META = "consolidation.safetensors", "consolidation.json"
LATENT_KINDS = (ReplayKind.CMT, ReplayKind.PCGR)


def check_replay_point(policy: ConsolidationPolicy, first_layer: int) -> None:
    if policy.replay in LATENT_KINDS and first_layer == 0:
        raise BackboneError(
            f"latent replay ({policy.replay}) needs frozen layers below the replay point, but LoRA "
            "adapts every layer; set lora.first_layer >= 1 (e.g. half the layers), or use "
            "consolidation.replay='experience'"
        )


@define
class ExpertConsolidation:
    """Online-EWC state and per-task replay memories of one expert."""

    fisher: dict[str, torch.Tensor] = field(factory=dict)
    anchors: dict[str, torch.Tensor] = field(factory=dict)
    fisher_log: list[dict] = field(factory=list)  # [{"task": id, "fisher_scale": s}] in order
    replay: dict[str, ExperienceReplay | LatentReplay] = field(factory=dict)

    def copy(self) -> ExpertConsolidation:
        """An independent copy (a fork must not share tensors with its parent)."""
        clone = lambda d: {k: v.clone() for k, v in d.items()}
        memories = {
            t: memory_from_tensors(_meta(m), clone(m.tensors)) for t, m in self.replay.items()
        }
        return ExpertConsolidation(
            clone(self.fisher), clone(self.anchors), [dict(e) for e in self.fisher_log], memories
        )

    def __bool__(self) -> bool:
        return bool(self.fisher or self.replay)

    # --- the extra loss while the expert learns a later task --------------------------------
    def replayed_rows(self, task_id: str, policy: ConsolidationPolicy, batch_size: int) -> int:
        """Rows `extra_loss` replays per step while the expert learns `task_id` (the compute a
        step spends on earlier tasks, reported beside the task's own rows)."""
        earlier = sum(t != task_id for t in self.replay)
        if not policy.uses_replay or not earlier:
            return 0
        return policy.replayed_per_step(earlier) * batch_size

    def extra_loss(
        self,
        model,
        params: dict,
        expert_id: str,
        task_id: str,
        policy: ConsolidationPolicy,
        rng: random.Random,
        batch_size: int,
        pad_id: int,
        forward=None,
        batched: bool = True,
        world=None,
    ) -> torch.Tensor | None:
        """EWC penalty plus one replayed batch per replayed earlier task (None when
        nothing applies).

        `batched` runs the replayed batches of every chosen memory in one forward (docs/adr/0026);
        False is the one-forward-per-memory reference it is tested against."""
        loss = None
        if self.fisher and policy.ewc_lambda > 0:
            named = {neutral(n): p for n, p in params.items()}
            loss = fisher_math.ewc_penalty(named, self.anchors, self.fisher, policy.ewc_lambda)
            # every process adds it: its gradient is summed W times
            if world is not None and world.distributed:
                loss = loss / world.size
        earlier = sorted(t for t in self.replay if t != task_id)
        if policy.uses_replay and earlier:
            # One earlier task per step (the default) keeps the cost flat in the number of tasks;
            # replay_tasks_per_step > 1 or -1 replays several (each with its own batch and
            # full weight).
            count = policy.replayed_per_step(len(earlier))
            picks = []
            for task in [rng.choice(earlier)] if count == 1 else rng.sample(earlier, count):
                memory = self.replay[task]
                picks.append((memory, [rng.randrange(len(memory)) for _ in range(batch_size)]))
            weight = 1.0
            # each process replays its shard of every drawn batch
            if world is not None and world.distributed:
                weight = world.share(picks[0][1])
                picks = [(memory, world.shard(index)) for memory, index in picks]
                picks = [p for p in picks if p[1]]
            kw = {
                "pad_id": pad_id,
                "forward": forward,
                "alpha": policy.replay_alpha,
                "feature_alpha": policy.feature_replay_alpha,
            }
            terms = (
                batched_replay(picks, model, kw)
                if batched
                else [memory.loss(model, index, **kw) for memory, index in picks]
            )
            for term in terms if picks else []:
                term = term * weight if weight != 1.0 else term
                loss = term if loss is None else loss + term
        return loss

    # --- persistence ------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        tensors = {f"fisher/{k}": v for k, v in self.fisher.items()} | {
            f"anchor/{k}": v for k, v in self.anchors.items()
        }
        memories = []
        for i, (task_id, memory) in enumerate(sorted(self.replay.items())):
            memories.append({"task": task_id, **_meta(memory), "bytes": memory.nbytes()})
            tensors |= {f"replay/{i}/{k}": v for k, v in memory.tensors.items()}
        meta = {"version": 1, "fisher_log": self.fisher_log, "replay": memories}
        # In-memory serialisation + the run's atomic writer: a full disk is a one-line StorageError.
        atomic_write_bytes(
            folder / TENSORS,
            save_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()}),
        )
        atomic_write_json(folder / META, meta)

    @classmethod
    def load(cls, folder: Path, device: torch.device) -> ExpertConsolidation:
        if not (folder / META).exists():
            return cls()  # an expert trained without EWC or replay
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"{folder / META}: cannot read consolidation metadata ({exc})"
            ) from None
        try:
            tensors = load_file(str(folder / TENSORS), device=str(device))
        # safetensors raises its own error types for corrupt files
        except Exception as exc:  # noqa: BLE001
            raise StorageError(
                f"{folder / TENSORS}: cannot load consolidation state ({exc})"
            ) from None
        part = lambda prefix: {
            k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)
        }
        replay = {
            m["task"]: memory_from_tensors(m, part(f"replay/{i}/"))
            for i, m in enumerate(meta["replay"])
        }
        return cls(part("fisher/"), part("anchor/"), meta["fisher_log"], replay)


def batched_replay(picks: list, model, kw: dict) -> list[torch.Tensor]:
    """One forward for all chosen experience memories, one for all latent ones; anything
    else alone."""
    experience = [p for p in picks if isinstance(p[0], ExperienceReplay)]
    latent = [p for p in picks if isinstance(p[0], LatentReplay)]
    terms = [
        memory.loss(model, index, **kw)
        for memory, index in picks
        if not isinstance(memory, ExperienceReplay | LatentReplay)
    ]
    if experience:
        terms.append(experience_losses(experience, model, kw["pad_id"], kw["forward"]))
    if latent:
        terms.append(
            latent_losses(latent, model, alpha=kw["alpha"], feature_alpha=kw["feature_alpha"])
        )
    return terms


def _meta(memory: ExperienceReplay | LatentReplay) -> dict:
    return {"kind": memory.kind, "layer": getattr(memory, "layer", None)}


def consolidate_task(
    backbone, expert_id: str, task: Task, policy: ConsolidationPolicy, fisher_scale: float
) -> None:
    """After `task` was learned: accumulate its Fisher and move the anchors, and/or store its
    replay memory."""
    state = backbone.consolidation.setdefault(expert_id, ExpertConsolidation())
    experts, data, label_ids = (
        backbone.experts,
        backbone.encoded(task, "train"),
        backbone.label_ids(task),
    )
    experts.activate(expert_id)
    # dropout off: Fisher and teacher targets are of the trained expert itself
    model = experts.model.eval()
    seed = zlib.crc32(f"{backbone.seed}:{expert_id}:{task.id}".encode())
    if policy.uses_ewc:
        rng = random.Random(seed)
        pick = sorted(
            rng.sample(range(len(data)), min(policy.ewc_data_loader_num_samples, len(data)))
        )
        params = experts.parameters(expert_id)
        with backbone.forward.gradients():
            new = fisher_math.diagonal_fisher(
                model,
                params,
                [data.ids[i] for i in pick],
                label_ids,
                gold=[data.labels[i] for i in pick],
                kind=str(policy.fisher),
                batch_size=policy.ewc_batch_size,
                pad_id=backbone.pad_id,
                device=backbone.device,
                generator=torch.Generator().manual_seed(seed),
                method=backbone.fisher_method,
            )
        state.fisher = fisher_math.accumulate(
            state.fisher, {neutral(n): f for n, f in new.items()}, fisher_scale
        )
        state.anchors = experts.state(expert_id)
        state.fisher_log.append({"task": task.id, "fisher_scale": fisher_scale})
    if policy.uses_replay:
        check_replay_point(policy, experts.first_layer)
        memory: ExperienceReplay | LatentReplay
        if policy.replay is ReplayKind.EXPERIENCE:
            memory = ExperienceReplay.build(
                task.id,
                data.ids,
                data.labels,
                label_ids,
                policy.replay_budget_bytes,
                random.Random(seed),
            )
        else:
            memory = LatentReplay.build(
                str(policy.replay),
                task.id,
                model,
                data.ids,
                data.labels,
                label_ids,
                layer=experts.first_layer,
                budget=policy.replay_budget_bytes,
                batch_size=policy.replay_backbone_encoding_batch_size,
                pad_id=backbone.pad_id,
                generator=torch.Generator().manual_seed(seed),
            )
        state.replay[task.id] = memory.to(backbone.device)
