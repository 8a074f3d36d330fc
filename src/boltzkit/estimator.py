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

scikit-learn habits (the classes derive from :class:`sklearn.base.BaseEstimator`; its
``check_estimator`` runs on every family in ``tests/test_sklearn_checks.py``, with the checks that
cannot apply listed there with their reasons):

* ``__sklearn_tags__``: a density estimator (``score`` is the mean log-likelihood, what
  ``GridSearchCV`` maximises), unsupervised (``y`` is not required), a transformer for the families
  with hidden units; sparse input is densified.
* ``partial_fit`` (:meth:`EnergyModelEstimator.partial_fit`), ``fit_transform``, and for the RBM
  families (capability :class:`~boltzkit.models.capabilities.LayeredEnergy`) the attributes of
  scikit-learn's ``BernoulliRBM``: ``components_`` (n_hidden, n_features),
  ``intercept_hidden_`` (n_hidden,), ``intercept_visible_`` (n_features,).
* Grey levels: like scikit-learn's ``BernoulliRBM``, the binary families accept real values
  between their two unit values, [0, 1] for {0,1} units ([-1, 1] for ±1 spins), wherever they
  train by maximum likelihood (``method`` pcd, cd, rdm or exact). A grey level is used as a real
  value in place of the unit: in the positive phase of the gradient (<v h> with <h | v> at the
  real v, and <v>), in ``free_energy``, ``transform``, ``score_samples`` (-F(v) - log Z at the real
  v: a log-probability only for binary rows) and as the start of CD chains; the negative phase and
  ``sample`` stay binary. Values outside the interval are refused in one line. Pseudo-likelihood
  (``method="plm"``) needs binary rows. Run files keep binary rows for reports (grey levels
  rounded at 0.5).
