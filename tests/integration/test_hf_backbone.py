"""The HF backbone on a tiny random Llama: frozen base, scoring, experts, save/load, sharing."""

import pytest
import torch
from tests.integration.conftest import make_backbone, schedule_learner

from adaptive_learner.adapters.errors import BackboneError, DataError, StorageError
from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.hf.prompts import label_token_ids
from adaptive_learner.adapters.storage import MemoryRunStore
from adaptive_learner.adapters.trackers import RecordingTracker
from adaptive_learner.application.evaluate_sequence import EvaluateSequence
from adaptive_learner.application.run_sequence import RunSequence
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.task import Task

pytestmark = pytest.mark.integration


def test_base_weights_are_frozen_and_bit_identical_after_training(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source)
    before = {
        n: p.detach().clone() for n, p in b.experts.base.named_parameters() if "lora_" not in n
    }
    task = demo_source.load()[0]
    b.new_expert("e0")
    session = b.start("e0", task, ConsolidationPolicy())
    lora_before = b.experts.state("e0")
    session.train_epoch()
    after = dict(b.experts.model.named_parameters())
    base_after = {
        n.replace("base_model.model.", "", 1).replace(".base_layer", ""): p
        for n, p in after.items()
        if "lora_" not in n
    }
    assert all(not p.requires_grad for n, p in after.items() if "lora_" not in n)
    assert set(before) == set(base_after)
    assert all(torch.equal(before[n], base_after[n]) for n in before)
    assert any(not torch.equal(lora_before[k], v) for k, v in b.experts.state("e0").items()), (
        "LoRA did not train"
    )


def test_answer_logits_ignore_left_padding(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source)
    rows = [
        tuple(tokenizer("a short one", add_special_tokens=False)["input_ids"]),
        tuple(
            tokenizer("a much longer input sentence than the first one", add_special_tokens=False)[
                "input_ids"
            ]
        ),
    ]
    ids, mask = scoring.collate(rows, b.pad_id, b.device)
    batched = scoring.answer_logits(b.experts.model, ids, mask)
    for i, row in enumerate(rows):
        alone = b.experts.model(input_ids=torch.tensor([row])).logits[0, -1]
        assert torch.allclose(batched[i], alone, atol=1e-4)


def test_new_expert_scores_like_the_bare_backbone(tokenizer, demo_source):
    b = make_backbone(tokenizer, demo_source)
    task = demo_source.load()[0]
    zero_shot = b.score(None, task)
    b.new_expert("e0")
    assert b.score("e0", task) == zero_shot  # LoRA B starts at zero


def test_label_tokens_must_differ():
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [7, len(text)]}  # every answer starts with token 7

    with pytest.raises(DataError, match="share a first token"):
        label_token_ids(Tok(), Task("t", "t", "", ["not_a", "not_b"]))


def test_save_and_load_round_trip(tokenizer, demo_source, tmp_path):
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    task = demo_source.load()[0]
    b.new_expert("e0")
    b.start("e0", task, ConsolidationPolicy()).train_epoch()
    ref = b.save_expert("e0", (task.id,))
    folder = tmp_path / "experts" / ref
    assert (folder / "adapter_model.safetensors").exists() and (
        folder / "adapter_config.json"
    ).exists()
    assert '"task_ids"' in (folder / "expert.json").read_text()
    fresh = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    fresh.load_expert("e0", ref)
    assert fresh.score("e0", task) == b.score("e0", task)
    # an expert saved for another backbone is refused, by name
    other = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    other.experts.base_name = "another-model"
    with pytest.raises(StorageError, match="saved for base model 'tiny-llama'"):
        other.load_expert("e0", ref)
    # a truncated safetensors file is a one-line StorageError naming the file
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(StorageError, match="adapter_model.safetensors"):
        make_backbone(tokenizer, demo_source, run_dir=tmp_path).load_expert("e0", ref)


