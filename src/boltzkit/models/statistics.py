"""Weighted means, the sufficient statistics of pairwise models and the convergence measure of
Boltzmann learning (bmDCA): neutral types and kernels shared by the models, the trainer and
evaluation."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["PairwiseStatistics", "correlation_pearson", "normalised", "weighted_mean"]


def normalised(weights: Tensor | None, like: Tensor) -> Tensor | None:
    """Row weights in the dtype and on the device of ``like``, summing to 1 (None stays None:
    uniform)."""
    if weights is None:
        return None
    w = weights.to(like.device, like.dtype)
    return w / w.sum()


def weighted_mean(x: Tensor, w: Tensor | None) -> Tensor:
    """Mean of the rows of x, shape x.shape[1:], with normalised weights w (None: uniform)."""
    return x.mean(0) if w is None else w @ x


class PairwiseStatistics(NamedTuple):
    """Sufficient statistics of a pairwise model, weighted averages over a set of configurations.

    Potts: ``fields`` f_i(a) (L, q), ``couplings`` f_ij(a, b) (L, L, q, q) (diagonal blocks diag f_i).
    Ising: ``fields`` <s_i> (N,), ``couplings`` <s_i s_j> (N, N) (diagonal 1).
    """

    fields: Tensor
    couplings: Tensor


def correlation_pearson(target: PairwiseStatistics, model: PairwiseStatistics) -> float:
    """Pearson r between the connected correlations of two sets of statistics, the convergence
    measure of bmDCA (as adabmDCA's ``get_correlation_two_points``).

    Potts: C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b) over all i < j and all q^2 pairs of states (gap
    included); Ising: C_ij = <s_i s_j> - <s_i><s_j> over i < j. Computed in float64.
    """
    length = target.fields.shape[0]
    iu = torch.triu_indices(length, length, 1, device=target.fields.device)
    pieces = []
    for stats in (target, model):
        f, fij = stats.fields.double(), stats.couplings.double()
        if f.ndim == 2:
            c = fij[iu[0], iu[1]] - f[iu[0], :, None] * f[iu[1], None, :]
        else:
            c = fij[iu[0], iu[1]] - f[iu[0]] * f[iu[1]]
        pieces.append(c.reshape(-1))
    return float(torch.corrcoef(torch.stack(pieces))[0, 1])
