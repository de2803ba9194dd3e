"""Module listing, default grad-sketch layers per architecture and the name checker, on tiny
random models."""

from __future__ import annotations

import sys

import pytest
from tests.integration.conftest import tiny_model

torch = pytest.importorskip("torch")

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.hf.layers import (
    SKETCH_LAYER_PATTERNS,
    check_layer_names,
    default_sketch_layers,
    layer_rows,
)

pytestmark = pytest.mark.integration


def meta_model(config):
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def tiny_config(model_type: str):
    from transformers import AutoConfig

    sizes = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 128,
        "head_dim": 8,
    }
    return AutoConfig.for_model(model_type, **sizes)


def test_llama_defaults_are_the_last_layers_value_and_down_projections(tokenizer):
    model = tiny_model(tokenizer)
    names = default_sketch_layers(model)
    assert names == ["model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj"]
    check_layer_names(model, names)


@pytest.mark.parametrize("model_type", ["qwen2", "gemma", "gemma3_text", "mistral", "qwen3"])
def test_defaults_resolve_on_other_architectures(model_type):
    assert model_type in SKETCH_LAYER_PATTERNS
    model = meta_model(tiny_config(model_type))
    names = default_sketch_layers(model)
    assert names == ["model.layers.2.self_attn.v_proj", "model.layers.2.mlp.down_proj"]
    check_layer_names(model, names)


def test_defaults_follow_a_peft_wrapper_to_the_wrapped_module(tokenizer):
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(tiny_model(tokenizer), LoraConfig(r=2, target_modules=["v_proj"]))
    names = default_sketch_layers(wrapped)
    assert names == [
        "base_model.model.model.layers.1.self_attn.v_proj",
        "base_model.model.model.layers.1.mlp.down_proj",
    ]


def test_an_unknown_architecture_is_a_one_line_error():
    model = meta_model(tiny_config("llama"))
    model.config.model_type = "mystery"
    with pytest.raises(
        AdapterError, match="no default grad_sketch_layer_names for architecture 'mystery'"
    ):
        default_sketch_layers(model)


def test_unknown_names_list_the_closest_existing_ones(tokenizer):
    model = tiny_model(tokenizer)
    with pytest.raises(AdapterError) as err:
        check_layer_names(
            model, ["model.layers.1.mlp.down_proj", "model.layers.7.self_attn.v_proj", "zzz"]
        )
    text = str(err.value)
    assert "\n" not in text and text.startswith("grad_sketch_layer_names: unknown module")
    assert "'model.layers.7.self_attn.v_proj' (closest: model.layers.1.self_attn.v_proj" in text
    assert "'zzz' (no close name)" in text and "down_proj'" not in text


def test_rows_list_names_types_shapes_and_counts(tokenizer):
    model = tiny_model(tokenizer)
    rows = {
        name: (kind, shapes, count)
        for name, kind, shapes, count in layer_rows(model, "layers.0.self_attn")
    }
    assert set(rows) == {
        f"model.layers.0.self_attn{s}" for s in ("", ".q_proj", ".k_proj", ".v_proj", ".o_proj")
    }
    assert rows["model.layers.0.self_attn.v_proj"] == ("Linear", "weight[16, 32]", 16 * 32)
    assert rows["model.layers.0.self_attn"][2] == 32 * 32 * 2 + 16 * 32 * 2
    everything = layer_rows(model)
    assert everything[0][0] == "(model)" and everything[0][3] == sum(
        p.numel() for p in model.parameters()
    )


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """The console entry point in-process (a subprocess would re-import transformers): (exit code,
    stdout and stderr)."""
    from adaptive_learner.bootstrap.cli import entry

    monkeypatch.setattr(sys, "argv", ["adaptive-learner", *args])
    code = 0
    try:
        entry()
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.e2e
def test_inspect_layers_command_on_a_model_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    tiny_config("qwen2").save_pretrained(tmp_path / "tiny")  # the command reads the config only
    code, out = cli(
        monkeypatch,
        capsys,
        "inspect-layers",
        "--model",
        str(tmp_path / "tiny"),
        "--filter",
        "layers.2.mlp",
    )
    assert code == 0, out
    assert "model.layers.2.mlp.down_proj" in out and "weight[32, 64]" in out
    assert "model.layers.1" not in out
    assert (
        "default grad_sketch_layer_names: model.layers.2.self_attn.v_proj, "
        "model.layers.2.mlp.down_proj" in out
    )
    code, out = cli(monkeypatch, capsys, "inspect-layers", "--model", str(tmp_path / "nope"))
    assert code == 2 and "no such model folder" in out and len(out.strip().splitlines()) == 1
    code, out = cli(monkeypatch, capsys, "inspect-layers", "--help")
    assert code == 0 and all(option in out for option in ("--model", "--filter", "--gguf-file"))
