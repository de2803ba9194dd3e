"""Prompt trimming in one step gives what trimming one token at a time gave, and takes
huge inputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.hf.prompts import encode_example, trimmed_lengths
from adaptive_learner.domain.task import Task

pytestmark = pytest.mark.unit

SINGLE = Task("single", "Single", "rate it", ["yes", "no"])
PAIR = Task("pair", "Pair", "compare them", ["same", "different"], kind="pair")


class CharTokenizer:
    """One token per character (its code point): enough to check where prompts are cut."""

    bos_token_id = None
    add_bos_token = False

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [ord(c) for c in text]}


def trim_token_by_token(
    first: list[int], second: list[int], budget: int
) -> tuple[list[int], list[int]]:
    """The old loop: drop one token of the longer input (the first on a tie) until both fit."""
    while len(first) + len(second) > budget:
        if len(first) >= len(second):
            first = first[:-1]
        else:
            second = second[:-1]
    return first, second


@given(st.integers(0, 80), st.integers(0, 80), st.integers(2, 170))
def test_one_step_equals_token_by_token(a, b, budget):
    first, second = trim_token_by_token(list(range(a)), list(range(b)), budget)
    assert trimmed_lengths(a, b, budget) == (len(first), len(second))


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=60)), st.integers(1, 90))
def test_encoded_prompt_equals_the_old_trimming(text, pair, max_length):
    task = SINGLE if pair is None else PAIR
    tok = CharTokenizer()
    encoded = encode_example(tok, task, Example(text, pair, 0), max_length)
    head, tail = tok(f"{task.description}\nInput:")["input_ids"], tok("\nAnswer:")["input_ids"]
    mid = tok("\nSecond:")["input_ids"] if pair is not None else []
    budget = max(max_length - len(head) - len(tail) - len(mid), 2)
    first, second = trim_token_by_token(
        tok(" " + text)["input_ids"],
        tok(" " + pair)["input_ids"] if pair is not None else [],
        budget,
    )
    assert encoded == tuple(head + first + mid + second + tail)


def test_a_100k_token_input_is_cut_to_max_length():
    tok = CharTokenizer()
    text = "x" * 100_000
    encoded = encode_example(tok, PAIR, Example(text, "y" * 100_000, 0), 256)
    assert len(encoded) == 256
    # the scored position survives
    assert tuple(tok("\nAnswer:")["input_ids"]) == encoded[-len("\nAnswer:") :]
    single = encode_example(tok, SINGLE, Example(text, None, 0), 64)
    assert (
        len(single) == 64
        and single.count(ord("x")) == 64 - len("rate it\nInput:") - len("\nAnswer:") - 1
    )
