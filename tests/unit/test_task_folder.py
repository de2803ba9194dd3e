"""Task folders: parsing, the one-line errors for bad input, and the seeded split sampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptive_learner.adapters.data.examples import Example, sample_splits
from adaptive_learner.adapters.data.task_folder import FolderTaskSource, read_task_folder
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.task import Task

pytestmark = pytest.mark.unit

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPEC = {"name": "Toy", "description": "toy task", "labels": ["neg", "pos"], "kind": "single"}


def write_task(
    root: Path,
    name: str = "toy",
    spec: dict | None = None,
    train: list | None = None,
    validation: list | None = None,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "task.json").write_text(json.dumps(SPEC if spec is None else spec))
    rows = [{"text": f"text {i}", "label": ("neg", "pos")[i % 2]} for i in range(20)]
    for split, lines in (("train", train), ("validation", validation)):
        content = "\n".join(
            json.dumps(r) if not isinstance(r, str) else r
            for r in (rows if lines is None else lines)
        )
        (folder / f"{split}.jsonl").write_text(content + "\n")
    return folder


def error_of(root: Path, names: list[str] | None = None, task_id: str = "toy", **kwargs) -> str:
    source = FolderTaskSource(root, names if names is not None else [task_id], **kwargs)
    with pytest.raises(DataError) as info:
        source.load()
        source.data(task_id)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_a_folder_with_labels_as_indices(tmp_path):
    write_task(tmp_path)
    source = FolderTaskSource(
        tmp_path, None, train_samples=10, dev_samples=5, validation_samples=None
    )
    (task,) = source.load()
    assert (task.id, task.name, task.labels, task.kind) == ("toy", "Toy", ("neg", "pos"), "single")
    data = source.data("toy")
    assert (len(data.train), len(data.dev), len(data.validation)) == (10, 5, 20)
    assert data.validation[1] == Example(text="text 1", text_pair=None, label=1)
    assert source.data("toy") is data  # parsed once


def test_tasks_keep_the_given_order_and_default_to_sorted(tmp_path):
    for name in ("b_task", "a_task", "c_task"):
        write_task(tmp_path, name)
    assert FolderTaskSource(tmp_path, ["c_task", "a_task"]).load().ids == ("c_task", "a_task")
    assert FolderTaskSource(tmp_path, None).load().ids == ("a_task", "b_task", "c_task")


def test_config_verbalizers_override_task_json(tmp_path):
    write_task(tmp_path, spec={**SPEC, "verbalizers": ["bad", "good"]})
    assert FolderTaskSource(tmp_path, None).load()[0].answers == ("bad", "good")
    overridden = FolderTaskSource(tmp_path, None, verbalizers={"toy": ["no", "yes"]}).load()[0]
    assert overridden.answers == ("no", "yes")


def test_missing_data_dir(tmp_path):
    assert f"data directory {tmp_path / 'nope'} does not exist" in error_of(tmp_path / "nope")


def test_missing_task_folder_lists_available(tmp_path):
    write_task(tmp_path, "present")
    message = error_of(tmp_path, ["absent"], task_id="absent")
    assert str(tmp_path / "absent") in message and "['present']" in message


def test_missing_task_json(tmp_path):
    (tmp_path / "toy").mkdir()
    assert f"{tmp_path / 'toy' / 'task.json'}: task.json not found" in error_of(tmp_path)


def test_task_json_not_json(tmp_path):
    folder = write_task(tmp_path)
    (folder / "task.json").write_text("{name: toy")
    assert f"{folder / 'task.json'}: not valid JSON" in error_of(tmp_path)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"labels": ["a", "b"]}, "missing field 'name'"),
        ({"name": "toy"}, "missing field 'labels'"),
        ({**SPEC, "kind": "triple"}, "field 'kind' is 'triple'"),
        ({**SPEC, "labels": "neg,pos"}, "field 'labels' must be a list of strings"),
        ({**SPEC, "labels": ["only"]}, "at least two labels"),
        ({**SPEC, "verbalizers": ["one"]}, "1 verbalizers for 2 labels"),
    ],
)
def test_bad_task_json_fields(tmp_path, spec, expected):
    folder = write_task(tmp_path, spec=spec)
    message = error_of(tmp_path)
    assert message.startswith(f"{folder / 'task.json'}: ") and expected in message


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    folder = write_task(tmp_path, train=[{"text": "fine", "label": "neg"}, '{"text": "broken",'])
    message = error_of(tmp_path)
    assert message.startswith(f"{folder / 'train.jsonl'}:2: not valid JSON")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('["text", "neg"]', "expected a JSON object, got list"),
        ('{"label": "neg"}', "missing field 'text'"),
        ('{"text": "hi"}', "missing field 'label'"),
        ('{"text": 5, "label": "neg"}', "field 'text' must be a string"),
        ('{"text": "hi", "label": "maybe"}', "field 'label': 'maybe' is not one of ['neg', 'pos']"),
        ('{"text": "hi", "label": 1}', "field 'label' must be a label string"),
        ('{"text": "hi", "label": 2.5}', "regression tasks are not supported"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, line, expected):
    folder = write_task(tmp_path, validation=["", {"text": "fine", "label": "pos"}, line])
    message = error_of(tmp_path)
    assert message.startswith(f"{folder / 'validation.jsonl'}:3: ") and expected in message


def test_pair_task_needs_text_pair(tmp_path):
    folder = write_task(
        tmp_path,
        spec={**SPEC, "kind": "pair"},
        train=[{"text": "a", "text_pair": "b", "label": "neg"}, {"text": "a", "label": "pos"}],
    )
    message = error_of(tmp_path)
    assert message.startswith(f"{folder / 'train.jsonl'}:2: missing field 'text_pair'")


@pytest.mark.parametrize("split", ["train", "validation"])
def test_empty_split(tmp_path, split):
    folder = write_task(tmp_path, **{split: [""]})
    assert f"{folder / f'{split}.jsonl'}: no examples" in error_of(tmp_path)
    with pytest.raises(DataError, match="no examples"):
        read_task_folder(folder)


def test_missing_split_file(tmp_path):
    folder = write_task(tmp_path)
    (folder / "validation.jsonl").unlink()
    assert f"{folder / 'validation.jsonl'}: file not found" in error_of(tmp_path)


def test_float_labels_of_an_unflagged_regression_task(tmp_path):
    folder = write_task(tmp_path, train=[{"text": "a", "label": 3.8}])
    assert f"{folder / 'train.jsonl'}:1: " in error_of(tmp_path)
    assert "regression tasks are not supported" in error_of(tmp_path)


def toy_task() -> Task:
    return Task("toy", "Toy", "", ["neg", "pos"])


def rows(n: int) -> list[Example]:
    return [Example(text=f"t{i}", text_pair=None, label=i % 2) for i in range(n)]


def test_sampling_is_deterministic_and_dev_is_disjoint_from_train():
    draw = lambda seed: sample_splits(
        toy_task(),
        rows(500),
        rows(300),
        train_samples=100,
        dev_samples=50,
        validation_samples=120,
        seed=seed,
    )
    first, again, other = draw(0), draw(0), draw(1)
    assert first == again and first.train != other.train
    assert (len(first.train), len(first.dev), len(first.validation)) == (100, 50, 120)
    assert not {e.text for e in first.train} & {e.text for e in first.dev}
    assert len({e.text for e in first.validation}) == 120


def test_validation_subset_does_not_depend_on_train_sizes():
    a = sample_splits(
        toy_task(),
        rows(500),
        rows(300),
        train_samples=10,
        dev_samples=5,
        validation_samples=50,
        seed=3,
    )
    b = sample_splits(
        toy_task(),
        rows(500),
        rows(300),
        train_samples=200,
        dev_samples=90,
        validation_samples=50,
        seed=3,
    )
    assert a.validation == b.validation


def test_short_train_file_uses_what_there_is_and_keeps_a_dev_row():
    data = sample_splits(
        toy_task(),
        rows(30),
        rows(10),
        train_samples=25,
        dev_samples=10,
        validation_samples=None,
        seed=0,
    )
    assert (len(data.train), len(data.dev), len(data.validation)) == (25, 5, 10)
    data = sample_splits(
        toy_task(),
        rows(8),
        rows(10),
        train_samples=25,
        dev_samples=10,
        validation_samples=None,
        seed=0,
    )
    assert (len(data.train), len(data.dev)) == (7, 1)


def test_sampling_rejects_empty_splits_and_bad_counts():
    with pytest.raises(DataError, match="train.jsonl: no examples"):
        sample_splits(
            toy_task(), [], rows(3), train_samples=1, dev_samples=1, validation_samples=None, seed=0
        )
    with pytest.raises(DataError, match="train_samples"):
        sample_splits(
            toy_task(),
            rows(3),
            rows(3),
            train_samples=0,
            dev_samples=1,
            validation_samples=None,
            seed=0,
        )


def shared(task_group: str) -> Path:
    folder = SHARED_DATA / task_group
    if not folder.is_dir():
        pytest.skip(f"{folder} is not available")
    return folder


def test_reads_real_glue_folders():
    source = FolderTaskSource(
        shared("glue"), ["sst2", "rte"], train_samples=50, dev_samples=20, validation_samples=30
    )
    sst2, rte = source.load()
    assert (sst2.kind, sst2.labels, rte.kind, rte.labels) == (
        "single",
        ("negative", "positive"),
        "pair",
        ("entailment", "not_entailment"),
    )
    data = source.data("rte")
    assert (len(data.train), len(data.dev), len(data.validation)) == (50, 20, 30)
    assert all(e.text_pair for e in data.train + data.dev + data.validation)
    assert all(e.text_pair is None for e in source.data("sst2").train)


def test_stsb_is_rejected_as_regression():
    message = error_of(shared("glue"), ["stsb"], task_id="stsb")
    assert (
        "stsb" in message
        and "task.json" in message
        and "regression tasks are not supported" in message
    )


def test_utf8_byte_order_mark_and_blank_lines_are_accepted(tmp_path):
    folder = write_task(tmp_path)
    (folder / "train.jsonl").write_bytes(
        b'\xef\xbb\xbf{"text": "caf\xc3\xa9", "label": "pos"}\n\n{"text": "x", "label": "neg"}\n'
    )
    _, train, _ = read_task_folder(folder)
    assert train == [Example("café", None, 1), Example("x", None, 0)]


def test_invalid_utf8_names_the_line(tmp_path):
    folder = write_task(tmp_path)
    (folder / "train.jsonl").write_bytes(
        b'{"text": "a", "label": "pos"}\n{"text": "\xff", "label": "neg"}\n'
    )
    assert error_of(tmp_path).startswith(f"{folder / 'train.jsonl'}:2: not UTF-8 text")


def test_byte_order_mark_in_task_json_is_accepted(tmp_path):
    folder = write_task(tmp_path)
    (folder / "task.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(SPEC).encode())
    task, _, _ = read_task_folder(folder)
    assert task.labels == ("neg", "pos")


@pytest.mark.parametrize(
    "raw, field",
    [
        (b'{"text": "a \\ud800 b", "label": "pos"}', "text"),
        (b'{"text": "\\udc00", "label": "neg"}', "text"),
    ],
)
def test_lone_surrogate_names_file_line_and_field(tmp_path, raw, field):
    folder = write_task(tmp_path)
    (folder / "validation.jsonl").write_bytes(
        b'{"text": "fine \\ud83d\\ude00", "label": "pos"}\n' + raw + b"\n"
    )
    assert error_of(tmp_path).startswith(
        f"{folder / 'validation.jsonl'}:2: field '{field}' is not valid Unicode text"
    )


def test_lone_surrogate_in_task_json(tmp_path):
    # json.dumps escapes it as \ud800
    write_task(tmp_path, spec={**SPEC, "labels": ["neg", "p\ud800s"]})
    assert "task.json: field 'labels' is not valid Unicode text" in error_of(tmp_path)


def test_a_head_of_dev_is_its_first_rows_and_one_name_per_set_of_rows():
    data = sample_splits(
        toy_task(), rows(100), rows(10), train_samples=50, dev_samples=20,
        validation_samples=None, seed=0,
    )  # fmt: skip
    assert data.rows("dev[:5]") == data.dev[:5] and data.rows("dev") == data.dev
    assert data.canonical("dev[:5]") == "dev[:5]"
    assert data.canonical("dev[:20]") == data.canonical("dev[:64]") == "dev"
    assert data.rows("validation") == data.validation
