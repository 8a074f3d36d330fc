"""A binary RBM as a generalized Ising model: effective fields and couplings of every order.

Decelle, Furtlehner, Navas Gómez, Seoane, *Inferring effective couplings with Restricted Boltzmann
Machines*, SciPost Phys. 16, 095 (2024), arXiv:2309.02292 — restated in docs/methods.md 1.1-1.4.

With s_j = 2v_j - 1 for {0,1} visible units (s = v for ±1 units), the marginal energy of any binary
RBM is, up to a constant,

    E(s) = - sum_j eta_j s_j - sum_a L(theta_a + sum_j u_ja s_j),

where L is the hidden units' log-normaliser (softplus for {0,1}, log 2cosh for ±1) and
(eta, u, theta) = (b/2, W/2, c + sum_j W_ja/2) for {0,1} visible units, (b, W, c) for ±1 ones.
(For {0,1} hidden units softplus(x) = x/2 + log 2cosh(x/2) turns this into the paper's
ln cosh form with w = W/4, theta = c/2 + sum_j W_ja/4, eta = b/2 + sum_a W_ja/4.)

The Ising-gauge coupling of a site set A is J_A = -<E s_A>_U (uniform measure U), i.e.

    J_A = eta_j [A = {j}] + sum_a 2^-|A| sum_{s_A} s_A E_X[ L(theta_a + sum_{k in A} u_ka s_k + X_a) ],

X_a = sum_{k not in A} u_ka s_k. Methods:

* ``exact``: enumerate the 2^N visible states once and Walsh-transform the energy vector (all
  orders, all sets; N <= 24) — :func:`~boltzkit.interpret.energy_couplings.energy_couplings`.
* ``gaussian``: central-limit approximation X_a ~ N(0, s_a^2), s_a^2 = sum_{k not in A} u_ka^2,
  each expectation a Gauss-Hermite quadrature (probabilists' nodes); O(m Nh 2^k Q) for m sets of
  order k, batched over sets and hidden units (docs/methods.md 1.3).
* ``mixture``: the Gaussian-mixture refinement of ``gaussian``: per hidden unit, the sites of largest
  |u_ja| (:func:`mixture_sites`) are summed over exactly and the Gaussian covers the others; it
  repairs the central limit where trained weights are localised on a few sites (docs/methods.md 1.3).
* ``cossu``: the closed form of Cossu et al. (PRB 100, 064304, 2019), J_A ≈ 2^-|A| K_A with K the
  lattice-gas coefficients — it drops all higher-order contributions; a baseline only (docs/methods.md 1.4).

:func:`model_couplings` is the entry point for any model with binary visible units: RBMs by these
methods, any other energy by the exact or sampled expansion of
:mod:`~boltzkit.interpret.energy_couplings`.

Lattice-gas gauge (n = v in {0,1}): -E(n) = sum_B K_B n_B with the local, exact Möbius formula
K_B = sum_a sum_{C ⊆ B} (-1)^{|B|-|C|} softplus-like L(c_a + sum_{j in C} W_ja) (+ b_j for |B| = 1),
whatever the method. The two gauges are related by J_A = sum_{B ⊇ A} 2^-|B| K_B
(:func:`boltzkit.synthetic.conversion.lattice_gas_to_ising`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.energy_couplings import energy_couplings, lattice_gas_couplings
from boltzkit.interpret.expansion import (GAUGES, MAX_EXACT_SITES, EffectiveCouplings, Progress, chunks,
                                          hermite_nodes, normalise_orders, relative_gaps, rows_per_chunk,
                                          select_index_sets, site_terms, subset_masks)
from boltzkit.models.capabilities import LayeredEnergy
from boltzkit.models.interactions import Interactions
from boltzkit.models.units import UnitType

__all__ = ["RBM_METHODS", "COSSU_CAVEAT", "SpinForm", "spin_form", "mixture_sites", "rbm_couplings",
           "rbm_lattice_gas_couplings", "gaussian_couplings", "cossu_couplings", "model_couplings",
           "gaussian_exact_gap"]

RBM_METHODS = ("exact", "gaussian", "mixture", "cossu", "sampling")

#: What ``cossu`` is, said wherever its numbers are shown (docs/methods.md 1.4).
COSSU_CAVEAT = ("cossu is an approximation (Cossu et al. 2019: J_A ~ 2^-|A| K_A, every higher-order term dropped); "
                "its fields are biased, missing sum_k K_jk/4 + ... per site (about the summed couplings of a "
                "site: field RMSE near 1 on trained RBMs against 0.05 for exact) and its pairs are off by ~30 %")


class SpinForm(NamedTuple):
    """E(s) = -eta.s - sum_a L(theta_a + sum_j u_ja s_j) + const, s in {±1}^N.

    Attributes
    ----------
    eta : Tensor of shape (N,)
    u : Tensor of shape (N, Nh)
    theta : Tensor of shape (Nh,)
    hidden_units : UnitType
        Gives L (its ``log_normalizer``).
    """

    eta: Tensor
    u: Tensor
    theta: Tensor
    hidden_units: UnitType


def _parameters(rbm: LayeredEnergy) -> tuple[Tensor, Tensor, Tensor]:
    """(W, b, c) in the model's own visible values, float64 on the CPU."""
    return tuple(t.detach().to("cpu", torch.float64)
                 for t in (rbm.weights, rbm.visible_bias, rbm.hidden_bias))


