"""The HF backbone: Learner, AdapterStore and Encoder over a frozen causal LM with LoRA experts."""

from __future__ import annotations

import contextlib
import itertools
import random
import shutil
import time
import zlib
from pathlib import Path

import torch

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.errors import AdapterError, BackboneError
from adaptive_learner.adapters.hf import checkpoint, scoring
from adaptive_learner.adapters.hf.consolidation import (
    ExpertConsolidation,
    check_replay_point,
    consolidate_task,
)
from adaptive_learner.adapters.hf.distributed import World, world_from_env
from adaptive_learner.adapters.hf.experts import PeftExperts
from adaptive_learner.adapters.hf.forward import (
    AnswerForward,
    StepStats,
    first_non_finite,
    make_optimizer,
    optimise,
)
from adaptive_learner.adapters.hf.prompts import (
    Encoded,
    clip,
    encode_example,
    encode_split,
    label_token_ids,
    length_batches,
)
from adaptive_learner.adapters.hf.trials import KeptTrials, trial_id
from adaptive_learner.adapters.progress import progress
from adaptive_learner.application.ports import EpochReport
from adaptive_learner.domain.consolidation import ConsolidationPolicy, TrainingSignals
from adaptive_learner.domain.metrics import Score
from adaptive_learner.domain.task import Task

PROFILE_EXAMPLES = 32


def batch_loss(
    backbone: HFBackbone, split: Encoded, batch: list[int], label_ids: torch.Tensor
) -> torch.Tensor:
    """Answer-token loss of the examples `batch` of a tokenised split, under the active expert.

    Under several processes each computes its shard's mean, weighted by the shard's share: the
    losses (and, after the all-reduce, the gradients) sum to the whole batch's (docs/adr/0028)."""
    world = backbone.world
    mine = world.shard(batch)
    if not mine:  # fewer rows than processes: this one adds nothing
        return sum(p.sum() for p in backbone.experts.model.parameters() if p.requires_grad) * 0.0
    logits = backbone.forward.logits(
        backbone.experts.model, [split.ids[i] for i in mine], backbone.pad_id
    )
    gold = torch.tensor([split.labels[i] for i in mine], device=backbone.device)
    loss = scoring.answer_loss(logits, label_ids, gold)
    return loss * world.share(batch) if world.distributed else loss


def check_finite(where: str, losses: list[float], norms: list[float], epoch: int) -> None:
    """Non-finite losses or gradients are found once per epoch (no host sync per step)."""
    bad = first_non_finite(losses)
    bad = bad if bad is not None else first_non_finite(norms)
    if bad is not None:
        raise AdapterError(
            f"{where}: loss became {bad} at epoch {epoch}; lower training.learning_rate"
        )


