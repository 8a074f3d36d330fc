"""The one training entry: train any registered family on a data file into a run file.

``boltzkit train`` calls :func:`train_run` (data from a file, the run file checked and locked),
the scikit-learn estimators (:mod:`boltzkit.estimator`) call :func:`train_model` (data in memory);
both end in the same code. It reads the data the family needs (:mod:`boltzkit.data.specs`), builds the
model through the family registry, and runs the method:

* ``pcd``, ``cd``, ``rdm``, ``exact``: maximum likelihood by the
  :class:`~boltzkit.training.trainer.Trainer`, with the config's learning-rate schedule
  (:mod:`boltzkit.training.schedule`; ``plm`` refuses a non-constant one). Boltzmann learning as
  bmDCA runs it is ``pcd`` on the full batch for a family with the
  :class:`~boltzkit.models.capabilities.ProfileStart` capability (the Potts model): the target is the frequencies with a pseudocount (default
  1 / M_eff), computed once; the model starts at the profile model with persistent chains drawn
  from it; ``target_pearson`` stops training when the chains' C_ij Pearson reaches it
  (adabmDCA's rule, any :class:`~boltzkit.models.capabilities.MomentMatching` family).
* ``plm``: pseudo-likelihood. Families with the symmetric pairwise objective
  (:class:`~boltzkit.models.capabilities.PseudoLikelihood`) go to
  :func:`~boltzkit.training.plm.fit_plm` (L-BFGS, one checkpoint at the number of objective
  evaluations); any other ±1 energy to :func:`~boltzkit.training.pseudo_likelihood.fit_pseudo_likelihood`
  (Adam, ``n_updates`` rounded up to whole epochs, checkpoints per epoch).

The run file's config holds ``data`` (the spec), ``model`` (the model's config, the family's
options included), ``training``, and ``alphabet`` for alignments, ``bmdca`` and ``plm`` for those
methods, and, for epoch-wise pseudo-likelihood, an entry under the family's kind with its options
and epochs.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from boltzkit.checks import all_finite, integer, number
from boltzkit.data.specs import DATA_SAMPLE_ROWS, spec_from_config
from boltzkit.errors import BoltzkitError, InvalidValue, TrainingDiverged
from boltzkit.io import trajectory
from boltzkit.io.outputs import check_outputs, refuse_existing_run, writing_run
from boltzkit.models.capabilities import MomentMatching, ProfileStart, PseudoLikelihood
from boltzkit.models.registry import Family, family, option_flags
from boltzkit.models.statistics import correlation_pearson
from boltzkit import distributed
from boltzkit.sampling.choice import with_sampler
from boltzkit.training.config import TRAINING_SAMPLERS, TrainingConfig
from boltzkit.training.low_rank import fit_low_rank
from boltzkit.training.memory import check_memory
from boltzkit.training.plm import fit_plm
from boltzkit.training.pseudo_likelihood import PseudoLikelihoodConfig, fit_pseudo_likelihood
from boltzkit.training.trainer import Trainer

__all__ = ["train_run", "train_model", "TrainingData", "prepare_data", "TORCH_DTYPES"]

#: The training dtypes (:data:`boltzkit.training.config.DTYPES`) as torch dtypes.
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TrainingData:
    """The training split of a run, in data values and in the family's values.

    Attributes
    ----------
    samples : ndarray of shape (n, n_visible), data values ({0,1} for binary data, codes)
    weights : ndarray of shape (n,) or None, the rows' weights
    space : the family's :class:`~boltzkit.models.visible.VisibleSpace` for these data
    x : Tensor of shape (n, n_visible), model values, in the training dtype and device
    w : Tensor of shape (n,), float64, or None
    labels, image_shape, alphabet : kept with the run for reports (None when absent)
    ids : sequence of str, one per row, or None: the rows' names (haplotype IDs, alignment
        headers, :attr:`boltzkit.data.binary.Dataset.ids`), kept with the run for reports
    """

    def __init__(self, samples: np.ndarray, weights: np.ndarray | None, space: Any,
                 config: TrainingConfig, labels: np.ndarray | None = None,
                 image_shape: tuple[int, int] | None = None, alphabet: str | None = None,
                 ids: Any = None):
        self.samples, self.weights, self.space = samples, weights, space
        self.labels, self.image_shape, self.alphabet = labels, image_shape, alphabet
        if ids is not None and len(ids) != len(samples):
            raise ValueError(f"{len(ids)} ids for {len(samples)} rows")
        self.ids = ids
        self.x = space.tensor(samples, TORCH_DTYPES[config.dtype], torch.device(config.device))
        self.w = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)

    def model_weights(self) -> torch.Tensor | None:
        """The weights in the model's dtype and device (for initialisations from the data)."""
        return None if self.w is None else self.w.to(self.x.device, self.x.dtype)

    @property
    def m_eff(self) -> float:
        """The effective number of rows, the sum of the weights."""
        return float(len(self.samples) if self.weights is None else self.weights.sum())

    def sample(self) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int] | None]:
        """(rows, labels, image_shape) kept in the run file for reports: the first
        :data:`~boltzkit.data.specs.DATA_SAMPLE_ROWS` rows, int8 codes or uint8 {0,1}."""
        rows = self.samples[:DATA_SAMPLE_ROWS].astype(self.space.storage_dtype)
        labels = None if self.labels is None else self.labels[:DATA_SAMPLE_ROWS]
        return rows, labels, self.image_shape

    def sample_ids(self) -> list[str] | None:
        """The names of the rows of :meth:`sample` (None when the data have none)."""
        return None if self.ids is None else [str(name) for name in self.ids[:DATA_SAMPLE_ROWS]]

    def store_ids(self, out: str | os.PathLike | None) -> None:
        """Add :meth:`sample_ids` to the run file ``out`` just created (``data_ids``)."""
        if out is not None and self.ids is not None:
            trajectory.write_data_ids(out, self.sample_ids())


