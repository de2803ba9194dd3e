"""Diagonal Fisher information, online accumulation and the EWC penalty (stateless functions).

    F_i = 1/N sum_n (d/d theta_i  log p(y_n | x_n))^2

where p is the model's distribution over the task's K label tokens (the answer logits restricted to
those tokens, renormalised, as in scoring.label_log_probs) and theta are one expert's LoRA weights.
"empirical": y_n is the gold label; "true": y_n is drawn from p itself. The square must be of the
PER-EXAMPLE gradient: squaring a batch-mean gradient gives a different, much smaller quantity.

Per-example gradients come from torch.func (functional_call + vmap(grad)); a plain loop with one
backward per example is the reference and the fallback (docs/adr/0013-online-ewc.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from adaptive_learner.adapters.hf import scoring
from adaptive_learner.adapters.progress import progress

METHODS = ("vmap", "loop")


def padded_attention_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive 4D mask [B, 1, L, L]: causal, padding keys blocked.

    Built outside vmap because transformers' own mask creation branches on tensor values, which
    vmap cannot trace. A padding query may see itself, so its (unused) row is finite rather than
    NaN; real positions never attend to it. transformers passes a 4D mask through unchanged, and
    an additive float mask means the same to SDPA and eager attention.
    """
    width = attention_mask.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=attention_mask.device).tril()
    allowed = (causal[None] & attention_mask.bool()[:, None, :]) | torch.eye(
        width, dtype=torch.bool, device=attention_mask.device
    )
    bias = torch.zeros(allowed.shape, dtype=dtype, device=attention_mask.device)
    return bias.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


class _AnswerLogProb(nn.Module):
    """log p(y | x) over the label tokens for one example, as a module so functional_call can
    swap weights."""

    def __init__(self, model, label_ids: torch.Tensor) -> None:
        super().__init__()
        self.model, self.label_ids = model, label_ids

    def forward(self, ids, bias, positions, y):
        base = scoring.base_model(self.model)
        hidden = base.get_decoder()(
            input_ids=ids, attention_mask=bias, position_ids=positions
        ).last_hidden_state[:, -1]
        log_probs = scoring.label_log_probs(
            base.get_output_embeddings()(hidden).float(), self.label_ids
        )
        # gather, not [0, y]: vmap cannot index with a batched int
        return log_probs[0].gather(0, y.reshape(1))[0]


def _attention_dtype(model, params) -> torch.dtype:
    """The dtype attention computes in: the base model's input embeddings' (bf16 under a bf16
    model), not the LoRA weights' (float32 under peft's upcast); a model without input embeddings:
    its weights'."""
    base = scoring.base_model(model)
    embed = base.get_input_embeddings() if hasattr(base, "get_input_embeddings") else None
    return embed.weight.dtype if embed is not None else next(iter(params.values())).dtype


def _vmap_grads(model, params, ids, mask, label_ids, y) -> dict[str, torch.Tensor]:
    head = _AnswerLogProb(model, label_ids)
    names = {n: f"model.{n}" for n in params}

    def log_prob(p, one_ids, one_bias, one_pos, one_y):
        return functional_call(
            head,
            {names[n]: v for n, v in p.items()},
            (one_ids[None], one_bias[None], one_pos[None], one_y),
        )

    bias = padded_attention_bias(mask, _attention_dtype(model, params))
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    detached = {n: p.detach() for n, p in params.items()}
    # SDPA has no batching rule on some devices; the slower fallback is still exact
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*batching rule.*")
        return vmap(grad(log_prob), in_dims=(None, 0, 0, 0, 0))(detached, ids, bias, positions, y)