@pytest.mark.parametrize("share, experts", [(-1, 1), (1, 3), (2, 2)])
def test_sharing_schedule_keeps_experts_in_one_model(tokenizer, demo_source, share, experts):
    b = make_backbone(tokenizer, demo_source)
    model_id = id(b.experts.base)
    tracker = RecordingTracker()
    learn = schedule_learner(b, tracker, ConsolidationPolicy(), epochs=1, share=share)
    state = RunSequence(
        demo_source, learn, EvaluateSequence(b, tracker), b, MemoryRunStore(), tracker
    )()
    assert len(state.library) == experts
    assert sorted(b.experts.names()) == sorted(e.id for e in state.library)
    assert id(b.experts.base) == model_id  # the backbone was never reloaded
    # per-step losses reach trackers
    assert any(key.endswith("/step_loss") for _, metrics in tracker.metrics for key in metrics)
    assert state.completed == 3 and all(
        0 <= v <= 1 for row in state.accuracy.rows() for v in row if v is not None
    )


def test_bad_models_fail_with_one_line(tmp_path, monkeypatch):
    from adaptive_learner.adapters.hf.experts import default_targets
    from adaptive_learner.adapters.hf.loading import resolve

    with pytest.raises(BackboneError, match="no such GGUF file"):
        resolve(str(tmp_path), gguf_file="missing.gguf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackboneError, match="has no config.json"):
        resolve(str(tmp_path / "empty"))
    with pytest.raises(
        BackboneError, match="no default LoRA target modules for architecture 'mystery'"
    ):
        default_targets("mystery")


def test_unreachable_hub_id_fails_cleanly(monkeypatch):
    from adaptive_learner.adapters.hf.loading import load_backbone
    from adaptive_learner.bootstrap.config import ModelConfig

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneError, match="cannot load model 'google/gemma-2b'"):
        load_backbone(ModelConfig(name_or_path="google/gemma-2b"), torch.device("cpu"))


def test_joint_training_trains_one_expert_on_all_tasks(tokenizer, demo_source):
    from adaptive_learner.application.train_jointly import TrainJointly

    b = make_backbone(tokenizer, demo_source)
    result = TrainJointly(demo_source, b, RecordingTracker(), epochs=1)()
    assert b.experts.names() == ["joint"]
    assert set(result.scores) == set(demo_source.load().ids)
    assert 0.0 <= result.avg_acc <= 1.0


def test_training_a_task_is_independent_of_what_ran_before(tokenizer, demo_source):
    """Per-task seeding: the same task trained after other work gives the same weights (resume
    relies on it)."""
    task = demo_source.load()[0]

    def train(warm_up: bool):
        b = make_backbone(tokenizer, demo_source)
        b.experts.lora.lora_dropout = 0.1
        b.new_expert("e0")
        if warm_up:
            torch.rand(1000)  # consume the global RNG, as earlier tasks would
        b.start("e0", task, ConsolidationPolicy()).train_epoch()
        return b.experts.state("e0")

    first, second = train(False), train(True)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_quantization_choices(monkeypatch):
    import importlib.util

    from adaptive_learner.adapters.hf import loading

    assert loading.quantization("none", torch.float32) is None
    if importlib.util.find_spec("bitsandbytes") is not None:
        four = loading.quantization("4bit", torch.bfloat16)
        assert four.load_in_4bit and four.bnb_4bit_quant_type == "nf4"
        assert loading.quantization("8bit", torch.bfloat16).load_in_8bit
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bitsandbytes" else real(name, *a),
    )
    with pytest.raises(BackboneError, match="needs bitsandbytes"):
        loading.quantization("8bit", torch.bfloat16)


def test_device_dtype_and_attention_defaults():
    from adaptive_learner.adapters.hf import loading

    cpu = torch.device("cpu")
    assert loading.pick_dtype("auto", cpu) is torch.float32
    assert loading.pick_dtype("auto", torch.device("cuda")) is torch.bfloat16
    assert loading.pick_attention("auto", cpu) == "sdpa"
    if not torch.cuda.is_available():
        with pytest.raises(BackboneError, match="no CUDA device"):
            loading.pick_device("cuda")