class HFSession:
    """One expert learning one task: AdamW on that expert's LoRA weights, loss on the answer token,
    plus the EWC penalty and a replayed batch when the expert consolidated earlier tasks.

    `train_loss` and the NLL signal are the answer loss alone, so they compare across policies.
    """

    def __init__(
        self, backbone: HFBackbone, expert_id: str, task: Task, policy: ConsolidationPolicy
    ) -> None:
        self.b, self.expert_id, self.task, self.policy = backbone, expert_id, task, policy
        # LoRA dropout draws from torch's global RNG: seed it per task so a resumed run trains
        # each remaining task exactly as an uninterrupted run would.
        torch.manual_seed(zlib.crc32(f"{backbone.seed}:{task.id}:train".encode()))
        backbone.experts.activate(expert_id)
        self.named = backbone.experts.parameters(expert_id)
        self.params = list(self.named.values())
        self.kept = backbone.consolidation.get(expert_id) or None
        self.replay_rng = random.Random(f"{backbone.seed}:{task.id}:replay")
        t = backbone.training
        self.optimizer = make_optimizer(self.params, t, backbone.device)
        self.train_split = backbone.encoded(task, "train")
        self.label_ids = backbone.label_ids(task)
        self.rng = random.Random(f"{backbone.seed}:{task.id}:order")
        self.epoch, self.best = 0, backbone.experts.state(expert_id)
        self.rows = self.rows_reported = 0  # examples through a training forward, replayed ones too
        self.last_nll, self.dev_accuracy, self.dev_entropy = 0.0, 0.0, 0.0
        self.grad_norms: list[float] = []
        self.dev_fresh = False  # dev signals describe the current weights
        # an epoch train_steps began (the rest of its batches, its stats, its length), and torch's
        # RNG after its last step: what a kept probe copy goes on from (adapters/hf/trials.py)
        self._open: tuple[list[list[int]], StepStats, int] | None = None
        self.rng_after: list[torch.Tensor] = []

    def train_epoch(self) -> EpochReport:
        b, t = self.b, self.b.training
        self.epoch += 1
        b.experts.activate(self.expert_id)
        b.experts.model.train()
        started = time.perf_counter()
        if self._open is not None:  # finish the epoch a kept probe copy began
            batches, stats, steps = self._open
            self._open = None
        else:
            stats = StepStats()
            batches = list(
                length_batches([len(r) for r in self.train_split.ids], t.batch_size, self.rng)
            )
            steps = len(batches)
        for batch in progress(batches, f"{self.task.id} epoch {self.epoch}"):
            if not self._step(batch, stats):
                break
        losses, norms = stats.read(b.world)
        self.grad_norms += norms
        b.experts.model.eval()
        self.dev_fresh = False
        self.last_nll = sum(losses) / len(losses)
        scale = (
            float(torch.stack([p.detach().abs().max() for p in self.params]).max())
            if self.params
            else None
        )
        rows, self.rows_reported = self.rows - self.rows_reported, self.rows
        return EpochReport(
            self.epoch,
            self.last_nll,
            steps,
            time.perf_counter() - started,
            tuple(losses),
            weight_scale=scale,
            rows=rows,
        )

    def _step(self, batch: list[int], stats: StepStats) -> bool:
        """One optimiser step on `batch` (answer loss + EWC penalty + replayed batch); False on a
        non-finite loss."""
        with self.b.forward.gradients():
            return self._step_in(batch, stats)

    def _step_in(self, batch: list[int], stats: StepStats) -> bool:
        b, t = self.b, self.b.training
        task_loss = batch_loss(b, self.train_split, batch, self.label_ids)
        loss = task_loss
        if self.kept:
            extra = self.kept.extra_loss(
                b.experts.model,
                self.named,
                self.expert_id,
                self.task.id,
                self.policy,
                self.replay_rng,
                self.policy.replay_rows(t.batch_size),
                b.pad_id,
                forward=b.forward,
                world=b.world,
            )
            loss = loss if extra is None else loss + extra
        # never step on it; the use case judges the epoch (domain.divergence)
        if not torch.isfinite(loss):
            # the one host sync left per step: the price of never stepping on a non-finite loss
            stats.stop(loss)
            return False
        stats.add(task_loss, optimise(self.optimizer, self.params, loss, t.max_grad_norm, b.world))
        self.rows += len(batch)
        if self.kept:
            self.rows += self.kept.replayed_rows(
                self.task.id, self.policy, self.policy.replay_rows(t.batch_size)
            )
        return True

    def train_steps(self, steps: int) -> bool:
        """`steps` optimiser steps in the order epochs would take them (the trained probe,
        docs/adr/0040). True when all of them lie in the first epoch: `train_epoch` then finishes
        that epoch, so a kept copy goes on as the real training would (docs/adr/0057)."""
        b, lengths, stats = self.b, [len(r) for r in self.train_split.ids], StepStats()
        if not lengths:
            return False
        bs = b.training.batch_size
        plan = list(length_batches(lengths, bs, self.rng))
        later = (length_batches(lengths, bs, self.rng) for _ in itertools.count())
        epochs = itertools.chain(plan, itertools.chain.from_iterable(later))
        b.experts.activate(self.expert_id)
        b.experts.model.train()
        done = 0
        for batch in itertools.islice(epochs, steps):
            if not self._step(batch, stats):
                break
            done += 1
        b.experts.model.eval()
        within = done == steps <= len(plan)
        self._open = (plan[steps:], stats, len(plan)) if within else None
        self.rng_after = [torch.get_rng_state()]
        if b.device.type == "cuda":
            self.rng_after.append(torch.cuda.get_rng_state(b.device))
        return within

    def take_over(self, expert_id: str, best: dict[str, torch.Tensor]) -> None:
        """Go on as `expert_id`'s session (its weights now the copy's; `best`: where it started)."""
        b = self.b
        named = b.experts.parameters(expert_id)
        if [id(p) for p in named.values()] != [id(p) for p in self.params]:
            raise BackboneError(f"expert {expert_id!r} does not train the probe copy's tensors")
        self.expert_id, self.named = expert_id, named
        self.kept = b.consolidation.get(expert_id) or None
        self.best = best
        torch.set_rng_state(self.rng_after[0])
        if len(self.rng_after) > 1:
            torch.cuda.set_rng_state(self.rng_after[1], b.device)

    def validate(self) -> float:
        score, mean_entropy = self.b.evaluate(self.expert_id, self.task, "dev")
        self.dev_accuracy, self.dev_entropy, self.dev_fresh = score.accuracy, mean_entropy, True
        return score.accuracy

    def keep_best(self) -> None:
        self.best = self.b.experts.state(self.expert_id)

    def restore_best(self) -> None:
        self.b.experts.load_state(self.expert_id, self.best)
        self.dev_fresh = False

    def save_checkpoint(self, progress: dict) -> None:
        if self.b.run_dir is not None:
            checkpoint.save(self.b.run_dir / "checkpoint", self, progress)

    def load_checkpoint(self) -> dict | None:
        if self.b.run_dir is None:
            return None
        progress = checkpoint.load(self.b.run_dir / "checkpoint", self)
        if progress is not None:  # the checkpoint's epochs replace whatever a probe copy began
            self._open, self.rows, self.rows_reported = None, 0, 0
        return progress

    def signals(self) -> TrainingSignals:
        # no early stopping, or weights restored: measure the weights that are kept
        if not self.dev_fresh:
            self.validate()
        grad = sum(self.grad_norms) / len(self.grad_norms) if self.grad_norms else 0.0
        return TrainingSignals(
            nll=self.last_nll, accuracy=self.dev_accuracy, grad_norm=grad, entropy=self.dev_entropy
        )


