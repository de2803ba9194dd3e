"""The Python API, for notebooks: learn a task sequence, read its results, answer new inputs.

    import adaptive_learner as al
    result = al.run_sequence(backbone="fake", overrides={"training.epochs": 2})
    print(result.avg_acc, result.bwt, result.matrix, result.experts)
    answers = result.learner().predict(["a lovely film", ("A man sleeps.", "Nobody sleeps.")])

It composes what the CLI's `run` and `predict` compose (bootstrap/session.py), so it runs the
same checks and writes the same run folder, but prints nothing: errors are raised as
ConfigError, DomainError or AdapterError, with the CLI's one-line messages.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.application.state import RunState
from adaptive_learner.bootstrap.config import Config, ConfigError, _check_text
from adaptive_learner.bootstrap.overrides import (
    option_overrides,
    set_overrides,
    toml_value,
    write_preset,
)
from adaptive_learner.bootstrap.runs import new_run_dir, world_size
from adaptive_learner.bootstrap.session import answer, checked_plans, execute, load_predictor

Input = str | tuple[str, str]


@frozen
class Answer:
    """One input's answer, found without a task id.

    `task`: the task the input was routed to; `expert`: the expert that learned that task;
    `label`: the predicted label; `probability`: that label's probability (with `top_k` > 1,
    mixed over the k likeliest tasks' answers); `route_probability`: the router's probability
    for `task`.
    """

    task: str
    expert: str
    label: str
    probability: float
    route_probability: float


@frozen
class Learner:
    """A run's experts and router, loaded once, answering inputs that come without a task id.

    Build one with `Learner.load(run_dir)` (or `RunResult.learner()`). `state` is the run's
    saved state (library, accuracy matrices, reports); `experts` maps expert ids to tasks.
    """

    run_dir: Path
    state: RunState
    _routing: Any = field(alias="routing", repr=False)

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Learner:
        """Load a run folder written by `run_sequence` or `adaptive-learner run`: its state, its
        router and every expert (the same composition as the CLI's `predict`).

        Raises ConfigError when `run_dir` is not a run folder or has no state.json yet,
        DomainError when the run has no trained expert, AdapterError when an expert's files
        are missing or damaged.
        """
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise ConfigError(f"{run_dir}: no such run folder")
        state, routing = load_predictor(run_dir)
        return cls(run_dir, state, routing)

    @property
    def experts(self) -> dict[str, tuple[str, ...]]:
        """{expert id: the ids of the tasks it learned, in learning order}."""
        return _experts(self.state)

    def predict(
        self, inputs: Sequence[Input] | str, top_k: int = 1, batch_size: int = 64
    ) -> list[Answer]:
        """Answer each input with the expert of the task the router sends it to.

        `inputs`: texts, or (text, text_pair) tuples for pair tasks (pairs are routed among the
        tasks whose inputs are pairs); a single string is one input. `top_k`: mix the label
        distributions of the k likeliest tasks' experts (1 = the routed expert alone).
        `batch_size`: inputs routed and answered at a time. Returns one Answer per input, in
        order. Raises ConfigError for an input that is not a non-empty text or a pair of texts
        and for a `top_k` or `batch_size` below 1.
        """
        for name, value in (("top_k", top_k), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: expected an integer of at least 1, got {value!r:.40}")
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        queries = [_query(item, f"inputs[{i}]") for i, item in enumerate(items)]
        answers = answer(self._routing, self.state, queries, top_k, batch_size)
        return [
            Answer(a["task"], a["expert"], a["label"], a["probability"], a["route_probability"])
            for a in answers
        ]


@frozen
class RunResult:
    """What `run_sequence` learned, read from the run's final state.

    `run_dir`: the run folder (config.json, state.json, report.md, experts, ...). `task_ids`:
    the sequence in learning order. `matrix[i][j]`: accuracy on task j after learning task i;
    j <= i is always measured, `matrix[i][i + 1]` is task i+1's accuracy just before it is
    learned (for FWT) when it was measured, the rest is None. `avg_acc`, `bwt`, `forgetting`,
    `balanced_avg_acc`: floats after the last task (docs/adr/0007-metrics.md); `fwt` is None when
    a measurement it needs is missing. `experts`: {expert id: its tasks}. `routing`: task-free
    evaluation (routing and task-free accuracy, per task) when the run's router made one, else
    None.
    """

    run_dir: Path
    task_ids: tuple[str, ...]
    matrix: list[list[float | None]]
    avg_acc: float
    bwt: float
    fwt: float | None
    forgetting: float
    balanced_avg_acc: float
    experts: dict[str, tuple[str, ...]]
    routing: dict[str, Any] | None

    def learner(self) -> Learner:
        """The run's experts loaded for task-free answers: `Learner.load(self.run_dir)`."""
        return Learner.load(self.run_dir)


def run_sequence(
    config: Config | None = None,
    *,
    preset: str = "default",
    backbone: str | None = None,
    data_dir: str | os.PathLike | None = None,
    tasks: Sequence[str] | None = None,
    seed: int | None = None,
    output_dir: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunResult:
    """Learn a task sequence in a new run folder, as `adaptive-learner run` does, for one seed.

    `preset`: a preset name (see `adaptive-learner presets`) or a path to a .toml file;
    `config`: a Config (e.g. from `bootstrap.config.load_config`) to start from instead.
    `overrides`: {"section.key": value}, the keys `--set` takes, values as Python (str, int,
    float, bool, list, dict). `backbone` ("hf", the default preset's, or "fake"), `data_dir` (a
    folder of task folders), `tasks` (task folder names in learning order), `seed` and
    `output_dir` (where run folders go) win over `overrides`, as the CLI's options win over
    `--set`.

    Every config value and every line of every task file is checked before the run folder is
    created; then the sequence runs under the folder's lock and report.md is written. Returns
    the RunResult. Raises, with nothing created, ConfigError (a bad key, value, preset or
    output folder) or AdapterError (a task file, the model settings); during the run,
    DomainError (e.g. a diverged run, which keeps its folder and a report of how far it got)
    or AdapterError (the model, the disk).
    """
    if world_size() > 1:
        raise ConfigError(
            "run_sequence runs in one process; use `adaptive-learner run` under torchrun"
        )
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(
            f"overrides: expected a dict of 'section.key': value, got {type(overrides).__name__}"
        )
    sets = option_overrides(set_overrides(overrides or {}), backbone, data_dir, tasks, output_dir)
    if seed is not None:
        sets.append(f"run.seed={toml_value(seed, 'seed')}")
    with tempfile.TemporaryDirectory(prefix="adaptive-learner-config-") as scratch:
        if config is not None:
            preset = str(write_preset(_given(config, preset), Path(scratch) / "config.toml"))
        (plan,) = checked_plans(preset, sets, None)
    run_dir = new_run_dir(plan.cfg, plan.source.files())
    state = execute(plan.cfg, run_dir, plan.source).state
    return _result(run_dir, state)


def _given(config: Any, preset: str) -> Config:
    if not isinstance(config, Config):
        raise ConfigError(
            f"config: expected a Config (bootstrap.config.load_config), got {type(config).__name__}"
        )
    if preset != "default":
        raise ConfigError(f"give config or preset={preset!r}, not both")
    return config


def _query(item: Any, where: str) -> LabelledInput:
    texts = item if isinstance(item, tuple) else (item,)
    if len(texts) not in (1, 2) or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ConfigError(
            f"{where}: expected a non-empty text or a (text, text_pair) tuple, got {item!r:.60}"
        )
    for text in texts:
        _check_text(text, where)  # a NUL or a lone surrogate would reach the tokenizer
    return LabelledInput(*texts)


def _experts(state: RunState) -> dict[str, tuple[str, ...]]:
    return {expert.id: tuple(expert.tasks) for expert in state.library}


def _result(run_dir: Path, state: RunState) -> RunResult:
    matrix = state.accuracy
    evaluation = state.router.evaluation if state.router is not None else None
    return RunResult(
        run_dir=run_dir,
        task_ids=state.task_ids,
        matrix=matrix.rows(),
        avg_acc=matrix.avg_acc(),
        bwt=matrix.bwt(),
        fwt=matrix.fwt(),
        forgetting=matrix.forgetting(),
        balanced_avg_acc=state.balanced.avg_acc(),
        experts=_experts(state),
        routing=dict(evaluation) if evaluation else None,
    )