def prepare_data(entry: Family, spec: Any, config: TrainingConfig,
                 options: Mapping[str, Any] | None = None) -> TrainingData:
    """Read the training split of ``spec`` for family ``entry`` (with its ``options``): the model's
    visible space is fitted to the training rows (:meth:`Family.data_space`, e.g. the
    standardisation of real-valued data)."""
    if spec.data_kind != entry.data_kind:
        raise BoltzkitError(f"model {entry.kind} trains on {entry.data_kind} data, not on "
                            f"{spec.data_kind} data")
    train, _ = spec.load()  # never empty: the readers and the split refuse that
    space = entry.data_space(train.samples, train.weights, getattr(train, "q", 2), options)
    return TrainingData(train.samples, train.weights, space, config, train.labels,
                        train.image_shape, getattr(train, "alphabet", None), getattr(train, "ids", None))


def train_run(spec: Any, out: str | os.PathLike | None, kind: str | None = None,
              n_hidden: int | None = None, config: TrainingConfig | None = None,
              resume: bool = False, on_update: Callable[[int], None] | None = None, *,
              options: Mapping[str, Any] | None = None, lambda_h: float = 0.01,
              lambda_J: float = 0.01, pseudocount: float | None = None,
              target_pearson: float | None = None,
              on_pearson: Callable[[int, float, float], None] | None = None,
              overwrite: bool = False, given: Mapping[str, Any] | None = None,
              max_memory: float | None = None):
    """Train (or resume) a run of the family ``kind``; returns the trained model.

    Parameters
    ----------
    spec : :class:`~boltzkit.data.specs.DataSpec` (binary data) or
        :class:`~boltzkit.data.specs.MSASpec` (alignments), as the family's ``data_kind`` needs
    out : the run file to write (None: nothing written)
    kind : a registered family (:func:`boltzkit.models.registry.kinds`)
    n_hidden : hidden units, for families that take ``n_hidden``
    config : TrainingConfig (ignored on resume: the stored one is used)
    resume : continue the run in ``out`` from its last saved state
    on_update : called with the number of updates done
    options : the family's own options (:attr:`Family.options`); others are ignored
    lambda_h, lambda_J : ``plm`` of pairwise models: L2 on fields and couplings
        (:mod:`boltzkit.training.plm`)
    pseudocount : bmDCA (full batch, :class:`~boltzkit.models.capabilities.ProfileStart`): λ of the
        target frequencies (:func:`boltzkit.data.reweighting.frequencies`); default 1 / M_eff
    target_pearson : stop as soon as the Pearson r of the chains' connected correlations with the
        data's (:func:`boltzkit.models.statistics.correlation_pearson`) reaches this value
    on_pearson : callable(update, pearson, seconds), called after every update with
        ``target_pearson``; ``seconds`` is the training wall time so far
    overwrite : a new run may replace an existing file at ``out`` (else that is refused)
    max_memory : GiB the run may use, in place of the memory available now (the run is refused
        before any allocation when its estimate exceeds it, :mod:`boltzkit.training.memory`)
    given : on resume, what the user asked for explicitly, keyed by flag (``"DATA"``, ``"--lr"``,
        ...; :data:`RESUME_FLAGS`): anything that differs from the stored run is refused in one
        line listing the differences, except ``--updates``, which extends (or shortens, down to
        the updates already done) the run. With a constant learning rate the extended run ends
        where a run trained to that many updates at once would; a decaying schedule
        (``lr_schedule`` geometric or cosine) is recomputed over the new total: the remaining
        updates use the rates of a run of that many updates from the update reached on (the rate
        jumps there; docs/methods.md section 6.6).

    The run file never replaces one of the run's inputs, and one process at a time writes it
    (:mod:`boltzkit.io.outputs`).
    """
    options = dict(options or {})
    if n_hidden is not None and not resume and "n_hidden" in family(kind).options:
        options["n_hidden"] = n_hidden  # the --hidden of every command line, for the families it fits
    bmdca: dict[str, Any] = {}
    extended = False
    if resume:
        stored, spec, kind, config, options = _stored_run(out)
        bmdca = stored.get("bmdca", {})
        config, extended = _resumed_config(out, stored, config, given or {})
        pseudocount = _resumed_pseudocount(out, pseudocount, bmdca.get("pseudocount"))
        if target_pearson is None:  # a stopping target given on resume wins over the stored one
            target_pearson = bmdca.get("target_pearson")
    if config is None:
        raise BoltzkitError("a TrainingConfig is needed to start a run")
    entry = family(kind)
    _check_method(entry, config)  # before reading the data
    if target_pearson is not None:
        number(target_pearson, "--target-pearson", -1.0, 1.0, low_open=True)
    if pseudocount is not None:
        number(pseudocount, "--pseudocount", 0.0, 1.0, high_open=True)
    number(lambda_h, "--lambda-h", 0.0)
    number(lambda_J, "--lambda-j", 0.0)
    if out is not None:
        check_outputs({"--out": out}, {"DATA": spec.path, "--labels": getattr(spec, "labels_path", None)})
        if not resume:
            refuse_existing_run(out, overwrite)
    ranks = distributed.current()
    distributed.barrier(ranks)  # every rank has checked the outputs before rank 0 writes one
    with writing_run(out if ranks.writes else None):
        if extended and ranks.writes:
            trajectory.update_config(out, {"training": config.to_dict()})
        data = prepare_data(entry, spec, config, options)
        return train_model(entry, data, config, out, {"data": spec.to_dict()}, resume, on_update,
                           options=options, lambda_h=lambda_h, lambda_J=lambda_J,
                           pseudocount=pseudocount, target_pearson=target_pearson,
                           on_pearson=on_pearson, max_memory=max_memory)