def spin_form(rbm: LayeredEnergy) -> SpinForm:
    """The ±1-visible form of any binary RBM, in float64 (see the module docstring)."""
    w, b, c = _parameters(rbm)
    if rbm.visible.name == "spin":
        return SpinForm(b, w, c, rbm.hidden_units)
    if rbm.visible.name == "bernoulli":
        return SpinForm(b / 2, w / 2, c + w.sum(0) / 2, rbm.hidden_units)
    raise BoltzkitError(f"unsupported visible units {rbm.visible.name!r}")


# ---------------------------------------------------------------------------- gaussian (CLT), mixture
def mixture_sites(rbm: LayeredEnergy, n_largest: int = 4, outlier_threshold: float = 2.5,
                  max_sites: int = 10) -> Tensor:
    """The sites summed exactly by the ``mixture`` method, per hidden unit (docs/methods.md 1.3).

    Site j is exact for hidden unit a when |u_ja| (the ±1 form, :func:`spin_form`) is among the
    ``n_largest`` of the unit, or when the z-score of ln |u_ja| across sites exceeds
    ``outlier_threshold`` (the Potts criterion, :func:`boltzkit.interpret.potts_couplings.outlier_sites`);
    at most ``max_sites`` per unit (the largest), since the cost grows like 2^max_sites.

    Returns
    -------
    Tensor of shape (K, Nh), long: the exact sites of every hidden unit, largest |u| first, -1 padding.
    """
    u = spin_form(rbm).u.abs()
    n, nh = u.shape
    log_u = u.clamp_min(1e-300).log()
    z = (log_u - log_u.mean(0)) / log_u.std(0).clamp_min(1e-300) if n > 1 else torch.zeros_like(u)
    rank = torch.argsort(torch.argsort(-u, 0), 0)                         # 0 = largest |u| of the unit
    chosen = ((rank < n_largest) | (z > outlier_threshold)) & (rank < max_sites) & (u > 0)
    k = int(chosen.sum(0).max()) if n and nh else 0
    order = torch.argsort(rank, 0)[:k]                                     # (K, Nh) sites by decreasing |u|
    return torch.where(torch.gather(chosen, 0, order), order, torch.full_like(order, -1))


def _clt_values(form: SpinForm, idx: Tensor, z: Tensor, wq: Tensor, exact: Tensor | None = None,
                tick: Callable[[int], None] | None = None) -> Tensor:
    """J_A (hidden-unit part) for every set of ``idx`` (m, k) in the central-limit approximation; with
    ``exact`` (K, Nh) (:func:`mixture_sites`), those sites are summed over exactly (the mixture)."""
    k = idx.shape[1]
    members, _ = subset_masks(k)
    signs = (1 - 2 * members).double()            # (2^k, k): every assignment of s_A
    parity = signs.prod(1)                        # s_A of each assignment
    u, theta, L = form.u, form.theta, form.hidden_units.log_normalizer
    n, nh = u.shape
    exact = torch.empty(0, nh, dtype=torch.long) if exact is None else exact
    present = exact >= 0
    u_exact = torch.gather(u, 0, exact.clamp_min(0)) * present            # (K, Nh)
    is_exact = torch.zeros(n, nh, dtype=torch.bool).scatter_(0, exact.clamp_min(0), present)
    combos = (1 - 2 * subset_masks(exact.shape[0])[0]).double()            # (2^K, K)
    # variance of the rest X_a outside the exact sites (mean 0 under the uniform measure)
    rest_sq = (u * u).sum(0) - (u_exact * u_exact).sum(0)                  # (Nh,)
    per_unit = (1 << k) * len(combos) * len(z)
    units = max(1, rows_per_chunk(per_unit))
    out = torch.zeros(len(idx), dtype=torch.float64)
    for rows in chunks(len(idx), max(1, rows_per_chunk(per_unit * min(nh, units)))):
        sub = idx[rows]
        for h in chunks(nh, units):
            u_a = u[sub][:, :, h]                                          # (m, k, H)
            shift = torch.einsum("sk,mkh->msh", signs, u_a)
            # exact sites inside A are already summed over by s_A: leave them out of the exact sum
            outside = (exact[None, :, h, None] != sub[:, None, None, :]).all(-1)               # (m, K, H)
            exact_shift = torch.einsum("ck,mkh->mch", combos, u_exact[:, h] * outside)         # (m, 2^K, H)
            std = (rest_sq[h] - (u_a * u_a * ~is_exact[sub][:, :, h]).sum(1)).clamp_min(0).sqrt()  # (m, H)
            arg = (theta[h] + shift)[:, :, None, :, None] + exact_shift[:, None, :, :, None] \
                + std[:, None, None, :, None] * z                                              # (m, 2^k, 2^K, H, Q)
            expect = (L(arg) @ wq).mean(2)                                                     # (m, 2^k, H)
            out[rows] += torch.einsum("s,msh->m", parity, expect) / (1 << k)
        if tick is not None:
            tick(len(sub))
    return out


