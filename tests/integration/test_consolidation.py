"""Online EWC and replay on the tiny random Llama: kernels vs references, budgets, exactness,
persistence."""

import math
import random
import warnings
from types import SimpleNamespace

import pytest
import torch
from tests.integration.conftest import make_backbone, one_task_learned, schedule_learner

from adaptive_learner.adapters.errors import BackboneError
from adaptive_learner.adapters.hf import latents, scoring
from adaptive_learner.adapters.hf.consolidation import ExpertConsolidation
from adaptive_learner.adapters.hf.experts import neutral
from adaptive_learner.adapters.hf.fisher import diagonal_fisher, ewc_penalty
from adaptive_learner.adapters.hf.replay import WINDOW, ExperienceReplay, LatentReplay
from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]


def trained(tokenizer, source, first_layer=0, run_dir=None, policy=None):
    """A backbone whose expert e0 learned the first demo task for one epoch (LoRA B no
    longer zero)."""
    b = make_backbone(tokenizer, source, run_dir=run_dir, first_layer=first_layer)
    task = source.load()[0]
    b.new_expert("e0")
    b.start("e0", task, policy or ConsolidationPolicy()).train_epoch()
    return b, task


def fisher_inputs(b, task, n=7):
    data = b.encoded(task, "train")
    rows = [data.ids[i] for i in range(n)]  # differing lengths, so batches are left-padded
    return rows, [data.labels[i] for i in range(n)], b.label_ids(task)


# --- the Fisher kernel ------------------------------------------------------------------------
def test_vmap_fisher_equals_the_per_example_loop(tokenizer, demo_source):
    b, task = trained(tokenizer, demo_source)
    rows, gold, label_ids = fisher_inputs(b, task)
    assert len({len(r) for r in rows}) > 1
    params = b.experts.parameters("e0")
    kw = {"gold": gold, "batch_size": 4, "pad_id": b.pad_id, "device": b.device}
    fast = diagonal_fisher(b.experts.model, params, rows, label_ids, method="vmap", **kw)
    slow = diagonal_fisher(b.experts.model, params, rows, label_ids, method="loop", **kw)
    assert set(fast) == set(params) and any(f.abs().sum() > 0 for f in fast.values())
    for n, f in fast.items():
        assert torch.allclose(
            f, slow[n], rtol=1e-4, atol=1e-9 + 1e-5 * slow[n].abs().max().item()
        ), n


class _ToyLM(torch.nn.Module):
    """Hidden state = embedding of each token; one linear head. d log p_k / dW has a closed form."""

    def __init__(self, vocab=11, hidden=3):
        super().__init__()
        torch.manual_seed(1)
        self.embed, self.head = (
            torch.nn.Embedding(vocab, hidden),
            torch.nn.Linear(hidden, vocab, bias=False),
        )
        self.embed.requires_grad_(False)

    def get_decoder(self):
        return lambda input_ids, attention_mask=None, position_ids=None: SimpleNamespace(
            last_hidden_state=self.embed(input_ids)
        )

    def get_output_embeddings(self):
        return self.head


@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_fisher_matches_a_hand_written_reference(method):
    model, label_ids = _ToyLM(), torch.tensor([2, 5, 7])
    rows, gold = [[1, 4], [3], [6, 6, 9], [8, 2]], [0, 2, 1, 2]
    with warnings.catch_warnings():
        # vmap must not fall back to the loop here: that would test the loop twice
        warnings.simplefilter("error")
        got = diagonal_fisher(
            model,
            {"head.weight": model.head.weight},
            rows,
            label_ids,
            gold=gold,
            batch_size=3,
            method=method,
        )
    w, e = model.head.weight.tolist(), model.embed.weight.tolist()
    ref = [[0.0] * 3 for _ in range(11)]
    for row, y in zip(rows, gold):
        h = e[row[-1]]  # last position
        z = [sum(w[v][j] * h[j] for j in range(3)) for v in label_ids.tolist()]
        p = [math.exp(x - max(z)) / sum(math.exp(t - max(z)) for t in z) for x in z]
        for k, v in enumerate(label_ids.tolist()):  # d log p_y / d W[v, j] = (1[k = y] - p_k) h_j
            for j in range(3):
                ref[v][j] += ((k == y) - p[k]) ** 2 * h[j] ** 2 / len(rows)
    assert torch.allclose(got["head.weight"], torch.tensor(ref), atol=1e-7)


