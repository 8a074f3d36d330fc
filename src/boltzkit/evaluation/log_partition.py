"""log Z of a model: exact enumeration for small models, AIS otherwise.

"auto" compares the cost of exact enumeration with :data:`EXACT_MAX_UNITS`: the number of terms is
2^min(N, H) for a binary RBM, min(q^N, 2^H) for a Potts RBM (enumerate the cheaper layer) and q^N
(2^N for Ising) for a pairwise model. Above it, models with an annealing path (``annealed``: the
RBMs) use AIS; pairwise models have none, so their log Z is then not computable here
(:class:`LogPartitionUnavailable`, a :class:`~boltzkit.errors.BoltzkitError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from boltzkit.errors import BoltzkitError
from boltzkit.sampling.ais import ais_log_partition

EXACT_MAX_UNITS = 22  # 2**22 configurations: a few seconds on 2 cores for MNIST-sized layers

__all__ = ["EXACT_MAX_UNITS", "LogPartition", "LogPartitionUnavailable", "enumeration_log2_size",
           "log_partition", "smallest_layer"]


class LogPartitionUnavailable(BoltzkitError):
    """log Z cannot be computed for this model with the requested method (too large to enumerate
    and no AIS path)."""


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


def enumeration_log2_size(model) -> float:
    """log2 of the number of terms of the exact sum over the cheaper layer.

    Binary units count 2 states, Potts units ``model.n_states`` (q) states, hidden units 2.
    """
    q = getattr(model, "n_states", 2)
    visible = model.n_visible * math.log2(q)
    if hasattr(model, "n_hidden"):
        return min(visible, float(model.n_hidden))
    return visible


def log_partition(model, method: str = "auto", n_chains: int = 1000, n_steps: int = 5000,
                  n_runs: int = 10, seed: int = 0, progress=None) -> LogPartition:
    """log Z by ``method`` "exact", "ais", or "auto" (exact when the cheaper layer has at most
    2**:data:`EXACT_MAX_UNITS` configurations, see :func:`enumeration_log2_size`; else AIS).

    Raises
    ------
    LogPartitionUnavailable
        "auto" on a model too large to enumerate with no annealing path (pairwise models), "ais"
        on a model without one, "exact" on a model too large to enumerate.
    """
    if method == "auto":
        small = enumeration_log2_size(model) <= EXACT_MAX_UNITS
        method = "exact" if small or not hasattr(model, "annealed") else "ais"
        if not small and method == "exact":
            raise LogPartitionUnavailable(
                f"log Z of the {model.kind} model with {_states_text(model)} configurations: too "
                f"many to enumerate (limit 2**{EXACT_MAX_UNITS}) and no AIS path for this model")
    if method == "exact":
        if not hasattr(model, "log_partition_exact"):
            raise LogPartitionUnavailable(f"no exact log Z for model kind {model.kind}")
        try:
            return LogPartition(model.log_partition_exact(), 0.0, "exact")
        except ValueError as e:
            raise LogPartitionUnavailable(str(e)) from None
    if method == "ais":
        if not hasattr(model, "annealed"):
            raise LogPartitionUnavailable(f"no AIS path for model kind {model.kind} "
                                          f"(AIS anneals the hidden-unit couplings of RBMs)")
        generator = torch.Generator(device=model.device).manual_seed(seed)
        r = ais_log_partition(model, n_chains, n_steps, n_runs, generator, progress)
        return LogPartition(r.log_z, r.error, "ais")
    raise BoltzkitError(f"unknown log Z method {method!r} (choose exact, ais, auto)")


def _states_text(model) -> str:
    q = getattr(model, "n_states", 2)
    return f"{q}**{model.n_visible}"
