"""The HF backbone: Learner, AdapterStore and Encoder over a frozen causal LM with LoRA experts."""

from __future__ import annotations

import contextlib
import shutil
import zlib
from pathlib import Path

import torch

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.errors import BackboneError
from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.hf.consolidation import (
    ExpertConsolidation,
    check_replay_point,
    consolidate_task,
)
from adaptive_learner.adapters.hf.distributed import World, world_from_env
from adaptive_learner.adapters.hf.experts import PeftExperts
from adaptive_learner.adapters.hf.forward import AnswerForward
from adaptive_learner.adapters.hf.prompts import (
    Encoded,
    clip,
    encode_example,
    encode_split,
    label_token_ids,
    length_batches,
)
from adaptive_learner.adapters.hf.score_memo import ScoreMemo
from adaptive_learner.adapters.hf.sessions import HFJointSession, HFSession
from adaptive_learner.adapters.hf.trials import KeptTrials, trial_id
from adaptive_learner.adapters.progress import progress
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import Task

PROFILE_EXAMPLES = 32


class HFBackbone:
    """Frozen transformers model + PEFT experts; see docs/adr/0011-label-scoring.md."""

    def __init__(
        self,
        model,
        tokenizer,
        source,
        *,
        lora,
        training,
        max_length: int,
        seed: int,
        run_dir: Path | None,
        base_name: str,
        world: World | None = None,
    ):
        self.tokenizer, self.source, self.training = tokenizer, source, training
        self.world = world or World.single()
        self.max_length, self.seed, self.run_dir = max_length, seed, run_dir
        self.device = next(model.parameters()).device
        self.pad_id = tokenizer.pad_token_id
        self.experts = PeftExperts(
            model,
            r=lora.r,
            alpha=lora.alpha,
            dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            base_name=base_name,
            first_layer=lora.first_layer,
        )
        self._encoded: dict[tuple[str, str], Encoded] = {}
        self._labels: dict[str, torch.Tensor] = {}
        self.consolidation: dict[str, ExpertConsolidation] = {}
        self.forward = AnswerForward(
            self.device,
            compile=training.compile,
            pad_to_multiple=training.pad_to_multiple,
            share_prefix=training.share_prefix,
            autocast=training.autocast,
            cudnn_attention=training.cudnn_attention,
        )
        self.fisher_method = "vmap"  # "loop" is the per-example reference (adapters.hf.fisher)
        self.trials = KeptTrials(self)
        self.memo = ScoreMemo()  # docs/adr/0063: the same weights score a split once

    # --- data, tokenised once per task and split ----------------------------------------------
    def encoded(self, task: Task, split: str) -> Encoded:
        data = self.source.data(task.id)
        key = (task.id, data.canonical(split))
        if key not in self._encoded:
            examples = data.rows(split)
            self._encoded[key] = encode_split(self.tokenizer, task, examples, self.max_length)
        return self._encoded[key]

    def label_ids(self, task: Task) -> torch.Tensor:
        if task.id not in self._labels:
            # first asked for while scoring; training must be able to save it for backward
            with torch.inference_mode(False):
                self._labels[task.id] = torch.tensor(
                    label_token_ids(self.tokenizer, task), device=self.device
                )
        return self._labels[task.id]

    # --- Learner -------------------------------------------------------------------------------
    def new_expert(
        self, expert_id: str, parent: str | None = None, seed_as: str | None = None
    ) -> None:
        """`seed_as`: initialise as the expert of that id would be (the trained probe's replica,
        docs/adr/0048)."""
        # LoRA A init, reproducible per run
        torch.manual_seed(zlib.crc32(f"{self.seed}:{seed_as or expert_id}".encode()))
        self.experts.add(expert_id, parent)
        if parent is not None and parent in self.consolidation:
            self.consolidation[expert_id] = self.consolidation[parent].copy()

    def start_joint(
        self, expert_id: str, tasks: tuple[Task, ...], policy: ConsolidationPolicy
    ) -> HFJointSession:
        return HFJointSession(self, expert_id, tasks)

    def start(self, expert_id: str, task: Task, policy: ConsolidationPolicy) -> HFSession:
        check_replay_point(policy, self.experts.first_layer)  # refuse before training, not after
        return HFSession(self, expert_id, task, policy)

    def consolidate(
        self, expert_id: str, task: Task, policy: ConsolidationPolicy, fisher_scale: float
    ) -> None:
        """Online EWC (docs/adr/0013-online-ewc.md) and/or the task's replay memory
        (docs/adr/0014-replay.md)."""
        consolidate_task(self, expert_id, task, policy, fisher_scale)

    def score(self, expert_id: str | None, task: Task, split: str = "validation") -> Score:
        return self.evaluate(expert_id, task, split)[0]

    def trial(
        self,
        parent: str | None,
        task: Task,
        policy: ConsolidationPolicy,
        steps: int,
        earlier: tuple[Task, ...] = (),
        as_id: str | None = None,
        keep: bool = False,
        split: str = "dev",
    ) -> dict[str, Score]:
        """The trained probe (docs/adr/0040): a throwaway copy of `parent` (weights and
        consolidation state; None: a fresh LoRA) trained `steps` steps on `task`, scored on the dev
        splits. Torch's global RNG is restored afterwards, so the run trains on exactly as
        without the probe.

        `as_id` (docs/adr/0048): a fresh copy's LoRA is initialised as a new expert of that id would
        be. Dropout is already drawn as the real training would (each session seeds it from the
        task), and a copy of `parent` starts from its weights, so the copy's k steps are that
        option's first k steps. `keep`: the copy is kept for `adopt` (docs/adr/0057) instead of
        deleted, when its steps lie in the first epoch."""
        copy_id, kept = trial_id(parent), False
        self.trials.drop(parent)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            self.new_expert(copy_id, parent, seed_as=as_id if parent is None else None)
            try:
                start = self.experts.state(copy_id)
                session = HFSession(self, copy_id, task, policy)
                whole = session.train_steps(steps)
                scores = {t.id: self.score(copy_id, t, split) for t in (task, *earlier)}
                if keep and whole:
                    self.trials.keep(parent, session, start)
                    kept = True
                return scores
            finally:
                if not kept:
                    self.consolidation.pop(copy_id, None)
                    self.experts.remove(copy_id)

    def adopt(
        self, parent: str | None, expert_id: str, task: Task, policy: ConsolidationPolicy
    ) -> HFSession | None:
        """`expert_id`'s training session going on from the kept probe copy of `parent` (None: the
        fresh one) on `task`; None when there is none (docs/adr/0057). Other copies are dropped."""
        check_replay_point(policy, self.experts.first_layer)
        return self.trials.adopt(parent, expert_id, task)

    def drop_trials(self) -> None:
        self.trials.drop_all()

    @torch.inference_mode()
    def evaluate(self, expert_id: str | None, task: Task, split: str) -> tuple[Score, float]:
        """Score and mean predictive entropy over the labels, batched by length; remembered by
        the expert's weights (docs/adr/0063), so weights scored before are not scored again."""
        weights = None if expert_id is None else self.experts.state(expert_id)
        key = self.memo.key(weights, task.id, self.source.data(task.id).canonical(split))
        if (known := self.memo.get(key)) is not None:
            return known
        data, label_ids = self.encoded(task, split), self.label_ids(task)
        predictions, entropies, order = [], [], []
        batches = self.world.shard(
            list(length_batches([len(r) for r in data.ids], self.training.eval_batch_size))
        )
        with self._model_for(expert_id) as model:
            for batch in progress(batches, f"scoring {task.id} ({split})"):
                log_probs = scoring.label_log_probs(
                    self.forward.logits(model, [data.ids[i] for i in batch], self.pad_id), label_ids
                )
                entropies.append(scoring.entropy(log_probs).sum())
                predictions.append(log_probs.argmax(-1))
                order += batch
        # one host sync per split, not per batch
        found = torch.cat(predictions).tolist() if predictions else []
        mine = torch.stack(entropies).sum().item() if entropies else 0.0
        by_row, entropy = [0] * len(data), 0.0
        # sharded scoring
        for part_order, part_found, part_entropy in self.world.gather((order, found, mine)):
            for i, p in zip(part_order, part_found, strict=True):
                by_row[i] = p
            entropy += part_entropy
        score = Score.from_predictions(data.labels, by_row, task.labels)
        self.memo.put(key, (score, entropy / len(data)))
        return score, entropy / len(data)

    def _model_for(self, expert_id: str | None):
        if expert_id is None:
            return self.experts.bare()
        self.experts.activate(expert_id)
        return contextlib.nullcontext(self.experts.model)

    # --- AdapterStore --------------------------------------------------------------------------
    def save_expert(self, expert_id: str, task_ids: tuple[str, ...]) -> str:
        ref = f"{expert_id}/v{len(task_ids)}"
        if self.run_dir is not None:
            meta = {"expert_id": expert_id, "run": self.run_dir.name, "task_ids": list(task_ids)}
            folder = self.run_dir / "experts" / ref
            kept = self.consolidation.get(expert_id)
            self.experts.save(expert_id, folder, meta, extra=kept.save if kept else None)
        return ref

    def discard_checkpoints(self) -> None:
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir / "checkpoint", ignore_errors=True)

    def load_expert(self, expert_id: str, adapter_ref: str) -> None:
        if self.run_dir is None:
            raise BackboneError("no run folder to load experts from")
        folder = self.run_dir / "experts" / adapter_ref
        self.experts.load(expert_id, folder)
        self.consolidation[expert_id] = ExpertConsolidation.load(folder, self.device)

    # --- Encoder -------------------------------------------------------------------------------
    def profile(self, task: Task) -> tuple[float, ...]:
        examples = self.source.data(task.id).train[:PROFILE_EXAMPLES]
        return self._embed_rows(
            [encode_example(self.tokenizer, task, e, self.max_length) for e in examples]
        )

    def embed(self, text: str) -> tuple[float, ...]:
        return self._embed_rows(
            [
                tuple(
                    self.tokenizer(clip(text, self.max_length), add_special_tokens=False)[
                        "input_ids"
                    ][: self.max_length]
                )
            ]
        )

    @torch.inference_mode()
    def _embed_rows(self, rows) -> tuple[float, ...]:
        pooled = []
        with self.experts.bare() as model:
            for batch in length_batches([len(r) for r in rows], self.training.eval_batch_size):
                ids, mask = scoring.collate([rows[i] for i in batch], self.pad_id, self.device)
                pooled.append(
                    scoring.mean_pool(scoring.hidden_states(model, ids, mask).float(), mask)
                )
        return tuple(torch.cat(pooled).mean(0).tolist())


def build_hf_backbone(cfg, run_dir: Path, source) -> HFBackbone:
    from adaptive_learner.adapters.hf.loading import load_backbone, pick_device, quiet_transformers

    quiet_transformers()
    world, device = world_from_env(pick_device(cfg.run.device))
    torch.manual_seed(cfg.run.seed)
    model, tokenizer = load_backbone(cfg.model, device)
    return HFBackbone(
        model,
        tokenizer,
        source,
        lora=cfg.lora,
        training=cfg.training,
        max_length=cfg.data.max_length,
        seed=cfg.run.seed,
        run_dir=run_dir if world.rank == 0 else None,
        world=world,
        base_name=cfg.model.name_or_path
        + (f"/{cfg.model.gguf_file}" if cfg.model.gguf_file else ""),
    )


__all__ = ["Example", "HFBackbone", "HFSession", "build_hf_backbone"]
