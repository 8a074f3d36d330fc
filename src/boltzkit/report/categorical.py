"""Report sections of models with categorical visible units (``model.visible.categorical``:
Potts RBMs, Potts models): sequences and logos, C_ij(a, b) of data vs model, and the DCA contact
map.

They are part of the default page of :mod:`boltzkit.report.html` and return ``None`` for binary
visible units, whose own samples / PCA / moments sections (:mod:`boltzkit.report.sections`) step
aside for categorical runs in turn.

* :func:`sequences_section`: sequence logos of the (reweighted) training alignment and of the
  generated samples, and a few sequences of each as text;
* :func:`correlations_section`: the one-site frequencies f_i(a) and the connected correlations
  C_ij(a, b) of generated samples against the reweighted training data (the bmDCA check), with
  the Pearson r and slope;
* :func:`contact_map_section`: precision at L/5, L/2, L, 2L and the contact map of the top 2L
  pairs, when a ``*_struct.dat`` table is given (``ReportOptions.struct``) or named in the run's
  config (``struct``), with the same pairs drawn as a network on the structure
  (:func:`~boltzkit.report.network_figures.network_figure`).

One convention for every figure of alignment columns (here, the TreeRBM logos of
:mod:`~boltzkit.report.tree_figures`, the contact map and the coupling figures): columns are
numbered from 1, as in alignments (:func:`column_axis`), and letters take the colours of
:func:`letter_colors`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from boltzkit.data.msa import STATE_SYMBOLS
from boltzkit.evaluation.contacts import (DEFAULT_TOPS, contact_precision, frobenius_scores,
                                         model_contact_couplings, read_struct,
                                         require_eligible_pairs, top_count)
from boltzkit.evaluation.moments import categorical_moments
from boltzkit.report.contact_figures import contact_map_figure
from boltzkit.report.figures import diagonal_scatter
from boltzkit.report.context import ReportContext
from boltzkit.report.fragments import Section, figure_html, table_html
from boltzkit.report.network_figures import NetworkScores, network_figure

__all__ = ["LETTER_COLORS", "column_axis", "contact_map_section", "correlations_section",
           "letter_colors", "logo_glyphs", "logo_figure", "moments_scatter_figure",
           "sequences_section"]

_SEQUENCES_SHOWN = 12

#: Letter colours of the logos (proteins by chemistry; nucleotides one colour each; gap grey).
LETTER_COLORS = {**{c: "#222222" for c in "AVLIMFWC"}, **{c: "#c0392b" for c in "DE"},
                 **{c: "#2c5fa8" for c in "KRH"}, **{c: "#2e8b57" for c in "STNQGYP"},
                 "U": "#c0392b", "T": "#c0392b", "-": "#aaaaaa"}


def letter_colors(alphabet: str) -> list:
    """The colour of each of the q letters of ``alphabet`` in every logo of the report.

    Amino acids and nucleotides by :data:`LETTER_COLORS` (chemistry); any other alphabet (codes
    shown as digits, categorical tables) one colour per state (tab10 up to 10 states, tab20 up to
    20, then evenly spaced hues). The gap ``-`` is grey in both.
    """
    if all(c.upper() in LETTER_COLORS for c in alphabet):
        return [LETTER_COLORS[c.upper()] for c in alphabet]
    q = len(alphabet)
    if q <= 20:
        cmap = matplotlib.colormaps["tab10" if q <= 10 else "tab20"]
        colors = [cmap(a) for a in range(q)]
    else:
        colors = [matplotlib.colormaps["hsv"](a / q) for a in range(q)]
    return [LETTER_COLORS["-"] if c == "-" else color for c, color in zip(alphabet, colors)]


def column_axis(ax, length: int, label: str = "column i") -> None:
    """The x axis of a figure of ``length`` alignment columns drawn at x = 1..length: integer
    ticks numbered from 1, as in alignments and the contact map."""
    ax.set_xlim(0.4, length + 0.6)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True, min_n_ticks=1))
    ax.set_xlabel(f"{label} (from 1)")


def _alphabet(ctx: ReportContext) -> str:
    """The run's letters, or digits / letters standing for the codes when it has none."""
    letters, q = ctx.config.get("alphabet"), ctx.model.visible.n_states
    return letters if letters and len(letters) == q else STATE_SYMBOLS[:q]


