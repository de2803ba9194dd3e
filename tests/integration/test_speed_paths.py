"""The speed paths (docs/adr/0026) against the plain computations they replace, on the tiny model.

Tolerances: logits 1e-4 absolute, gradients 1e-3 relative (float32, different summation order);
training switches: per-step losses 1e-4 absolute over a short run, and the same dev accuracy.
"""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tests.integration.conftest import make_backbone

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.hf import prefix, scoring
from adaptive_learner.adapters.hf.consolidation import ExpertConsolidation
from adaptive_learner.adapters.hf.forward import AnswerForward, StepStats, gradient_attention
from adaptive_learner.adapters.hf.sessions import check_finite
from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]


@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=6), min_size=1, max_size=5))
def test_common_prefix_is_shared_and_leaves_a_token_outside(rows):
    p = prefix.common_prefix(rows)
    assert all(len(r) > p for r in rows) or p == 0
    assert all(r[:p] == rows[0][:p] for r in rows)
    if p < min(len(r) for r in rows) - 1:  # maximal: the next token differs somewhere
        assert len({r[p] for r in rows}) > 1


def _expert(tokenizer, demo_source, first_layer=0):
    b = make_backbone(tokenizer, demo_source, first_layer=first_layer)
    task = demo_source.load()[0]
    b.new_expert("e0")
    b.start("e0", task, ConsolidationPolicy()).train_epoch()  # LoRA B no longer zero
    return b, task


def _logits_and_grads(b, compute):
    params = b.experts.parameters("e0")
    for p in params.values():
        p.grad = None
    out = compute()
    out.logsumexp(-1).sum().backward()
    return out.detach(), {k: p.grad.clone() for k, p in params.items()}


def _close_grads(a, b, rel=1e-3):
    return all(((a[k] - b[k]).norm() / a[k].norm().clamp(min=1e-12)).item() < rel for k in a)


def test_shared_prefix_forward_equals_the_plain_forward_with_gradients(tokenizer, demo_source):
    b, _ = _expert(tokenizer, demo_source)
    tasks = demo_source.load()
    rows = [b.encoded(t, "train").ids[i] for t in tasks[:3] for i in range(5)]  # three prompt heads
    model = b.experts.model.train()
    ids, mask = scoring.collate(rows, b.pad_id, b.device)
    plain, g_plain = _logits_and_grads(b, lambda: scoring.answer_logits(model, ids, mask))
    grouped, g_grouped = _logits_and_grads(
        b, lambda: prefix.answer_logits(model, rows, b.pad_id, b.device, groups=[5, 5, 5])
    )
    one, _ = _logits_and_grads(b, lambda: prefix.answer_logits(model, rows[:5], b.pad_id, b.device))
    assert prefix.common_prefix(rows[:5]) >= prefix.MIN_PREFIX  # the shared path really ran
    assert torch.allclose(plain, grouped, atol=1e-4) and torch.allclose(plain[:5], one, atol=1e-4)
    assert _close_grads(g_plain, g_grouped)


def test_length_buckets_do_not_change_the_logits(tokenizer, demo_source):
    b, task = _expert(tokenizer, demo_source)
    rows = list(b.encoded(task, "validation").ids[:6])
    with torch.no_grad():
        plain = scoring.answer_logits(b.experts.model, *scoring.collate(rows, b.pad_id, b.device))
        ids, mask = scoring.collate(rows, b.pad_id, b.device, pad_to_multiple=16)
        assert ids.shape[1] % 16 == 0
        assert torch.allclose(plain, scoring.answer_logits(b.experts.model, ids, mask), atol=1e-4)


@pytest.mark.parametrize(("kind", "first_layer"), [("experience", 0), ("cmt", 1)])
def test_batched_replay_equals_one_forward_per_memory(tokenizer, demo_source, kind, first_layer):
    b, _ = _expert(tokenizer, demo_source, first_layer)
    tasks = demo_source.load()
    policy = ConsolidationPolicy(replay=kind, replay_budget_bytes=30_000, replay_tasks_per_step=-1)
    for t in tasks[:2]:
        b.consolidate("e0", t, policy, 1.0)
    kept: ExpertConsolidation = b.consolidation["e0"]
    model, named = b.experts.model.train(), b.experts.parameters("e0")

    def loss(batched):
        return kept.extra_loss(
            model,
            named,
            "e0",
            tasks[2].id,
            policy,
            random.Random(3),
            4,
            b.pad_id,
            forward=b.forward,
            batched=batched,
        ).reshape(1, 1)

    looped, g_looped = _logits_and_grads(b, lambda: loss(False))
    batched, g_batched = _logits_and_grads(b, lambda: loss(True))
    assert torch.allclose(looped, batched, atol=1e-5, rtol=1e-4)
    assert _close_grads(g_looped, g_batched)