def _row_counter(n_sites: int, orders, index_sets, progress: Progress | None) -> Callable[[int], None] | None:
    """``tick(rows)`` reporting ``progress(done, total)`` over the fields and every set of ``orders``."""
    if progress is None:
        return None
    total = n_sites + sum(len(i) for i in select_index_sets(n_sites, normalise_orders(orders), index_sets).values())
    done = [0]

    def tick(rows: int) -> None:
        done[0] += rows
        progress(done[0], total)
    return tick


def gaussian_couplings(rbm: LayeredEnergy, orders: int | Sequence[int] = 2,
                       index_sets: Mapping[int, Any] | None = None,
                       n_quadrature: int = 80, exact_sites: Tensor | None = None,
                       progress: Progress | None = None) -> EffectiveCouplings:
    """Ising-gauge fields and couplings in the central-limit approximation (docs/methods.md 1.3), or,
    with ``exact_sites``, its Gaussian-mixture refinement.

    Parameters
    ----------
    rbm : LayeredEnergy with binary visible units (an RBM)
    orders : int or sequence of int
        Orders beyond the fields; an int n means 2..n.
    index_sets : mapping int -> array (m_k, k), optional
        Sets to compute (default: all k-subsets).
    n_quadrature : int
        Gauss-Hermite nodes (80 is ample for |theta|, s_a of order 10).
    exact_sites : Tensor of shape (K, Nh), long, optional
        Per hidden unit, sites summed over exactly (:func:`mixture_sites`; -1 pads): ``method="mixture"``.
    progress : callable (done, total), optional
        Called after every batch of index sets.
    """
    form = spin_form(rbm)
    n = form.u.shape[0]
    z, wq = hermite_nodes(n_quadrature)
    tick = _row_counter(n, orders, index_sets, progress)
    fields, couplings = site_terms(n, orders, index_sets,
                                   lambda idx: _clt_values(form, idx, z, wq, exact_sites, tick))
    if exact_sites is None:
        return EffectiveCouplings(form.eta + fields, couplings, "ising", "gaussian",
                                  info={"n_quadrature": n_quadrature})
    counts = (exact_sites >= 0).sum(0)
    return EffectiveCouplings(form.eta + fields, couplings, "ising", "mixture",
                              info={"n_quadrature": n_quadrature, "max_exact_sites": int(counts.max()) if len(counts) else 0,
                                    "mean_exact_sites": float(counts.double().mean()) if len(counts) else 0.0})


# ---------------------------------------------------------------------------- lattice gas (Möbius)
def _moebius_values(w: Tensor, c: Tensor, L, idx: Tensor) -> Tensor:
    """K_B = sum_a sum_{C ⊆ B} (-1)^{|B|-|C|} L(c_a + sum_{j in C} W_ja) for every set of ``idx``
    (the hidden-unit part: the fields add b_j)."""
    members, signs = subset_masks(idx.shape[1])
    out = torch.empty(len(idx), dtype=torch.float64)
    for rows in chunks(len(idx), rows_per_chunk(len(signs) * w.shape[1])):
        field = c + torch.einsum("sk,mkh->msh", members.double(), w[idx[rows]])    # (m, 2^k, Nh)
        out[rows] = torch.einsum("s,msh->m", signs, L(field) - L(c))
    return out


