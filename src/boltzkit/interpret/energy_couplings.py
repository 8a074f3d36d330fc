"""Effective couplings of *any* energy function: its Walsh (Ising gauge) and Möbius (lattice-gas
gauge) expansion coefficients.

Every function on {±1}^N is a multilinear polynomial (the generalized Ising model, GIM)::

    -E(s) = J_0 + sum_j H_j s_j + sum_{j<k} J_jk s_j s_k + sum_{j<k<l} J_jkl s_j s_k s_l + ...

and since the monomials s_A = prod_{j in A} s_j are orthonormal under the uniform measure U,

    J_A = - <E(s) s_A>_U = - 2^-N sum_s E(s) s_A                    (docs/methods.md 1.2, 5.1)

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
the coefficients are local and exact for any N (Möbius inversion, docs/methods.md 1.4):

    K_B = sum_{C subset of B} (-1)^{|B|-|C|} (-E(1_C)),

with 1_C the configuration occupied exactly on C; :func:`lattice_gas_couplings` evaluates it with
2^|B| energies per coupling. Ising and lattice-gas coefficients are related through *all* higher
orders: J_A = sum_{B ⊇ A} 2^-|B| K_B (see :mod:`boltzkit.synthetic.conversion`).

For q-state (Potts) variables, :func:`potts_energy_couplings` gives the zero-sum-gauge fields and
pair couplings of any energy of integer codes (docs/methods.md 1.5 and 5.1).

Every routine takes a plain callable ``energy(x) -> (batch,)``, so it applies to RBMs, hybrid
models, or the true Hamiltonian of a synthetic data set alike. For a model, use
:func:`boltzkit.interpret.rbm_couplings.model_couplings` (binary visible units) or
:func:`boltzkit.interpret.potts_couplings.potts_model_couplings` (categorical ones), which pick the
method its capabilities allow. The result types live in :mod:`boltzkit.interpret.expansion`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.expansion import (GAUGES, MAX_EXACT_SITES, EffectiveCouplings, PottsCouplings, Progress,
                                          all_index_sets, chunks, normalise_orders, rows_per_chunk,
                                          select_index_sets, site_terms, subset_masks, zero_sum_center)
from boltzkit.models.interactions import Interactions

__all__ = ["MAX_EXACT_SITES", "GAUGES", "EffectiveCouplings", "PottsCouplings", "all_index_sets",
           "spin_configurations", "walsh_hadamard", "energy_couplings", "energy_vector", "walsh_coefficients",
           "lattice_gas_couplings", "potts_energy_couplings", "potts_energy_tensor", "potts_exact_terms"]

Energy = Callable[[Tensor], Tensor]


# ---------------------------------------------------------------------------- helpers
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


def _energies(energy: Energy, draw: Callable[[slice], Tensor], count: int, chunk: int,
              dtype: torch.dtype | None, device, rewind: torch.Generator | None = None,
              progress: Progress | None = None) -> Tensor:
    """E on the configurations ``draw(part)`` of the rows ``part`` of 0..count-1, evaluated ``chunk``
    rows at a time, shape (count,), float64. ``rewind``: the generator ``draw`` samples from, put back
    in its starting state afterwards, so that a second pass draws the same configurations (memory
    stays O(chunk * N) whatever the number of samples). ``progress(done, count)`` after every chunk."""
    state = None if rewind is None else rewind.get_state()
    out = torch.empty(count, dtype=torch.float64)
    for part in chunks(count, chunk):
        out[part] = _evaluate(energy, draw(part), dtype, device)
        if progress is not None:
            progress(part.stop, count)
    if rewind is not None:
        rewind.set_state(state)
    return out


# ---------------------------------------------------------------------------- Ising gauge
def energy_couplings(energy: Energy, n_sites: int, orders: int | Sequence[int] = 2, method: str = "exact",
                     index_sets: Mapping[int, Any] | None = None, n_samples: int = 100_000,
                     generator: torch.Generator | None = None, units: str = "spin",
                     dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                     chunk_size: int | None = None, progress: Progress | None = None) -> EffectiveCouplings:
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
    progress : callable (done, total), optional
        Called after every chunk of configurations whose energies are evaluated.

    Returns
    -------
    EffectiveCouplings in the Ising gauge; ``standard_errors`` filled for ``sampling``.
    """
    sets = select_index_sets(n_sites, normalise_orders(orders), index_sets)
    if method == "exact":
        return _exact_walsh(energy, n_sites, sets, units, dtype, device, chunk_size, progress)
    if method == "sampling":
        if n_samples < 2:
            raise BoltzkitError("sampling needs at least 2 samples")
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        return _sampled_walsh(energy, n_sites, sets, n_samples, gen, units, dtype, device, chunk_size, progress)
    raise BoltzkitError(f"unknown method {method!r} for an energy function (exact or sampling)")