"""

from __future__ import annotations

import inspect
import math
import os
import pkgutil
import warnings
from dataclasses import fields, replace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.metaestimators import available_if

from boltzkit.checks import integer
from boltzkit.data.msa import encode
from boltzkit.errors import BoltzkitError, DataError, InvalidValue
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartition, log_partition
from boltzkit.io import trajectory
from boltzkit.models.baseline import independent_site_model
from boltzkit.models.capabilities import HiddenLayer, LayeredEnergy
from boltzkit.models.registry import Family, families, family, model_from_config
from boltzkit.sampling.gibbs import sample as run_sampler
from boltzkit.training.config import TrainingConfig
from boltzkit.training.memory import check_memory
from boltzkit.training.run import TORCH_DTYPES, TrainingData, train_model
from boltzkit.training.trainer import Trainer

__all__ = ["EnergyModelEstimator", "MissingCapability", "NotFittedError", "estimator_class", "load"]

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
#: The methods trained by the Trainer (maximum likelihood): those that take grey levels and partial_fit.
_LIKELIHOOD_METHODS = ("pcd", "cd", "rdm", "exact")
#: scikit-learn's BernoulliRBM attributes -> the LayeredEnergy tensors they are.
_SKLEARN_RBM_NAMES = {"components_": "weights", "intercept_hidden_": "hidden_bias",
                      "intercept_visible_": "visible_bias"}


class InvalidType(BoltzkitError, TypeError):
    """X of a type that holds no numbers (a TypeError, as scikit-learn's checks expect)."""


class MissingCapability(BoltzkitError, AttributeError):
    """A method or attribute the family's models cannot offer (``hasattr`` is False for it)."""


class NotFittedError(BoltzkitError, SklearnNotFittedError):
    """A method of an estimator that needs ``fit`` was called first (scikit-learn's
    ``NotFittedError`` too, hence also a ValueError and an AttributeError)."""


class EnergyModelEstimator(BaseEstimator):
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

    def __sklearn_tags__(self):
        """scikit-learn's tags (scikit-learn >= 1.6): an unsupervised density estimator, a
        transformer when the family has hidden units, dense or sparse 2-D input (sparse input is
        densified)."""
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        tags.target_tags.required = False
        tags.input_tags.sparse = True
        # positive_only stays False: the values are bounded ({0,1}, [0, 1], ±1, codes), and
        # refused outside their set in one line that says so, not "Negative values in data"
        if self._has_hidden_layer():
            # the hidden means come in the model's dtype (``dtype``), whatever the input's
            tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags

    def _has_hidden_layer(self) -> bool:
        """Whether the family's models have hidden units (capability HiddenLayer), asked of the
        fitted model, or before fitting of the class the family's loader belongs to."""
        model = self.__dict__.get("_model")
        if model is not None:
            return isinstance(model, HiddenLayer)
        loader = self.family.loader
        loader = pkgutil.resolve_name(loader) if isinstance(loader, str) else loader
        return _class_offers(getattr(loader, "__self__", None), HiddenLayer)

    # ------------------------------------------------------------------ fitted state
    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    def _not_fitted(self) -> NotFittedError:
        return NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit()")

    @property
    def model_(self):
        """The fitted model (an :class:`~boltzkit.models.base.EnergyModel`)."""
        try:
            return self.__dict__["_model"]
        except KeyError:
            raise self._not_fitted() from None

    def __getstate__(self) -> dict[str, Any]:
        # the model as a run file holds it (its config and tensors), rebuilt on unpickling by the
        # family's loader: a pickle does not depend on the model object's own layout
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        model = state.pop("_model", None)
        if model is not None:
            tensors = {name: t.detach().cpu() for name, t in model.parameters().items()}
            state["_saved_model"] = (model.config(), tensors, str(model.device))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop("_saved_model", None)
        super().__setstate__(state)
        if saved is not None:
            config, tensors, device = saved
            self.__dict__["_model"] = model_from_config(config, tensors).to(torch.device(device))

    def _set_model(self, model) -> None:
        self.__dict__["_model"] = model
        self.n_features_in_ = model.n_visible
        self.n_states_ = model.visible.n_states
        self.kind_ = model.kind

    def __getattr__(self, name: str) -> Any:
        # one fitted attribute per model tensor (weights_, visible_bias_, fields_, ...), and
        # scikit-learn's BernoulliRBM names for the tensors of a layered energy (RBMs)
        if name.endswith("_") and not name.startswith("_"):
            if "_model" not in self.__dict__:
                if name == "model_" or name in _SKLEARN_RBM_NAMES:
                    raise self._not_fitted()
            else:
                model = self.__dict__["_model"]
                if name in _SKLEARN_RBM_NAMES:
                    return self._sklearn_rbm_attribute(model, name)
                params = model.parameters()
                if name[:-1] in params:
                    return params[name[:-1]].detach().cpu().numpy()
        if name == "partial_fit":
            raise MissingCapability(f"partial_fit: method {self.method!r} runs its solver to "
                                    "convergence on the whole data (use fit); partial_fit takes "
                                    f"method {' | '.join(_LIKELIHOOD_METHODS)}")
        if name in ("transform", "fit_transform"):
            raise MissingCapability(f"{name}: a {self.family.kind} model has no hidden units (no "
                                    "HiddenLayer capability)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _sklearn_rbm_attribute(self, model, name: str) -> np.ndarray:
        """``components_`` of shape (n_hidden, n_features) ((n_hidden, n_features, q) for Potts
        units): the weights with the hidden axis first, as scikit-learn's BernoulliRBM stores them;
        ``intercept_hidden_`` (n_hidden,); ``intercept_visible_`` (n_features,) ((n_features, q))."""
        if not isinstance(model, LayeredEnergy):
            raise MissingCapability(f"{name}: a {model.kind} model has no layer of hidden units and no "
                                 "visible-hidden weights (scikit-learn's RBM attributes are for the "
                                 f"RBM families); its tensors: {', '.join(f'{k}_' for k in model.parameters())}")
        tensor = getattr(model, _SKLEARN_RBM_NAMES[name]).detach().cpu().numpy()
        return np.moveaxis(tensor, -1, 0) if name == "components_" else tensor

    def _space(self):
        model = self.__dict__.get("_model")
        return model.visible if model is not None else self.family.space(
            int(getattr(self, "n_states_", 2)))

    def _takes_grey(self, space) -> bool:
        """Grey levels in [0, 1]: {0,1} units trained by maximum likelihood. Not ±1 spins: a {0,1}
        row given by mistake would pass as grey spins (0 is their middle), so spins stay ±1."""
        return space.name == "bernoulli" and self.method in _LIKELIHOOD_METHODS

    def _to_tensor(self, X: Any, grey: bool = True) -> torch.Tensor:
        """Validate X (:meth:`_validated`) and return it as model values
        (:meth:`~boltzkit.models.visible.VisibleSpace.from_api`: real values standardised as at
        ``fit``) on the model's device, in its dtype."""
        return torch.as_tensor(self._space().from_api(self._validated(X, grey=grey)),
                               dtype=TORCH_DTYPES[self.dtype], device=self.device)

    def _validated(self, X: Any, fitting: bool = False, grey: bool = True) -> np.ndarray:
        """X (the model's values; grey levels where :meth:`_takes_grey`, unless ``grey`` is
        False) checked at the door, as float64."""
        x = self._as_array(X)
        if not fitting and "_model" in self.__dict__ and x.shape[1] != self.model_.n_visible:
            raise InvalidValue(f"X has {x.shape[1]} features, but {type(self).__name__} is expecting "
                               f"{self.model_.n_visible} features as input (its visible units)")
        top = x[np.isfinite(x)].max(initial=0)  # the number of states, for categorical units
        space = self.family.space(int(top) + 1) if fitting else self._space()
        try:
            if grey and self._takes_grey(space):
                _check_grey(x, space)
            else:
                space.check(x)
        except BoltzkitError as e:
            raise InvalidValue(f"{e} for {type(self).__name__}") from None
        return x

    def _as_array(self, X: Any) -> np.ndarray:
        """X as a 2-D float64 array with at least one row and one column (sparse: densified)."""
        alphabet = getattr(self, "alphabet_", None)
        if isinstance(X, (list, tuple)) and X and all(isinstance(r, str) for r in X):
            if alphabet is None:
                raise InvalidValue("this model has no alphabet: give integer codes")
            try:
                X = encode(list(X), alphabet)
            except ValueError as e:  # unequal lengths
                raise InvalidValue(str(e)) from None
        if scipy.sparse.issparse(X):
            X = X.toarray()
        try:
            x = np.asarray(X)
            if x.dtype.kind == "c":
                raise InvalidValue("Complex data not supported: X must hold real values")
            x = x.astype(np.float64, copy=False)
        except TypeError as e:
            raise InvalidType(f"X must be a numeric array of shape (n_samples, n_features): {e}") from None
        except ValueError as e:
            raise InvalidValue(f"X must be a numeric array of shape (n_samples, n_features): {e}") from None
        if x.ndim != 2:
            raise InvalidValue(f"X must be 2-D (n_samples, n_features); got shape {x.shape}. Reshape "
                               "your data: X.reshape(1, -1) for one sample, X.reshape(-1, 1) for one feature")
        if x.shape[0] == 0:  # the words of scikit-learn's check_array
            raise InvalidValue(f"Found array with 0 sample(s) (shape={x.shape}) while a minimum of 1 is required.")
        if x.shape[1] == 0:
            raise InvalidValue(f"Found array with 0 feature(s) (shape={x.shape}) while a minimum of 1 is required.")
        return x

    def _from_model(self, x: torch.Tensor) -> np.ndarray:
        """Model configurations as returned to the user: codes as integers, real values in the
        data's units, others as they are."""
        return self._space().to_api(x)

    # ------------------------------------------------------------------ API
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, resume: bool = False,
            on_update=None, image_shape: tuple[int, int] | None = None) -> "EnergyModelEstimator":
        """Train the model on X, from the family's initialisation, for ``n_updates`` updates.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The model's values ({0,1}, ±1 or integer codes); grey levels in [0, 1] for {0,1} units
            trained by maximum likelihood (module docstring).
        y : array of shape (n_samples,), optional
            Labels of the rows: not used by training (unsupervised), kept with the run file's data
            sample for reports (tree strips, PCA colours), as ``train --labels`` does.
        sample_weight : array of shape (n_samples,), optional
        resume : continue the run saved in ``out`` from its last saved state
        image_shape : (height, width), optional
            The rows are images of this shape (reports draw them as images).

        Returns
        -------
        self
        """
        x = self._validated(X, fitting=True, grey=self.method in _LIKELIHOOD_METHODS)
        for name in ("log_partition_", "log_partition_error_", "log_partition_method_"):
            self.__dict__.pop(name, None)  # log Z of a previous fit
        self.__dict__.pop("_partial", None)  # partial_fit's chains and optimizer state
        if resume and self.out is None:
            raise BoltzkitError("resume needs the run file (out=...)")
        config = self._training_config()
        options = {name: getattr(self, name) for name in self.family.options}
        # a resumed run keeps its visible space (e.g. the standardisation fitted when it started)
        space = trajectory.load_model(self.out).visible if resume else None
        data = self._training_data(x, sample_weight, config, y, image_shape, options, space)
        plm = {name: getattr(self, name) for name in PLM_PARAMS if name in self._params}
        model = train_model(self.family, data, config, self.out, getattr(self, "run_info_", None),
                            resume, on_update, options=options, **plm)
        self._set_model(model)
        # where AIS starts (docs/methods.md 6.2): the independent-site model of the training rows
        self._ais_base = independent_site_model(model.visible, data.x, data.w)
        return self

    def _training_data(self, x: np.ndarray, sample_weight: Any, config: TrainingConfig,
                       y: Any = None, image_shape: tuple[int, int] | None = None,
                       options: dict[str, Any] | None = None, space: Any = None) -> TrainingData:
        """The rows (the API's values, checked) as the training entry takes them; the visible
        space is ``space`` when given (a resumed run's), else fitted to them
        (:meth:`~boltzkit.models.registry.Family.data_space`: real values standardised) unless
        ``options`` is None (``partial_fit`` of a fitted model: its space)."""
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if weights is not None and (weights.shape != (len(x),) or not np.isfinite(weights).all()
                                    or (weights < 0).any() or weights.sum() <= 0):
            raise InvalidValue(f"sample_weight must hold {len(x)} finite non-negative weights, not all "
                               f"zero; got shape {weights.shape}")
        n_states = max(int(getattr(self, "n_states_", 0) or 0), int(x.max(initial=0)) + 1)
        if space is None:
            space = self._space() if options is None else \
                self.family.data_space(x, weights, n_states, options)
        labels = None if y is None else np.asarray(y)
        if labels is not None and labels.shape != (len(x),):
            raise InvalidValue(f"y must have shape ({len(x)},) (one label per row); got {labels.shape}")
        if image_shape is not None and int(np.prod(image_shape)) != x.shape[1]:
            raise InvalidValue(f"image_shape {tuple(image_shape)} does not fit {x.shape[1]} features")
        if space.real:  # the API's values are the data's units, as a run file keeps them
            return TrainingData(x, weights, space, config, labels,
                                None if image_shape is None else tuple(image_shape))
        grey = not space.categorical and not np.isin(x, (0.0, 1.0, -1.0)).all()
        # run files keep binary rows (reports); the grey levels themselves are what is trained on
        data = TrainingData(space.to_data(np.rint(x) if grey else x), weights, space, config, labels,
                            None if image_shape is None else tuple(image_shape),
                            alphabet=getattr(self, "alphabet_", None))
        if grey:
            data.x = space.tensor(x, data.x.dtype, data.x.device)
        return data

    @available_if(lambda self: self.method in _LIKELIHOOD_METHODS)
    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None,
                    n_updates: int | None = None) -> "EnergyModelEstimator":
        """Continue training from the current parameters for ``n_updates`` more updates on X.

        Exactly: ``n_updates`` (default: one pass over X, ceil(n_samples / batch_size) updates,
        as scikit-learn's ``partial_fit`` does one pass) gradient steps of ``method`` (pcd, cd, rdm
        or exact; with plm, whose solver runs to convergence, there is no ``partial_fit``: ``hasattr``
        is False and calling it is a one-line AttributeError), with minibatches of
        ``batch_size`` rows of X in a random order, ``gibbs_steps`` Monte Carlo steps per update,
        at the constant step ``learning_rate`` with ``optimizer`` (a decaying ``lr_schedule``
        spans the ``n_updates`` of ``fit`` and is refused here), the penalties ``l1``, ``l2``
        and the centering of ``fit`` (docs/methods.md section 6).

        State carried from one ``partial_fit`` to the next: the parameters, the persistent chains
        (pcd), the optimizer's moments (adam) and the random generator. ``fit`` keeps none of the
        last three, so a ``partial_fit`` after ``fit`` continues its parameters with new chains
        and a new optimizer. On an unfitted estimator the model is first initialised from X by
        the family's builder (seed ``random_state``; as ``fit``, without bmDCA's profile start). Nothing is written to ``out`` (``fit`` writes runs).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features), as for ``fit``
        y : ignored (unsupervised)
        sample_weight : array of shape (n_samples,), optional
        n_updates : int, optional

        Returns
        -------
        self
        """
        if self.lr_schedule != "constant":
            raise InvalidValue(f"partial_fit steps at the constant learning_rate; lr_schedule "
                               f"{self.lr_schedule!r} spans the n_updates of fit (use fit)")
        fitted = "_model" in self.__dict__
        x = self._validated(X, fitting=not fitted)
        base = self._training_config()
        steps = math.ceil(len(x) / base.batch_size) if n_updates is None else integer(
            n_updates, "n_updates", 1)
        config = replace(base, n_updates=steps, n_checkpoints=1)
        options = {name: getattr(self, name) for name in self.family.options}
        data = self._training_data(x, sample_weight, config, options=None if fitted else options)
        state = self.__dict__.get("_partial", {})
        if not fitted:
            check_memory(self.family, x.shape[1], data.space.n_states, options, config)
            self._set_model(self.family.build(data.x, data.model_weights(), data.space, options, config.seed))
        trainer = Trainer(self.model_, data.x, config, data.w)
        if state:
            trainer.chains = state["chains"]
            trainer.rng.set_state(state["rng"])
            trainer.data_rng.set_state(state["data_rng"])
            trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.run()
        self.__dict__["_partial"] = {"chains": trainer.chains, "rng": trainer.rng.get_state(),
                                     "data_rng": trainer.data_rng.get_state(),
                                     "optimizer": trainer.optimizer.state_dict()}
        for name in ("log_partition_", "log_partition_error_", "log_partition_method_"):
            self.__dict__.pop(name, None)  # log Z of the parameters before
        return self

    @available_if(_has_hidden_layer)
    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """``fit(X, y, **fit_params)`` then ``transform(X)``: the hidden means <h | x> of the
        training rows, shape (n_samples, n_hidden) (families with hidden units)."""
        return self.fit(X, y, **fit_params).transform(X)

    def sample(self, n_samples: int, gibbs_steps: int = 1000, random_state: int | None = None,
               start: Any = None, beta: float = 1.0) -> np.ndarray:
        """``n_samples`` configurations after ``gibbs_steps`` Monte Carlo steps from random starts
        (or from ``start``), shape (n_samples, n_features)."""
        model = self.model_
        g = torch.Generator(device=model.device).manual_seed(0 if random_state is None else random_state)
        s = None if start is None else self._to_tensor(start, grey=False)
        return self._from_model(run_sampler(model, n_samples, gibbs_steps, g, s, beta))

    def free_energy(self, X: Any) -> np.ndarray:
        """Marginal energy F(x) of each sample (the energy for models without hidden units),
        shape (n_samples,)."""
        return self.model_.free_energy(self._to_tensor(X).to(self.model_.dtype)).cpu().numpy()

    def log_partition(self, method: str = "auto", **ais: Any) -> float:
        """log Z ("exact", "ais" or "auto"); the AIS error bar is kept in ``log_partition_error_``."""
        result: LogPartition = log_partition(self.model_, method, base=self.__dict__.get("_ais_base"), **ais)
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

    @available_if(_has_hidden_layer)
    def transform(self, X: Any) -> np.ndarray:
        """Hidden conditional means <h|x>, shape (n_samples, n_hidden) (families with hidden units)."""
        if not isinstance(self.model_, HiddenLayer):
            raise BoltzkitError(f"transform: a {self.model_.kind} model has no hidden units "
                                "(no HiddenLayer capability)")
        return self.model_.transform(self._to_tensor(X).to(self.model_.dtype)).cpu().numpy()


