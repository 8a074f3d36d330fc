"""Evaluate a saved run: log Z, train/test log-likelihood, independent-site baseline, moments.

Binary RBMs (:func:`evaluate_run`) and categorical / pairwise runs (:func:`evaluate_categorical_run`:
Potts RBM, Potts and Ising Boltzmann machines).

This is what ``boltzkit evaluate`` prints; the keys of the returned dict are the CLI's JSON keys.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import log_partition
from boltzkit.evaluation.moments import compare_moments
from boltzkit.io import trajectory
from boltzkit.models.rbm import independent_site_model
from boltzkit.sampling.gibbs import run_chains, sample


def _as_tensor(dataset, kind: str, model) -> tuple[torch.Tensor, torch.Tensor | None]:
    from boltzkit.training.run import units_values

    x = torch.as_tensor(units_values(dataset.samples, kind), dtype=model.dtype, device=model.device)
    w = None if dataset.weights is None else torch.as_tensor(dataset.weights, dtype=torch.float64)
    return x, w


def evaluate_run(run: str | os.PathLike, data: str | os.PathLike | None = None,
                 test: str | os.PathLike | None = None, checkpoint: int | None = None,
                 log_z_method: str = "auto", ais_chains: int = 1000, ais_steps: int = 5000,
                 ais_runs: int = 10, moment_samples: int = 2000, moment_steps: int = 1000,
                 seed: int = 0, device: str = "cpu",
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Evaluate the model of ``run`` at ``checkpoint`` (default: last).

    ``data`` / ``test`` default to the run's own training data and held-out split.
    Returns a dict with keys ``log_z``, ``log_z_error``, ``log_z_method``, ``log_likelihood``
    (``train``, ``test``), ``independent_site_log_likelihood`` (``train``, ``test``),
    ``moments_pearson`` (``means``, ``correlations``), ``moments_slope``, ``checkpoint``.
    Runs of ``potts-rbm``, ``potts-bm`` and ``ising-bm`` models go to
    :func:`evaluate_categorical_run` (same keys; ``log_z`` may be None for large pairwise models).
    """
    from boltzkit.data.binary import load_binary
    from boltzkit.training.run import run_datasets

    if trajectory.read_config(run).get("model", {}).get("kind") in CATEGORICAL_KINDS:
        return evaluate_categorical_run(run, data, test, checkpoint, log_z_method, ais_chains,
                                        ais_steps, ais_runs, moment_samples, moment_steps, seed,
                                        device, progress)
    model = trajectory.load_model(run, checkpoint).to(device)
    kind = model.kind
    if checkpoint is None:
        checkpoint = trajectory.checkpoint_updates(run)[-1]
    if data is None:
        train_set, test_set = run_datasets(run)
        if test is not None:
            test_set = load_binary(test)
    else:
        train_set = load_binary(data)
        test_set = load_binary(test) if test is not None else None
    train_x, train_w = _as_tensor(train_set, kind, model)
    if train_x.shape[1] != model.n_visible:
        raise_shape(data or run, train_x.shape[1], model.n_visible)

    def ais_progress(k: int) -> None:
        if progress is not None:
            progress(int(80 * k / ais_steps))

    lz = log_partition(model, log_z_method, ais_chains, ais_steps, ais_runs, seed, ais_progress)
    result: dict[str, Any] = {"checkpoint": checkpoint, "log_z": lz.value, "log_z_error": lz.error,
                              "log_z_method": lz.method}
    baseline = independent_site_model(train_x, model.visible_units, train_w)
    base_lz = baseline.log_partition_exact()
    ll = {"train": log_likelihood(model, train_x, lz.value, train_w)[0], "test": None}
    base = {"train": log_likelihood(baseline, train_x, base_lz, train_w)[0], "test": None}
    if test_set is not None:
        test_x, test_w = _as_tensor(test_set, kind, model)
        if test_x.shape[1] != model.n_visible:
            raise_shape(test, test_x.shape[1], model.n_visible)
        ll["test"] = log_likelihood(model, test_x, lz.value, test_w)[0]
        base["test"] = log_likelihood(baseline, test_x, base_lz, test_w)[0]
    result["log_likelihood"] = ll
    result["independent_site_log_likelihood"] = base
    generator = torch.Generator(device=model.device).manual_seed(seed)
    samples = sample(model, moment_samples, moment_steps, generator)
    moments = compare_moments(train_x, samples, train_w)
    result["moments_pearson"] = {"means": moments.means_pearson,
                                 "correlations": moments.correlations_pearson}
    result["moments_slope"] = {"means": moments.means_slope,
                               "correlations": moments.correlations_slope}
    if progress is not None:
        progress(100)
    return result


