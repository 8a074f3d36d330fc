"""Interpretation of a saved run: what ``boltzkit couplings``, ``landscape`` and ``tree`` compute.

Each function checks its arguments (the one-line errors name the command-line flags), reads the
run, computes, writes its files and returns the result with the summary the commands print as
JSON; the commands only add their figures (:mod:`boltzkit.report`) and print.

* :func:`run_couplings` — effective fields and couplings of a run's model (or of an archive of the
  ``rbms`` package), written as COUPLINGS.h5, compared with a reference when one is given;
* :func:`run_landscape` — TAP fixed points reached from the data, written as an HDF5 file;
* :func:`run_tree` — TreeRBM over the checkpoints (or temperatures) of a run, written as Newick and CSV.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import torch

from boltzkit.checks import integer, number
from boltzkit.data.table import read_table
from boltzkit.errors import BoltzkitError
from boltzkit.interpret.couplings_file import (FORMAT, compare_potts_with_truth, compare_with_truth, file_format,
                                               read_truth, write_couplings, write_potts_couplings)
from boltzkit.interpret.expansion import GAUGES, EffectiveCouplings, PottsCouplings
from boltzkit.interpret.landscape import Landscape, RunPoints, free_energy_landscape, load_run_points, \
    save_landscape
from boltzkit.interpret.potts_couplings import potts_model_couplings
from boltzkit.interpret.rbm_couplings import COSSU_CAVEAT, gaussian_exact_gap, model_couplings
from boltzkit.interpret.tree import HierarchicalTree, tree_from_annealing, tree_from_checkpoints, \
    write_tree_outputs
from boltzkit.interpret.tree_metrics import level_scores, read_label_sets, tree_agreement, triplet_agreement
from boltzkit.interpret.expansion import MAX_INDEX_SETS
from boltzkit.io.foreign import foreign_format
from boltzkit.io.outputs import check_outputs
from boltzkit.io.trajectory import load_model, load_models
from boltzkit.models.capabilities import HiddenLayer, LayeredEnergy, require
from boltzkit.training.memory import refuse_beyond

__all__ = ["COUPLING_METHODS", "NORMALIZATIONS", "TREE_VARIANTS", "RunCouplings", "RunLandscape", "RunTree",
           "load_run_or_archive", "run_couplings", "run_landscape", "run_tree", "couplings_bytes", "tap_bytes"]

#: ``--method`` of ``boltzkit couplings`` (which of them apply depends on the model).
COUPLING_METHODS = ("exact", "gaussian", "sampling", "cossu", "mixture")
NORMALIZATIONS = ("relative", "reference")
TREE_VARIANTS = ("checkpoints", "annealing")


# ---------------------------------------------------------------------------------- couplings
@dataclass
class RunCouplings:
    """What :func:`run_couplings` found.

    Attributes
    ----------
    couplings : EffectiveCouplings (binary visible units) or PottsCouplings (categorical ones)
    gauge : "ising", "lattice-gas" or "zero-sum" (categorical models)
    reference : GroundTruth or None, the reference compared with
    errors : dict order -> ReconstructionError, or None without a reference
    summary : dict, the JSON of ``boltzkit couplings`` (without its ``figures``)
    seconds : float, the time the expansion took
    """

    couplings: EffectiveCouplings | PottsCouplings
    gauge: str
    reference: Any = None
    errors: dict[int, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def categorical(self) -> bool:
        return isinstance(self.couplings, PottsCouplings)


def load_run_or_archive(run: str | os.PathLike, checkpoint: int | None = None):
    """(model, source): a boltzkit run file (source "run file") or the model file of another tool
    (:mod:`boltzkit.io.foreign`, source its format)."""
    return load_model(run, checkpoint), foreign_format(run) or "run file"


def _width(model) -> tuple[int, int]:
    """(sites, states per site): q for categorical visible units, 1 for binary ones."""
    return model.n_visible, model.visible.n_states if model.visible.categorical else 1


def couplings_bytes(model, order: int, method: str, samples: int) -> int:
    """Bytes the couplings of ``model`` allocate (float64): the dense pair couplings (N q)^2 and two
    temporaries of that size; per order k, its index sets C(N, k) (at most the cap of
    :data:`~boltzkit.interpret.expansion.MAX_INDEX_SETS`) with k indices and three q^k-value
    copies; for ``sampling``, three copies of the samples. The chunked loops over hidden units
    are bounded apart (:data:`~boltzkit.interpret.expansion.CHUNK_ELEMENTS`)."""
    n, q = _width(model)
    need = 3 * (n * q) ** 2
    for k in range(2, order + 1):
        need += min(math.comb(n, k), MAX_INDEX_SETS) * (k + 3 * q ** k)
    if method == "sampling":
        need += 3 * samples * n
    return 8 * need


def tap_bytes(model, n_points: int) -> int:
    """Bytes of the TAP iterations from ``n_points`` starts (float64): twelve copies of the
    magnetisations of both layers (current, previous, fields, damping state, temporaries)."""
    n, q = _width(model)
    hidden = model.n_hidden if isinstance(model, HiddenLayer) else 0
    return 8 * 12 * n_points * (n * q + hidden)


def _check_couplings_arguments(out: Path, order: int, method: str, gauge: str, normalization: str) -> None:
    if method not in COUPLING_METHODS:
        raise BoltzkitError(f"--method {method!r}: choose one of {', '.join(COUPLING_METHODS)}")
    if order not in (2, 3):
        raise BoltzkitError(f"--order {order}: choose 2 or 3")
    if gauge not in GAUGES:
        raise BoltzkitError(f"--gauge {gauge!r}: choose ising or lattice-gas")
    if normalization not in NORMALIZATIONS:
        raise BoltzkitError(f"--normalization {normalization!r}: choose relative or reference")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise BoltzkitError(f"--out {out}: expected an .h5 / .hdf5 file name")


def _compared_gauge(model, run, gauge: str, method: str, reference, truth) -> str:
    """The gauge of the couplings of ``model`` ("zero-sum" for categorical visible units), after
    checking that ``gauge``, ``method`` and the reference suit it."""
    # categorical by the model's visible units, not by q: a q = 2 Potts model has codes {0, 1}
    if model.visible.categorical:
        if gauge != "ising":  # zero-sum is the q-state Ising gauge (identical at q = 2); nothing else exists
            raise BoltzkitError(f"--gauge {gauge}: {run} is a Potts model, whose couplings are given in the "
                                "zero-sum gauge only (drop --gauge)")
        if reference is not None and reference.convention != "potts":
            raise BoltzkitError(f"--truth {truth}: {reference.convention} couplings cannot be compared with the "
                                f"Potts couplings of {run}")
        return "zero-sum"
    if reference is not None and reference.convention == "potts":
        raise BoltzkitError(f"--truth {truth}: Potts couplings cannot be compared with the binary model of {run}")
    if method == "mixture" and not isinstance(model, LayeredEnergy):
        raise BoltzkitError(f"--method mixture applies to RBMs (binary or Potts), not to {run}")
    return gauge


def _write_couplings(out: Path, result, parameters: dict[str, Any]) -> tuple[list[int], dict[str, float]]:
    """Write COUPLINGS.h5; (orders written, mean standard error per order when sampled)."""
    if isinstance(result, PottsCouplings):
        write_potts_couplings(out, result, parameters)
        standard_errors = {} if result.fields_error is None else {"1": float(result.fields_error.mean())}
        if result.couplings_error is not None:
            n = result.n_sites
            standard_errors["2"] = float(result.couplings_error.sum() / max(1, n * (n - 1) * result.n_states ** 2))
        return [1, 2, *sorted(result.terms)], standard_errors
    write_couplings(out, result, parameters)
    return [1, *result.orders], {str(k): float(v.mean()) for k, v in result.standard_errors.items()}


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _comparison(found: RunCouplings, truth: Path, normalization: str) -> dict[str, Any]:
    """Compare ``found`` with its reference (sets ``found.errors``); the JSON entries it adds."""
    reference = found.reference
    unscaled = read_truth(truth, scaled=False) if normalization == "reference" else None
    compare = compare_potts_with_truth if found.categorical else compare_with_truth
    found.errors = errors = compare(found.couplings, reference, normalization, unscaled)
    if file_format(truth) == FORMAT:
        scaling = "effective couplings, as stored"
    elif reference.scaled:
        scaling = f"beta-scaled: beta * J with beta = {reference.beta:g}"
    else:
        scaling = f"unscaled J (beta = {reference.beta:g} not applied)"
    return {"truth": {"path": str(truth), "scaling": scaling, "convention": reference.convention,
                      "compared_in_gauge": found.gauge, "normalization": normalization},
            "epsilon": {str(k): _finite(e.epsilon) for k, e in errors.items()},
            "rmse": {str(k): _finite(e.rmse) for k, e in errors.items()},
            "n_terms": {str(k): e.n_terms for k, e in errors.items()}}


def _exact_gaps(model, result, order: int, quadrature: int,
                progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    """The JSON entries of :func:`~boltzkit.interpret.rbm_couplings.gaussian_exact_gap` for a binary
    RBM in the Ising gauge ({} otherwise, or when exact is out of reach): ``gaussian_exact_gap``
    ({order: relative L2 gap of the central-limit couplings to the exact ones}, "1" the fields) and,
    for mixture, cossu or sampling, ``method_exact_gap`` (the same for the method used)."""
    if not isinstance(model, LayeredEnergy) or not isinstance(result, EffectiveCouplings) \
            or result.gauge != "ising":
        return {}
    gaps = gaussian_exact_gap(model, order, quadrature, computed=result, progress=progress)
    if gaps is None:
        return {}
    entries = {"gaussian_exact_gap": {str(k): _finite(v) for k, v in gaps["gaussian"].items()}}
    if result.method in gaps and result.method != "gaussian":
        entries["method_exact_gap"] = {str(k): _finite(v) for k, v in gaps[result.method].items()}
    return entries


def run_couplings(run: str | os.PathLike, out: str | os.PathLike, order: int = 2, method: str = "exact",
                  gauge: str = "ising", truth: str | os.PathLike | None = None, unscaled_truth: bool = False,
                  normalization: str = "relative", checkpoint: int | None = None, samples: int = 200_000,
                  quadrature: int = 80, seed: int = 0, max_memory: float | None = None,
                  progress: Callable[[int, int], None] | None = None, exact_gap: bool = True) -> RunCouplings:
    """Effective fields and couplings of a run's model, written to ``out`` (COUPLINGS.h5).

    Binary visible units: :func:`~boltzkit.interpret.rbm_couplings.model_couplings` in the ``ising``
    or ``lattice-gas`` gauge; categorical ones:
    :func:`~boltzkit.interpret.potts_couplings.potts_model_couplings` in the zero-sum gauge. With
    ``truth`` (a synthetic data file, beta-scaled unless ``unscaled_truth``, or another couplings
    file), the reconstruction error of every order (:mod:`~boltzkit.interpret.couplings_file`).
    ``samples`` and ``seed``: the sampling method; ``quadrature``: the Gauss-Hermite nodes;
    ``max_memory``: GiB allowed in place of the memory available (:func:`couplings_bytes`);
    ``progress(done, total)``: called as the expansion advances; ``exact_gap``: for a binary RBM in
    the Ising gauge whose exact expansion is affordable (N <= 24,
    :func:`~boltzkit.interpret.rbm_couplings.gaussian_exact_gap`), measure how far the central limit
    (and the method used, when approximate) is from the exact couplings.

    Returns
    -------
    RunCouplings; its ``summary`` holds the keys run, source, out, method, gauge, orders, n_sites,
    n_states, time_s, standard_error (sampling), truth, epsilon, rmse, n_terms (with a reference),
    gaussian_exact_gap and method_exact_gap ({order: relative L2 gap to exact}, "1" the fields; see
    :func:`_exact_gaps`), approximation (cossu: what it neglects).
    """
    run, out = Path(run), Path(out)
    _check_couplings_arguments(out, order, method, gauge, normalization)
    integer(samples, "--samples", 1)
    integer(quadrature, "--quadrature", 1)
    integer(seed, "--seed", 0)
    check_outputs({"--out": out}, {"RUN": run, "--truth": truth})
    reference = read_truth(truth, scaled=not unscaled_truth) if truth is not None else None
    model, source = load_run_or_archive(run, checkpoint)
    refuse_beyond(couplings_bytes(model, order, method, samples),
                  f"the order-{order} couplings of {model.n_visible} sites", "lower --order or --samples",
                  max_memory=max_memory)
    gauge = _compared_gauge(model, run, gauge, method, reference, truth)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    if model.visible.categorical:
        result = potts_model_couplings(model, orders=order, method=method, n_samples=samples, generator=generator,
                                       n_quadrature=quadrature, progress=progress)
    else:
        result = model_couplings(model, orders=order, method=method, gauge=gauge, n_samples=samples,
                                 generator=generator, n_quadrature=quadrature, progress=progress)
    elapsed = time.perf_counter() - start
    parameters = {"run": str(run), "source": source, "checkpoint": checkpoint, "method": method, "gauge": gauge,
                  "order": order, "samples": samples if method == "sampling" else None,
                  "seed": seed if method == "sampling" else None}
    orders, standard_errors = _write_couplings(out, result, parameters)
    found = RunCouplings(result, gauge, reference, seconds=elapsed)
    found.summary = {"run": str(run), "source": source, "out": str(out), "method": result.method,
                     "gauge": gauge, "orders": orders, "n_sites": result.n_sites,
                     "n_states": result.n_states if found.categorical else 2, "time_s": round(elapsed, 3)}
    if standard_errors:
        found.summary["standard_error"] = standard_errors
    if exact_gap:
        found.summary.update(_exact_gaps(model, result, order, quadrature, progress))
    if result.method == "cossu":
        found.summary["approximation"] = COSSU_CAVEAT
    if reference is not None:
        found.summary.update(_comparison(found, Path(truth), normalization))
    return found


# ---------------------------------------------------------------------------------- landscape
def _refuse_tap_beyond(model, points: RunPoints, max_memory: float | None) -> None:
    refuse_beyond(tap_bytes(model, len(points.x)), f"the TAP iterations from {len(points.x)} data rows",
                  "lower --n-points", max_memory=max_memory)


def _check_tap_arguments(beta: float, damping: float, tol: float, max_iter: int, n_points: int | None,
                         seed: int) -> None:
    number(beta, "--beta", 0.0, low_open=True)
    number(damping, "--damping", 0.0, 1.0, high_open=True)
    number(tol, "--tol", 0.0, low_open=True)
    integer(max_iter, "--max-iter", 1)
    if n_points is not None:
        integer(n_points, "--n-points", 0)
    integer(seed, "--seed", 0)



@dataclass
class RunLandscape:
    """What :func:`run_landscape` found: the landscape, the data points it started from, the
    seconds of the TAP iterations and the summary (the JSON of ``boltzkit landscape`` without its
    ``files``)."""

    landscape: Landscape
    points: RunPoints
    seconds: float
    summary: dict[str, Any]


def run_landscape(run: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, order: int = 2,
                  checkpoint: int | None = None, n_points: int | None = 2000, dataset: str = "samples",
                  beta: float = 1.0, damping: float = 0.0, auto_damping: bool = True, tol: float = 1e-6,
                  max_iter: int = 2000, dedup_tol: float = 1e-3, seed: int = 0,
                  max_memory: float | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RunLandscape:
    """TAP fixed points of a run's model (a :class:`~boltzkit.models.capabilities.LayeredEnergy`)
    reached from ``n_points`` rows of ``data`` (all with None or 0, else a random subset drawn with
    ``seed``), written to ``out`` (:func:`~boltzkit.interpret.landscape.save_landscape`). The other
    arguments are those of :func:`~boltzkit.interpret.landscape.free_energy_landscape`;
    ``max_memory``: GiB allowed in place of the memory available (:func:`tap_bytes`);
    ``progress(done, n_points)`` follows the TAP iterations
    (:func:`~boltzkit.interpret.tap.tap_fixed_points`), after every check."""
    out = Path(out)
    _check_tap_arguments(beta, damping, tol, max_iter, n_points, seed)
    # the command draws its figure beside the HDF5 file, as <out>.png
    check_outputs({"--out": out, "its figure": out.with_suffix(".png")}, {"RUN": run, "DATA": data})
    model = load_model(run, checkpoint).to(dtype=torch.float64)
    require(model, LayeredEnergy, "TAP landscapes")
    points = load_run_points(run, data, dataset, n_points or None, seed)
    _refuse_tap_beyond(model, points, max_memory)
    t0 = time.perf_counter()
    land = free_energy_landscape(model, points.x, order=order, beta=beta, damping=damping, tol=tol,
                                 max_iter=max_iter, dedup_tol=dedup_tol, auto_damping=auto_damping,
                                 progress=progress)
    seconds = time.perf_counter() - t0
    save_landscape(out, land, points, {"run": str(run), "data": str(data),
                                       "checkpoint": -1 if checkpoint is None else checkpoint})
    summary = {"n_points": land.n_points, "n_fixed_points": land.n_fixed_points,
               "n_unconverged": int((~land.converged).sum()),
               "n_damped": int((land.point_damping > damping).sum()),
               "max_damping": float(land.point_damping.max()), "order": order, "seconds": seconds,
               "fixed_points": land.table()}
    return RunLandscape(land, points, seconds, summary)


# ---------------------------------------------------------------------------------- tree
@dataclass
class RunTree:
    """What :func:`run_tree` found.

    Attributes
    ----------
    tree : HierarchicalTree
    points : RunPoints, the data points placed in the tree
    label_sets : dict family -> labels of the points (empty without labels)
    scores : list of dict (one per level: ari, purity) or None without labels
    summary : dict, the JSON of ``boltzkit tree`` (its ``files`` hold the files written)
    """

    tree: HierarchicalTree
    points: RunPoints
    label_sets: dict[str, np.ndarray]
    scores: list[dict] | None
    summary: dict[str, Any]


def _has_group(path: Path, name: str) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get(name), h5py.Group)
    except OSError:
        return False


def tree_labels(spec: str | None, data: str | os.PathLike,
                points: RunPoints) -> tuple[dict[str, np.ndarray], str | None]:
    """({family: labels of the chosen points}, where they came from): ``spec`` (a file, a dataset
    or group of the data file, or a column of a table of categorical columns: its name or 0-based
    position), else the ``labels`` group of an HDF5 data file, else the labels stored with the data
    (a table's labels column, named after it); ({}, None) without any."""
    data = Path(data)
    if spec is not None and points.table is not None and not Path(spec).is_file():
        sets = _table_column_labels(spec, data, points)
        source = f"{data}:{next(iter(sets))}"
    elif spec is not None:
        sets = read_label_sets(spec, data)
        source = spec
    elif data.suffix.lower() in (".h5", ".hdf5") and _has_group(data, "labels"):
        sets = read_label_sets("labels", data)  # e.g. the synthetic hierarchical data
        source = f"{data}:labels/"
    elif points.labels is not None and points.labels_name is not None:
        return {points.labels_name: points.labels}, f"{data}:{points.labels_name} (the run's labels column)"
    elif points.labels is not None:
        return {"labels": points.labels}, f"{data} (stored labels)"
    else:
        return {}, None
    out = {}
    for name, values in sets.items():
        if len(values) != points.n_total:
            raise BoltzkitError(f"labels {name!r}: {len(values)} values for {points.n_total} data rows")
        out[name] = values[points.index]
    return out, source


def _table_column_labels(spec: str, data: Path, points: RunPoints) -> dict[str, np.ndarray]:
    """{column name: its values in every row} of the table ``data`` (``--labels`` naming a column:
    its name, or a whole number for its 0-based position, as ``train --labels-column``)."""
    column: str | int = int(spec) if spec.strip().isdigit() else spec
    table = read_table(data, header=points.table.get("header", "auto"), labels_column=column)
    return {str(table.labels_column): table.labels}


def _walk(run: Path, points: RunPoints, variant: str, beta_min: float, beta_steps: int,
          progress: Callable[[int, int], None] | None, **tap: Any) -> HierarchicalTree:
    """The TreeRBM walk over the run's checkpoints, or over temperatures of its last model."""
    if variant == "checkpoints":
        models = [(u, m.to(dtype=torch.float64)) for u, m in load_models(run)]
        if len(models) < 2:
            raise BoltzkitError(f"{run}: {len(models)} checkpoint(s); the tree needs many "
                                "(train with --checkpoints 100 --spacing linear) or --variant annealing")
        return tree_from_checkpoints(models, points.x, progress=progress, **tap)
    model = load_model(run).to(dtype=torch.float64)
    return tree_from_annealing(model, points.x, beta_min=beta_min, n_steps=beta_steps, progress=progress, **tap)


def _tree_summary(result: HierarchicalTree, variant: str, seconds: float, files: dict[str, str],
                  label_sets: dict[str, np.ndarray], label_source: str | None,
                  scores: list[dict] | None) -> dict[str, Any]:
    levels = result.levels_table()  # rows of level, age, n_clusters
    for row, score in zip(levels, scores or []):
        row.update(ari=score["ari"], purity=score["purity"])
    summary = {"variant": variant, "n_points": result.n_points, "n_levels": result.n_levels,
               "seconds": seconds, "levels": levels, "files": files,
               "n_unconverged": sum(t["n_unconverged"] for t in result.trace),
               "n_damped": sum(t["n_damped"] for t in result.trace)}
    if label_sets:
        assignments = result.assignments()
        summary["labels"] = label_source
        summary["agreement"] = tree_agreement(assignments, label_sets)
        if len(label_sets) > 1:
            summary["triplet_agreement"] = triplet_agreement(assignments, label_sets)
    return summary


def run_tree(run: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, labels: str | None = None,
             n_points: int | None = 500, eps: float = 1.0, order: int = 2, variant: str = "checkpoints",
             beta_min: float = 0.9, beta_steps: int = 100, cluster_on: str = "visible", tol: float = 1e-4,
             max_iter: int = 10000, damping: float = 0.0, auto_damping: bool = True, dataset: str = "samples",
             seed: int = 0, progress: Callable[[int, int], None] | None = None,
             max_memory: float | None = None) -> RunTree:
    """TreeRBM of a run (docs/methods.md 4): ``n_points`` rows of ``data`` (all with None or 0)
    placed in the tree of the run's checkpoints (``variant="checkpoints"``) or of its last model at
    inverse temperatures 1 -> ``beta_min`` in ``beta_steps`` steps (``"annealing"``), scored
    against ``labels`` (see :func:`tree_labels`). Writes ``out`` (Newick) and the CSV files of
    :func:`~boltzkit.interpret.tree.write_tree_outputs` next to it. ``progress(done, total)`` is
    called after every stage of the walk; ``max_memory``: GiB allowed in place of the memory
    available (:func:`tap_bytes`); the other arguments are those of
    :func:`~boltzkit.interpret.tree.tree_from_checkpoints`.
    """
    run, out = Path(run), Path(out)
    if variant not in TREE_VARIANTS:
        raise BoltzkitError(f"--variant must be checkpoints or annealing, got {variant!r}")
    if out.suffix.lower() in (".png", ".csv", ".h5"):
        raise BoltzkitError(f"--out {out}: give the Newick file name (e.g. tree.nwk)")
    check_outputs({"--out": out, "its figure": out.with_suffix(".png")},
                  {"RUN": run, "DATA": data, "--labels": labels})
    _check_tap_arguments(1.0, damping, tol, max_iter, n_points, seed)
    number(eps, "--eps", 0.0, low_open=True)
    number(beta_min, "--beta-min", 0.0, 1.0, low_open=True)
    integer(beta_steps, "--beta-steps", 1)
    model = load_model(run)
    require(model, LayeredEnergy, "TreeRBM (TAP fixed points)")  # before reading the data
    points = load_run_points(run, data, dataset, n_points or None, seed)
    _refuse_tap_beyond(model, points, max_memory)
    label_sets, label_source = tree_labels(labels, data, points)
    t0 = time.perf_counter()
    result = _walk(run, points, variant, beta_min, beta_steps, progress, order=order, eps=eps, tol=tol,
                   max_iter=max_iter, damping=damping, cluster_on=cluster_on, auto_damping=auto_damping)
    seconds = time.perf_counter() - t0
    scores = level_scores(result.assignments(), label_sets) if label_sets else None
    if scores and len(label_sets) == 1:
        # one family: plain numbers in the JSON and the CSV
        name = next(iter(label_sets))
        scores = [dict(s, ari=s["ari"][name], purity=s["purity"][name]) for s in scores]
    files = write_tree_outputs(result, out, points.names, points.one_hot(), label_sets, scores)
    summary = _tree_summary(result, variant, seconds, files, label_sets, label_source, scores)
    return RunTree(result, points, label_sets, scores, summary)
