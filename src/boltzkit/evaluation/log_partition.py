"""log Z of a model: exact enumeration for small models, AIS otherwise.

"auto" compares the model's cost of exact enumeration
(:meth:`~boltzkit.models.capabilities.LogPartitionExact.enumeration_log2_size`: 2^min(N, H) terms for
a binary RBM, min(q^N, 2^H) for a Potts RBM, q^N for a pairwise model) with
:data:`EXACT_MAX_UNITS`. Above it, models with an annealing path
(:class:`~boltzkit.models.capabilities.AnnealingPath`: the RBMs, the pairwise models, the hybrid)
use AIS; the others have no
estimator here (:class:`LogPartitionUnavailable`, a :class:`~boltzkit.errors.BoltzkitError`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from boltzkit.errors import BoltzkitError
from boltzkit.models.capabilities import AnnealingPath, LogPartitionExact
from boltzkit.sampling.ais import ais_log_partition

EXACT_MAX_UNITS = 22  # 2**22 configurations: a few seconds on 2 cores for MNIST-sized layers

__all__ = ["EXACT_MAX_UNITS", "LogPartition", "LogPartitionUnavailable", "log_partition", "resolve_method"]


class LogPartitionUnavailable(BoltzkitError):
    """log Z cannot be computed for this model with the requested method (too large to enumerate
    and no AIS path)."""


@dataclass(frozen=True)
class LogPartition:
    """``value`` with its ``error`` (0 for exact) and the ``method`` that gave it."""

    value: float
    error: float
    method: str


def resolve_method(model, method: str = "auto") -> str:
    """The method ``log_partition(model, method)`` uses: "exact" or "ais" ("auto": exact when the
    cheaper layer has at most 2**:data:`EXACT_MAX_UNITS` configurations, the model's
    ``enumeration_log2_size``; else AIS).

    Raises
    ------
    LogPartitionUnavailable
        "auto" on a model too large to enumerate with no annealing path, "ais" on a model without
        one, "exact" on a model without exact enumeration.
    """
    exact, annealing = isinstance(model, LogPartitionExact), isinstance(model, AnnealingPath)
    if method == "auto":
        if not exact and not annealing:
            raise LogPartitionUnavailable(f"log Z of the {model.kind} family: it has neither an exact "
                                          "enumeration (LogPartitionExact) nor an AIS path (AnnealingPath)")
        small = exact and model.enumeration_log2_size() <= EXACT_MAX_UNITS
        if not small and not annealing:
            raise LogPartitionUnavailable(
                f"log Z of the {model.kind} model with {model.visible.n_states}**{model.n_visible} "
                f"configurations: too many to enumerate (limit 2**{EXACT_MAX_UNITS}) and no AIS path "
                "for this model")
        return "exact" if small else "ais"
    if method == "exact" and not exact:
        raise LogPartitionUnavailable(f"no exact log Z for the {model.kind} family (no "
                                      "LogPartitionExact capability)")
    if method == "ais" and not annealing:
        raise LogPartitionUnavailable(f"no AIS path for the {model.kind} family (no AnnealingPath "
                                      "capability)")
    if method not in ("exact", "ais"):
        raise BoltzkitError(f"unknown log Z method {method!r} (choose exact, ais, auto)")
    return method


def log_partition(model, method: str = "auto", n_chains: int = 1000, n_steps: int = 5000,
                  n_runs: int = 10, seed: int = 0, progress=None, base=None) -> LogPartition:
    """log Z by ``method`` "exact", "ais", or "auto" (:func:`resolve_method`); ``base``: the
    independent-site model AIS starts from (:func:`boltzkit.sampling.ais.ais_log_partition`).

    Raises
    ------
    LogPartitionUnavailable
        As :func:`resolve_method`, and "exact" on a model too large to enumerate.
    """
    method = resolve_method(model, method)
    if method == "exact":
        try:
            return LogPartition(model.log_partition_exact(), 0.0, "exact")
        except ValueError as e:
            raise LogPartitionUnavailable(str(e)) from None
    generator = torch.Generator(device=model.device).manual_seed(seed)
    r = ais_log_partition(model, n_chains, n_steps, n_runs, generator, progress, base=base)
    return LogPartition(r.log_z, r.error, "ais")
