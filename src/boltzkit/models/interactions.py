"""Interaction terms as sparse lists, and the one conversion between sparse and dense pair couplings.

An :class:`Interactions` holds the terms of one order k: the sites of each term and its coupling.
It is the neutral result type of every layer that writes energies as sums of terms (the synthetic
generators' Hamiltonians, the effective couplings of interpret/, the coupling figures of report/).

Pair couplings (k = 2) have a sparse form, terms (i, j) with value J_ij (a scalar for ±1 / 0-1
spins, a q x q matrix J_ij(a, b) for Potts sites), and the dense form the trainable pairwise models
keep (:mod:`boltzkit.models.pairwise`): a symmetric (N, N) matrix, or an (N, N, q, q) tensor with
J[j, i, b, a] = J[i, j, a, b], zero on the diagonal (blocks). :func:`pairs_to_dense` and
:func:`dense_to_pairs` go from one to the other exactly (docs/methods.md section 2.1): duplicated
terms are summed, the dense form lists each coupled pair once, i < j, with its J_ij.
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
    """Dense symmetric pair couplings of N sites whose fields are ``like`` ((N,) or (N, q)).

    Parameters
    ----------
    pairs : Interactions of order 2: indices (m, 2), values (m,) or (m, q, q) (J_ij(a, b))
    like : Tensor of shape (N,) or (N, q)
        The fields; they give N and the dtype and device of the result.

    Returns
    -------
    Tensor of shape (N, N), symmetric, or (N, N, q, q) with J[j, i, b, a] = J[i, j, a, b]; zero
    diagonal (blocks); duplicated pairs are summed.
    """
    n = like.shape[0]
    dense = torch.zeros((n, n) + tuple(like.shape[1:]) * 2, dtype=like.dtype, device=like.device)
    if len(pairs.indices):
        i, j = pairs.indices[:, 0], pairs.indices[:, 1]
        values = pairs.values
        dense.index_put_((i, j), values, accumulate=True)
        dense.index_put_((j, i), values.transpose(1, 2) if values.ndim == 3 else values, accumulate=True)
    return dense


def dense_to_pairs(couplings: Tensor) -> Interactions:
    """The coupled pairs of dense couplings (the inverse of :func:`pairs_to_dense`).

    Parameters
    ----------
    couplings : Tensor of shape (N, N) or (N, N, q, q), symmetric as in :func:`pairs_to_dense`

    Returns
    -------
    Interactions
        The pairs i < j whose coupling (block) is not all zero, in row-major order: indices (m, 2),
        values (m,) or (m, q, q) read from the upper triangle.
    """
    n = couplings.shape[0]
    nonzero = couplings.reshape(n, n, -1).ne(0).any(-1)
    i, j = torch.triu(nonzero, 1).nonzero(as_tuple=True)
    return Interactions(torch.stack([i, j], 1), couplings[i, j])
