"""Fuzzing the JSONL parser: any line either becomes Examples or a DataError, nothing else."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.data.task_folder import parse_lines, read_examples
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.task import Task

pytestmark = pytest.mark.property

SINGLE = Task("single", "Single", "", ["neg", "pos", "mixed"])
PAIR = Task("pair", "Pair", "", ["same", "different"], kind="pair")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Objects that look nearly right, so the fuzzing reaches the field checks, not only the decoder.
near_rows = st.fixed_dictionaries(
    {},
    optional={
        "text": json_values | st.text(max_size=30),
        "text_pair": json_values | st.text(max_size=30),
        "label": json_values
        | st.sampled_from(["neg", "pos", "mixed", "same", "different", "other"]),
    },
)


def parse_or_data_error(line: bytes | str, task: Task) -> list[Example] | None:
    try:
        return parse_lines([line], task, "fuzz.jsonl")
    except DataError as e:
        assert str(e).startswith("fuzz.jsonl:1: ")
        return None


@given(st.binary(max_size=200), st.sampled_from([SINGLE, PAIR]))
def test_arbitrary_bytes_parse_or_raise_data_error(line, task):
    parse_or_data_error(line, task)


@given(st.text(max_size=200), st.sampled_from([SINGLE, PAIR]))
def test_arbitrary_text_parse_or_raise_data_error(line, task):
    parse_or_data_error(line, task)


@given(json_values | near_rows, st.sampled_from([SINGLE, PAIR]))
def test_arbitrary_json_parse_or_raise_data_error(value, task):
    examples = parse_or_data_error(json.dumps(value), task)
    for example in examples or []:
        assert 0 <= example.label < len(task.labels)
        assert (example.text_pair is not None) == task.is_pair


@st.composite
def valid_rows(draw):
    task = draw(st.sampled_from([SINGLE, PAIR]))
    label = draw(st.sampled_from(task.labels))
    row = {"text": draw(st.text(max_size=50)), "label": label}
    if task.is_pair:
        row["text_pair"] = draw(st.text(max_size=50))
    return task, row


@given(st.lists(valid_rows(), min_size=1, max_size=5), st.sampled_from([SINGLE, PAIR]))
def test_valid_examples_round_trip_through_a_file(drawn, task):
    rows = [row for row_task, row in drawn if row_task is task]
    expected = [Example(r["text"], r.get("text_pair"), task.labels.index(r["label"])) for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        # Non-ASCII written raw, as other tools write it; line breaks inside strings stay escaped.
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        assert read_examples(path, task) == expected