# ------------------------------------------------------------------------------ figures
def logo_glyphs(frequencies: np.ndarray, letters: str, colors: Sequence,
                start: int = 0) -> list[PathPatch]:
    """The letters of one sequence logo, as patches: at column i (drawn at x = start + i) the
    letters stacked by frequency, smallest at the bottom, with total height the information
    content log2(q) - H_i (bits), H_i = -sum_a f_i(a) log2 f_i(a) (Schneider & Stephens 1990,
    without small-sample correction). Letters lower than 1e-3 bits are left out.

    Parameters
    ----------
    frequencies : array of shape (L, q), rows summing to 1
    letters, colors : the letter and the colour of each of the q states
    """
    f = np.clip(np.asarray(frequencies, dtype=np.float64), 0.0, 1.0)
    entropy = -(f * np.log2(np.where(f > 0, f, 1.0))).sum(1)
    heights = f * np.clip(math.log2(f.shape[1]) - entropy, 0.0, None)[:, None]
    font = FontProperties(family="DejaVu Sans Mono", weight="bold")
    glyphs = [TextPath((0, 0), c, size=1, prop=font) for c in letters]
    patches = []
    for i, column in enumerate(heights):
        y = 0.0
        for a in np.argsort(column, kind="stable"):
            if column[a] < 1e-3:
                continue
            box = glyphs[a].get_extents()
            transform = (Affine2D().translate(-box.x0, -box.y0)
                         .scale(0.9 / max(box.width, 1e-6), column[a] / max(box.height, 1e-6))
                         .translate(start + i - 0.45, y))
            patches.append(PathPatch(transform.transform_path(glyphs[a]), color=colors[a], lw=0))
            y += column[a]
    return patches


def logo_figure(frequencies: list[np.ndarray], titles: list[str], alphabet: str):
    """Sequence logos (:func:`logo_glyphs`), one row per array of ``frequencies`` (each of shape
    (L, q), rows summing to 1), with one title each; ``alphabet``: the q letters (coloured by
    :func:`letter_colors`). Columns are numbered from 1 (:func:`column_axis`)."""
    length, q = frequencies[0].shape
    colors = letter_colors(alphabet)
    fig = Figure(figsize=(min(3.0 + 0.16 * length, 22.0), 2.3 * len(frequencies)),
                 layout="constrained")
    axes = fig.subplots(len(frequencies), 1, squeeze=False)[:, 0]
    for ax, f, title in zip(axes, frequencies, titles, strict=True):
        # one collection per logo: thousands of separate patches make layout and drawing slow
        ax.add_collection(PatchCollection(logo_glyphs(f, alphabet, colors, start=1),
                                          match_original=True), autolim=False)
        column_axis(ax, length)
        ax.set_ylim(0, math.log2(q))
        ax.set_ylabel("bits")
        ax.set_title(title, fontsize="medium")
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return fig


