"""Evaluate a saved run: log Z, train/test log-likelihood, independent-site baseline, moments.

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
from boltzkit.sampling.gibbs import sample


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
    """
    from boltzkit.data.binary import load_binary
    from boltzkit.training.run import run_datasets

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
