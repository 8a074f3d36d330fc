"""Interaction terms as sparse lists, and the one conversion between sparse and dense pair couplings.

:class:`Interactions` (the terms of one order: sites and couplings) is the neutral result type of
every layer that writes energies as sums of terms: the synthetic Hamiltonians, the effective
couplings of interpret/, the coupling figures of report/. Pair couplings have this sparse form and
the dense one of the trainable pairwise models (:mod:`boltzkit.models.pairwise`);
:func:`pairs_to_dense` and :func:`dense_to_pairs` convert exactly (docs/methods.md section 2.1).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["Interactions", "coalesce_terms", "pairs_to_dense", "dense_to_pairs"]


class Interactions(NamedTuple):
    """The terms of one interaction order.

    Attributes
    ----------
    indices : Tensor of shape (m, k), long
        Sites of each term (distinct within a row).
    values : Tensor of shape (m,)
        Coupling of each term (shape (m, q, q) for Potts pair couplings).
    """

    indices: Tensor
    values: Tensor


def coalesce_terms(indices: Tensor, values: Tensor, drop_below: float | None = None) -> Interactions:
    """Sort each term's sites, merge duplicated terms (summing their values), order terms.

    Parameters
    ----------
    indices : Tensor of shape (m, k)
    values : Tensor of shape (m,)
    drop_below : float, optional
        Drop terms with ``|value| <= drop_below`` after merging (e.g. 0.0 drops exact zeros).
    """
    k = indices.shape[1]
    if len(indices) == 0:
        return Interactions(indices.reshape(0, k).long(), values.reshape(0))
    rows = torch.sort(indices, dim=1).values
    unique, inverse = torch.unique(rows, dim=0, return_inverse=True)
    merged = torch.zeros(len(unique), dtype=values.dtype, device=values.device)
    merged.index_add_(0, inverse.to(values.device), values)
    if drop_below is not None:
        keep = merged.abs() > drop_below
        unique, merged = unique[keep.to(unique.device)], merged[keep]
    return Interactions(unique, merged)


def pairs_to_dense(pairs: Interactions, like: Tensor) -> Tensor:
    """Dense pair couplings of the N sites whose fields ``like`` ((N,) or (N, q)) give N, dtype, device.

    ``pairs``: indices (m, 2), values (m,) or (m, q, q) (J_ij(a, b)). Returns shape (N, N), symmetric,
    or (N, N, q, q) with J[j, i, b, a] = J[i, j, a, b]; zero diagonal (blocks); duplicates summed.
    """
    n = like.shape[0]
    dense = torch.zeros((n, n) + tuple(like.shape[1:]) * 2, dtype=like.dtype, device=like.device)
    if len(pairs.indices):
        i, j = pairs.indices[:, 0], pairs.indices[:, 1]
        values = pairs.values.to(dense)
        dense.index_put_((i, j), values, accumulate=True)
        dense.index_put_((j, i), values.transpose(1, 2) if values.ndim == 3 else values, accumulate=True)
    return dense


def dense_to_pairs(couplings: Tensor) -> Interactions:
    """The inverse of :func:`pairs_to_dense`: the pairs i < j of ``couplings`` ((N, N) or
    (N, N, q, q)) whose coupling (block) is not all zero, in row-major order, with their values
    (m,) or (m, q, q) read from the upper triangle."""
    n = couplings.shape[0]
    nonzero = couplings.reshape(n, n, -1).ne(0).any(-1)
    i, j = torch.triu(nonzero, 1).nonzero(as_tuple=True)
    return Interactions(torch.stack([i, j], 1), couplings[i, j])