def moments_scatter_figure(moments):
    """Two panels: model vs data f_i(a), and model vs data C_ij(a, b) (i < j), with y = x, the
    Pearson r and the slope in the titles. ``moments`` is a
    :class:`~boltzkit.evaluation.moments.MomentComparison`."""
    fig = Figure(figsize=(9.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = ((moments.data_means, moments.model_means, r"frequencies $f_i(a)$",
               moments.means_pearson, moments.means_slope),
              (moments.data_correlations, moments.model_correlations,
               r"connected correlations $C_{ij}(a,b)$, $i<j$", moments.correlations_pearson,
               moments.correlations_slope))
    for ax, (d, m, name, r, slope) in zip(axes, panels, strict=True):
        diagonal_scatter(ax, np.asarray(d), np.asarray(m), margin=0.03, s=5, alpha=0.4)
        ax.set_xlabel("data (reweighted)")
        ax.set_ylabel("generated samples")
        ax.set_title(f"{name}\nPearson r = {r:.3f}, slope = {slope:.3f}", fontsize="medium")
    return fig


# ------------------------------------------------------------------------------ sections
def _first_sequences(what: str, codes: np.ndarray, alphabet: str) -> str:
    """The first ``_SEQUENCES_SHOWN`` rows of ``codes`` as text, under a caption."""
    rows = np.asarray(codes)[:_SEQUENCES_SHOWN]
    text = html.escape("\n".join("".join(alphabet[int(c)] for c in row) for row in rows))
    style = ('style="font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8em;'
             'overflow-x:auto;background:#f7f7f7;padding:.4em;margin:.3em 0"')
    return (f'<p class="caption">First {_SEQUENCES_SHOWN} {what} sequences</p>'
            f"<pre {style}>{text}</pre>")


def sequences_section(ctx: ReportContext) -> Section | None:
    """Logos of the training alignment (reweighted) and of the generated samples, and a few
    sequences of each."""
    if not ctx.categorical:
        return None
    alphabet, q, o = _alphabet(ctx), ctx.model.visible.n_states, ctx.options
    samples = np.asarray(ctx.samples).astype(np.int64)
    freqs, titles = [], []
    if ctx.baseline_data is not None:
        rows, weights = ctx.baseline_data
        freqs.append(categorical_moments(rows, q, weights)[0].numpy())
        titles.append(f"training alignment ({len(rows)} sequences"
                      + (", sequence weights)" if weights is not None else ")"))
    freqs.append(categorical_moments(samples, q)[0].numpy())
    titles.append(f"generated samples ({len(samples)})")
    parts = [figure_html(logo_figure(freqs, titles, alphabet), "sequence logos")]
    if ctx.data_sample[0] is not None:
        parts.append(_first_sequences("training", ctx.data_sample[0], alphabet))
    parts.append(_first_sequences("generated", samples, alphabet))
    caption = (f"Generated: {o.n_samples} independent chains of the last model (update "
               f"{ctx.last_update}), {o.gibbs_steps} {ctx.step_name} "
               f"from uniformly random sequences, seed {o.seed}. Alphabet {alphabet!r} (index 0 = gap). "
               "Letter heights: f_i(a) times the information content of the column (bits).")
    return Section("Sequences", "".join(parts) + f'<p class="caption">{html.escape(caption)}</p>')


def correlations_section(ctx: ReportContext) -> Section | None:
    """f_i(a) and C_ij(a, b) of generated samples vs the reweighted training data."""
    if not ctx.categorical or ctx.moments is None:
        return None
    m, o = ctx.moments, ctx.options
    table = table_html([("frequencies f_i(a)", m.means_pearson, m.means_slope, len(m.data_means)),
                        ("correlations C_ij(a,b), i < j", m.correlations_pearson,
                         m.correlations_slope, len(m.data_correlations))],
                       ("moment", "Pearson r", "slope (model on data)", "values"))
    rows, weights = ctx.baseline_data
    caption = (f"C_ij(a,b) = f_ij(a,b) − f_i(a) f_j(b) for all q² state pairs (gap included) of "
               f"the {len(rows)} training sequences"
               + (" weighted by their sequence weights" if weights is not None else "")
               + f" (no pseudocount) against {o.n_samples} generated samples ({o.gibbs_steps} "
               f"steps from random starts). bmDCA's usual target is r ≥ 0.95.")
    return Section("Correlations C_ij", figure_html(moments_scatter_figure(m),
                                                    "C_ij of samples vs data", html.escape(caption))
                   + table)


def _struct_path(ctx: ReportContext) -> str | None:
    return (ctx.options.struct or ctx.config.get("struct")
            or ctx.config.get("data", {}).get("struct"))


def contact_map_section(ctx: ReportContext) -> Section | None:
    """Contact precision and the contact map of the top 2L pairs (needs a ``*_struct.dat``)."""
    if not ctx.categorical:
        return None
    struct = _struct_path(ctx)
    if struct is None:
        ctx.notes.append("no contact map: give the distance table with --struct FILE")
        return None
    o = ctx.options
    model = ctx.model.to("cpu")
    couplings, how = model_contact_couplings(model)
    contact_map = read_struct(struct, o.distance_cutoff, length=model.n_visible)
    n_pairs = require_eligible_pairs(contact_map, struct, o.min_separation)
    scores = frobenius_scores(couplings)
    precision = contact_precision(scores, contact_map, o.min_separation)
    # pairs the precision is over: k of the top, at most the eligible pairs
    table = table_html([(top, min(top_count(top, contact_map.length), n_pairs), precision[top])
                        for top in DEFAULT_TOPS], ("top", "pairs", "precision"))
    fig = contact_map_figure(scores, contact_map, "2L", o.min_separation)
    # the same scores and pairs as the contact map: the network is the prediction, drawn
    # (pairs without a known distance are left out of both)
    known = np.where(contact_map.known, np.asarray(scores, dtype=np.float64), np.nan)
    network = network_figure(NetworkScores(known, False, "APC-corrected Frobenius norms", 1,
                                           "column"),
                             top_count("2L", contact_map.length),
                             contact_map=contact_map, min_separation=o.min_separation,
                             title=f"The top 2L pairs as a network ({how})")
    caption = (f"Scores: {how}, zero-sum gauge, Frobenius norm without the gap state, APC. Pairs "
               f"j − i ≥ {o.min_separation} with a known distance in {struct}; contact = distance "
               f"< {o.distance_cutoff:g} Å ({contact_map.n_contacts(o.min_separation)} contacts). "
               "Grey: true contacts (both triangles); upper triangle: the top 2L predictions, "
               "blue when a contact, red otherwise.")
    network_caption = ("The same top 2L pairs as edges between the columns (numbered from 1), "
                       "width proportional to the score, blue when a contact and red otherwise; "
                       "left: residues placed by their structure (multidimensional scaling of "
                       "the distance table; grey: the chain), right: in order on a circle.")
    return Section("Contact map", figure_html(fig, "contact map", html.escape(caption)) + table
                   + figure_html(network, "interaction network on the structure",
                                 html.escape(network_caption)))