def raise_shape(path, found: int, expected: int) -> None:
    from boltzkit.errors import DataError

    raise DataError(path, f"data have {found} columns; the model has {expected} visible units")


# ------------------------------------------------------------------------- categorical runs
CATEGORICAL_KINDS = ("potts-rbm", "potts-bm", "ising-bm")
MOMENTS_CONVENTION = {
    "potts": ("f_i(a) and C_ij(a,b) = f_ij(a,b) - f_i(a) f_j(b) for i < j, all q states (gap "
              "included); data weighted by the run's sequence weights, no pseudocount; model: "
              "samples from uniformly random starts"),
    "ising": ("<s_i> and C_ij = <s_i s_j> - <s_i><s_j> for i < j of ±1 spins; data weighted by "
              "their weights if any; model: samples from uniformly random starts"),
}


def categorical_datasets(run: str | os.PathLike, data: str | os.PathLike | None = None,
                         test: str | os.PathLike | None = None):
    """(train, test) datasets of a ``potts-rbm`` / ``potts-bm`` / ``ising-bm`` run.

    Without ``data``: the run's own data and held-out split. With ``data`` (and ``test``): those
    files, read like the run's data — alignments with the run's alphabet (its letters, so that
    the codes mean the same) and its reweighting settings; binary data as the run's spec. The test
    is None when there is none.
    """
    from dataclasses import replace

    from boltzkit.training.run import DataSpec, run_datasets
    from boltzkit.training.run_models import MSASpec

    config = trajectory.read_config(run)
    if data is None:
        train_set, test_set = run_datasets(run)
        if test is None:
            return train_set, test_set
    stored = dict(config.get("data", {}))
    if stored.get("format") == "msa" or config.get("model", {}).get("kind") in ("potts-rbm",
                                                                                 "potts-bm"):
        spec = MSASpec(**stored) if stored else MSASpec(path=str(data or test))
        spec = replace(spec, alphabet=config.get("alphabet", spec.alphabet), test_fraction=0.0)
    else:
        spec = DataSpec(**stored) if stored else DataSpec(path=str(data or test))
        spec = replace(spec, test_fraction=0.0, labels_path=None)
    if data is not None:
        train_set = replace(spec, path=str(data)).load()[0]
    test_set = None if test is None else replace(spec, path=str(test)).load()[0]
    return train_set, test_set


def _model_units(dataset, model) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Float codes (Potts kinds) or ±1 spins (``ising-bm``) in the model's dtype and device."""
    samples = dataset.samples.astype("float64")
    if model.kind == "ising-bm":
        samples = 2.0 * samples - 1.0
    x = torch.as_tensor(samples, dtype=model.dtype, device=model.device)
    w = None if dataset.weights is None else torch.as_tensor(dataset.weights, dtype=torch.float64)
    return x, w


def independent_site_baseline(model, x: torch.Tensor, w: torch.Tensor | None):
    """The independent-site baseline fitted to (x, w): a Potts RBM with no hidden unit (sites q,
    pseudocount 1e-4) or a ±1 RBM with no hidden unit."""
    from boltzkit.models.potts_rbm import independent_site_potts
    from boltzkit.models.units import SPIN

    if model.kind == "ising-bm":
        return independent_site_model(x.double(), SPIN, w)
    return independent_site_potts(x, model.n_states, w)


