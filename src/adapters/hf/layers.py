"""The backbone's modules, by name: a listing for `inspect-layers`, defaults and checks for
`grad_sketch_layer_names`.

Default sketch layers are the last decoder layer's value projection and MLP down projection:
- the last layer is nearest the loss, so its gradient is the most task-specific and the least
  diluted by backpropagation through earlier layers; it is also the cheapest to reach;
- `self_attn.v_proj` is one of the LoRA targets (adapters/hf/experts.py), so its gradient says
  what an expert's update there would be; it is small (hidden x kv-heads x head-dim: 576 x 192 on
  SmolLM2-135M);
- `mlp.down_proj` writes the layer's output into the residual stream, the part of the layer that
  maps to the answer tokens, and is not a LoRA target, so it adds a signal the adapters do not
  already see.
Names are resolved as suffixes, so the same patterns work under `model.language_model.` (multimodal
Gemma 3) or a PEFT wrapper (`base_model.model.`).
"""

from __future__ import annotations

import difflib
import re

import torch

from adaptive_learner.adapters.errors import BackboneError

# Architectures laid out as Llama is (q/k/v/o attention projections, mlp.down_proj), by model_type.
LLAMA_LIKE = (
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text",
    "olmo", "olmo2", "granite", "smollm3",
)  # fmt: skip
_LAST_VALUE_AND_DOWN = ("layers.{last}.self_attn.v_proj", "layers.{last}.mlp.down_proj")
SKETCH_LAYER_PATTERNS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        LLAMA_LIKE,
        _LAST_VALUE_AND_DOWN,
    ),
    "phi3": ("layers.{last}.self_attn.qkv_proj", "layers.{last}.mlp.down_proj"),
}


def _decoder_depth(model: torch.nn.Module) -> int:
    config = getattr(model, "config", None)
    text = getattr(config, "text_config", None) or config
    depth = getattr(text, "num_hidden_layers", None)
    if depth is None:  # fall back to counting `layers.N` modules
        found = {
            int(m.group(1))
            for name, _ in model.named_modules()
            if (m := re.search(r"layers\.(\d+)$", name))
        }
        depth = max(found) + 1 if found else 0
    return int(depth)


def default_sketch_layers(model: torch.nn.Module) -> list[str]:
    """Full module names of the architecture's default gradient-sketch layers (see the module
    docstring)."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in SKETCH_LAYER_PATTERNS:
        known = ", ".join(sorted(SKETCH_LAYER_PATTERNS))
        raise BackboneError(
            f"no default grad_sketch_layer_names for architecture {model_type!r} (known: {known}); "
            "set them by name"
        )
    last = _decoder_depth(model) - 1
    names = [name for name, _ in model.named_modules()]
    resolved = []
    for pattern in SKETCH_LAYER_PATTERNS[model_type]:
        suffix = pattern.format(last=last)
        hits = [n for n in names if n == suffix or n.endswith("." + suffix)]
        if not hits:
            raise BackboneError(
                f"architecture {model_type!r} has no module ending in {suffix!r}; set "
                "grad_sketch_layer_names"
            )
        # the outermost match (a PEFT wrapper, not its base_layer)
        resolved.append(min(hits, key=len))
    return resolved


def check_layer_names(
    model: torch.nn.Module, names: list[str], field: str = "grad_sketch_layer_names"
) -> None:
    """Raise one line naming every unknown module name in `names` and the closest existing names."""
    existing = [name for name, _ in model.named_modules() if name]
    known = set(existing)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, existing, n=3, cutoff=0.5)
        hints.append(
            f"{name!r} (closest: {', '.join(close)})" if close else f"{name!r} (no close name)"
        )
    raise BackboneError(
        f"{field}: unknown module {'; '.join(hints)}; list them with `adaptive-learner "
        "inspect-layers`"
    )


def layer_rows(model: torch.nn.Module, contains: str = "") -> list[tuple[str, str, str, int]]:
    """(name, type, shapes of its own parameters, parameter count incl. children) for every module
    whose name contains `contains`."""
    rows = []
    for name, module in model.named_modules():
        if contains and contains not in name:
            continue
        own = ", ".join(f"{p}{list(t.shape)}" for p, t in module.named_parameters(recurse=False))
        count = sum(t.numel() for t in module.parameters())
        rows.append((name or "(model)", type(module).__name__, own, count))
    return rows


def skeleton(name_or_path: str, gguf_file: str = "", cache_dir: str = "") -> torch.nn.Module:
    """The model's module tree with real shapes and no weights (meta device): listing even a 7B
    model is instant.

    Names resolve as for training (adapters/hf/loading.py): embedded names, GGUF files,
    folders, hub ids.
    """
    import os

    from transformers import AutoConfig, AutoModelForCausalLM

    from adaptive_learner.adapters.hf.loading import quiet_transformers, resolve

    quiet_transformers()
    where = resolve(name_or_path, gguf_file, cache_dir)
    # gated hub models; never logged
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGINGFACE_HUB_TOKEN")
    try:
        config = AutoConfig.from_pretrained(where, **({"token": token} if token else {}))
    except (OSError, ValueError) as exc:
        raise BackboneError(
            f"cannot read the config of model {name_or_path!r}: {str(exc).splitlines()[0]}"
        ) from None
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)
