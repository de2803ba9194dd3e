"""Issue 31 item 3: which demo-task variants a fresh LoRA learns at the main job's budget.

    PYTHONPATH=pkg python benchmarks/demo_learnability.py OUT [--seeds 0] [--only a,b] [--save]

Defines candidate task variants here (the product's demo suite, src/adapters/data/demo_suite.py,
is not changed), writes each as a task folder (task.json, train.jsonl, validation.jsonl; 400 train
and 200 validation rows, as the demo suite is written) under OUT/data, and runs the product on each
candidate alone with the main job's settings (preset "default": embedded SmolLM2-135M, 64 train /
24 dev / 80 validation examples, max_length 64, 2 epochs, batch 8, lr 1e-3), on a fresh expert
(schedule routing, one task per expert, no replay). Records the backbone's zero-shot accuracy,
the majority-class accuracy and the final accuracy on the validation subset, and the margin
min(final - zero-shot, final - majority); issue 31 item 3 asks for a margin of at least 0.15.

Reuse pairs: a second task trained after review_sentiment on the SAME expert (schedule,
num_tasks_to_share_lora=-1, experience replay) against the same two tasks on separate experts
(num_tasks_to_share_lora=1, experience replay, which has nothing to replay on a fresh expert).

The results file was measured at revision 1fc781a, against the five-task suite of that time
(mentions_animal answered yes/no, same_event's "different" changed two details, is_question);
the suite was rebuilt from these findings (docs/adr/0059), so BASELINE and `_same_event` now
name the new suite's tasks, and benchmarks/demo_suite_check.py checks it.

Resumable by candidate: a candidate whose OUT/results/<name>@s<seed>.json exists is not run again.
Prints a table; with --save writes benchmarks/results/demo-learnability-2026-12-07.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

from adaptive_learner.adapters.data.demo_suite import (
    DEMO_TASKS,
    YES_NO,
    Generator,
    _animal,
    _cap,
    _same_event,
    write_demo_suite,
)
from adaptive_learner.adapters.data.demo_words import (
    ANIMALS,
    CITIES,
    DAYS,
    DEEDS,
    EVENT_FORMS,
    NAMES,
    NEGATIVE,
    PEOPLE,
    PLACES,
    POSITIVE,
    PRODUCT_FORMS,
    PRODUCT_NEGATIVE,
    PRODUCT_POSITIVE,
    PRODUCTS,
    THINGS,
)
from adaptive_learner.bootstrap.api import run_sequence

RESULTS = Path(__file__).resolve().parent / "results"
STEM = "demo-learnability-2026-12-07"

# --- mentions_animal variants ---------------------------------------------------------------
# The demo's version hides the animal (or thing) in the object of a sentence that also names a
# person, an event and an adjective. The variants make the noun the cue a 135M model can find.

SUBJECT_FORMS = (
    "{X} stayed {p} all morning.",
    "{X} was {p} again today.",
    "Yesterday {x} was {p}.",
    "{X} could be seen {p}.",
    "{X} has been {p} since noon.",
    "This morning {x} was {p}.",
    "{X} remained {p} until dinner.",
    "Once again {x} ended up {p}.",
)


def _animal_subject(rng: random.Random, label: int) -> str:
    """The animal (or a thing) is the subject; no person, event or adjective."""
    seen = rng.choice(ANIMALS if label else THINGS)
    form = rng.choice(SUBJECT_FORMS)
    return _cap(form.format(x=seen, X=_cap(seen), p=rng.choice(PLACES)))


def _animal_vs_person(rng: random.Random, label: int) -> str:
    """The subject is an animal (yes) or a person (no); no event or adjective."""
    seen = rng.choice(ANIMALS if label else PEOPLE)
    form = rng.choice(SUBJECT_FORMS)
    return _cap(form.format(x=seen, X=_cap(seen), p=rng.choice(PLACES)))


def _animal_object(rng: random.Random, label: int) -> str:
    """The demo's position (the object of a person's sentence), without event and adjective."""
    seen = rng.choice(ANIMALS if label else THINGS)
    form = rng.choice(
        (
            "{W} noticed {x} {p}.",
            "{W} left {x} {p}.",
            "{W} found {x} {p}.",
            "{W} kept {x} {p} all day.",
            "{W} saw {x} {p} this morning.",
        )
    )
    who = rng.choice(PEOPLE)
    return form.format(W=_cap(who), x=seen, p=rng.choice(PLACES))


# --- same_event variants --------------------------------------------------------------------
# The demo's "different" pair changes two of four details, and either side may be paraphrased
# and written in another of five forms: the model must align two reordered sentences.

EVENT_POOLS = {"n": NAMES, "d": DEEDS, "c": CITIES, "w": DAYS}


def _pair(
    rng: random.Random, label: int, changed: int, *, same_form: bool, paraphrase: bool
) -> tuple[str, str]:
    first = {key: rng.choice(pool) for key, pool in EVENT_POOLS.items()}
    second = dict(first)
    if not label:
        for key in rng.sample(sorted(EVENT_POOLS), changed):
            second[key] = rng.choice([v for v in EVENT_POOLS[key] if v != first[key]])
    forms = [rng.choice(EVENT_FORMS)]
    forms.append(forms[0] if same_form else rng.choice(EVENT_FORMS))
    out = []
    for slots, form in zip((first, second), forms, strict=True):
        deed = slots["d"][rng.randrange(2) if paraphrase else 0]
        out.append(form.format(n=slots["n"], d=deed, c=slots["c"], w=slots["w"]))
    return out[0], out[1]


def _same_event_copy(rng: random.Random, label: int) -> tuple[str, str]:
    """Same: the identical sentence twice. Different: two details changed, same form and words."""
    return _pair(rng, label, 2, same_form=True, paraphrase=False)


def _same_event_all_changed(rng: random.Random, label: int) -> tuple[str, str]:
    """The demo's forms and paraphrases, but a different event changes all four details."""
    return _pair(rng, label, 4, same_form=False, paraphrase=True)


