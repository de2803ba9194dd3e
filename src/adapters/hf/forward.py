"""The speed switches of the answer-position forward and of the optimiser step (docs/adr/0026).

`AnswerForward` turns token rows into answer logits. On a CPU it shares the rows' common prompt
prefix (adapters.hf.prefix) by default: there the cost is arithmetic and that halves it; on CUDA the
default is the plain batch (the prefix pass's extra launches cost more: docs/adr/0047). With
`training.compile` it instead runs plain left-padded batches whose width is rounded up to
`training.pad_to_multiple` (length buckets), through `torch.compile` (mode "default" or
"reduce-overhead" = CUDA graphs), so shapes repeat and compiled graphs are reused. On CUDA the
forward runs under bf16 autocast (`training.autocast`), and `make_optimizer` picks fused AdamW.

`gradient_attention` keeps cuDNN's SDPA out of differentiated passes on CUDA (docs/adr/0047).

`StepStats` keeps the per-step losses and gradient norms on the device and reads them once per
epoch: no host sync inside the step loop (a CUDA graph cannot contain one, and each costs a stall).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from adaptive_learner.adapters.hf import prefix, scoring

COMPILE_MODES = ("none", "default", "reduce-overhead")


class AnswerForward:
    def __init__(
        self,
        device: torch.device,
        *,
        compile: str = "none",
        pad_to_multiple: int = 0,
        share_prefix: bool | str = "auto",
        autocast: str = "auto",
        cudnn_attention: bool = False,
    ) -> None:
        self.device, self.mode, self.multiple = device, compile, pad_to_multiple
        self.cudnn_attention = cudnn_attention
        # a CPU is bound by arithmetic, a GPU at these sizes by kernel launches (docs/adr/0047)
        if share_prefix == "auto":
            share_prefix = device.type != "cuda"
        # compiled graphs want plain, bucketed shapes
        self.share = bool(share_prefix) and compile == "none"
        self.autocast = device.type == "cuda" and autocast == "auto"
        self._compiled: dict[int, Any] = {}  # id(model) -> its compiled forward
        # tests compile with "eager" (dynamo's graph capture, no C++ build) through the same path
        self.backend = "inductor"

    def context(self):
        return (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.autocast
            else contextlib.nullcontext()
        )

    def gradients(self):
        """The context of every pass that is differentiated (training steps, the Fisher, the
        gradient sketch)."""
        return gradient_attention(self.device, self.cudnn_attention)

    def logits(self, model, rows, pad_id: int, groups=None) -> torch.Tensor:
        """Vocabulary logits [B, V] (float32) at each row's answer position; `groups`: sizes of runs
        of rows that share a prompt prefix (adapters.hf.prefix)."""
        with self.context():
            if self.mode == "none":
                return prefix.answer_logits(
                    model,
                    rows,
                    pad_id,
                    self.device,
                    share=self.share,
                    pad_to_multiple=self.multiple,
                    groups=groups,
                )
            ids, mask = scoring.collate(rows, pad_id, self.device, self.multiple)
            return self._compiled_for(model)(ids, mask).float()

    def _compiled_for(self, model):
        key = id(model)
        if key not in self._compiled:

            def run(ids, mask, model=model):
                return scoring.answer_logits(model, ids, mask)

            # dynamic=False: one graph per bucketed shape (what CUDA graphs need); recompiles are
            # bounded by the buckets.
            mode = {"mode": self.mode} if self.backend == "inductor" else {}
            self._compiled[key] = torch.compile(run, backend=self.backend, dynamic=False, **mode)
        return self._compiled[key]


def gradient_attention(device: torch.device, cudnn: bool = False):
    """SDPA without the cuDNN backend on CUDA, for passes whose gradients are taken (docs/adr/0047).

    cuDNN's SDPA backward returns NaN dQ on Hopper (H100/H200) from torch 2.11 when an explicit
    attention mask is passed and the width is 64 mod 128 (pytorch/pytorch#196678): on an H200 every
    element of the per-example Fisher came back NaN. Flash and memory-efficient attention are clean;
    the backward runs the kernel its forward chose, so choosing it for the forward is enough.
    """
    if device.type != "cuda" or cudnn:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(
        [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    )


def make_optimizer(params, training, device: torch.device) -> torch.optim.Optimizer:
    """AdamW over the LoRA weights; the fused kernel on CUDA (one launch for every parameter)."""
    fused = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(
        params, lr=training.learning_rate, weight_decay=training.weight_decay, **fused
    )


class StepStats:
    """Per-step loss and gradient norm, kept as device tensors until the epoch ends."""

    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []
        self.norms: list[torch.Tensor] = []
        self.stopped: torch.Tensor | None = None

    def add(self, loss: torch.Tensor, norm: torch.Tensor) -> None:
        self.losses.append(loss.detach())
        self.norms.append(norm.detach())

    def stop(self, loss: torch.Tensor) -> None:
        """The epoch stops at a non-finite loss: it is recorded, with no step and no
        gradient norm."""
        self.stopped = loss.detach()

    def read(self, world=None) -> tuple[list[float], list[float]]:
        """(losses, gradient norms) as floats: the epoch's one host sync. Under several
        processes each loss is a shard's weighted part: summed over the processes, it is the
        whole batch's loss."""
        stopped = [] if self.stopped is None else [float(self.stopped)]
        if not self.losses:
            return stopped, []
        losses = torch.stack(self.losses).float()
        if world is not None:
            losses = world.sum(losses)
        both = torch.stack([losses, torch.stack(self.norms).float()]).cpu().tolist()
        return both[0] + stopped, both[1]


def optimise(
    optimizer, params, loss: torch.Tensor, max_grad_norm: float, world=None
) -> torch.Tensor:
    """One AdamW step with gradient clipping (0 = off); returns the gradient norm before clipping,
    as a tensor. Under several processes the gradients are summed first
    (adapters.hf.distributed)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if world is not None:
        world.all_reduce_grads(params)
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm if max_grad_norm > 0 else math.inf)
    optimizer.step()
    return norm


def first_non_finite(values: list[float]) -> float | None:
    return next((v for v in values if not math.isfinite(v)), None)
