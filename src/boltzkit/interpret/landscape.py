"""The free-energy landscape of an RBM: TAP fixed points reached from the data, and their basins.

Every data point is the start of a TAP iteration (:func:`boltzkit.interpret.tap.tap_fixed_points`);
the converged states are local minima of the TAP free energy (docs/methods.md 3.3). Fixed points closer
than a tolerance are one (:func:`deduplicate`); they are ranked by free energy (rank 0 = the lowest),
and the basin of a data point is the rank of the fixed point its iteration converged to. Points
whose iteration did not converge within ``max_iter`` get the basin -1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from boltzkit.data.binary import load_binary
from boltzkit.data.specs import datasets_like
from boltzkit.errors import DataError
from boltzkit.interpret.tap import TAPResult, tap_fixed_points
from boltzkit.io import trajectory
from boltzkit.io.atomic import atomic_hdf5
from boltzkit.models.registry import family

__all__ = ["Landscape", "RunPoints", "deduplicate", "free_energy_landscape", "landscape_from_fixed_points",
           "load_run_points", "save_landscape"]


@dataclass
class Landscape:
    """Distinct TAP fixed points ranked by free energy, and the basin of every starting point.

    Attributes
    ----------
    visible : ndarray of shape (n_fixed, n_visible), or (n_fixed, n_visible, q) for Potts
        Visible magnetisations of the distinct fixed points (model's units), lowest F first.
    hidden : ndarray of shape (n_fixed, n_hidden)
    free_energy : ndarray of shape (n_fixed,), increasing
    basin : ndarray of shape (n_points,), int64
        Rank of the fixed point reached from each starting point; -1 when it did not converge.
    basin_size : ndarray of shape (n_fixed,), number of starting points in each basin
    converged : ndarray of shape (n_points,), bool
    point_free_energy : ndarray of shape (n_points,), TAP free energy where each iteration ended
    order, beta : the TAP order and inverse temperature used
    point_damping : ndarray of shape (n_points,) or None, the damping each iteration ended with
        (above the starting value where the automatic damping caught an oscillation)
    """

    visible: np.ndarray
    hidden: np.ndarray
    free_energy: np.ndarray
    basin: np.ndarray
    basin_size: np.ndarray
    converged: np.ndarray
    point_free_energy: np.ndarray
    order: int = 2
    beta: float = 1.0
    point_damping: np.ndarray | None = None

    @property
    def n_fixed_points(self) -> int:
        return len(self.free_energy)

    @property
    def n_points(self) -> int:
        return len(self.basin)

    def table(self) -> list[dict[str, float]]:
        """One row per fixed point: rank, free energy, basin size and fraction of the points."""
        n = max(self.n_points, 1)
        return [{"rank": k, "free_energy": float(f), "basin_size": int(s), "fraction": float(s) / n}
                for k, (f, s) in enumerate(zip(self.free_energy, self.basin_size))]


def deduplicate(points: Tensor, tol: float = 1e-3) -> Tensor:
    """Group points closer than ``tol`` (max-norm over all coordinates), greedily in the given order.

    The first point not yet grouped starts a new group that takes every remaining point within
    ``tol`` of it (so the group's members are within 2 tol of each other).

    Parameters
    ----------
    points : Tensor of shape (n, ...) (flattened per point)
    tol : float

    Returns
    -------
    Tensor of shape (n,), int64: the group of each point, numbered 0, 1, ... in order of first
    appearance.
    """
    flat = points.reshape(points.shape[0], int(np.prod(points.shape[1:])))
    group = torch.full((flat.shape[0],), -1, dtype=torch.int64, device=flat.device)
    for k in itertools.count():
        free = (group < 0).nonzero().flatten()
        if len(free) == 0:
            return group
        close = (flat[free] - flat[free[0]]).abs().amax(1) < tol
        group[free[close]] = k


def landscape_from_fixed_points(result: TAPResult, dedup_tol: float = 1e-3, order: int = 2,
                                beta: float = 1.0) -> Landscape:
    """Deduplicate and rank the converged states of a :class:`~boltzkit.interpret.tap.TAPResult`.

    Within a group of duplicates the representative is the member of lowest free energy.
    """
    conv = result.converged
    idx = conv.nonzero().flatten()
    basin = np.full(len(conv), -1, dtype=np.int64)
    point_f = result.free_energy.detach().cpu().numpy()
    damping = None if result.damping is None else result.damping.detach().cpu().numpy()
    # sort the converged points by free energy first: the groups, numbered in order of first
    # appearance, are then numbered by rank, and the first member of each (its lowest free energy)
    # represents it
    order_f = idx[torch.argsort(result.free_energy[idx], stable=True)]
    group = deduplicate(result.visible[order_f], dedup_tol).cpu().numpy()
    reps = order_f[torch.as_tensor(np.unique(group, return_index=True)[1], device=order_f.device)]
    basin[order_f.cpu().numpy()] = group
    sizes = np.bincount(group, minlength=len(reps))
    return Landscape(result.visible[reps].detach().cpu().numpy(),
                     result.hidden[reps].detach().cpu().numpy(),
                     result.free_energy[reps].detach().cpu().numpy(), basin, sizes,
                     conv.cpu().numpy(), point_f, order, beta, damping)


def free_energy_landscape(model, data: Tensor, order: int = 2, beta: float = 1.0,
                          damping: float = 0.0, tol: float = 1e-6, max_iter: int = 2000,
                          dedup_tol: float = 1e-3, batch_size: int | None = None,
                          auto_damping: bool = True,
                          progress: Callable[[int, int], None] | None = None) -> Landscape:
    """TAP fixed points reached from every data point, deduplicated and ranked by free energy.

    Parameters
    ----------
    model : a LayeredEnergy: RBM with {0,1}, ±1 or categorical visible units
    data : Tensor of shape (n_points, n_visible)
        Starting configurations in the model's units (Potts: codes).
    order, beta, damping, tol, max_iter, batch_size, auto_damping, progress : see
        :func:`~boltzkit.interpret.tap.tap_fixed_points`
    dedup_tol : fixed points within this max-norm distance are the same

    Returns
    -------
    Landscape
    """
    result = tap_fixed_points(model, data, order=order, beta=beta, damping=damping, tol=tol,
                              max_iter=max_iter, batch_size=batch_size, auto_damping=auto_damping,
                              progress=progress)
    return landscape_from_fixed_points(result, dedup_tol, order, beta)


# ------------------------------------------------------------------------------- data of a run
@dataclass
class RunPoints:
    """Data points prepared for the TAP iteration of a run's model.

    Attributes
    ----------
    x : Tensor of shape (n, n_visible), float64, in the model's units (Potts: codes)
    index : ndarray of shape (n,), the rows of the data file that were kept
    names : list of str, one per point: the rows' names where the data have them (alignment
        headers, haplotype IDs, an ``ids`` array), else ``s<row>``
    labels : ndarray of shape (n,) or None, labels stored with the data (a table's labels column)
    image_shape : (height, width) or None
    alphabet : str or None (Potts runs)
    n_total : number of rows in the data file
    labels_name : str or None, the name of ``labels`` (a table's labels column)
    table : dict or None, how a table of categorical columns was read (its ``header`` and
        ``labels_column``, :class:`boltzkit.data.specs.TableSpec`); None for other data
    """

    x: Tensor
    index: np.ndarray
    names: list[str]
    labels: np.ndarray | None = None
    image_shape: tuple[int, int] | None = None
    alphabet: str | None = None
    n_total: int = 0
    labels_name: str | None = None
    table: dict | None = None

    def one_hot(self) -> np.ndarray:
        """The points as in the fixed points' units: one-hot (n, N, q) for Potts codes, else x."""
        x = self.x.cpu().numpy()
        if self.alphabet is None:
            return x
        return np.eye(len(self.alphabet))[x.astype(np.int64)]


def _categorical_points(config: dict, data_path, n_states: int | None):
    """(codes as float64, names, labels, alphabet, table) of a categorical run's data file, read
    like the run's own data (:func:`boltzkit.data.specs.datasets_like`): an alignment with the
    run's alphabet, a table coded with the run's categories."""
    stored = config.get("data")
    if not stored:  # no spec (an imported model, an empty entry): DATA read as categorical data
        config = {key: value for key, value in config.items() if key != "data"}
    elif isinstance(stored, dict):  # the sequence weights are not used: skip their O(M^2) cost
        config = dict(config, data=dict(stored, reweight=False))
    try:
        dataset = datasets_like(config, data_path, data_kind="categorical")[0]
    except ValueError as e:  # e.g. alphabet detection: a user error
        raise DataError(data_path, str(e)) from None
    if n_states not in (None, dataset.q):
        raise DataError(data_path, f"the data have {dataset.q} states per column, the model {n_states}")
    table = None
    if dataset.categories is not None:
        stored = config.get("data", {})
        table = {"header": stored.get("header", "auto"), "labels_column": stored.get("labels_column")}
    return dataset.samples.astype(np.float64), list(dataset.ids), dataset.labels, dataset.alphabet, table


def load_run_points(run_path, data_path, dataset: str = "samples", n_points: int | None = None,
                    seed: int = 0) -> RunPoints:
    """Read the data to place in a run's landscape or tree, in the values of the run's model.

    The visible units of the run's family (:meth:`~boltzkit.models.registry.Family.space`) say how:
    categorical runs read ``data_path`` as the run's own data were read
    (:func:`boltzkit.data.specs.datasets_like`): an alignment with the run's alphabet, a table of
    categorical columns (:mod:`boltzkit.data.table`) with the run's categories and labels column;
    binary runs read ``data_path`` with :func:`boltzkit.data.binary.load_binary` (``dataset``: the
    HDF5 / npz array), {0,1} data mapped to the model's values. The points are named by the rows'
    names where the data have them (alignment headers, haplotype IDs), else ``s<row>``.
    ``n_points`` (if smaller than the data) keeps a random subset of rows drawn with ``seed``, in
    file order.

    Raises
    ------
    BoltzkitError / DataError
        Unreadable data, or data whose width (or alphabet) does not match the model.
    """
    config = trajectory.read_config(run_path)
    model_config = config.get("model", {})
    space = family(model_config.get("kind"), f"{run_path}: model").space(model_config.get("n_states") or 2)
    labels_name = image_shape = None
    if space.categorical:
        values, names, labels, alphabet, table = _categorical_points(config, data_path,
                                                                     model_config.get("n_states"))
        if table is not None and table["labels_column"] is not None and labels is not None:
            labels_name = str(table["labels_column"])
    else:
        data = load_binary(data_path, dataset=dataset)
        values = space.from_data(data.samples)
        labels, image_shape, alphabet, table = data.labels, data.image_shape, None, None
        names = [f"s{i}" for i in range(len(values))] if data.ids is None else [str(i) for i in data.ids]
    if model_config.get("n_visible") not in (None, values.shape[1]):
        raise DataError(data_path, f"{values.shape[1]} columns, the model has {model_config['n_visible']} "
                                   "visible units")
    index = np.arange(len(values))
    if n_points is not None and 0 < n_points < len(values):
        index = np.sort(np.random.default_rng(seed).choice(len(values), n_points, replace=False))
    return RunPoints(torch.as_tensor(values[index]), index, [names[i] for i in index],
                     None if labels is None else np.asarray(labels)[index], image_shape, alphabet,
                     len(values), labels_name, table)


def save_landscape(path, landscape: Landscape, points: RunPoints | None = None,
                   attrs: dict | None = None) -> None:
    """Write a landscape to HDF5, atomically::

        fixed_points/visible, fixed_points/hidden, fixed_points/free_energy, fixed_points/basin_size
        points/basin, points/converged, points/free_energy, points/damping, points/index (rows of
        the data file), points/names (their names, UTF-8: haplotype IDs, alignment headers,
        ``s<row>``)
        attrs: order, beta, n_fixed_points, and ``attrs``
    """
    datasets = {"fixed_points/visible": landscape.visible, "fixed_points/hidden": landscape.hidden,
                "fixed_points/free_energy": landscape.free_energy, "fixed_points/basin_size": landscape.basin_size,
                "points/basin": landscape.basin, "points/converged": landscape.converged,
                "points/free_energy": landscape.point_free_energy, "points/damping": landscape.point_damping,
                "points/index": None if points is None else points.index,
                "points/names": None if points is None else
                np.array([name.encode("utf-8") for name in points.names], dtype=bytes)}
    with atomic_hdf5(path) as f:
        for name, data in datasets.items():  # h5py makes the groups of a path
            if data is not None:
                f.create_dataset(name, data=data)
        f.attrs.update(format="boltzkit-landscape", order=landscape.order, beta=landscape.beta,
                       n_fixed_points=landscape.n_fixed_points)
        f.attrs.update({k: v for k, v in (attrs or {}).items() if v is not None})