def _same_event_same_form(rng: random.Random, label: int) -> tuple[str, str]:
    """Both sentences in one form (paraphrase allowed); a different event changes three details."""
    return _pair(rng, label, 3, same_form=True, paraphrase=True)


# --- a second sentiment domain (reuse should help) and a flipped one (sharing should cost) ---


def _product_review(words: tuple[tuple[str, ...], tuple[str, ...]]):
    def generate(rng: random.Random, label: int) -> str:
        adj = rng.choice(words[1] if label else words[0])
        adj = rng.choice(("", "really ", "quite ", "simply ")) + adj
        product = rng.choice(PRODUCTS)
        form = rng.choice(PRODUCT_FORMS)
        return _cap(form.format(p=product, P=_cap(product), a=adj))

    return generate


def _complaint(rng: random.Random, label: int) -> str:
    """yes = a complaint (negative), the opposite of review_sentiment's yes = positive."""
    return _product_review((POSITIVE, NEGATIVE))(rng, label)


CANDIDATES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, Generator]] = {
    "animal_subject": (
        "Decide whether the sentence mentions an animal (yes) or not (no).",
        ("no_animal", "animal"),
        YES_NO,
        "single",
        _animal_subject,
    ),
    "animal_vs_person": (
        "Decide whether the sentence mentions an animal (yes) or not (no).",
        ("no_animal", "animal"),
        YES_NO,
        "single",
        _animal_vs_person,
    ),
    "animal_object": (
        "Decide whether the sentence mentions an animal (yes) or not (no).",
        ("no_animal", "animal"),
        YES_NO,
        "single",
        _animal_object,
    ),
    # Answer words that name the classes (first tokens " animal" 3161, " object" 1569,
    # " person" 1055): not the yes/no the other demo tasks share.
    "animal_subject_named": (
        "Decide whether the subject of the sentence is an animal or an object.",
        ("object", "animal"),
        ("object", "animal"),
        "single",
        _animal_subject,
    ),
    "animal_vs_person_named": (
        "Decide whether the subject of the sentence is an animal or a person.",
        ("person", "animal"),
        ("person", "animal"),
        "single",
        _animal_vs_person,
    ),
    # The demo's own generators with those answer words: the verbalizer's share of the effect.
    "mentions_animal_named": (
        "Decide whether the sentence mentions an animal or only objects.",
        ("object", "animal"),
        ("object", "animal"),
        "single",
        _animal,
    ),
    "same_event_named": (
        "Decide whether the two sentences describe the same event or different events.",
        ("different", "same"),
        ("different", "same"),
        "pair",
        _same_event,
    ),
    "same_event_copy": (
        "Decide whether the two sentences describe the same event (yes) or different events (no).",
        ("different", "same"),
        YES_NO,
        "pair",
        _same_event_copy,
    ),
    "same_event_all_changed": (
        "Decide whether the two sentences describe the same event (yes) or different events (no).",
        ("different", "same"),
        YES_NO,
        "pair",
        _same_event_all_changed,
    ),
    "same_event_same_form": (
        "Decide whether the two sentences describe the same event (yes) or different events (no).",
        ("different", "same"),
        YES_NO,
        "pair",
        _same_event_same_form,
    ),
    "product_sentiment": (
        "Decide whether the opinion in the product review is positive (yes) or negative (no).",
        ("negative", "positive"),
        YES_NO,
        "single",
        _product_review((NEGATIVE, POSITIVE)),
    ),
    "product_sentiment_new_words": (
        "Decide whether the opinion in the product review is positive (yes) or negative (no).",
        ("negative", "positive"),
        YES_NO,
        "single",
        _product_review((PRODUCT_NEGATIVE, PRODUCT_POSITIVE)),
    ),
    "product_complaint": (
        "Decide whether the product review is a complaint (yes) or praise (no).",
        ("praise", "complaint"),
        YES_NO,
        "single",
        _complaint,
    ),
}
BASELINE = tuple(DEMO_TASKS)
# name -> (first task, second task); each is run shared (one expert) and separate (two experts).
PAIRS = {
    "reuse:product_sentiment": ("review_sentiment", "product_sentiment"),
    "reuse:product_sentiment_new_words": ("review_sentiment", "product_sentiment_new_words"),
    "reuse:product_complaint": ("review_sentiment", "product_complaint"),
}
SINGLE = {"routing.strategy": "schedule", "routing.num_tasks_to_share_lora": 1}
MAIN_JOB = {"run.reference": "", "run.tracker": "null"}


