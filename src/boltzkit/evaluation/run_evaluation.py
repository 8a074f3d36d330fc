"""Evaluate a saved run of any family: log Z, train/test log-likelihood, the independent-site
baseline, and data-vs-model moments.

This is what ``boltzkit evaluate`` prints; the keys of the returned dict are the CLI's JSON keys.
Everything depends on what the model declares: its visible space (how data map to its values,
which moments to compare, the baseline) and its capabilities (exact enumeration or an annealing
path for log Z).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable

import torch

from boltzkit import distributed
from boltzkit.checks import choice, integer
from boltzkit.data.specs import datasets_like
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.evaluation.adversarial import adversarial_accuracy
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartition, LogPartitionUnavailable, log_partition, resolve_method
from boltzkit.evaluation.moments import compare_categorical_moments, compare_moments
from boltzkit.io import trajectory
from boltzkit.io.outputs import RunLock
from boltzkit.models.baseline import INDEPENDENT_SITE, baselines
from boltzkit.models.capabilities import FastAnnealing, MultiStepSampler
from boltzkit.sampling.gibbs import run_chains
from boltzkit.sampling.tempering import ParallelTempering, most_trajectory_replicas
from boltzkit.sampling.trajectory_ais import ptt_log_partition
from boltzkit.training.memory import check_chains_memory

#: log Z followed along training (train --track-log-z), and from trajectory tempering.
TRACKED, PTT = "trajectory", "ptt"

__all__ = ["CHECK_SETTINGS", "LikelihoodSettings", "evaluate_run", "fingerprint", "learning_check",
           "run_likelihoods"]

def _run_rows(run, config: dict[str, Any], model, data=None, test=None):
    """(training rows, held-out rows or None) as the model's values and weights: the run's own
    split, or the files ``data`` / ``test`` read like the run's data."""
    train_set, test_set = datasets_like(config, data, test, model.visible.data_kind, run)
    train_xw = _model_values(train_set, model, data or run)
    return train_xw, None if test_set is None else _model_values(test_set, model, test or run)


def _model_values(dataset, model, source) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A dataset's rows as the model's values (its dtype and device) and their weights."""
    x = model.visible.tensor(dataset.samples, model.dtype, model.device)
    if x.shape[1] != model.n_visible:
        raise DataError(source, f"data have {x.shape[1]} columns; the model has {model.n_visible} "
                                "visible units")
    w = None if dataset.weights is None else torch.as_tensor(dataset.weights, dtype=torch.float64)
    return x, w


@dataclass(frozen=True)
class LikelihoodSettings:
    """How the log Z of a run's evaluation is estimated (the defaults are ``boltzkit
    evaluate``'s, which the report's summary shares): ``log_z`` "auto" | "exact" | "ais" |
    "trajectory" (the value that ``train --track-log-z`` stored with the checkpoint) | "ptt"
    (Bennett ratios along the run's checkpoints with trajectory-tempering chains,
    :func:`_ptt_log_z`), and the chains, temperatures (PTT: sweeps), groups and seed."""

    log_z: str = "auto"
    ais_chains: int = 1000
    ais_steps: int = 5000
    ais_runs: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        choice(self.log_z, "--log-z", ("auto", "exact", "ais", TRACKED, PTT))
        for value, name in ((self.ais_chains, "--ais-chains"), (self.ais_steps, "--ais-steps"),
                            (self.ais_runs, "--ais-runs")):
            integer(value, name, 1)
        integer(self.seed, "--seed", 0)

    def key(self, method: str) -> str:
        """What a stored evaluation must have been computed with to be reused: the method, and for
        AIS its settings (an exact log Z is the same whatever they are)."""
        if method == "ais":
            return f"ais chains={self.ais_chains} steps={self.ais_steps} runs={self.ais_runs} seed={self.seed}"
        if method == PTT:
            return f"ptt chains={self.ais_chains} steps={self.ais_steps} runs={self.ais_runs} seed={self.seed}"
        return method


def fingerprint(model) -> str:
    """A digest of the model's tensors: a stored evaluation is reused only for the same model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.parameters().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def run_likelihoods(run, checkpoint: int, model, train_xw, test_xw, settings: LikelihoodSettings,
                    store: bool = True, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """log Z and the mean log-likelihoods of the model and of the independent-site baseline on
    ``train_xw`` / ``test_xw`` ((rows as model values, weights or None), either possibly None;
    without training rows, log Z only, AIS from the model's own fields):
    the one computation behind ``boltzkit evaluate``, the report's numbers and the check at the
    end of ``train``.

    With ``store`` (the rows are the run's own training and held-out rows), the result is read
    from the run file when it holds one computed with the same settings for the same tensors, and
    written there otherwise (:func:`boltzkit.io.trajectory.write_evaluation`; skipped without a
    word when the run is being written by another process or cannot be written). AIS starts from
    the independent-site model fitted to the training rows.

    Returns the keys ``log_z``, ``log_z_error``, ``log_z_method`` (None, with
    ``log_z_unavailable``, when log Z cannot be computed), ``log_likelihood`` and
    ``independent_site_log_likelihood`` (``train``, ``test``: nats per row, weighted, in the
    data's units), ``baseline_log_likelihood`` (the same for every baseline of the visible space,
    by name: ``independent-site``, and ``full-covariance`` for real values) and
    ``evaluation_settings`` (what produced them, with ``stored``: read from the run file).
    """
    try:
        method = settings.log_z if settings.log_z in (TRACKED, PTT) else resolve_method(model, settings.log_z)
    except LogPartitionUnavailable as e:
        method, unavailable = None, str(e)
    key = f"{checkpoint} {settings.key(method or 'none')}"
    digest = fingerprint(model) if store else None
    if store:
        record = trajectory.read_evaluations(run).get(key)
        if isinstance(record, dict) and record.get("fingerprint") == digest \
                and "baseline_log_likelihood" in record:  # (records of earlier versions lack it)
            return _without_fingerprint(record, stored=True)
    fitted = {} if train_xw is None else baselines(model.visible, *train_xw)
    baseline = fitted.get(INDEPENDENT_SITE)
    result: dict[str, Any] = {"log_z": None, "log_z_error": None, "log_z_method": None}
    if method is not None:
        try:
            lz = _log_z(run, checkpoint, model, method, settings, baseline, progress)
            result.update(log_z=lz.value, log_z_error=lz.error, log_z_method=lz.method)
        except LogPartitionUnavailable as e:
            method, unavailable = None, str(e)
    if method is None:
        result["log_z_unavailable"] = unavailable
    result.update(_likelihoods(model, fitted, result["log_z"], train_xw, test_xw))
    result["evaluation_settings"] = {"key": settings.key(method or "none"),
                                     "rows": {"train": None if train_xw is None else len(train_xw[0]),
                                              "test": None if test_xw is None else len(test_xw[0])}}
    if store:
        _store(run, key, dict(result, fingerprint=digest))
    return dict(result, evaluation_settings=dict(result["evaluation_settings"], stored=False))


