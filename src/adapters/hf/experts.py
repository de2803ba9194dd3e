"""LoRA experts behind one PEFT adapter slot; saved as standard PEFT folders.

The model holds one LoRA adapter, the slot (SLOT), whose tensors never change identity: activating
an expert copies the slot's weights out to the expert that held it and the new expert's weights in
(docs/adr/0055-one-compiled-graph.md). A compiled forward therefore sees the same parameters and
the same adapter names for every expert: a new expert, a reuse or a switch compiles nothing new.
The optimiser steps the slot's tensors; they are copied out when another expert comes in. PEFT
still draws a fresh expert's initial weights and reads saved folders, through a transient second
adapter (SCRATCH) whose weights are copied into the store and which is then deleted. A saved
expert is `<run>/experts/<id>/v<n>/` (adapter_config.json,
adapter_model.safetensors) plus `expert.json` with the run id, task ids, base model and the sha256
of every other file in the folder, checked before loading (docs/adr/0023-run-file-integrity.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from adaptive_learner.adapters.errors import BackboneError, StorageError
from adaptive_learner.adapters.hf.layers import LLAMA_LIKE
from adaptive_learner.adapters.storage import sha256_file

CONFIG_FILE, WEIGHT_FILES = (
    "adapter_config.json",
    ("adapter_model.safetensors", "adapter_model.bin"),
)


SLOT, SCRATCH = "slot", "incoming"  # the adapter every expert is copied into; PEFT's transient one


def _in_slot(name: str) -> bool:
    return "lora_" in name and f".{SLOT}." in name


def neutral(name: str) -> str:
    """A slot tensor's name without the adapter name: the key of state() and of EWC's tensors."""
    return name.replace(f".{SLOT}.", ".{}.")


def _shape_of(config) -> dict:
    """The LoRA settings that must agree for an expert to live in the slot."""
    targets = config.target_modules
    return {
        "r": config.r,
        "alpha": config.lora_alpha,
        "target_modules": sorted(targets) if isinstance(targets, list | set) else targets,
        "layers": list(config.layers_to_transform or []) or None,
        "rslora": getattr(config, "use_rslora", False),
        "dora": getattr(config, "use_dora", False),
    }


def verify_checksums(folder: Path, meta: dict) -> None:
    """Each file expert.json lists must still have the bytes it was saved with; the files that
    loading reads (config and weights) must be listed: every expert this version saves lists
    them, and a damaged file that nothing checks loads as a wrong answer, not an error."""
    sums = meta.get("sha256")
    if not isinstance(sums, dict):
        what = "no field 'sha256'" if sums is None else "field 'sha256' is not a map of digests"
        raise StorageError(
            f"{folder / 'expert.json'}: {what}, so the expert's files cannot be checked; "
            "restore the expert folder as it was saved"
        )
    weights = [n for n in WEIGHT_FILES if (folder / n).exists()][:1]  # none: load names it
    for name in (CONFIG_FILE, *weights):
        if name not in sums:
            raise StorageError(
                f"{folder / 'expert.json'}: field 'sha256' does not list {name}, so it cannot be "
                "checked; restore the expert folder as it was saved"
            )
    for name, expected in sorted(sums.items()):
        path = folder / name
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise StorageError(
                f"{path}: cannot read saved expert file ({exc.strerror or exc})"
            ) from None
        if actual != expected:
            raise StorageError(
                f"{path}: checksum mismatch (sha256 {actual[:12]}…, saved {str(expected)[:12]}…): "
                "the file changed after it was saved"
            )


# No trained LoRA weight comes near this; a flipped exponent bit does (1e24 in issue 27).
MAX_WEIGHT = 1e6


def check_weights(where: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Refuse weights no training can have made: NaN, infinite, or beyond MAX_WEIGHT."""
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise StorageError(f"{where}: tensor {name} holds NaN or infinite values")
        if (largest := tensor.detach().abs().max().item()) > MAX_WEIGHT:
            raise StorageError(
                f"{where}: tensor {name} holds {largest:.3g}, beyond any trained LoRA weight "
                f"(> {MAX_WEIGHT:g}); the expert is damaged"
            )