def test_vmap_falls_back_to_the_loop_with_a_reason():
    model, label_ids = _ToyLM(), torch.tensor([2, 5, 7])
    decoder = model.get_decoder()

    def branching(input_ids, **kw):  # data-dependent control flow: vmap cannot trace it
        return decoder(input_ids) if input_ids.sum() > 0 else decoder(input_ids + 1)

    model.get_decoder = lambda: branching
    rows, gold = [[1, 4], [3], [6, 6, 9]], [0, 2, 1]
    params = {"head.weight": model.head.weight}
    with pytest.warns(UserWarning, match="vmap failed for this model .*using the loop"):
        got = diagonal_fisher(
            model, params, rows, label_ids, gold=gold, batch_size=2, method="vmap"
        )
    want = diagonal_fisher(model, params, rows, label_ids, gold=gold, batch_size=2, method="loop")
    assert torch.equal(got["head.weight"], want["head.weight"])


def test_true_fisher_is_seeded_and_differs_from_empirical(tokenizer, demo_source):
    b, task = trained(tokenizer, demo_source)
    rows, gold, label_ids = fisher_inputs(b, task)
    params = b.experts.parameters("e0")
    run = lambda kind, seed: diagonal_fisher(
        b.experts.model,
        params,
        rows,
        label_ids,
        gold=gold,
        kind=kind,
        batch_size=4,
        pad_id=b.pad_id,
        generator=torch.Generator().manual_seed(seed),
    )
    true1, true2, emp = run("true", 3), run("true", 3), run("empirical", 3)
    assert all(torch.equal(true1[n], true2[n]) for n in params)
    assert any(not torch.allclose(true1[n], emp[n]) for n in params)


# --- online EWC -------------------------------------------------------------------------------
def test_online_ewc_accumulates_scaled_fisher_and_moves_the_anchor(tokenizer, demo_source):
    # all 24 rows: no sampling
    policy = ConsolidationPolicy(ewc_lambda=100.0, ewc_data_loader_num_samples=100)
    b, task_a = trained(tokenizer, demo_source, policy=policy)
    task_b = demo_source.load()[1]
    b.consolidate("e0", task_a, policy, 0.5)
    state = b.consolidation["e0"]
    f_a = {k: v.clone() for k, v in state.fisher.items()}
    assert all(torch.equal(state.anchors[k], v) for k, v in b.experts.state("e0").items())

    session = b.start("e0", task_b, policy)
    named = {neutral(k): p for k, p in b.experts.parameters("e0").items()}
    # right after consolidation
    assert ewc_penalty(named, state.anchors, state.fisher, 100.0).item() == 0.0
    session.train_epoch()
    # task B moved the weights
    assert ewc_penalty(named, state.anchors, state.fisher, 100.0).item() > 0.0

    b.new_expert("probe", parent="e0")  # same weights, fresh state: F_B alone, from the same rows
    b.consolidation["probe"] = ExpertConsolidation()
    b.consolidate("probe", task_b, policy, 1.0)
    b.consolidate("e0", task_b, policy, 2.0)
    f_b = b.consolidation["probe"].fisher
    for k, f in f_a.items():
        assert torch.allclose(state.fisher[k], f + 2.0 * f_b[k], rtol=1e-5, atol=1e-12)
    assert [e["fisher_scale"] for e in state.fisher_log] == [0.5, 2.0]
    assert all(torch.equal(state.anchors[k], v) for k, v in b.experts.state("e0").items())


def test_the_ewc_penalty_holds_weights_that_mattered_for_the_old_task(tokenizer, demo_source):
    b, task_a = trained(tokenizer, demo_source)
    b.consolidate("e0", task_a, ConsolidationPolicy(ewc_lambda=1.0), 1.0)
    task_b, state = demo_source.load()[1], b.consolidation["e0"]
    moved = {}
    for name, lam in (("free", 0.0), ("held", 1e6)):
        b.new_expert(name, parent="e0")  # same weights and Fisher
        b.start(name, task_b, ConsolidationPolicy(ewc_lambda=lam)).train_epoch()
        named = {neutral(k): p for k, p in b.experts.parameters(name).items()}
        moved[name] = ewc_penalty(named, state.anchors, state.fisher, 1.0).item()
    assert moved["held"] < 0.5 * moved["free"]


