"""scikit-learn style estimators: ``BernoulliRBM`` ({0,1} units) and ``IsingRBM`` (±1 units);
:func:`load` also returns a :class:`FittedModel` for Potts RBM / Potts / Ising runs.

Hyper-parameters are stored by ``__init__``; what is learned ends with an underscore
(``model_``, ``weights_``, ``visible_bias_``, ``hidden_bias_``); ``fit`` returns ``self``.
Arrays in and out are NumPy arrays of shape (n_samples, n_features).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartition, log_partition
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN, UnitType
from boltzkit.sampling.gibbs import sample as run_sampler
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class _ModelMethods:
    """Sampling and scoring shared by every estimator: needs ``model_`` and ``_to_tensor(X)``
    (validation of X at the door) from the class."""

    model_: Any

    def _to_tensor(self, X: Any, fitting: bool = False) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _from_model(self, x: torch.Tensor) -> np.ndarray:
        """Model configurations as returned to the user (here: as they are)."""
        return x.cpu().numpy()

    def sample(self, n_samples: int, gibbs_steps: int = 1000, random_state: int | None = None,
               start: Any = None, beta: float = 1.0) -> np.ndarray:
        """``n_samples`` configurations after ``gibbs_steps`` block-Gibbs steps from random starts
        (or from ``start``), shape (n_samples, n_features)."""
        model = self.model_
        g = torch.Generator(device=model.device).manual_seed(0 if random_state is None else random_state)
        s = None if start is None else self._to_tensor(start)
        return self._from_model(run_sampler(model, n_samples, gibbs_steps, g, s, beta))

    def free_energy(self, X: Any) -> np.ndarray:
        """Marginal energy F(x) of each sample, shape (n_samples,)."""
        return self.model_.free_energy(self._to_tensor(X)).cpu().numpy()

    def log_partition(self, method: str = "auto", **ais: Any) -> float:
        """log Z ("exact", "ais" or "auto"); the AIS error bar is kept in ``log_partition_error_``."""
        result: LogPartition = log_partition(self.model_, method, **ais)
        self.log_partition_ = result.value
        self.log_partition_error_ = result.error
        self.log_partition_method_ = result.method
        return result.value

    def score_samples(self, X: Any, log_z: float | None = None) -> np.ndarray:
        """log p(x) of each sample, shape (n_samples,); log Z computed (and cached) if not given."""
        if log_z is None:
            log_z = getattr(self, "log_partition_", None)
            if log_z is None:
                log_z = self.log_partition()
        return log_likelihood(self.model_, self._to_tensor(X), log_z)[1].cpu().numpy()

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood of X."""
        return float(self.score_samples(X).mean())


