"""One GPU check, nothing downloaded: the sl-f workload on a random Gemma-2B-shaped model, phase by
phase, the HF Trainer side by side, and a bf16 correctness check. Prints one table; see
benchmarks/README.md.

    python benchmarks/gpu_check.py         # CUDA: Gemma-2B shape, bf16, SDPA (the issue-11 targets)
    python benchmarks/gpu_check.py --tiny  # CPU: tiny Gemma shape, minutes -> seconds
                                           # (CI/dev check of this script)

Workload (sl-f's shape): 5 tasks of the generated demo suite (the GLUE files are not on the GPU
machine), 250 training examples each, batch 4, 12 epochs, first two tasks share a LoRA, gamma-gated
EWC with a 50-sample Fisher and CMT latent replay (sl-f's consolidation), LoRA r8 on q/v from layer
`first_layer`; all 12 epochs run (patience 12: a random model's dev accuracy stalls, and early
stopping would otherwise cut the seed's 1.92 M training tokens short), each with its dev pass; every
prompt padded to 128 tokens (`training.pad_to_multiple`), so a training step is batch 4 x 128 as in
the issue; the full 5x5 accuracy matrix on up to 500 validation examples per task. Tokens come from
a word-level tokenizer built here from the demo suite's words (the model is random: accuracies are
meaningless, the shapes and the work are what is timed).

Phases: training (train_epoch), dev (early-stopping passes), fisher, replay memory, scoring (the
matrix + zero-shot), saving (experts + checkpoints), other (routing profiles, bookkeeping).
Writes benchmarks/results/gpu-check-<tiny|full>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hf_trainer_baseline import Clock, machine, naive_overrides, run_project, run_trainer

# sl-f's five tasks in shape: the demo suite's first five (it has six since docs/adr/0059)
SL_F_TASKS = [
    "review_sentiment",
    "news_topic",
    "product_sentiment",
    "mentions_animal",
    "same_event",
]

GEMMA_2B = dict(
    vocab_size=256000,
    hidden_size=2048,
    intermediate_size=16384,
    num_hidden_layers=18,
    num_attention_heads=8,
    num_key_value_heads=1,
    head_dim=256,
)
TINY = dict(
    vocab_size=4096,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=16,
)


def word_tokenizer(texts, vocab_size: int):
    """A word-level fast tokenizer over the words of `texts` (ids < vocab_size), with
    pad/unk/bos."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    split = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(":", "isolated")]
    )
    words = sorted({w for t in texts for w, _ in split.pre_tokenize_str(t)})
    specials = ["[PAD]", "[UNK]", "[BOS]"]
    vocab = {w: i for i, w in enumerate(specials + words[: vocab_size - len(specials)])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = split
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]"
    )
    fast.padding_side = "left"
    return fast


def demo_tokenizer(source, vocab_size: int):
    """word_tokenizer over every word the demo suite's prompts can hold: descriptions, prompt words,
    answers, examples."""
    tasks = source.load()
    texts = [t.description + " Input: Second: Answer:" for t in tasks] + [
        " ".join(t.answers) for t in tasks
    ]
    for t in tasks:
        data = source.data(t.id)
        texts += [
            e.text + " " + (e.text_pair or "") for e in (*data.train, *data.dev, *data.validation)
        ]
    return word_tokenizer(texts, vocab_size)


def gemma_model(shape: dict, device: torch.device, dtype: torch.dtype, seed: int = 0):
    from transformers import GemmaConfig, GemmaForCausalLM

    torch.manual_seed(seed)
    config = GemmaConfig(**shape, max_position_embeddings=512, attn_implementation="sdpa")
    with torch.device(device):
        model = GemmaForCausalLM(config).to(dtype)
    return model.eval().requires_grad_(False)


class Patches:
    """Attributes replaced by wrappers of the originals, put back by `restore`."""

    def __init__(self):
        self.patches: list = []

    def patch(self, owner, name: str, make) -> None:
        """Replace `owner.name` by `make(original)`."""
        original = getattr(owner, name)
        setattr(owner, name, make(original))
        self.patches.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self.patches):
            setattr(owner, name, original)
        self.patches.clear()


