"""Two processes (gloo, CPU) learn the same sequence as one: data parallel over the LoRA weights,
sharded scoring (docs/adr/0028).

Tolerance: every accuracy cell within one validation example (1/16) of the one-process run, and
the final LoRA weights within 1e-4 (the all-reduced gradient sums the two halves of each batch in
another order than one process does). Measured equal on this machine; the slack is for other BLAS.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
from tests.integration.conftest import make_backbone, schedule_learner

from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = pytest.mark.integration


def learn(tokenizer, source, world=None):
    torch.set_num_threads(1)
    b = make_backbone(tokenizer, source, world=world)
    tracker = RecordingTracker()
    policy = ConsolidationPolicy(replay="experience", replay_tasks_per_step=-1)
    learn = schedule_learner(b, tracker, policy, epochs=2)
    state = RunSequence(source, learn, EvaluateSequence(b, tracker), b, MemoryRunStore(), tracker)()
    weights = {
        k: v.detach().clone()
        for k, v in b.experts.state(state.library.expert_for(state.task_ids[0]).id).items()
    }
    return state.accuracy.rows(), weights


def _worker(rank, size, port, tokenizer, source, out):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(size),
        LOCAL_RANK=str(rank),
    )
    from adaptive_learner.adapters.hf.distributed import world_from_env

    world, _ = world_from_env(torch.device("cpu"))
    result = learn(tokenizer, source, world)
    torch.save(result, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # ~40 s idle, 5 min on the shared 2-core machine
def test_two_processes_learn_the_same_matrix_as_one(tokenizer, demo_source, tmp_path):
    one_matrix, one_weights = learn(tokenizer, demo_source)
    torch.multiprocessing.spawn(
        _worker, args=(2, _free_port(), tokenizer, demo_source, str(tmp_path)), nprocs=2, join=True
    )
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    assert results[0][0] == results[1][0]  # every process ends with the same matrix and weights
    for matrix, weights in results:
        for row_one, row in zip(one_matrix, matrix, strict=True):
            assert all(
                abs(a - b) <= 1 / 16 + 1e-9
                for a, b in zip(row_one, row, strict=True)
                if a is not None
            )
        assert all(torch.allclose(one_weights[k], weights[k], atol=1e-4) for k in one_weights)