def train_model(entry: Family, data: TrainingData, config: TrainingConfig,
                out: str | os.PathLike | None = None, run_config: Mapping[str, Any] | None = None,
                resume: bool = False, on_update: Callable[[int], None] | None = None, *,
                options: Mapping[str, Any] | None = None, lambda_h: float = 0.01,
                lambda_J: float = 0.01, pseudocount: float | None = None,
                target_pearson: float | None = None,
                on_pearson: Callable[[int, float, float], None] | None = None,
                max_memory: float | None = None):
    """Train a model of family ``entry`` on in-memory ``data`` (what :func:`train_run` and the
    estimators' ``fit`` call); ``run_config`` holds extra entries of the run file's config. The
    other parameters are :func:`train_run`'s."""
    _check_method(entry, config)
    if max_memory is not None:
        number(max_memory, "--max-memory", 0.0, low_open=True)
    check_memory(entry, data.x.shape[1], data.space.n_states, options or {}, config, max_memory,
                 n_rows=len(data.x))
    run_config = dict(run_config or {})
    on_update = on_update or (lambda update: None)
    if data.alphabet is not None:
        run_config["alphabet"] = data.alphabet
    if config.method == "plm" and resume:
        raise BoltzkitError(f"{out}: a pseudo-likelihood run cannot be resumed (run it again)")
    model = entry.build(data.x, data.model_weights(), data.space, options or {}, config.seed)
    start = None  # a law sampled exactly near the start (the Trainer's ``start``)
    if config.pretrain == "low-rank" and not resume:  # on resume the stored parameters win
        fit = fit_low_rank(model, data.x, data.model_weights(), config.pretrain_dims,
                           torch.Generator().manual_seed(config.seed), max_memory=max_memory)
        model, run_config["pretrain"], start = fit.model, fit.summary(), fit.sampler
    if config.sampler not in TRAINING_SAMPLERS:  # a step variant of the family's (--sampler)
        model = with_sampler(model, config.sampler)
    if config.method != "plm":
        return _likelihood_run(model, data, config, out, run_config, resume, on_update, pseudocount,
                               target_pearson, on_pearson, start)
    if isinstance(model, PseudoLikelihood):
        return _plm_run(model, data, config, out, run_config, lambda_h, lambda_J, on_update)
    if model.visible.name != "spin":
        raise BoltzkitError(f"--method plm: the {model.kind} family has neither a pairwise "
                            "pseudo-likelihood (PseudoLikelihood) nor ±1 spins for the generic one")
    return _epoch_pseudo_likelihood_run(model, entry, data, config, out, run_config, options or {},
                                        on_update)


