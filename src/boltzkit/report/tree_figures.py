"""Figures and report sections of the free-energy landscape and of the TreeRBM hierarchy.

* :func:`dendrogram_figure` — the tree of :class:`~boltzkit.interpret.tree.HierarchicalTree`, data
  points as leaves, with one colour strip per label family (hues, :func:`label_colors`) and per
  recovered level (grey shades, :func:`cluster_colors`: the two palettes share no colour, so that
  a cluster is never mistaken for a label);
* :func:`basin_pca_figure` — the data on their principal directions, coloured by TAP basin, with the
  fixed points projected;
* :func:`fixed_points_figure` — fixed points as images (``image_shape``), as magnetisation profiles
  (binary data without an image shape) or as site x state profiles (Potts);
* :func:`landscape_figure` — the last two side by side (the PNG of ``boltzkit landscape``);
* :func:`clusters_trace_figure` — number of fixed-point clusters along the walk;
* :func:`sequence_logo_figure`, :func:`consensus_sequences` — Potts fixed points as sequence logos
  (columns numbered from 1 and letters coloured as in every logo of the report:
  :func:`~boltzkit.report.categorical.column_axis`, :func:`~boltzkit.report.categorical.letter_colors`)
  and as sequences;
* :func:`landscape_section`, :func:`tree_section` — builders of the HTML report (see
  :mod:`boltzkit.report.html`): they take the report context and return a ``Section`` (a title and
  an HTML fragment) or None when they do not apply. Both need the TAP equations of a layered
  energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`: RBMs of every visible kind); for
  other models a note on the page says so.

As in :mod:`boltzkit.report.figures`, figures are built without ``pyplot`` (Agg when saved).
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from boltzkit.interpret.landscape import free_energy_landscape
from boltzkit.interpret.tree import tree_from_checkpoints
from boltzkit.interpret.tree_metrics import level_scores, valid_label_mask
from boltzkit.io.trajectory import load_models
from boltzkit.models.capabilities import LayeredEnergy
from boltzkit.report.categorical import column_axis, letter_colors, logo_glyphs
from boltzkit.report.context import ReportContext
from boltzkit.report.figures import as_numpy, pca_projection
from boltzkit.report.fragments import Section, figure_html, table_html

__all__ = ["dendrogram_figure", "basin_pca_figure", "fixed_points_figure", "landscape_figure",
           "clusters_trace_figure", "landscape_section", "tree_section", "consensus_sequences",
           "sequence_logo_figure", "label_colors", "cluster_colors", "label_set_name"]

_OTHER = "#c8c8c8"
#: Font size (points) of the dendrogram's ticks, strip names and legend: readable at 100 dpi.
_TREE_FONT = 9
#: Grey shades of the cluster strips, light and dark alternating so that neighbouring blocks differ.
_CLUSTER_SHADES = (0.82, 0.35, 0.62, 0.18, 0.72, 0.48)


def _flat(x: np.ndarray) -> np.ndarray:
    x = as_numpy(x).astype(np.float64)
    return x.reshape(len(x), int(np.prod(x.shape[1:])))  # also for no points at all


def _label_palette(n_classes: int) -> np.ndarray:
    """RGBA of shape (n_classes, 4): tab10 then tab20's light tones, their greys left out (greys
    are the clusters'), then hues spaced by the golden ratio for more than 18 classes."""
    tab20 = matplotlib.colormaps["tab20"](np.arange(20))
    hues = np.r_[tab20[0:14:2], tab20[16:20:2], tab20[1:14:2], tab20[17:20:2]]  # no 14, 15: greys
    if n_classes <= len(hues):
        return hues[:n_classes]
    return matplotlib.colormaps["hsv"]((np.arange(n_classes) * 0.618034) % 1.0)


