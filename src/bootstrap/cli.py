"""The `adaptive-learner` command line: parse, call one use case, print."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.reporting import write_report
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.bootstrap import logging_setup, render
from adaptive_learner.bootstrap.config import (
    ConfigError,
    _check_text,
    _read_preset,
    config_help,
    load_config,
    preset_names,
)
from adaptive_learner.bootstrap.containers import make_container
from adaptive_learner.bootstrap.overrides import option_overrides
from adaptive_learner.bootstrap.preflight import prepare_resume
from adaptive_learner.bootstrap.runs import (
    is_main_process,
    new_run_dir,
    repair_run,
    resume_config,
    run_config,
    run_state,
    world_size,
)
from adaptive_learner.bootstrap.session import answer, checked_plans, execute, load_routing
from adaptive_learner.bootstrap.session import reference_for as _reference_for
from adaptive_learner.domain.errors import DomainError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Continual learning with LoRA experts on a frozen LM.",
)
# A pipe gets wide tables rather than task names folded over three lines. markup=False: task ids,
# file names and error messages are user text, and rich would eat "[training]" in them as a tag;
# styled parts are built as Text instead.
console = Console(width=None if sys.stdout.isatty() else 160, markup=False)
DEBUG = {"on": False}
SPLITS = ("validation", "dev")

Preset = Annotated[
    str, typer.Option("--preset", "-p", help="Preset name (see `presets`) or path to a .toml file.")
]
Sets = Annotated[
    list[str],
    typer.Option("--set", "-s", help="Override a config key: section.key=value (repeatable)."),
]
RunDir = Annotated[
    Path, typer.Argument(help="A run folder written by `run`.", exists=True, file_okay=False)
]


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    json_logs: Annotated[
        bool | None,
        typer.Option(
            "--json-logs/--console-logs",
            help="Log format (default: console on a terminal, JSON lines otherwise).",
        ),
    ] = None,
) -> None:
    DEBUG["on"] = debug
    logging_setup.configure(json=json_logs)


@app.command()
def run(
    preset: Preset = "default",
    backbone: Annotated[
        str | None, typer.Option(help="Backbone adapter: hf or fake (overrides run.backbone).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder of task folders (task.json + JSONL splits).")
    ] = None,
    tasks: Annotated[
        str | None, typer.Option(help="Comma-separated task folder names, in learning order.")
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Comma-separated seeds; several seeds report mean ± std.")
    ] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="Where run folders go (overrides run.output_dir).")
    ] = None,
    joint: Annotated[
        bool,
        typer.Option(
            "--joint", help="Baseline: train one LoRA on all tasks at once (multitask upper bound)."
        ),
    ] = False,
    set_: Sets = [],  # noqa: B006 - typer needs a literal default
) -> None:
    """Learn a task sequence and print the accuracy matrix, AvgAcc and BWT."""
    # Every seed's config and every task file are checked before the first run folder exists.
    sets = option_overrides(set_, backbone, data_dir, tasks, output_dir)
    plans = checked_plans(preset, sets, seeds)
    states = []
    for cfg, source in ((plan.cfg, plan.source) for plan in plans):
        started = time.perf_counter()
        if (
            not is_main_process()
        ):  # torchrun / accelerate launch: only rank 0 writes the run folder (docs/adr/0028)
            _execute_worker(cfg, source)
            continue
        run_dir = new_run_dir(cfg, source.files())
        console.print(
            Text.assemble(
                ("run", "bold"),
                f" {run_dir}  preset={preset} backbone={cfg.run.backbone} seed={cfg.run.seed}",
            )
        )
        if joint:
            container = make_container(cfg, run_dir)
            container.task_source.override(source)
            result = container.train_jointly()()
            for task_id, score in result.scores.items():
                console.print(
                    f"{task_id:>16}  accuracy {score.accuracy:.3f}  "
                    f"balanced {score.balanced_accuracy:.3f}  "
                    f"majority {score.majority_baseline:.3f}"
                )
            console.print(
                f"joint AvgAcc {result.avg_acc:.3f}  "
                f"balanced AvgAcc {result.balanced_avg_acc:.3f}  ({result.seconds:.0f} s)",
                style="bold",
            )
            console.print(render.wall_time(time.perf_counter() - started))
            continue
        states.append(_execute(cfg, run_dir, source))
        console.print(render.wall_time(time.perf_counter() - started))
    if len(states) > 1:
        console.print(render.seeds_table(states, [plan.cfg.run.seed for plan in plans]))


def _execute(cfg, run_dir: Path, source=None, prepare=None):
    """Run (or resume) the sequence and print it (the caller adds the wall time)."""
    finished = execute(cfg, run_dir, source, prepare)
    render.print_run(console, finished.state, finished.reference)
    report = finished.report.name
    console.print(f"run folder: {run_dir}  (report: {report}, matrix.png, matrix.csv)")
    return finished.state


def _execute_worker(cfg, source) -> None:
    """A process of rank > 0: the same computation, nothing written (no run folder, no experts, no
    events)."""
    import shutil
    import tempfile

    from adaptive_learner.adapters.storage import MemoryRunStore
    from adaptive_learner.adapters.trackers import NullTracker

    scratch = Path(tempfile.mkdtemp(prefix="adaptive-learner-worker-"))
    try:
        container = make_container(cfg, scratch)
        container.task_source.override(source)
        container.run_store.override(MemoryRunStore())
        container.tracker.override(NullTracker())
        container.run_sequence()()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@app.command()
def resume(
    run_dir: RunDir,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            "-s",
            help="Change a training.* key for the rest of the run "
            "(e.g. training.learning_rate=1e-4 after a divergence); recorded in manifest.json.",
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
) -> None:
    """Continue a stopped or killed run from its last saved task (or epoch); one process."""
    if world_size() > 1:
        raise ConfigError(
            f"{run_dir}: resume runs in one process; start it without torchrun/accelerate launch"
        )
    cfg = resume_config(run_config(run_dir), set_)
    source = prepare_resume(
        cfg, run_dir
    ).source  # config, task files and model settings, as `run` checks them
    started = time.perf_counter()
    _execute(cfg, run_dir, source, prepare=lambda: repair_run(run_dir, cfg, source.files(), set_))
    console.print(render.wall_time(time.perf_counter() - started))


@app.command()
def report(run_dir: RunDir) -> None:
    """Rebuild a run's report.md, matrix.json/.csv and matrix.png from its saved state."""
    state, reference = run_state(run_dir), _reference_for(run_config(run_dir))
    path = write_report(run_dir, state, reference)
    render.print_run(console, state, reference)
    console.print(f"wrote {path}")


