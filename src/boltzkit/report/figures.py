"""Figures of a run: training curve, samples, PCA projections, moments, receptive fields.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``: no GUI
backend, no global figure registry (nothing to close, safe in threads and on headless machines);
``fig.savefig(path)`` renders with Agg. Arrays are NumPy arrays (tensors are accepted and moved to
the CPU). Binary samples are in the model's units, {0,1} or ±1; pictures show the high value
(1 or +1) black, and real values as grey levels on a range the caller gives (low white, high
black, clipped), as :mod:`boltzkit.report.images` does.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from boltzkit.report.images import as_bernoulli, grey_levels, image_grid

__all__ = ["PCAProjection", "pca_projection", "likelihood_curve", "samples_figure", "pca_figure",
           "moments_figure", "weights_figure", "diagonal_scatter", "as_numpy"]

_DATA_COLOR = "#1f77b4"
_MODEL_COLOR = "#d62728"
_BASELINE_COLORS = ("0.4", "#8c564b", "#2ca02c", "#9467bd")  # one per baseline: grey first
_SPLIT_STYLES = {"train": ":", "test": "-."}
_MAX_SCATTER_POINTS = 20000  # points drawn in a moments scatter (r is computed on all of them)


def as_numpy(x) -> np.ndarray:
    """An array or a tensor (on any device) as a NumPy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# ------------------------------------------------------------------------------ training curve
def likelihood_curve(updates: Sequence[int], train_ll: Sequence[float],
                     test_ll: Sequence[float] | None = None,
                     baseline: float | Mapping[str, float] | None = None,
                     error: Sequence[float] | None = None) -> Figure:
    """Mean log-likelihood per sample (nats) along training, updates on a log scale.

    Parameters
    ----------
    updates : sequence of int, shape (n_points,)
        Parameter updates of the checkpoints (>= 1).
    train_ll, test_ll : sequences of float, shape (n_points,)
        Mean log p(x) of the training (and held-out) data at each checkpoint.
    baseline : float or mapping name -> float, optional
        Horizontal reference lines, e.g. the baselines' log-likelihoods
        ``{"independent-site (train)": -120.3, "independent-site (test)": -121.0,
        "full-covariance (train)": -80.1, ...}``: one colour per baseline (grey for the first), a
        dotted line for "(train)" and a dash-dotted one for "(test)".
    error : sequence of float, shape (n_points,), optional
        Standard error of log Z at each checkpoint (AIS), drawn as error bars: log p(x) =
        -F(x) - log Z shifts by the same amount for every x.
    """
    updates = np.asarray(updates, dtype=float)
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    yerr = None if error is None else np.nan_to_num(np.asarray(error, dtype=float))
    ax.errorbar(updates, np.asarray(train_ll, dtype=float), yerr=yerr, fmt="o-", ms=4,
                color=_DATA_COLOR, capsize=2, label="train")
    if test_ll is not None:
        ax.errorbar(updates, np.asarray(test_ll, dtype=float), yerr=yerr, fmt="s--", ms=4,
                    color=_MODEL_COLOR, capsize=2, label="test")
    if baseline is not None:
        _baseline_lines(ax, {"independent-site model": baseline} if np.isscalar(baseline)
                        else dict(baseline))
    ax.set_xscale("log")
    ax.set_xlabel("parameter updates (log scale)")
    ax.set_ylabel("mean log-likelihood per sample (nats)")
    ax.set_title("Log-likelihood along training")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return fig


def _baseline_lines(ax, lines: dict[str, float]) -> None:
    """One horizontal line per entry: a colour per baseline and a style per split, the split read
    from a name ending in " (train)" or " (test)" (other names: a style each)."""
    colors: dict[str, str] = {}
    palette = itertools.cycle(_BASELINE_COLORS)
    free_styles = itertools.cycle(("--", (0, (1, 3)), (0, (5, 1, 1, 1))))
    for name, value in lines.items():
        base, split = _split_of(name)
        if base not in colors:
            colors[base] = next(palette)
        style = _SPLIT_STYLES[split] if split is not None else next(free_styles)
        ax.axhline(float(value), color=colors[base], ls=style, lw=1.2, label=name)


