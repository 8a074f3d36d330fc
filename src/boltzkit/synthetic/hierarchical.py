"""Synthetic hierarchical data: binary sequences evolved along a known tree.

The generator of the artificial hierarchical dataset of Decelle, Seoane & Rosset (PRE 108, 014110,
2023; docs/methods.md section 4.2), made explicit: a uniformly random root sequence of ``n_features`` bits; each
node of level l-1 spawns ``branching`` children, each a copy of its parent with every bit flipped
independently with probability ``flip_probs[l-1]`` (l = 1..levels); every sample is a copy of a
leaf (a node of the last level) with every bit flipped with probability ``flip_probs[levels]``
(the sample noise). Samples are spread evenly over the leaves and shuffled.

The truth kept with the samples is the label of every sample at every level: ``labels[:, l-1]``
is the index (0..branching**l - 1) of the sample's ancestor at level l, level 1 being the coarsest
split. Siblings get consecutive indices, so the ancestor at level l-1 of node k is k // branching.

File layout (HDF5, what ``boltzkit generate hierarchical`` writes; ``boltzkit train`` reads
``samples``)::

    samples              uint8 (n_samples, n_features), values {0,1}
    labels/level_1 ...   int64 (n_samples,), one dataset per level (level_1 = coarsest)
    truth/root           uint8 (n_features,)
    truth/nodes/level_l  uint8 (branching**l, n_features), the node sequences of level l
    truth/newick         the true tree of the clusters (string), leaves named L<levels>_<k>
    attrs                generator="hierarchical", levels, branching, n_features, flip_probs, seed
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from boltzkit.errors import BoltzkitError, DataError
from boltzkit.io.atomic import atomic_hdf5

__all__ = ["HierarchicalDataset", "hierarchical", "default_flip_probs", "read_level_labels",
           "true_newick"]


def default_flip_probs(levels: int) -> list[float]:
    """``levels + 1`` values: mutation probabilities 0.25 * 0.6**(l-1) for l = 1..levels (0.25, 0.15,
    0.09, ...), then a sample noise of 0.02 (at most a third of the last mutation)."""
    probs = [round(0.25 * 0.6**k, 6) for k in range(levels)]
    return probs + [min(0.02, probs[-1] / 3)]


@dataclass
class HierarchicalDataset:
    """Samples of the branching mutation process with their true tree.

    Attributes
    ----------
    samples : ndarray of shape (n_samples, n_features), uint8 {0,1}
    labels : ndarray of shape (n_samples, levels), int64
        ``labels[s, l-1]`` is the index of the level-l ancestor of sample s (level 1 = coarsest).
    root : ndarray of shape (n_features,), uint8
    nodes : list of ndarray, ``nodes[l-1]`` of shape (branching**l, n_features), uint8
    branching, flip_probs, seed : the generator's settings (``flip_probs`` has levels + 1 values)
    """

    samples: np.ndarray
    labels: np.ndarray
    root: np.ndarray
    nodes: list[np.ndarray]
    branching: int
    flip_probs: list[float]
    seed: int
    attrs: dict = field(default_factory=dict)

    @property
    def levels(self) -> int:
        return self.labels.shape[1]

    @property
    def n_features(self) -> int:
        return self.samples.shape[1]

    def level_labels(self) -> dict[str, np.ndarray]:
        """``{"level_1": labels[:, 0], ...}``, coarsest first."""
        return {f"level_{l + 1}": self.labels[:, l] for l in range(self.levels)}

    def newick(self) -> str:
        """The true tree of the clusters (see :func:`true_newick`)."""
        return true_newick(self.levels, self.branching)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the HDF5 file described in the module docstring, atomically."""
        path = Path(path)
        with atomic_hdf5(path) as f:
            f.create_dataset("samples", data=self.samples.astype(np.uint8), compression="gzip")
            g = f.create_group("labels")
            for name, lab in self.level_labels().items():
                g.create_dataset(name, data=lab.astype(np.int64))
            t = f.create_group("truth")
            t.create_dataset("root", data=self.root.astype(np.uint8))
            n = t.create_group("nodes")
            for l, nodes in enumerate(self.nodes):
                n.create_dataset(f"level_{l + 1}", data=nodes.astype(np.uint8))
            t.attrs["newick"] = self.newick()
            t.create_dataset("newick", data=self.newick())
            f.attrs.update(generator="hierarchical", levels=self.levels, branching=self.branching,
                           n_features=self.n_features, flip_probs=np.asarray(self.flip_probs),
                           seed=self.seed)
        return path


