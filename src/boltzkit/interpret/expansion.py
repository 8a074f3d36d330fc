"""What every couplings module of :mod:`boltzkit.interpret` shares: the result types, the choice of
index sets, the chunk size of the batched loops and the quadrature of the central-limit methods.

The expansions themselves live in :mod:`~boltzkit.interpret.energy_couplings` (any energy
function), :mod:`~boltzkit.interpret.rbm_couplings` (binary RBMs, any binary model) and
:mod:`~boltzkit.interpret.potts_couplings` (Potts RBMs, any q-state model); they all import from
here, and this module imports none of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.interactions import Interactions
from boltzkit.synthetic.hamiltonians import SpinHamiltonian

__all__ = ["MAX_EXACT_SITES", "MAX_INDEX_SETS", "GAUGES", "CHUNK_ELEMENTS", "EffectiveCouplings",
           "PottsCouplings", "Progress", "relative_gaps", "all_index_sets", "normalise_orders", "select_index_sets", "subset_masks",
           "site_terms", "rows_per_chunk", "chunks", "hermite_nodes", "zero_sum_center"]

#: Largest N accepted by exact enumeration (2^24 energies = 128 MB in float64).
MAX_EXACT_SITES = 24
#: Default cap on the number of index sets of one order (all C(N, k) of them by default).
MAX_INDEX_SETS = 5_000_000
GAUGES = ("ising", "lattice-gas")
#: A progress callback ``progress(done, total)`` of the couplings routines (the CLI draws it as a bar).
Progress = Callable[[int, int], None]
#: Elements of the largest temporary tensor built at once (bounds memory of every chunked loop).
CHUNK_ELEMENTS = 1 << 22


# ---------------------------------------------------------------------------- result objects
@dataclass(frozen=True)
class EffectiveCouplings:
    """Coefficients of the multilinear expansion of -E in one gauge.

    Attributes
    ----------
    fields : Tensor of shape (N,)
        H_j (Ising gauge) or K_j (lattice-gas gauge), float64.
    couplings : dict int -> Interactions
        ``couplings[k]`` = (indices (m_k, k) long, values (m_k,) float64) for the computed orders k >= 2.
    gauge : {"ising", "lattice-gas"}
        ``ising``: -E(s) = offset + sum H_j s_j + sum J_A s_A, s in {±1};
        ``lattice-gas``: -E(n) = offset + sum K_j n_j + sum K_B n_B, n in {0, 1}, n = (1+s)/2.
    method : str
        How they were obtained (exact, sampling, gaussian, cossu, moebius).
    standard_errors : dict int -> Tensor
        Monte Carlo standard errors (sampling method only): key 1 for the fields (N,), k for order k (m_k,).
    offset : float or None
        The constant term J_∅ (mean of -E under the uniform measure in the Ising gauge, -E(0) in the
        lattice-gas gauge) when computed.
    info : dict
        Anything else worth reporting (number of samples, quadrature nodes, ...).
    """

    fields: Tensor
    couplings: dict[int, Interactions]
    gauge: str = "ising"
    method: str = "exact"
    standard_errors: dict[int, Tensor] = field(default_factory=dict)
    offset: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return int(self.fields.shape[0])

    @property
    def orders(self) -> list[int]:
        """The computed interaction orders (k >= 2)."""
        return sorted(self.couplings)

    def pair_matrix(self) -> Tensor:
        """Dense pair couplings, shape (N, N), symmetric with zero diagonal (zero where not computed)."""
        return self.hamiltonian().pair_matrix()

    def hamiltonian(self) -> SpinHamiltonian:
        """The expansion as a :class:`~boltzkit.synthetic.hamiltonians.SpinHamiltonian` whose
        convention is the gauge (its energy equals the model's up to the offset, when every order is present)."""
        return SpinHamiltonian(self.fields, dict(self.couplings), self.gauge)


@dataclass(frozen=True)
class PottsCouplings:
    """Zero-sum-gauge fields and pair couplings of a q-state energy.

    Attributes
    ----------
    fields : Tensor of shape (N, q)
        h_i(a); every row sums to zero.
    couplings : Tensor of shape (N, N, q, q)
        J_ij(a, b), with J[j, i, b, a] = J[i, j, a, b], zero diagonal blocks, zero-sum in a and in b.
    method : str
    fields_error, couplings_error : Tensor or None
        Monte Carlo standard errors (sampling only), same shapes.
    terms : dict int -> Interactions
        Higher orders when computed: ``terms[k]`` = (indices (m, k), values (m, q, ..., q)), zero-sum
        in every state index.
    """

    fields: Tensor
    couplings: Tensor
    method: str = "exact"
    fields_error: Tensor | None = None
    couplings_error: Tensor | None = None
    terms: dict[int, Interactions] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return int(self.fields.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.fields.shape[1])

    def frobenius(self, skip_states: Sequence[int] = ()) -> Tensor:
        """||J_ij||_F over the states, shape (N, N); ``skip_states`` leaves states out (e.g. the gap, 0)."""
        keep = [a for a in range(self.n_states) if a not in set(skip_states)]
        j = self.couplings[:, :, keep][:, :, :, keep]
        return j.pow(2).sum((2, 3)).sqrt()


def relative_gaps(approx: EffectiveCouplings, reference: EffectiveCouplings) -> dict[int, float]:
    """Relative L2 gaps ||a - r|| / ||r|| of two expansions in the same gauge on the same index sets,
    per order (key 1: the fields; NaN where the reference terms are all zero)."""
    pairs = {1: (approx.fields, reference.fields)}
    pairs.update({k: (approx.couplings[k].values, reference.couplings[k].values)
                  for k in reference.couplings if k in approx.couplings})
    out = {}
    for k, (a, r) in pairs.items():
        norm = float(r.double().norm())
        out[k] = float((a.double() - r.double()).norm()) / norm if norm > 0 else math.nan
    return out


# ---------------------------------------------------------------------------- index sets
def all_index_sets(n_sites: int, order: int, max_sets: int = MAX_INDEX_SETS) -> Tensor:
    """Every k-subset of the sites in lexicographic order, shape (C(N, k), k), long."""
    if order < 1 or order > n_sites:
        raise BoltzkitError(f"interaction order {order} is outside 1..{n_sites}")
    count = math.comb(n_sites, order)
    if count > max_sets:
        raise BoltzkitError(f"order {order} has {count} index sets on {n_sites} sites (limit {max_sets}); "
                            "pass explicit index_sets")
    return torch.combinations(torch.arange(n_sites), order)


def normalise_orders(orders: int | Sequence[int]) -> list[int]:
    """An int n means the orders 2..n; a sequence is taken as is (order 1, the fields, is always computed)."""
    if isinstance(orders, int):
        orders = range(2, orders + 1)
    out = sorted({int(k) for k in orders if int(k) != 1})
    if any(k < 1 for k in out):
        raise BoltzkitError(f"interaction orders must be >= 2, got {list(orders)}")
    return out


def select_index_sets(n_sites: int, orders: list[int],
                      index_sets: Mapping[int, Any] | None) -> dict[int, Tensor]:
    """The index sets of every order of ``orders``: ``index_sets[k]`` (array of shape (m_k, k),
    checked) when given, else all k-subsets (:func:`all_index_sets`)."""
    sets = {}
    for k in orders:
        if index_sets is not None and k in index_sets:
            idx = torch.as_tensor(index_sets[k], dtype=torch.long).reshape(-1, k)
            if len(idx) and (idx.min() < 0 or idx.max() >= n_sites):
                raise BoltzkitError(f"order {k}: index sets must use sites 0..{n_sites - 1}")
            if k > 1 and len(idx) and bool((torch.sort(idx, 1).values.diff(dim=1) == 0).any()):
                raise BoltzkitError(f"order {k}: an index set repeats a site")
            sets[k] = idx
        else:
            sets[k] = all_index_sets(n_sites, k)
    return sets


def subset_masks(order: int) -> tuple[Tensor, Tensor]:
    """(2^k, k) 0/1 membership of every subset C of a k-set, and the Möbius signs (-1)^(k-|C|)."""
    members = (torch.arange(1 << order)[:, None] >> torch.arange(order)) & 1
    signs = (-1.0) ** (order - members.sum(1)).double()
    return members, signs


def site_terms(n_sites: int, orders: int | Sequence[int], index_sets: Mapping[int, Any] | None,
               values: Callable[[Tensor], Tensor]) -> tuple[Tensor, dict[int, Interactions]]:
    """The fields and couplings of an expansion from ``values``, which maps index sets of shape
    (m, k) to their coefficients, shape (m,): the fields (N,) are its values on the single sites,
    the couplings its values on the index sets of every order (:func:`normalise_orders`,
    :func:`select_index_sets`; checked before ``values`` is called)."""
    sets = select_index_sets(n_sites, normalise_orders(orders), index_sets)
    fields = values(torch.arange(n_sites)[:, None])
    return fields, {k: Interactions(idx, values(idx)) for k, idx in sets.items()}


# ---------------------------------------------------------------------------- numerics
def rows_per_chunk(per_row: int) -> int:
    """Rows of a batched loop whose rows hold ``per_row`` elements each (at least 1)."""
    return max(1, CHUNK_ELEMENTS // max(1, per_row))


def chunks(n_rows: int, size: int) -> Iterator[slice]:
    """The slices of rows 0..n_rows-1 taken ``size`` at a time (the last one shorter)."""
    return (slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size))


def hermite_nodes(n_quadrature: int) -> tuple[Tensor, Tensor]:
    """Nodes z and weights of E_{z ~ N(0,1)}[f(z)] ≈ sum_q w_q f(z_q) (probabilists' Gauss-Hermite)."""
    z, w = np.polynomial.hermite_e.hermegauss(n_quadrature)
    return torch.from_numpy(z), torch.from_numpy(w / np.sqrt(2 * np.pi))


def zero_sum_center(t: Tensor, n_axes: int) -> Tensor:
    """Centre the last ``n_axes`` axes one after the other: prod_k (1 - mean_k) t (double centring for 2)."""
    for axis in range(t.ndim - n_axes, t.ndim):
        t = t - t.mean(axis, keepdim=True)
    return t