def _check_method(entry: Family, config: TrainingConfig) -> None:
    """The method applies to the family; a learning-rate schedule only to the Trainer's methods."""
    entry.check_method(config.method)
    if config.method == "plm" and config.lr_schedule != "constant":
        raise InvalidValue(f"--lr-schedule {config.lr_schedule}: a schedule of the gradient steps of "
                           "--method pcd | cd | rdm | exact, not of plm (leave it constant)")


def _stored_run(out: str | os.PathLike | None):
    """(stored config, data spec, kind, TrainingConfig, family options) of the run to resume."""
    if out is None or not Path(out).exists():
        raise BoltzkitError(f"{out}: cannot resume, no such run file")
    stored = trajectory.read_config(out)
    if "source" in stored:  # the model file of another tool (io/foreign.py)
        raise BoltzkitError(f"{out}: the model file of another tool ({stored['source']}), not a boltzkit run: nothing to resume")
    model_config = stored.get("model", {})
    training = stored.get("training", {})
    if training.get("method") not in ("pcd", "cd", "rdm", "exact"):
        raise BoltzkitError(f"{out}: a pseudo-likelihood run cannot be resumed (run it again)")
    entry = family(model_config.get("kind"), str(out))
    options = {name: model_config[name] for name in entry.options if name in model_config}
    return stored, spec_from_config(stored, out), entry.kind, TrainingConfig.from_dict(training), options