def _split_of(name: str) -> tuple[str, str | None]:
    """("independent-site", "train") for "independent-site (train)"; (name, None) otherwise."""
    for split in _SPLIT_STYLES:
        if name.endswith(f" ({split})"):
            return name[:-len(split) - 3], split
    return name, None


# ------------------------------------------------------------------------------ samples
def samples_figure(x: np.ndarray, image_shape: tuple[int, int] | None, n: int = 100,
                   title: str | None = None,
                   value_range: tuple[float, float] | None = None) -> Figure:
    """The first ``n`` samples: an image grid when ``image_shape`` is given, else a raster
    (one row per sample, one column per site).

    Parameters
    ----------
    x : array of shape (n_samples, n_visible), values in {0,1} or ±1, or real values
    image_shape : (height, width) or None
    n : int
        Number of samples shown.
    title : str, optional
    value_range : (low, high), optional
        Real values: the grey scale's range (:func:`boltzkit.report.images.grey_levels`: low
        white, high black, values outside clipped); None for binary values.
    """
    x = as_numpy(x)[:n]
    v = as_bernoulli(x) if value_range is None else grey_levels(x, value_range)
    if image_shape is not None:
        grid = image_grid(v, image_shape)
        width = 4.6
        fig = Figure(figsize=(width, 0.4 + width * grid.shape[0] / grid.shape[1]),
                     layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
    else:
        fig = Figure(figsize=(6.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
        ax.imshow(v, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_xlabel("site i")
        ax.set_ylabel("sample")
    black = "1 / +1" if value_range is None else f"{value_range[1]:.3g}"
    ax.set_title(title or f"{len(v)} samples (black = {black})", fontsize="medium")
    return fig


# ------------------------------------------------------------------------------ PCA
@dataclass(frozen=True)
class PCAProjection:
    """Data and samples projected on the principal directions of the data.

    ``data`` (n_data, k) and ``samples`` (n_samples, k) hold m_alpha = u_alpha . (x - <x>_data)
    / sqrt(N); ``directions`` (N, k) the unit vectors u_alpha; ``explained_variance_ratio`` (k,)
    the fraction of the data variance along each; ``mean`` (N,) the data mean.
    """

    data: np.ndarray
    samples: np.ndarray
    directions: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray


def pca_projection(data: np.ndarray, samples: np.ndarray, n_components: int = 3) -> PCAProjection:
    """Project ``data`` and ``samples`` on the first principal directions of the **data**.

    m_alpha(x) = u_alpha . (x - <x>_data) / sqrt(N), with u_alpha the right singular vectors of
    the centred data matrix: the magnetisations along the principal modes of Decelle, Fissore &
    Furtlehner (2017/2018; docs/methods.md section 3), centred here so that the data cloud sits at the
    origin. The sign of each u_alpha is fixed so that its largest
    component (in absolute value) is positive (scikit-learn's svd_flip convention).

    Parameters
    ----------
    data : array of shape (n_data, N)
    samples : array of shape (n_samples, N), the same units as ``data``
    n_components : int
        At most min(n_data, N).
    """
    x = as_numpy(data).astype(np.float64)
    s = as_numpy(samples).astype(np.float64)
    if x.ndim != 2 or s.ndim != 2 or x.shape[1] != s.shape[1]:
        raise ValueError(f"data {x.shape} and samples {s.shape} must be 2-D with the same columns")
    mean = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = max(1, min(n_components, vt.shape[0]))
    u = vt[:k].T.copy()
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(k)])
    u *= np.where(signs == 0, 1.0, signs)
    total = float((sv**2).sum())
    ratio = (sv[:k] ** 2) / total if total > 0 else np.zeros(k)
    norm = np.sqrt(x.shape[1])
    return PCAProjection((x - mean) @ u / norm, (s - mean) @ u / norm, u, ratio, mean)


def _limits(a: np.ndarray, b: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    both = np.concatenate([a, b])
    lo, hi = float(both.min()), float(both.max())
    pad = margin * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


def pca_figure(data: np.ndarray, samples: np.ndarray, labels: np.ndarray | None = None) -> Figure:
    """Data (top row) and generated samples (bottom row) on the data's principal directions.

    Columns: m_1 vs m_2, m_2 vs m_3 (when there are 3 components), and histograms of m_1 (top)
    and m_2 (bottom) for data and samples overlaid. Data points are coloured by ``labels`` when
    given. See :func:`pca_projection` for m_alpha.

    Parameters
    ----------
    data : array of shape (n_data, N)
    samples : array of shape (n_samples, N), the same units as ``data``
    labels : array of shape (n_data,), optional
    """
    p = pca_projection(data, samples, 3)
    k = p.data.shape[1]
    pairs = [(a, a + 1) for a in range(min(k - 1, 2))]
    n_cols = len(pairs) + 1
    fig = Figure(figsize=(3.6 * n_cols, 6.6), layout="constrained")
    axes = fig.subplots(2, n_cols, squeeze=False)
    names = [f"m{a + 1} (PC{a + 1}, {100 * p.explained_variance_ratio[a]:.1f}% of var.)"
             for a in range(k)]

    data_colors, handles = _DATA_COLOR, None
    if labels is not None:
        classes, index = np.unique(as_numpy(labels), return_inverse=True)
        if len(classes) <= 10:  # one colour per class, with a legend
            tab10 = matplotlib.colormaps["tab10"]
            data_colors = tab10(index)
            handles = [Line2D([], [], ls="", marker="o", ms=4, color=tab10(i))
                       for i in range(len(classes))]
        else:
            data_colors = matplotlib.colormaps["viridis"](index / (len(classes) - 1))
    for c, (a, b) in enumerate(pairs):
        xlim, ylim = _limits(p.data[:, a], p.samples[:, a]), _limits(p.data[:, b], p.samples[:, b])
        for r, (proj, name) in enumerate(((p.data, "data"), (p.samples, "generated samples"))):
            ax = axes[r, c]
            ax.scatter(proj[:, a], proj[:, b], c=data_colors if r == 0 else _MODEL_COLOR, s=5,
                       alpha=0.6, linewidths=0, rasterized=True)
            if r == 0 and c == 0 and handles is not None:
                ax.legend(handles, [str(x) for x in classes], fontsize="x-small", title="label",
                          title_fontsize="x-small", markerscale=0.7, loc="best", framealpha=0.7)
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
            ax.set_xlabel(names[a], fontsize="small")
            ax.set_ylabel(names[b], fontsize="small")
            ax.set_title(f"{name} ({len(proj)})", fontsize="medium")
    for r, a in enumerate((0, min(1, k - 1))):
        ax = axes[r, n_cols - 1]
        lo, hi = _limits(p.data[:, a], p.samples[:, a])
        bins = np.linspace(lo, hi, 41)
        ax.hist(p.data[:, a], bins=bins, density=True, histtype="stepfilled", alpha=0.4,
                color=_DATA_COLOR, label="data")
        ax.hist(p.samples[:, a], bins=bins, density=True, histtype="step", lw=1.5,
                color=_MODEL_COLOR, label="samples")
        ax.set_xlabel(names[a], fontsize="small")
        ax.set_ylabel("density")
        ax.set_title(f"histogram of m{a + 1}", fontsize="medium")
        ax.legend(fontsize="x-small")
    fig.suptitle("Projections on the principal directions of the data: "
                 r"$m_\alpha = u_\alpha\cdot(x-\langle x\rangle_{data})/\sqrt{N}$",
                 fontsize="medium")
    return fig


# ------------------------------------------------------------------------------ moments
def _upper(c: np.ndarray) -> np.ndarray:
    c = as_numpy(c)
    if c.ndim == 2:
        return c[np.triu_indices(c.shape[0], 1)]
    return c.ravel()


def moments_figure(data_means: np.ndarray, model_means: np.ndarray, data_corr: np.ndarray,
                   model_corr: np.ndarray, units: str | None = None) -> Figure:
    """Model vs data moments: means <x_i> and connected correlations C_ij (i < j), with the
    diagonal y = x and the Pearson r in each title.

    Parameters
    ----------
    data_means, model_means : arrays of shape (N,)
    data_corr, model_corr : arrays of shape (N (N - 1) / 2,) (the upper triangle, i < j) or
        full (N, N) matrices (their upper triangle is used)
    units : str, optional
        The units of x, e.g. "{0,1}" or "±1", shown in the axis labels.
    """
    dm, mm = as_numpy(data_means).ravel(), as_numpy(model_means).ravel()
    dc, mc = _upper(data_corr), _upper(model_corr)
    suffix = f" (x in {units})" if units else ""
    fig = Figure(figsize=(9.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = ((dm, mm, r"means $\langle x_i\rangle$"),
              (dc, mc, r"connected correlations $C_{ij}$, $i<j$"))
    for ax, (d, m, name) in zip(axes, panels, strict=True):
        diagonal_scatter(ax, d, m, s=6, alpha=0.5)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel("data" + suffix)
        ax.set_ylabel("generated samples" + suffix)
        ax.set_title(f"{name}: Pearson r = {_pearson(d, m):.3f}", fontsize="medium")
    return fig


def diagonal_scatter(ax, data: np.ndarray, model: np.ndarray, margin: float = 0.05,
                     **style) -> None:
    """Model against data values (1-D NumPy arrays of the same length) on equal axes, with the
    diagonal y = x; at most ``_MAX_SCATTER_POINTS`` points are drawn (a fixed random subset), the
    limits cover them all with ``margin`` (a fraction of the range) on each side."""
    d, m = data, model
    if len(d) > _MAX_SCATTER_POINTS:
        keep = np.random.default_rng(0).choice(len(d), _MAX_SCATTER_POINTS, replace=False)
        d, m = d[keep], m[keep]
    ax.scatter(d, m, linewidths=0, color=_DATA_COLOR, rasterized=True, **style)
    if len(data):
        lo, hi = _limits(data, model, margin)
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, ls="--", label="y = x")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.legend(fontsize="small", loc="upper left")
    ax.set_aspect("equal", adjustable="box")


# ------------------------------------------------------------------------------ weights
def weights_figure(weights: np.ndarray, image_shape: tuple[int, int] | None,
                   n_units: int = 64) -> Figure:
    """The hidden units with the largest weight norms ||W_:a||.

    With ``image_shape``: a grid of receptive fields W_:a reshaped to the image, each scaled by
    its own max_i |W_ia| (red positive, blue negative). Without: a heat map of W_ia
    (sites x hidden units) on one symmetric colour scale.

    Parameters
    ----------
    weights : array of shape (n_visible, n_hidden)
    image_shape : (height, width) or None
    n_units : int
        At most this many hidden units are shown, by decreasing norm.
    """
    w = as_numpy(weights).astype(np.float64)
    w = w[:, np.argsort(-np.linalg.norm(w, axis=0), kind="stable")[:n_units]]
    n_shown = w.shape[1]
    if image_shape is not None:
        scale = np.abs(w).max(0)
        fields = (w / np.where(scale > 0, scale, 1.0)).T
        grid = image_grid(fields, image_shape, pad_value=np.nan)
        width = 4.2  # of the grid; the colour bar takes about 1.2 in. more
        fig = Figure(figsize=(width + 1.2, 0.9 + width * grid.shape[0] / grid.shape[1]),
                     layout="constrained")
        ax = fig.add_subplot()
        im = ax.imshow(grid, cmap=_diverging(), vmin=-1, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, shrink=0.7, label=r"$W_{ia} / \max_i |W_{ia}|$")
        ax.set_title(f"Receptive fields $W_{{:a}}$ of {n_shown} hidden units\n"
                     "(largest norms first, each on its own scale)", fontsize="medium")
    else:
        fig = Figure(figsize=(7.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
        vmax = float(np.abs(w).max()) or 1.0
        im = ax.imshow(w, cmap=_diverging(), vmin=-vmax, vmax=vmax, aspect="auto",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label=r"$W_{ia}$")
        ax.set_xlabel("hidden unit a (by decreasing norm)")
        ax.set_ylabel("site i")
        ax.set_title(f"Weights of {n_shown} hidden units", fontsize="medium")
    return fig


def _diverging():
    # grey for NaN: the border between receptive fields
    return matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.75")
