"""LoRA experts as named PEFT adapters inside one model; saved as standard PEFT folders.

All experts live in one PeftModel and `set_adapter` switches between them, so the backbone is
loaded once per run. A saved expert is `<run>/experts/<id>/v<n>/` (adapter_config.json,
adapter_model.safetensors) plus `expert.json` with the run id, task ids and base model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from adaptive_learner.adapters.errors import BackboneError, StorageError

# Attention projections per architecture; PEFT's own table (q and v only) is the fallback.
ATTENTION_TARGETS = {
    **dict.fromkeys(
        ["llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "olmo", "olmo2", "granite", "smollm3"],
        ["q_proj", "k_proj", "v_proj", "o_proj"],
    ),
    "phi3": ["qkv_proj", "o_proj"],
    "gpt2": ["c_attn", "c_proj"],
    "gpt_neox": ["query_key_value", "dense"],
    "falcon": ["query_key_value", "dense"],
}


def default_targets(model_type: str) -> list[str]:
    if model_type in ATTENTION_TARGETS:
        return ATTENTION_TARGETS[model_type]
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    if model_type in PEFT_TARGETS:
        return list(PEFT_TARGETS[model_type])
    raise BackboneError(f"no default LoRA target modules for architecture {model_type!r}; set lora.target_modules")


class PeftExperts:
    """Creates, switches, snapshots, saves and loads the LoRA experts of one backbone."""

    def __init__(
        self, model, *, r: int, alpha: int, dropout: float, target_modules: list[str], base_name: str, first_layer: int = 0
    ) -> None:
        self.base, self.peft, self.first_layer = model, None, first_layer
        targets = target_modules or default_targets(model.config.model_type)
        n_layers = model.config.num_hidden_layers
        if not 0 <= first_layer < n_layers:
            raise BackboneError(f"lora.first_layer {first_layer} is outside the model's {n_layers} layers")
        layers = list(range(first_layer, n_layers)) if first_layer else None
        self.lora = LoraConfig(
            r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, layers_to_transform=layers, bias="none", task_type="CAUSAL_LM"
        )
        self.base_name = base_name

    @property
    def model(self):
        return self.peft if self.peft is not None else self.base

    def names(self) -> list[str]:
        return list(self.peft.peft_config) if self.peft is not None else []

    def add(self, expert_id: str, parent: str | None = None) -> None:
        if self.peft is None:
            self.peft = get_peft_model(self.base, self.lora, adapter_name=expert_id)
        else:
            self.peft.add_adapter(expert_id, self.lora)
        if parent is not None:
            self.load_state(expert_id, self.state(parent))
        self.activate(expert_id)

    def activate(self, expert_id: str) -> None:
        if expert_id not in self.names():
            raise BackboneError(f"no LoRA expert {expert_id!r} in the model; known: {self.names()}")
        self.peft.set_adapter(expert_id)  # also makes exactly this adapter's weights trainable

    def parameters(self, expert_id: str) -> dict[str, torch.nn.Parameter]:
        tag = f".{expert_id}."
        return {n: p for n, p in self.peft.named_parameters() if "lora_" in n and tag in n}

    def state(self, expert_id: str) -> dict[str, torch.Tensor]:
        """A detached copy of the expert's weights, keyed without the adapter name."""
        return {n.replace(f".{expert_id}.", ".{}."): p.detach().clone() for n, p in self.parameters(expert_id).items()}

    def load_state(self, expert_id: str, state: dict[str, torch.Tensor]) -> None:
        params = self.parameters(expert_id)
        with torch.no_grad():
            for key, value in state.items():
                params[key.replace(".{}.", f".{expert_id}.")].copy_(value)

    @contextlib.contextmanager
    def bare(self) -> Iterator[object]:
        """The backbone with every adapter switched off (zero-shot)."""
        if self.peft is None:
            yield self.base
        else:
            with self.peft.disable_adapter():
                yield self.peft

    def save(self, expert_id: str, folder: Path, metadata: dict) -> None:
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            self.peft.save_pretrained(tmp, selected_adapters=[expert_id])
            saved = tmp / expert_id if (tmp / expert_id).is_dir() else tmp
            (saved / "expert.json").write_text(json.dumps({**metadata, "base_model": self.base_name}, indent=2))
            for f in saved.iterdir():
                with f.open("rb") as handle:
                    os.fsync(handle.fileno())
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(saved, folder)
        except OSError as exc:
            raise StorageError(f"{folder}: cannot save expert {expert_id!r} ({exc})") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load(self, expert_id: str, folder: Path) -> dict:
        folder = Path(folder)
        meta_path = folder / "expert.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"{meta_path}: cannot read expert metadata ({exc})") from None
        if meta.get("base_model") != self.base_name:
            raise StorageError(f"{folder}: expert was saved for base model {meta.get('base_model')!r}, not {self.base_name!r}")
        try:
            if self.peft is None:
                self.peft = PeftModel.from_pretrained(self.base, folder, adapter_name=expert_id, is_trainable=True)
            else:
                if expert_id in self.names():
                    self.peft.delete_adapter(expert_id)
                self.peft.load_adapter(folder, adapter_name=expert_id, is_trainable=True)
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise StorageError(f"{folder / 'adapter_model.safetensors'}: cannot load expert {expert_id!r} ({exc})") from None
        return meta
