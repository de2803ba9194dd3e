"""Routing profiles on the HF backbone (docs/adr/0030): the Profiler and Answerer ports.

Blocks of a task, measured under an expert or the bare backbone:
  description  TextMetaFeatures: mean-pooled hidden states of the task description
  prototype    mean of the per-input vectors of k task examples (the queries' representation)
  gradient     GradientSketch: a count sketch (seeded per module name, so all tasks share it) of
               the answer-loss gradient on a few task examples at `grad_sketch_layer_names`
               (default per architecture and the unknown-name check: adapters/hf/layers.py)
  context      ContextStats: mean next-token entropy of the prompts under the model, prompt
               length mean / std (in hundreds of tokens), number of labels, label entropy
Per-input vectors are mean-pooled hidden states of the raw input (no prompt, no task), one layer or
several side by side (`routing.embedding_layers`, docs/adr/0039): a query without a task id is
embedded exactly like the examples behind a task's key.
"""

from __future__ import annotations

import math
import zlib

import torch

from adaptive_learner.adapters.data.examples import Example
from adaptive_learner.adapters.errors import AdapterError
from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.hf.layers import check_layer_names, default_sketch_layers
from adaptive_learner.adapters.hf.prompts import clip, encode_example, length_batches
from adaptive_learner.application.ports import LabelledInput
from adaptive_learner.domain.profiles import label_entropy
from adaptive_learner.domain.task import Task


def count_sketch(
    grad: torch.Tensor, buckets: torch.Tensor, signs: torch.Tensor, dim: int
) -> torch.Tensor:
    """sum_i sign_i * g_i into bucket_i: an unbiased, inner-product-preserving (in
    expectation) sketch."""
    return torch.zeros(dim, dtype=torch.float32).index_add_(
        0, buckets, grad.flatten().float().cpu() * signs
    )


