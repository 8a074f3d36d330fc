"""Unsupervised hierarchical clustering from the learning dynamics of an RBM (TreeRBM).

Decelle, Seoane & Rosset, *Unsupervised hierarchical clustering using the learning dynamics of
RBMs*, Phys. Rev. E 108, 014110 (2023); docs/methods.md 4.1. An RBM learns the modes of its data one
after the other, coarse ones first: walking its checkpoints backwards, from the most trained model
to the least trained one, the TAP fixed points reached from the data merge, and every merge is a
node of a tree.

The walk (:func:`tree_from_checkpoints`):

1. start from (m^v, m^h) = (data, <h | data>) under the most trained model;
2. at every checkpoint, from the most trained to the least, iterate the TAP equations
   (:func:`boltzkit.interpret.tap.tap_fixed_points`) from the current states, and cluster the fixed
   points with DBSCAN (``eps``, ``min_samples=1``, Euclidean, on the visible magnetisations by
   default, flattened profiles for Potts);
3. keep one state per cluster (the member of lowest TAP free energy): younger models only iterate
   these representatives, and every data point follows its representative — so clusters are nested
   by construction;
4. each time the number of clusters drops below the last recorded one, record a level: the cluster
   of every data point and the representative fixed point of every cluster.

:func:`tree_from_annealing` is the variant of the 2023 code that keeps the final model and lowers
its inverse temperature from 1 to ``beta_min`` instead of walking the checkpoints.

The tree (:class:`HierarchicalTree`) lists the levels from the root (fewest clusters) to the leaves;
a level's clusters are children of the cluster of the level above that holds their points, data
points hang from the clusters of the last level. Branch lengths are the mean squared difference of
the fixed points of a node and of its parent (the uniform profile above the first level; the data
point for a leaf). :meth:`HierarchicalTree.newick` writes it.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.tap import initial_magnetisations, tap_fixed_points, tap_kernel
from boltzkit.io.atomic import write_text_atomic

__all__ = ["TreeLevel", "HierarchicalTree", "tree_from_checkpoints", "tree_from_annealing",
           "cluster_fixed_points", "newick_name", "write_tree_outputs"]


@dataclass
class TreeLevel:
    """One level of the tree.

    Attributes
    ----------
    labels : ndarray of shape (n_points,), int64
        Cluster of every data point, 0..n_clusters-1 (numbered along the tree: by parent, then by
        decreasing size).
    fixed_points : ndarray of shape (n_clusters, n_visible) (or (n_clusters, n_visible, q))
        Visible magnetisations of the representative fixed point of each cluster (model's units).
    free_energy : ndarray of shape (n_clusters,), TAP free energy of each representative
    age : float
        Where the level was recorded: the checkpoint's update number, or beta (annealing variant).
    """

    labels: np.ndarray
    fixed_points: np.ndarray
    free_energy: np.ndarray
    age: float

    @property
    def n_clusters(self) -> int:
        return len(self.fixed_points)


@dataclass
class HierarchicalTree:
    """Levels of nested clusters, root side first (see the module docstring).

    Attributes
    ----------
    levels : list of TreeLevel, from the fewest clusters (level 1) to the most (the leaf level)
    variant : "checkpoints" or "annealing"
    trace : list of dict
        Every stage of the walk in order (most trained first): ``age``, ``n_clusters``,
        ``n_unconverged`` (representatives whose TAP iteration hit ``max_iter``).
    settings : dict, the arguments of the walk (order, eps, tol, ...)
    """

    levels: list[TreeLevel]
    variant: str = "checkpoints"
    trace: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_points(self) -> int:
        return len(self.levels[0].labels) if self.levels else 0

    def assignments(self) -> np.ndarray:
        """Cluster of every point at every level, shape (n_points, n_levels), root side first."""
        return np.stack([lv.labels for lv in self.levels], 1)

    def parents(self, level: int) -> np.ndarray:
        """For level index ``level`` >= 1 (0-based), the parent cluster (at ``level - 1``) of each of
        its clusters, shape (n_clusters,)."""
        child, parent = self.levels[level].labels, self.levels[level - 1].labels
        out = np.zeros(self.levels[level].n_clusters, dtype=np.int64)
        out[child] = parent
        return out

    def _profile_distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))

    def newick(self, leaf_names: Sequence[str] | None = None, data: np.ndarray | None = None,
               branch_lengths: bool = True) -> str:
        """The tree in Newick format.

        Internal nodes are named ``I<level>_<cluster>`` (level 1 = root side); when the first level
        has several clusters they hang from an extra node ``root``, else its single cluster is the
        root. Leaves are the data points, named by ``leaf_names`` (default ``s<index>``).

        Parameters
        ----------
        leaf_names : one name per data point (characters reserved by Newick are quoted)
        data : ndarray of shape (n_points, n_visible) (or (n_points, n_visible, q) one-hot),
            optional: the data in the same units as the fixed points, for the leaves' branch
            lengths (mean squared difference to their cluster's fixed point); 0 without it.
        branch_lengths : write ``:length`` after every node
        """
        if not self.levels:
            raise BoltzkitError("empty tree: no level was recorded")
        n = self.n_points
        names = [newick_name(s) for s in (leaf_names if leaf_names is not None
                                          else [f"s{i}" for i in range(n)])]
        if len(names) != n:
            raise BoltzkitError(f"{len(names)} leaf names for {n} data points")
        uniform = self._uniform_profile()

        def length(x: float) -> str:
            return f":{x:.6g}" if branch_lengths else ""

        def node(l: int, c: int, parent_fp: np.ndarray) -> str:
            fp = self.levels[l].fixed_points[c]
            d = self._profile_distance(fp, parent_fp)
            if l == self.n_levels - 1:  # the data points of the cluster
                inner = ",".join(names[i] + length(0.0 if data is None else self._profile_distance(data[i], fp))
                                 for i in np.flatnonzero(self.levels[l].labels == c))
            else:
                inner = ",".join(node(l + 1, k, fp) for k in np.flatnonzero(self.parents(l + 1) == c))
            return f"({inner})I{l + 1}_{c}{length(d)}"

        top = self.levels[0]
        if top.n_clusters == 1:
            body = node(0, 0, uniform)
            return body.rsplit(":", 1)[0] + ";" if branch_lengths else body + ";"
        return "(" + ",".join(node(0, c, uniform) for c in range(top.n_clusters)) + ")root;"

    def _uniform_profile(self) -> np.ndarray:
        fp = self.levels[0].fixed_points[0]
        if fp.ndim == 2:  # Potts profiles
            return np.full_like(fp, 1.0 / fp.shape[-1])
        low = float(np.min([lv.fixed_points.min() for lv in self.levels]))
        return np.full_like(fp, 0.0 if low < -1e-9 else 0.5)  # ±1 units: 0; {0,1}: 1/2

    def levels_table(self) -> list[dict]:
        """One row per level: level (1 = root side), age, n_clusters."""
        return [{"level": l + 1, "age": lv.age, "n_clusters": lv.n_clusters}
                for l, lv in enumerate(self.levels)]

    def assignments_csv(self, labels: dict[str, np.ndarray] | None = None,
                        leaf_names: Sequence[str] | None = None) -> str:
        """CSV text: one row per data point with its name, its labels (if given) and its cluster at
        every level (columns ``level_1`` ... root side first)."""
        labels = labels or {}
        names = leaf_names if leaf_names is not None else [f"s{i}" for i in range(self.n_points)]
        header = ["point", "name", *[f"label:{k}" for k in labels], *[f"level_{l + 1}" for l in range(self.n_levels)]]
        rows = [[i, names[i], *[v[i] for v in labels.values()], *levels]
                for i, levels in enumerate(self.assignments().tolist())]
        return _csv([header, *rows])


def _csv(rows: Sequence[Sequence]) -> str:
    """CSV text of ``rows`` (the header first), one line per row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def newick_name(name: object) -> str:
    """A Newick-safe label: quoted (with doubled quotes) when it holds reserved characters."""
    s = str(name)
    if s and not any(ch in s for ch in " \t\n()[]':;,"):
        return s
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------------------- the walk
def cluster_fixed_points(points: np.ndarray, eps: float) -> np.ndarray:
    """DBSCAN (``eps``, min_samples=1, Euclidean) labels of points of shape (n, ...), int64 (n,).

    With min_samples=1 every point is a core point: the clusters are the connected components of
    the graph linking points closer than ``eps`` (single linkage cut at ``eps``).
    """
    from sklearn.cluster import DBSCAN  # heavy optional dependency: loaded when a tree is built

    flat = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    if len(flat) == 1:
        return np.zeros(1, dtype=np.int64)
    return DBSCAN(eps=eps, min_samples=1, metric="euclidean").fit(flat).labels_.astype(np.int64)


def _walk(stages: Sequence[tuple[float, object, float]], data: Tensor, variant: str, order: int, eps: float,
          tol: float, max_iter: int, damping: float, cluster_on: str, batch_size: int | None,
          progress: Callable[[int, int], None] | None, auto_damping: bool, **extra) -> HierarchicalTree:
    """The descent shared by both variants; ``stages`` = (age, model, beta), most trained first;
    ``extra``: settings of the variant, recorded with the walk's."""
    if cluster_on not in ("visible", "hidden"):
        raise BoltzkitError(f"cluster_on must be 'visible' or 'hidden', got {cluster_on!r}")
    if eps <= 0:
        raise BoltzkitError(f"eps must be positive; got {eps}")
    _, first_model, first_beta = stages[0]
    # the iteration works in float64: TAP tolerances of 1e-4..1e-6 are below float32's resolution
    # for large fields
    mv, mh = initial_magnetisations(first_model.to(dtype=torch.float64), data.double(), first_beta)
    rep_of_point = np.arange(data.shape[0])
    recorded: list[TreeLevel] = []
    trace = []
    for k, (age, model, beta) in enumerate(stages):
        model = model.to(dtype=torch.float64)
        result = tap_fixed_points(model, mv, mh, order=order, beta=beta, damping=damping, tol=tol,
                                  max_iter=max_iter, batch_size=batch_size,
                                  auto_damping=auto_damping)
        feature = result.visible if cluster_on == "visible" else result.hidden
        cluster = cluster_fixed_points(feature.cpu().numpy(), eps)
        n_clusters = int(cluster.max()) + 1
        f = result.free_energy.cpu().numpy()
        # representative of each cluster: its member of lowest free energy
        order_f = np.lexsort((np.arange(len(f)), f))
        rep = order_f[np.unique(cluster[order_f], return_index=True)[1]]
        rep_t = torch.as_tensor(rep, device=result.visible.device)
        mv, mh = result.visible[rep_t], result.hidden[rep_t]
        rep_of_point = cluster[rep_of_point]
        trace.append({"age": float(age), "n_clusters": n_clusters,
                      "n_unconverged": int((~result.converged).sum()),
                      "n_damped": int((result.damping > damping).sum()),
                      "max_damping": float(result.damping.max()) if len(result.damping) else damping})
        if not recorded or n_clusters < recorded[-1].n_clusters:
            recorded.append(TreeLevel(rep_of_point.copy(), mv.cpu().numpy(), f[rep], float(age)))
        if progress is not None:
            progress(k + 1, len(stages))
    settings = dict(order=order, eps=eps, tol=tol, max_iter=max_iter, damping=damping, auto_damping=auto_damping,
                    cluster_on=cluster_on, **extra)
    return HierarchicalTree(_renumber(recorded[::-1]), variant, trace, settings)


def _renumber(levels: list[TreeLevel]) -> list[TreeLevel]:
    """Number the clusters of every level along the tree: by parent, then by decreasing size, then
    by first member (levels root side first)."""
    parent_labels = np.zeros(len(levels[0].labels), dtype=np.int64) if levels else None
    out = []
    for lv in levels:
        k = lv.n_clusters
        parent = np.zeros(k, dtype=np.int64)
        parent[lv.labels] = parent_labels
        size = np.bincount(lv.labels, minlength=k)
        first = np.unique(lv.labels, return_index=True)[1]  # every cluster has a point
        new_order = np.lexsort((first, -size, parent))  # old ids in their new order
        new_id = np.empty(k, dtype=np.int64)
        new_id[new_order] = np.arange(k)
        labels = new_id[lv.labels]
        out.append(TreeLevel(labels, lv.fixed_points[new_order], lv.free_energy[new_order], lv.age))
        parent_labels = labels
    return out


def tree_from_checkpoints(models: Sequence[tuple[int, object]], data: Tensor, order: int = 2,
                          eps: float = 1.0, tol: float = 1e-4, max_iter: int = 10000,
                          damping: float = 0.0, cluster_on: str = "visible",
                          batch_size: int | None = None,
                          progress: Callable[[int, int], None] | None = None,
                          auto_damping: bool = True) -> HierarchicalTree:
    """TreeRBM: walk the checkpoints of one training run from the most trained to the least.

    Parameters
    ----------
    models : sequence of (update, model), as :func:`boltzkit.io.trajectory.load_models` returns them
        (oldest first; any order is accepted: they are sorted by update)
    data : Tensor of shape (n_points, n_visible), the points to place in the tree, in the model's
        units (Potts: codes)
    order : TAP order (1, 2 or 3 for binary RBMs; 1 or 2 for Potts)
    eps : DBSCAN radius on the fixed points (Euclidean, in magnetisation units)
    tol, max_iter, damping, batch_size, auto_damping : of the TAP iteration (see
        :func:`~boltzkit.interpret.tap.tap_fixed_points`; the walk's ``trace`` counts the points
        whose damping was raised at every stage)
    cluster_on : "visible" (magnetisations of the visible layer) or "hidden"
    progress : called with (stages done, total)

    Returns
    -------
    HierarchicalTree
    """
    if not models:
        raise BoltzkitError("no checkpoint to build a tree from")
    stages = [(float(u), m, 1.0) for u, m in sorted(models, key=lambda um: um[0], reverse=True)]
    return _walk(stages, data, "checkpoints", order, eps, tol, max_iter, damping, cluster_on, batch_size, progress,
                 auto_damping, n_checkpoints=len(stages))


def tree_from_annealing(model, data: Tensor, beta_min: float = 0.9, n_steps: int = 100,
                        betas: Sequence[float] | None = None, order: int = 2, eps: float = 1.0,
                        tol: float = 1e-4, max_iter: int = 10000, damping: float = 0.0,
                        cluster_on: str = "visible", batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None,
                        auto_damping: bool = True) -> HierarchicalTree:
    """TreeRBM's temperature-annealing variant: the final model at inverse temperatures going down
    from 1 to ``beta_min`` (``n_steps`` evenly spaced values, or the given ``betas``, decreasing),
    in place of the checkpoints. Levels' ``age`` is beta. Other arguments as
    :func:`tree_from_checkpoints`.
    """
    if betas is None:
        if not 0 < beta_min < 1 or n_steps < 2:
            raise BoltzkitError("annealing: need 0 < beta_min < 1 and n_steps >= 2")
        betas = np.linspace(1.0, beta_min, n_steps).tolist()
    betas = sorted((float(b) for b in betas), reverse=True)
    tap_kernel(model)  # a clear error for a model without TAP equations
    return _walk([(b, model, b) for b in betas], data, "annealing", order, eps, tol, max_iter, damping, cluster_on,
                 batch_size, progress, auto_damping, betas=betas)


def write_tree_outputs(tree: HierarchicalTree, newick_path: str | os.PathLike,
                       leaf_names: Sequence[str] | None = None, data: np.ndarray | None = None,
                       labels: dict[str, np.ndarray] | None = None,
                       scores: list[dict] | None = None) -> dict[str, str]:
    """Write the Newick file, ``<stem>_levels.csv`` (one row per level: age, n_clusters and, when
    given, the scores of :func:`boltzkit.interpret.tree_metrics.level_scores`) and
    ``<stem>_assignments.csv`` (one row per data point), next to it, atomically.

    Returns the paths written, keyed ``newick``, ``levels``, ``assignments``.
    """
    path = Path(newick_path)
    stem = path.with_suffix("")
    paths = {"newick": str(path), "levels": f"{stem}_levels.csv", "assignments": f"{stem}_assignments.csv"}
    write_text_atomic(path, tree.newick(leaf_names, data) + "\n")
    rows = tree.levels_table()
    flat_scores = [_flatten_scores(s) for s in scores] if scores else [{} for _ in rows]
    score_keys = list(flat_scores[0]) if flat_scores else []
    table = [[row["level"], row["age"], row["n_clusters"], *[f"{extra[k]:.6g}" for k in score_keys]]
             for row, extra in zip(rows, flat_scores)]
    write_text_atomic(paths["levels"], _csv([["level", "age", "n_clusters", *score_keys], *table]))
    write_text_atomic(paths["assignments"], tree.assignments_csv(labels, leaf_names))
    return paths


def _flatten_scores(score: dict) -> dict[str, float]:
    """{"ari": 0.9} -> {"ari": 0.9}; {"ari": {"level_1": 0.9}} -> {"ari:level_1": 0.9}; the keys
    level, age and n_clusters are left out."""
    out: dict[str, float] = {}
    for key, value in score.items():
        if key not in ("level", "age", "n_clusters"):
            out.update({f"{key}:{name}": float(v) for name, v in value.items()} if isinstance(value, dict)
                       else {key: float(value)})
    return out