# Attention projections per architecture; PEFT's own table (q and v only) is the fallback.
ATTENTION_TARGETS = {
    **{model_type: ["q_proj", "k_proj", "v_proj", "o_proj"] for model_type in LLAMA_LIKE},
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
    raise BackboneError(
        f"no default LoRA target modules for architecture {model_type!r}; set lora.target_modules"
    )


def check_lora(config, lora) -> None:
    """Refuse LoRA settings the model cannot take, on a weightless (meta-device) copy of it built
    from its config: a target name that matches no module (PEFT only refuses when none match),
    a module type PEFT cannot adapt, a first layer out of range. Milliseconds, before any load."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    names = [name for name, _ in skeleton.named_modules()]
    for target in lora.target_modules:
        if not any(n == target or n.endswith("." + target) for n in names):
            raise BackboneError(
                f"lora.target_modules: no module of the model is named {target!r} or ends in "
                f"'.{target}'; list the modules with `adaptive-learner inspect-layers`"
            )
    experts = PeftExperts(
        skeleton,
        r=lora.r,
        alpha=lora.alpha,
        dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        base_name="",
        first_layer=lora.first_layer,
    )
    experts.add("check")


class PeftExperts:
    """Creates, switches, snapshots, saves and loads the LoRA experts of one backbone."""

    def __init__(
        self,
        model,
        *,
        r: int,
        alpha: int,
        dropout: float,
        target_modules: list[str],
        base_name: str,
        first_layer: int = 0,
    ) -> None:
        self.peft: PeftModel | None = None
        self.base, self.first_layer = model, first_layer
        targets = target_modules or default_targets(model.config.model_type)
        n_layers = model.config.num_hidden_layers
        if not 0 <= first_layer < n_layers:
            raise BackboneError(
                f"lora.first_layer {first_layer} is outside the model's {n_layers} layers"
            )
        layers = list(range(first_layer, n_layers)) if first_layer else None
        self.lora = LoraConfig(
            r=r,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=targets,
            layers_to_transform=layers,
            bias="none",
            task_type="CAUSAL_LM",
        )
        self.base_name = base_name
        # every expert's weights by neutral name; the occupant's are current in the slot, not here
        self.stored: dict[str, dict[str, torch.Tensor]] = {}
        self.occupant: str | None = None
        self._slot_tensors: dict[str, torch.nn.Parameter] = {}

    @property
    def model(self):
        return self.peft if self.peft is not None else self.base

    def names(self) -> list[str]:
        return list(self.stored)

    def add(self, expert_id: str, parent: str | None = None) -> None:
        try:
            fresh = self._through_scratch(lambda peft: peft.add_adapter(SCRATCH, self.lora))
        except ValueError as exc:  # PEFT: no module matches, or one of a type it cannot adapt
            # PEFT prints the whole module (many lines) where its type name says enough
            text = re.sub(r"(\w+)\(.*\)(?= is not supported)", r"\1", " ".join(str(exc).split()))
            raise BackboneError(
                f"lora.target_modules {sorted(self.lora.target_modules)}: {text[:400]}; "
                "list the modules with `adaptive-learner inspect-layers`"
            ) from None
        self._store(expert_id, fresh if parent is None else self.state(parent))
        self.activate(expert_id)

    def remove(self, expert_id: str) -> None:
        """Delete an expert (the trained probe's throwaway copy)."""
        self.stored.pop(expert_id, None)
        if self.occupant == expert_id:
            self.occupant = None  # the slot holds nobody's weights until the next activate

    def activate(self, expert_id: str) -> None:
        """Put the expert's weights in the slot (the previous occupant's are copied out first)."""
        if expert_id not in self.stored:
            raise BackboneError(f"no LoRA expert {expert_id!r} in the model; known: {self.names()}")
        if self.occupant == expert_id:
            return
        slot = self._slot()
        with torch.no_grad():
            if self.occupant is not None:
                for key, kept in self.stored[self.occupant].items():
                    kept.copy_(slot[key])
            for key, value in self.stored[expert_id].items():
                slot[key].copy_(value)
        self.occupant = expert_id

    def parameters(self, expert_id: str) -> dict[str, torch.nn.Parameter]:
        """The trainable tensors that hold the expert's weights: the slot's, once it is active
        (named as in the model, with the slot's adapter name; `neutral` drops it)."""
        self.activate(expert_id)
        assert self.peft is not None  # an expert exists
        return {n: p for n, p in self.peft.named_parameters() if _in_slot(n)}

    def state(self, expert_id: str) -> dict[str, torch.Tensor]:
        """A detached copy of the expert's weights, keyed without the adapter name."""
        if expert_id not in self.stored:
            raise BackboneError(f"no LoRA expert {expert_id!r} in the model; known: {self.names()}")
        source = self._slot() if self.occupant == expert_id else self.stored[expert_id]
        with torch.inference_mode(False), torch.no_grad():
            return {k: v.detach().clone() for k, v in source.items()}

    def load_state(self, expert_id: str, state: dict[str, torch.Tensor]) -> None:
        target = self._slot() if self.occupant == expert_id else self.stored[expert_id]
        with torch.no_grad():
            for key, value in state.items():
                target[key].copy_(value)

    @contextlib.contextmanager
    def bare(self) -> Iterator[object]:
        """The backbone with the slot switched off (zero-shot)."""
        if self.peft is None:
            yield self.base
        else:
            with self.peft.disable_adapter():
                yield self.peft

    # --- the slot ------------------------------------------------------------------------------
    def _slot(self) -> dict[str, torch.nn.Parameter]:
        """The slot's LoRA tensors by neutral name; created (with PEFT's LoRA layers) on first use,
        without drawing from torch's global RNG, so an expert's initial weights are drawn as PEFT
        would draw them for an adapter of its own."""
        if self.peft is None:
            device = next(self.base.parameters()).device
            with (
                torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
                torch.inference_mode(False),  # the slot is written outside inference mode too
            ):
                self.peft = get_peft_model(self.base, self.lora, adapter_name=SLOT)
            self._slot_tensors = {
                neutral(n): p for n, p in self.peft.named_parameters() if _in_slot(n)
            }
        return self._slot_tensors

    def _through_scratch(self, fill: Callable[[PeftModel], object]) -> dict[str, torch.Tensor]:
        """The weights `fill` puts in a transient PEFT adapter (a fresh draw, a saved folder),
        copied out by neutral name; the adapter is deleted and the slot stays the active one."""
        self._slot()
        peft = self.peft
        assert peft is not None  # _slot made it
        try:
            fill(peft)
            tag = f".{SCRATCH}."
            with torch.inference_mode(False), torch.no_grad():
                return {
                    n.replace(tag, ".{}."): p.detach().clone()
                    for n, p in peft.named_parameters()
                    if "lora_" in n and tag in n
                }
        finally:
            if SCRATCH in peft.peft_config:
                peft.delete_adapter(SCRATCH)
            peft.set_adapter(SLOT)  # also makes exactly the slot's weights trainable

    def _store(self, expert_id: str, weights: dict[str, torch.Tensor]) -> None:
        slot = self._slot()
        if set(weights) != set(slot) or any(v.shape != slot[k].shape for k, v in weights.items()):
            raise BackboneError(f"expert {expert_id!r}: its LoRA tensors do not fit the slot")
        self.stored[expert_id] = weights
        if self.occupant == expert_id:
            self.occupant = None  # the slot holds its old weights: copy the new ones in again

    def save(
        self,
        expert_id: str,
        folder: Path,
        metadata: dict,
        extra: Callable[[Path], None] | None = None,
    ) -> None:
        """Write the expert as a PEFT folder (plus `extra(staging)` files), checksummed, renamed
        into place."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            self.activate(expert_id)  # PEFT writes the slot, which now holds the expert
            assert self.peft is not None  # an expert exists
            self.peft.save_pretrained(tmp, selected_adapters=[SLOT])
            saved = tmp / SLOT if (tmp / SLOT).is_dir() else tmp
            if extra is not None:
                extra(saved)
            sums = {
                f.name: sha256_file(f)
                for f in sorted(saved.iterdir())
                if f.is_file() and f.name != "expert.json"
            }
            meta = {**metadata, "base_model": self.base_name, "sha256": sums}
            (saved / "expert.json").write_text(json.dumps(meta, indent=2))
            for f in saved.iterdir():
                with f.open("rb") as handle:
                    os.fsync(handle.fileno())
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(saved, folder)
        except StorageError:
            raise
        except Exception as exc:  # noqa: BLE001  OSError, or safetensors' own error type on a full disk
            raise StorageError(
                f"{folder}: cannot save expert {expert_id!r} ({_one_line(exc)})"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load(self, expert_id: str, folder: Path) -> dict:
        """Load a saved expert; an error names the file that is actually wrong."""
        folder = Path(folder)
        meta_path = folder / "expert.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"{meta_path}: cannot read expert metadata ({exc})") from None
        if not isinstance(meta, dict):
            raise StorageError(f"{meta_path}: expected a JSON object")
        if meta.get("base_model") != self.base_name:
            raise StorageError(
                f"{folder}: expert was saved for base model {meta.get('base_model')!r}, "
                f"not {self.base_name!r}"
            )
        verify_checksums(folder, meta)
        from peft import PeftConfig

        try:
            config = PeftConfig.from_pretrained(str(folder))
        except Exception as exc:  # noqa: BLE001  missing file, bad JSON or unknown fields
            raise StorageError(
                f"{folder / CONFIG_FILE}: cannot read the adapter config ({_one_line(exc)})"
            ) from None
        if (theirs := _shape_of(config)) != (ours := _shape_of(self.lora)):
            raise StorageError(
                f"{folder / CONFIG_FILE}: the expert was saved with LoRA {theirs}, this run's "
                f"lora settings are {ours}; every expert of a run shares one adapter slot "
                "(docs/adr/0055), so load it with the settings it was saved with"
            )
        weights = next((folder / n for n in WEIGHT_FILES if (folder / n).exists()), None)
        if weights is None:
            raise StorageError(f"{folder}: no adapter weights ({' or '.join(WEIGHT_FILES)})")
        try:
            loaded = self._through_scratch(
                lambda peft: peft.load_adapter(folder, adapter_name=SCRATCH, is_trainable=True)
            )
        # safetensors and torch raise their own error types for corrupt files
        except Exception as exc:  # noqa: BLE001
            raise StorageError(
                f"{weights}: cannot load expert {expert_id!r} ({_one_line(exc)})"
            ) from None
        check_weights(weights, loaded)
        self._store(expert_id, loaded)
        return meta


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