def _log_z(run, checkpoint: int, model, method: str, settings: LikelihoodSettings, baseline,
           progress) -> LogPartition:
    """log Z of the run's model at ``checkpoint`` by ``method`` (docs/methods.md 6.2, 6.3)."""
    if method == TRACKED:
        info = {int(i["update"]): i for i in trajectory.checkpoint_info(run)}.get(checkpoint, {})
        if "log_z" not in info:
            raise LogPartitionUnavailable(f"--log-z {TRACKED}: the run was trained without "
                                          "--track-log-z (use --log-z ptt or ais)")
        return LogPartition(float(info["log_z"]), float(info["log_z_error"]), TRACKED)
    if method == PTT:
        return _ptt_log_z(run, checkpoint, model, settings, baseline, progress)
    return log_partition(model, method, settings.ais_chains, settings.ais_steps, settings.ais_runs,
                         settings.seed, progress, base=baseline)


def _ptt_log_z(run, checkpoint: int, model, settings: LikelihoodSettings, baseline, progress=None) -> LogPartition:
    """log Z from trajectory tempering over the run's checkpoints up to ``checkpoint``, started at
    the run's tempering start (the low-rank law of ``--pretrain low-rank``) or else the data's
    independent-site model (either with an exact log Z): ``--ais-chains`` chains, ``--ais-steps``
    sweeps after a quarter as many of burn-in (:func:`boltzkit.sampling.trajectory_ais.ptt_log_partition`)."""
    models = trajectory.tempering_models(run, model, baseline, checkpoint)
    if models[0] is None:
        raise LogPartitionUnavailable(f"--log-z {PTT} starts from the data's independent-site "
                                      "model: it needs the run's training rows")
    generator = torch.Generator(device=model.device).manual_seed(settings.seed)
    tempering = ParallelTempering.trajectory(models, settings.ais_chains, generator)
    # the first replica is the baseline in the model's dtype: its own exact log Z
    lz = ptt_log_partition(tempering, tempering.replicas[0].log_partition_exact(), settings.ais_steps,
                           max(1, settings.ais_steps // 4), groups=settings.ais_runs, progress=progress)
    return LogPartition(lz.log_z, lz.error, lz.method)


def _without_fingerprint(record: dict[str, Any], stored: bool) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "fingerprint"}
    out["evaluation_settings"] = dict(out.get("evaluation_settings", {}), stored=stored)
    return out


def _store(run, key: str, record: dict[str, Any]) -> None:
    """Keep an evaluation in the run file, unless another process writes the run (its lock is
    taken) or the file or folder cannot be written: the numbers are then only printed."""
    if not distributed.current().writes:  # rank 0 writes for a process group
        return
    try:
        with RunLock(run):
            trajectory.write_evaluation(run, key, record)
    except (BoltzkitError, OSError):
        pass


def evaluate_run(run: str | os.PathLike, data: str | os.PathLike | None = None, test: str | os.PathLike | None = None,
                 checkpoint: int | None = None, log_z_method: str = "auto", ais_chains: int = 1000,
                 ais_steps: int = 5000, ais_runs: int = 10, moment_samples: int = 2000, moment_steps: int = 1000,
                 seed: int = 0, device: str = "cpu", progress: Callable[[int], None] | None = None,
                 max_memory: float | None = None) -> dict[str, Any]:
    """Evaluate the model of ``run`` at ``checkpoint`` (default: last); ``max_memory``: GiB the
    chains may use, in place of the memory available.

    ``data`` / ``test`` default to the run's own training data and held-out split; other files are
    read like the run's data (:func:`boltzkit.data.specs.datasets_like`). On the run's own rows,
    log Z and the likelihoods are those stored in the run file for the same settings when a
    command computed them before (:func:`run_likelihoods`: ``boltzkit report`` shows the same
    numbers), and are stored there otherwise.

    Returns a dict with keys ``checkpoint``, ``kind``, ``log_z``, ``log_z_error`` (one standard
    error), ``log_z_method`` (None, with ``log_z_unavailable`` saying why, when log Z cannot be
    computed), ``log_likelihood`` (``train``, ``test``; nats per sample, averaged with the rows'
    weights, in the data's units), ``independent_site_log_likelihood``,
    ``baseline_log_likelihood`` (by baseline name), ``evaluation_settings``,
    ``moments_pearson`` and ``moments_slope`` (``means``, ``correlations``),
    ``moments_convention``, ``moment_samples`` (``n``, ``steps``), ``aats`` (the samples'
    nearest-neighbour adversarial accuracy against the training and held-out rows and the privacy
    loss, :func:`_aats`), and ``n_states`` for categorical models.
    """
    settings = LikelihoodSettings(log_z_method, ais_chains, ais_steps, ais_runs, seed)
    integer(moment_samples, "--moment-samples", 1)
    integer(moment_steps, "--moment-steps", 0)
    config = trajectory.read_config(run)
    model = trajectory.load_model(run, checkpoint).to(device)
    check_chains_memory(model, moment_samples, "--moment-samples", device, max_memory)
    if checkpoint is None:
        checkpoint = trajectory.checkpoint_updates(run)[-1]
    replicas = most_trajectory_replicas(trajectory.checkpoints_up_to(run, checkpoint)) if settings.log_z == PTT else 1
    check_chains_memory(model, ais_chains, "--ais-chains", device, max_memory, replicas)
    train_xw, test_xw = _run_rows(run, config, model, data, test)
    progress = progress or (lambda percent: None)
    result: dict[str, Any] = {"checkpoint": checkpoint, "kind": model.kind}
    own_rows = data is None and test is None and "source" not in config
    result.update(run_likelihoods(run, checkpoint, model, train_xw, test_xw, settings, store=own_rows,
                                  progress=lambda k: progress(int(60 * k / ais_steps))))
    progress(60)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    samples = _sample_with_progress(model, moment_samples, moment_steps, generator, progress)
    result.update(_moments(model, train_xw[0], train_xw[1], samples))
    result["moment_samples"] = {"n": moment_samples, "steps": moment_steps}
    result["aats"] = _aats(model, train_xw, test_xw, samples, seed)
    progress(100)
    return result


def _aats(model, train_xw, test_xw, samples: torch.Tensor, seed: int) -> dict[str, Any]:
    """Nearest-neighbour adversarial accuracy of the moment samples against as many training rows
    (and held-out rows), drawn at random with ``seed`` (:mod:`boltzkit.evaluation.adversarial`):
    ``train`` and ``test`` (``aa_true``, ``aa_synth``, ``aa_ts``; None without the split), ``n``,
    ``privacy_loss`` = AA_TS(test) − AA_TS(train) (None without the split), ``distance``."""
    discrete = not model.visible.real
    splits = {"train": train_xw, "test": test_xw}
    n = min([len(samples)] + [len(xw[0]) for xw in splits.values() if xw is not None])
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {"n": n, "distance": "hamming" if discrete else "euclidean"}
    for split, xw in splits.items():
        if xw is None or n < 2:
            out[split] = None
            continue
        rows = xw[0][torch.randperm(len(xw[0]), generator=g)[:n].to(xw[0].device)]
        out[split] = adversarial_accuracy(rows.cpu(), samples[:n].cpu(), discrete)
    both = out["train"] is not None and out["test"] is not None
    out["privacy_loss"] = out["test"]["aa_ts"] - out["train"]["aa_ts"] if both else None
    return out


def _likelihoods(model, fitted: dict[str, Any], log_z: float | None, train_xw, test_xw) -> dict[str, Any]:
    """Mean log-likelihoods of the model (None without log Z) and of the ``fitted`` baselines
    (:func:`boltzkit.models.baseline.baselines`; none without training rows: no likelihoods) on
    both splits: ``log_likelihood``, ``baseline_log_likelihood`` (by baseline name) and, the
    independent-site one again, ``independent_site_log_likelihood``."""
    ll: dict[str, float | None] = {"train": None, "test": None}
    base = {name: {"train": None, "test": None} for name in fitted}
    for name, baseline in fitted.items():
        base_lz = baseline.log_partition_exact()
        for split, xw in (("train", train_xw), ("test", test_xw)):
            if xw is not None:
                base[name][split] = log_likelihood(baseline, xw[0], base_lz, xw[1])[0]
    for split, xw in (("train", train_xw), ("test", test_xw)):
        if xw is not None and log_z is not None and train_xw is not None:
            ll[split] = log_likelihood(model, xw[0], log_z, xw[1])[0]
    return {"log_likelihood": ll, "baseline_log_likelihood": base,
            "independent_site_log_likelihood": base.get(INDEPENDENT_SITE, {"train": None, "test": None})}


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
    ranks = distributed.current()
    if ranks.parallel:  # this rank's part of the chains, from its own stream (docs/methods.md 6.7)
        n_samples = len(range(n_samples)[distributed.share(n_samples, ranks, "--moment-samples")])
        generator = torch.Generator(device=model.device).manual_seed(
            distributed.rank_seed(generator.initial_seed(), ranks))
    chains = model.init_chains(n_samples, generator)
    shared = isinstance(model, MultiStepSampler) and model.shared_random_numbers
    chunk = n_steps if shared else max(1, -(-n_steps // 40))
    done = 0
    while done < n_steps:
        m = min(chunk, n_steps - done)
        chains = run_chains(model, chains, m, generator)
        done += m
        progress(60 + 39 * done // n_steps)
    return distributed.gather(chains.visible, ranks, "gathering the samples")


#: The quick log Z of the check at the end of ``boltzkit train`` (stored in the run as any other).
CHECK_SETTINGS = LikelihoodSettings("auto", ais_chains=200, ais_steps=1000)


def learning_check(run: str | os.PathLike, settings: LikelihoodSettings = CHECK_SETTINGS) -> str | None:
    """A one-line warning when the last model of ``run`` is no better than the independent-site
    model fitted to its training rows (its gain is under two AIS errors or 0.5% of the baseline's
    log-likelihood), on the held-out rows (the training rows when there are
    none); None when it is better, or when its log Z is neither exact nor a fast AIS
    (:class:`~boltzkit.models.capabilities.FastAnnealing`) and the check would cost more than
    the training."""
    config = trajectory.read_config(run)
    model = trajectory.load_model(run)
    try:
        method = resolve_method(model, settings.log_z)
    except LogPartitionUnavailable:
        return None
    if method == "ais" and not isinstance(model, FastAnnealing):
        return None
    update = trajectory.checkpoint_updates(run)[-1]
    train_xw, test_xw = _run_rows(run, config, model)
    r = run_likelihoods(run, update, model, train_xw, test_xw, settings)
    split = "test" if test_xw is not None else "train"
    ll, base = r["log_likelihood"][split], r["independent_site_log_likelihood"][split]
    # "No better": a gain within two standard errors of the AIS log Z, or under 0.5% of the
    # baseline's log-likelihood in the model's values (a model that learned correlations gains far
    # more: 38% on MNIST), not in the data's units, which would make the bar depend on them
    if base is None:
        return None
    margin = max(2.0 * (r["log_z_error"] or 0.0), 0.005 * abs(base - model.visible.log_jacobian))
    if ll is None or ll > base + margin:
        return None
    rows = "held-out" if split == "test" else "training (no held-out split)"
    return (f"warning: the final model is no better than the independent-site model on the {rows} "
            f"rows ({ll:.3f} against {base:.3f} nats per row): it has learned no correlations; try "
            "more --updates, another --lr or --optimizer adam")
