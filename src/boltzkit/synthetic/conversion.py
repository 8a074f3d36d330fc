"""Changes of parametrisation that leave the Boltzmann distribution unchanged.

Lattice gas <-> Ising, any interaction order (docs/methods.md sections 1.4 and 2.1). Write the negative
energies as multilinear polynomials,

    -E_lg(n) = sum_B K_B prod_{j in B} n_j        (n_j in {0, 1}; fields are the 1-subsets, K_i = mu_i)
    -E_is(s) = sum_A J_A prod_{j in A} s_j        (s_j in {-1, +1})

With n = (1 + s)/2, prod_{j in B} n_j = 2^-|B| sum_{A subset of B} prod_{j in A} s_j, hence

    J_A = sum_{B superset of A} 2^-|B| K_B,

and with s = 2n - 1, prod_{j in A} s_j = sum_{C subset of A} 2^|C| (-1)^(|A|-|C|) prod_{j in C} n_j, hence

    K_C = sum_{A superset of C} 2^|C| (-1)^(|A|-|C|) J_A.

For pair models this is J_ij = K_ij / 4 and h_i = mu_i / 2 + sum_j K_ij / 4 (+ a constant). The
empty-set coefficient is an energy offset, returned separately: E_lg(n(s)) = E_is(s) + offset.

Also :func:`potts_zero_sum_gauge` for pairwise Potts parameters.
"""

from __future__ import annotations

from itertools import combinations

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.gauge import zero_sum_gauge
from boltzkit.models.interactions import coalesce_terms
from boltzkit.synthetic.hamiltonians import SpinHamiltonian

__all__ = ["lattice_gas_to_ising", "ising_to_lattice_gas", "potts_zero_sum_gauge"]


def _expand(h: SpinHamiltonian, coefficient, convention: str, drop_below: float | None
            ) -> tuple[SpinHamiltonian, float]:
    """Re-expand every monomial on all subsets of its sites: a term of order k with value v adds
    ``coefficient(k, r) * v`` to the term on each r-subset of its sites."""
    by_order: dict[int, tuple[list[Tensor], list[Tensor]]] = {}
    # every monomial of -E, the fields as order 1
    terms = [(torch.arange(h.n_sites, device=h.fields.device)[:, None], h.fields)]
    for indices, values in terms + [(t.indices, t.values) for t in h.interactions.values() if len(t.indices)]:
        k = indices.shape[1]
        for r in range(k + 1):
            c = coefficient(k, r)
            for subset in combinations(range(k), r):
                rows, vals = by_order.setdefault(r, ([], []))
                rows.append(indices[:, list(subset)])
                vals.append(c * values)
    offset = -float(sum(v.sum() for v in by_order.pop(0, ([], []))[1]))
    rows, vals = by_order.pop(1)  # the fields give every monomial of order >= 1 a 1-subset
    fields = torch.zeros_like(h.fields).index_add_(0, torch.cat(rows)[:, 0], torch.cat(vals))
    inter = {r: coalesce_terms(torch.cat(rows), torch.cat(vals), drop_below)
             for r, (rows, vals) in sorted(by_order.items())}
    inter = {r: t for r, t in inter.items() if len(t.indices)}
    return SpinHamiltonian(fields, inter, convention), offset


def lattice_gas_to_ising(h: SpinHamiltonian, drop_below: float | None = 0.0) -> tuple[SpinHamiltonian, float]:
    """Ising parameters of a lattice-gas Hamiltonian (any order).

    Parameters
    ----------
    h : SpinHamiltonian with convention "lattice-gas"
        Occupation numbers n in {0,1}; a crystal field D n^2 = D n is folded into the fields.
    drop_below : float or None
        Drop resulting terms with ``|J| <= drop_below`` (default: exact zeros only).

    Returns
    -------
    ising : SpinHamiltonian with convention "ising"
    offset : float
        E_lg(n) = E_ising(s) + offset with n = (1 + s)/2, for every configuration.
    """
    if h.convention != "lattice-gas":
        raise BoltzkitError(f"expected a lattice-gas Hamiltonian, got convention {h.convention!r}")
    if h.crystal_field is not None:
        h = SpinHamiltonian(h.fields - h.crystal_field, h.interactions, "lattice-gas")
    return _expand(h, lambda k, r: 2.0 ** -k, "ising", drop_below)


def ising_to_lattice_gas(h: SpinHamiltonian, drop_below: float | None = 0.0) -> tuple[SpinHamiltonian, float]:
    """Lattice-gas parameters of an Ising Hamiltonian (any order); inverse of :func:`lattice_gas_to_ising`.

    Returns
    -------
    lattice_gas : SpinHamiltonian with convention "lattice-gas"
    offset : float
        E_ising(s) = E_lg(n) + offset with s = 2n - 1, for every configuration (a crystal field D s^2 = D
        is a constant and ends up in the offset).
    """
    if h.convention != "ising":
        raise BoltzkitError(f"expected an Ising Hamiltonian, got convention {h.convention!r}")
    result, offset = _expand(h, lambda k, r: 2.0 ** r * (-1.0) ** (k - r), "lattice-gas", drop_below)
    if h.crystal_field is not None:
        offset += float(h.crystal_field.sum())
    return result, offset


def potts_zero_sum_gauge(fields: Tensor, couplings: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise Potts parameters in the zero-sum gauge (same distribution, energy shifted by a constant).

    Parameters
    ----------
    fields : Tensor of shape (N, q)
    couplings : Tensor of shape (N, N, q, q)
        Symmetric (J[j, i, b, a] = J[i, j, a, b]) with zero diagonal blocks; -E = sum_i h_i(x_i) +
        sum_{i<j} J_ij(x_i, x_j).

    Returns
    -------
    fields, couplings
        J'_ij(a, b) = J_ij(a, b) - mean_a J_ij - mean_b J_ij + mean_ab J_ij, and fields receiving the
        removed single-site parts, then centred: every row/column of J' and every h'_i sums to zero
        (docs/methods.md section 1.5).
    """
    new_couplings, new_fields = zero_sum_gauge(couplings, fields)
    return new_fields, new_couplings