def write_candidates(root: Path, seed: int = 0) -> Path:
    """The demo suite and every candidate as task folders under `root`, like write_demo_suite."""
    write_demo_suite(root, seed=seed)
    return write_demo_suite(
        root, seed=seed, tasks=CANDIDATES, source="benchmarks/demo_learnability.py"
    )


def _state(run_dir: Path) -> dict:
    return json.loads((run_dir / "state.json").read_text(encoding="utf-8"))


def run_single(out: Path, name: str, seed: int) -> dict:
    done = out / "results" / f"{name}@s{seed}.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    overrides = {**MAIN_JOB, **SINGLE, "consolidation.replay": "none"}
    load, start = os.getloadavg()[0], time.perf_counter()
    result = run_sequence(
        preset="default",
        data_dir=out / "data",
        tasks=[name],
        seed=seed,
        output_dir=out / "runs" / f"{name}@s{seed}",
        overrides=overrides,
    )
    seconds = time.perf_counter() - start
    state = _state(result.run_dir)
    zero, majority = state["accuracy"]["zero_shot"][0], state["majority"][name]
    final = result.matrix[0][0]
    row = {
        "candidate": name,
        "kind": "baseline" if name in BASELINE else "variant",
        "seed": seed,
        "zero_shot": zero,
        "majority": majority,
        "final": final,
        "margin": min(final - zero, final - majority),
        "seconds": round(seconds, 1),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "run_dir": str(result.run_dir),
    }
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return row