def _loop_grads(model, params, rows, label_ids, y, device) -> dict[str, torch.Tensor]:
    out: dict[str, list[torch.Tensor]] = {n: [] for n in params}
    for row, label in zip(rows, y.tolist(), strict=True):
        ids = torch.tensor([row], device=device)
        log_prob = scoring.label_log_probs(
            scoring.answer_logits(model, ids, torch.ones_like(ids)), label_ids
        )[0, label]
        for n, g in zip(params, torch.autograd.grad(log_prob, list(params.values())), strict=True):
            out[n].append(g)
    return {n: torch.stack(gs) for n, gs in out.items()}


def _targets(
    model, ids, mask, label_ids, gold, kind: str, generator: torch.Generator | None
) -> torch.Tensor:
    if kind == "empirical":
        return gold
    with torch.no_grad():
        probs = scoring.label_log_probs(scoring.answer_logits(model, ids, mask), label_ids).exp()
    # drawn on the CPU generator so the same seed gives the same labels on any device
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(gold.device)


def diagonal_fisher(
    model,
    params: Mapping[str, nn.Parameter],
    rows: Sequence[Sequence[int]],
    label_ids: torch.Tensor,
    *,
    gold: Sequence[int],
    kind: str = "empirical",
    batch_size: int = 10,
    pad_id: int = 0,
    device: torch.device | None = None,
    generator: torch.Generator | None = None,
    method: str = "vmap",
) -> dict[str, torch.Tensor]:
    """Mean squared per-example gradient of log p(y|x) for each tensor in `params` (float32).

    The model must be in eval mode with `params` as its active, trainable weights. With
    method="vmap", a model that torch.func cannot trace falls back to the loop with a warning.
    """
    if kind not in ("empirical", "true"):
        raise ValueError(f"fisher kind must be 'empirical' or 'true', not {kind!r}")
    if method not in METHODS:
        raise ValueError(f"fisher method must be one of {METHODS}, not {method!r}")
    if not rows:
        raise ValueError("diagonal_fisher needs at least one example")
    device = device or next(iter(params.values())).device
    total = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    for start in progress(range(0, len(rows), batch_size), "Fisher"):
        batch = rows[start : start + batch_size]
        ids, mask = scoring.collate(batch, pad_id, device)
        y = _targets(
            model,
            ids,
            mask,
            label_ids,
            torch.tensor(gold[start : start + batch_size], device=device),
            kind,
            generator,
        )
        grads = None
        if method == "vmap":
            try:
                grads = _vmap_grads(model, params, ids, mask, label_ids, y)
            # whatever vmap cannot trace; a genuine bug re-raises from the loop
            except Exception as exc:  # noqa: BLE001
                reason = str(exc).splitlines()[0][:160]
                warnings.warn(
                    f"per-example Fisher: vmap failed for this model ({reason}); using the loop",
                    stacklevel=2,
                )
                method = "loop"
        if grads is None:
            grads = _loop_grads(model, params, batch, label_ids, y, device)
        for n, g in grads.items():
            total[n] += g.float().pow(2).sum(0)
    return {n: t / len(rows) for n, t in total.items()}


def accumulate(
    total: Mapping[str, torch.Tensor] | None, new: Mapping[str, torch.Tensor], scale: float
) -> dict[str, torch.Tensor]:
    """Online EWC with decay 1: F_total + scale * F_new (scale = the task's gamma gain)."""
    if not total:
        return {n: scale * f for n, f in new.items()}
    return {n: total[n] + scale * f for n, f in new.items()}


def ewc_penalty(
    params: Mapping[str, torch.Tensor],
    anchors: Mapping[str, torch.Tensor],
    fisher: Mapping[str, torch.Tensor],
    lam: float,
) -> torch.Tensor:
    """(lam / 2) * sum_i F_i (theta_i - theta*_i)^2 over the tensors named in `fisher`."""
    # bf16 weights: take the difference in fp32
    wide = lambda t: t.to(torch.promote_types(t.dtype, torch.float32))
    terms = [(fisher[n] * (wide(params[n]) - wide(anchors[n])).pow(2)).sum() for n in fisher]
    return 0.5 * lam * torch.stack(terms).sum() if terms else torch.zeros(())
