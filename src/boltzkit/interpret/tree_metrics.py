"""Scores of a recovered hierarchy against known labels (docs/methods.md 4.3).

* per level, for every label family: the adjusted Rand index (:func:`sklearn.metrics.adjusted_rand_score`)
  and the purity (fraction of points whose cluster's majority label is their own label);
* against a known tree given as per-level labels (the synthetic hierarchical data): for every true
  level, the recovered level that matches it best and its ARI (:func:`tree_agreement`), and the
  fraction of resolved triplets the two trees group the same way (:func:`triplet_agreement`).

Labels are any 1-D arrays (ints or strings). Points whose label is missing (None, NaN, "", "nan",
"none", "-1" as strings) are left out of that family's scores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import h5py
import numpy as np

from boltzkit.data.binary import load_labels
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.synthetic.hierarchical import read_level_labels

__all__ = ["purity", "adjusted_rand_index", "level_scores", "tree_agreement", "triplet_agreement",
           "read_label_sets", "valid_label_mask"]

_MISSING = {"", "nan", "none", "-1", "uncategorized"}


def valid_label_mask(labels: np.ndarray) -> np.ndarray:
    """Boolean mask of the points that have a label (see the module docstring)."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        return np.isfinite(labels)
    if labels.dtype.kind in "OUS":
        return np.array([x is not None and str(x).strip().lower() not in _MISSING for x in labels],
                        dtype=bool)
    return np.ones(len(labels), dtype=bool)