class Phases(Patches):
    """Wall seconds per phase, by wrapping the methods that do each kind of work
    (synchronising CUDA)."""

    def __init__(self):
        super().__init__()
        self.seconds: dict[str, float] = {}
        self.active: str | None = None

    def wrap(self, owner, name: str, phase: str) -> None:
        self.patch(owner, name, lambda original: self._timed(original, phase))

    def _timed(self, original, phase: str):
        def timed(*args, **kwargs):
            if self.active is not None:  # nested: counted by the outer phase
                return original(*args, **kwargs)
            self.active, started = phase, time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started
                self.active = None

        return timed


def instrument(phases: Phases) -> None:
    from adaptive_learner.adapters.hf import backbone as bb
    from adaptive_learner.adapters.hf import consolidation as cons
    from adaptive_learner.adapters.hf import replay

    phases.wrap(bb.HFSession, "train_epoch", "training")
    phases.wrap(bb.HFSession, "validate", "dev")
    phases.wrap(cons.fisher_math, "diagonal_fisher", "fisher")
    phases.wrap(replay.ExperienceReplay, "build", "replay memory")
    phases.wrap(replay.LatentReplay, "build", "replay memory")
    phases.wrap(bb.HFBackbone, "score", "scoring")
    phases.wrap(bb.HFBackbone, "save_expert", "saving")
    phases.wrap(bb.HFSession, "save_checkpoint", "saving")


def build_config(tiny: bool, compile_mode: str, extra: list[str], epochs: int | None = None):
    from adaptive_learner.bootstrap.config import load_config

    sizes = (
        [
            "data.train_samples_per_task=24",
            "data.dev_samples_per_task=8",
            "data.validation_samples_per_task=16",
            "training.epochs=2",
            "consolidation.ewc_data_loader_num_samples=8",
        ]
        if tiny
        else ["training.patience=12"]
    )  # a random model's dev accuracy stalls: without this, early stopping would cut the 12 epochs
    return load_config(
        "sl-f",
        [
            "data.source='demo'",
            f"data.tasks={SL_F_TASKS!r}",
            "data.verbalizers={}",
            "data.max_length=128",
            "lora.first_layer=" + ("1" if tiny else "8"),
            "lora.target_modules=['q_proj', 'v_proj']",
            "consolidation.ewc_data_loader_num_samples=50",
            "run.tracker='null'",
            f"training.compile='{compile_mode}'",
            f"training.pad_to_multiple={128 if compile_mode != 'none' else 0}",
            "training.eval_batch_size=64",
            *sizes,
            *([f"training.epochs={epochs}"] if epochs else []),
            *extra,
        ],
    )


def backbone_factory(cfg, model, tokenizer, source, run_dir):
    from adaptive_learner.adapters.hf.backbone import HFBackbone

    return HFBackbone(
        model,
        tokenizer,
        source,
        lora=cfg.lora,
        training=cfg.training,
        max_length=cfg.data.max_length,
        seed=cfg.run.seed,
        run_dir=run_dir,
        base_name="random-gemma",
    )


def bf16_check(device: torch.device) -> dict:
    """Answer logits of a tiny random model: device in bf16 (autocast path) against CPU float32."""
    from adaptive_learner.adapters.hf import scoring
    from adaptive_learner.adapters.hf.forward import AnswerForward

    model = gemma_model(TINY, torch.device("cpu"), torch.float32, seed=1)
    torch.manual_seed(2)
    rows = [
        torch.randint(3, TINY["vocab_size"], (int(n),)).tolist()
        for n in torch.randint(20, 60, (16,))
    ]
    with torch.inference_mode():
        reference = scoring.answer_logits(model, *scoring.collate(rows, 0, torch.device("cpu")))
        if device.type == "cuda":
            fast = (
                AnswerForward(device)
                .logits(model.to(device, torch.bfloat16), rows, 0)
                .float()
                .cpu()
            )
        else:  # no GPU: the CPU bf16 path, so the comparison still runs
            fast = AnswerForward(device).logits(model.to(torch.bfloat16), rows, 0).float()
    # bf16 keeps 8 mantissa bits: logits within 5% of their spread, and the same top token for
    # >= 90% of rows
    relative = ((reference - fast).abs().max() / reference.std()).item()
    agree = (reference.argmax(-1) == fast.argmax(-1)).float().mean().item()
    tolerance = 5e-2
    return {
        "max_logit_diff_over_std": relative,
        "top1_agreement": agree,
        "tolerance": tolerance,
        "ok": relative <= tolerance and agree >= 0.9,
    }


