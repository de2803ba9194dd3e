"""Running a decoder from an intermediate layer, and compressing the latents found there.

Latent replay (docs/adr/0014-replay.md) stores the hidden states at the INPUT of decoder layer
k = lora.first_layer for a fixed window of the last W prompt tokens. LoRA adapts only layers >= k,
so layers < k are frozen and deterministic: a stored latent stays exactly what the current model
computes there, and layers k..end (the part that learns) can be replayed from it.

A window has no padding (short prompts are filled on the left with pad tokens that are attended
like any token), so every layer needs only a plain causal mask and positions 0..W-1; this is
what `scoring.answer_logits` computes for the same window tokens with an all-ones mask.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from adaptive_learner.adapters.errors import BackboneError
from adaptive_learner.adapters.hf import scoring


def windows(rows: Sequence[Sequence[int]], width: int, pad_id: int) -> torch.Tensor:
    """The last `width` tokens of each row [N, width]; short rows are filled on the left
    with pad_id."""
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        tail = list(row)[-width:]
        out[i, width - len(tail) :] = torch.tensor(tail, dtype=torch.long)
    return out


def _decoder(model):
    decoder = scoring.base_model(model).get_decoder()
    missing = [
        a for a in ("embed_tokens", "layers", "norm", "rotary_emb") if not hasattr(decoder, a)
    ]
    if missing:
        raise BackboneError(
            f"latent replay needs a Llama-style decoder; {type(decoder).__name__} has no {missing}"
        )
    return decoder


def _run_layers(decoder, hidden: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Decoder layers [start, stop) on a padding-free window, as the decoder's own forward
    calls them."""
    from transformers.masking_utils import create_causal_mask

    positions = torch.arange(hidden.shape[1], device=hidden.device)[None].expand(
        hidden.shape[0], -1
    )
    # positional: the fourth parameter (the KV cache, None here) is `past_key_values` up to
    # transformers 5.17 and `cache` in later 5.x releases (the GPU image has 5.17; the keyword
    # crashed there)
    mask = create_causal_mask(decoder.config, hidden, None, None, position_ids=positions)
    layer_types = getattr(decoder.config, "layer_types", None)
    # Gemma-3-style local/global RoPE
    per_type = "layer_type" in inspect.signature(decoder.rotary_emb.forward).parameters
    rotary = {}
    for i in range(start, stop):
        kind = layer_types[i] if per_type and layer_types else None
        if kind not in rotary:
            rotary[kind] = (
                decoder.rotary_emb(hidden, positions, kind)
                if kind
                else decoder.rotary_emb(hidden, positions)
            )
        out = decoder.layers[i](
            hidden, attention_mask=mask, position_embeddings=rotary[kind], position_ids=positions
        )
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def layer_input(model, window_ids: torch.Tensor, layer: int) -> torch.Tensor:
    """Hidden states [B, W, H] entering decoder layer `layer` for padding-free windows."""
    decoder = _decoder(model)
    return _run_layers(decoder, decoder.embed_tokens(window_ids), 0, layer)


def run_from(model, hidden: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layers `layer`..end, final norm and LM head at the last position: (logits [B, V],
    feature [B, H])."""
    decoder = _decoder(model)
    feature = decoder.norm(_run_layers(decoder, hidden, layer, len(decoder.layers))[:, -1])
    return scoring.base_model(model).get_output_embeddings()(feature).float(), feature


def check_exact(model, window_ids: torch.Tensor, layer: int, tolerance: float = 1e-3) -> None:
    """Refuse an architecture whose layers this module does not call the way its own
    forward does."""
    with torch.no_grad():
        replayed, _ = run_from(model, layer_input(model, window_ids, layer), layer)
        full = scoring.answer_logits(model, window_ids, torch.ones_like(window_ids))
    gap = (replayed - full).abs().max().item()
    if not gap <= tolerance * max(1.0, full.abs().max().item()):
        name = type(scoring.base_model(model)).__name__
        raise BackboneError(
            f"latent replay: running {name} from layer {layer} differs from its full forward by "
            f"{gap:.3g}; use replay='experience'"
        )


def fit_basis(latents: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of token latents [N, W, H]: mean [H] and an orthonormal basis [H, r], r <= rank."""
    flat = latents.reshape(-1, latents.shape[-1]).float()
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    return mean, vh[: min(rank, vh.shape[0])].T.contiguous()


def compress(latents: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Codes [N, W, r] in float16."""
    return ((latents.float() - mean.float()) @ basis.float()).half()


def decompress(
    codes: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    return (codes.float() @ basis.float().T + mean.float()).to(dtype)
