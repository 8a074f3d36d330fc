"""Interaction networks: the sites of a model as nodes, its strongest couplings as edges.

A heat map of J_ij (:func:`~boltzkit.report.coupling_figures.heatmap_figure`) shows every pair but
hides the shape of the network; these figures draw the graph itself.

* :func:`network_scores` — one score per pair: the signed J_ij of binary couplings (their gauge),
  or, for Potts couplings, the contact score of DCA: Frobenius norm of the zero-sum-gauge q × q
  block without the gap state, with the average product correction (docs/methods.md 1.5 and 9.5;
  :func:`~boltzkit.evaluation.contacts.frobenius_scores`);
* :func:`strongest_pairs` — the k pairs of largest |J_ij| (signed scores) or largest score (Potts),
  by default k = 2N (:func:`default_edge_count`: about as many edges as a 2D lattice or the 2L
  pairs of contact prediction);
* layouts: :func:`circular_layout` (nodes in site order on a circle), :func:`spectral_layout`
  (Laplacian eigenmaps of the edges), :func:`spring_layout` (force-directed, Fruchterman &
  Reingold 1991, started from the spectral layout: deterministic) and
  :func:`structure_layout` (proteins: classical multidimensional scaling of the residue distance
  table, so that the drawing is a 2D projection of the fold);
* :func:`network_figure` — the network on one or two layouts; with a contact map (proteins), the
  edges are coloured as in :func:`~boltzkit.report.contact_figures.contact_map_figure` (blue: a
  true contact, red: not) and the first panel places the residues by their structure.

Edges: width proportional to |score| / max |score| of the drawn edges; colour by sign for binary
couplings (red J > 0, blue J < 0, the diverging map of the heat map), by strength for Potts scores
(no sign), or by contact. Nodes are labelled with their index: alignment columns from 1 (as in
alignments and the contact map), binary sites from 0 (as in the couplings files and the heat map).

Figures are built without ``pyplot`` (no global figure registry; Agg when saved). The edges of each
panel are one :class:`~matplotlib.collections.LineCollection` with gid ``"network-edges"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from boltzkit.evaluation.contacts import ContactMap, frobenius_scores
from boltzkit.interpret.expansion import EffectiveCouplings, PottsCouplings

__all__ = ["NetworkScores", "network_scores", "default_edge_count", "strongest_pairs",
           "circular_layout", "spectral_layout", "spring_layout", "structure_layout",
           "network_figure", "EDGES_GID"]

#: gid of the LineCollection holding the edges of a panel (tests and scripts find it by this).
EDGES_GID = "network-edges"
#: Node labels are written up to this many nodes (beyond, they would overlap).
_MAX_NODE_LABELS = 60


@dataclass(frozen=True)
class NetworkScores:
    """One score per pair of sites, the weights of the interaction network.

    Attributes
    ----------
    matrix : ndarray of shape (N, N), float64, symmetric, zero diagonal
    signed : bool
        True for couplings J_ij whose sign matters (pairs ranked by |J_ij|); False for scores
        ranked by value (Potts Frobenius norms with APC).
    description : str
        What the scores are, in words (for titles and captions).
    first_index : int
        Index of the first node in labels: 1 for alignment columns, 0 for binary sites.
    node_name : str
        "column" or "site".
    """

    matrix: np.ndarray
    signed: bool
    description: str
    first_index: int = 0
    node_name: str = "site"

    @property
    def n_nodes(self) -> int:
        return int(self.matrix.shape[0])


def network_scores(couplings: EffectiveCouplings | PottsCouplings | np.ndarray,
                   gap_state: int | None = 0, apc: bool = True) -> NetworkScores:
    """The pair scores of ``couplings`` drawn as a network.

    Parameters
    ----------
    couplings : EffectiveCouplings, PottsCouplings or ndarray of shape (N, N)
        Binary couplings give their pair matrix J_ij (signed, in their gauge); Potts couplings the
        Frobenius norm of each zero-sum-gauge block, without the state ``gap_state`` (None: every
        state), corrected by APC when ``apc`` (docs/methods.md 1.5, 9.5); a matrix is taken as
        signed couplings of binary sites.
    """
    if isinstance(couplings, PottsCouplings):
        keep_gap = gap_state is None
        scores = frobenius_scores(couplings.couplings.double(), exclude_gap=not keep_gap, apc=apc,
                                  gap_index=0 if keep_gap else gap_state)
        what = ("||J_ij||_F, zero-sum gauge" + ("" if keep_gap else ", gap state left out")
                + (", APC" if apc else ""))
        return NetworkScores(scores.numpy(), False, what, first_index=1, node_name="column")
    if isinstance(couplings, EffectiveCouplings):
        return NetworkScores(couplings.pair_matrix().double().cpu().numpy(), True,
                             f"J_ij ({couplings.gauge} gauge)")
    matrix = np.asarray(couplings.detach().cpu() if isinstance(couplings, torch.Tensor)
                        else couplings, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"pair scores must have shape (N, N), got {matrix.shape}")
    return NetworkScores(matrix, True, "J_ij")


def default_edge_count(n_nodes: int) -> int:
    """k = 2N edges: a 2D lattice has about 2N bonds and contact prediction scores its top 2L pairs,
    so the true network (when sparse) fits in the drawing with room for its strongest errors."""
    return 2 * int(n_nodes)


def strongest_pairs(scores: NetworkScores, k: int | None = None,
                    min_separation: int = 1) -> np.ndarray:
    """The ``k`` strongest pairs i < j with j - i >= ``min_separation``, strongest first.

    Strength: |J_ij| for signed scores, the score itself otherwise (APC can make weak pairs
    negative). Pairs of zero strength (or negative unsigned scores, or NaN) are never edges, so
    fewer than ``k`` come back when fewer are non-zero. Ties are broken by (i, j) order.

    Returns
    -------
    ndarray of shape (n_edges, 2), int64, 0-based indices
    """
    k = default_edge_count(scores.n_nodes) if k is None else int(k)
    i, j = np.triu_indices(scores.n_nodes, max(int(min_separation), 1))
    values = scores.matrix[i, j]
    strength = np.abs(values) if scores.signed else values
    keep = np.nan_to_num(strength, nan=0.0) > 0
    i, j, strength = i[keep], j[keep], strength[keep]
    order = np.argsort(-strength, kind="stable")[:max(k, 0)]
    return np.stack([i[order], j[order]], axis=1).astype(np.int64)


# ------------------------------------------------------------------------------ layouts
def circular_layout(n_nodes: int) -> np.ndarray:
    """Nodes in index order on the unit circle, the first at the top, clockwise; shape (N, 2)."""
    angle = np.pi / 2 - 2 * np.pi * np.arange(n_nodes) / max(n_nodes, 1)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def spectral_layout(n_nodes: int, pairs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Laplacian eigenmaps (Belkin & Niyogi 2003): the eigenvectors of the two smallest non-zero
    eigenvalues of the normalised Laplacian of the edges (generalised problem W v = λ D v, the
    two largest λ below the constant vector's). A weak uniform weight (1e-3 of the mean edge
    weight) between all nodes keeps the graph connected, so that nodes without an edge sit at
    the centre instead of spoiling the spectrum. Returns positions of shape (N, 2) in [-1, 1]².
    """
    from scipy.linalg import eigh

    if n_nodes < 4 or len(pairs) == 0:
        return circular_layout(n_nodes)
    w = np.ones(len(pairs)) if weights is None else np.asarray(weights, dtype=np.float64)
    adjacency = np.full((n_nodes, n_nodes), 1e-3 * float(w.mean()))
    np.add.at(adjacency, (pairs[:, 0], pairs[:, 1]), w)
    np.add.at(adjacency, (pairs[:, 1], pairs[:, 0]), w)
    np.fill_diagonal(adjacency, 0.0)
    _, vectors = eigh(adjacency, np.diag(adjacency.sum(1)))   # ascending eigenvalues
    pos = vectors[:, -3:-1][:, ::-1]
    pos = pos - pos.mean(0)
    return pos / max(float(np.abs(pos).max()), 1e-12)