def purity(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Σ_clusters (count of the cluster's majority label) / n, in (0, 1]."""
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if len(labels_true) != len(labels_pred):
        raise BoltzkitError(f"{len(labels_true)} labels for {len(labels_pred)} points")
    if len(labels_true) == 0:
        return float("nan")
    _, t = np.unique(labels_true, return_inverse=True)
    _, p = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(table, (p, t), 1)
    return float(table.max(1).sum() / len(t))


def adjusted_rand_index(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985), 1 for identical partitions, ~0 at random."""
    from sklearn.metrics import adjusted_rand_score  # heavy optional dependency: loaded when used

    return float(adjusted_rand_score(np.asarray(labels_true), np.asarray(labels_pred)))


def _scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    mask = valid_label_mask(truth)
    return adjusted_rand_index(truth[mask], pred[mask]), purity(truth[mask], pred[mask])


def level_scores(assignments: np.ndarray, labels: Mapping[str, np.ndarray] | np.ndarray
                 ) -> list[dict]:
    """ARI and purity of every level against every label family.

    Parameters
    ----------
    assignments : ndarray of shape (n_points, n_levels), cluster of every point per level
    labels : one array of shape (n_points,), or {family name: array}

    Returns
    -------
    list of dict, one per level: ``level`` (1-based), ``n_clusters`` and ``ari``, ``purity`` —
    floats for a single array, {family: float} for a mapping.
    """
    assignments = np.asarray(assignments)
    single = not isinstance(labels, Mapping)
    families = {"labels": np.asarray(labels)} if single else {k: np.asarray(v) for k, v in labels.items()}
    for name, lab in families.items():
        if len(lab) != len(assignments):
            raise BoltzkitError(f"labels {name!r}: {len(lab)} values for {len(assignments)} points")
    out = []
    for l, pred in enumerate(assignments.T):
        scores = {name: _scores(lab, pred) for name, lab in families.items()}
        ari, pur = {name: s[0] for name, s in scores.items()}, {name: s[1] for name, s in scores.items()}
        out.append({"level": l + 1, "n_clusters": int(len(np.unique(pred))),
                    "ari": ari["labels"] if single else ari,
                    "purity": pur["labels"] if single else pur})
    return out


def tree_agreement(assignments: np.ndarray, true_levels: Mapping[str, np.ndarray] | Sequence[np.ndarray]
                   ) -> list[dict]:
    """For every true level, the recovered level of highest ARI.

    Parameters
    ----------
    assignments : ndarray of shape (n_points, n_levels), the recovered levels
    true_levels : {name: labels} or a sequence of label arrays, coarsest first

    Returns
    -------
    list of dict, one per true level: ``labels`` (name), ``n_true`` (classes), ``best_level``
    (1-based), ``n_clusters`` (of that level), ``ari``, ``purity``.
    """
    assignments = np.asarray(assignments)
    if not isinstance(true_levels, Mapping):
        true_levels = {f"level_{i + 1}": np.asarray(t) for i, t in enumerate(true_levels)}
    out = []
    for name, truth in true_levels.items():
        truth = np.asarray(truth)
        best = max(range(assignments.shape[1]),
                   key=lambda l: (_scores(truth, assignments[:, l])[0], -l))
        ari, pur = _scores(truth, assignments[:, best])
        out.append({"labels": name, "n_true": int(len(np.unique(truth[valid_label_mask(truth)]))),
                    "best_level": best + 1, "n_clusters": int(len(np.unique(assignments[:, best]))),
                    "ari": ari, "purity": pur})
    return out


def triplet_agreement(assignments: np.ndarray, true_levels: Sequence[np.ndarray] | Mapping[str, np.ndarray],
                      n_triplets: int = 20000, seed: int = 0) -> float:
    """Fraction of random triplets, resolved by the true tree, that the recovered tree resolves the
    same way.

    A triplet (i, j, k) is resolved by a tree when one pair shares a strictly deeper common ancestor
    than the other two pairs (the lowest common ancestor of that pair lies below the others'). The
    score counts the resolved triplets of the true tree whose closest pair is also the unique
    closest pair in the recovered tree (unresolved in the recovered tree counts as a miss).

    Parameters
    ----------
    assignments : ndarray of shape (n_points, n_levels), root side first (nested levels)
    true_levels : per-level labels of the true tree, coarsest first
    """
    levels = true_levels.values() if isinstance(true_levels, Mapping) else true_levels
    truth = np.stack([np.asarray(t) for t in levels], 1)
    rec = np.asarray(assignments)
    n = len(rec)
    if n < 3:
        return float("nan")
    rng = np.random.default_rng(seed)
    tri = np.stack([rng.choice(n, 3, replace=False) for _ in range(n_triplets)])

    def closest(levels: np.ndarray) -> np.ndarray:
        # depth of each pair's common ancestor: the leading levels (root side first) where the two
        # share their cluster (nested levels: once separated, separated below; the leading run anyway)
        d = np.stack([np.cumprod(levels[tri[:, a]] == levels[tri[:, b]], axis=1).sum(1)
                      for a, b in ((0, 1), (0, 2), (1, 2))], 1)
        top = d.max(1, keepdims=True)
        unique = (d == top).sum(1) == 1
        return np.where(unique, d.argmax(1), -1)

    t, r = closest(truth), closest(rec)
    resolved = t >= 0
    if not resolved.any():
        return float("nan")
    return float((t[resolved] == r[resolved]).mean())


def read_label_sets(spec: str | os.PathLike | None, data_path: str | os.PathLike | None = None,
                    n_points: int | None = None) -> dict[str, np.ndarray]:
    """Labels for scoring, as {family name: array of shape (n,)}.

    ``spec`` is a file (text, one label per line, or ``.npy``; see
    :func:`boltzkit.data.binary.load_labels`; a 2-D ``.npy`` gives one family per column), or
    the name of a dataset or group inside the HDF5 file ``data_path``: ``labels/level_1`` names one
    dataset, a group (e.g. ``labels`` of the synthetic hierarchical data) means every dataset in it,
    ordered by level. ``None`` gives {}.

    Raises
    ------
    DataError
        An unreadable file, a missing dataset, or a length different from ``n_points``.
    """
    if spec is None:
        return {}
    path = Path(spec)
    if path.is_file():
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
            sets = ({f"{path.stem}_{j + 1}": column for j, column in enumerate(arr.T)} if arr.ndim == 2
                    else {path.stem: arr.reshape(-1)})
        else:
            sets = {path.stem: load_labels(path)}
    else:
        sets = _hdf5_labels(str(spec), data_path)
    if n_points is not None:
        for name, lab in sets.items():
            if len(lab) != n_points:
                raise DataError(spec, f"labels {name!r}: {len(lab)} values for {n_points} samples")
    return sets


def _hdf5_labels(name: str, data_path: str | os.PathLike | None) -> dict[str, np.ndarray]:
    if data_path is None or Path(data_path).suffix.lower() not in (".h5", ".hdf5"):
        raise DataError(name, "no such labels file (a dataset name needs an HDF5 data file)")
    try:
        f = h5py.File(data_path, "r")
    except OSError:
        raise DataError(data_path, "not a readable HDF5 file") from None
    with f:
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset):
            strings = h5py.check_string_dtype(obj.dtype) is not None
            values = np.asarray(obj.asstr()[()], dtype=str) if strings else obj[()]
            if values.ndim != 1:
                raise DataError(data_path, f"labels {name!r} must be 1-D, found shape {values.shape}")
            return {name.rsplit("/", 1)[-1]: values}
        if not isinstance(obj, h5py.Group):
            raise DataError(data_path, f"no labels dataset or group {name!r} (and no such file)")
    sets = read_level_labels(data_path, name)
    if not sets:
        raise DataError(data_path, f"the group {name!r} holds no label dataset")
    return sets