def energy_vector(energy: Energy, n_sites: int, units: str = "spin", dtype: torch.dtype | None = None,
                  device: torch.device | str = "cpu", chunk_size: int | None = None,
                  progress: Progress | None = None) -> Tensor:
    """E on every configuration of the Walsh ordering (:func:`spin_configurations`), shape (2^N,), float64."""
    if n_sites > MAX_EXACT_SITES:
        raise BoltzkitError(f"exact enumeration needs N <= {MAX_EXACT_SITES} sites (got {n_sites}); "
                            "use the sampling (or, for an RBM, gaussian) method")
    # Blocks of 2^low consecutive configurations share their high bits: the low part is one table
    # built once, the high part one broadcast row per block (building every row from its code is
    # slower than evaluating the energy).
    low = min(n_sites, max(0, (chunk_size or rows_per_chunk(n_sites)).bit_length() - 1))
    block = torch.empty(1 << low, n_sites, dtype=dtype or torch.float64, device=device)
    block[:, :low] = _as_units(spin_configurations(low), units)

    def configurations(part: slice) -> Tensor:
        high = spin_configurations(n_sites - low, part.start >> low, (part.start >> low) + 1)
        block[:, low:] = _as_units(high, units)
        return block

    return _energies(energy, configurations, 1 << n_sites, 1 << low, dtype, device, progress=progress)


def walsh_coefficients(energies: Tensor) -> Tensor:
    """All 2^N Ising-gauge coefficients J_A = -2^-N sum_s E(s) s_A from the energy vector of
    :func:`energy_vector`; entry a is the set whose bit mask is a (entry 0 is the offset)."""
    return -walsh_hadamard(energies) / energies.numel()


def _exact_walsh(energy, n_sites, sets, units, dtype, device, chunk_size, progress=None) -> EffectiveCouplings:
    coeffs = walsh_coefficients(energy_vector(energy, n_sites, units, dtype, device, chunk_size, progress))
    fields, couplings = site_terms(n_sites, list(sets), sets, lambda idx: coeffs[(1 << idx).sum(-1)])  # bit masks
    return EffectiveCouplings(fields, couplings, "ising", "exact", offset=float(coeffs[0]),
                              info={"n_configurations": 1 << n_sites})