def train_step_ms(
    model, tokenizer, cfg, device, mode: str, steps: int = 20, **forward_options
) -> float:
    """Seconds per training step at batch 4 x 128 with the configured compile mode (after warm-up);
    `forward_options` (share_prefix, autocast) go to AnswerForward."""
    from adaptive_learner.adapters.hf.experts import PeftExperts
    from adaptive_learner.adapters.hf.forward import AnswerForward, make_optimizer, optimise

    experts = PeftExperts(
        model,
        r=cfg.lora.r,
        alpha=cfg.lora.alpha,
        dropout=0.0,
        target_modules=list(cfg.lora.target_modules),
        base_name="random",
        first_layer=cfg.lora.first_layer,
    )
    experts.add("probe")
    params = list(experts.parameters("probe").values())
    forward = AnswerForward(device, compile=mode, pad_to_multiple=128, **forward_options)
    opt = make_optimizer(params, cfg.training, device)
    # 120 tokens, shared head: width 128
    rows = [[5] * 20 + torch.randint(3, 1000, (100,)).tolist() for _ in range(4)]
    gold = torch.tensor([5, 6, 5, 6], device=device)
    experts.model.train()
    for i in range(steps + 5):
        if i == 5:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(
            forward.logits(experts.model, rows, tokenizer.pad_token_id), gold
        )
        optimise(opt, params, loss, 1.0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    experts.model.eval()
    seconds = (time.perf_counter() - started) / steps
    experts.remove("probe")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        default=os.environ.get("GPU_CHECK_TINY") == "1",
        help="Tiny Gemma shape and workload on CPU (also: GPU_CHECK_TINY=1).",
    )
    parser.add_argument(
        "--compile",
        default="none",
        choices=("none", "default", "reduce-overhead", "auto"),
        help="training.compile of the sl-f workload; 'auto' takes the fastest mode the step probe "
        "ran without error.",
    )
    parser.add_argument(
        "--side-epochs",
        type=int,
        default=2,
        help="Epochs of the naive/Trainer side by side (full shape; the tiny run keeps its own).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Result JSON path (default benchmarks/results/gpu-check-<tiny|full>.json).",
    )
    parser.add_argument(
        "--side-compile",
        default="none",
        choices=("none", "default", "reduce-overhead"),
        help="training.compile of this project's side of the Trainer side by side (the Trainer "
        "runs eager).",
    )
    parser.add_argument(
        "--skip-trainer", action="store_true", help="Leave out the HF Trainer side by side."
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=float(os.environ.get("GPU_CHECK_TIMEOUT", "480")),
        help="Seconds this check may take (gpu_check.sh kills it then); a failed compiled workload "
        "is rerun uncompiled only while that still fits.",
    )
    parser.add_argument(
        "--probe-modes",
        default="none,reduce-overhead",
        help="Compile modes the batch-4 step probe times on CUDA, comma-separated "
        "(CPU: none only).",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        help="Extra config override section.key=value.",
    )
    args = parser.parse_args()

    from adaptive_learner.adapters.data.demo_suite import write_demo_suite
    from adaptive_learner.adapters.data.sources import build_source
    from adaptive_learner.adapters.hf.loading import quiet_transformers
    from adaptive_learner.bootstrap.config import load_config

    quiet_transformers()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    shape, dtype = (
        (TINY, torch.float32)
        if args.tiny
        else (GEMMA_2B, torch.bfloat16 if device.type == "cuda" else torch.float32)
    )
    probe_modes = tuple(args.probe_modes.split(",")) if device.type == "cuda" else ("none",)
    _allow_recompiles()
    table: list[tuple[str, str]] = []
    results: dict = {
        "machine": machine(),
        "device": str(device),
        "shape": shape,
        "dtype": str(dtype),
        "compile": args.compile,
        "versions": _versions(),
        "failures": {},
    }
    out = args.out or HERE / "results" / f"gpu-check-{'tiny' if args.tiny else 'full'}.json"
    total = Clock()

    # printed as measured: a timeout still leaves every finished figure
    def row(key: str, value: str) -> None:
        table.append((key, value))
        print(f"| {key} | {value} |", flush=True)

    # after every section, here and in $OUT: a check killed at its deadline keeps what it measured
    def save() -> None:
        results["elapsed_seconds"] = round(time.perf_counter() - total.wall, 1)
        text = json.dumps(results, indent=2, default=str)
        out.write_text(text)
        if os.environ.get("OUT"):
            (Path(os.environ["OUT"]) / out.name).write_text(text)

    def section(name: str, work) -> bool:
        """Runs one part of the check; a failure is recorded (type, message, traceback tail) and the
        check goes on."""
        try:
            work()
            return True
        # a part that fails on a GPU is a finding, not the end of the check
        except Exception as exc:  # noqa: BLE001
            results["failures"][name] = traceback.format_exc()[-3000:]
            row(f"{name}", f"FAILED {type(exc).__name__}: {str(exc)[:160]}")
            print(results["failures"][name], file=sys.stderr, flush=True)
            return False
        finally:
            save()

    # 1. bf16 correctness first: cheap, and a wrong answer matters more than a slow one
    def bf16() -> None:
        check = bf16_check(
            torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        )
        results["bf16_check"] = check
        row(
            "bf16 vs CPU float32 (tiny model)",
            f"max |dlogit|/std {check['max_logit_diff_over_std']:.4f}, top-1 "
            f"{check['top1_agreement']:.2f} -> {'OK' if check['ok'] else 'FAIL'} (tol "
            f"{check['tolerance']})",
        )

    section("bf16 check", bf16)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ADAPTIVE_LEARNER_CACHE"] = (
            tmp  # the demo suite is generated here, nothing is read from the user's cache
        )
        cfg = build_config(args.tiny, "none", args.sets)
        write_demo_suite(Path(tmp) / "demo-suite-v2")
        source = build_source(cfg)
        tokenizer = demo_tokenizer(source, shape["vocab_size"])

        # 2. one training step at batch 4 x 128, per compile mode (the first steps, compilation
        # included, are not timed)
        results["train_step_seconds"] = {}
        for mode in probe_modes:
            started = time.perf_counter()

            def probe(mode=mode, started=started) -> None:
                step = train_step_ms(
                    gemma_model(shape, device, dtype), tokenizer, cfg, device, mode
                )
                results["train_step_seconds"][mode] = step
                row(
                    f"train step, batch 4 x 128, compile={mode} (target <= 15 ms)",
                    f"{step * 1000:.1f} ms (probe {time.perf_counter() - started:.0f} s)",
                )

            if not section(f"train step, compile={mode}", probe):
                results["train_step_seconds"][mode] = "failed"
            torch._dynamo.reset()  # each mode compiles from scratch
        measured = {m: s for m, s in results["train_step_seconds"].items() if isinstance(s, float)}
        compile_mode = args.compile
        if compile_mode == "auto":  # the fastest mode the probe ran without error
            compile_mode = min(measured, key=measured.get) if measured else "none"
        results["compile"] = compile_mode

        # 3. side by side with HF Trainer first (short, so it is measured even when the workload
        # runs long): the naive sequence (one LoRA), same model shape, prompts, examples, LoRA;
        # both sides eager unless --side-compile
        def side_by_side() -> None:
            side_epochs = None if args.tiny else args.side_epochs
            side = build_config(args.tiny, args.side_compile, args.sets, side_epochs)
            naive_cfg = load_config("sl-f", [*naive_overrides([]), *_overrides(side)])
            run_dir = Path(tmp) / "naive"
            run_dir.mkdir()
            before = _graphs()
            naive = run_project(
                naive_cfg,
                run_dir,
                source,
                backbone_factory(
                    naive_cfg, gemma_model(shape, device, dtype), tokenizer, source, run_dir
                ),
            )
            results["naive"] = {
                **naive,
                "compile": args.side_compile,
                "epochs": naive_cfg.training.epochs,
                "compiled_graphs": _graphs() - before,
            }
            row(
                f"naive sequence, {naive_cfg.training.epochs} epochs, compile={args.side_compile} "
                "(this project)",
                f"{naive['wall_seconds']:.1f} s",
            )
            trainer = run_trainer(
                naive_cfg, gemma_model(shape, device, dtype), tokenizer, source, device
            )
            results["hf_trainer"] = trainer
            row(
                f"naive sequence, {naive_cfg.training.epochs} epochs (HF Trainer + PEFT)",
                f"{trainer['wall_seconds']:.1f} s",
            )
            row(
                "  ratio project / Trainer (target <= 0.7)",
                f"{naive['wall_seconds'] / trainer['wall_seconds']:.2f}",
            )

        if not args.skip_trainer:
            section("side by side", side_by_side)

        # 4. the sl-f workload, phase by phase (all its epochs: on the full shape patience = epochs,
        # see build_config)
        def workload(mode: str) -> None:
            cfg = build_config(args.tiny, mode, args.sets)
            model = gemma_model(shape, device, dtype)
            phases = Phases()
            instrument(phases)
            run_dir = Path(tmp) / f"run-{mode}"
            run_dir.mkdir()
            before = _graphs()
            try:
                slf = run_project(
                    cfg, run_dir, source, backbone_factory(cfg, model, tokenizer, source, run_dir)
                )
            finally:
                phases.restore()
            del model
            phases.seconds["other"] = slf["wall_seconds"] - sum(phases.seconds.values())
            results["sl_f"] = {
                **slf,
                "phases": phases.seconds,
                "compile": mode,
                "epochs": cfg.training.epochs,
                "compiled_graphs": _graphs() - before,
            }
            if torch.cuda.is_available():
                results["sl_f"]["peak_gpu_memory_gib"] = round(
                    torch.cuda.max_memory_allocated() / 2**30, 1
                )
            row(
                f"sl-f workload (hybrid, {cfg.training.epochs} epochs, compile={mode}), total "
                "(target <= 120 s)",
                f"{slf['wall_seconds']:.1f} s",
            )
            for k, v in phases.seconds.items():
                row(f"  {k}", f"{v:.1f} s")
            if mode != "none":
                row(
                    "  graphs compiled (torch._dynamo unique_graphs)",
                    str(results["sl_f"]["compiled_graphs"]),
                )
            naive = results.get("naive")
            if naive and naive["compile"] == mode:
                ratio = (slf["wall_seconds"] / cfg.training.epochs) / (
                    naive["wall_seconds"] / naive["epochs"]
                )
                row("  ratio hybrid / naive per epoch (target <= 1.3)", f"{ratio:.2f}")

        started = time.perf_counter()
        ok = section(f"sl-f workload, compile={compile_mode}", lambda: workload(compile_mode))
        spent = time.perf_counter() - started
        if (
            not ok
            and compile_mode != "none"
            and time.perf_counter() - total.wall + max(spent, 240.0) < args.deadline
        ):
            torch._dynamo.reset()
            compile_mode = "none"
            results["compile"] = compile_mode
            section(
                "sl-f workload, compile=none (after the compiled run failed)",
                lambda: workload("none"),
            )

    results["total"] = total.read()
    row("gpu_check total (target <= 480 s)", f"{results['total']['wall_seconds']:.1f} s")
    width = max(len(k) for k, _ in table)
    print(
        f"\n{results['machine']} | {device} | {'tiny' if args.tiny else 'Gemma-2B shape'} | "
        f"compile={compile_mode}"
    )
    for key, value in table:
        print(f"{key:<{width}}  {value}")
    save()
    print(f"wrote {out}")
    if results["failures"] or not results.get("bf16_check", {}).get("ok"):
        raise SystemExit(1)


