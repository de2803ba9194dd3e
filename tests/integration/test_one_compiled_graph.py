"""One compiled graph per shape bucket for a whole run, not one per expert (docs/adr/0055).

The compiled answer forward sees one fixed LoRA slot whose weights are copied in per expert, so a
new expert, a reuse or a switch between experts compiles nothing new. Dynamo compiles with the
"eager" backend here (graph capture and guards as with inductor, no C++ build: seconds on a CPU).
"""

from __future__ import annotations

import pytest
import torch
from tests.integration.conftest import make_backbone, schedule_learner

from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.hf.forward import AnswerForward
from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.domain.consolidation import ConsolidationPolicy

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]


def _lora_on(model) -> bool:
    """False for the bare model: the base model itself (before any expert) or LoRA switched off."""
    from peft.tuners.lora import LoraLayer

    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    return bool(layers) and not any(m.disable_adapters for m in layers)


@pytest.mark.parametrize(("share", "experts"), [(1, 3), (2, 2)])  # new experts; a reuse
def test_a_three_task_run_compiles_once_per_shape_bucket_not_per_expert(
    tokenizer, demo_source, monkeypatch, share, experts
):
    from torch._dynamo.utils import counters

    # every distinct call of the compiled forward: shape bucket, the modes its guards read, and
    # which module (the base model before any expert, or the model with the slot, on or off)
    buckets: set[tuple] = set()
    plain = AnswerForward.logits

    def recording(self, model, rows, pad_id, groups=None):
        ids, _ = scoring.collate(rows, pad_id, self.device, self.multiple)
        grad, training = torch.is_grad_enabled(), model.training
        buckets.add((tuple(ids.shape), grad, training, type(model).__name__, _lora_on(model)))
        return plain(self, model, rows, pad_id, groups)

    monkeypatch.setattr(AnswerForward, "logits", recording)
    b = make_backbone(tokenizer, demo_source, compile="default", pad_to_multiple=16, epochs=1)
    b.forward.backend = "eager"
    tracker = RecordingTracker()
    learn = schedule_learner(b, tracker, ConsolidationPolicy(), epochs=1, share=share)
    torch._dynamo.reset()
    counters.clear()
    # a limit above any per-expert growth, so that a recompile shows as a graph, not a fallback
    with torch._dynamo.config.patch(recompile_limit=256):
        state = RunSequence(
            demo_source, learn, EvaluateSequence(b, tracker), b, MemoryRunStore(), tracker
        )()
    assert state.completed == 3 and len(state.library) == experts
    graphs = counters["stats"]["unique_graphs"]
    assert buckets and graphs == len(buckets), (graphs, sorted(buckets))


def test_experts_share_the_slot_tensors_and_keep_their_own_trained_weights(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source, epochs=1)
    first, second = demo_source.load()[:2]
    b.new_expert("e0")
    b.start("e0", first, ConsolidationPolicy()).train_epoch()
    trained, score = b.experts.state("e0"), b.score("e0", first, "dev")
    slot = list(b.experts.parameters("e0").values())
    b.new_expert("e1", parent="e0")  # a copy, then trained on its own
    b.start("e1", second, ConsolidationPolicy()).train_epoch()
    assert all(a is s for a, s in zip(b.experts.parameters("e1").values(), slot, strict=True))
    assert any(not torch.equal(v, trained[k]) for k, v in b.experts.state("e1").items())
    assert all(torch.equal(v, trained[k]) for k, v in b.experts.state("e0").items())
    assert b.score("e0", first, "dev") == score  # activated again: the weights e0 learned


def test_an_expert_saved_with_other_lora_settings_is_refused_by_the_slot(tokenizer, tmp_path):
    from tests.integration.conftest import tiny_model

    from adaptive_learner.adapters.errors import StorageError
    from adaptive_learner.adapters.hf.experts import PeftExperts

    def experts(r: int, alpha: int) -> PeftExperts:
        model = tiny_model(tokenizer)
        return PeftExperts(model, r=r, alpha=alpha, dropout=0.0, target_modules=[], base_name="t")

    saving = experts(4, 8)
    saving.add("e0")
    saving.save("e0", tmp_path / "e0", {"expert_id": "e0"})
    loaded = experts(4, 8)
    loaded.load("e0", tmp_path / "e0")
    assert all(torch.equal(v, saving.state("e0")[k]) for k, v in loaded.state("e0").items())
    for r, alpha in ((8, 16), (4, 16)):  # other shapes; same shapes, other scaling
        with pytest.raises(StorageError, match="shares one adapter slot"):
            experts(r, alpha).load("e0", tmp_path / "e0")