class HFJointSession:
    """The multitask upper bound: one expert, batches drawn from every task, shuffled together."""

    def __init__(self, backbone: HFBackbone, expert_id: str, tasks: tuple[Task, ...]) -> None:
        self.b, self.expert_id, self.tasks = backbone, expert_id, tasks
        torch.manual_seed(zlib.crc32(f"{backbone.seed}:joint:train".encode()))
        backbone.experts.activate(expert_id)
        self.params = list(backbone.experts.parameters(expert_id).values())
        t = backbone.training
        self.optimizer = make_optimizer(self.params, t, backbone.device)
        self.rng, self.epoch = random.Random(f"{backbone.seed}:joint:order"), 0

    def train_epoch(self) -> EpochReport:
        b, t = self.b, self.b.training
        self.epoch += 1
        started, stats, batches = time.perf_counter(), StepStats(), []
        for task in self.tasks:
            split = b.encoded(task, "train")
            batches += [
                (task, split, batch)
                for batch in length_batches([len(r) for r in split.ids], t.batch_size, self.rng)
            ]
        self.rng.shuffle(batches)
        b.experts.model.train()
        for task, split, batch in progress(batches, f"joint epoch {self.epoch}"):
            loss = batch_loss(b, split, batch, b.label_ids(task))
            stats.add(loss, optimise(self.optimizer, self.params, loss, t.max_grad_norm, b.world))
        losses, norms = stats.read(b.world)
        check_finite("joint training", losses, norms, self.epoch)
        b.experts.model.eval()
        return EpochReport(
            self.epoch, sum(losses) / len(losses), len(batches), time.perf_counter() - started
        )

    def validate(self) -> float:
        return sum(self.b.score(self.expert_id, t, "dev").accuracy for t in self.tasks) / len(
            self.tasks
        )

    def keep_best(self) -> None:
        self.best = self.b.experts.state(self.expert_id)

    def restore_best(self) -> None:
        self.b.experts.load_state(self.expert_id, self.best)

    def signals(self) -> TrainingSignals:
        return TrainingSignals(nll=0.0, accuracy=self.validate(), grad_norm=0.0, entropy=0.0)


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

    # --- data, tokenised once per task and split ----------------------------------------------
    def encoded(self, task: Task, split: str) -> Encoded:
        key = (task.id, split)
        if key not in self._encoded:
            examples = getattr(self.source.data(task.id), split)
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
                scores = {t.id: self.score(copy_id, t, "dev") for t in (task, *earlier)}
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
        """Score and mean predictive entropy over the labels, batched by length."""
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
