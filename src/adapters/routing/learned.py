"""Learned routers: softmax regression (`LinearRouter`) and a one-hidden-layer MLP (`MLPRouter`).

Both satisfy the `RouterModel` port. Inputs are standardised with the training set's mean and std,
then a small torch module maps them to one logit per key; training is full-batch Adam with an L2
penalty (`weight_decay`, coupled: with a few hundred examples in hundreds of dimensions the weights
must be held small or the router memorises them) for a fixed number of epochs, so a fit is a pure
function of (data, seed, options) and takes seconds on a CPU for the library's few thousand
examples. Nothing about the input is fixed in advance: the dimension comes from the data given to
`fit` and is stored with the weights. File format: docs/adr/0036.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from adaptive_learner.adapters.errors import RoutingError

SCHEMA_VERSION = 1
HEADER_FILE = "router.json"
WEIGHTS_FILE = "router.safetensors"
KINDS = ("linear", "mlp")


def _network(kind: str, input_dim: int, n_keys: int, hidden: int) -> torch.nn.Module:
    if kind == "linear":
        return torch.nn.Linear(input_dim, n_keys)
    return torch.nn.Sequential(
        torch.nn.Linear(input_dim, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, n_keys)
    )


def _matrix(features: Sequence[Sequence[float]], what: str) -> torch.Tensor:
    dims = {len(f) for f in features}
    if len(dims) > 1:
        raise RoutingError(f"{what} vectors have different dimensions: {sorted(dims)}")
    x = torch.tensor([list(f) for f in features], dtype=torch.float32)
    if not torch.isfinite(x).all():
        raise RoutingError(f"{what} vectors contain NaN or infinite values")
    return x


class LearnedRouter:
    """A `RouterModel` over plain float vectors: `kind` 'linear' (softmax regression) or 'mlp'.

    `base_model` names the backbone whose profiles it routes; a saved router only loads for
    the same one.
    """

    def __init__(
        self,
        kind: str,
        base_model: str,
        *,
        hidden: int = 128,
        epochs: int = 100,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.03,
    ) -> None:
        if kind not in KINDS:
            raise RoutingError(f"router kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind, self.base_model = kind, base_model
        self.options: dict[str, Any] = {
            "hidden": hidden,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
        }
        self.keys: tuple[str, ...] = ()
        self.input_dim: int | None = None
        self._net: torch.nn.Module | None = None
        self._mean = self._std = torch.zeros(0)

    def fit(
        self, features: Sequence[Sequence[float]], labels: list[str], seed: int = 0
    ) -> dict[str, float]:
        """Fit on (feature, key) pairs from scratch; the same data, seed and options give the
        same weights."""
        if not features or len(features) != len(labels):
            raise RoutingError(
                "a router needs as many labels as feature vectors, at least one: got "
                f"{len(features)} and {len(labels)}"
            )
        x = _matrix(features, "training")
        self.keys = tuple(sorted(set(labels)))
        index = {key: i for i, key in enumerate(self.keys)}
        y = torch.tensor([index[label] for label in labels])
        self.input_dim = x.shape[1]
        # a dimension constant over the training set carries no information: divided by inf, it
        # is 0 for every query too (a floor such as 1e-6 would blow a query's unseen value up to
        # 1e6 and let it decide the route)
        std = x.std(0, unbiased=False)
        self._mean, self._std = x.mean(0), torch.where(std > 1e-6, std, torch.inf)
        start = time.perf_counter()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # module init draws from the global generator; restored below
        try:
            self._net = _network(self.kind, self.input_dim, len(self.keys), self.options["hidden"])
        finally:
            torch.random.set_rng_state(generator_state)
        opt = torch.optim.Adam(
            self._net.parameters(),
            lr=self.options["learning_rate"],
            weight_decay=self.options["weight_decay"],
        )
        z = (x - self._mean) / self._std
        self._net.train()
        for _ in range(self.options["epochs"]):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._net(z), y)
            loss.backward()
            opt.step()
        self._net.eval()
        with torch.no_grad():
            accuracy = (self._net(z).argmax(1) == y).float().mean().item()
        return {
            "train_accuracy": accuracy,
            "final_loss": loss.item(),
            "epochs": float(self.options["epochs"]),
            "examples": float(len(labels)),
            "keys": float(len(self.keys)),
            "input_dim": float(self.input_dim),
            "seconds": time.perf_counter() - start,
        }

    def predict_proba(self, features: Sequence[Sequence[float]]) -> list[dict[str, float]]:
        """For each vector, a probability per known key (they sum to 1)."""
        if self._net is None:
            raise RoutingError(
                f"the {self.kind} router is not fitted or loaded: call fit() or load() first"
            )
        if not features:
            return []
        x = _matrix(features, "query")
        if x.shape[1] != self.input_dim:
            raise RoutingError(
                f"the {self.kind} router expects vectors of dimension {self.input_dim}, got "
                f"{x.shape[1]}"
            )
        with torch.no_grad():
            p = torch.softmax(self._net((x - self._mean) / self._std).double(), dim=1)
        return [dict(zip(self.keys, row, strict=True)) for row in p.tolist()]

    def save(self, folder: str | os.PathLike) -> None:
        """Write router.safetensors (weights, normalisation) and router.json (header), each
        atomically."""
        if self._net is None:
            raise RoutingError(f"the {self.kind} router is not fitted: nothing to save")
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        tensors = {f"net.{k}": v.detach().contiguous() for k, v in self._net.state_dict().items()}
        tensors |= {"norm.mean": self._mean.contiguous(), "norm.std": self._std.contiguous()}
        header = {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "base_model": self.base_model,
            "input_dim": self.input_dim,
            "keys": list(self.keys),
            "options": self.options,
            "weights": WEIGHTS_FILE,
            "normalisation": {"kind": "standardise", "mean": "norm.mean", "std": "norm.std"},
        }
        tmp = target / f".{WEIGHTS_FILE}.tmp"
        save_file(tensors, str(tmp))
        os.replace(tmp, target / WEIGHTS_FILE)
        tmp = target / f".{HEADER_FILE}.tmp"
        tmp.write_text(json.dumps(header, indent=2) + "\n")
        os.replace(tmp, target / HEADER_FILE)

    def restore(self, folder: str | os.PathLike) -> tuple[str, ...] | None:
        """Load the router saved under `folder` into this one; None when nothing is saved there.

        A saved router from another base model, schema version or router kind is a one-line error.
        Returns the keys it routes to, so the caller can tell whether it covers the tasks it needs.
        """
        if not (Path(folder) / HEADER_FILE).exists():
            return None
        saved = type(self).load(folder, self.base_model, kind=self.kind)
        self.options, self.keys, self.input_dim = saved.options, saved.keys, saved.input_dim
        self._net, self._mean, self._std = saved._net, saved._mean, saved._std
        return self.keys

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        base_model: str,
        input_dim: int | None = None,
        kind: str | None = None,
    ) -> LearnedRouter:
        """A router saved by `save`, checked against `base_model`, this code's schema version and
        (if given) `input_dim`, `kind`."""
        head_path, weights_path = Path(folder) / HEADER_FILE, Path(folder) / WEIGHTS_FILE
        try:
            header = json.loads(head_path.read_text())
        except (OSError, ValueError) as exc:
            raise RoutingError(
                f"{head_path}: cannot read the router header ({type(exc).__name__})"
            ) from None
        if header.get("schema_version") != SCHEMA_VERSION:
            raise RoutingError(
                f"{head_path}: schema_version {header.get('schema_version')!r}, this version reads "
                f"{SCHEMA_VERSION}"
            )
        if header.get("base_model") != base_model:
            raise RoutingError(
                f"{head_path}: base_model {header.get('base_model')!r} does not match the run's "
                f"{base_model!r}"
            )
        if header.get("kind") not in KINDS:
            raise RoutingError(
                f"{head_path}: kind {header.get('kind')!r} is not one of {', '.join(KINDS)}"
            )
        if kind is not None and header["kind"] != kind:
            raise RoutingError(
                f"{head_path}: kind {header['kind']!r} does not match the run's "
                f"routing.router_model {kind!r}"
            )
        if input_dim is not None and header.get("input_dim") != input_dim:
            raise RoutingError(
                f"{head_path}: input_dim {header.get('input_dim')!r} does not match the profiles' "
                f"dimension {input_dim}"
            )
        router = cls(header["kind"], base_model, **header.get("options", {}))
        try:
            tensors = load_file(str(weights_path))
            router.keys, router.input_dim = tuple(header["keys"]), int(header["input_dim"])
            router._mean, router._std = tensors.pop("norm.mean"), tensors.pop("norm.std")
            net = _network(
                router.kind, router.input_dim, len(router.keys), router.options["hidden"]
            )
            net.load_state_dict({k.removeprefix("net."): v for k, v in tensors.items()})
        except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise RoutingError(
                f"{weights_path}: does not fit {head_path.name} ({reason})"
            ) from None
        if router._mean.shape != (router.input_dim,):
            raise RoutingError(
                f"{weights_path}: normalisation has dimension {tuple(router._mean.shape)}, header "
                f"input_dim {router.input_dim}"
            )
        router._net = net.eval()
        return router


def LinearRouter(base_model: str, **options) -> LearnedRouter:  # the seed's name
    """Softmax regression over the standardised vector (options: epochs, learning_rate,
    weight_decay)."""
    return LearnedRouter("linear", base_model, **options)


def MLPRouter(base_model: str, **options) -> LearnedRouter:  # the seed's name
    """One hidden GELU layer (options: hidden, epochs, learning_rate, weight_decay)."""
    return LearnedRouter("mlp", base_model, **options)
