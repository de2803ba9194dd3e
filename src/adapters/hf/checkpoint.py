"""Within-task checkpoints at epoch ends, so a killed run resumes mid-task exactly.

`<run>/checkpoint/meta.json` names the task, expert and epoch and the safetensors file holding the
expert's current and best LoRA weights, AdamW moments and torch's RNG state; Python RNG states and
scalars are JSON. The tensor file is written first under a new name and meta.json (atomically) last,
so a crash at any point leaves a complete earlier checkpoint or none. meta.json keeps the tensor
file's sha256; a damaged file (truncated, overwritten) is one StorageError that names it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.adapters.hf.experts import check_weights
from adaptive_learner.adapters.storage import atomic_write_bytes, atomic_write_json

WEIGHTS = ("current/", "best/")  # the LoRA weights; the rest is optimizer and RNG state


def _rng_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(data: list) -> tuple:
    return (data[0], tuple(data[1]), data[2])


def save(folder: Path, session, progress: dict[str, Any]) -> None:
    b, eid = session.b, session.expert_id
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"current/{k}": v for k, v in b.experts.state(eid).items()}
    tensors |= {f"best/{k}": v for k, v in session.best.items()}
    opt = session.optimizer.state_dict()
    for index, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"opt/{index}/{name}"] = (
                value.detach().reshape(-1) if value.dim() == 0 else value.detach()
            )
    tensors["rng/torch"] = torch.get_rng_state()
    name = f"epoch-{session.epoch}.safetensors"
    # Serialised in memory and written like every other run file (temporary file, fsync, rename), so
    # a full disk is a one-line StorageError rather than a SafetensorError traceback.
    data = save_bytes({k: v.contiguous().cpu() for k, v in tensors.items()})
    atomic_write_bytes(folder / name, data)
    meta = {
        "task": session.task.id,
        "expert": eid,
        "epoch": session.epoch,
        "tensors": name,
        "progress": progress,
        "sha256": hashlib.sha256(data).hexdigest(),
        "param_groups": opt["param_groups"],
        "rng_order": _rng_to_json(session.rng.getstate()),
        "rng_replay": _rng_to_json(session.replay_rng.getstate()),
        "scalars": {
            "last_nll": session.last_nll,
            "grad_norms": session.grad_norms,
            "dev_accuracy": session.dev_accuracy,
            "dev_entropy": session.dev_entropy,
            "dev_fresh": session.dev_fresh,
        },
    }
    atomic_write_json(folder / "meta.json", meta)
    for old in folder.glob("epoch-*.safetensors"):
        if old.name != name:
            old.unlink()


def load(folder: Path, session) -> dict[str, Any] | None:
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    hint = f"delete {folder} to restart the task from its first epoch"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (meta["task"], meta["expert"]) != (session.task.id, session.expert_id):
            return None  # left by a task that has since completed
        tensor_path = folder / meta["tensors"]
        data = tensor_path.read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StorageError(
            f"{meta_path}: damaged checkpoint ({type(exc).__name__}: {exc}); {hint}"
        ) from None
    saved = meta.get("sha256")  # every checkpoint this version writes has one
    if saved != hashlib.sha256(data).hexdigest():
        what = "no sha256 in meta.json to check it" if saved is None else "checksum mismatch"
        raise StorageError(f"{tensor_path}: {what} (the file changed after it was saved); {hint}")
    try:
        tensors = load_bytes(data)
    except Exception as exc:  # noqa: BLE001  safetensors raises its own error type for corrupt files
        raise StorageError(f"{tensor_path}: damaged checkpoint ({exc}); {hint}") from None
    check_weights(tensor_path, {k: v for k, v in tensors.items() if k.startswith(WEIGHTS)})
    b, eid = session.b, session.expert_id
    b.experts.load_state(
        eid, {k[len("current/") :]: v for k, v in tensors.items() if k.startswith("current/")}
    )
    session.best = {
        k[len("best/") :]: v.to(b.device) for k, v in tensors.items() if k.startswith("best/")
    }
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt/"):
            _, index, name = key.split("/")
            state.setdefault(int(index), {})[name] = (
                value.reshape(()) if name == "step" else value.to(b.device)
            )
    session.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    for group in session.optimizer.param_groups:  # `resume --set training.*` may have changed these
        group["lr"], group["weight_decay"] = b.training.learning_rate, b.training.weight_decay
    torch.set_rng_state(tensors["rng/torch"])
    session.rng.setstate(_rng_from_json(meta["rng_order"]))
    session.replay_rng.setstate(_rng_from_json(meta["rng_replay"]))
    for key, value in meta["scalars"].items():
        setattr(session, key, value)
    session.epoch = meta["epoch"]
    return meta["progress"]