# --- replay -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["experience", "cmt", "pcgr"])
def test_replay_memories_stay_within_the_byte_budget(tokenizer, demo_source, kind):
    b, task = trained(tokenizer, demo_source, first_layer=1)
    sizes = []
    for budget in (2_000, 5_000) if kind == "experience" else (6_000, 20_000):
        b.consolidate("e0", task, ConsolidationPolicy(replay=kind, replay_budget_bytes=budget), 1.0)
        memory = b.consolidation["e0"].replay[task.id]
        stored = sum(t.numel() * t.element_size() for t in memory.tensors.values())
        assert memory.nbytes() == stored <= budget and len(memory) >= 1
        sizes.append(len(memory))
    assert sizes[0] < sizes[1]  # a larger budget buys more samples
    with pytest.raises(BackboneError, match="replay_budget_bytes=64 holds no"):
        b.consolidate("e0", task, ConsolidationPolicy(replay=kind, replay_budget_bytes=64), 1.0)


def test_latent_replay_from_layer_k_reproduces_the_full_model(tokenizer, demo_source):
    b, task = trained(tokenizer, demo_source, first_layer=1)
    model = b.experts.model.eval()
    data = b.encoded(task, "train")
    # the last row is filled
    window = latents.windows(list(data.ids[:6]) + [data.ids[0][:5]], WINDOW, b.pad_id)
    with torch.no_grad():
        logits, _ = latents.run_from(model, latents.layer_input(model, window, 1), 1)
        full = scoring.answer_logits(model, window, torch.ones_like(window))
        with b.experts.bare() as bare:
            zero = scoring.answer_logits(bare, window, torch.ones_like(window))
    assert torch.allclose(logits, full, atol=1e-5)
    assert not torch.allclose(full, zero, atol=1e-3)  # the LoRA layers above k take part


@pytest.mark.parametrize("kind", ["cmt", "pcgr"])
def test_latent_replay_loss_is_zero_for_the_teacher_itself(tokenizer, demo_source, kind):
    b, task = trained(tokenizer, demo_source, first_layer=1)
    policy = ConsolidationPolicy(replay=kind, replay_alpha=1.0, feature_replay_alpha=1.0)
    b.consolidate("e0", task, policy, 1.0)
    memory = b.consolidation["e0"].replay[task.id]
    with torch.no_grad():
        loss = memory.loss(b.experts.model.eval(), range(len(memory)), alpha=1.0, feature_alpha=1.0)
    assert 0.0 <= loss.item() < 1e-5  # teacher features are float16: MSE is rounding only


def test_latent_replay_refuses_lora_in_every_layer(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source, first_layer=0)
    b.new_expert("e0")
    with pytest.raises(BackboneError, match="set lora.first_layer >= 1"):
        b.start("e0", demo_source.load()[0], ConsolidationPolicy(replay="cmt"))


# --- persistence and forks --------------------------------------------------------------------
def _same_state(x: ExpertConsolidation, y: ExpertConsolidation) -> bool:
    same = lambda p, q: set(p) == set(q) and all(torch.equal(p[k], q[k]) for k in p)
    return (
        same(x.fisher, y.fisher)
        and same(x.anchors, y.anchors)
        and x.fisher_log == y.fisher_log
        and set(x.replay) == set(y.replay)
        and all(
            type(x.replay[t]) is type(y.replay[t])
            and same(x.replay[t].tensors, y.replay[t].tensors)
            for t in x.replay
        )
    )


def test_consolidation_state_survives_save_load_and_is_copied_on_fork(
    tokenizer, demo_source, tmp_path
):
    b, task_a = trained(tokenizer, demo_source, first_layer=1, run_dir=tmp_path)
    task_b = demo_source.load()[1]
    b.consolidate(
        "e0", task_a, ConsolidationPolicy(ewc_lambda=10.0, fisher="true", replay="pcgr"), 1.5
    )
    b.consolidate(
        "e0", task_b, ConsolidationPolicy(replay="experience", replay_budget_bytes=4_000), 1.0
    )
    ref = b.save_expert("e0", (task_a.id, task_b.id))
    assert {"consolidation.safetensors", "consolidation.json"} <= {
        p.name for p in (tmp_path / "experts" / ref).iterdir()
    }

    fresh = make_backbone(tokenizer, demo_source, run_dir=tmp_path, first_layer=1)
    fresh.load_expert("e0", ref)
    assert _same_state(fresh.consolidation["e0"], b.consolidation["e0"])
    assert isinstance(fresh.consolidation["e0"].replay[task_a.id], LatentReplay)
    assert isinstance(fresh.consolidation["e0"].replay[task_b.id], ExperienceReplay)

    b.new_expert("e1", parent="e0")
    assert _same_state(b.consolidation["e1"], b.consolidation["e0"])
    b.consolidation["e1"].fisher[next(iter(b.consolidation["e1"].fisher))].add_(1.0)
    assert not _same_state(b.consolidation["e1"], b.consolidation["e0"])  # a copy, not an alias


