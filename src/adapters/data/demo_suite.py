"""The embedded demo suite: six small English classification tasks, generated from templates.

Every label is decided by a clear lexical cue (an adjective, a topic noun, an animal noun, four
changed details, a leading auxiliary), and each task was kept only after a fresh LoRA learned it
at the main job's budget (64 examples x 2 epochs) to at least 0.15 above both its zero-shot and
its majority-class accuracy on three run seeds (benchmarks/demo_learnability.py; docs/adr/0059).
Two tasks are there for the adaptive router to decide about:
- `product_sentiment` is a second domain of `review_sentiment` (product reviews with their own
  adjectives, yes = positive as before): review_sentiment's expert answers it before any training
  on it, so sharing that expert is the right call.
- `stay_complaint` asks about hotel stays with review_sentiment's adjectives but answers yes for a
  complaint, the opposite sense: put on review_sentiment's expert it starts near 0 and ends far
  below what a fresh expert reaches, so sharing costs.
Four tasks answer " yes"/" no" with different meanings; `mentions_animal` names its classes
(" animal"/" object"), with which a 135M model learns the cue that its yes/no version missed.

Verbalizers were checked to be one token each with a leading space in the SmolLM2-135M-Instruct
tokenizer: " yes" 9805, " no" 787, " sports" 5288, " business" 1861, " science" 2092,
" politics" 5993, " animal" 3161, " object" 1569.

Files are written atomically and only when their bytes change, so concurrent runs can share one
cache folder and the same seed always leaves byte-identical files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path

from adaptive_learner.adapters.data.demo_words import (
    ADJECTIVES,
    ANIMALS,
    CITIES,
    DAYS,
    DEEDS,
    EVENT_FORMS,
    EVENTS,
    NAMES,
    NEGATIVE,
    PEOPLE,
    PLACES,
    POSITIVE,
    PRODUCT_FORMS,
    PRODUCT_NEGATIVE,
    PRODUCT_POSITIVE,
    PRODUCTS,
    STAY_PARTS,
    STAYS,
    THINGS,
    TOPICS,
)
from adaptive_learner.adapters.storage import atomic_write_text


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _review(rng: random.Random, label: int) -> str:
    adj = rng.choice(POSITIVE if label else NEGATIVE)
    adj = rng.choice(("", "really ", "truly ", "quite ", "simply ")) + adj
    who, event = rng.choice(PEOPLE + ANIMALS), rng.choice(EVENTS)
    aside = rng.choice(
        (
            "",
            "",
            f", while {rng.choice(ANIMALS)} slept nearby",
            f", even with {rng.choice(THINGS)} in the way",
        )
    )
    form = rng.choice(
        (
            "{W} thought {e} was {a}{s}.",
            "Honestly, {e} was {a}{s}.",
            "I found {e} {a}{s}.",
            "{E} was {a} from start to finish{s}.",
            "{a}: that is how {w} described {e}{s}.",
        )
    )
    return _cap(form.format(w=who, W=_cap(who), e=event, E=_cap(event), a=adj, s=aside))


def _topic(rng: random.Random, label: int) -> str:
    event = rng.choice(TOPICS[list(TOPICS)[label]])
    who, adj = rng.choice(PEOPLE + ANIMALS), rng.choice(ADJECTIVES)
    form = rng.choice(
        (
            "{E} drew {a} reviews from {w} this week.",
            "Local news: {w} commented on {e} yesterday.",
            "Headline: {e} makes the front page again.",
            "{W} wrote a column calling {e} {a}.",
            "Everyone is talking about {e}, which {w} called {a}.",
        )
    )
    return form.format(w=who, W=_cap(who), e=event, E=_cap(event), a=adj)


def _animal(rng: random.Random, label: int) -> str:
    seen = rng.choice(ANIMALS if label else THINGS)
    who, where, event, adj = (
        rng.choice(PEOPLE),
        rng.choice(PLACES),
        rng.choice(EVENTS),
        rng.choice(ADJECTIVES),
    )
    form = rng.choice(
        (
            "{W} noticed {x} {p} during {e}.",
            "{X} stayed {p} while {w} watched {e}.",
            "During {e}, {w} kept {x} {p}, and it felt {a}.",
            "{W} said {e} was {a}, but {x} {p} got all the attention.",
        )
    )
    return form.format(w=who, W=_cap(who), x=seen, X=_cap(seen), p=where, e=event, a=adj)


def _event(rng: random.Random, slots: Mapping[str, object]) -> str:
    deed = slots["d"][rng.randrange(2)]  # type: ignore[index]
    return rng.choice(EVENT_FORMS).format(n=slots["n"], d=deed, c=slots["c"], w=slots["w"])


def _same_event(rng: random.Random, label: int) -> tuple[str, str]:
    pools = {"n": NAMES, "d": DEEDS, "c": CITIES, "w": DAYS}
    first = {key: rng.choice(pool) for key, pool in pools.items()}
    second = dict(first)
    if not label:
        # A different event differs in all four details (person, deed, city, day). With two
        # changed the cue was on an edge at this budget: a fresh LoRA learned it on one run seed
        # of three (benchmarks/results/demo-learnability-2026-12-07.md).
        for key, pool in pools.items():
            second[key] = rng.choice([v for v in pool if v != first[key]])
    return _event(rng, first), _event(rng, second)


def _product(rng: random.Random, label: int) -> str:
    adj = rng.choice(PRODUCT_POSITIVE if label else PRODUCT_NEGATIVE)
    adj = rng.choice(("", "really ", "quite ", "simply ")) + adj
    product = rng.choice(PRODUCTS)
    return _cap(rng.choice(PRODUCT_FORMS).format(p=product, P=_cap(product), a=adj))


def _stay(rng: random.Random, label: int) -> str:
    """label 1 = a complaint: a negative word, where review_sentiment's 1 is a positive one."""
    adj = rng.choice(NEGATIVE if label else POSITIVE)
    adj = rng.choice(("", "really ", "quite ", "simply ")) + adj
    form = rng.choice(
        (
            "We stayed at {s} for a week; {p} was {a}.",
            "Guest note: at {s}, {p} was {a}.",
            "Two nights at {s} and {p} was {a}.",
            "My stay at {s}: {p} {a}, all in all.",
            "Booked {s} again and {p} was {a}.",
            "Review of {s}: {p} felt {a}.",
        )
    )
    return _cap(form.format(s=rng.choice(STAYS), p=rng.choice(STAY_PARTS), a=adj))


