"""Several processes (torchrun / accelerate launch): data parallel over the LoRA weights
(docs/adr/0028).

The frozen backbone is replicated in every process. Each training batch (and each replayed batch)
is split across the processes, each process's loss is weighted by its share of the rows, and the
LoRA gradients are summed with one all-reduce before clipping: the step equals the one-process step
on the whole batch, and every process applies the same AdamW update, so the weights stay identical
without broadcasting them. Scoring is sharded (every process scores every W-th batch) and the
predictions gathered. Only rank 0 writes the run folder (bootstrap).

`World.single()` is the one-process case; every method is then a no-op, and torch.distributed is
never initialised.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch


class World:
    def __init__(self, rank: int = 0, size: int = 1) -> None:
        self.rank, self.size = rank, size

    @classmethod
    def single(cls) -> World:
        return cls(0, 1)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, items: Sequence) -> list:
        """This process's part of `items`: every size-th item from its rank."""
        return list(items[self.rank :: self.size]) if self.distributed else list(items)

    def share(self, items: Sequence) -> float:
        """The weight of this process's shard in a mean over all of `items`."""
        return len(self.shard(items)) / len(items) if items else 0.0

    def all_reduce_grads(self, params: Sequence[torch.Tensor]) -> None:
        """Sum every parameter's gradient over the processes (a missing gradient counts as zero)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        start = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[start : start + n].view_as(p))
            start += n

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if not self.distributed:
            return tensor
        import torch.distributed as dist

        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor

    def gather(self, obj) -> list:
        """Every process's `obj`, in rank order."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def env_rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_from_env(device: torch.device) -> tuple[World, torch.device]:
    """(World, this process's device): torchrun/accelerate set WORLD_SIZE, RANK, LOCAL_RANK and the
    rendezvous."""
    size = env_world_size()
    if size <= 1:
        return World.single(), device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size()), device