def evaluate_categorical_run(run: str | os.PathLike, data: str | os.PathLike | None = None,
                             test: str | os.PathLike | None = None, checkpoint: int | None = None,
                             log_z_method: str = "auto", ais_chains: int = 1000,
                             ais_steps: int = 5000, ais_runs: int = 10, moment_samples: int = 2000,
                             moment_steps: int = 1000, seed: int = 0, device: str = "cpu",
                             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`evaluate_run` for ``potts-rbm``, ``potts-bm`` and ``ising-bm`` runs.

    log Z: exact when enumerable, AIS for Potts RBMs otherwise; for a pairwise model too large to
    enumerate ``log_z`` and the log-likelihoods are None and ``log_z_unavailable`` says why.
    Log-likelihoods (nats per sequence) are averaged with the sequence weights of each split.
    Moments: :func:`~boltzkit.evaluation.moments.compare_categorical_moments` (Potts) or
    :func:`~boltzkit.evaluation.moments.compare_moments` on ±1 spins (Ising); the convention is
    in ``moments_convention``.
    """
    from boltzkit.evaluation.log_partition import LogPartitionUnavailable
    from boltzkit.evaluation.moments import compare_categorical_moments

    model = trajectory.load_model(run, checkpoint).to(device)
    if checkpoint is None:
        checkpoint = trajectory.checkpoint_updates(run)[-1]
    train_set, test_set = categorical_datasets(run, data, test)
    train_x, train_w = _model_units(train_set, model)
    if train_x.shape[1] != model.n_visible:
        raise_shape(data or run, train_x.shape[1], model.n_visible)
    test_xw = None
    if test_set is not None:
        test_xw = _model_units(test_set, model)
        if test_xw[0].shape[1] != model.n_visible:
            raise_shape(test or run, test_xw[0].shape[1], model.n_visible)

    def ais_progress(k: int) -> None:
        if progress is not None:
            progress(int(60 * k / ais_steps))

    result: dict[str, Any] = {"checkpoint": checkpoint, "kind": model.kind}
    try:
        lz = log_partition(model, log_z_method, ais_chains, ais_steps, ais_runs, seed, ais_progress)
        result.update(log_z=lz.value, log_z_error=lz.error, log_z_method=lz.method)
    except LogPartitionUnavailable as e:
        lz = None
        result.update(log_z=None, log_z_error=None, log_z_method=None, log_z_unavailable=str(e))
    baseline = independent_site_baseline(model, train_x, train_w)
    base_lz = baseline.log_partition_exact()
    ll: dict[str, float | None] = {"train": None, "test": None}
    base: dict[str, float | None] = {"train": log_likelihood(baseline, train_x, base_lz, train_w)[0],
                                     "test": None}
    if lz is not None:
        ll["train"] = log_likelihood(model, train_x, lz.value, train_w)[0]
    if test_xw is not None:
        base["test"] = log_likelihood(baseline, *_xlw(test_xw, base_lz))[0]
        if lz is not None:
            ll["test"] = log_likelihood(model, *_xlw(test_xw, lz.value))[0]
    result["log_likelihood"] = ll
    result["independent_site_log_likelihood"] = base
    if progress is not None:
        progress(60)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    samples = _sample_with_progress(model, moment_samples, moment_steps, generator, progress)
    if model.kind == "ising-bm":
        moments = compare_moments(train_x, samples, train_w)
        result["moments_convention"] = MOMENTS_CONVENTION["ising"]
    else:
        moments = compare_categorical_moments(train_x, samples, model.n_states, train_w)
        result["n_states"] = model.n_states
        result["moments_convention"] = MOMENTS_CONVENTION["potts"]
    result["moments_pearson"] = {"means": moments.means_pearson,
                                 "correlations": moments.correlations_pearson}
    result["moments_slope"] = {"means": moments.means_slope,
                               "correlations": moments.correlations_slope}
    result["moment_samples"] = {"n": moment_samples, "steps": moment_steps}
    if progress is not None:
        progress(100)
    return result


@torch.no_grad()
def _sample_with_progress(model, n_samples: int, n_steps: int, generator: torch.Generator,
                          progress: Callable[[int], None] | None) -> torch.Tensor:
    """:func:`~boltzkit.sampling.gibbs.sample` run in about 40 chunks of sweeps, the progress
    advanced from 60 to 99 between chunks. The same draws as one call: the categorical models
    (Potts RBM, Potts, Ising) step sweep by sweep, so splitting the sweeps changes nothing."""
    chains = model.init_chains(n_samples, generator)
    chunk, done = max(1, -(-n_steps // 40)), 0
    while done < n_steps:
        m = min(chunk, n_steps - done)
        chains = run_chains(model, chains, m, generator)
        done += m
        if progress is not None:
            progress(60 + 39 * done // n_steps)
    return chains.visible


def _xlw(xw, log_z: float):
    return xw[0], log_z, xw[1]