#: What ``--resume`` compares with the stored run: flag -> (config entry, key).
RESUME_FLAGS = {
    "DATA": ("data", "path"), "--model": ("model", "kind"), "--hidden": ("model", "n_hidden"),
    "--batch-size": ("training", "batch_size"), "--chains": ("training", "n_chains"),
    "--gibbs-steps": ("training", "gibbs_steps"), "--method": ("training", "method"),
    "--lr": ("training", "learning_rate"), "--lr-schedule": ("training", "lr_schedule"),
    "--lr-final": ("training", "lr_final"), "--optimizer": ("training", "optimizer"),
    "--centered": ("training", "centered"), "--l1": ("training", "l1"), "--l2": ("training", "l2"),
    "--checkpoints": ("training", "n_checkpoints"), "--spacing": ("training", "spacing"),
    "--seed": ("training", "seed"), "--device": ("training", "device"), "--dtype": ("training", "dtype"),
    "--sampler": ("training", "sampler"), "--track-log-z": ("training", "track_log_z"),
    "--pretrain": ("training", "pretrain"), "--pretrain-dims": ("training", "pretrain_dims"),
    "--test-fraction": ("data", "test_fraction"), "--dataset": ("data", "dataset"),
    "--labels": ("data", "labels_path"), "--binarize": ("data", "binarize"),
    "--alphabet": ("data", "alphabet"), "--reweight": ("data", "reweight"),
    "--threshold": ("data", "threshold"), "--labels-column": ("data", "labels_column"),
}


def _resume_key(flag: str) -> tuple[str, str] | None:
    """Where the stored run keeps what ``flag`` sets: :data:`RESUME_FLAGS`, or the model config's
    entry of a family option (:func:`boltzkit.models.registry.option_flags`)."""
    if flag in RESUME_FLAGS:
        return RESUME_FLAGS[flag]
    option = option_flags().get(flag)
    return None if option is None else ("model", option[0])


def _same(given: Any, stored: Any, flag: str) -> bool:
    if flag == "--labels-column":  # typed as text, stored as the name or the position given
        return given is not None and stored is not None and str(given).strip() == str(stored)
    if flag in ("DATA", "--labels"):
        return stored is not None and given is not None and Path(given).resolve() == Path(stored).resolve()
    if isinstance(stored, float) or isinstance(given, float):
        return given is not None and stored is not None and math.isclose(float(given), float(stored),
                                                                         rel_tol=1e-12)
    return given == stored


def _resumed_config(out, stored: dict[str, Any], config: TrainingConfig,
                    given: Mapping[str, Any]) -> tuple[TrainingConfig, bool]:
    """The stored TrainingConfig, with ``--updates`` applied; what else differs from the stored
    config is refused in one line."""
    differ = []
    for flag, value in given.items():
        if _resume_key(flag) is not None:
            section, key = _resume_key(flag)
            # a run written before a setting existed has its default (the loaded TrainingConfig's)
            default = getattr(config, key, None) if section == "training" else None
            kept = stored.get(section, {}).get(key, default)
            if not _same(value, kept, flag):
                differ.append(f"{flag} {value} (the run has {kept})")
    if differ:
        raise BoltzkitError(f"{out}: --resume continues the run as it was started; these differ from "
                            f"it: {'; '.join(differ)} (start a new run with --overwrite to change them)")
    updates = given.get("--updates")
    if updates is None or updates == config.n_updates:
        return config, False
    done = trajectory.read_state(out).update
    updates = integer(updates, "--updates (n_updates)", 1)
    if updates < done:
        raise BoltzkitError(f"--updates {updates}: the run in {out} has already done {done} updates")
    return replace(config, n_updates=updates), True


