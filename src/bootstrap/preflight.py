"""Everything a run needs is checked before its run folder exists (docs/adr/0020).

Order: the seeds, every seed's config (types, ranges, and the domain objects built from it),
the output folder, every task file of every seed, parsed in full, and what can be known about
the model without loading it. Only then does `run` create a folder, so a mistake in any of them
costs one line and leaves nothing behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from adaptive_learner.adapters.storage import JsonRunStore
from adaptive_learner.bootstrap.config import Config, ConfigError, load_config, parse_override
from adaptive_learner.bootstrap.containers import (
    build_early_stopping,
    build_policy,
    build_task_source,
    check_backbone,
    check_tracker,
)
from adaptive_learner.bootstrap.routing import check_keys_take_effect, check_rule
from adaptive_learner.bootstrap.runs import check_data_unchanged, check_results_have_state
from adaptive_learner.domain.errors import DomainError

_INTEGER = re.compile(r"[+-]?[0-9]+")


@frozen
class Plan:
    """One checked run: its config and its task source, data already parsed."""

    cfg: Config
    source: Any


def parse_seeds(text: str | None) -> list[int] | None:
    """`--seeds 0,1,2` -> [0, 1, 2]; None when not given. Each entry a plain integer, no repeats."""
    if text is None:
        return None
    seeds: list[int] = []
    for position, part in enumerate(text.split(","), start=1):
        part = part.strip()
        if not part:
            raise ConfigError(
                f"--seeds: entry {position} of {text!r:.60} is empty; "
                "give comma-separated integers, e.g. 0,1,2"
            )
        if not _INTEGER.fullmatch(part):
            raise ConfigError(
                f"--seeds: {part!r:.40} is not an integer; "
                "give comma-separated integers, e.g. 0,1,2"
            )
        seed = int(part)
        if seed in seeds:
            raise ConfigError(f"--seeds: seed {seed} is given twice")
        seeds.append(seed)
    return seeds


def check_config(cfg: Config) -> None:
    """Build the domain objects the run will build, so their own checks fire now, not mid-run."""
    for section, build in (
        ("consolidation", build_policy),
        ("routing", check_rule),
        ("training", build_early_stopping),
    ):
        try:
            build(cfg)
        except (DomainError, ValueError, TypeError) as exc:
            message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            raise ConfigError(f"{section}: {message}") from None
    if (
        cfg.run.backbone == "hf"
    ):  # found mid-run before (after the zero-shot pass); the config alone decides it
        from adaptive_learner.adapters.errors import AdapterError
        from adaptive_learner.adapters.hf.consolidation import check_replay_point

        try:
            check_replay_point(build_policy(cfg), cfg.lora.first_layer)
        except AdapterError as exc:
            raise ConfigError(f"consolidation: {exc}") from None


def check_output_dir(output_dir: str) -> None:
    """The output folder exists as a writable folder, or can be created under one."""
    path = Path(output_dir or ".")
    try:
        probe = path
        while not probe.exists() and probe.parent != probe:  # the nearest existing ancestor
            probe = probe.parent
        if not probe.is_dir():
            raise ConfigError(
                f"run.output_dir: {probe} is a file, not a folder (output dir {output_dir!r})"
            )
        if not os.access(probe, os.W_OK | os.X_OK):
            raise ConfigError(
                f"run.output_dir: {probe} is not writable (output dir {output_dir!r})"
            )
    except OSError as exc:
        raise ConfigError(
            f"run.output_dir: {output_dir!r} cannot be used ({exc.strerror or exc})"
        ) from None


def check_overrides(overrides: Sequence[str]) -> None:
    """One value per key: a key given twice with different values is refused (the later one won
    without a word; `--data-dir` adds data.source=folder after every `--set`)."""
    given: dict[tuple[str, ...], str] = {}
    for text in overrides:
        path, value = parse_override(text)
        first = given.setdefault(tuple(path), text)
        if first != text and parse_override(first)[1] != value:
            raise ConfigError(
                f"{'.'.join(path)} is given twice, as {first!r} and {text!r}; give it once "
                "(--data-dir sets data.source=folder and data.data_dir; --backbone, --tasks and "
                "--output-dir set run.backbone, data.tasks and run.output_dir)"
            )


def check_tasks(cfg: Config, tasks: Any) -> None:
    """The config's per-task values fit the tasks the data gives, and no two labels of a task
    share an answer word (the tokenizer found that only after the model had loaded)."""
    ids = list(tasks.ids)
    if unknown := sorted(set(cfg.data.verbalizers) - set(ids)):
        raise ConfigError(
            f"data.verbalizers: {unknown} are not tasks of this run; its tasks: {ids}"
        )
    count = len(cfg.routing.expert_of_task)
    if count and count != len(ids):
        raise ConfigError(
            f"routing.expert_of_task has {count} entries for the run's {len(ids)} tasks {ids}"
        )
    for task in tasks:
        words = [word.strip() for word in task.answers]
        if repeated := sorted({word for word in words if words.count(word) > 1}):
            raise ConfigError(
                f"task {task.id!r}: the answer words {list(task.answers)} repeat {repeated}; give "
                f"each label its own (task.json 'verbalizers' or data.verbalizers.{task.id})"
            )


def check_model(cfg: Config, tasks: Any) -> None:
    """What the model's config and tokenizer decide, read without its weights (seconds, not the
    load's minute): each task's answer words start with distinct tokens; the LoRA targets exist."""
    if cfg.run.backbone != "hf":
        return
    from adaptive_learner.adapters.hf.experts import check_lora
    from adaptive_learner.adapters.hf.loading import outline
    from adaptive_learner.adapters.hf.prompts import label_token_ids

    config, tokenizer = outline(cfg.model)
    for task in tasks:
        label_token_ids(tokenizer, task)
    check_lora(config, cfg.lora)


def check_data(source: Any) -> None:
    """Parse every task file of the sequence now; errors name the file, line and field."""
    for task in source.load():
        source.data(task.id)


def prepare_runs(preset: str, overrides: Sequence[str], seeds: str | None) -> list[Plan]:
    """The checked plan of each seed's run; raises ConfigError/AdapterError before anything is
    written."""
    seed_list = parse_seeds(seeds)
    check_overrides(overrides)
    configs = []
    for seed in seed_list if seed_list else [None]:
        cfg = load_config(preset, [*overrides, *([f"run.seed={seed}"] if seed is not None else [])])
        check_config(cfg)
        configs.append(cfg)
    try:  # a key the user gave that the run's reuse rule would silently ignore (docs/adr/0049)
        check_keys_take_effect(configs[0], [".".join(parse_override(o)[0]) for o in overrides])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for cfg in configs:
        check_output_dir(cfg.run.output_dir)
    plans = []
    for cfg in configs:
        source = build_task_source(cfg)
        check_data(source)
        check_tasks(cfg, source.load())
        plans.append(Plan(cfg, source))
    check_backbone(configs[0])  # the model settings do not vary with the seed
    check_model(configs[0], plans[0].source.load())
    check_tracker(configs[0])  # e.g. WANDB_MODE=online without network
    return plans


def prepare_resume(cfg: Config, run_dir: Path) -> Plan:
    """The same checks for `resume`, on the run's (possibly `--set`-changed) config, before the
    model loads or anything in the run folder changes: a task file damaged or edited since the run
    started is one line here, not an error after loading."""
    check_config(cfg)
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"{run_dir}: the run folder is not writable, so the run cannot continue")
    source = build_task_source(cfg)
    check_data(source)
    saved = JsonRunStore(run_dir).load_state()
    if saved is None:
        check_results_have_state(run_dir)
    elif tuple(saved["task_ids"]) != source.load().ids:
        raise ConfigError(
            f"{run_dir}: the run's tasks are {saved['task_ids']}, "
            f"but the data now gives {list(source.load().ids)}; "
            "restore the data folder (or data.tasks) the run started with"
        )
    check_data_unchanged(run_dir, source.files())
    check_tasks(cfg, source.load())
    check_backbone(cfg)
    check_model(cfg, source.load())
    check_tracker(cfg)
    return Plan(cfg, source)
