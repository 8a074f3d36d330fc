"""Evaluate a saved run of any family: log Z, train/test log-likelihood, the independent-site
baseline, and data-vs-model moments.

This is what ``boltzkit evaluate`` prints; the keys of the returned dict are the CLI's JSON keys.
Everything depends on what the model declares: its visible space (how data map to its values,
which moments to compare, the baseline) and its capabilities (exact enumeration or an annealing
path for log Z).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch

from boltzkit.checks import choice, integer
from boltzkit.data.specs import datasets_like
from boltzkit.errors import DataError
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartitionUnavailable, log_partition
from boltzkit.evaluation.moments import compare_categorical_moments, compare_moments
from boltzkit.io import trajectory
from boltzkit.models.baseline import independent_site_model
from boltzkit.models.capabilities import MultiStepSampler
from boltzkit.sampling.gibbs import run_chains
from boltzkit.training.memory import check_chains_memory

__all__ = ["evaluate_run"]

def _model_values(dataset, model, source) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A dataset's rows as the model's values (its dtype and device) and their weights."""
    x = model.visible.tensor(dataset.samples, model.dtype, model.device)
    if x.shape[1] != model.n_visible:
        raise DataError(source, f"data have {x.shape[1]} columns; the model has {model.n_visible} "
                                "visible units")
    w = None if dataset.weights is None else torch.as_tensor(dataset.weights, dtype=torch.float64)
    return x, w


def evaluate_run(run: str | os.PathLike, data: str | os.PathLike | None = None, test: str | os.PathLike | None = None,
                 checkpoint: int | None = None, log_z_method: str = "auto", ais_chains: int = 1000,
                 ais_steps: int = 5000, ais_runs: int = 10, moment_samples: int = 2000, moment_steps: int = 1000,
                 seed: int = 0, device: str = "cpu", progress: Callable[[int], None] | None = None,
                 max_memory: float | None = None) -> dict[str, Any]:
    """Evaluate the model of ``run`` at ``checkpoint`` (default: last); ``max_memory``: GiB the
    chains may use, in place of the memory available.

    ``data`` / ``test`` default to the run's own training data and held-out split; other files are
    read like the run's data (:func:`boltzkit.data.specs.datasets_like`).

    Returns a dict with keys ``checkpoint``, ``kind``, ``log_z``, ``log_z_error``,
    ``log_z_method`` (None, with ``log_z_unavailable`` saying why, when log Z cannot be computed:
    too large to enumerate and no annealing path), ``log_likelihood`` (``train``, ``test``; nats
    per sample, averaged with the rows' weights), ``independent_site_log_likelihood``,
    ``moments_pearson`` and ``moments_slope`` (``means``, ``correlations``),
    ``moments_convention``, ``moment_samples`` (``n``, ``steps``), and ``n_states`` for
    categorical models.
    """
    choice(log_z_method, "--log-z", ("auto", "exact", "ais"))
    for value, name in ((ais_chains, "--ais-chains"), (ais_steps, "--ais-steps"), (ais_runs, "--ais-runs"),
                        (moment_samples, "--moment-samples")):
        integer(value, name, 1)
    integer(moment_steps, "--moment-steps", 0)
    integer(seed, "--seed", 0)
    config = trajectory.read_config(run)
    model = trajectory.load_model(run, checkpoint).to(device)
    check_chains_memory(model, moment_samples, "--moment-samples", device, max_memory)
    check_chains_memory(model, ais_chains, "--ais-chains", device, max_memory)
    if checkpoint is None:
        checkpoint = trajectory.checkpoint_updates(run)[-1]
    train_set, test_set = datasets_like(config, data, test, model.visible.data_kind, run)
    train_x, train_w = _model_values(train_set, model, data or run)
    test_xw = None if test_set is None else _model_values(test_set, model, test or run)
    progress = progress or (lambda percent: None)
    result: dict[str, Any] = {"checkpoint": checkpoint, "kind": model.kind}
    try:
        lz = log_partition(model, log_z_method, ais_chains, ais_steps, ais_runs, seed,
                           lambda k: progress(int(60 * k / ais_steps)))
        result.update(log_z=lz.value, log_z_error=lz.error, log_z_method=lz.method)
    except LogPartitionUnavailable as e:
        lz = None
        result.update(log_z=None, log_z_error=None, log_z_method=None, log_z_unavailable=str(e))
    result.update(_likelihoods(model, None if lz is None else lz.value, (train_x, train_w), test_xw))
    progress(60)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    samples = _sample_with_progress(model, moment_samples, moment_steps, generator, progress)
    result.update(_moments(model, train_x, train_w, samples))
    result["moment_samples"] = {"n": moment_samples, "steps": moment_steps}
    progress(100)
    return result


def _likelihoods(model, log_z: float | None, train_xw, test_xw) -> dict[str, Any]:
    """Mean log-likelihoods of the model (None without log Z) and of the independent-site model
    fitted on the training rows, on both splits."""
    baseline = independent_site_model(model.visible, *train_xw)
    base_lz = baseline.log_partition_exact()
    ll: dict[str, float | None] = {"train": None, "test": None}
    base: dict[str, float | None] = {"train": None, "test": None}
    for split, xw in (("train", train_xw), ("test", test_xw)):
        if xw is None:
            continue
        base[split] = log_likelihood(baseline, xw[0], base_lz, xw[1])[0]
        if log_z is not None:
            ll[split] = log_likelihood(model, xw[0], log_z, xw[1])[0]
    return {"log_likelihood": ll, "independent_site_log_likelihood": base}


def _moments(model, train_x: torch.Tensor, train_w, samples: torch.Tensor) -> dict[str, Any]:
    space = model.visible
    out: dict[str, Any] = {}
    if space.categorical:
        moments = compare_categorical_moments(train_x, samples, space.n_states, train_w)
        out["n_states"] = space.n_states
    else:
        moments = compare_moments(train_x, samples, train_w)
    out["moments_convention"] = space.moments_convention
    out["moments_pearson"] = {"means": moments.means_pearson,
                              "correlations": moments.correlations_pearson}
    out["moments_slope"] = {"means": moments.means_slope,
                            "correlations": moments.correlations_slope}
    return out


@torch.no_grad()
def _sample_with_progress(model, n_samples: int, n_steps: int, generator: torch.Generator,
                          progress: Callable[[int], None]) -> torch.Tensor:
    """Model samples after ``n_steps`` steps from random starts.

    Models whose steps draw their random numbers together
    (:class:`~boltzkit.models.capabilities.MultiStepSampler` with ``shared_random_numbers``) run
    them in one call, as :func:`boltzkit.sampling.gibbs.sample` does, so that the draws of a seed
    do not depend on progress reporting; the others run about 40 chunks of steps (the same draws
    as one call), the progress advanced from 60 to 99 between.
    """
    chains = model.init_chains(n_samples, generator)
    shared = isinstance(model, MultiStepSampler) and model.shared_random_numbers
    chunk = n_steps if shared else max(1, -(-n_steps // 40))
    done = 0
    while done < n_steps:
        m = min(chunk, n_steps - done)
        chains = run_chains(model, chains, m, generator)
        done += m
        progress(60 + 39 * done // n_steps)
    return chains.visible