def rbm_lattice_gas_couplings(rbm: LayeredEnergy, orders: int | Sequence[int] = 2,
                              index_sets: Mapping[int, Any] | None = None) -> EffectiveCouplings:
    """Exact lattice-gas-gauge coefficients K_B of -E(n), n in {0,1}^N (Möbius formula, any N).

    For ±1 visible units the occupation is n = (1+s)/2.
    """
    # (b, W, c) of the {0,1}-visible form: -E(n) = b.n + sum_a L(c_a + sum_j W_ja n_j) + const
    w, b, c = _parameters(rbm)
    if rbm.visible.name != "bernoulli":  # s = 2n - 1: -E = b.(2n-1) + L(c - sum W + 2 W n)
        b, w, c = 2 * b, 2 * w, c - w.sum(0)
    n = w.shape[0]
    L = rbm.hidden_units.log_normalizer
    fields, couplings = site_terms(n, orders, index_sets, lambda idx: _moebius_values(w, c, L, idx))
    return EffectiveCouplings(fields + b, couplings, "lattice-gas", "moebius",
                              offset=float(L(c).sum()))


def cossu_couplings(rbm: LayeredEnergy, orders: int | Sequence[int] = 2,
                    index_sets: Mapping[int, Any] | None = None) -> EffectiveCouplings:
    """Cossu et al. (2019) closed form: J_A ≈ 2^-|A| K_A (fields H_j ≈ K_j / 2), i.e. the lattice-gas
    coefficients mapped to spins *without* the higher-order corrections of J_A = sum_{B ⊇ A} 2^-|B| K_B.

    A baseline only (:data:`COSSU_CAVEAT`): on a random N=20 RBM its pair couplings are off by ~30 %, and its
    fields miss sum_{B ⊋ {j}} 2^-|B| K_B (dominated by sum_k K_jk / 4), a bias of the order of a site's
    summed couplings (docs/methods.md 1.3, 1.4)."""
    lg = rbm_lattice_gas_couplings(rbm, orders, index_sets)
    couplings = {k: Interactions(t.indices, t.values / 2 ** k) for k, t in lg.couplings.items()}
    return EffectiveCouplings(lg.fields / 2, couplings, "ising", "cossu")


# ---------------------------------------------------------------------------- entry point
def rbm_couplings(rbm: LayeredEnergy, orders: int | Sequence[int] = 2, method: str = "exact", gauge: str = "ising",
                  index_sets: Mapping[int, Any] | None = None, n_quadrature: int = 80,
                  n_samples: int = 100_000, generator: torch.Generator | None = None,
                  chunk_size: int | None = None, n_exact_sites: int = 4, outlier_threshold: float = 2.5,
                  max_exact_sites: int = 10, progress: Progress | None = None) -> EffectiveCouplings:
    """Effective fields and couplings of a binary RBM's marginal energy.

    Parameters
    ----------
    rbm : LayeredEnergy with binary visible units (an RBM)
        {0,1} or ±1 visible units, {0,1} or ±1 hidden units.
    orders : int or sequence of int
        Interaction orders beyond the fields (always returned); an int n means 2..n.
    method : {"exact", "gaussian", "mixture", "cossu", "sampling"}
        See the module docstring; ``sampling`` is the uniform-sampling estimator of any energy.
    gauge : {"ising", "lattice-gas"}
        ``ising``: coefficients of the ±1 spins s = 2v - 1; ``lattice-gas``: of the occupations
        n = v in {0,1}. The lattice-gas coefficients are always computed by the exact Möbius formula
        (``method`` is then ignored and reported as ``moebius``).
    index_sets : mapping int -> array (m_k, k), optional
        Restrict order k to these sets (default: all k-subsets).
    n_quadrature : int
        Gauss-Hermite nodes of ``gaussian`` and ``mixture``.
    n_samples, generator
        For ``sampling``.
    n_exact_sites, outlier_threshold, max_exact_sites
        The sites ``mixture`` sums exactly (:func:`mixture_sites`).
    progress : callable (done, total), optional
        Called as the work advances (``cossu`` and the lattice-gas gauge, which are fast, never call it).

    Returns
    -------
    EffectiveCouplings
    """
    if gauge not in GAUGES:
        raise BoltzkitError(f"unknown gauge {gauge!r} (choose {', '.join(GAUGES)})")
    if method not in RBM_METHODS:
        raise BoltzkitError(f"unknown method {method!r} (choose {', '.join(RBM_METHODS)})")
    if gauge == "lattice-gas":
        return rbm_lattice_gas_couplings(rbm, orders, index_sets)
    if method in ("gaussian", "mixture"):
        sites = mixture_sites(rbm, n_exact_sites, outlier_threshold, max_exact_sites) if method == "mixture" else None
        return gaussian_couplings(rbm, orders, index_sets, n_quadrature, sites, progress)
    if method == "cossu":
        return cossu_couplings(rbm, orders, index_sets)
    model = rbm.to(dtype=torch.float64) if method == "exact" else rbm
    return energy_couplings(model.free_energy, rbm.n_visible, orders, method, index_sets, n_samples,
                            generator, model.visible.name, model.dtype, model.device, chunk_size, progress)


