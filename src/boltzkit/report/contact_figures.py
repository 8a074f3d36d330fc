"""Contact maps: the top-scored pairs of a contact prediction drawn against the true contacts.

The scores, the distance tables and the ranking are :mod:`boltzkit.evaluation.contacts`; this
module only draws them (matplotlib, Agg, no ``pyplot``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from boltzkit.evaluation.contacts import ContactMap, ranked_pairs, top_count
from boltzkit.io.atomic import atomic_path

__all__ = ["contact_map_figure", "plot_contact_map"]


def contact_map_figure(scores: torch.Tensor | np.ndarray, contact_map: ContactMap,
                       top: str | int = "L", min_separation: int = 4,
                       title: str | None = None) -> Figure:
    """A matplotlib Figure of the predicted top pairs against the true contacts.

    True contacts (``j - i >= min_separation``) are grey squares in both triangles; the top
    predictions are drawn in the upper triangle, blue when a contact and red otherwise.
    """
    length = contact_map.length
    pairs, is_contact = ranked_pairs(scores, contact_map, min_separation)
    k = min(top_count(top, length), len(pairs))
    predicted, correct = pairs[:k], is_contact[:k]
    true_i, true_j = np.nonzero(contact_map.contacts & contact_map.pair_mask(min_separation))

    fig = Figure(figsize=(5.5, 5.5), dpi=120)
    ax = fig.add_subplot(1, 1, 1)
    size = max(4.0, 1800.0 / length)
    ax.scatter(np.r_[true_j, true_i] + 1, np.r_[true_i, true_j] + 1, s=size, marker="s",
               color="0.8", linewidths=0, label="contact")  # both triangles
    ax.scatter(predicted[correct, 1] + 1, predicted[correct, 0] + 1, s=size * 0.6, color="tab:blue",
               linewidths=0, label="predicted, contact")
    ax.scatter(predicted[~correct, 1] + 1, predicted[~correct, 0] + 1, s=size * 0.6, color="tab:red",
               linewidths=0, label="predicted, not a contact")
    ax.set_xlim(0.5, length + 0.5)
    ax.set_ylim(length + 0.5, 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("column j")
    ax.set_ylabel("column i")
    ppv = float(correct.mean()) if k else float("nan")
    ax.set_title(title or f"top {top} = {k} pairs, precision {ppv:.3f} (|i-j| >= {min_separation})", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=7, frameon=False, markerscale=1.5)
    fig.tight_layout()
    return fig


def plot_contact_map(scores: torch.Tensor | np.ndarray, contact_map: ContactMap,
                     path: str | PathLike, top: str | int = "L", min_separation: int = 4,
                     title: str | None = None) -> Path:
    """Save :func:`contact_map_figure` as a PNG (matplotlib, Agg), written atomically."""
    path = Path(path)
    fig = contact_map_figure(scores, contact_map, top, min_separation, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