@app.command()
def compare(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(help="Run folders to compare; runs of one config are grouped as seeds."),
    ],
    include_incomplete: Annotated[
        bool,
        typer.Option(
            "--include-incomplete",
            help="Count runs that did not learn every task in mean ± std "
            "(they are listed on their own rows otherwise).",
        ),
    ] = False,
) -> None:
    """Put runs side by side; runs that differ only in seed are shown as mean ± std."""
    seen: dict[Path, Path] = {}
    for d in run_dirs:
        if (first := seen.setdefault(d.resolve(), d)) is not d:
            raise ConfigError(
                f"compare: {d} is the same run folder as {first}; "
                "give each run once (it would count twice in mean ± std)"
            )
    runs = [(d, run_config(d), run_state(d)) for d in run_dirs]
    counted: dict[str, Path] = {}
    for d, cfg, state in runs:
        key = cfg.to_dict()  # as render.compare_table groups seeds, but with the seed kept
        key["run"] = {k: v for k, v in key["run"].items() if k not in render.NOT_RESULT_KEYS}
        key["seed"] = cfg.run.seed
        grouped = state.finished or include_incomplete  # otherwise it is a row of its own
        if grouped and (first := counted.setdefault(repr(key), d)) is not d:
            raise ConfigError(
                f"compare: {d} and {first} are runs of one config with the same seed "
                f"{cfg.run.seed} (a copy?); give one of them (mean ± std would count it twice)"
            )
    console.print(render.compare_table(runs, include_incomplete=include_incomplete))