def _sampled_walsh(energy, n_sites, sets, n_samples, generator, units, dtype, device,
                   chunk_size, progress=None) -> EffectiveCouplings:
    chunk = chunk_size or rows_per_chunk(n_sites)

    def spins(part: slice) -> Tensor:
        return (1 - 2 * torch.randint(0, 2, (part.stop - part.start, n_sites), generator=generator)).to(torch.float64)

    # Pass 1: energies only. Pass 2 regenerates the same spins from the rewound generator.
    # progress over both passes: 2 K configurations
    energies = _energies(energy, lambda part: _as_units(spins(part), units), n_samples, chunk, dtype, device,
                         rewind=generator, progress=None if progress is None else
                         (lambda done, total: progress(done, 2 * total)))
    mean = energies.mean()
    e = energies - mean  # the control variate
    sums = {k: torch.zeros(len(idx), dtype=torch.float64) for k, idx in {1: torch.arange(n_sites), **sets}.items()}
    dense_pairs = 2 in sets and len(sets[2]) == n_sites * (n_sites - 1) // 2
    if dense_pairs:  # all the pairs: one (N, N) matrix product per chunk
        sums[2] = torch.zeros(n_sites, n_sites, dtype=torch.float64)
    for part in chunks(n_samples, chunk):
        s, ec = spins(part), e[part]
        sums[1] += ec @ s
        for k, idx in sets.items():
            if k == 2 and dense_pairs:
                sums[2] += (s * ec[:, None]).T @ s
                continue
            for rows in chunks(len(idx), rows_per_chunk(len(s) * k)):
                sums[k][rows] += ec @ s[:, idx[rows]].prod(-1)
        if progress is not None:
            progress(n_samples + part.stop, 2 * n_samples)
    if dense_pairs:
        sums[2] = sums[2][sets[2][:, 0], sets[2][:, 1]]
    second = (e * e).mean()

    def estimate(total: Tensor) -> tuple[Tensor, Tensor]:
        """The coupling and its standard error."""
        first = total / n_samples
        return -total / (n_samples - 1), ((second - first * first).clamp_min(0) / (n_samples - 1)).sqrt()

    estimates = {k: estimate(total) for k, total in sums.items()}  # fields (k = 1) and every order
    couplings = {k: Interactions(idx, estimates[k][0]) for k, idx in sets.items()}
    errors = {k: error for k, (_, error) in estimates.items()}
    return EffectiveCouplings(estimates[1][0], couplings, "ising", "sampling", errors, offset=float(-mean),
                              info={"n_samples": n_samples,
                                    "energy_variance": float(second)})