def sketch_hashes(
    name: str, numel: int, dim: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket and sign of every coordinate of module `name`'s weight, from a generator seeded by
    the name."""
    g = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{name}".encode()))
    buckets = torch.randint(0, dim, (numel,), generator=g)
    signs = torch.randint(0, 2, (numel,), generator=g).float() * 2 - 1
    return buckets, signs


def _input_text(x: LabelledInput) -> str:
    return x.text if x.text_pair is None else f"{x.text}\n{x.text_pair}"


class HFProfiler:
    """Profile blocks, per-input vectors and task-free answers over an `HFBackbone`."""

    def __init__(self, backbone, routing) -> None:
        self.b, self.k = backbone, routing.k_examples_for_prototype
        self.sketch_dim, self.sketch_examples = (
            routing.grad_sketch_dim,
            routing.grad_sketch_examples,
        )
        base = scoring.base_model(backbone.experts.model)
        n_states = base.config.num_hidden_layers + 1  # token embeddings, then one per decoder layer
        self.embed_layers = list(routing.embedding_layers) or default_embedding_layers(
            base.config.num_hidden_layers
        )
        for layer in self.embed_layers:
            if layer >= n_states:
                raise AdapterError(
                    f"routing.embedding_layers {layer} is outside the model's hidden states "
                    f"0..{n_states - 1} (or -1)"
                )
        self.layers = list(routing.grad_sketch_layer_names) or default_sketch_layers(base)
        check_layer_names(base, self.layers, "routing.grad_sketch_layer_names")
        modules = dict(base.named_modules())
        for name in self.layers:
            if _weight(modules[name]) is None:
                raise AdapterError(
                    f"routing.grad_sketch_layer_names: module {name!r} has no weight to sketch; "
                    "pick a Linear layer"
                )
        self._hashes: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    # --- Profiler ------------------------------------------------------------------------------
    def task_blocks(
        self,
        task: Task,
        examples: list[LabelledInput],
        blocks: tuple[str, ...],
        expert_id: str | None = None,
    ) -> dict[str, tuple[float, ...]]:
        out: dict[str, tuple[float, ...]] = {}
        if "description" in blocks:
            out["description"] = self._embed([self._tok(task.description)], expert_id)[0]
        if "prototype" in blocks:
            rows = [self._tok(_input_text(x)) for x in examples[: self.k or len(examples)]] or [
                self._tok(task.description)
            ]
            out["prototype"] = tuple(torch.tensor(self._embed(rows, expert_id)).mean(0).tolist())
        prompts = [self._prompt(task, x) for x in examples[: self.sketch_examples]]
        if "gradient" in blocks:
            out["gradient"] = self._gradient_sketch(
                task, prompts, examples[: self.sketch_examples], expert_id
            )
        if "context" in blocks:
            out["context"] = self._context(
                task, prompts, [x.label or "" for x in examples], expert_id
            )
        return out

    def embed_inputs(self, inputs: list[LabelledInput]) -> list[tuple[float, ...]]:
        return self._embed([self._tok(_input_text(x)) for x in inputs], None)

    # --- Answerer ------------------------------------------------------------------------------
    @torch.inference_mode()
    def answer(
        self, expert_id: str, task: Task, inputs: list[LabelledInput]
    ) -> list[dict[str, float]]:
        rows = [self._prompt(task, x) for x in inputs]
        label_ids = self.b.label_ids(task)
        out: list[dict[str, float]] = [{} for _ in rows]  # every row is in one batch below
        with self.b._model_for(expert_id) as model:
            for batch in length_batches([len(r) for r in rows], self.b.training.eval_batch_size):
                ids, mask = scoring.collate([rows[i] for i in batch], self.b.pad_id, self.b.device)
                probs = (
                    scoring.label_log_probs(scoring.answer_logits(model, ids, mask), label_ids)
                    .exp()
                    .tolist()
                )
                for i, p in zip(batch, probs, strict=True):
                    out[i] = dict(zip(task.labels, p, strict=True))
        return out

    # --- blocks --------------------------------------------------------------------------------
    def _tok(self, text: str) -> tuple[int, ...]:
        return tuple(
            self.b.tokenizer(clip(text, self.b.max_length), add_special_tokens=False)["input_ids"][
                : self.b.max_length
            ]
        ) or (self.b.pad_id,)

    def _prompt(self, task: Task, x: LabelledInput) -> tuple[int, ...]:
        label = task.labels.index(x.label) if x.label in task.labels else 0
        return encode_example(
            self.b.tokenizer, task, Example(x.text, x.text_pair, label), self.b.max_length
        )

    @torch.inference_mode()
    def _embed(self, rows: list[tuple[int, ...]], expert_id: str | None) -> list[tuple[float, ...]]:
        out: list = [None] * len(rows)
        with self.b._model_for(expert_id) as model:
            decoder = scoring.base_model(model).get_decoder()
            for batch in length_batches([len(r) for r in rows], self.b.training.eval_batch_size):
                ids, mask = scoring.collate([rows[i] for i in batch], self.b.pad_id, self.b.device)
                position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
                final_only = self.embed_layers == [-1]
                result = decoder(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=position_ids,
                    output_hidden_states=not final_only,
                )
                states = [
                    result.last_hidden_state if layer == -1 else result.hidden_states[layer]
                    for layer in self.embed_layers
                ]
                # layers side by side
                pooled = torch.cat([scoring.mean_pool(h.float(), mask) for h in states], dim=-1)
                for i, v in zip(batch, pooled.tolist(), strict=True):
                    out[i] = tuple(v)
        return out

    def _gradient_sketch(
        self, task: Task, prompts, examples: list[LabelledInput], expert_id: str | None
    ) -> tuple[float, ...]:
        if not prompts:
            return (0.0,) * self.sketch_dim
        modules = dict(scoring.base_model(self.b.experts.model).named_modules())
        weights = [_weight(modules[n]) for n in self.layers]
        gold = torch.tensor(
            [task.labels.index(x.label) if x.label in task.labels else 0 for x in examples],
            device=self.b.device,
        )
        with (
            torch.inference_mode(False),
            torch.enable_grad(),
            self.b.forward.gradients(),
            self.b._model_for(expert_id) as model,
        ):
            flags = [w.requires_grad for w in weights]
            try:
                for w in weights:
                    w.requires_grad_(True)
                ids, mask = scoring.collate(prompts, self.b.pad_id, self.b.device)
                loss = scoring.answer_loss(
                    scoring.answer_logits(model, ids, mask), self.b.label_ids(task).clone(), gold
                )
                grads = torch.autograd.grad(loss, weights)
            finally:
                for w, flag in zip(weights, flags, strict=True):
                    w.requires_grad_(flag)
        sketch = torch.zeros(self.sketch_dim)
        for name, g in zip(self.layers, grads, strict=True):
            if name not in self._hashes:
                self._hashes[name] = sketch_hashes(name, g.numel(), self.sketch_dim, self.b.seed)
            sketch += count_sketch(g, *self._hashes[name], self.sketch_dim)
        return tuple(sketch.tolist())

    @torch.inference_mode()
    def _context(
        self, task: Task, prompts, labels: list[str], expert_id: str | None
    ) -> tuple[float, ...]:
        lengths = [len(p) for p in prompts] or [0]
        entropies = []
        if prompts:
            with self.b._model_for(expert_id) as model:
                ids, mask = scoring.collate(prompts, self.b.pad_id, self.b.device)
                position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = scoring.base_model(model)(
                    input_ids=ids, attention_mask=mask, position_ids=position_ids
                ).logits.float()
                ent = scoring.entropy(torch.log_softmax(logits, -1))
                entropies.append((ent * mask).sum().item() / mask.sum().item())
        mean = sum(lengths) / len(lengths)
        std = math.sqrt(sum((n - mean) ** 2 for n in lengths) / len(lengths))
        return (
            sum(entropies) / len(entropies) if entropies else 0.0,
            mean / 100,
            std / 100,
            len(task.labels) / 10,
            label_entropy(labels),
        )


def default_embedding_layers(n_layers: int) -> list[int]:
    """Hidden states at 1/4, 1/2 and 3/4 of the depth, never the token embeddings (docs/adr/0039):
    [8, 15, 22] for SmolLM2's 30 layers, [4, 9, 14] for Gemma-2B's 18."""
    return sorted({max(1, round(n_layers * k / 4)) for k in (1, 2, 3)})


def _weight(module):
    w = getattr(module, "weight", None)
    if w is None and hasattr(module, "base_layer"):
        w = getattr(module.base_layer, "weight", None)
    return w if isinstance(w, torch.nn.Parameter) else None
