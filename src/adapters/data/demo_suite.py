"""The embedded demo suite: five small English classification tasks, generated from templates.

Every label is decided by a clear lexical cue (an adjective, a topic noun, an animal noun, a
changed detail, a leading auxiliary), so a 135M-parameter model with a LoRA learns each from
about a hundred examples. The tasks are built to interfere when one adapter learns them in
sequence: four of them answer with the same words " yes"/" no" but mean different things, and
all draw on one vocabulary, so each task's cue is a distractor in the others (reviews mention
animals, animal sentences carry sentiment, and so on).

Verbalizers were checked to be one token each with a leading space in the SmolLM2-135M-Instruct
tokenizer: " yes" 9805, " no" 787, " sports" 5288, " business" 1861, " science" 2092,
" politics" 5993.

Files are written atomically and only when their bytes change, so concurrent runs can share one
cache folder and the same seed always leaves byte-identical files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path

from adaptive_learner.adapters.storage import atomic_write_text

PEOPLE = (
    "my neighbour",
    "the coach",
    "our teacher",
    "the new manager",
    "my sister",
    "the old farmer",
    "a young student",
    "the reporter",
    "Anna",
    "Marco",
    "the pilot",
    "my uncle",
)
ANIMALS = (
    "the dog",
    "a cat",
    "the old horse",
    "a parrot",
    "the rabbit",
    "a small fox",
    "the cow",
    "an owl",
    "the goat",
    "a duck",
    "the pony",
    "a hamster",
)
THINGS = (
    "the kettle",
    "a red umbrella",
    "the old piano",
    "a bicycle",
    "the lamp",
    "a suitcase",
    "the clock",
    "a wooden chair",
    "the radio",
    "a blue scarf",
    "the mirror",
    "a backpack",
)
PLACES = (
    "by the door",
    "in the garden",
    "under the table",
    "near the window",
    "on the stairs",
    "in the hall",
)
TOPICS = {
    "sports": (
        "the football match",
        "the tennis final",
        "the marathon",
        "the basketball game",
        "the cycling race",
        "the swimming contest",
        "the hockey season",
        "the boxing night",
    ),
    "business": (
        "the quarterly earnings report",
        "the bank merger",
        "the new shop",
        "the company's sales forecast",
        "the stock market rally",
        "the factory's new contract",
        "the startup's funding round",
        "the price increase",
    ),
    "science": (
        "the telescope survey",
        "the chemistry experiment",
        "the vaccine trial",
        "the physics lecture",
        "the fossil discovery",
        "the climate study",
        "the robot prototype",
        "the genetics paper",
    ),
    "politics": (
        "the election debate",
        "the new tax law",
        "the senate vote",
        "the mayor's speech",
        "the party conference",
        "the minister's resignation",
        "the border treaty",
        "the council meeting",
    ),
}
EVENTS = tuple(e for events in TOPICS.values() for e in events)
POSITIVE = (
    "wonderful",
    "excellent",
    "delightful",
    "brilliant",
    "superb",
    "fantastic",
    "charming",
    "impressive",
    "great",
    "lovely",
)
NEGATIVE = (
    "awful",
    "terrible",
    "boring",
    "disappointing",
    "dreadful",
    "horrible",
    "dull",
    "poor",
    "annoying",
    "painful",
)
ADJECTIVES = POSITIVE + NEGATIVE
NAMES = (
    "Anna",
    "Marco",
    "Priya",
    "Tom",
    "Lena",
    "Omar",
    "Sofia",
    "James",
    "Yuki",
    "Carlos",
    "Grace",
    "Ivan",
)
# (plain wording, paraphrased wording) of one deed; a "same" pair may use either for either side.
DEEDS = (
    ("bought a bicycle", "purchased a bike"),
    ("sold a car", "sold an automobile"),
    ("lost a wallet", "misplaced a wallet"),
    ("visited a museum", "went to a museum"),
    ("fixed a laptop", "repaired a laptop"),
    ("cooked a big dinner", "made a large dinner"),
    ("won a chess game", "won a game of chess"),
    ("met an old friend", "ran into an old friend"),
    ("started a new job", "began a new job"),
    ("painted a fence", "gave a fence a coat of paint"),
)
CITIES = (
    "Paris",
    "Rome",
    "Berlin",
    "Madrid",
    "Lisbon",
    "Vienna",
    "Prague",
    "Dublin",
    "Oslo",
    "Athens",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVENT_FORMS = (
    "{n} {d} in {c} on {w}.",
    "On {w}, {n} {d} in {c}.",
    "In {c}, {n} {d} on {w}.",
    "{n} {d} on {w} in {c}.",
    "It was {w} when {n} {d} in {c}.",
)


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
        # Two changed details, not one: a single swapped word is too faint a cue for a 135M model.
        for key in rng.sample(sorted(pools), 2):
            second[key] = rng.choice([v for v in pools[key] if v != first[key]])
    return _event(rng, first), _event(rng, second)


def _question(rng: random.Random, label: int) -> str:
    who, event = rng.choice(PEOPLE + ANIMALS), rng.choice(EVENTS)
    if label:
        forms = (
            "did {w} enjoy {e}",
            "will {w} attend {e} tomorrow",
            "can {w} explain {e}",
            "is {w} writing about {e}",
            "why did {w} leave {e} early",
            "where will {w} watch {e}",
            "has {w} heard about {e}",
        )
    else:
        # Indirect questions are statements too: the cue is the sentence's opening, not a wh-word.
        forms = (
            "{w} enjoyed {e}",
            "{w} will attend {e} tomorrow",
            "{w} can explain {e}",
            "{w} is writing about {e}",
            "{w} wondered why {e} ended early",
            "{w} asked where {e} would be shown",
            "{w} has heard about {e}",
        )
    # No final punctuation: a question mark would make the task a one-character lookup.
    return _cap(rng.choice(forms).format(w=who, e=event))


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
    "mentions_animal": (
        "Decide whether the sentence mentions an animal (yes) or not (no).",
        ("no_animal", "animal"),
        YES_NO,
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
    "is_question": (
        (
            "Decide whether the sentence, written without final punctuation, is a question (yes) "
            "or a statement (no)."
        ),
        ("statement", "question"),
        YES_NO,
        "single",
        _question,
    ),
}
DEMO_TASK_NAMES: tuple[str, ...] = tuple(DEMO_TASKS)


def write_demo_suite(
    root: Path, *, seed: int = 0, train_per_task: int = 400, validation_per_task: int = 200
) -> Path:
    """Write the five demo task folders under `root` (task.json, train.jsonl, validation.jsonl).

    Same seed and sizes, same bytes. Returns `root`.
    """
    root = Path(root)
    for name, (description, labels, verbalizers, kind, generate) in DEMO_TASKS.items():
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
            "source": f"generated by adaptive-learner demo_suite, seed {seed}",
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