@app.command()
def evaluate(
    run_dir: RunDir,
    split: Annotated[str, typer.Option(help="Split to score: validation or dev.")] = "validation",
) -> None:
    """Re-score every learned task with its saved expert and print it beside the saved row."""
    if split not in SPLITS:
        raise ConfigError(f"--split: {split!r:.40} is not one of {', '.join(SPLITS)}")
    container = make_container(run_config(run_dir), run_dir)
    state, tasks = run_state(run_dir), container.task_source().load()
    evaluate = container.evaluate(split=split)
    last = state.completed - 1
    for j, (task_id, score) in enumerate(
        evaluate.rescore(state, tasks, container.backbone()).items()
    ):
        expert = state.library.expert_for(task_id).id
        saved = state.accuracy.get(last, j)
        console.print(
            f"{task_id:>12}  {expert:>10}  now {score.accuracy:.3f}  saved {saved:.3f}  "
            f"balanced {score.balanced_accuracy:.3f}"
        )


@app.command()
def route(
    run_dir: RunDir,
    text: Annotated[
        str | None, typer.Option(help="A single input to route to the nearest expert.")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="A task (folder name) to decide reuse / create / fork for.")
    ] = None,
) -> None:
    """Ask the router where a text or a new task would go."""
    if (text is None) == (task is None):
        raise typer.BadParameter("give exactly one of --text or --task")
    if text is not None:
        _check_text(
            text, "--text"
        )  # a lone surrogate (undecodable bytes in argv) would reach the tokenizer
        if not text.strip():
            raise ConfigError("--text: empty; give the input to route")
    state, container = run_state(run_dir), make_container(run_config(run_dir), run_dir)
    if text is not None:  # routing reads task keys, not experts: none is loaded
        ranked = container.route_query().route([LabelledInput(text)], state, k=3)[0]
        console.print(render.route_text(ranked, state.library.expert_for(ranked[0][0]).id))
        return
    tasks = container.task_source().load()
    choice = container.reuse_rule().decide(tasks[tasks.index_of(task)], len(state.reports), state)
    console.print(render.decision_text(choice.decision))


