"""Training sessions of the HF backbone: one expert learning one task (`HFSession`, also the
trained probe's copy that may go on as the real training, docs/adr/0057) and the multitask upper
bound (`HFJointSession`)."""

from __future__ import annotations

import itertools
import random
import time
import zlib
from typing import TYPE_CHECKING

import torch

from adaptive_learner.adapters.errors import AdapterError, BackboneError
from adaptive_learner.adapters.hf import checkpoint, scoring
from adaptive_learner.adapters.hf.forward import (
    StepStats,
    first_non_finite,
    make_optimizer,
    optimise,
)
from adaptive_learner.adapters.hf.prompts import Encoded, length_batches
from adaptive_learner.adapters.progress import progress
from adaptive_learner.application.ports import EpochReport
from adaptive_learner.domain.consolidation import ConsolidationPolicy, TrainingSignals
from adaptive_learner.domain.task import Task

if TYPE_CHECKING:
    from adaptive_learner.adapters.hf.backbone import HFBackbone


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
        # an epoch train_steps began (the rest of its batches, its stats, its length, the seconds
        # its steps took), and torch's RNG after its last step: what a kept probe copy goes on
        # from (adapters/hf/trials.py)
        self._open: tuple[list[list[int]], StepStats, int, float] | None = None
        self.rng_after: list[torch.Tensor] = []

    def train_epoch(self) -> EpochReport:
        b, t = self.b, self.b.training
        self.epoch += 1
        b.experts.activate(self.expert_id)
        b.experts.model.train()
        started, carried = time.perf_counter(), 0.0
        if self._open is not None:  # finish the epoch a kept probe copy began
            batches, stats, steps, carried = self._open
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
            carried_seconds=carried,
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
        done, started = 0, time.perf_counter()
        for batch in itertools.islice(epochs, steps):
            if not self._step(batch, stats):
                break
            done += 1
        b.experts.model.eval()
        within = done == steps <= len(plan)
        seconds = time.perf_counter() - started
        self._open = (plan[steps:], stats, len(plan), seconds) if within else None
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