def test_replay_adds_to_the_training_loss(tokenizer, demo_source):
    policy = ConsolidationPolicy(replay="cmt")
    b, task = trained(tokenizer, demo_source, first_layer=1, policy=policy)
    b.consolidate("e0", task, policy, 1.0)
    state, model = b.consolidation["e0"], b.experts.model
    args = (model, b.experts.parameters("e0"), "e0")
    # own task: nothing earlier
    assert state.extra_loss(*args, task.id, policy, random.Random(0), 4, b.pad_id) is None
    assert state.extra_loss(*args, "other", policy, random.Random(0), 4, b.pad_id) is not None


class _SpyMemory:
    """Stands in for a replay memory: records which task was replayed, with how many examples."""

    def __init__(self, task, calls):
        self.task, self.calls = task, calls

    def __len__(self):
        return 10

    def loss(self, model, index, **_):
        self.calls.append((self.task, len(index)))
        return torch.tensor(1.0)


@pytest.mark.parametrize(("per_step", "expected"), [(1, 1), (2, 2), (-1, 3)])
def test_replay_tasks_per_step_replays_that_many_earlier_memories(per_step, expected):
    calls = []
    state = ExpertConsolidation(replay={t: _SpyMemory(t, calls) for t in ("a", "b", "c", "now")})
    policy = ConsolidationPolicy(replay="cmt", replay_tasks_per_step=per_step)
    loss = state.extra_loss(None, {}, "e0", "now", policy, random.Random(0), 4, 0)
    assert loss.item() == expected  # each replayed memory adds its own full-weight term
    assert len({t for t, _ in calls}) == expected and all(n == 4 for _, n in calls)
    assert "now" not in {t for t, _ in calls}  # never the task being learned


@pytest.mark.parametrize(("rows", "expected"), [(0, 8), (3, 3)])
def test_each_training_step_replays_replay_batch_size_rows(tokenizer, demo_source, rows, expected):
    """`replay_batch_size` rows per replayed batch; 0 follows training.batch_size (8 in
    these tests)."""
    policy = ConsolidationPolicy(replay="experience", replay_batch_size=rows)
    b, task = trained(tokenizer, demo_source, policy=policy)
    b.consolidate("e0", task, policy, 1.0)
    calls = []
    b.consolidation["e0"].replay = {task.id: _SpyMemory(task.id, calls)}
    b.start("e0", demo_source.load()[1], policy).train_epoch()
    assert calls and {n for _, n in calls} == {expected}


# --- whole runs -------------------------------------------------------------------------------
POLICIES = {
    "ewc": ConsolidationPolicy(ewc_lambda=100.0, ewc_data_loader_num_samples=8, ewc_batch_size=4),
    "gamma-ewc": ConsolidationPolicy(
        ewc_lambda=100.0, ewc_data_loader_num_samples=8, ewc_batch_size=4, use_gamma_gating=True
    ),
    "experience": ConsolidationPolicy(replay="experience"),
    "cmt": ConsolidationPolicy(replay="cmt", replay_budget_bytes=30_000),
    "pcgr": ConsolidationPolicy(replay="pcgr", replay_budget_bytes=30_000),
    "hybrid": ConsolidationPolicy(
        ewc_lambda=50.0,
        ewc_data_loader_num_samples=8,
        fisher="true",
        replay="pcgr",
        replay_budget_bytes=30_000,
    ),
}


@pytest.mark.parametrize("name", list(POLICIES))
def test_a_shared_expert_learns_three_tasks_under_each_policy(
    tokenizer, demo_source, tmp_path, name
):
    policy = POLICIES[name]
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path, first_layer=1)
    tracker = RecordingTracker()
    learn = schedule_learner(b, tracker, policy, epochs=1)
    state = RunSequence(
        demo_source, learn, EvaluateSequence(b, tracker), b, MemoryRunStore(), tracker
    )()
    assert state.completed == 3 and len(state.library) == 1
    (expert,) = state.library
    kept = b.consolidation[expert.id]
    # the last task is not consolidated: no later task would read it (docs/adr/0041)
    assert len(kept.fisher_log) == (2 if policy.uses_ewc else 0)
    assert len(kept.replay) == (2 if policy.uses_replay else 0)
    assert [f["task"] for e, f in tracker.events if e == "consolidation_skipped"] == [
        state.task_ids[2]
    ]
    scales = [r.fisher_scale for r in state.reports]
    assert scales[:2] == [e["fisher_scale"] for e in kept.fisher_log] or not policy.uses_ewc
    assert policy.gated or scales == [1.0, 1.0, 1.0]