@app.command()
def predict(
    run_dir: RunDir,
    text: Annotated[str | None, typer.Option(help="One input to answer without a task id.")] = None,
    text_pair: Annotated[
        str | None,
        typer.Option(
            help="With --text: the second text of a pair input (e.g. a hypothesis); "
            "pair inputs are routed among tasks whose inputs are pairs."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help="A JSONL file of inputs in the task-folder format (text, text_pair, label).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    top_k: Annotated[
        int,
        typer.Option(
            help="Mix the label distributions of the k most likely tasks' experts "
            "(1 = the routed one).",
            min=1,
        ),
    ] = 1,
    batch_size: Annotated[
        int, typer.Option(help="Inputs routed and answered per batch.", min=1)
    ] = 64,
) -> None:
    """Answer inputs with no task id: the routed expert, the label and its probability."""
    from adaptive_learner.adapters.data.inputs import read_queries
    from adaptive_learner.application.ports import LabelledInput

    if (text is None) == (file is None):
        raise typer.BadParameter("give exactly one of --text or --file")
    if text_pair is not None and text is None:
        raise typer.BadParameter(
            "--text-pair goes with --text (a JSONL file gives pairs in its text_pair field)"
        )
    for value, option in ((text, "--text"), (text_pair, "--text-pair")):
        if value is not None:
            _check_text(value, option)  # undecodable bytes in argv arrive as lone surrogates
            if not value.strip():
                raise ConfigError(f"{option}: empty; give the input to answer")
    state = run_state(run_dir)
    if not state.library.learned_tasks():
        raise DomainError(
            f"{run_dir}: the run has no trained expert yet; predict needs at least one learned task"
        )
    if text is not None:
        inputs = [LabelledInput(text, text_pair)]
    else:
        assert file is not None  # exactly one of --text and --file, checked above
        inputs = read_queries(file)
    answers = answer(load_routing(run_dir, state), state, inputs, top_k, batch_size)
    for x, a in zip(inputs, answers, strict=True):
        mark = (
            "" if x.label is None else ("  ok" if a["label"] == x.label else f"  (gold {x.label})")
        )
        console.print(
            f"{a['expert']:>10}  {a['task']:>14}  {a['label']:>14}  p {a['probability']:.3f}  "
            f"route p {a['route_probability']:.2f}{mark}",
            highlight=False,
        )
    gold = [(x, a) for x, a in zip(inputs, answers, strict=True) if x.label is not None]
    if gold:
        console.print(
            f"task-free accuracy {sum(a['label'] == x.label for x, a in gold) / len(gold):.3f} "
            f"on {len(gold)} labelled inputs"
        )


@app.command()
def experts(run_dir: RunDir) -> None:
    """List the experts of a run and the tasks each has learned."""
    console.print(render.experts_table(run_state(run_dir)))


@app.command()
def presets(
    show: Annotated[
        str | None, typer.Option(help="Print one preset's full config with help text.")
    ] = None,
) -> None:
    """List the shipped presets, or show one in full."""
    if show is None:
        for name in preset_names():
            console.print(
                Text.assemble(
                    (f"{name:>14}", "bold"), f"  {_read_preset(name).get('description', '')}"
                )
            )
        return
    cfg = load_config(show).to_dict()
    for key, help_text, _ in config_help():
        section, _, leaf = key.partition(".")
        value = cfg[section][leaf] if leaf else cfg[section]
        console.print(Text.assemble((key, "bold"), f" = {value!r}  ", (f"# {help_text}", "dim")))


@app.command("inspect-layers")
def inspect_layers(
    model: Annotated[
        str,
        typer.Option(help="Hub id, local folder or embedded name ('smollm2-135m', 'gemma3-270m')."),
    ] = "smollm2-135m",
    gguf_file: Annotated[
        str, typer.Option(help="GGUF file inside --model (a folder) to read the architecture from.")
    ] = "",
    filter_: Annotated[
        str, typer.Option("--filter", help="Show only modules whose name contains this text.")
    ] = "",
) -> None:
    """List the backbone's modules, parameter shapes and counts, to choose grad_sketch_layer_names."""  # noqa: E501  (the command's --help text, printed as written)
    from adaptive_learner.adapters.hf.layers import default_sketch_layers, layer_rows, skeleton

    net = skeleton(model, gguf_file)
    console.print(
        render.layers_table(layer_rows(net, filter_), f"{model} ({net.config.model_type})")
    )
    try:
        console.print("default grad_sketch_layer_names: " + ", ".join(default_sketch_layers(net)))
    except AdapterError as exc:
        console.print(str(exc), style="dim")


def entry(args: list[str] | None = None) -> None:
    """Console-script entry: one line per known error, full traceback only with --debug.

    `args` replaces sys.argv[1:] (tests call the CLI in-process this way).
    """
    try:
        code = app(args=args, standalone_mode=False)
        if (
            isinstance(code, int) and code
        ):  # e.g. 130 after Ctrl-C: click returns it instead of raising
            raise SystemExit(code)
    except (ConfigError, DomainError, AdapterError) as exc:
        if DEBUG["on"]:
            raise
        # stderr, so a pipe of the results never holds the error; width as for `console`
        errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160, markup=False)
        errors.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except _USAGE_ERROR as exc:  # a bad option or argument: click's usage line, exit 2
        exc.show()
        raise SystemExit(exc.exit_code) from None


# typer >= 0.2x vendors click (typer._click), older typer uses click itself: take the usage-error
# base class from the public typer.BadParameter rather than from either module.
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


if __name__ == "__main__":
    entry()