class _RBMEstimator(_ModelMethods):
    _units: UnitType = BERNOULLI

    def __init__(self, n_hidden: int = 100, *, method: str = "pcd", n_updates: int = 10000,
                 batch_size: int = 500, n_chains: int = 500, gibbs_steps: int = 10,
                 learning_rate: float = 0.01, optimizer: str = "sgd", centered: bool = True,
                 l1: float = 0.0, l2: float = 0.0, n_checkpoints: int = 20, spacing: str = "log",
                 random_state: int | None = None, device: str = "cpu", dtype: str = "float32",
                 out: str | os.PathLike | None = None, verbose: bool = False):
        self.n_hidden = n_hidden
        self.method = method
        self.n_updates = n_updates
        self.batch_size = batch_size
        self.n_chains = n_chains
        self.gibbs_steps = gibbs_steps
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.centered = centered
        self.l1 = l1
        self.l2 = l2
        self.n_checkpoints = n_checkpoints
        self.spacing = spacing
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.out = out
        self.verbose = verbose

    # ------------------------------------------------------------------ sklearn plumbing
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(_RBMEstimator.__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params: Any) -> "_RBMEstimator":
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__} "
                                 f"(valid: {', '.join(sorted(valid))})")
            setattr(self, k, v)
        return self

    def _training_config(self) -> TrainingConfig:
        return TrainingConfig(
            method=self.method, n_updates=self.n_updates, batch_size=self.batch_size,
            n_chains=self.n_chains, gibbs_steps=self.gibbs_steps, learning_rate=self.learning_rate,
            optimizer=self.optimizer, centered=self.centered, l1=self.l1, l2=self.l2,
            n_checkpoints=self.n_checkpoints, spacing=self.spacing,
            seed=0 if self.random_state is None else int(self.random_state), device=self.device,
            dtype=self.dtype)

    def _to_tensor(self, X: Any, fitting: bool = False) -> torch.Tensor:
        """Validate X (values of this model's units) and return it on the model's device."""
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2:
            raise BoltzkitError(f"X must be 2-D (n_samples, n_features); got shape {x.shape}")
        if not np.isfinite(x).all():
            raise BoltzkitError("X contains NaN or infinite values")
        allowed = (self._units.low, self._units.high)
        if not np.isin(x, allowed).all():
            raise BoltzkitError(f"X must hold values in {{{allowed[0]:g}, {allowed[1]:g}}} for "
                                f"{type(self).__name__}")
        if not fitting and hasattr(self, "_model") and x.shape[1] != self.model_.n_visible:
            raise BoltzkitError(f"X has {x.shape[1]} features; the model has {self.model_.n_visible}")
        return torch.as_tensor(x, dtype=_DTYPES[self.dtype], device=self.device)

    @property
    def model_(self) -> RBM:
        try:
            return self._model
        except AttributeError:
            raise BoltzkitError(f"this {type(self).__name__} is not fitted yet; call fit()") from None

    @property
    def weights_(self) -> np.ndarray:
        return self.model_.weights.cpu().numpy()

    @property
    def visible_bias_(self) -> np.ndarray:
        return self.model_.visible_bias.cpu().numpy()

    @property
    def hidden_bias_(self) -> np.ndarray:
        return self.model_.hidden_bias.cpu().numpy()

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, resume: bool = False,
            on_update=None) -> "_RBMEstimator":
        """Train by maximum likelihood (PCD/CD/Rdm).

        Parameters
        ----------
        X : array of shape (n_samples, n_features), values {0,1} (BernoulliRBM) or ±1 (IsingRBM)
        y : ignored (present for pipelines)
        sample_weight : array of shape (n_samples,), optional
        resume : continue the run saved in ``out`` from its last saved state
        """
        data = self._to_tensor(X, fitting=True)
        for name in ("log_partition_", "log_partition_error_", "log_partition_method_"):
            self.__dict__.pop(name, None)  # log Z of a previous fit
        weights = None if sample_weight is None else torch.as_tensor(
            np.asarray(sample_weight, dtype=np.float64))
        config = self._training_config()
        generator = torch.Generator(device=self.device).manual_seed(config.seed)
        model = RBM.init_from_data(data, self.n_hidden, self._units, generator,
                                   data_weights=None if weights is None else weights.to(data))
        trainer = Trainer(model, data, config, weights, self.out, getattr(self, "run_info_", {}))
        if resume:
            if self.out is None:
                raise BoltzkitError("resume needs the run file (out=...)")
            trainer.resume()
        else:
            trainer.start(*getattr(self, "_data_sample", (None, None, None)))
        trainer.run(on_update)
        self._model = model
        self.n_features_in_ = model.n_visible
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Hidden conditional means <h|x>, shape (n_samples, n_hidden)."""
        return self.model_.transform(self._to_tensor(X)).cpu().numpy()


class BernoulliRBM(_RBMEstimator):
    """RBM with {0,1} visible and hidden units.

    E(v, h) = -v W h - b.v - c.h; F(v) = -b.v - sum_a softplus(c_a + v W_:a).

    Examples
    --------
    >>> rbm = BernoulliRBM(n_hidden=64, n_updates=2000, random_state=0).fit(X)  # doctest: +SKIP
    >>> rbm.score(X_test)                                                        # doctest: +SKIP
    """

    _units = BERNOULLI


class IsingRBM(_RBMEstimator):
    """RBM with ±1 visible (σ) and hidden (τ) units (the class-2 seed's convention).

    E(σ, τ) = -σ W τ - η.σ - θ.τ; F(σ) = -η.σ - sum_a log 2cosh(θ_a + σ W_:a).
    """

    _units = SPIN


class FittedModel(_ModelMethods):
    """A trained categorical or pairwise model loaded from a run (``potts-rbm``, ``potts-bm``,
    ``ising-bm``), with the estimator methods ``sample``, ``free_energy``, ``log_partition``,
    ``score_samples``, ``score`` (and ``transform`` for the Potts RBM).

    Configurations are integer codes 0..q-1 of shape (n_samples, n_sites) for the Potts kinds
    (index 0 = gap; the letters are ``alphabet_``; a list of aligned strings is encoded with it),
    ±1 spins for ``ising-bm``. ``free_energy`` is the energy for pairwise models (no hidden units).
    Built by :func:`load`; training goes through ``boltzkit train`` / the trainer.
    """

    def __init__(self, model, alphabet: str | None = None, device: str = "cpu",
                 run_info: dict[str, Any] | None = None):
        self._model = model
        self.alphabet_ = alphabet
        self.device = device
        self.kind_ = model.kind
        self.n_features_in_ = model.n_visible
        self.n_states_ = getattr(model, "n_states", 2)
        self.run_info_ = run_info or {}

    @property
    def model_(self):
        return self._model

    def _to_tensor(self, X: Any, fitting: bool = False) -> torch.Tensor:
        """Validate X (codes, or ±1 spins for ising-bm) and return it on the model's device."""
        if self.kind_ != "ising-bm" and isinstance(X, (list, tuple)) and X \
                and all(isinstance(r, str) for r in X):
            if self.alphabet_ is None:
                raise BoltzkitError("this model has no alphabet: give integer codes")
            from boltzkit.data.msa import encode

            try:
                X = encode(list(X), self.alphabet_)
            except ValueError as e:  # unequal lengths
                raise BoltzkitError(str(e)) from None
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2:
            raise BoltzkitError(f"X must be 2-D (n_samples, n_sites); got shape {x.shape}")
        if x.shape[1] != self.n_features_in_:
            raise BoltzkitError(f"X has {x.shape[1]} columns; the model has {self.n_features_in_} sites")
        if self.kind_ == "ising-bm":
            if not np.isin(x, (-1.0, 1.0)).all():
                raise BoltzkitError("X must hold ±1 spins for an ising-bm model")
        elif not (np.isfinite(x).all() and (x == np.round(x)).all() and x.min(initial=0) >= 0
                  and x.max(initial=0) < self.n_states_):
            raise BoltzkitError(f"X must hold integer codes 0..{self.n_states_ - 1}")
        return torch.as_tensor(x, dtype=self.model_.dtype, device=self.model_.device)

    def _from_model(self, x: torch.Tensor) -> np.ndarray:
        if self.kind_ == "ising-bm":
            return x.cpu().numpy()
        return x.cpu().numpy().astype(np.int64)  # integer codes

    def transform(self, X: Any) -> np.ndarray:
        """Hidden conditional means <h|v> (Potts RBM only), shape (n_samples, n_hidden)."""
        if not hasattr(self.model_, "transform"):
            raise BoltzkitError(f"a {self.kind_} model has no hidden units to transform to")
        return self.model_.transform(self._to_tensor(X)).cpu().numpy()


_ESTIMATORS = {"bernoulli-rbm": BernoulliRBM, "ising-rbm": IsingRBM}
_MODEL_KINDS = ("potts-rbm", "potts-bm", "ising-bm")


def load(path: str | os.PathLike, checkpoint: int | None = None):
    """Load a saved run (any checkpoint; the last by default) as a fitted estimator.

    The training hyper-parameters come from the run file; ``trajectory_updates_`` lists the
    saved checkpoints. Runs of ``potts-rbm``, ``potts-bm`` and ``ising-bm`` models load as a
    :class:`FittedModel` (codes in and out, the run's ``alphabet_``).
    """
    config = trajectory.read_config(path)
    model = trajectory.load_model(path, checkpoint)
    if model.kind in _MODEL_KINDS:
        training = config.get("training", {})
        device = training.get("device", "cpu")
        fitted = FittedModel(model.to(torch.device(device), _DTYPES[training.get("dtype", "float32")]),
                             config.get("alphabet"), device, config)
        fitted.trajectory_updates_ = trajectory.checkpoint_updates(path)
        return fitted
    cls = _ESTIMATORS.get(model.kind)
    if cls is None:
        raise BoltzkitError(f"{path}: no estimator for model kind {model.kind!r}")
    training = config.get("training", {})
    est = cls(n_hidden=model.n_hidden, out=path, **{
        k: training[k] for k in ("method", "n_updates", "batch_size", "n_chains", "gibbs_steps",
                                 "learning_rate", "optimizer", "centered", "l1", "l2",
                                 "n_checkpoints", "spacing", "device", "dtype") if k in training})
    est.random_state = training.get("seed")
    est._model = model.to(torch.device(est.device), _DTYPES[est.dtype])
    est.n_features_in_ = model.n_visible
    est.trajectory_updates_ = trajectory.checkpoint_updates(path)
    est.run_info_ = config
    return est
