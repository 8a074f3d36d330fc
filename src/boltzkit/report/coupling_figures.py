"""Figures of the interaction network a model learned, and the report's "Couplings" section.

* :func:`heatmap_figure`: the pair-coupling matrix J_ij (binary models, a diverging map centred on 0),
  or the Frobenius norm ||J_ij||_F of each (q, q) block (Potts models, zero-sum gauge; columns
  numbered from 1 as in alignments, binary sites from 0 as in the couplings files);
* the interaction network (nodes and the 2N strongest pairs as edges) is
  :func:`~boltzkit.report.network_figures.network_figure`;
* :func:`scatter_figure`: inferred vs true couplings of one order, with the diagonal;
* :func:`comparison_series`: the matched (true, inferred) values per order (1 = fields) that the
  scatter plots show, for binary couplings (the reference converted to their gauge) and Potts ones
  (both in the zero-sum gauge);
* :func:`write_coupling_figures`: the PNG files ``boltzkit couplings`` writes next to its output
  (heat map, network, scatter plots);
* :func:`couplings_section`: the report section (on the page after the weights); it appears when
  :attr:`~boltzkit.report.context.ReportOptions.couplings` is on, the model has binary or
  categorical visible units and the run's data file is a generated data set (``boltzkit
  generate``): heat map, network, scatter plots against the beta-scaled ground truth, epsilon per
  order.

Figures are built without ``pyplot`` (no global figure registry; Agg when saved), as in
:mod:`boltzkit.report.figures`.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.reconstruction import pair_entries
from boltzkit.interpret.couplings_file import (_sorted_terms, compare_potts_with_truth,
                                               compare_with_truth, file_format,
                                               potts_truth_zero_sum, truth_in_gauge)
from boltzkit.interpret.expansion import GAUGES, EffectiveCouplings, PottsCouplings
from boltzkit.interpret.potts_couplings import potts_model_couplings
from boltzkit.interpret.rbm_couplings import model_couplings
from boltzkit.io.atomic import atomic_path
from boltzkit.models.capabilities import LayeredEnergy
from boltzkit.report.context import ReportContext
from boltzkit.report.fragments import Section, figure_html, figure_png, table_html
from boltzkit.report.network_figures import network_figure, network_scores
from boltzkit.synthetic import io as synthetic_io

__all__ = ["heatmap_figure", "scatter_figure", "comparison_series", "write_coupling_figures",
           "section_couplings", "couplings_section", "ORDER_NAMES"]

ORDER_NAMES = {1: "fields", 2: "pairs", 3: "triplets"}
#: Largest number of binary sites (resp. q^N Potts configurations) the report enumerates exactly.
_REPORT_EXACT_SITES = 16
_REPORT_EXACT_CONFIGS = 1 << 16
#: Largest number of pair-coupling entries (pairs x q^2) the report computes.
_REPORT_MAX_PAIR_ENTRIES = 2_000_000
#: What a section catches to go on without its part (one note in the page's summary instead).
_EXPECTED = (BoltzkitError, OSError, ValueError, KeyError, TypeError, RuntimeError)
#: Visible spaces whose energy expands in couplings (sums over discrete configurations).
_DISCRETE_SPACES = ("bernoulli", "spin", "categorical")


def _order_name(k: int) -> str:
    return ORDER_NAMES.get(k, f"order {k}")


def heatmap_figure(couplings: EffectiveCouplings | PottsCouplings, title: str | None = None):
    """Heat map of the pair couplings (Potts: Frobenius norm per pair). Returns a Figure.

    Potts couplings are indexed by alignment column, numbered from 1 (as in alignments, the logos
    and the contact map); binary sites from 0, as in the couplings files."""
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    n = couplings.n_sites
    if isinstance(couplings, PottsCouplings):
        matrix, first, name = couplings.frobenius().cpu().numpy(), 1, "column"
        style = dict(cmap="viridis", vmin=0.0)
        label = "||J_ij||_F (zero-sum gauge)"
    else:
        matrix, first, name = couplings.pair_matrix().cpu().numpy(), 0, "site"
        vmax = float(np.abs(matrix).max()) or 1.0
        style = dict(cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        label = f"J_ij ({couplings.gauge} gauge)"
    # extent: cell (i, j) centred on (first + j, first + i), so ticks read as the indices
    im = ax.imshow(matrix, extent=(first - 0.5, first + n - 0.5, first + n - 0.5, first - 0.5),
                   **style)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=1))
    fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    ax.set_title(title or f"pair couplings ({couplings.method})")
    ax.set_xlabel(f"{name} j")
    ax.set_ylabel(f"{name} i")
    fig.tight_layout()
    return fig


def scatter_figure(true: np.ndarray, inferred: np.ndarray, name: str, epsilon: float | None = None):
    """Inferred vs true values of one order (1-D arrays of the same length), with y = x. Returns a Figure."""
    fig = Figure(figsize=(4.4, 4.2))
    ax = fig.add_subplot()
    ax.scatter(true, inferred, s=6, alpha=0.5)
    if len(true):
        lo, hi = float(min(true.min(), inferred.min())), float(max(true.max(), inferred.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    ax.set_xlabel(f"true ({name})")
    ax.set_ylabel(f"inferred ({name})")
    eps = "" if epsilon is None or math.isnan(epsilon) else f", ε = {epsilon:.3f}"
    ax.set_title(f"{name}: inferred vs true{eps}")
    fig.tight_layout()
    return fig


def comparison_series(couplings: EffectiveCouplings | PottsCouplings,
                      truth) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Matched (true, inferred) values per order (1 = fields), as 1-D float64 arrays.

    Binary couplings: the reference (a :class:`~boltzkit.synthetic.io.GroundTruth`) is expressed in the
    couplings' gauge; each inferred set is matched with its true coupling (0 where the truth has
    none). Potts couplings: both sides in the zero-sum gauge, every entry of the fields, of every pair
    i < j and of every inferred triplet.
    """
    series: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if isinstance(couplings, PottsCouplings):
        ref = potts_truth_zero_sum(truth)
        series[1] = (ref.fields.reshape(-1).numpy(), couplings.fields.double().reshape(-1).numpy())
        series[2] = (pair_entries(ref.couplings).reshape(-1).numpy(),
                     pair_entries(couplings.couplings).reshape(-1).numpy())
        for k, term in sorted(couplings.terms.items()):
            found = _sorted_terms(term.indices, term.values.double())
            true = _sorted_terms(ref.terms[k].indices, ref.terms[k].values) if k in ref.terms else {}
            zero = torch.zeros((couplings.n_states,) * k, dtype=torch.float64)
            series[k] = (torch.stack([true.get(key, zero) for key in found]).reshape(-1).numpy(),
                         torch.stack(list(found.values())).reshape(-1).numpy())
        return series
    ref = truth_in_gauge(truth, couplings.gauge)
    series[1] = (ref.fields.double().numpy(), couplings.fields.double().numpy())
    for k, term in sorted(couplings.couplings.items()):
        lookup: dict[tuple[int, ...], float] = {}
        if k in ref.couplings:
            idx, val = ref.couplings[k]
            lookup = dict(zip(map(tuple, torch.sort(idx.long(), 1).values.tolist()), val.double().tolist()))
        keys = torch.sort(term.indices.long(), 1).values.tolist()
        series[k] = (np.array([lookup.get(tuple(r), 0.0) for r in keys], dtype=np.float64),
                     term.values.double().numpy())
    return series