def spring_layout(n_nodes: int, pairs: np.ndarray, weights: np.ndarray | None = None,
                  iterations: int = 200) -> np.ndarray:
    """Force-directed positions (Fruchterman & Reingold 1991, Softw. Pract. Exper. 21, 1129):
    every pair of nodes repels with force k²/d, the two ends of each edge attract with w d²/k
    (``weights`` (n_edges,) in (0, 1], default 1), moves capped by a temperature cooled linearly.

    Started from :func:`spectral_layout` (which unfolds lattices and chains) with no randomness,
    so the drawing is reproducible; nodes without an edge drift to the rim. Returns positions of
    shape (N, 2) scaled into [-1, 1]².
    """
    pos = spectral_layout(n_nodes, pairs, weights)
    if n_nodes < 3 or len(pairs) == 0:
        return pos
    w = np.ones(len(pairs)) if weights is None else np.asarray(weights, dtype=np.float64)
    adjacency = np.zeros((n_nodes, n_nodes))
    np.add.at(adjacency, (pairs[:, 0], pairs[:, 1]), w)
    adjacency = adjacency + adjacency.T
    k = np.sqrt(4.0 / n_nodes)  # optimal distance for an area of 4 (the [-1, 1]^2 square)
    for step in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]                # (N, N, 2)
        dist = np.maximum(np.linalg.norm(delta, axis=-1), 1e-3)
        force = k * k / dist**2 - adjacency * dist / k          # along delta / dist, times 1 / dist
        np.fill_diagonal(force, 0.0)
        move = (delta * force[..., None]).sum(1)
        length = np.maximum(np.linalg.norm(move, axis=1, keepdims=True), 1e-12)
        temperature = 0.05 * (1 - step / iterations)  # small: refine the spectral start, not redo it
        pos = pos + move / length * np.minimum(length, temperature)
    pos = pos - pos.mean(0)
    return pos / max(float(np.abs(pos).max()), 1e-12)