def test_the_replica_probe_trains_exactly_as_each_option_would(tokenizer, demo_source):
    """docs/adr/0048: a candidate's copy trains as the reuse will (same weights, batches, dropout
    draws: each session seeds them from the task), and with `as_id` a fresh copy is initialised as
    the new expert will be, so one epoch's steps end in exactly the real epoch's weights. Without
    `as_id` the fresh copy is another LoRA."""
    policy = ConsolidationPolicy(replay="experience", ewc_lambda=10.0)
    b, task_a, task_b, steps = one_task_learned(tokenizer, demo_source, policy)
    copies, remove = [], b.experts.remove
    b.experts.remove = lambda name: copies.append(b.experts.state(name)) or remove(name)
    torch.manual_seed(123)  # whatever the run's stream is when the reuse is decided
    b.trial("e0", task_b, policy, steps, (task_a,))
    b.trial(None, task_b, policy, steps, as_id="e1")
    b.trial(None, task_b, policy, steps)
    reuse_copy, fresh_replica, fresh_own = copies
    b.start("e0", task_b, policy).train_epoch()  # the real reuse, from the same stream
    b.new_expert("e1")
    b.start("e1", task_b, policy).train_epoch()  # the real new expert
    same = lambda copy, real: (
        copy.keys() == real.keys() and all(torch.equal(v, real[k]) for k, v in copy.items())
    )
    real_e0, real_e1 = (
        b.experts.state("e0"),
        b.experts.state("e1"),
    )  # keyed without the adapter's name
    assert same(reuse_copy, real_e0) and same(fresh_replica, real_e1)
    assert not same(fresh_own, real_e1)  # its own initialisation: another training


def test_the_trained_probe_leaves_every_expert_memory_and_random_stream_as_it_was(
    tokenizer, demo_source
):
    """docs/adr/0040: a throwaway copy (weights + consolidation) trains k steps with replay and
    is deleted."""
    policy = ConsolidationPolicy(replay="experience", ewc_lambda=10.0)
    b, task_a = trained(tokenizer, demo_source, policy=policy)
    b.consolidate("e0", task_a, policy, 1.0)
    task_b = demo_source.load()[1]
    weights, names = b.experts.state("e0"), b.experts.names()
    kept = b.consolidation["e0"]
    rng = torch.get_rng_state()
    as_is = b.score("e0", task_b, "dev")

    removed, remove = [], b.experts.remove
    b.experts.remove = lambda name: removed.append(b.experts.state(name)) or remove(name)
    scores = b.trial("e0", task_b, policy, 3, (task_a,))
    assert any(not torch.equal(v, weights[k]) for k, v in removed[0].items())  # the copy trained
    assert set(scores) == {task_a.id, task_b.id} and all(s.n > 0 for s in scores.values())
    fresh = b.trial(None, task_b, policy, 3)
    assert set(fresh) == {task_b.id}
    assert b.experts.names() == names and "trial-probe" not in b.consolidation
    assert all(torch.equal(v, b.experts.state("e0")[k]) for k, v in weights.items())
    assert b.consolidation["e0"] is kept and set(kept.replay) == {task_a.id}
    assert torch.equal(torch.get_rng_state(), rng)
    assert b.score("e0", task_b, "dev") == as_is


def test_each_task_reports_its_training_compute_replayed_rows_included(
    tokenizer, demo_source, tmp_path
):
    """Issue 31 item 5's confound is steps, so each task reports its optimiser steps and the rows
    its training forwards saw: its own, plus one replayed batch per earlier task and step."""
    policy = ConsolidationPolicy(replay="experience", replay_tasks_per_step=-1)
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    tracker = RecordingTracker()
    learn = schedule_learner(b, tracker, policy, epochs=2)
    state = RunSequence(
        demo_source, learn, EvaluateSequence(b, tracker), b, MemoryRunStore(), tracker
    )()
    train = [len(b.encoded(t, "train")) for t in demo_source.load()]
    steps = [2 * math.ceil(n / 8) for n in train]
    assert [r.train_steps for r in state.reports] == steps
    # task k replays each of its k earlier tasks with a batch of 8 rows on every step
    assert [r.train_rows for r in state.reports] == [
        2 * n + k * 8 * s for k, (n, s) in enumerate(zip(train, steps, strict=True))
    ]
