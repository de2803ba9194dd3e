"""Per-task replay memories under a byte budget, and the losses that replay them.

- ExperienceReplay: real examples (token ids, label index, the task's label token ids); replayed
  with the ordinary answer loss.
- LatentReplay, kind "cmt" (compressive memory) or "pcgr" (prototype-conditioned generation):
  latents at the input of decoder layer k (adapters.hf.latents), PCA-compressed to float16 codes,
  with the old expert's label distribution and final feature on each replayed latent; replayed
  with replay_alpha * KL(teacher || current) + feature_alpha * MSE(feature, teacher feature).

The budget counts the bytes of every tensor a memory keeps (`nbytes`), which is also what is saved.
Design and limits: docs/adr/0014-replay.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from attrs import define, field

from adaptive_learner.adapters.errors import BackboneError
from adaptive_learner.adapters.hf import latents, scoring

WINDOW = 16  # last W prompt tokens: "\nAnswer:" plus the end of the input
RANK = 16  # PCA components kept per token latent
MAX_ENCODED = 256  # real examples encoded per task to fit the basis and the generators


def _nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _too_small(task_id: str, kind: str, budget: int, fixed: int, per: int) -> BackboneError:
    return BackboneError(
        f"task {task_id!r}: consolidation.replay_budget_bytes={budget} holds no {kind} replay "
        f"sample ({fixed} B fixed + {per} B per sample); raise it"
    )


@define
class ExperienceReplay:
    kind = "experience"
    # tokens (flat int32), lengths, labels (int32), label_ids (int64)
    tensors: dict[str, torch.Tensor]
    _rows: list[tuple[int, ...]] | None = field(default=None, init=False, eq=False, repr=False)

    @classmethod
    def build(
        cls, task_id: str, rows, labels, label_ids: torch.Tensor, budget: int, rng: random.Random
    ) -> ExperienceReplay:
        """Examples in a seeded random order, each kept while the memory still fits the budget."""
        fixed, chosen, used = label_ids.numel() * 8, [], 0
        for i in rng.sample(range(len(rows)), len(rows)):
            cost = 4 * len(rows[i]) + 8  # tokens + length + label, int32 each
            if fixed + used + cost <= budget:
                chosen.append(i)
                used += cost
        if not chosen:
            raise _too_small(task_id, cls.kind, budget, fixed, 4 * min(len(r) for r in rows) + 8)
        flat = [t for i in chosen for t in rows[i]]
        return cls(
            {
                "tokens": torch.tensor(flat, dtype=torch.int32),
                "lengths": torch.tensor([len(rows[i]) for i in chosen], dtype=torch.int32),
                "labels": torch.tensor([labels[i] for i in chosen], dtype=torch.int32),
                "label_ids": label_ids.detach().to("cpu", torch.int64),
            }
        )

    def __len__(self) -> int:
        return self.tensors["lengths"].numel()

    def nbytes(self) -> int:
        return _nbytes(self.tensors)

    def to(self, device) -> ExperienceReplay:
        return ExperienceReplay({k: v.to(device) for k, v in self.tensors.items()})

    def rows(self) -> list[tuple[int, ...]]:
        if self._rows is None:  # unpacked once: .tolist() on every step would sync a GPU each time
            ends = self.tensors["lengths"].long().cumsum(0).tolist()
            flat = self.tensors["tokens"].tolist()
            self._rows = [
                tuple(flat[e - n : e])
                for e, n in zip(ends, self.tensors["lengths"].tolist(), strict=True)
            ]
        return self._rows

    def loss(self, model, index: Sequence[int], *, pad_id: int, forward=None, **_) -> torch.Tensor:
        """The answer loss of the replayed examples `index` (one forward)."""
        return experience_losses([(self, index)], model, pad_id, forward)

    def gold(self, index: Sequence[int]) -> torch.Tensor:
        return self.tensors["labels"][list(index)].long()


def experience_losses(
    picks: Sequence[tuple[ExperienceReplay, Sequence[int]]], model, pad_id: int, forward=None
) -> torch.Tensor:
    """Sum over memories of each memory's mean answer loss, with every memory's rows in ONE forward.

    Equal (up to float rounding) to calling `loss` once per memory: a row's logits do not depend on
    the other rows of its batch, and each memory keeps its own label tokens and its own mean.
    """
    rows = [memory.rows()[i] for memory, index in picks for i in index]
    device = picks[0][0].tensors["tokens"].device
    if forward is None:
        ids, mask = scoring.collate(rows, pad_id, device)
        logits = scoring.answer_logits(model, ids, mask)
    else:  # each memory's rows share their task's prompt prefix
        logits = forward.logits(model, rows, pad_id, groups=[len(index) for _, index in picks])
    total, start = None, 0
    for memory, index in picks:
        part = logits[start : start + len(index)]
        start += len(index)
        term = scoring.answer_loss(part, memory.tensors["label_ids"], memory.gold(index))
        total = term if total is None else total + term
    return total


def cmt_codes(codes: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Compressive memory: the stored codes themselves, then convex mixes of random
    pairs of them."""
    order = torch.randperm(len(codes), generator=generator)
    kept = codes[order[:count]].float()
    extra = count - len(kept)
    if extra <= 0:
        return kept.half()
    a, b = torch.randint(len(codes), (2, extra), generator=generator)
    lam = torch.rand(extra, 1, 1, generator=generator)
    return torch.cat([kept, lam * codes[a].float() + (1 - lam) * codes[b].float()]).half()