def structure_layout(contact_map: ContactMap) -> np.ndarray:
    """Residues placed by their structure: classical multidimensional scaling (Torgerson 1952) of
    the distance table, its two leading axes (a 2D projection of the fold, up to rotation).

    Unknown distances are replaced by shortest paths through known ones (an upper bound, the
    triangle inequality); residues with no known distance at all go on a circle around the rest.
    Returns positions of shape (L, 2) scaled into [-1, 1]².
    """
    from scipy.sparse.csgraph import shortest_path

    d = np.array(contact_map.distances, dtype=np.float64)
    n = contact_map.length
    d = np.where(np.isnan(d), 0.0, d)  # 0 = no edge for csgraph
    d = np.maximum(d, d.T)
    path = shortest_path(d, directed=False)
    reached = np.isfinite(path).sum(1) > 1
    # the largest component of known distances is embedded; the rest go round it
    pos = 1.1 * circular_layout(n)
    idx = np.flatnonzero(reached)
    if len(idx) >= 3:
        sub = path[np.ix_(idx, idx)]
        sub = np.where(np.isfinite(sub), sub, np.nanmax(np.where(np.isfinite(sub), sub, np.nan)))
        centring = np.eye(len(idx)) - 1.0 / len(idx)
        b = -0.5 * centring @ (sub**2) @ centring
        values, vectors = np.linalg.eigh(b)
        top = np.argsort(values)[::-1][:2]
        xy = vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))
        xy = xy - xy.mean(0)
        pos[idx] = xy / max(float(np.abs(xy).max()), 1e-12)
    return pos


# ------------------------------------------------------------------------------ drawing
def _edge_colors(scores: NetworkScores, values: np.ndarray,
                 contact: np.ndarray | None) -> tuple[np.ndarray, str]:
    """RGBA per edge (``values``: the score of each, shape (n_edges,)) and what the colour means."""
    if contact is not None:
        colors = np.where(contact[:, None], matplotlib.colors.to_rgba_array("tab:blue"),
                          matplotlib.colors.to_rgba_array("tab:red"))
        return colors, "blue: a contact, red: not a contact"
    scale = float(np.abs(values).max()) if len(values) else 1.0
    if scores.signed:
        return (matplotlib.colormaps["RdBu_r"](0.5 + 0.5 * values / (scale or 1.0)),
                "red: J > 0, blue: J < 0")
    return matplotlib.colormaps["viridis_r"](0.15 + 0.75 * values / (scale or 1.0)), \
        "darker: stronger"