def write_coupling_figures(out: str | os.PathLike, couplings: EffectiveCouplings | PottsCouplings,
                           truth=None, epsilon: dict[int, float] | None = None, *,
                           gap_state: int | None = 0) -> list[str]:
    """Write ``<stem>_heatmap.png``, ``<stem>_network.png`` (the interaction network: the 2N
    strongest pairs as edges, :func:`~boltzkit.report.network_figures.network_figure`) and, with a
    reference, ``<stem>_scatter_fields.png`` and ``<stem>_scatter_order<k>.png`` next to ``out``
    (its suffix dropped). Returns the paths written.

    ``gap_state``: the Potts state left out of the network's scores (the gap of alignments, code 0,
    as in contact prediction); None keeps every state (e.g. generated Potts data, which have no gap).
    """
    stem = Path(out).with_suffix("")
    written = []

    def save(fig, path: Path) -> None:
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(figure_png(fig, dpi=120))
        written.append(str(path))

    save(heatmap_figure(couplings), Path(f"{stem}_heatmap.png"))
    save(network_figure(network_scores(couplings, gap_state)), Path(f"{stem}_network.png"))
    if truth is None:
        return written
    for k, (true, inferred) in comparison_series(couplings, truth).items():
        fig = scatter_figure(true, inferred, _order_name(k), None if epsilon is None else epsilon.get(k))
        save(fig, Path(f"{stem}_scatter_{'fields' if k == 1 else f'order{k}'}.png"))
    return written


# ---------------------------------------------------------------------------- report section
def _reference(ctx: ReportContext) -> tuple[Any, str] | tuple[None, None]:
    """(beta-scaled ground truth, path) when the run's data file is a generated data set."""
    path = ctx.config.get("data", {}).get("path")
    if not path or not Path(path).exists() or not h5py.is_hdf5(path):  # FASTA, .npy, IDX: no truth
        return None, None
    try:
        if file_format(path) != synthetic_io.FORMAT:
            return None, None
        return synthetic_io.ground_truth(path), path
    except _EXPECTED as e:  # a report goes on without its reference
        ctx.notes.append(f"couplings: the ground truth of {path} cannot be read ({e})")
        return None, None