def pcgr_codes(
    codes: torch.Tensor, labels: torch.Tensor, n_labels: int, count: int, generator: torch.Generator
):
    """Per-label prototype (mean code) and spread (std); samples proto + spread * z,
    labels in turn."""
    protos = torch.zeros((n_labels, *codes.shape[1:]))
    spread = torch.zeros_like(protos)
    present = [k for k in range(n_labels) if (labels == k).any()]
    for k in present:
        mine = codes[labels == k].float()
        protos[k], spread[k] = mine.mean(0), mine.std(0, correction=0)
    which = torch.tensor([present[j % len(present)] for j in range(count)])
    sampled = protos[which] + spread[which] * torch.randn(
        (count, *codes.shape[1:]), generator=generator
    )
    return sampled.half(), protos.half(), spread.half()


@define
class LatentReplay:
    kind: str  # "cmt" | "pcgr"
    layer: int
    # mean, basis, codes, teacher_log_probs, teacher_features, label_ids[, prototypes, spread]
    tensors: dict[str, torch.Tensor]

    @classmethod
    def build(
        cls,
        kind: str,
        task_id: str,
        model,
        rows,
        labels,
        label_ids: torch.Tensor,
        *,
        layer: int,
        budget: int,
        batch_size: int,
        pad_id: int,
        generator: torch.Generator,
    ) -> LatentReplay:
        """Encode real windows, compress, generate the replay set, and record the (old) expert
        as teacher."""
        device, param = label_ids.device, next(model.parameters())
        chosen = torch.randperm(len(rows), generator=generator)[:MAX_ENCODED].tolist()
        ids = latents.windows([rows[i] for i in chosen], WINDOW, pad_id)
        gold = torch.tensor([labels[i] for i in chosen])
        latents.check_exact(model, ids[:batch_size].to(device), layer)
        with torch.no_grad():
            found = torch.cat(
                [
                    latents.layer_input(model, ids[s : s + batch_size].to(device), layer)
                    .float()
                    .cpu()
                    for s in range(0, len(ids), batch_size)
                ]
            )
            mean, basis = latents.fit_basis(found, RANK)
            mean, basis = mean.half(), basis.half()
            codes = latents.compress(found, mean, basis)
            k, hidden, rank = label_ids.numel(), found.shape[-1], basis.shape[1]
            fixed = (
                2 * hidden * (1 + rank)
                + 8 * k
                + (2 * 2 * k * WINDOW * rank if kind == "pcgr" else 0)
            )
            # code f16 + teacher log-probs f32 + feature f16
            per = 2 * WINDOW * rank + 4 * k + 2 * hidden
            count = min((budget - fixed) // per, 2 * len(chosen)) if budget > fixed else 0
            if count < 1:
                raise _too_small(task_id, kind, budget, fixed, per)
            tensors = {
                "mean": mean,
                "basis": basis,
                "label_ids": label_ids.detach().to("cpu", torch.int64),
            }
            if kind == "cmt":
                tensors["codes"] = cmt_codes(codes, count, generator)
            else:
                tensors["codes"], tensors["prototypes"], tensors["spread"] = pcgr_codes(
                    codes, gold, k, count, generator
                )
            teacher_lp, teacher_feat = [], []
            for s in range(0, count, batch_size):
                hidden_in = latents.decompress(
                    tensors["codes"][s : s + batch_size].to(device),
                    mean.to(device),
                    basis.to(device),
                    param.dtype,
                )
                logits, feature = latents.run_from(model, hidden_in, layer)
                teacher_lp.append(scoring.label_log_probs(logits, label_ids).float().cpu())
                teacher_feat.append(feature.half().cpu())
        tensors["teacher_log_probs"], tensors["teacher_features"] = (
            torch.cat(teacher_lp),
            torch.cat(teacher_feat),
        )
        return cls(kind, layer, tensors)

    def __len__(self) -> int:
        return len(self.tensors["codes"])

    def nbytes(self) -> int:
        return _nbytes(self.tensors)

    def to(self, device) -> LatentReplay:
        return LatentReplay(
            self.kind, self.layer, {k: v.to(device) for k, v in self.tensors.items()}
        )

    def loss(
        self, model, index: Sequence[int], *, alpha: float, feature_alpha: float, **_
    ) -> torch.Tensor:
        return latent_losses([(self, index)], model, alpha=alpha, feature_alpha=feature_alpha)

    def inputs(self, index: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        t = self.tensors
        return latents.decompress(t["codes"][list(index)], t["mean"], t["basis"], dtype)

    def distill(
        self,
        logits: torch.Tensor,
        feature: torch.Tensor,
        index: Sequence[int],
        alpha: float,
        feature_alpha: float,
    ) -> torch.Tensor:
        t, index = self.tensors, list(index)
        current = scoring.label_log_probs(logits, t["label_ids"])
        teacher = t["teacher_log_probs"][index]
        kl = (teacher.exp() * (teacher - current)).sum(-1).mean()
        return alpha * kl + feature_alpha * F.mse_loss(
            feature.float(), t["teacher_features"][index].float()
        )


def latent_losses(
    picks: Sequence[tuple[LatentReplay, Sequence[int]]],
    model,
    *,
    alpha: float,
    feature_alpha: float,
) -> torch.Tensor:
    """Sum over latent memories of each one's distillation loss, with every replayed latent in ONE
    pass through the layers above the replay point (memories of one expert share that layer)."""
    dtype = next(model.parameters()).dtype
    layers = {memory.layer for memory, _ in picks}
    if len(layers) != 1:
        raise BackboneError(
            f"latent memories from different layers {sorted(layers)} cannot be replayed together"
        )
    hidden = torch.cat([memory.inputs(index, dtype) for memory, index in picks])
    logits, feature = latents.run_from(model, hidden, layers.pop())
    total, start = None, 0
    for memory, index in picks:
        end = start + len(index)
        term = memory.distill(logits[start:end], feature[start:end], index, alpha, feature_alpha)
        total, start = (term if total is None else total + term), end
    return total


def memory_from_tensors(
    meta: dict, tensors: dict[str, torch.Tensor]
) -> ExperienceReplay | LatentReplay:
    if meta["kind"] == "experience":
        return ExperienceReplay(tensors)
    return LatentReplay(meta["kind"], meta["layer"], tensors)