# ---------------------------------------------------------------------------- lattice-gas gauge
def lattice_gas_couplings(energy: Energy, n_sites: int, orders: int | Sequence[int] = 2,
                          index_sets: Mapping[int, Any] | None = None, units: str = "bernoulli",
                          dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
                          ) -> EffectiveCouplings:
    """Lattice-gas-gauge couplings K_B of any energy, exact for any N (Möbius inversion, docs/methods.md 1.4).

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
    empty = torch.zeros(1, n_sites, dtype=torch.float64)
    e0 = _evaluate(energy, _as_units(2 * empty - 1, units), dtype, device)[0]

    def moebius(idx: Tensor) -> Tensor:
        """K_B of every set of ``idx`` (m, k), from 2^k energies each."""
        k = idx.shape[1]
        members, signs = subset_masks(k)
        values = torch.empty(len(idx), dtype=torch.float64)
        for rows in chunks(len(idx), rows_per_chunk(n_sites << k)):
            sub = idx[rows]
            n = torch.zeros(len(sub), 1 << k, n_sites, dtype=torch.float64)
            # occupy, for every subset C (a row of members), the sites of C
            n.scatter_(2, sub[:, None, :].expand(-1, 1 << k, -1), members[None].expand(len(sub), -1, -1).double())
            e = _evaluate(energy, _as_units(2 * n.reshape(-1, n_sites) - 1, units), dtype, device)
            values[rows] = -(e.view(len(sub), 1 << k) - e0) @ signs
        return values

    fields, couplings = site_terms(n_sites, orders, index_sets, moebius)
    return EffectiveCouplings(fields, couplings, "lattice-gas", "moebius", offset=float(-e0))


# ---------------------------------------------------------------------------- Potts
def potts_energy_couplings(energy: Energy, n_sites: int, n_states: int, method: str = "exact",
                           n_samples: int = 100_000, generator: torch.Generator | None = None,
                           dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                           chunk_size: int | None = None) -> PottsCouplings:
    """Zero-sum fields and pair couplings of any energy of q-state codes (docs/methods.md 1.5, 5.1).

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
        _check_enumerable(n_sites, q, "use method='sampling'")
        count, denominator = q ** n_sites, float(q ** n_sites)
    elif method == "sampling":
        if n_samples < 2:
            raise BoltzkitError("sampling needs at least 2 samples")
        count, denominator = n_samples, float(n_samples - 1)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
    else:
        raise BoltzkitError(f"unknown method {method!r} (exact or sampling)")
    chunk = chunk_size or rows_per_chunk(n_sites * q * 4)

    def codes(part: slice) -> Tensor:
        if method == "exact":
            return _potts_codes(n_sites, q, part)
        return torch.randint(0, q, (part.stop - part.start, n_sites), generator=generator)

    energies = _energies(energy, codes, count, chunk, None, device, rewind=generator)
    e = energies - energies.mean()
    nq = n_sites * q
    # sums of (E - Ē) c and (E - Ē) c c'; of their squares for the standard errors (sampling)
    s1, sq1, s2, sq2 = (torch.zeros((nq,) * dims, dtype=torch.float64) for dims in (1, 1, 2, 2))
    for part in chunks(count, chunk):
        c = torch.nn.functional.one_hot(codes(part), q).double().reshape(-1, nq) - 1.0 / q
        ec = e[part]
        s1 += ec @ c
        s2 += (c * ec[:, None]).T @ c
        if method == "sampling":
            e2, c2 = ec * ec, c * c
            sq1 += e2 @ c2
            sq2 += (c2 * e2[:, None]).T @ c2
    fields_error = couplings_error = None
    if method == "sampling":
        k = n_samples
        var1 = (q * q * sq1 / k - (q * s1 / k) ** 2).clamp_min(0)
        var2 = (q ** 4 * sq2 / k - (q * q * s2 / k) ** 2).clamp_min(0)
        fields_error = (var1 / (k - 1)).sqrt().view(n_sites, q)
        couplings_error = _pair_blocks((var2 / (k - 1)).sqrt(), n_sites, q)
    return PottsCouplings((-q * s1 / denominator).view(n_sites, q), _pair_blocks(-q * q * s2 / denominator, n_sites, q),
                          method, fields_error, couplings_error)


def _pair_blocks(flat: Tensor, n_sites: int, q: int) -> Tensor:
    """A (N q, N q) matrix as pair blocks (N, N, q, q), with zero diagonal blocks."""
    blocks = flat.view(n_sites, q, n_sites, q).permute(0, 2, 1, 3).contiguous()
    blocks[torch.arange(n_sites), torch.arange(n_sites)] = 0.0
    return blocks


def potts_energy_tensor(energy: Energy, n_sites: int, n_states: int, device: torch.device | str = "cpu",
                        chunk_size: int | None = None) -> Tensor:
    """E on all q^N configurations, shape (q,)*N (axis i = state of site i), float64.

    ``energy`` takes long codes of shape (batch, N) and returns shape (batch,)."""
    q = n_states
    _check_enumerable(n_sites, q, "use the gaussian (Potts RBM) or sampling method")
    return _energies(energy, lambda part: _potts_codes(n_sites, q, part), q ** n_sites,
                     chunk_size or rows_per_chunk(n_sites * q * 4), None, device).view((q,) * n_sites)


def _check_enumerable(n_sites: int, q: int, advice: str) -> None:
    if q ** n_sites > 1 << MAX_EXACT_SITES:
        raise BoltzkitError(f"exact enumeration of {q}^{n_sites} configurations is too large; {advice}")


def _potts_codes(n_sites: int, q: int, part: slice) -> Tensor:
    """Configurations ``part`` of the enumeration as codes, shape (part.stop - part.start, N), long;
    site 0 is the most significant digit (so the energies reshape to axes (q,)*N)."""
    place = q ** torch.arange(n_sites - 1, -1, -1)
    return (torch.arange(part.start, part.stop)[:, None] // place) % q


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
        out[r] = zero_sum_center(t, k)
    return out
