"""Prompts and tokenisation: each task split is tokenised once and batched by length.

Prompt: "<description>\nInput: <text>[\nSecond: <text_pair>]\nAnswer:" and the answer is one
token, the first token of " <verbaliser>". Truncation cuts the input text(s) only, never the
description or "Answer:", so the scored position always exists; a text is cut to a length in
characters that still holds `max_length` tokens before it is tokenised at all (`clip`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from attrs import frozen

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.errors import DataError
from adaptive_learner.domain.task import Task


@frozen
class Encoded:
    """A tokenised split: prompt ids (unpadded) and gold label indices."""

    ids: tuple[tuple[int, ...], ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)


def _tok(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# Characters per token that no token exceeds (SmolLM2's longest token is 81 characters), so the
# first CHARS_PER_TOKEN * n characters of a text hold at least its first n tokens.
CHARS_PER_TOKEN = 128


def clip(text: str, max_length: int) -> str:
    """The part of `text` that can reach the first `max_length` tokens: a 10 MB line costs what a
    short one does, where tokenising it whole took tens of seconds before it was cut."""
    return text[: CHARS_PER_TOKEN * max_length]


def label_token_ids(tokenizer, task: Task) -> tuple[int, ...]:
    """First token of each answer word (with its leading space); must differ between labels.

    Scoring the first token only keeps long labels from losing to short ones by token count
    (docs/adr/0011-label-scoring.md).
    """
    ids = []
    for word in task.answers:
        pieces = _tok(tokenizer, " " + word.strip())
        if not pieces:
            raise DataError(f"task {task.id!r}: answer word {word!r} tokenises to nothing")
        ids.append(pieces[0])
    if len(set(ids)) != len(ids):
        raise DataError(
            f"task {task.id!r}: answers {list(task.answers)} share a first token; "
            "set distinct verbalizers "
            f"(task.json 'verbalizers' or --set 'data.verbalizers.{task.id}=[...]')"
        )
    return tuple(ids)


def trimmed_lengths(first: int, second: int, budget: int) -> tuple[int, int]:
    """How many tokens of each input to keep so both fit `budget`: the longer input is cut first.

    In one step what cutting one token at a time from the longer input (the first on a tie)
    would give: either the longer one is cut down to what the shorter leaves, or both meet near
    half the budget (the first gets the smaller half).
    """
    if first + second <= budget:
        return first, second
    keep_first = min(first, max(budget // 2, budget - second))
    return keep_first, budget - keep_first


def encode_example(tokenizer, task: Task, example: Example, max_length: int) -> tuple[int, ...]:
    head = _tok(tokenizer, f"{task.description}\nInput:")
    tail = _tok(tokenizer, "\nAnswer:")
    first = _tok(tokenizer, " " + clip(example.text, max_length))
    mid, second = ([], [])
    if example.text_pair is not None:
        second = _tok(tokenizer, " " + clip(example.text_pair, max_length))
        mid = _tok(tokenizer, "\nSecond:")
    budget = max(max_length - len(head) - len(tail) - len(mid), 2)
    keep_first, keep_second = trimmed_lengths(len(first), len(second), budget)
    first, second = first[:keep_first], second[:keep_second]
    bos = (
        [tokenizer.bos_token_id]
        if getattr(tokenizer, "add_bos_token", False) and tokenizer.bos_token_id is not None
        else []
    )
    return tuple(bos + head + first + mid + second + tail)


def encode_split(tokenizer, task: Task, examples: Sequence[Example], max_length: int) -> Encoded:
    if not examples:
        raise DataError(f"task {task.id!r}: empty split")
    return Encoded(
        tuple(encode_example(tokenizer, task, e, max_length) for e in examples),
        tuple(e.label for e in examples),
    )


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random | None = None
) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (little padding).

    With `rng`, examples are shuffled within small length buckets and the batch order is
    shuffled, so training still sees a random order each epoch.
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
        window = batch_size * 8  # sort within windows: random, yet padded little
        order = [
            i
            for s in range(0, len(order), window)
            for i in sorted(order[s : s + window], key=lambda i: lengths[i])
        ]
    else:
        order.sort(key=lambda i: lengths[i])
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    yield from batches