def label_colors(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, RGBA per point) of a label strip: one hue per class (:func:`_label_palette`),
    classes sorted as ``np.unique`` sorts them. No label colour is grey, the clusters' palette
    (:func:`cluster_colors`)."""
    classes, index = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return classes, _label_palette(len(classes))[index]


def cluster_colors(clusters: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """RGBA per point (shape (n_points, 4)) of a cluster strip: grey shades (:data:`_CLUSTER_SHADES`),
    given to the clusters in the order they appear along ``order`` (the leaves, top to bottom;
    default the points' order), so that neighbouring blocks of the strip alternate light and dark.
    Greys only: no cluster shares a colour with a label (:func:`label_colors`)."""
    clusters = np.asarray(clusters)
    along = clusters if order is None else clusters[np.asarray(order)]
    _, first = np.unique(along, return_index=True)
    rank = {c: r for r, c in enumerate(along[np.sort(first)])}
    shades = np.array([_CLUSTER_SHADES[rank[c] % len(_CLUSTER_SHADES)] for c in clusters])
    return np.c_[np.repeat(shades[:, None], 3, axis=1), np.ones(len(clusters))]


# ------------------------------------------------------------------------------ PCA of basins
def _one_hot_if_codes(data: np.ndarray, fixed_points: np.ndarray) -> np.ndarray:
    """Potts codes (n, N) as one-hot (n, N, q) when the fixed points are profiles (k, N, q)."""
    data, fp = as_numpy(data), as_numpy(fixed_points)
    return np.eye(fp.shape[2])[data.astype(np.int64)] if fp.ndim == 3 and data.ndim == 2 else data


def basin_pca_figure(data: np.ndarray, basin: np.ndarray, fixed_points: np.ndarray,
                     free_energy: np.ndarray | None = None, max_basins: int = 10, ax=None) -> Figure:
    """Data on their first two principal directions, coloured by basin; fixed points as stars.

    Parameters
    ----------
    data : ndarray of shape (n, N) in the model's units (Potts: codes, or one-hot (n, N, q))
    basin : ndarray of shape (n,), rank of the fixed point reached (-1: not converged)
    fixed_points : ndarray of shape (k, N) (or (k, N, q)), ranked like ``basin``
    max_basins : the largest basins get their own colour, the others are grey
    """
    fp = _flat(fixed_points)
    basin = as_numpy(basin).astype(np.int64)
    projection = pca_projection(_flat(_one_hot_if_codes(data, fixed_points)), fp, 2)
    px, pf = projection.data, projection.samples
    if px.shape[1] == 1:
        px, pf = np.c_[px, np.zeros(len(px))], np.c_[pf, np.zeros(len(pf))]
    if ax is None:
        ax = Figure(figsize=(5.4, 4.6), layout="constrained").add_subplot()
    sizes = np.bincount(basin[basin >= 0], minlength=len(fp)) if len(fp) else np.zeros(0, int)
    shown = [int(b) for b in np.argsort(-sizes, kind="stable")[:max_basins] if sizes[b] > 0]
    cmap = matplotlib.colormaps["tab10"]
    other = ~np.isin(basin, shown)
    ax.scatter(px[other, 0], px[other, 1], s=6, color=_OTHER, linewidths=0, rasterized=True,
               label="other basins" if (other & (basin >= 0)).any() else None)
    for j, b in enumerate(shown):
        sel = basin == b
        lab = f"basin {b} ({sel.sum()})" + ("" if free_energy is None
                                            else f", F={float(free_energy[b]):.2f}")
        ax.scatter(px[sel, 0], px[sel, 1], s=7, color=cmap(j % 10), linewidths=0, alpha=0.8,
                   rasterized=True, label=lab)
        ax.scatter(pf[b, 0], pf[b, 1], s=140, marker="*", color=cmap(j % 10), edgecolors="k",
                   linewidths=0.8, zorder=3)
    ax.set_xlabel("PC1 of the data")
    ax.set_ylabel("PC2 of the data")
    ax.set_title(f"Data by TAP basin ({len(fp)} fixed points; stars)", fontsize="medium")
    if shown:
        ax.legend(fontsize="x-small", markerscale=1.5, loc="best", framealpha=0.7)
    return ax.figure


# ------------------------------------------------------------------------------ fixed points
def fixed_points_figure(fixed_points: np.ndarray, free_energy: np.ndarray | None = None,
                        image_shape: tuple[int, int] | None = None,
                        basin_size: np.ndarray | None = None, max_points: int = 16,
                        alphabet: str | None = None, fig: Figure | None = None,
                        titles: list[str] | None = None) -> Figure:
    """The first ``max_points`` fixed points (lowest free energy first).

    * binary with ``image_shape``: each as a grey-level image of its magnetisations (black = 1);
    * binary without: a heat map, one row per fixed point, of the magnetisation of every site;
    * Potts (k, N, q): one panel per fixed point, the site x state profile m_iμ (states on the
      vertical axis, labelled by ``alphabet`` when given).

    Magnetisations in ±1 units are shown as (1 + m) / 2. ``titles`` replaces the default label
    of each fixed point (``#j F=... n=...``).
    """
    fp = as_numpy(fixed_points).astype(np.float64)[:max_points]
    k = len(fp)
    titles = [] if titles is None else [str(t) for t in titles[:k]]
    titles += [f"#{j}" + ("" if free_energy is None else f" F={float(free_energy[j]):.2f}")
               + ("" if basin_size is None else f" n={int(basin_size[j])}")
               for j in range(len(titles), k)]
    if fp.ndim == 2 and fp.size and fp.min() < -1e-9:
        fp = (1 + fp) / 2
    if fp.ndim == 3:  # Potts profiles
        q = fp.shape[2]
        fig = fig or Figure(figsize=(min(12.0, 2 + 0.06 * fp.shape[1]), 0.9 + 1.0 * max(k, 1)),
                            layout="constrained")
        axes = fig.subplots(max(k, 1), 1, squeeze=False)[:, 0]
        for ax in axes[k:]:  # no fixed point: one empty panel
            ax.set_axis_off()
        for j, ax in enumerate(axes[:k]):
            # extent: column i drawn at x = i + 1, numbered from 1 as in alignments
            ax.imshow(fp[j].T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
                      extent=(0.5, fp.shape[1] + 0.5, q - 0.5, -0.5))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True, min_n_ticks=1))
            ax.set_yticks(range(q))
            ax.set_yticklabels(list(alphabet) if alphabet and len(alphabet) == q else range(q),
                               fontsize=5)
            ax.set_title(titles[j], fontsize="x-small", loc="left")
            if j < k - 1:
                ax.set_xticks([])
        axes[-1].set_xlabel("column (from 1)")
        fig.suptitle("Fixed-point profiles $m_{i\\mu}$", fontsize="medium")
        return fig
    if image_shape is not None:
        n_cols = int(np.ceil(np.sqrt(max(k, 1))))
        n_rows = int(np.ceil(max(k, 1) / n_cols))
        fig = fig or Figure(figsize=(1.5 * n_cols + 0.4, 1.6 * n_rows + 0.5), layout="constrained")
        axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
        for j, ax in enumerate(axes):
            ax.set_axis_off()
            if j < k:
                ax.imshow(fp[j].reshape(image_shape), cmap="Greys", vmin=0, vmax=1,
                          interpolation="nearest")
                ax.set_title(titles[j], fontsize=6)
        fig.suptitle("Fixed points (magnetisations)", fontsize="medium")
        return fig
    fig = fig or Figure(figsize=(7.0, 1.2 + 0.28 * max(k, 1)), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(fp if k else np.zeros((1, 1)), aspect="auto", cmap="Greys", vmin=0, vmax=1,
                   interpolation="nearest")
    ax.set_yticks(range(k))
    ax.set_yticklabels(titles, fontsize=6)
    ax.set_xlabel("site")
    fig.colorbar(im, ax=ax, label="magnetisation", shrink=0.8)
    ax.set_title("Fixed points (magnetisation profiles)", fontsize="medium")
    return fig


def landscape_figure(data: np.ndarray, landscape, image_shape: tuple[int, int] | None = None,
                     max_points: int = 16, alphabet: str | None = None) -> Figure:
    """PCA of the data by basin (left) and the lowest fixed points (right) of a
    :class:`~boltzkit.interpret.landscape.Landscape`."""
    fig = Figure(figsize=(12.0, 5.0), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.1])
    basin_pca_figure(data, landscape.basin, landscape.visible, landscape.free_energy,
                     ax=left.add_subplot())
    fixed_points_figure(landscape.visible, landscape.free_energy, image_shape,
                        landscape.basin_size, max_points, alphabet, fig=right)
    return fig


# ------------------------------------------------------------------------------ the tree
def dendrogram_figure(tree, labels: Mapping[str, np.ndarray] | np.ndarray | None = None,
                      title: str | None = None, show_levels: bool = True,
                      legend_title: str | None = None) -> Figure:
    """The recovered hierarchy as a rectangular dendrogram, root on the left, data points as the
    leaves on the right, followed by colour strips: one per label family (``labels``; hues,
    :func:`label_colors`) and, with ``show_levels``, one per recovered level (grey shades,
    :func:`cluster_colors`).

    Parameters
    ----------
    tree : HierarchicalTree
    labels : labels of the data points (one array, or {family name: array})
    legend_title : the title of the legend of the first label family (default: its name with
        separators as spaces, :func:`readable_name`, or "label" for one array); the legend sits
        outside the tree, right of the strips.
    """
    a = tree.assignments()
    n, n_levels = a.shape
    y_of_point = np.empty(n)
    # the points sorted along the tree, by cluster at every level, root side first (lexsort's
    # last key, the first level, is the primary one)
    y_of_point[np.lexsort(a.T[::-1])] = np.arange(n)
    strips = _dendrogram_strips(tree, a, labels, show_levels)
    fig = Figure(figsize=(8.0 + 0.4 * len(strips), 7.0), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[6.0, max(0.35 * len(strips), 0.3)], wspace=0.0)
    ax = fig.add_subplot(gs[0, 0])
    _draw_tree(ax, tree, a, y_of_point)
    _label_levels(ax, tree)
    ax.set_title(title or f"TreeRBM hierarchy ({n} points, {n_levels} levels)", fontsize="medium")
    if strips:
        _draw_strips(fig.add_subplot(gs[0, 1], sharey=ax), strips, y_of_point)
        if strips[0][2] == "label":  # legend of the first label family when it has few classes
            _strip_legend(fig, legend_title or readable_name(strips[0][0]), strips[0][1])
    return fig


def readable_name(name: str) -> str:
    """A label family's name as a legend title: a file stem's separators as spaces
    ("hgd_super_pop" -> "hgd super pop")."""
    return " ".join(name.replace("_", " ").replace("-", " ").split()) or "label"


def _dendrogram_strips(tree, a: np.ndarray, labels: Mapping[str, np.ndarray] | np.ndarray | None,
                       show_levels: bool) -> list[tuple[str, np.ndarray, str]]:
    """The colour strips (name, values of shape (n_points,), "label" or "cluster") of
    :func:`dendrogram_figure`: the label families, then (``show_levels``) recovered levels, for
    ``a`` of shape (n_points, n_levels) the cluster of each point at each level."""
    if labels is not None and not isinstance(labels, Mapping):
        labels = {"label": labels}
    strips = [(str(k), np.asarray(v), "label") for k, v in (labels or {}).items()]
    if show_levels:
        n_levels = a.shape[1]
        # at most 10 recovered levels (evenly spread, the deepest always shown)
        shown = sorted(set(np.linspace(n_levels - 1, 0, min(n_levels, 10)).round().astype(int)))
        strips += [(f"L{l + 1} ({tree.levels[l].n_clusters})", a[:, l], "cluster") for l in shown]
    return strips


def _tree_lines(tree, a: np.ndarray, y_of_point: np.ndarray) -> list[tuple]:
    """Polylines of the dendrogram, each a tuple of (x, y) points.

    Node positions: x = depth (level index + 1; the root at 0), y = the mean y of its points
    (``y_of_point``, shape (n_points,), the row of each point; ``a`` as in
    :func:`_dendrogram_strips`). The last level's clusters end in a vertical line spanning their
    points.
    """
    n, n_levels = a.shape
    top_single = tree.levels[0].n_clusters == 1  # then the first level is the root itself
    heights = [np.array([y_of_point[a[:, l] == c].mean() for c in range(level.n_clusters)])
               for l, level in enumerate(tree.levels)]
    lines = [] if top_single else [((0, (n - 1) / 2), (0, heights[0].min()), (0, heights[0].max()))]
    for l, ys in enumerate(heights):
        if l > 0:  # from the parent's height to the cluster's, at the parent's depth
            lines += [((l, heights[l - 1][p]), (l, y)) for p, y in zip(tree.parents(l), ys)]
        if l > 0 or not top_single:
            lines += [((l, y), (l + 1, y)) for y in ys]
    # leaves: from the last level's clusters to the points
    for c in range(tree.levels[-1].n_clusters):
        pts = y_of_point[a[:, -1] == c]
        lines.append(((n_levels, pts.min()), (n_levels, pts.max())))
    return lines


def _draw_tree(ax, tree, a: np.ndarray, y_of_point: np.ndarray) -> None:
    """The tree's lines and the data points as its leaves (arguments as in :func:`_tree_lines`)."""
    n, n_levels = a.shape
    segments = [[p0, p1] for poly in _tree_lines(tree, a, y_of_point)
                for p0, p1 in zip(poly[:-1], poly[1:])]
    ax.add_collection(LineCollection(segments, colors="k", linewidths=0.8))
    ax.scatter(np.full(n, n_levels + 0.15), y_of_point, s=2, color="k", linewidths=0)
    ax.set_xlim(-0.3, n_levels + 0.4)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks([])


def _label_levels(ax, tree) -> None:
    """Ticks of the levels on the x axis: number of clusters and the age where each appears."""
    n_levels = tree.n_levels
    unit = "β" if tree.variant == "annealing" else "update"
    # at most 8 labelled levels, every step-th from the deepest one (equal gaps: no overlap at
    # _TREE_FONT points on the figure's 6 inches)
    step = int(np.ceil(n_levels / 8))
    ticks = sorted(range(n_levels - 1, -1, -step))
    ax.set_xticks([0] + [l + 1 for l in ticks])
    ax.set_xticklabels(["" if tree.levels[0].n_clusters == 1 else "root"]
                       + [f"{tree.levels[l].n_clusters}\n{tree.levels[l].age:.3g}" for l in ticks],
                       fontsize=_TREE_FONT)
    ax.set_xlabel(f"level: number of clusters (top) and {unit} where it appears (bottom)",
                  fontsize=_TREE_FONT)
    ax.spines[["top", "right", "left"]].set_visible(False)


def _draw_strips(sax, strips: list[tuple[str, np.ndarray, str]], y_of_point: np.ndarray) -> None:
    """The colour strips as an image, one column per strip, rows aligned with the leaves: label
    strips in hues (:func:`label_colors`), cluster strips in greys (:func:`cluster_colors`)."""
    n = len(y_of_point)
    img = np.zeros((n, len(strips), 4))
    leaves = np.argsort(y_of_point, kind="stable")  # the points from top to bottom
    rows = y_of_point.astype(int)
    for j, (_, values, kind) in enumerate(strips):
        img[rows, j] = label_colors(values)[1] if kind == "label" else cluster_colors(values, leaves)
    sax.imshow(img, aspect="auto", interpolation="nearest",
               extent=(-0.5, len(strips) - 0.5, n - 0.5, -0.5))
    sax.set_xticks(range(len(strips)))
    sax.set_xticklabels([s[0] for s in strips], rotation=90, fontsize=_TREE_FONT)
    sax.tick_params(left=False, labelleft=False)
    sax.spines[:].set_visible(False)


def _strip_legend(fig, name: str, values: np.ndarray) -> None:
    """Legend of the classes of one label strip (``values``, shape (n_points,)), when 20 or fewer,
    outside the axes on the right, titled ``name``."""
    classes, colors = label_colors(np.unique(np.asarray(values).astype(str)))
    if len(classes) <= 20:
        handles = [Patch(color=color, label=c) for c, color in zip(classes, colors)]
        fig.legend(handles=handles, title=name, fontsize=_TREE_FONT, title_fontsize=_TREE_FONT,
                   loc="outside right upper", frameon=False)


def clusters_trace_figure(tree) -> Figure:
    """Number of fixed-point clusters at every stage of the walk (checkpoint or beta)."""
    ages = [t["age"] for t in tree.trace]
    counts = [t["n_clusters"] for t in tree.trace]
    fig = Figure(figsize=(5.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ax.step(ages, counts, where="post", color="k")
    ax.plot([lv.age for lv in tree.levels], [lv.n_clusters for lv in tree.levels], "o",
            color="#d62728", ms=4)
    ax.set_xlabel("β" if tree.variant == "annealing" else "update (checkpoint)")
    ax.set_ylabel("clusters of TAP fixed points")
    if tree.variant != "annealing" and len(ages) > 1 and min(ages) > 0 and max(ages) / min(ages) > 50:
        ax.set_xscale("log")
    ax.set_title("Fixed-point clusters along the walk (dots: recorded levels)", fontsize="medium")
    return fig


# ------------------------------------------------------------------------------ sequences
def consensus_sequences(profiles: np.ndarray, alphabet: str | None) -> list[str]:
    """The most probable letter of every site of Potts profiles (k, N, q): upper case where its
    probability is at least 1/2, lower case where the site is undecided (``alphabet``: the q
    letters of the codes; digits 0-9/a-z when None)."""
    p = as_numpy(profiles).astype(np.float64)
    q = p.shape[-1]
    letters = alphabet if alphabet and len(alphabet) == q else "0123456789abcdefghijklmnopqrstuvwxyz"[:q]
    best = p.argmax(-1)
    sure = p.max(-1) >= 0.5
    return ["".join(letters[c] if ok else letters[c].lower() for c, ok in zip(row, flags))
            for row, flags in zip(best, sure)]


def sequence_logo_figure(profiles: np.ndarray, alphabet: str | None, titles: list[str] | None = None,
                         max_points: int = 8) -> Figure:
    """Sequence logos of Potts profiles (k, N, q), one row per profile: at every column the letters
    stacked by probability, the stack as high as the column's information content
    log2 q - H_i (bits; Schneider & Stephens 1990). Columns are numbered from 1 and letters
    coloured as in the report's other logos (:func:`~boltzkit.report.categorical.letter_colors`:
    the gap ``-`` grey)."""
    p = as_numpy(profiles).astype(np.float64)[:max_points]
    k, n_sites, q = p.shape
    letters = alphabet if alphabet and len(alphabet) == q else "0123456789abcdefghijklmnopqrstuvwxyz"[:q]
    colors = letter_colors(letters)  # the colours of the report's other logos
    fig = Figure(figsize=(min(14.0, 1.0 + 0.13 * n_sites), 0.6 + 1.1 * max(k, 1)),
                 layout="constrained")
    axes = fig.subplots(max(k, 1), 1, squeeze=False)[:, 0]
    for ax in axes[k:]:  # no profile: one empty panel
        ax.set_axis_off()
    for j, ax in enumerate(axes[:k]):
        for patch in logo_glyphs(p[j], letters, colors, start=1):  # columns from 1
            ax.add_patch(patch)
        column_axis(ax, n_sites, "column")
        ax.set_ylim(0, np.log2(q))
        ax.set_ylabel("bits", fontsize=7)
        ax.tick_params(labelsize=7)
        if titles is not None and j < len(titles):
            ax.set_title(titles[j], fontsize="x-small", loc="left")
        if j < k - 1:
            ax.set_xticklabels([])
            ax.set_xlabel("")
    return fig


# ------------------------------------------------------------------------------ report sections
def _context_points(ctx: ReportContext, n_points: int):
    """(points as the model's values in a float64 tensor, labels, image_shape, alphabet): a random
    subset (seeded by the report's seed) of the run's training set when it can be rebuilt from the
    data file (so that file-ordered data, e.g. sorted by population, are sampled evenly, and the
    labels of the run's data come along), else of the data sample stored in the run file; None
    when the run has no data."""
    train = ctx.datasets[0]
    if train is not None and np.asarray(train.samples).shape[1:] == (ctx.model.n_visible,):
        rows, labels, image_shape = np.asarray(train.samples), train.labels, train.image_shape
    else:
        rows, labels, image_shape = ctx.data_sample
        if rows is None:
            return None
    if n_points < len(rows):
        keep = np.sort(np.random.default_rng(ctx.options.seed).choice(len(rows), n_points,
                                                                       replace=False))
        rows = rows[keep]
        labels = None if labels is None else np.asarray(labels)[keep]
    return ctx.model_values(rows).double().cpu(), labels, image_shape, ctx.config.get("alphabet")


def _sequences_html(profiles: np.ndarray, alphabet: str | None, names: list[str],
                    caption: str) -> str:
    """A table of the consensus sequences of Potts profiles, in a monospace font."""
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td><code>{html.escape(s)}</code></td></tr>"
                   for n, s in zip(names, consensus_sequences(profiles, alphabet)))
    return (f"<table><caption>{html.escape(caption)}</caption><tr><th>fixed point</th>"
            f"<th>consensus (lower case: most probable letter below 1/2)</th></tr>{rows}</table>")


def landscape_section(ctx: ReportContext, n_points: int = 1000, order: int = 2) -> Section | None:
    """Report section: TAP fixed points of the last model reached from (up to ``n_points``) data
    rows, their free energies and basins (Potts runs: sequence logos and consensus sequences of
    the fixed points). None when the report's options turn it off, for models without TAP
    equations (with a note) or without data."""
    if not (ctx.options.landscape
            and ctx.has(LayeredEnergy, "free-energy landscape", "TAP equations")):
        return None
    points = _context_points(ctx, n_points)
    if points is None:
        return None
    x, _, image_shape, alphabet = points
    land = free_energy_landscape(ctx.model.to(device="cpu", dtype=torch.float64), x, order=order,
                                 tol=1e-6, max_iter=2000)
    fig = landscape_figure(x.numpy(), land, image_shape, alphabet=alphabet)  # Potts: codes
    rows = [(r["rank"], r["free_energy"], r["basin_size"], r["fraction"]) for r in land.table()[:20]]
    n_bad = int((~land.converged).sum())
    n_damped = int((land.point_damping > 0).sum()) if land.point_damping is not None else 0
    caption = (f"TAP (order {order}) fixed points of the last model reached from {land.n_points} "
               f"data rows: {land.n_fixed_points} distinct"
               + (f"; {n_damped} oscillating iterations were damped automatically" if n_damped else "")
               + (f"; {n_bad} iterations did not converge" if n_bad else "") + ".")
    parts = [figure_html(fig, "TAP fixed points and basins", caption)]
    if land.visible.ndim == 3 and land.n_fixed_points:  # Potts
        shown = min(land.n_fixed_points, 8)
        titles = [f"#{j} F={land.free_energy[j]:.2f} basin {int(land.basin_size[j])}"
                  for j in range(shown)]
        parts.append(figure_html(sequence_logo_figure(land.visible, alphabet, titles, shown),
                                 "fixed points as sequence logos",
                                 "The lowest fixed points as sequence logos (letter height: "
                                 "probability times the site's information content)."))
        parts.append(_sequences_html(land.visible[:20], alphabet,
                                     [f"#{j}" for j in range(min(20, land.n_fixed_points))],
                                     "lowest fixed points as sequences"))
    parts.append(table_html(rows, ["rank", "TAP free energy", "basin size", "fraction"],
                            "lowest fixed points"))
    return Section("Free-energy landscape", "".join(parts))


#: Attributes of a data set (or keys of the run's data spec) that name its labels, e.g. the label
#: column of a categorical table; the first one set is the legend title.
_LABEL_NAME_KEYS = ("labels_name", "label_name", "labels_column")


def label_set_name(ctx: ReportContext) -> str:
    """The name of the run's label set, the title of its legend: what the data name it (a table's
    label column, ``labels_name`` in the run's data spec), else ``"label"``. Never the label file's
    name: a path says where the labels are, not what they are (the caption names the file)."""
    train = ctx.datasets[0]
    spec = ctx.config.get("data", {})
    for key in _LABEL_NAME_KEYS:
        value = getattr(train, key, None) or spec.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "label"


def _display_level(tree, target: int = 10, at_most: int = 16) -> int:
    """Index of the level whose number of clusters is closest to ``target`` (ties: the coarser),
    among those with at most ``at_most`` clusters (the first level otherwise)."""
    counts = [lv.n_clusters for lv in tree.levels]
    fits = [l for l, c in enumerate(counts) if c <= at_most] or [0]
    return min(fits, key=lambda l: (abs(counts[l] - target), counts[l]))


def tree_section(ctx: ReportContext, n_points: int | None = None, order: int = 2, eps: float = 1.0,
                 max_iter: int = 2000) -> Section | None:
    """Report section: the TreeRBM hierarchy of (up to ``n_points``, default the report's
    ``tree_points``, drawn at random) data rows over the run's checkpoints, with the labels of the
    run's data as colour strips and per-level ARI / purity when the data have labels, and the
    representative fixed points of the level with about 10 clusters (images, or sequence logos for
    Potts runs). None when it does not apply (turned off by the report's options; a model without
    TAP equations, with a note; fewer than 3 checkpoints; no data)."""
    if (not ctx.options.tree or not ctx.has(LayeredEnergy, "TreeRBM hierarchy", "TAP equations")
            or len(ctx.updates) < 3):
        return None
    points = _context_points(ctx, ctx.options.tree_points if n_points is None else n_points)
    if points is None:
        return None
    x, labels, image_shape, alphabet = points
    if labels is not None and not valid_label_mask(labels).any():
        labels = None
    t0 = time.perf_counter()
    models = [(u, m.to(device="cpu", dtype=torch.float64)) for u, m in load_models(ctx.run_path)]
    tree = tree_from_checkpoints(models, x, order=order, eps=eps, max_iter=max_iter)
    seconds = time.perf_counter() - t0
    labels_path = ctx.config.get("data", {}).get("labels_path")
    name = label_set_name(ctx)
    strips = None if labels is None else {name: labels}
    scores = level_scores(tree.assignments(), strips) if strips else None
    rows = [(row["level"], int(row["age"]), row["n_clusters"],
             *([scores[i]["ari"][name], scores[i]["purity"][name]] if scores else []))
            for i, row in enumerate(tree.levels_table())]
    header = ["level", "update", "clusters"] + (["ARI", "purity"] if scores else [])
    n_damped = sum(t.get("n_damped", 0) for t in tree.trace)
    caption = (f"TreeRBM (Decelle, Seoane & Rosset 2023): TAP order {order} fixed points of "
               f"{tree.n_points} data rows (drawn at random) followed through {len(models)} "
               f"checkpoints, DBSCAN eps={eps}; {seconds:.1f} s"
               + (f"; {n_damped} oscillating TAP iterations damped automatically" if n_damped else "")
               + (". Colour strips: the labels of the run's data"
                  + (f" ({Path(labels_path).name})" if labels_path else "")
                  + ", then the recovered levels." if strips else "."))
    parts = [figure_html(dendrogram_figure(tree, strips), "TreeRBM dendrogram", caption),
             figure_html(clusters_trace_figure(tree), "clusters along training"),
             table_html(rows, header, "levels" + (" (ARI and purity against the labels)"
                                                  if scores else ""))]
    # the representative fixed points of one level (about 10 clusters)
    l = _display_level(tree)
    level = tree.levels[l]
    sizes = np.bincount(level.labels, minlength=level.n_clusters)
    titles = []
    for c in range(level.n_clusters):
        t = f"L{l + 1} cluster {c}: {sizes[c]} points"
        if labels is not None:
            mask = (level.labels == c) & valid_label_mask(labels)
            if mask.any():
                values, counts = np.unique(np.asarray(labels)[mask].astype(str), return_counts=True)
                t += f", mostly {values[counts.argmax()]}"
        titles.append(t)
    what = f"Representative fixed points of level {l + 1} ({level.n_clusters} clusters)"
    if level.fixed_points.ndim == 3:
        parts.append(figure_html(sequence_logo_figure(level.fixed_points, alphabet, titles, 12),
                                 "fixed points of a tree level", what + " as sequence logos."))
        parts.append(_sequences_html(level.fixed_points, alphabet, titles, what))
    else:
        fp_fig = fixed_points_figure(level.fixed_points, None, image_shape, sizes, 16,
                                     titles=[f"#{c} " + t.split(": ", 1)[1].replace(" points", "")
                                             for c, t in enumerate(titles)])
        listing = "; ".join(t.split(" ", 1)[1] for t in titles) if labels is not None else ""
        parts.append(figure_html(fp_fig, "fixed points of a tree level",
                                 what + " (#j = cluster j, n = its number of points)"
                                 + (f": {html.escape(listing)}." if listing else ".")))
    return Section("Hierarchical clustering (TreeRBM)", "".join(parts))
