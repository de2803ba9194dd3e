import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.domain.errors import DomainError
from adaptive_learner.domain.expert import ExpertLibrary
from adaptive_learner.domain.task import Task, TaskSequence

pytestmark = pytest.mark.unit


def test_task_from_spec_and_answers():
    t = Task.from_spec(
        {
            "name": "RTE",
            "description": "d",
            "labels": ["entailment", "not_entailment"],
            "kind": "pair",
        },
        task_id="rte",
    )
    assert t.id == "rte" and t.is_pair and t.answers == ("entailment", "not_entailment")
    t2 = Task.from_spec({"name": "x", "labels": ["a", "b"], "verbalizers": [" yes", " no"]})
    assert t2.answers == (" yes", " no") and t2.label_index("b") == 1


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "x", "labels": ["a"]}, "at least two labels"),
        ({"name": "x", "labels": ["a", "a"]}, "duplicate labels"),
        ({"labels": ["a", "b"]}, "missing field"),
        ({"name": "x", "labels": ["a", "b"], "verbalizers": ["y"]}, "1 verbalizers for 2 labels"),
    ],
)
def test_task_rejects_bad_specs(spec, message):
    with pytest.raises(DomainError, match=message):
        Task.from_spec(spec)


def test_sequence_rejects_duplicates():
    t = Task("a", "A", "", ["x", "y"])
    with pytest.raises(DomainError, match="appears twice"):
        TaskSequence([t, t])


def test_library_invariants_and_round_trip():
    lib = ExpertLibrary()
    e0 = lib.create(step=0)
    lib.assign("a", e0.id)
    lib.assign("b", e0.id)
    fork = lib.create(step=2, parent=e0.id)
    lib.assign("c", fork.id)
    assert lib.expert_for("b").tasks == ("a", "b")
    assert [e.id for e in lib.shared_experts()] == [e0.id]
    with pytest.raises(DomainError, match="already learned"):
        lib.assign("a", fork.id)
    with pytest.raises(DomainError, match="no expert"):
        lib.create(step=3, parent="nope")
    again = ExpertLibrary.from_dict(lib.to_dict())
    assert again.to_dict() == lib.to_dict()
    assert again.expert_for("c").parent == e0.id


def test_a_split_and_its_head_are_named_as_datasets_slices_them():
    from adaptive_learner.domain.task import parse_split, split_head

    assert split_head("dev", 0) == "dev" and split_head("dev", 64) == "dev[:64]"
    assert parse_split("dev[:64]") == ("dev", 64) and parse_split("validation") == (
        "validation",
        None,
    )
    for bad in ("test", "dev[:0]", "dev[2:]", "dev[:-1]", "Dev", "dev[:64"):
        with pytest.raises(DomainError, match="split"):
            parse_split(bad)
    with pytest.raises(DomainError, match="already a head"):
        split_head("dev[:8]", 4)


@given(st.sampled_from(["train", "dev", "validation"]), st.integers(min_value=-5, max_value=10**6))
def test_a_head_parses_back_to_its_split_and_length(split, n):
    from adaptive_learner.domain.task import parse_split, split_head

    assert parse_split(split_head(split, n)) == (split, n if n > 0 else None)