def _resumed_pseudocount(out, given: float | None, stored: float | None) -> float | None:
    if given is not None and stored is not None and not _same(given, float(stored), "--pseudocount"):
        raise BoltzkitError(f"{out}: --pseudocount {given} differs from the run's "
                            f"{stored} (it would change the target statistics mid-run)")
    return stored if given is None else given


# ----------------------------------------------------------------------------- maximum likelihood
def _likelihood_run(model, data: TrainingData, config: TrainingConfig, out, run_config, resume: bool,
                    on_update, pseudocount: float | None, target_pearson: float | None, on_pearson,
                    start=None):
    """PCD / CD / Rdm / exact training through the Trainer (bmDCA's start on the full batch);
    ``start``: the exactly sampled law of pre-training (the run file's, on resume)."""
    if target_pearson is not None and (not isinstance(model, MomentMatching) or config.method == "exact"):
        raise BoltzkitError("--target-pearson: a stopping rule of Boltzmann learning with MCMC "
                            f"chains (pairwise models), not of {model.kind} / {config.method}")
    bmdca = isinstance(model, ProfileStart) and config.batch_size >= len(data.x)
    if pseudocount is not None and not bmdca:
        raise BoltzkitError("--pseudocount: only for bmDCA, a Potts model trained on the full batch "
                            "(--batch-size >= number of sequences)")
    target = None
    if bmdca:
        target, pseudocount = _bmdca_target(model, data, pseudocount)
        run_config["bmdca"] = {"pseudocount": pseudocount, "target_pearson": target_pearson}
        model = model.from_profile(target)
    # bmDCA: the pseudocounted frequencies are the positive phase, in place of the raw ones
    with warnings.catch_warnings():
        if resume:  # the run's checkpoint schedule was noted (--checkpoints > --updates) when it started
            warnings.filterwarnings("ignore", message="--checkpoints", category=UserWarning)
        if resume and config.sampler == "ptt":  # the law is what replica 0 of ptt runs
            start = trajectory.read_tempering_start(out, model)
        trainer = Trainer(model, data.x, config, data.w, out, run_config, data_statistics=target,
                          start=start)
    if resume:
        trainer.resume()
    else:
        trainer.start(*data.sample())
        data.store_ids(trainer.out)  # rank 0's (None on the other ranks of a process group)
        if target is not None and config.method == "pcd":
            trainer.chains = model.sample_profile(trainer.n_local_chains, trainer.rng)
    if target_pearson is None:
        return trainer.run(on_update)
    return _run_to_target(trainer, target_pearson, on_update, on_pearson)


def _bmdca_target(model, data: TrainingData, pseudocount: float | None):
    """Pseudocounted statistics of the data (the bmDCA target) and λ (default 1 / M_eff)."""
    lam = 1.0 / data.m_eff if pseudocount is None else float(pseudocount)
    if not 0.0 <= lam < 1.0:
        raise BoltzkitError(f"--pseudocount must lie in [0, 1), got {lam}")
    return model.target_statistics(data.samples, data.weights, lam), lam


def _run_to_target(trainer, target_pearson: float, on_update, on_pearson):
    """Update by update until the chains' C_ij Pearson reaches ``target_pearson`` (or n_updates)."""
    model, end = trainer.model, trainer.config.n_updates
    # bmDCA's target or the statistics the trainer computed once (full batch), else the data's
    target = trainer.data_statistics if trainer.data_statistics is not None \
        else model.data_statistics(trainer.data, trainer.data_weights)
    seconds = trainer.wall_time
    while trainer.update < end:
        t0 = time.perf_counter()
        trainer.run(on_update, stop_after=trainer.update + 1)
        # the statistics of the chains that made this update's gradient (no second pass), of
        # every rank's chains in a process group
        pearson = correlation_pearson(target, distributed.average_fields(model.chain_statistics,
                                                                         trainer.ranks))
        seconds += time.perf_counter() - t0
        if on_pearson is not None:
            on_pearson(trainer.update, pearson, seconds)
        if pearson >= target_pearson:
            if trainer.update not in trainer.schedule:  # else run() has saved it already
                trainer.save(checkpoint=True)
            break
    return model


