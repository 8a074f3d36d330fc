"""Effective couplings of *any* energy function: its Walsh (Ising gauge) and Möbius (lattice-gas
gauge) expansion coefficients.

Every function on {±1}^N is a multilinear polynomial (the generalized Ising model, GIM)::

    -E(s) = J_0 + sum_j H_j s_j + sum_{j<k} J_jk s_j s_k + sum_{j<k<l} J_jkl s_j s_k s_l + ...

and since the monomials s_A = prod_{j in A} s_j are orthonormal under the uniform measure U,

    J_A = - <E(s) s_A>_U = - 2^-N sum_s E(s) s_A                    (METHODS.md 1.2, 5.1)

This module computes J_A

* ``method="exact"``: by enumerating the 2^N configurations once and taking a fast Walsh-Hadamard
  transform of the energy vector, which yields *every* coefficient, all orders at once, in
  O(N 2^N) (N <= :data:`MAX_EXACT_SITES`);
* ``method="sampling"``: from K uniform configurations (Feinauer & Lucibello, arXiv:2012.06625):
  Ĵ_A = -1/(K-1) sum_k (E(s^k) - Ē) s^k_A. Subtracting the sample mean Ē is a control variate: the
  constant part of E (the largest, J_0) no longer adds variance. The 1/(K-1) makes the estimate
  unbiased despite Ē being computed from the same draws. The standard error of each coupling is
  sqrt((<(E-Ē)^2> - <(E-Ē) s_A>^2) / (K-1)): it shrinks like 1/sqrt(K).

In the lattice-gas gauge (occupations n = (1+s)/2 in {0,1}), -E(n) = sum_B K_B prod_{j in B} n_j and
the coefficients are local and exact for any N (Möbius inversion, METHODS.md 1.4):

    K_B = sum_{C subset of B} (-1)^{|B|-|C|} (-E(1_C)),

with 1_C the configuration occupied exactly on C; :func:`lattice_gas_couplings` evaluates it with
2^|B| energies per coupling. Ising and lattice-gas coefficients are related through *all* higher
orders: J_A = sum_{B ⊇ A} 2^-|B| K_B (see :mod:`boltzkit.synthetic.conversion`).

For q-state (Potts) variables, :func:`potts_energy_couplings` gives the zero-sum-gauge fields and
pair couplings of any energy of integer codes (METHODS.md 1.5 and 5.1).

Every routine takes a plain callable ``energy(x) -> (batch,)``, so it applies to RBMs, hybrid
models, or the true Hamiltonian of a synthetic data set alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.synthetic.hamiltonians import Interactions, SpinHamiltonian

__all__ = [
    "MAX_EXACT_SITES",
    "GAUGES",
    "EffectiveCouplings",
    "PottsCouplings",
    "all_index_sets",
    "spin_configurations",
    "walsh_hadamard",
    "energy_couplings",
    "lattice_gas_couplings",
    "potts_energy_couplings",
    "potts_energy_tensor",
    "potts_exact_terms",
    "model_couplings",
]

#: Largest N accepted by exact enumeration (2^24 energies = 128 MB in float64).
MAX_EXACT_SITES = 24
#: Default cap on the number of index sets of one order (all C(N, k) of them by default).
MAX_INDEX_SETS = 5_000_000
GAUGES = ("ising", "lattice-gas")
#: Elements of the largest temporary tensor built at once (bounds memory of every chunked loop).
_CHUNK_ELEMENTS = 1 << 22

Energy = Callable[[Tensor], Tensor]


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

    def to_ground_truth(self, parameters: Mapping[str, Any] | None = None):
        """As a :class:`~boltzkit.synthetic.io.GroundTruth` (beta = 1, already scaled), the object
        reconstruction errors are computed against."""
        from boltzkit.synthetic.io import GroundTruth

        return GroundTruth(self.fields, {k: (t.indices, t.values) for k, t in self.couplings.items()},
                           1.0, self.gauge, True, None, 2, dict(parameters or {}))


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


# ---------------------------------------------------------------------------- helpers
def all_index_sets(n_sites: int, order: int, max_sets: int = MAX_INDEX_SETS) -> Tensor:
    """Every k-subset of the sites in lexicographic order, shape (C(N, k), k), long."""
    if order < 1 or order > n_sites:
        raise BoltzkitError(f"interaction order {order} is outside 1..{n_sites}")
    count = math.comb(n_sites, order)
    if count > max_sets:
        raise BoltzkitError(f"order {order} has {count} index sets on {n_sites} sites (limit {max_sets}); "
                            "pass explicit index_sets")
    if order == 1:
        return torch.arange(n_sites)[:, None]
    return torch.combinations(torch.arange(n_sites), order)


def _normalise_orders(orders: int | Sequence[int]) -> list[int]:
    """An int n means the orders 2..n; a sequence is taken as is (order 1, the fields, is always computed)."""
    if isinstance(orders, int):
        orders = range(2, orders + 1)
    out = sorted({int(k) for k in orders if int(k) != 1})
    if any(k < 1 for k in out):
        raise BoltzkitError(f"interaction orders must be >= 2, got {list(orders)}")
    return out


def _index_sets(n_sites: int, orders: list[int], index_sets: Mapping[int, Any] | None) -> dict[int, Tensor]:
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


def spin_configurations(n_sites: int, start: int = 0, stop: int | None = None,
                        dtype: torch.dtype = torch.float64) -> Tensor:
    """Configurations ``start..stop-1`` of the Walsh ordering, shape (stop-start, N), values ±1.

    Configuration k has s_i = +1 where bit i of k (bit 0 = site 0) is 0 and -1 where it is 1, so
    that the Walsh-Hadamard matrix entry (-1)^popcount(a & k) equals the monomial s_A(k) of the
    site set A whose bit mask is a.
    """
    stop = (1 << n_sites) if stop is None else stop
    codes = torch.arange(start, stop)
    bits = (codes[:, None] >> torch.arange(n_sites)) & 1
    return (1 - 2 * bits).to(dtype)


def walsh_hadamard(values: Tensor) -> Tensor:
    """Unnormalised fast Walsh-Hadamard transform of a vector of length 2^N:
    out[a] = sum_k (-1)^popcount(a & k) values[k], in N vectorised passes."""
    total = values.numel()
    n = total.bit_length() - 1
    if total != 1 << n:
        raise ValueError(f"length {total} is not a power of 2")
    x = values.reshape(-1).clone()
    for i in range(n):
        pairs = x.view(-1, 2, 1 << i)
        low = pairs[:, 0].clone()
        pairs[:, 0] += pairs[:, 1]
        pairs[:, 1].neg_().add_(low)
    return x.reshape(-1)


def _as_units(s: Tensor, units: str) -> Tensor:
    """Map ±1 spins to the values the energy function expects."""
    if units == "spin":
        return s
    if units == "bernoulli":
        return (1 + s) / 2
    raise BoltzkitError(f"unknown visible units {units!r} (spin or bernoulli)")


def _evaluate(energy: Energy, x: Tensor, dtype: torch.dtype | None, device) -> Tensor:
    with torch.no_grad():
        e = energy(x.to(device=device, dtype=dtype or x.dtype))
    return e.detach().to("cpu", torch.float64).reshape(-1)


def _chunk(n_sites: int, per_row: int = 1) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, n_sites * per_row))


# ---------------------------------------------------------------------------- Ising gauge
def energy_couplings(energy: Energy, n_sites: int, orders: int | Sequence[int] = 2, method: str = "exact",
                     index_sets: Mapping[int, Any] | None = None, n_samples: int = 100_000,
                     generator: torch.Generator | None = None, units: str = "spin",
                     dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                     chunk_size: int | None = None) -> EffectiveCouplings:
    """Ising-gauge (Walsh) couplings of any energy function.

    Parameters
    ----------
    energy : callable
        ``energy(x)`` with x of shape (batch, N) returns shape (batch,). Evaluated without gradients.
    n_sites : int
    orders : int or sequence of int
        Interaction orders beyond the fields (always computed); an int n means 2..n.
    method : {"exact", "sampling"}
        Enumeration + fast Walsh-Hadamard transform (N <= 24), or K uniform samples with the
        control variate and standard errors.
    index_sets : mapping int -> array of shape (m_k, k), optional
        Which k-subsets to compute (default: all of them).
    n_samples : int
        K for ``sampling``.
    generator : torch.Generator, optional
        Source of the uniform samples (CPU).
    units : {"spin", "bernoulli"}
        Values ``energy`` expects: ±1, or {0, 1} occupations n = (1+s)/2 (the couplings are still
        those of the ±1 variables s).
    dtype, device
        Passed to ``energy``'s input (default: float64 on CPU).

    Returns
    -------
    EffectiveCouplings in the Ising gauge; ``standard_errors`` filled for ``sampling``.
    """
    orders = _normalise_orders(orders)
    sets = _index_sets(n_sites, orders, index_sets)
    if method == "exact":
        return _exact_walsh(energy, n_sites, sets, units, dtype, device, chunk_size)
    if method == "sampling":
        if n_samples < 2:
            raise BoltzkitError("sampling needs at least 2 samples")
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        return _sampled_walsh(energy, n_sites, sets, n_samples, gen, units, dtype, device, chunk_size)
    raise BoltzkitError(f"unknown method {method!r} for an energy function (exact or sampling)")


def energy_vector(energy: Energy, n_sites: int, units: str = "spin", dtype: torch.dtype | None = None,
                  device: torch.device | str = "cpu", chunk_size: int | None = None) -> Tensor:
    """E on every configuration of the Walsh ordering (:func:`spin_configurations`), shape (2^N,), float64."""
    if n_sites > MAX_EXACT_SITES:
        raise BoltzkitError(f"exact enumeration needs N <= {MAX_EXACT_SITES} sites (got {n_sites}); "
                            "use the sampling (or, for an RBM, gaussian) method")
    total = 1 << n_sites
    # Blocks of 2^low consecutive configurations share their high bits: the low part is one table
    # built once, the high part one broadcast row per block (building every row from its code is
    # slower than evaluating the energy).
    low = min(n_sites, max(0, (chunk_size or _chunk(n_sites)).bit_length() - 1))
    out = torch.empty(total, dtype=torch.float64)
    block = torch.empty(1 << low, n_sites, dtype=dtype or torch.float64, device=device)
    block[:, :low] = _as_units(spin_configurations(low), units)
    for start in range(0, total, 1 << low):
        high = spin_configurations(n_sites - low, start >> low, (start >> low) + 1)
        block[:, low:] = _as_units(high, units)
        out[start:start + (1 << low)] = _evaluate(energy, block, dtype, device)
    return out


def walsh_coefficients(energies: Tensor) -> Tensor:
    """All 2^N Ising-gauge coefficients J_A = -2^-N sum_s E(s) s_A from the energy vector of
    :func:`energy_vector`; entry a is the set whose bit mask is a (entry 0 is the offset)."""
    return -walsh_hadamard(energies) / energies.numel()


def _masks(idx: Tensor) -> Tensor:
    return (1 << idx).sum(-1)


def _exact_walsh(energy, n_sites, sets, units, dtype, device, chunk_size) -> EffectiveCouplings:
    coeffs = walsh_coefficients(energy_vector(energy, n_sites, units, dtype, device, chunk_size))
    fields = coeffs[1 << torch.arange(n_sites)]
    couplings = {k: Interactions(idx, coeffs[_masks(idx)]) for k, idx in sets.items()}
    return EffectiveCouplings(fields, couplings, "ising", "exact", offset=float(coeffs[0]),
                              info={"n_configurations": 1 << n_sites})


def _sampled_walsh(energy, n_sites, sets, n_samples, generator, units, dtype, device,
                   chunk_size) -> EffectiveCouplings:
    chunk = chunk_size or _chunk(n_sites)

    def spins(count: int) -> Tensor:
        return (1 - 2 * torch.randint(0, 2, (count, n_sites), generator=generator)).to(torch.float64)

    # Pass 1: energies only. Pass 2 regenerates the same spins from the saved generator state, so
    # memory stays O(chunk * N) whatever K is.
    state = generator.get_state()
    energies = torch.empty(n_samples, dtype=torch.float64)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        energies[start:stop] = _evaluate(energy, _as_units(spins(stop - start), units), dtype, device)
    mean = energies.mean()
    e = energies - mean  # the control variate
    generator.set_state(state)
    sums = {1: torch.zeros(n_sites, dtype=torch.float64)}
    dense_pairs = 2 in sets and len(sets[2]) == n_sites * (n_sites - 1) // 2
    for k, idx in sets.items():
        sums[k] = torch.zeros(n_sites, n_sites, dtype=torch.float64) if (k == 2 and dense_pairs) else \
            torch.zeros(len(idx), dtype=torch.float64)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        s, ec = spins(stop - start), e[start:stop]
        sums[1] += ec @ s
        for k, idx in sets.items():
            if k == 2 and dense_pairs:
                sums[2] += (s * ec[:, None]).T @ s
                continue
            rows = max(1, _CHUNK_ELEMENTS // max(1, len(s) * k))
            for r0 in range(0, len(idx), rows):
                sub = idx[r0:r0 + rows]
                sums[k][r0:r0 + rows] += ec @ s[:, sub].prod(-1)
    if dense_pairs:
        i, j = sets[2][:, 0], sets[2][:, 1]
        sums[2] = sums[2][i, j]
    second = (e * e).mean()

    def estimate(total: Tensor) -> tuple[Tensor, Tensor]:
        value = -total / (n_samples - 1)
        first = total / n_samples
        error = ((second - first * first).clamp_min(0) / (n_samples - 1)).sqrt()
        return value, error

    fields, fields_error = estimate(sums[1])
    couplings, errors = {}, {1: fields_error}
    for k, idx in sets.items():
        couplings[k], errors[k] = estimate(sums[k])
        couplings[k] = Interactions(idx, couplings[k])
    return EffectiveCouplings(fields, couplings, "ising", "sampling", errors, offset=float(-mean),
                              info={"n_samples": n_samples,
                                    "energy_variance": float(second)})


# ---------------------------------------------------------------------------- lattice-gas gauge
def _subset_masks(order: int) -> tuple[Tensor, Tensor]:
    """(2^k, k) 0/1 membership of every subset C of a k-set, and the Möbius signs (-1)^(k-|C|)."""
    members = (torch.arange(1 << order)[:, None] >> torch.arange(order)) & 1
    signs = (-1.0) ** (order - members.sum(1)).double()
    return members, signs


def lattice_gas_couplings(energy: Energy, n_sites: int, orders: int | Sequence[int] = 2,
                          index_sets: Mapping[int, Any] | None = None, units: str = "bernoulli",
                          dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
                          ) -> EffectiveCouplings:
    """Lattice-gas-gauge couplings K_B of any energy, exact for any N (Möbius inversion, METHODS.md 1.4).

    K_B = sum_{C ⊆ B} (-1)^{|B|-|C|} (-E(1_C)) with 1_C occupied (n = 1, i.e. s = +1) exactly on C.
    Cost: 2^|B| energy evaluations per coupling.

    Parameters
    ----------
    energy : callable, ``energy(x)`` -> (batch,)
    units : {"bernoulli", "spin"}
        Values ``energy`` expects ({0, 1} or ±1 with s = 2n - 1).

    Returns
    -------
    EffectiveCouplings in the lattice-gas gauge (fields are K_j, offset is -E(0)).
    """
    orders = _normalise_orders(orders)
    sets = _index_sets(n_sites, orders, index_sets)
    sets_all = {1: torch.arange(n_sites)[:, None], **sets}
    empty = torch.zeros(1, n_sites, dtype=torch.float64)
    e0 = _evaluate(energy, _as_units(2 * empty - 1, units), dtype, device)[0]
    results = {}
    for k, idx in sets_all.items():
        members, signs = _subset_masks(k)
        values = torch.empty(len(idx), dtype=torch.float64)
        rows = max(1, _chunk(n_sites, 1 << k))
        for r0 in range(0, len(idx), rows):
            sub = idx[r0:r0 + rows]
            n = torch.zeros(len(sub), 1 << k, n_sites, dtype=torch.float64)
            # occupy, for every subset C (a row of members), the sites of C
            n.scatter_(2, sub[:, None, :].expand(-1, 1 << k, -1), members[None].expand(len(sub), -1, -1).double())
            e = _evaluate(energy, _as_units(2 * n.reshape(-1, n_sites) - 1, units), dtype, device)
            values[r0:r0 + rows] = -(e.view(len(sub), 1 << k) - e0) @ signs
        results[k] = values
    fields = results.pop(1)
    couplings = {k: Interactions(sets[k], v) for k, v in results.items()}
    return EffectiveCouplings(fields, couplings, "lattice-gas", "moebius", offset=float(-e0))


# ---------------------------------------------------------------------------- Potts
def potts_energy_couplings(energy: Energy, n_sites: int, n_states: int, method: str = "exact",
                           n_samples: int = 100_000, generator: torch.Generator | None = None,
                           dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                           chunk_size: int | None = None) -> PottsCouplings:
    """Zero-sum fields and pair couplings of any energy of q-state codes (METHODS.md 1.5, 5.1).

    Under the uniform measure U over {0..q-1}^N,

        h_i(a)    = -(<E | x_i=a> - <E>)
        J_ij(a,b) = -(<E | x_i=a, x_j=b> - <E | x_i=a> - <E | x_j=b> + <E>),

    computed as J_ij(a,b) = -q^2 <(E - <E>) c_ia c_jb>_U with the centred indicators
    c_ia = δ(x_i, a) - 1/q (the double centring is then automatic, and the estimate zero-sum exactly).

    Parameters
    ----------
    energy : callable
        ``energy(x)`` with x of shape (batch, N), long codes 0..q-1, returns shape (batch,).
    method : {"exact", "sampling"}
        Enumeration of q^N configurations, or K uniform draws (with the control variate Ē and
        standard errors).
    """
    q = n_states
    if method == "exact":
        total = q ** n_sites
        if total > 1 << MAX_EXACT_SITES:
            raise BoltzkitError(f"exact enumeration of {q}^{n_sites} configurations is too large; "
                                "use method='sampling'")
        count, denominator = total, float(total)
    elif method == "sampling":
        if n_samples < 2:
            raise BoltzkitError("sampling needs at least 2 samples")
        count, denominator = n_samples, float(n_samples - 1)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
    else:
        raise BoltzkitError(f"unknown method {method!r} (exact or sampling)")
    chunk = chunk_size or max(1, _CHUNK_ELEMENTS // max(1, n_sites * q * 4))
    place = q ** torch.arange(n_sites - 1, -1, -1)

    def codes(start: int, stop: int) -> Tensor:
        if method == "exact":
            return (torch.arange(start, stop)[:, None] // place) % q
        return torch.randint(0, q, (stop - start, n_sites), generator=generator)

    state = generator.get_state() if method == "sampling" else None
    energies = torch.empty(count, dtype=torch.float64)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        x = codes(start, stop).to(device)
        with torch.no_grad():
            energies[start:stop] = energy(x).detach().to("cpu", torch.float64).reshape(-1)
    e = energies - energies.mean()
    if state is not None:
        generator.set_state(state)
    nq = n_sites * q
    s1 = torch.zeros(nq, dtype=torch.float64)
    s2 = torch.zeros(nq, nq, dtype=torch.float64)
    sq1 = torch.zeros(nq, dtype=torch.float64) if method == "sampling" else None
    sq2 = torch.zeros(nq, nq, dtype=torch.float64) if method == "sampling" else None
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        c = torch.nn.functional.one_hot(codes(start, stop), q).double().reshape(stop - start, nq) - 1.0 / q
        ec = e[start:stop]
        s1 += ec @ c
        s2 += (c * ec[:, None]).T @ c
        if sq1 is not None:
            e2, c2 = ec * ec, c * c
            sq1 += e2 @ c2
            sq2 += (c2 * e2[:, None]).T @ c2
    fields = (-q * s1 / denominator).view(n_sites, q)
    couplings = (-q * q * s2 / denominator).view(n_sites, q, n_sites, q).permute(0, 2, 1, 3).contiguous()
    diag = torch.arange(n_sites)
    couplings[diag, diag] = 0.0
    fields_error = couplings_error = None
    if sq1 is not None:
        k = n_samples
        var1 = (q * q * sq1 / k - (q * s1 / k) ** 2).clamp_min(0)
        var2 = (q ** 4 * sq2 / k - (q * q * s2 / k) ** 2).clamp_min(0)
        fields_error = (var1 / (k - 1)).sqrt().view(n_sites, q)
        couplings_error = (var2 / (k - 1)).sqrt().view(n_sites, q, n_sites, q).permute(0, 2, 1, 3).contiguous()
        couplings_error[diag, diag] = 0.0
    return PottsCouplings(fields, couplings, method, fields_error, couplings_error)


def potts_energy_tensor(energy: Energy, n_sites: int, n_states: int, device: torch.device | str = "cpu",
                        chunk_size: int | None = None) -> Tensor:
    """E on all q^N configurations, shape (q,)*N (axis i = state of site i), float64.

    ``energy`` takes long codes of shape (batch, N) and returns shape (batch,)."""
    q = n_states
    total = q ** n_sites
    if total > 1 << MAX_EXACT_SITES:
        raise BoltzkitError(f"exact enumeration of {q}^{n_sites} configurations is too large; "
                            "use the gaussian (Potts RBM) or sampling method")
    chunk = chunk_size or max(1, _CHUNK_ELEMENTS // max(1, n_sites * q * 4))
    place = q ** torch.arange(n_sites - 1, -1, -1)   # site 0 is the most significant digit
    out = torch.empty(total, dtype=torch.float64)
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        x = ((torch.arange(start, stop)[:, None] // place) % q).to(device)
        with torch.no_grad():
            e = energy(x)
        out[start:stop] = e.detach().to("cpu", torch.float64).reshape(-1)
    return out.view((q,) * n_sites)


def potts_exact_terms(energies: Tensor, index_sets: Tensor) -> Tensor:
    """Zero-sum-gauge n-body Potts couplings of an enumerated energy, exactly.

    For a site set A (sorted), J_A(a_1..a_n) = prod_k (1 - mean over a_k) (-<E | x_A = a>_U): the
    n-fold centring of the conditional mean of -E under the uniform measure (the ANOVA term of A).

    Parameters
    ----------
    energies : Tensor of shape (q,)*N, from :func:`potts_energy_tensor`
    index_sets : Tensor of shape (m, n), long, sites of each set (sorted within a row)

    Returns
    -------
    Tensor of shape (m, q, ..., q) (n state axes in the order of the sites in each row), float64.
    """
    n_sites = energies.ndim
    q = energies.shape[0] if n_sites else 1
    k = index_sets.shape[1]
    out = torch.empty(len(index_sets), *([q] * k), dtype=torch.float64)
    # one full reduction of the q^N table per set: O(m q^N), the same order as enumerating it
    for r, row in enumerate(index_sets.tolist()):
        others = [d for d in range(n_sites) if d not in row]
        t = -energies.mean(others) if others else -energies
        order = sorted(range(k), key=lambda a: row[a])          # mean() keeps axes in site order
        t = t.permute([order.index(a) for a in range(k)]) if order != list(range(k)) else t
        for axis in range(k):
            t = t - t.mean(axis, keepdim=True)
        out[r] = t
    return out


# ---------------------------------------------------------------------------- any model
def is_potts_model(model) -> bool:
    """Whether ``model`` has categorical (Potts) units, whatever q (a q = 2 Potts model included)."""
    return hasattr(model, "n_states") or getattr(model, "kind", None) in ("potts-rbm", "potts-bm")


def model_couplings(model, orders: int | Sequence[int] = 2, method: str = "exact", gauge: str = "ising",
                    index_sets: Mapping[int, Any] | None = None, n_samples: int = 100_000,
                    generator: torch.Generator | None = None, **options: Any) -> EffectiveCouplings:
    """Couplings of any binary :class:`~boltzkit.models.base.EnergyModel` (E = its ``free_energy``).

    Binary RBMs go through :func:`~boltzkit.interpret.rbm_couplings.rbm_couplings` (which adds the
    ``gaussian`` and ``cossu`` methods); every other model is expanded from its energy function
    (``exact`` or ``sampling``). In the lattice-gas gauge the Möbius formula is used whatever the
    method, since it is exact and local.
    """
    from boltzkit.interpret.rbm_couplings import rbm_couplings
    from boltzkit.models.rbm import RBM

    if gauge not in GAUGES:
        raise BoltzkitError(f"unknown gauge {gauge!r} (choose {', '.join(GAUGES)})")
    if is_potts_model(model):
        raise BoltzkitError(f"model {getattr(model, 'kind', '?')} has categorical (Potts) units: use "
                            "boltzkit.interpret.potts_couplings.potts_rbm_couplings or potts_energy_couplings")
    if isinstance(model, RBM) and method != "sampling":
        return rbm_couplings(model, orders, method, gauge, index_sets, **options)
    units_obj = getattr(model, "visible_units", None)
    units = getattr(units_obj, "name", "spin")
    if units not in ("spin", "bernoulli"):
        raise BoltzkitError(f"model {getattr(model, 'kind', '?')}: couplings need binary visible units")
    n_sites = int(getattr(model, "n_visible"))
    dtype = getattr(model, "dtype", None)
    device = getattr(model, "device", "cpu")
    if gauge == "lattice-gas":
        return lattice_gas_couplings(model.free_energy, n_sites, orders, index_sets, units, dtype, device)
    if method not in ("exact", "sampling"):
        raise BoltzkitError(f"method {method!r} applies to RBMs only; use exact or sampling for a "
                            f"{getattr(model, 'kind', 'generic')} model")
    # options meant for the RBM methods (n_quadrature) do not apply to a generic energy
    return energy_couplings(model.free_energy, n_sites, orders, method, index_sets, n_samples, generator,
                            units, dtype, device, options.get("chunk_size"))
