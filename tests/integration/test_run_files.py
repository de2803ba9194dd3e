"""Issue 12 on the HF backbone (tiny random model): damaged or overwritten files are one
StorageError naming the file at fault, a full disk while saving is one line, and divergence is
reported."""

import errno
import hashlib
import json
import os

import pytest
from tests.integration.conftest import make_backbone

from adaptive_learner.adapters.errors import StorageError
from adaptive_learner.domain.consolidation import ConsolidationPolicy
from adaptive_learner.domain.divergence import Health, judge_epoch

pytestmark = pytest.mark.integration


@pytest.fixture
def trained(tokenizer, demo_source, tmp_path):
    """A backbone with expert-0 trained one epoch on the first task, checkpointed and saved."""
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path, first_layer=1)
    task = demo_source.load()[0]
    policy = ConsolidationPolicy(ewc_lambda=10.0, ewc_data_loader_num_samples=4, ewc_batch_size=2)
    b.new_expert("expert-0")
    session = b.start("expert-0", task, policy)
    session.train_epoch()
    session.save_checkpoint({"epoch": 1})
    b.consolidate("expert-0", task, policy, 1.0)
    ref = b.save_expert("expert-0", (task.id,))
    return b, task, policy, tmp_path / "experts" / ref


def fresh(tokenizer, demo_source, run_dir):
    return make_backbone(tokenizer, demo_source, run_dir=run_dir, first_layer=1)


def test_expert_json_keeps_a_checksum_of_every_saved_file(trained):
    _, _, _, folder = trained
    sums = json.loads((folder / "expert.json").read_text())["sha256"]
    assert set(sums) == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "consolidation.safetensors",
        "consolidation.json",
    }


@pytest.mark.parametrize(
    "name", ["adapter_model.safetensors", "consolidation.safetensors", "adapter_config.json"]
)
def test_overwritten_bytes_are_refused_naming_the_file(trained, tokenizer, demo_source, name):
    b, _, _, folder = trained
    data = bytearray((folder / name).read_bytes())
    # same length, other bytes: loads silently without the checksum
    data[-8:] = bytes(x ^ 0xFF for x in data[-8:])
    (folder / name).write_bytes(bytes(data))
    with pytest.raises(StorageError, match=rf"{name}: checksum mismatch"):
        fresh(tokenizer, demo_source, b.run_dir).load_expert(
            "expert-0", str(folder.relative_to(b.run_dir / "experts"))
        )


def rechecksum(folder):
    """Record the damaged files' own checksums: what is left to fail is the loader (an expert
    without checksums is refused before it, tests/integration/test_fail_well_model.py)."""
    meta = json.loads((folder / "expert.json").read_text())
    files = [f for f in folder.iterdir() if f.name != "expert.json"]
    meta["sha256"] = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    (folder / "expert.json").write_text(json.dumps(meta))


def test_a_broken_adapter_config_is_blamed_on_adapter_config(trained, tokenizer, demo_source):
    b, _, _, folder = trained
    (folder / "adapter_config.json").write_text("{")
    rechecksum(folder)
    with pytest.raises(StorageError, match=r"adapter_config\.json: cannot read the adapter config"):
        fresh(tokenizer, demo_source, b.run_dir).load_expert("expert-0", "expert-0/v1")


def test_a_broken_bin_file_is_blamed_on_the_bin_file(trained, tokenizer, demo_source):
    b, _, _, folder = trained
    (folder / "adapter_model.safetensors").unlink()
    (folder / "adapter_model.bin").write_bytes(b"not a torch file")
    rechecksum(folder)
    with pytest.raises(StorageError) as info:
        fresh(tokenizer, demo_source, b.run_dir).load_expert("expert-0", "expert-0/v1")
    assert "adapter_model.bin: cannot load expert" in str(info.value) and "\n" not in str(
        info.value
    )


def test_missing_weights_are_named(trained, tokenizer, demo_source):
    b, _, _, folder = trained
    (folder / "adapter_model.safetensors").unlink()
    rechecksum(folder)
    with pytest.raises(StorageError, match="no adapter weights"):
        fresh(tokenizer, demo_source, b.run_dir).load_expert("expert-0", "expert-0/v1")