# ----------------------------------------------------------------------------- pseudo-likelihood
def _plm_run(model, data: TrainingData, config: TrainingConfig, out, run_config, lambda_h: float,
             lambda_J: float, on_update):
    """Symmetric plmDCA (:func:`~boltzkit.training.plm.fit_plm`), saved as one checkpoint."""
    solver = "adam" if config.optimizer == "adam" else "lbfgs"
    run_config = dict(run_config, plm={"lambda_h": lambda_h, "lambda_J": lambda_J, "solver": solver})
    t0 = time.perf_counter()
    evaluations = [0]

    def callback(k: int, value: float) -> None:
        evaluations[0] = k
        on_update(min(k, config.n_updates))

    model = fit_plm(data.x, model, None, data.w, lambda_h=lambda_h, lambda_J=lambda_J,
                    solver=solver, max_iter=config.n_updates, learning_rate=config.learning_rate,
                    dtype=TORCH_DTYPES[config.dtype], device=config.device, callback=callback)
    wall_time = time.perf_counter() - t0
    if not all_finite(model.parameters().values()):
        raise TrainingDiverged("pseudo-likelihood maximisation diverged: the parameters are not "
                               "finite (nothing was saved); raise --lambda-h / --lambda-j")
    ranks = distributed.current()
    if ranks.parallel:
        run_config["distributed"] = {"world_size": ranks.world}
    if out is not None and ranks.writes:
        config_dict = dict(run_config, model=model.config(), training=config.to_dict())
        trajectory.create(out, config_dict, *data.sample(), ids=data.sample_ids())
        trajectory.append(out, max(1, evaluations[0]), model.parameters(), wall_time,
                          config.learning_rate, checkpoint=True)
    on_update(config.n_updates)
    return model


def _epoch_pseudo_likelihood_run(model, entry: Family, data: TrainingData, config: TrainingConfig,
                                 out, run_config, options, on_update):
    """Adam on minibatches of the ±1 pseudo-likelihood (:mod:`boltzkit.training.pseudo_likelihood`).

    Settings from the TrainingConfig: ``n_updates`` Adam steps (rounded up to whole epochs of
    ``batch_size`` rows), ``learning_rate``, ``l2`` (on the couplings and on the network's weight
    matrices), ``n_checkpoints`` (evenly over the epochs), ``seed`` (minibatch order).
    """
    if distributed.current().parallel:
        raise BoltzkitError(f"--method plm of the {entry.kind} family (Adam on minibatches of the "
                            "pseudo-likelihood) runs in one process: launch it without torchrun")
    m = len(data.x)
    batch = min(config.batch_size, m)
    steps_per_epoch = max(1, m // batch)
    n_epochs = max(1, math.ceil(config.n_updates / steps_per_epoch))
    pl_config = PseudoLikelihoodConfig(n_epochs=n_epochs, batch_size=batch, learning_rate=config.learning_rate,
                                       l2_couplings=config.l2, l2_fields=0.0, l2_network=config.l2,
                                       seed=config.seed, n_checkpoints=min(config.n_checkpoints, n_epochs))
    run_config = dict(run_config)
    run_config[entry.kind] = {**entry.with_options(options), "n_epochs": n_epochs,
                              "steps_per_epoch": steps_per_epoch, "requested_updates": config.n_updates,
                              "cli_training": config.to_dict()}

    def on_epoch(entry_: dict[str, float]) -> None:
        on_update(min(config.n_updates, int(entry_["epoch"]) * steps_per_epoch))

    fit_pseudo_likelihood(model, data.x, pl_config, data.w, out=out, run_config=run_config,
                          on_epoch=on_epoch, data_sample=data.sample())
    data.store_ids(out)
    return model