def true_newick(levels: int, branching: int) -> str:
    """Newick string of the complete ``branching``-ary tree of depth ``levels``; the node k of
    level l is named ``L<l>_<k>``, the root ``root``."""
    def node(level: int, k: int) -> str:
        name = f"L{level}_{k}"
        if level == levels:
            return name
        children = ",".join(node(level + 1, k * branching + c) for c in range(branching))
        return f"({children}){name}"

    return "(" + ",".join(node(1, c) for c in range(branching)) + ")root;"


def hierarchical(levels: int = 3, branching: int = 2, n_features: int = 100,
                 flip_probs: Sequence[float] | None = None, n_samples: int = 1000,
                 seed: int = 0) -> HierarchicalDataset:
    """Draw samples of the branching mutation process (see the module docstring).

    Parameters
    ----------
    levels : int, depth of the tree (>= 1)
    branching : int, children per node (>= 2)
    n_features : int, sequence length N
    flip_probs : sequence of ``levels + 1`` floats in [0, 0.5]
        Flip probability of the mutation that creates the nodes of level 1, 2, ..., levels, and
        last the sample noise (flip probability from a leaf to each of its samples). ``levels``
        values mean no sample noise. Default :func:`default_flip_probs`.
    n_samples : int, number of samples (spread evenly over the branching**levels leaves)
    seed : int, seed of ``numpy.random.default_rng``

    Returns
    -------
    HierarchicalDataset
    """
    if levels < 1 or branching < 2 or n_features < 1 or n_samples < 1:
        raise BoltzkitError("hierarchical: need levels >= 1, branching >= 2, n_features >= 1 and "
                            "n_samples >= 1")
    probs = default_flip_probs(levels) if flip_probs is None else [float(p) for p in flip_probs]
    if len(probs) == levels:
        probs = probs + [0.0]
    if len(probs) != levels + 1:
        raise BoltzkitError(f"hierarchical: --flip-probs needs {levels + 1} values (one per level, "
                            f"then the sample noise) or {levels}; got {len(probs)}")
    if not all(0.0 <= p <= 0.5 for p in probs):
        raise BoltzkitError(f"hierarchical: flip probabilities must be in [0, 0.5]; got {probs}")
    n_leaves = branching**levels
    rng = np.random.default_rng(seed)

    def mutate(parents: np.ndarray, p: float) -> np.ndarray:
        return parents ^ (rng.random(parents.shape) < p).astype(np.uint8)

    root = (rng.random(n_features) < 0.5).astype(np.uint8)
    nodes = []
    parents = root[None, :]
    for level in range(levels):
        # children of node k are rows k*branching .. k*branching + branching-1
        parents = mutate(np.repeat(parents, branching, axis=0), probs[level])
        nodes.append(parents)
    leaf_of_sample = np.arange(n_samples) % n_leaves
    rng.shuffle(leaf_of_sample)
    samples = mutate(nodes[-1][leaf_of_sample], probs[levels])
    labels = np.stack([leaf_of_sample // branching**(levels - 1 - l) for l in range(levels)], 1)
    return HierarchicalDataset(samples.astype(np.uint8), labels.astype(np.int64), root, nodes, branching, probs, seed)


def read_level_labels(path: str | os.PathLike, group: str = "labels") -> dict[str, np.ndarray]:
    """The per-level labels stored in an HDF5 file (``labels/level_1``, ... or any datasets in the
    group), ordered by level number (coarsest first).

    Raises
    ------
    DataError
        When the file has no such group.
    """
    import h5py  # heavy: loaded only when a file is written or read

    with h5py.File(path, "r") as f:
        g = f.get(group)
        if not isinstance(g, h5py.Group):
            raise DataError(path, f"no group {group!r} of per-level labels")
        names = [k for k in g if isinstance(g[k], h5py.Dataset)]

        def order(name: str) -> tuple[int, str]:
            tail = name.rsplit("_", 1)[-1]
            return (int(tail), name) if tail.isdigit() else (1 << 30, name)

        out = {}
        for name in sorted(names, key=order):
            ds = g[name]
            text = h5py.check_string_dtype(ds.dtype) is not None
            out[name] = np.asarray(ds.asstr()[()], dtype=str) if text else ds[()]
        return out