def test_step_stats_read_once_and_non_finite_losses_are_named():
    stats = StepStats()
    for v in (1.0, 2.0):
        stats.add(torch.tensor(v), torch.tensor(v * 10))
    assert stats.read() == ([1.0, 2.0], [10.0, 20.0])
    check_finite("task 'a'", [1.0], [1.0], 1)
    with pytest.raises(AdapterError, match="task 'a': loss became nan at epoch 2"):
        check_finite("task 'a'", [1.0, float("nan")], [1.0, 1.0], 2)
    with pytest.raises(AdapterError, match="loss became inf"):
        check_finite("task 'a'", [1.0], [float("inf")], 1)


def test_prefix_sharing_defaults_to_on_for_a_cpu_and_off_for_cuda():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")  # a device object needs no GPU
    assert AnswerForward(cpu).share and not AnswerForward(cuda).share
    assert (
        AnswerForward(cuda, share_prefix=True).share
        and not AnswerForward(cpu, share_prefix=False).share
    )
    assert not AnswerForward(cpu, compile="default").share


def test_differentiated_passes_run_without_cudnn_attention_on_cuda():
    """The flags gradient_attention sets (no GPU needed to read them) and that every pass with a
    backward enters it."""
    before = torch.backends.cuda.cudnn_sdp_enabled()
    with gradient_attention(torch.device("cuda")):
        assert (
            not torch.backends.cuda.cudnn_sdp_enabled()
            and torch.backends.cuda.mem_efficient_sdp_enabled()
        )
    assert torch.backends.cuda.cudnn_sdp_enabled() == before
    for kept in (
        gradient_attention(torch.device("cpu")),
        gradient_attention(torch.device("cuda"), cudnn=True),
    ):
        with kept:
            assert torch.backends.cuda.cudnn_sdp_enabled() == before


def test_training_steps_and_the_fisher_enter_the_gradient_context(
    tokenizer, demo_source, monkeypatch
):
    import contextlib

    entered = []

    @contextlib.contextmanager
    def counting(self):
        entered.append(1)
        yield

    monkeypatch.setattr(AnswerForward, "gradients", counting)
    b = make_backbone(tokenizer, demo_source, epochs=1)
    task = demo_source.load()[0]
    b.new_expert("e0")
    report = b.start("e0", task, ConsolidationPolicy()).train_epoch()
    assert len(entered) == report.steps
    b.consolidate("e0", task, ConsolidationPolicy(ewc_lambda=1.0), 1.0)
    assert len(entered) == report.steps + 1


def _train(tokenizer, demo_source, **switches):
    b = make_backbone(tokenizer, demo_source, **switches)
    task = demo_source.load()[0]
    b.new_expert("e0")
    session = b.start("e0", task, ConsolidationPolicy())
    losses = [loss for _ in range(2) for loss in session.train_epoch().step_losses]
    return losses, session.validate()


def _same_training(reference, other):
    assert len(reference[0]) == len(other[0])
    assert max(abs(a - c) for a, c in zip(reference[0], other[0], strict=True)) < 1e-4
    assert reference[1] == other[1]


def test_training_switches_give_the_same_losses_and_accuracy(tokenizer, demo_source):
    """share_prefix (default) against plain batches, and length buckets: the same run
    within 1e-4."""
    reference = _train(tokenizer, demo_source, share_prefix=False)
    _same_training(reference, _train(tokenizer, demo_source))
    _same_training(
        reference, _train(tokenizer, demo_source, share_prefix=False, pad_to_multiple=16)
    )


@pytest.mark.slow
def test_torch_compile_gives_the_same_losses_and_accuracy(tokenizer, demo_source):
    """torch.compile on CPU (inductor) takes minutes to compile on a 2-core machine: slow."""
    reference = _train(tokenizer, demo_source, share_prefix=False, pad_to_multiple=16)
    _same_training(reference, _train(tokenizer, demo_source, compile="default", pad_to_multiple=16))