@pytest.mark.parametrize("damage", ["meta", "unchecked", "tensors", "overwrite"])
def test_a_damaged_checkpoint_is_one_error_naming_the_file(trained, tokenizer, demo_source, damage):
    b, task, policy, _ = trained
    folder = b.run_dir / "checkpoint"
    if damage == "meta":
        (folder / "meta.json").write_text((folder / "meta.json").read_text()[:50])
        expected = "meta.json: damaged checkpoint"
    elif damage == "unchecked":  # every checkpoint this version writes has its sha256
        meta = json.loads((folder / "meta.json").read_text())
        (folder / "meta.json").write_text(json.dumps({**meta, "sha256": None}))
        expected = "epoch-1.safetensors: no sha256 in meta.json"
    else:
        (tensors,) = folder.glob("epoch-*.safetensors")
        data = tensors.read_bytes()
        tensors.write_bytes(
            data[: len(data) // 2]
            if damage == "tensors"
            else data[:-4] + bytes(x ^ 0xFF for x in data[-4:])
        )
        expected = "epoch-1.safetensors: checksum mismatch"
    b2 = fresh(tokenizer, demo_source, b.run_dir)
    b2.new_expert("expert-0")
    with pytest.raises(StorageError, match=expected):
        b2.start("expert-0", task, policy).load_checkpoint()


def test_a_resumed_checkpoint_takes_the_new_learning_rate(trained, tokenizer, demo_source):
    b, task, policy, _ = trained
    b2 = make_backbone(tokenizer, demo_source, run_dir=b.run_dir, first_layer=1, learning_rate=1e-4)
    b2.new_expert("expert-0")
    session = b2.start("expert-0", task, policy)
    assert session.load_checkpoint() == {"epoch": 1}
    assert [g["lr"] for g in session.optimizer.param_groups] == [1e-4]


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_checkpointing_is_one_line_and_leaves_no_temp_file(trained, monkeypatch):
    b, task, policy, _ = trained
    session = b.start("expert-0", task, policy)
    session.train_epoch()
    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(
        StorageError, match=r"epoch-\d+\.safetensors: cannot write \(No space left on device\)"
    ):
        session.save_checkpoint({"epoch": 2})
    assert not list((b.run_dir / "checkpoint").glob(".*.tmp"))


def test_a_full_disk_while_saving_an_expert_is_one_line(trained, monkeypatch):
    import peft.peft_model

    b, task, _, _ = trained
    monkeypatch.setattr(peft.peft_model, "safe_save_file", no_space)
    with pytest.raises(StorageError) as info:
        b.save_expert("expert-0", (task.id, "again"))
    assert "cannot save expert 'expert-0'" in str(info.value) and "No space left on device" in str(
        info.value
    )
    assert not (b.run_dir / "experts" / "expert-0" / "v2").exists()
    assert not list((b.run_dir / "experts").rglob(".*.tmp"))


def test_a_huge_learning_rate_is_reported_as_divergence(tokenizer, demo_source, tmp_path):
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path, learning_rate=1e9)
    task = demo_source.load()[0]
    b.new_expert("expert-0")
    report = b.start("expert-0", task, ConsolidationPolicy()).train_epoch()
    assert report.weight_scale is not None
    verdict = judge_epoch(1, report.train_loss, report.step_losses[0], report.weight_scale)
    assert verdict.health is Health.DIVERGED, (report.train_loss, report.weight_scale)


def test_a_healthy_epoch_is_not_divergence(tokenizer, demo_source, tmp_path):
    b = make_backbone(tokenizer, demo_source, run_dir=tmp_path)
    task = demo_source.load()[0]
    b.new_expert("expert-0")
    report = b.start("expert-0", task, ConsolidationPolicy()).train_epoch()
    assert judge_epoch(1, report.train_loss, report.step_losses[0], report.weight_scale).ok


def test_discard_checkpoints_removes_the_folder(trained):
    b, _, _, _ = trained
    assert (b.run_dir / "checkpoint").is_dir()
    b.discard_checkpoints()
    assert not (b.run_dir / "checkpoint").exists()