def _allow_recompiles() -> None:
    """One compiled graph per expert, grad mode and bucketed shape: far more than dynamo's
    default limit of 8 recompiles, after which it would run eager without a word and the figure
    would be a mix."""
    import torch._dynamo

    name = (
        "recompile_limit"
        if hasattr(torch._dynamo.config, "recompile_limit")
        else "cache_size_limit"
    )
    setattr(torch._dynamo.config, name, 256)


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "transformers", "peft", "accelerate"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _overrides(cfg) -> list[str]:
    """The gpu_check config as overrides of sl-f (to derive the naive counterpart from it)."""
    d, t, lora, c = cfg.data, cfg.training, cfg.lora, cfg.consolidation
    return [
        "data.source='demo'",
        f"data.tasks={SL_F_TASKS!r}",
        "data.verbalizers={}",
        f"data.max_length={d.max_length}",
        f"data.train_samples_per_task={d.train_samples_per_task}",
        f"data.dev_samples_per_task={d.dev_samples_per_task}",
        f"data.validation_samples_per_task={d.validation_samples_per_task}",
        f"lora.first_layer={lora.first_layer}",
        f"lora.target_modules={list(lora.target_modules)!r}",
        f"training.epochs={t.epochs}",
        f"training.compile='{t.compile}'",
        f"training.pad_to_multiple={t.pad_to_multiple}",
        f"training.eval_batch_size={t.eval_batch_size}",
        f"consolidation.ewc_data_loader_num_samples={c.ewc_data_loader_num_samples}",
    ]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