def run_pair(out: Path, name: str, seed: int) -> dict:
    done = out / "results" / f"{name}@s{seed}.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    first, second = PAIRS[name]
    row: dict = {"candidate": name, "kind": "reuse pair", "seed": seed, "tasks": [first, second]}
    for arm, share in (("shared", -1), ("separate", 1)):
        overrides = {
            **MAIN_JOB,
            "routing.strategy": "schedule",
            "routing.num_tasks_to_share_lora": share,
            "consolidation.replay": "experience",
        }
        start = time.perf_counter()
        result = run_sequence(
            preset="default",
            data_dir=out / "data",
            tasks=[first, second],
            seed=seed,
            output_dir=out / "runs" / f"{name}@s{seed}-{arm}",
            overrides=overrides,
        )
        state = _state(result.run_dir)
        m = result.matrix
        row[arm] = {
            "experts": {k: list(v) for k, v in result.experts.items()},
            "zero_shot": state["accuracy"]["zero_shot"],
            "majority": [state["majority"][first], state["majority"][second]],
            "first_after_first": m[0][0],
            "second_before": m[0][1],  # the second task on the expert it joins, before training
            "second_final": m[1][1],
            "first_final": m[1][0],
            "avg_acc": result.avg_acc,
            "seconds": round(time.perf_counter() - start, 1),
            "run_dir": str(result.run_dir),
        }
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return row


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def table(rows: list[dict]) -> str:
    lines = [
        "| candidate | seed | kind | zero-shot | majority | final | margin | >= 0.15 | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "reuse pair":
            continue
        ok = "yes" if r["margin"] >= 0.15 else "no"
        lines.append(
            f"| {r['candidate']} | {r['seed']} | {r['kind']} | {_f(r['zero_shot'])} | "
            f"{_f(r['majority'])} | {_f(r['final'])} | {r['margin']:+.3f} | {ok} | "
            f"{r['seconds']:.0f} |"
        )
    by_name: dict[str, list[dict]] = {}
    for r in rows:
        if r["kind"] != "reuse pair":
            by_name.setdefault(r["candidate"], []).append(r)
    if any(len(runs) > 1 for runs in by_name.values()):
        lines += [
            "",
            "| candidate | seeds | finals | min margin | every seed >= 0.15 |",
            "|---|---|---|---|---|",
        ]
        for name, runs in by_name.items():
            low = min(r["margin"] for r in runs)
            lines.append(
                f"| {name} | {', '.join(str(r['seed']) for r in runs)} | "
                f"{', '.join(_f(r['final']) for r in runs)} | {low:+.3f} | "
                f"{'yes' if low >= 0.15 else 'no'} |"
            )
    pairs = [r for r in rows if r["kind"] == "reuse pair"]
    if pairs:
        lines += [
            "",
            (
                "| pair | seed | arm | experts | 2nd zero-shot | 2nd before | 2nd final "
                "| 1st after 1st | 1st final | AvgAcc | seconds |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in pairs:
            for arm in ("shared", "separate"):
                a = r[arm]
                lines.append(
                    f"| {r['candidate']} | {r['seed']} | {arm} | {len(a['experts'])} | "
                    f"{_f(a['zero_shot'][1])} | {_f(a['second_before'])} | "
                    f"{_f(a['second_final'])} | {_f(a['first_after_first'])} | "
                    f"{_f(a['first_final'])} | {_f(a['avg_acc'])} | {a['seconds']:.0f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="0", help="comma-separated run seeds")
    parser.add_argument("--only", default="", help="comma-separated candidates (default: all)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/" + STEM)
    args = parser.parse_args()
    out = args.out.resolve()
    write_candidates(out / "data")
    names = [*BASELINE, *CANDIDATES, *PAIRS]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for name in names:
            run = run_pair if name in PAIRS else run_single
            row = run(out, name, seed)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "run_dir"}), flush=True)
    # every result found under OUT, so a table covers earlier invocations (other seeds) too
    found = [json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))]
    order = {n: i for i, n in enumerate([*BASELINE, *CANDIDATES, *PAIRS])}
    found.sort(key=lambda r: (r["kind"] == "reuse pair", r["seed"] > 0, order[r["candidate"]]))
    text = table(found)
    print(text)
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        info = machine()
        (RESULTS / f"{STEM}.json").write_text(
            json.dumps({"machine": info, "results": found}, indent=2) + "\n", encoding="utf-8"
        )
        head = (
            f"# Demo-task learnability at the main job's budget ({STEM[-10:]})\n\n"
            "`benchmarks/demo_learnability.py`: each candidate alone on a fresh LoRA, preset "
            "`default` (SmolLM2-135M, 64 train / 24 dev / 80 validation, max_length 64, 2 epochs, "
            "batch 8, lr 1e-3), schedule routing, no replay; reuse pairs with experience replay. "
            "Margin = min(final - zero-shot, final - majority), target >= 0.15.\n\n"
            f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']} "
            f"({info['torch_threads']} threads); load average at the end "
            f"{info['load_average_at_end']}. Seconds are wall time per run, load included.\n\n"
        )
        (RESULTS / f"{STEM}.md").write_text(head + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