def section_couplings(model, truth=None, n_samples: int = 100_000, seed: int = 0):
    """Couplings of ``model`` for the report, by the best affordable method: returns
    (couplings, errors or None, method text). Orders: pairs, and triplets when the reference has
    some (binary) or exact enumeration is cheap (categorical).

    Exact enumeration for small models; beyond, the Gaussian expansion of the hidden layer for
    models with a layered energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`, RBMs),
    else sampling of the energy.
    """
    generator = torch.Generator().manual_seed(seed)
    space = model.visible
    n, q = int(model.n_visible), space.n_states
    if math.comb(n, 2) * q * q > _REPORT_MAX_PAIR_ENTRIES:
        raise BoltzkitError(f"{n} sites: too many pairs for the report's couplings section "
                            "(run boltzkit couplings on the run file)")
    expansion = "gaussian" if isinstance(model, LayeredEnergy) else "sampling"
    if space.categorical:
        method = "exact" if q ** n <= _REPORT_EXACT_CONFIGS else expansion
        orders = 3 if method == "exact" and n >= 3 else 2
        found = potts_model_couplings(model, orders, method, n_samples=n_samples, generator=generator)
        comparable = truth is not None and truth.convention == "potts" and truth.n_sites == n
        return found, compare_potts_with_truth(found, truth) if comparable else None, method
    gauge = truth.convention if truth is not None and truth.convention in GAUGES else "ising"
    want3 = truth is not None and 3 in truth.couplings and n >= 3
    method = "exact" if n <= _REPORT_EXACT_SITES else expansion
    orders = 3 if want3 and (method != "sampling") and math.comb(n, 3) <= 200_000 else 2
    found = model_couplings(model, orders, method, gauge, n_samples=n_samples, generator=generator)
    comparable = truth is not None and truth.n_sites == n and truth.convention in GAUGES
    return found, compare_with_truth(found, truth) if comparable else None, method


def _network_caption(potts: bool, gap: int | None) -> str:
    """What the network figure of the couplings section shows."""
    scores = ("Frobenius norm of the zero-sum q × q blocks"
              + (" without the gap state" if gap is not None else "")
              + ", with the average product correction, as in contact prediction" if potts
              else "|J_ij|; red J > 0, blue J < 0")
    return (f"The interaction network: the 2N strongest pairs as edges ({scores}), width "
            "proportional to the strength; left: the sites in order on a circle, right: a "
            "force-directed layout of the edges.")


def couplings_section(ctx: ReportContext) -> Section | None:
    """The report section: heat map and network of the pair couplings, scatter plots per order against the ground
    truth of the run's (generated) data file, and the reconstruction errors; None without a truth
    or for visible units that are neither binary nor categorical."""
    if not ctx.options.couplings:
        return None
    model = ctx.model.to("cpu")
    if model.visible.name not in _DISCRETE_SPACES:  # the expansion is over discrete configurations
        ctx.notes.append(f"no couplings section: effective couplings expand the energy over discrete "
                         f"configurations, and this model has {model.visible.values_text}")
        return None
    truth, truth_path = _reference(ctx)
    if truth is None:  # only for generated data: on real data (MNIST: N = 784) the expansion is costly
        return None
    try:
        found, errors, method = section_couplings(model, truth, seed=ctx.options.seed)
    except _EXPECTED as e:  # e.g. a model too large to enumerate, or without an energy expansion
        ctx.notes.append(f"no couplings section: {e}")
        return None
    potts = isinstance(found, PottsCouplings)
    gauge = "zero-sum" if potts else found.gauge
    # the gap state (code 0) only where the run's alphabet has one: generated Potts data have none
    gap = 0 if str(ctx.config.get("alphabet") or "").startswith("-") else None
    parts = [figure_html(heatmap_figure(found), "pair couplings",
                         "Pair couplings of the last model"
                         + (" (Frobenius norm of each q × q block, zero-sum gauge)" if potts
                            else f" ({html.escape(gauge)} gauge)")
                         + f", method {html.escape(method)}."),
             figure_html(network_figure(network_scores(found, gap)), "interaction network",
                         _network_caption(potts, gap))]
    if errors is not None:
        eps = {k: e.epsilon for k, e in errors.items()}
        figs = [figure_html(scatter_figure(t, h, _order_name(k), eps.get(k)), f"{_order_name(k)} scatter")
                for k, (t, h) in comparison_series(found, truth).items()]
        parts.append('<div class="row">' + "".join(figs) + "</div>")
        rows = [(_order_name(k), e.epsilon, e.rmse, e.n_terms) for k, e in errors.items()]
        parts.append(table_html(rows, ("order", "epsilon", "rmse", "terms"),
                                "Reconstruction error vs the beta-scaled ground truth"))
        parts.append(f'<p class="caption">Reference: the generating Hamiltonian of {html.escape(str(truth_path))} '
                     f"(beta = {truth.beta:g}, couplings multiplied by beta), compared in the "
                     f"{html.escape(gauge)} gauge; epsilon = ||J_hat - J|| / ||J|| over all sets of "
                     "the order (spurious couplings on non-edges count).</p>")
    return Section("Couplings", "".join(parts))
