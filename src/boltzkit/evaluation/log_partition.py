"""log Z of a model: exact enumeration for small models, AIS otherwise."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from boltzkit.errors import BoltzkitError
from boltzkit.sampling.ais import ais_log_partition

EXACT_MAX_UNITS = 22  # 2**22 configurations: a few seconds on 2 cores for MNIST-sized layers


@dataclass(frozen=True)
class LogPartition:
    """``value`` with its ``error`` (0 for exact) and the ``method`` that gave it."""

    value: float
    error: float
    method: str


def smallest_layer(model) -> int:
    if hasattr(model, "n_hidden"):
        return min(model.n_visible, model.n_hidden)
    return model.n_visible


def log_partition(model, method: str = "auto", n_chains: int = 1000, n_steps: int = 5000,
                  n_runs: int = 10, seed: int = 0, progress=None) -> LogPartition:
    """log Z by ``method`` "exact", "ais", or "auto" (exact when a layer has at most
    :data:`EXACT_MAX_UNITS` units)."""
    if method == "auto":
        method = "exact" if smallest_layer(model) <= EXACT_MAX_UNITS else "ais"
    if method == "exact":
        if not hasattr(model, "log_partition_exact"):
            raise BoltzkitError(f"no exact log Z for model kind {model.kind}")
        try:
            return LogPartition(model.log_partition_exact(), 0.0, "exact")
        except ValueError as e:
            raise BoltzkitError(str(e)) from None
    if method == "ais":
        generator = torch.Generator(device=model.device).manual_seed(seed)
        r = ais_log_partition(model, n_chains, n_steps, n_runs, generator, progress)
        return LogPartition(r.log_z, r.error, "ais")
    raise BoltzkitError(f"unknown log Z method {method!r} (choose exact, ais, auto)")
