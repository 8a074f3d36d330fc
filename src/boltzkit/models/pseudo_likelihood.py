"""Pseudo-likelihood objectives of the model families (Besag 1975; docs/methods.md section 5.1).

For a ±1 configuration s and a site i, with s^(i) the configuration with spin i flipped,

    log p(s_i | s_{\\i}) = -softplus(-ΔE_i),   ΔE_i = E(s^(i)) - E(s),

so the log pseudo-likelihood of any ±1 energy needs the N single-flip energy changes of every
sample, computed in one batched call: the model's own ``flip_energy_differences`` when it has the
:class:`~boltzkit.models.capabilities.SingleFlipEnergies` capability (closed form, or the
first-layer trick of the hybrid network), else the energy of a (M (N+1), N) batch of the samples
and their N flips. For Potts models the conditionals of every site and state come from one
``embedding_bag`` (:func:`potts_objective`). The solvers live in :mod:`boltzkit.training`.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.models.capabilities import SingleFlipEnergies
from boltzkit.models.statistics import normalised, weighted_mean

__all__ = ["flip_energy_differences", "pseudo_log_likelihood", "potts_objective", "merge_duplicates",
           "symmetric"]


def flip_energy_differences(model: Any, s: Tensor) -> Tensor:
    """ΔE_i = E(s^(i)) - E(s) for every sample and site, shape (M, N), of ±1 samples ``s`` (M, N)."""
    if isinstance(model, SingleFlipEnergies):
        return model.flip_energy_differences(s)
    m, n = s.shape
    flips = 1 - 2 * torch.eye(n, dtype=s.dtype, device=s.device)             # row i flips site i
    batch = torch.cat([s[:, None, :], s[:, None, :] * flips[None]], 1)        # (M, N+1, N)
    e = model.free_energy(batch.reshape(m * (n + 1), n)).view(m, n + 1)
    return e[:, 1:] - e[:, :1]


def pseudo_log_likelihood(model: Any, s: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean log pseudo-likelihood sum_i log p(s_i | s_{\\i}) of ±1 samples ``s`` (M, N).

    Parameters
    ----------
    model : an energy model on ±1 spins (``free_energy``, or ``flip_energy_differences``)
    s : Tensor of shape (M, N)
    weights : Tensor of shape (M,), optional
        Sample weights (normalised here).
    """
    log_cond = -F.softplus(-flip_energy_differences(model, s))                 # (M, N)
    return weighted_mean(log_cond, normalised(weights, log_cond)).sum()


def merge_duplicates(data: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct rows of ``data`` (M, L) with the summed weights of their copies."""
    unique, inverse = torch.unique(data, dim=0, return_inverse=True)
    merged = torch.zeros(len(unique), dtype=weights.dtype, device=weights.device)
    merged.index_add_(0, inverse.to(weights.device), weights)
    return unique, merged


def symmetric(raw: Tensor, mask: Tensor) -> Tensor:
    """(raw + raw^T) / 2 with the masked entries (self-couplings) set to zero."""
    return 0.5 * (raw + raw.T) * mask


def potts_objective(codes: Tensor, weights: Tensor, q: int) -> Callable[[Tensor, Tensor], Tensor]:
    """Negative weighted mean log pseudo-likelihood of codes (M, L) as a function of the fields
    (L, q) and the symmetric flattened couplings (L q, L q); ``weights`` sum to 1."""
    length = codes.shape[1]
    rows = codes + torch.arange(length, device=codes.device) * q  # row (j, s_j) of J_flat
    observed = codes.unsqueeze(-1)

    def objective(fields: Tensor, couplings_flat: Tensor) -> Tensor:
        # J_flat is symmetric, so row (j, s_j) holds J_ij(a, s_j) in column (i, a)
        local = F.embedding_bag(rows, couplings_flat, mode="sum").view(-1, length, q) + fields
        log_p = local.gather(-1, observed).squeeze(-1) - torch.logsumexp(local, -1)
        return -(weights @ log_p.sum(-1))

    return objective