def gaussian_exact_gap(rbm: LayeredEnergy, orders: int | Sequence[int] = 2, n_quadrature: int = 80,
                       computed: EffectiveCouplings | None = None, max_work: int = 1 << 31,
                       progress: Progress | None = None) -> dict[str, dict[int, float]] | None:
    """How far the central limit is from the exact couplings of this RBM, when exact is affordable.

    Relative L2 gaps ||J_approx - J_exact|| / ||J_exact|| per order (key 1: the fields) of the
    ``gaussian`` couplings and, when ``computed`` holds the Ising-gauge result of another approximate
    method (``mixture``, ``cossu``, ``sampling``), of that result too. None when the exact expansion is
    out of reach: N > :data:`~boltzkit.interpret.expansion.MAX_EXACT_SITES` or 2^N Nh > ``max_work``
    softplus evaluations. ``computed`` with method ``exact`` or ``gaussian`` is reused.

    Returns
    -------
    {"gaussian": {order: gap}, <computed.method>: {order: gap}} or None
    """
    n, nh = rbm.n_visible, spin_form(rbm).u.shape[1]
    if n > MAX_EXACT_SITES or (1 << n) * max(1, nh) > max_work:
        return None
    reuse = computed is not None and computed.gauge == "ising"
    sets = {k: t.indices for k, t in computed.couplings.items()} if reuse else None
    exact = computed if reuse and computed.method == "exact" else \
        rbm_couplings(rbm, orders, "exact", index_sets=sets, progress=progress)
    gaussian = computed if reuse and computed.method == "gaussian" else \
        rbm_couplings(rbm, orders, "gaussian", index_sets=sets, n_quadrature=n_quadrature)
    gaps = {"gaussian": relative_gaps(gaussian, exact)}
    if reuse and computed.method not in ("exact", "gaussian"):
        gaps[computed.method] = relative_gaps(computed, exact)
    return gaps


# ---------------------------------------------------------------------------- any binary model
def model_couplings(model, orders: int | Sequence[int] = 2, method: str = "exact", gauge: str = "ising",
                    index_sets: Mapping[int, Any] | None = None, n_samples: int = 100_000,
                    generator: torch.Generator | None = None, **options: Any) -> EffectiveCouplings:
    """Couplings of any :class:`~boltzkit.models.base.EnergyModel` with binary visible units (E = its
    ``free_energy``).

    Models with a layered energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`: RBMs) go
    through :func:`rbm_couplings` (which adds the ``gaussian``, ``mixture`` and ``cossu`` methods) unless
    ``method="sampling"``; every other model is expanded from its energy function (``exact`` or
    ``sampling``), given the values its visible units take (``model.visible``). In the lattice-gas
    gauge the Möbius formula is used whatever the method, since it is exact and local. Categorical
    models are refused: see :func:`boltzkit.interpret.potts_couplings.potts_model_couplings`.
    """
    if gauge not in GAUGES:
        raise BoltzkitError(f"unknown gauge {gauge!r} (choose {', '.join(GAUGES)})")
    units = model.visible.name
    if model.visible.categorical:
        raise BoltzkitError(f"model {model.kind} has categorical (Potts) units: use "
                            "boltzkit.interpret.potts_couplings.potts_model_couplings or potts_energy_couplings")
    if isinstance(model, LayeredEnergy) and method != "sampling":
        return rbm_couplings(model, orders, method, gauge, index_sets, n_samples=n_samples, generator=generator,
                             **options)
    if units not in ("spin", "bernoulli"):
        raise BoltzkitError(f"model {model.kind}: the effective couplings (a generalized Ising "
                            f"model) need binary visible units, not {model.visible.values_text}")
    n_sites = int(model.n_visible)
    if gauge == "lattice-gas":
        return lattice_gas_couplings(model.free_energy, n_sites, orders, index_sets, units, model.dtype,
                                     model.device)
    if method not in ("exact", "sampling"):
        raise BoltzkitError(f"method {method!r} applies to RBMs only; use exact or sampling for a "
                            f"{model.kind} model")
    # options meant for the RBM methods (n_quadrature) do not apply to a generic energy
    return energy_couplings(model.free_energy, n_sites, orders, method, index_sets, n_samples, generator,
                            units, model.dtype, model.device, options.get("chunk_size"), options.get("progress"))
