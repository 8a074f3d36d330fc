"""scikit-learn style estimators, one per registered model family.

Every family of :mod:`boltzkit.models.registry` gets an estimator class named by its ``api_name``
(``boltzkit.BernoulliRBM``, ``boltzkit.IsingRBM``, ``boltzkit.PottsRBM``, ``boltzkit.PottsBM``,
``boltzkit.IsingBM``, ``boltzkit.HybridEBM``, and any family registered later), all built on
:class:`EnergyModelEstimator`: the same hyper-parameters (the training settings, plus the
family's own options such as ``n_hidden``), the same ``fit`` (through the one training entry,
:func:`boltzkit.training.run.train_model`), ``sample``, ``free_energy``, ``log_partition``,
``score_samples``, ``score`` and ``transform`` (families with hidden units).

Habits: hyper-parameters are stored by ``__init__``; what is learned ends with an underscore
(``model_``, and one attribute per model tensor: ``weights_``, ``visible_bias_``,
``hidden_bias_``, ``fields_``, ``couplings_``, ...); ``fit`` returns ``self``. Arrays in and out
are NumPy arrays of shape (n_samples, n_features) in the model's values: {0,1} or ±1 for binary
families, integer codes 0..q-1 for categorical ones (a list of aligned strings is encoded with
the alphabet of a loaded alignment run).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
import torch

from boltzkit.data.msa import encode
from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartition, log_partition
from boltzkit.io import trajectory
from boltzkit.models.capabilities import HiddenLayer
from boltzkit.models.registry import Family, families, family
from boltzkit.sampling.gibbs import sample as run_sampler
from boltzkit.training.config import TrainingConfig
from boltzkit.training.run import TORCH_DTYPES, TrainingData, train_model

__all__ = ["EnergyModelEstimator", "estimator_class", "load"]

#: Hyper-parameters shared by every estimator, with their defaults (``method``: the family's first).
COMMON_PARAMS: dict[str, Any] = {
    "method": None, "n_updates": 10000, "batch_size": 500, "n_chains": 500, "gibbs_steps": 10,
    "learning_rate": 0.01, "lr_schedule": "constant", "lr_final": None, "optimizer": "sgd",
    "centered": True, "l1": 0.0, "l2": 0.0, "n_checkpoints": 20, "spacing": "log", "random_state": None,
    "device": "cpu", "dtype": "float32", "out": None, "verbose": False}
#: Pseudo-likelihood strengths, for families trained by plm (:mod:`boltzkit.training.plm`).
PLM_PARAMS: dict[str, Any] = {"lambda_h": 0.01, "lambda_J": 0.01}
#: The hyper-parameters that are TrainingConfig fields (``random_state`` is its ``seed``).
_TRAINING_NAMES = [name for name in COMMON_PARAMS if name in {f.name for f in fields(TrainingConfig)}]


class EnergyModelEstimator:
    """The estimator of one model family (``family``: its registry entry).

    Subclasses are made by :func:`estimator_class`; their ``__init__`` takes the family's options
    first (positional or keyword), then every key of :data:`COMMON_PARAMS` by keyword.
    """

    family: ClassVar[Family]
    _params: ClassVar[dict[str, Any]]

    def __init__(self, *args: Any, **kwargs: Any):
        bound = self._signature().bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            setattr(self, name, value)

    @classmethod
    def _signature(cls) -> inspect.Signature:
        names = list(cls._params)
        n_options = len(cls.family.options)
        kinds = [inspect.Parameter.POSITIONAL_OR_KEYWORD if i < n_options else inspect.Parameter.KEYWORD_ONLY
                 for i in range(len(names))]
        return inspect.Signature([inspect.Parameter(n, k, default=cls._params[n])
                                  for n, k in zip(names, kinds)])

    # ------------------------------------------------------------------ sklearn plumbing
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._params}

    def set_params(self, **params: Any) -> "EnergyModelEstimator":
        for name, value in params.items():
            if name not in self._params:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__} "
                                 f"(valid: {', '.join(sorted(self._params))})")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v is not self._params[k]
                   and v != self._params[k]}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def _training_config(self) -> TrainingConfig:
        return TrainingConfig(**{name: getattr(self, name) for name in _TRAINING_NAMES},
                              seed=0 if self.random_state is None else int(self.random_state))

    # ------------------------------------------------------------------ fitted state
    @property
    def model_(self):
        try:
            return self.__dict__["_model"]
        except KeyError:
            raise BoltzkitError(f"this {type(self).__name__} is not fitted yet; call fit()") from None

    def _set_model(self, model) -> None:
        self.__dict__["_model"] = model
        self.n_features_in_ = model.n_visible
        self.n_states_ = model.visible.n_states
        self.kind_ = model.kind

    def __getattr__(self, name: str) -> Any:
        # one fitted attribute per model tensor: weights_, visible_bias_, fields_, ...
        if name.endswith("_") and not name.startswith("_") and "_model" in self.__dict__:
            params = self.__dict__["_model"].parameters()
            if name[:-1] in params:
                return params[name[:-1]].detach().cpu().numpy()
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _space(self):
        model = self.__dict__.get("_model")
        return model.visible if model is not None else self.family.space(
            int(getattr(self, "n_states_", 2)))

    def _to_tensor(self, X: Any, fitting: bool = False) -> torch.Tensor:
        """Validate X (the model's values) at the door and return it on the model's device."""
        alphabet = getattr(self, "alphabet_", None)
        if isinstance(X, (list, tuple)) and X and all(isinstance(r, str) for r in X):
            if alphabet is None:
                raise BoltzkitError("this model has no alphabet: give integer codes")
            try:
                X = encode(list(X), alphabet)
            except ValueError as e:  # unequal lengths
                raise BoltzkitError(str(e)) from None
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2:
            raise BoltzkitError(f"X must be 2-D (n_samples, n_features); got shape {x.shape}")
        if not fitting and "_model" in self.__dict__ and x.shape[1] != self.model_.n_visible:
            raise BoltzkitError(f"X has {x.shape[1]} columns; the model has {self.model_.n_visible} "
                                "visible units")
        space = self.family.space(int(x.max(initial=0)) + 1) if fitting else self._space()
        try:
            space.check(x)
        except BoltzkitError as e:
            raise BoltzkitError(f"{e} for {type(self).__name__}") from None
        return torch.as_tensor(x, dtype=TORCH_DTYPES[self.dtype], device=self.device)

    def _from_model(self, x: torch.Tensor) -> np.ndarray:
        """Model configurations as returned to the user: codes as integers, others as they are."""
        return self._space().to_data(x) if self._space().categorical else x.cpu().numpy()

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, resume: bool = False,
            on_update=None, image_shape: tuple[int, int] | None = None) -> "EnergyModelEstimator":
        """Train the model on X.

        Parameters
        ----------
        X : array of shape (n_samples, n_features), the model's values
        y : array of shape (n_samples,), optional
            Labels of the rows: not used by training (unsupervised), kept with the run file's data
            sample for reports (tree strips, PCA colours), as ``train --labels`` does.
        sample_weight : array of shape (n_samples,), optional
        resume : continue the run saved in ``out`` from its last saved state
        image_shape : (height, width), optional
            The rows are images of this shape (reports draw them as images).
        """
        x = self._to_tensor(X, fitting=True).cpu().double().numpy()
        for name in ("log_partition_", "log_partition_error_", "log_partition_method_"):
            self.__dict__.pop(name, None)  # log Z of a previous fit
        if resume and self.out is None:
            raise BoltzkitError("resume needs the run file (out=...)")
        config = self._training_config()
        space = self.family.space(max(int(getattr(self, "n_states_", 0) or 0), int(x.max(initial=0)) + 1))
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        labels = None if y is None else np.asarray(y)
        if labels is not None and labels.shape != (len(x),):
            raise BoltzkitError(f"y must have shape ({len(x)},) (one label per row); got {labels.shape}")
        if image_shape is not None and int(np.prod(image_shape)) != x.shape[1]:
            raise BoltzkitError(f"image_shape {tuple(image_shape)} does not fit {x.shape[1]} features")
        data = TrainingData(space.to_data(x), weights, space, config, labels,
                            None if image_shape is None else tuple(image_shape),
                            alphabet=getattr(self, "alphabet_", None))
        options = {name: getattr(self, name) for name in self.family.options}
        plm = {name: getattr(self, name) for name in PLM_PARAMS if name in self._params}
        model = train_model(self.family, data, config, self.out, getattr(self, "run_info_", None),
                            resume, on_update, options=options, **plm)
        self._set_model(model)
        return self

    def sample(self, n_samples: int, gibbs_steps: int = 1000, random_state: int | None = None,
               start: Any = None, beta: float = 1.0) -> np.ndarray:
        """``n_samples`` configurations after ``gibbs_steps`` Monte Carlo steps from random starts
        (or from ``start``), shape (n_samples, n_features)."""
        model = self.model_
        g = torch.Generator(device=model.device).manual_seed(0 if random_state is None else random_state)
        s = None if start is None else self._to_tensor(start)
        return self._from_model(run_sampler(model, n_samples, gibbs_steps, g, s, beta))

    def free_energy(self, X: Any) -> np.ndarray:
        """Marginal energy F(x) of each sample (the energy for models without hidden units),
        shape (n_samples,)."""
        return self.model_.free_energy(self._to_tensor(X).to(self.model_.dtype)).cpu().numpy()

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
            log_z = self.__dict__.get("log_partition_")
            if log_z is None:
                log_z = self.log_partition()
        return log_likelihood(self.model_, self._to_tensor(X), log_z)[1].cpu().numpy()

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood of X."""
        return float(self.score_samples(X).mean())

    def transform(self, X: Any) -> np.ndarray:
        """Hidden conditional means <h|x>, shape (n_samples, n_hidden) (families with hidden units)."""
        if not isinstance(self.model_, HiddenLayer):
            raise BoltzkitError(f"transform: a {self.model_.kind} model has no hidden units "
                                "(no HiddenLayer capability)")
        return self.model_.transform(self._to_tensor(X).to(self.model_.dtype)).cpu().numpy()


_CLASSES: dict[str, type[EnergyModelEstimator]] = {}


def estimator_class(entry: Family | str) -> type[EnergyModelEstimator]:
    """The estimator class of a family (made once, named by its ``api_name``)."""
    entry = family(entry) if isinstance(entry, str) else entry
    cls = _CLASSES.get(entry.kind)
    if cls is None or cls.family is not entry:
        params = dict(entry.options)
        params.update(COMMON_PARAMS, method=entry.methods[0])
        if "plm" in entry.methods and entry.methods[0] != "plm":
            params.update(PLM_PARAMS)
        doc = (f"{entry.summary} (model family ``{entry.kind}``), as a scikit-learn style "
               f"estimator; see :class:`EnergyModelEstimator`.\n\n    Parameters: "
               + ", ".join(f"{k}={v!r}" for k, v in params.items()))
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            EnergyModelEstimator.__init__(self, *args, **kwargs)

        cls = type(entry.api_name, (EnergyModelEstimator,),
                   {"family": entry, "_params": params, "__doc__": doc, "__module__": __name__,
                    "__init__": __init__})
        signature = cls._signature()
        # what inspect.signature and scikit-learn's parameter introspection read
        __init__.__signature__ = signature.replace(parameters=[
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *signature.parameters.values()])
        __init__.__qualname__ = f"{entry.api_name}.__init__"
        _CLASSES[entry.kind] = cls
    return cls


def load(path: str | os.PathLike, checkpoint: int | None = None) -> EnergyModelEstimator:
    """Load a saved run (any checkpoint; the last by default) as a fitted estimator of its family.

    The training hyper-parameters come from the run file; ``trajectory_updates_`` lists the saved
    checkpoints; ``alphabet_`` holds the letters of an alignment run (codes in and out).
    """
    config = trajectory.read_config(path)
    model = trajectory.load_model(path, checkpoint)
    entry = family(model.kind, str(path))
    cls = estimator_class(entry)
    est = cls(**_stored_params(config, entry, model, cls._params), out=path)
    est.random_state = config.get("training", {}).get("seed")
    est.alphabet_ = config.get("alphabet")
    est._set_model(model.to(torch.device(est.device), TORCH_DTYPES[est.dtype]))
    est.trajectory_updates_ = trajectory.checkpoint_updates(path)
    est.run_info_ = config
    return est


def _stored_params(config: dict[str, Any], entry: Family, model, params: dict[str, Any]) -> dict[str, Any]:
    """The estimator's hyper-parameters as the run stored them: the training settings (those the
    command line gave, for epoch-wise pseudo-likelihood runs), the family's options (model config,
    or the entry under its kind) and the plm strengths."""
    own = config.get(entry.kind, {})
    training = own.get("cli_training", config.get("training", {}))
    stored = {k: training[k] for k in _TRAINING_NAMES if k in training and k in params}
    options = {k: v for k, v in model.config().items() if k in entry.options}
    options.update({k: v for k, v in own.items() if k in entry.options})
    plm = {k: v for k, v in config.get("plm", {}).items() if k in params}
    return {**options, **stored, **plm}


def __getattr__(name: str) -> Any:
    entry = next((entry for entry in families() if entry.api_name == name), None)
    if entry is None:
        raise AttributeError(f"module 'boltzkit.estimator' has no attribute {name!r}")
    return estimator_class(entry)