Generator = Callable[[random.Random, int], "str | tuple[str, str]"]
YES_NO = ("no", "yes")
# name -> (description, labels, verbalizers, kind, generator); the order is the demo sequence.
DEMO_TASKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, Generator]] = {
    "review_sentiment": (
        "Decide whether the opinion in the short review is positive (yes) or negative (no).",
        ("negative", "positive"),
        YES_NO,
        "single",
        _review,
    ),
    "news_topic": (
        "Decide whether the news sentence is about sports, business, science or politics.",
        tuple(TOPICS),
        tuple(TOPICS),
        "single",
        _topic,
    ),
    # a second domain of review_sentiment: reusing its expert is the right call
    "product_sentiment": (
        "Decide whether the opinion in the product review is positive (yes) or negative (no).",
        ("negative", "positive"),
        YES_NO,
        "single",
        _product,
    ),
    "mentions_animal": (
        "Decide whether the sentence mentions an animal or only objects.",
        ("object", "animal"),
        ("object", "animal"),
        "single",
        _animal,
    ),
    "same_event": (
        "Decide whether the two sentences describe the same event (yes) or different events (no).",
        ("different", "same"),
        YES_NO,
        "pair",
        _same_event,
    ),
    # review_sentiment's words with the opposite yes: sharing its expert costs
    "stay_complaint": (
        "Decide whether the guest's note about their stay is a complaint (yes) or praise (no).",
        ("praise", "complaint"),
        YES_NO,
        "single",
        _stay,
    ),
}
DEMO_TASK_NAMES: tuple[str, ...] = tuple(DEMO_TASKS)


TaskTable = Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...], str, Generator]]


def write_demo_suite(
    root: Path,
    *,
    seed: int = 0,
    train_per_task: int = 400,
    validation_per_task: int = 200,
    tasks: TaskTable = DEMO_TASKS,
    source: str = "adaptive-learner demo_suite",
) -> Path:
    """Write the six demo task folders under `root` (task.json, train.jsonl, validation.jsonl).

    Same seed and sizes, same bytes. Returns `root`. `tasks` (name -> description, labels,
    verbalizers, kind, generator) and `source` let a benchmark write its own variants the same way.
    """
    root = Path(root)
    for name, (description, labels, verbalizers, kind, generate) in tasks.items():
        rng = random.Random(f"demo:{seed}:{name}")
        seen: set[str] = set()  # shared by both splits, so no validation text is also a train text
        splits = {
            split: _rows(rng, generate, labels, n, seen)
            for split, n in (("train", train_per_task), ("validation", validation_per_task))
        }
        spec = {
            "name": name,
            "description": description,
            "labels": list(labels),
            "kind": kind,
            "verbalizers": list(verbalizers),
            "source": f"generated by {source}, seed {seed}",
            "counts": {split: len(rows) for split, rows in splits.items()},
        }
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for split, rows in splits.items():
            _write_atomic(
                folder / f"{split}.jsonl",
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
            )
        # task.json goes last: a folder with one is complete even if an earlier run was killed.
        _write_atomic(folder / "task.json", json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    return root


def _rows(
    rng: random.Random, generate: Generator, labels: tuple[str, ...], n: int, seen: set[str]
) -> list[dict[str, str]]:
    # Exact balance: each label gets n // k rows (the first n % k labels one more), in
    # shuffled order.
    order = [i % len(labels) for i in range(n)]
    rng.shuffle(order)
    rows = []
    for label in order:
        for _ in range(1000):
            made = generate(rng, label)
            key = "\t".join(made) if isinstance(made, tuple) else made
            if key not in seen:
                break
        else:
            raise RuntimeError(f"demo suite: ran out of distinct texts for label {labels[label]!r}")
        seen.add(key)
        row = {"text": made[0], "text_pair": made[1]} if isinstance(made, tuple) else {"text": made}
        rows.append({**row, "label": labels[label]})
    return rows


def _write_atomic(path: Path, content: str) -> None:
    """Skip identical files so a second call (or a second process) rewrites nothing."""
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return
    atomic_write_text(path, content)
