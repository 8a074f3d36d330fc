"""A Potts RBM as a Potts generalized Ising model: zero-sum fields, pair and triplet couplings.

Decelle, Navas Gómez, Seoane, *Inferring Higher-Order Couplings with Neural Networks*, PRL 135,
207301 (2025), arXiv:2501.06108 — restated in docs/methods.md 1.5. With the RBM in the zero-sum gauge
(sum_mu W_ia^mu = 0, which leaves p(v) unchanged), the n-body coupling of sites A = (i_1..i_n) is the
n-fold centring (ANOVA) of the uniform-measure conditional mean of -E:

    J^{mu_1..mu_n}_A = prod_k (1 - mean over mu_k) T_A,
    T^{mu_1..mu_n}_A = sum_a E_X[ softplus(c_a + sum_k W^{mu_k}_{i_k a} + X_a) ]   (+ b for n = 1),

where X_a = sum_{l not in A} W^{v_l}_{la} for uniform v_l has mean 0 and variance
s_a^2 = q^-1 sum_{l not in A} sum_mu (W^mu_{la})^2. Methods:

* ``exact``: enumerate the q^N configurations (:func:`~boltzkit.interpret.energy_couplings.potts_energy_couplings`;
  triplets by :func:`~boltzkit.interpret.energy_couplings.potts_exact_terms`);
* ``gaussian``: X_a ~ N(0, s_a^2) (central limit), Gauss-Hermite quadrature;
* ``mixture``: the Gaussian-mixture refinement — for a hidden unit whose weights are dominated by a few
  sites (z-score of ln ||W_{i.a}||_2 across sites above ``outlier_threshold``, 2.5 in the reference),
  those sites are summed over exactly (uniform over their q states) and the Gaussian is kept for the
  rest; the difference with the single Gaussian is added to J.

All three return couplings that are zero-sum in every state index, hence invariant under the RBM's
gauge changes. :func:`potts_model_couplings` is the entry point for any model with categorical
visible units: Potts RBMs by these methods, pairwise Potts models by their own parameters, any other
q-state energy by enumeration or sampling.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.energy_couplings import potts_energy_couplings, potts_energy_tensor, potts_exact_terms
from boltzkit.interpret.expansion import (PottsCouplings, Progress, chunks, hermite_nodes, normalise_orders, rows_per_chunk,
                                          select_index_sets, zero_sum_center)
from boltzkit.models.capabilities import LayeredEnergy, PairwiseParameters, ZeroSumGauge, require
from boltzkit.models.interactions import Interactions

__all__ = ["POTTS_METHODS", "potts_rbm_couplings", "potts_model_couplings", "outlier_sites", "zero_sum_center"]

POTTS_METHODS = ("exact", "gaussian", "mixture")


def _state_grid(q: int, k: int) -> Tensor:
    """(q^k, k) all state tuples, the last index fastest (so a reshape gives axes (q, ..., q))."""
    return torch.cartesian_prod(*[torch.arange(q)] * k).reshape(-1, k) if k else torch.zeros(1, 0, dtype=torch.long)


def _gaussian_t(W: Tensor, c: Tensor, idx: Tensor, z: Tensor, wq: Tensor, unit_var: Tensor,
                skip: Tensor | None = None, extra_shift: Tensor | None = None,
                advance: Callable[[int], None] | None = None) -> Tensor:
    """T_A (without the bias) for every set of ``idx`` (m, k): shape (m, q^k, Nh) per hidden unit.

    ``unit_var`` (N, Nh): q^-1 sum_mu W^2 of each site; ``skip`` (Nh,) variance removed from every
    unit's Gaussian (sites handled exactly); ``extra_shift`` (C, Nh) states of those sites, averaged over;
    ``advance(rows)`` is called after every chunk of rows.
    """
    n, q, nh = W.shape
    k = idx.shape[1]
    states = _state_grid(q, k)                                             # (q^k, k)
    total = unit_var.sum(0) - (0 if skip is None else skip)                # (Nh,)
    shifts = torch.zeros(1, nh, dtype=W.dtype) if extra_shift is None else extra_shift
    out = torch.empty(len(idx), len(states), nh, dtype=W.dtype)
    for rows in chunks(len(idx), rows_per_chunk(len(states) * nh * len(z) * len(shifts))):
        sub = idx[rows]                                                    # (m, k)
        field = W[sub[:, None, :], states[None]].sum(2)                    # (m, q^k, Nh)
        std = (total - unit_var[sub].sum(1)).clamp_min(0).sqrt()           # (m, Nh)
        arg = (c + field)[:, :, None, :, None] + shifts[None, None, :, :, None] \
            + std[:, None, None, :, None] * z                              # (m, q^k, C, Nh, Q)
        out[rows] = (F.softplus(arg) @ wq).mean(2)
        if advance is not None:
            advance(rows.stop - rows.start)
    return out


def outlier_sites(rbm: LayeredEnergy, threshold: float = 2.5) -> list[Tensor]:
    """Per hidden unit, the sites whose weight norm stands out: z-score of ln ||W_{i.a}||_2 across
    sites above ``threshold`` (reference ``utilities.find_outliers_index``), the weights of ``rbm``
    (a Potts RBM, :class:`~boltzkit.models.capabilities.ZeroSumGauge`) taken in the zero-sum gauge.
    List of Nh index tensors."""
    require(rbm, ZeroSumGauge, "outlier sites of a Potts RBM")
    W = rbm.zero_sum_gauge().weights.detach().to("cpu", torch.float64)
    log_norm = W.pow(2).sum(1).clamp_min(1e-300).sqrt().log()             # (N, Nh)
    z = (log_norm - log_norm.mean(0)) / log_norm.std(0).clamp_min(1e-300)
    return [torch.nonzero(z[:, a] > threshold).flatten() for a in range(W.shape[2])]


def _t_values(W, c, b, idx, z, wq, unit_var, method, outliers, advance=None) -> Tensor:
    """sum_a T_A (shape (m, q^k)) including the mixture correction; + b for single sites;
    ``advance(rows)`` after every chunk of the Gaussian pass."""
    t = _gaussian_t(W, c, idx, z, wq, unit_var, advance=advance).sum(-1)
    if method == "mixture":
        q = W.shape[1]
        for a, out_a in enumerate(outliers):
            if len(out_a) == 0:
                continue
            Wa, ca, va = W[:, :, a:a + 1], c[a:a + 1], unit_var[:, a:a + 1]
            single = _gaussian_t(Wa, ca, idx, z, wq, va)[..., 0]
            mixed = torch.empty_like(single)
            # group the sets by which outlier sites they contain: the others are summed over exactly
            inside = (idx[:, :, None] == out_a[None, None, :]).any(1)      # (m, |O|)
            patterns, group = torch.unique(inside, dim=0, return_inverse=True)
            for g, pattern in enumerate(patterns):
                rows = torch.nonzero(group == g).flatten()
                exact_sites = out_a[~pattern]
                combos = _state_grid(q, len(exact_sites))
                shift = Wa[exact_sites[None, :], combos, 0].sum(1)[:, None]  # (C, 1); 0 without exact sites
                skip = va[exact_sites, 0].sum()[None]
                mixed[rows] = _gaussian_t(Wa, ca, idx[rows], z, wq, va, skip, shift)[..., 0]
            t = t + (mixed - single)
    if idx.shape[1] == 1:
        t = t + b[idx[:, 0]]
    return t


def potts_rbm_couplings(rbm: LayeredEnergy, method: str = "gaussian", orders: int | Sequence[int] = 2,
                        index_sets: Mapping[int, Any] | None = None, n_quadrature: int = 40,
                        outlier_threshold: float = 2.5, progress: Progress | None = None) -> PottsCouplings:
    """Zero-sum fields and couplings of a Potts RBM's marginal energy.

    Parameters
    ----------
    rbm : LayeredEnergy with categorical visible units (a Potts RBM)
        Any gauge: ``gaussian`` and ``mixture`` put it in the zero-sum gauge first (which does not
        change p(v); :class:`~boltzkit.models.capabilities.ZeroSumGauge`).
    method : {"exact", "gaussian", "mixture"}
    orders : int or sequence of int
        Orders beyond the fields; 2 (pairs, always dense (N, N, q, q)) and 3 (triplets, on
        ``index_sets[3]`` or all of them), by every method.
    n_quadrature : int
        Gauss-Hermite nodes.
    outlier_threshold : float
        z-score above which a site is treated exactly (``mixture``).
    progress : callable (done, total), optional
        Called after the fields, the pairs and the triplets (``gaussian``, ``mixture``).

    Returns
    -------
    PottsCouplings (``terms[3]`` holds triplets (m, q, q, q) when requested).
    """
    if method not in POTTS_METHODS:
        raise BoltzkitError(f"unknown method {method!r} (choose {', '.join(POTTS_METHODS)})")
    orders = _potts_orders(orders)
    if method == "exact":
        return _potts_exact(rbm.to("cpu", torch.float64), orders, index_sets)
    require(rbm, ZeroSumGauge, f"{method} Potts couplings")
    gauged = rbm.zero_sum_gauge().to("cpu", torch.float64)
    W, b, c = gauged.weights, gauged.visible_bias, gauged.hidden_bias
    n, q, _ = W.shape
    unit_var = W.pow(2).mean(1)                                            # (N, Nh)
    z, wq = hermite_nodes(n_quadrature)
    outliers = outlier_sites(gauged, outlier_threshold) if method == "mixture" else None
    pairs = torch.combinations(torch.arange(n), 2)
    total = n + len(pairs) + (len(select_index_sets(n, [3], index_sets)[3]) if 3 in orders else 0)
    done = [0, 0]  # index sets through the Gaussian pass; the last number reported

    def advance(rows: int) -> None:
        """Count ``rows`` more index sets; call ``progress`` at most every 0.5 % of them."""
        done[0] += rows
        if progress is not None and (done[0] - done[1] >= total / 200 or done[0] == total):
            progress(done[0], total)
            done[1] = done[0]

    def t_values(idx: Tensor) -> Tensor:
        return _t_values(W, c, b, idx, z, wq, unit_var, method, outliers, advance)

    fields = zero_sum_center(t_values(torch.arange(n)[:, None]), 1)
    jp = zero_sum_center(t_values(pairs).view(-1, q, q), 2)
    couplings = torch.zeros(n, n, q, q, dtype=torch.float64)
    couplings[pairs[:, 0], pairs[:, 1]] = jp
    couplings[pairs[:, 1], pairs[:, 0]] = jp.transpose(1, 2)
    terms = _triplet_terms(n, orders, index_sets, lambda idx: zero_sum_center(t_values(idx).view(-1, q, q, q), 3))
    return PottsCouplings(fields, couplings, method, terms=terms)


def _potts_orders(orders: int | Sequence[int]) -> list[int]:
    """The orders of :func:`normalise_orders`, checked: Potts couplings stop at triplets."""
    orders = normalise_orders(orders)
    if any(k not in (2, 3) for k in orders):
        raise BoltzkitError(f"Potts couplings of orders {orders}: only 2 and 3 are implemented")
    return orders


def _triplet_terms(n_sites: int, orders: list[int], index_sets: Mapping[int, Any] | None,
                   values: Callable[[Tensor], Tensor]) -> dict[int, Interactions]:
    """{3: the triplets (m, 3) with their ``values(idx)`` (m, q, q, q)} when 3 is in ``orders``, else {}."""
    if 3 not in orders:
        return {}
    idx = select_index_sets(n_sites, [3], index_sets)[3]
    return {3: Interactions(idx, values(idx))}


def potts_model_couplings(model, orders: int | Sequence[int] = 2, method: str = "exact",
                          index_sets: Mapping[int, Any] | None = None, n_samples: int = 100_000,
                          generator: torch.Generator | None = None, n_quadrature: int = 40,
                          outlier_threshold: float = 2.5, progress: Progress | None = None) -> PottsCouplings:
    """Zero-sum couplings of any model with categorical visible units (the Potts counterpart of
    :func:`~boltzkit.interpret.rbm_couplings.model_couplings`), by what the model can do:

    * pairwise parameters (:class:`~boltzkit.models.capabilities.PairwiseParameters`, the pairwise
      Potts model): its own parameters in the zero-sum gauge, exactly, whatever the method (it has
      no term beyond pairs: triplets are zero);
    * a layered energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`, the Potts RBM):
      ``exact``, ``gaussian``, ``mixture`` (:func:`potts_rbm_couplings`) or ``sampling`` (fields and
      pairs from uniform samples, with standard errors);
    * any other q-state energy: ``exact`` (enumeration, orders 2 and 3) or ``sampling`` (order 2).
    """
    orders = _potts_orders(orders)
    if not model.visible.categorical:
        raise BoltzkitError(f"model {model.kind} has binary visible units: use "
                            "boltzkit.interpret.rbm_couplings.model_couplings")
    n, q = int(model.n_visible), model.visible.n_states
    if isinstance(model, PairwiseParameters):
        gauged = model.zero_sum_gauge().to("cpu", torch.float64)
        terms = _triplet_terms(n, orders, index_sets, lambda idx: torch.zeros(len(idx), q, q, q, dtype=torch.float64))
        return PottsCouplings(gauged.fields, gauged.couplings, "parameters", terms=terms)
    model = model.to("cpu", torch.float64)  # energies of enumeration and sampling in float64
    if isinstance(model, LayeredEnergy) and method in POTTS_METHODS:
        return potts_rbm_couplings(model, method, orders, index_sets, n_quadrature, outlier_threshold, progress)
    if method == "sampling":
        if 3 in orders:
            raise BoltzkitError("the sampling estimator gives Potts fields and pairs only (order 2); "
                                "use exact (small N) or, for a Potts RBM, gaussian for triplets")
        return potts_energy_couplings(model.free_energy, n, q, "sampling", n_samples, generator)
    if method != "exact":
        raise BoltzkitError(f"method {method!r} for a {model.kind} model: use exact or sampling"
                            + (" (gaussian and mixture apply to Potts RBMs)" if method in POTTS_METHODS else ""))
    return _potts_exact(model, orders, index_sets)


def _potts_exact(model, orders: list[int], index_sets: Mapping[int, Any] | None) -> PottsCouplings:
    """Fields, pairs and (order 3) triplets of a q-state model (float64, on the CPU) by enumeration."""
    n, q = int(model.n_visible), model.visible.n_states
    result = potts_energy_couplings(model.free_energy, n, q, "exact")
    terms = _triplet_terms(n, orders, index_sets,
                           lambda idx: potts_exact_terms(potts_energy_tensor(model.free_energy, n, q), idx))
    return PottsCouplings(result.fields, result.couplings, "exact", terms=terms)