def _draw_panel(ax, scores: NetworkScores, positions: np.ndarray, pairs: np.ndarray,
                contact: np.ndarray | None, title: str, backbone: bool = False) -> None:
    """One network drawing on ``ax``: the edges (width and colour by score), the nodes, labels."""
    n = scores.n_nodes
    values = scores.matrix[pairs[:, 0], pairs[:, 1]] if len(pairs) else np.zeros(0)
    scale = float(np.abs(values).max()) if len(values) else 1.0
    colors, meaning = _edge_colors(scores, values, contact)
    if backbone and n > 1:  # the chain of consecutive residues, under everything
        ax.plot(positions[:, 0], positions[:, 1], color="0.8", lw=0.8, zorder=1)
    order = np.argsort(np.abs(values), kind="stable")  # strongest drawn last, on top
    edges = LineCollection(positions[pairs[order]] if len(pairs) else np.zeros((0, 2, 2)),
                           colors=colors[order] if len(pairs) else "k",
                           linewidths=0.4 + 3.2 * np.abs(values[order]) / (scale or 1.0),
                           zorder=2, capstyle="round")
    edges.set_gid(EDGES_GID)
    ax.add_collection(edges)
    size = float(np.clip(6000.0 / max(n, 1), 6.0, 200.0))
    ax.scatter(positions[:, 0], positions[:, 1], s=size, color="white", edgecolors="0.2",
               linewidths=0.7, zorder=3)
    if n <= _MAX_NODE_LABELS:
        for node, (x, y) in enumerate(positions):
            ax.annotate(str(node + scores.first_index), (x, y), ha="center", va="center",
                        fontsize=7 if n <= 30 else 5.5, zorder=4)
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{title}\n({meaning})", fontsize="medium")


def network_figure(couplings: NetworkScores | EffectiveCouplings | PottsCouplings | np.ndarray,
                   k: int | None = None, layouts: tuple[str, ...] = ("circular", "spring"),
                   contact_map: ContactMap | None = None, min_separation: int = 1,
                   title: str | None = None) -> Figure:
    """The interaction network: the ``k`` strongest pairs (default 2N, :func:`strongest_pairs`)
    as edges between the sites, one panel per layout.

    Parameters
    ----------
    couplings : NetworkScores, or what :func:`network_scores` takes
    k : int, optional
        Number of edges; default :func:`default_edge_count` (2N).
    layouts : names among "circular", "spectral", "spring", "structure" (the last needs
        ``contact_map``)
    contact_map : ContactMap, optional
        Proteins: edges coloured by whether the pair is a contact (blue) or not (red); the
        default layouts become ("structure", "circular"), the structure panel with the backbone.
    min_separation : int
        Only pairs with j - i >= min_separation are edges (contact prediction: 4 or more).
    """
    scores = couplings if isinstance(couplings, NetworkScores) else network_scores(couplings)
    if contact_map is not None and contact_map.length != scores.n_nodes:
        raise ValueError(f"the contact map has {contact_map.length} columns, the couplings "
                         f"{scores.n_nodes} sites")
    if contact_map is not None and layouts == ("circular", "spring"):
        layouts = ("structure", "circular")
    pairs = strongest_pairs(scores, k, min_separation)
    contact = None if contact_map is None else contact_map.contacts[pairs[:, 0], pairs[:, 1]]
    fig = Figure(figsize=(5.2 * len(layouts), 5.6), layout="constrained")
    axes = fig.subplots(1, len(layouts), squeeze=False)[0]
    for ax, layout in zip(axes, layouts, strict=True):
        positions, name = _positions(layout, scores, pairs, contact_map)
        _draw_panel(ax, scores, positions, pairs, contact, name, backbone=layout == "structure")
    if contact is not None and len(pairs):
        fig.legend(handles=[Line2D([], [], color="tab:blue", label="contact"),
                            Line2D([], [], color="tab:red", label="not a contact")],
                   loc="outside lower center", ncol=2, fontsize="small", frameon=False)
    first = scores.first_index
    fig.suptitle(title or f"Interaction network: the {len(pairs)} strongest pairs\n"
                 f"({scores.description}; {scores.node_name}s numbered from {first})",
                 fontsize="medium")
    return fig


def _positions(layout: str, scores: NetworkScores, pairs: np.ndarray,
               contact_map: ContactMap | None) -> tuple[np.ndarray, str]:
    """(positions (N, 2), panel title) of one named layout."""
    n = scores.n_nodes
    if layout == "circular":
        return circular_layout(n), f"{scores.node_name}s in order on a circle"
    if layout == "spring":
        values = np.abs(scores.matrix[pairs[:, 0], pairs[:, 1]]) if len(pairs) else np.zeros(0)
        # attraction from 0.3 (the weakest drawn) to 1 (the strongest): every edge pulls
        weights = (0.3 + 0.7 * values / values.max() if len(values) and values.max() > 0
                   else None)
        return spring_layout(n, pairs, weights), "force-directed layout of the edges"
    if layout == "spectral":
        return spectral_layout(n, pairs), "spectral layout of the edges"
    if layout == "structure":
        if contact_map is None:
            raise ValueError("the structure layout needs a contact map")
        return structure_layout(contact_map), "residues placed by their structure (MDS)"
    raise ValueError(f"unknown network layout {layout!r} (circular, spectral, spring or structure)")