def _class_offers(cls: type | None, capability: type) -> bool:
    """Whether the class ``cls`` has every member of the ``capability`` protocol (the question
    ``isinstance(model, capability)`` asks of a model, asked before there is one)."""
    members = set(getattr(capability, "__annotations__", {})) | {
        name for name, value in vars(capability).items() if callable(value) and not name.startswith("_")}
    return cls is not None and all(hasattr(cls, name) for name in members)


def _check_grey(x: np.ndarray, space) -> None:
    """One-line error unless every value of ``x`` lies in [0, 1] ({0,1} units and grey levels)."""
    if not np.isfinite(x).all():
        raise InvalidValue("X contains NaN or infinite values")
    if x.min() < 0.0 or x.max() > 1.0:
        raise InvalidValue(f"X must hold values in [0, 1] ({space.values_text}, or grey levels "
                           f"between them); got values from {x.min():g} to {x.max():g}")


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


def load(path: str | os.PathLike, checkpoint: int | None = None, exact: bool = False) -> EnergyModelEstimator:
    """Load a saved run as a fitted estimator of its family.

    Parameters
    ----------
    path : the run file (or another tool's model file, :mod:`boltzkit.io.foreign`)
    checkpoint : int, optional
        The update to load: the last saved one by default. Checkpoints are saved at chosen updates
        only (log-spaced by default), so a ``checkpoint`` that was not saved gives the nearest saved
        update below it, with a warning naming both; none at or below it is a one-line
        :class:`~boltzkit.errors.DataError` listing the saved updates.
    exact : bool
        Refuse (the same one-line error) a ``checkpoint`` that was not saved, instead of taking
        the nearest one below.

    The training hyper-parameters come from the run file; ``checkpoint_`` is the update loaded,
    ``trajectory_updates_`` lists the saved checkpoints; ``alphabet_`` holds the letters of an
    alignment run (codes in and out).
    """
    updates = trajectory.checkpoint_updates(path)
    update = _saved_checkpoint(path, updates, checkpoint, exact)
    config = trajectory.read_config(path)
    model = trajectory.load_model(path, update)
    entry = family(model.kind, str(path))
    cls = estimator_class(entry)
    est = cls(**_stored_params(config, entry, model, cls._params), out=path)
    est.random_state = config.get("training", {}).get("seed")
    est.alphabet_ = config.get("alphabet")
    est._set_model(model.to(torch.device(est.device), TORCH_DTYPES[est.dtype]))
    est.checkpoint_ = updates[-1] if update is None and updates else update
    est.trajectory_updates_ = updates
    est.run_info_ = config
    return est


def _saved_checkpoint(path, updates: list[int], checkpoint: int | None, exact: bool) -> int | None:
    """The saved update to load for ``checkpoint`` (None: the last)."""
    if checkpoint is None or exact:
        return checkpoint  # trajectory.read_params refuses an update that was not saved
    checkpoint = integer(checkpoint, "checkpoint", 0)
    below = [u for u in updates if u <= checkpoint]
    saved = ", ".join(map(str, updates[:20])) + (", ..." if len(updates) > 20 else "")
    if not below:
        raise DataError(path, f"no checkpoint at or below update {checkpoint} (saved: {saved or 'none'})")
    if below[-1] != checkpoint:
        warnings.warn(f"{path}: no checkpoint at update {checkpoint}; loaded update {below[-1]}, the "
                      f"nearest saved below it (saved: {saved}; exact=True refuses instead)",
                      UserWarning, stacklevel=3)
    return below[-1]


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
