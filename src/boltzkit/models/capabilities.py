"""What a model family can do beyond the :class:`~boltzkit.models.base.EnergyModel` interface.

Each capability is a small ``typing.Protocol``: a documented set of methods with shapes. A family
implements the ones it can; the layers above ``models/`` ask ``isinstance(model, Capability)``
(or call :func:`require`, which fails in one line naming the family and what it lacks), never
which class or kind a model is. See docs/architecture.md for the map of who uses what.

==========================  =======================================================  ==========================
capability                  methods                                                  used by
==========================  =======================================================  ==========================
:class:`HiddenLayer`        ``n_hidden``, ``transform``                              estimators, report, tree
:class:`LayeredEnergy`      ``weights``/``visible_bias``/``hidden_bias``, ``as_bernoulli``  TAP, couplings
:class:`LogPartitionExact`  ``enumeration_log2_size``, ``log_partition_exact``       log Z (exact)
:class:`ExactEnumeration`   the two above and ``enumerate_visible``                  exact training (discrete)
:class:`ExactModelAverage`  ``exact_chains``                                         exact training (any)
:class:`AnnealingPath`      ``annealed``, ``annealing_base_log_partition``           AIS
:class:`FastAnnealing`      ``annealing_step``                                       AIS (fast path)
:class:`MultiStepSampler`   ``sample_steps``                                         chains
:class:`SamplerVariants`    ``samplers``, ``sampler_name``, ``with_sampler_options`` ``sample --sampler``
:class:`CenteredGradient`    ``centering``                                             trainer
:class:`Constrained`        ``after_update``                                         trainer
:class:`Penalised`          ``penalized_parameters``                                 trainer (l1, l2)
:class:`MomentMatching`     ``data_statistics``, ``chain_statistics``                trainer (full batch), bmDCA
:class:`ProfileStart`       ``target_statistics``, ``from_profile``,                 bmDCA
                            ``sample_profile``
:class:`PseudoLikelihood`   ``pseudo_likelihood_problem``                            plmDCA (L-BFGS)
:class:`SingleFlipEnergies` ``flip_energy_differences``                              generic pseudo-likelihood
:class:`PairwiseParameters` ``fields``, ``couplings``, ``zero_sum_gauge``            couplings, contacts
:class:`ZeroSumGauge`       ``zero_sum_gauge``                                       Potts couplings (CLT)
:class:`ContinuousEnergy`   ``free_energy_grad``                                     Langevin samplers
:class:`LowRankStart`       ``from_spin_start``, ``to_spins``, ``from_spins``        low-rank pre-training
==========================  =======================================================  ==========================
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.base import Chains

__all__ = ["HiddenLayer", "LayeredEnergy", "BernoulliForm", "LogPartitionExact", "ExactEnumeration",
           "ExactModelAverage", "ContinuousEnergy", "AnnealingPath",
           "FastAnnealing", "MultiStepSampler", "SamplerVariants", "CenteredGradient", "Constrained", "Penalised",
           "MomentMatching", "ProfileStart", "PackedGradient", "PseudoLikelihood", "PseudoLikelihoodProblem",
           "SingleFlipEnergies", "PairwiseParameters", "ZeroSumGauge", "LowRankStart", "require"]


@runtime_checkable
class HiddenLayer(Protocol):
    """Models with a layer of hidden units."""

    n_hidden: int

    def transform(self, v: Tensor) -> Tensor:
        """Conditional means of the hidden units <h | v>, shape (batch, n_hidden)."""


class BernoulliForm(NamedTuple):
    """A layered energy written with {0,1} hidden units and {0,1} (or one-hot) visible units.

    ``weights`` (N, H) or (N, q, H), ``visible_bias`` (N,) or (N, q), ``hidden_bias`` (H,);
    ``shift``: log Z of the model = log Z of this form - shift (0 when nothing was converted).
    """

    weights: Tensor
    visible_bias: Tensor
    hidden_bias: Tensor
    shift: float


@runtime_checkable
class LayeredEnergy(Protocol):
    """An RBM's layered energy, with a weight matrix between visible and binary hidden units.

    E(v, h) = -x(v) W h - b . x(v) - c . h, where x(v) are the visible values (the one-hot
    vectors of categorical units): RBMs of every visible kind.

    ``weights`` has shape (N, H) (binary visible units) or (N, q, H) (categorical), ``visible_bias``
    ``weights.shape[:-1]``, ``hidden_bias`` (H,). ``hidden_units`` is the hidden
    :class:`~boltzkit.models.units.UnitType`.
    """

    weights: Tensor
    visible_bias: Tensor
    hidden_bias: Tensor
    hidden_units: Any

    def as_bernoulli(self) -> BernoulliForm:
        """The same distribution with {0,1} units (the form TAP and the couplings are written in)."""


@runtime_checkable
class LogPartitionExact(Protocol):
    """An exact log Z by a finite sum (small models; real visible units integrated in closed form)."""

    def enumeration_log2_size(self) -> float:
        """log2 of the number of terms of the cheapest exact sum for log Z."""

    def log_partition_exact(self) -> float:
        """log Z by enumeration (of the cheaper layer for models with hidden units; a Gaussian RBM
        sums its hidden states and integrates its visible units in closed form)."""


@runtime_checkable
class ExactEnumeration(LogPartitionExact, Protocol):
    """Exact sums over configurations of discrete visible units (small models)."""

    def enumerate_visible(self) -> Tensor:
        """Every visible configuration, shape (n_configurations, n_visible)."""


@runtime_checkable
class ExactModelAverage(Protocol):
    """The model average of the log-likelihood gradient computed exactly (small models)."""

    def exact_chains(self) -> Chains:
        """Weighted chains (``weights`` summing to 1) whose use as the negative phase of the
        model's ``log_likelihood_gradient`` gives the exact model average: for discrete visible
        units every configuration with its probability; for a Gaussian RBM every hidden state with
        p(h), ``visible`` holding E[v | h] (its gradient integrates v given h in closed form)."""


@runtime_checkable
class ContinuousEnergy(Protocol):
    """A free energy differentiable in real visible values, with its gradient in closed form."""

    def free_energy_grad(self, x: Tensor) -> Tensor:
        """dF/dx at visible values ``x`` (shape (batch, n_visible)), same shape, F the model's
        ``free_energy``."""


@runtime_checkable
class AnnealingPath(Protocol):
    """A path of models from a tractable base (beta = 0) to the model (beta = 1), for AIS."""

    def annealed(self, beta: float, base: Any = None) -> Any:
        """The model at position ``beta`` of the path; ``base``: an independent-site model of the
        same visible space (:func:`boltzkit.models.baseline.independent_site_model`, fitted to
        the data) to start from instead of the model's own fields (None)."""

    def annealing_base_log_partition(self, base: Any = None) -> float:
        """Exact log Z of the model at beta = 0 (on the path from ``base``)."""


@runtime_checkable
class FastAnnealing(Protocol):
    """One AIS transition and weight increment computed together (faster than two models)."""

    def annealing_step(self, v: Tensor, beta: float, beta_next: float,
                       generator: torch.Generator | None = None, base: Any = None) -> tuple[Tensor, Tensor]:
        """(log-weight increment F_beta(v) - F_beta_next(v) of shape (n_chains,), then v after one
        Gibbs step at ``beta_next``) for chains ``v`` of shape (n_chains, n_visible)."""


@runtime_checkable
class MultiStepSampler(Protocol):
    """Several Monte Carlo steps at once.

    ``shared_random_numbers``: True when the steps of one call draw their random numbers together
    (then n steps in one call and in several calls give different, equally valid, draws).
    """

    shared_random_numbers: bool

    def sample_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None = None,
                     beta: float = 1.0) -> Chains:
        """``n_steps`` Monte Carlo steps (:meth:`sample_step` ``n_steps`` times, faster)."""


@runtime_checkable
class SamplerVariants(Protocol):
    """A Monte Carlo step with variants and settings of its own (e.g. block Gibbs or Gibbs-Langevin).

    ``samplers``: the names of the variants; the first is the model's plain step. The settings are
    options of the model's family (:attr:`~boltzkit.models.registry.Family.options`): ``sampler``
    (one of ``samplers``) and the variant's own (e.g. ``langevin_steps``).
    """

    samplers: tuple[str, ...]
    sampler_name: str  # the variant sample_step runs now

    def with_sampler_options(self, options: dict[str, Any]) -> Any:
        """The same model (tensors shared) whose step uses ``options`` (family option names, any
        subset), each checked in one line naming its flag."""


@runtime_checkable
class CenteredGradient(Protocol):
    """A centered parametrisation (Montavon & Mueller 2012; docs/methods.md section 6.1)."""

    def centering(self, data: Tensor, data_weights: Tensor | None = None) -> Any:
        """Offsets on ``data``: an object with ``to_centered(grads)``, ``restore(params, previous)``
        and ``data_hidden`` (<h|v> of the rows, reusable by the gradient)."""


@runtime_checkable
class Constrained(Protocol):
    """Parameters with a constraint (a gauge) re-imposed in place after every update."""

    def after_update(self) -> None:
        """Re-impose the constraint on the parameters, in place."""


@runtime_checkable
class Penalised(Protocol):
    """Which parameters the l1 / l2 penalties of training apply to (default: ``weights``)."""

    penalized_parameters: tuple[str, ...]


@runtime_checkable
class MomentMatching(Protocol):
    """A log-likelihood gradient that needs only sufficient statistics of the data.

    Full-batch training computes them once (pairwise models: one- and two-site frequencies)."""

    chain_statistics: Any

    def data_statistics(self, data: Tensor, data_weights: Tensor | None = None) -> Any:
        """Statistics of ``data`` (shape (n, n_visible)), passed in place of the data to
        ``log_likelihood_gradient``. ``chain_statistics`` holds those of the chains of the last
        gradient."""


@runtime_checkable
class ProfileStart(Protocol):
    """Boltzmann learning as bmDCA runs it (docs/methods.md section 9.4).

    Pseudocounted target statistics, a start at the independent-site (profile) model, persistent
    chains drawn from it."""

    def target_statistics(self, samples: np.ndarray, weights: np.ndarray | None,
                          pseudocount: float) -> Any:
        """Pseudocounted statistics of data values ``samples`` (shape (n, n_visible))."""

    def from_profile(self, target: Any) -> Any:
        """The independent-site model that reproduces ``target``'s one-site statistics."""

    def sample_profile(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """Exact samples of the model's fields alone (its independent-site part)."""


class PseudoLikelihoodProblem(NamedTuple):
    """A pairwise pseudo-likelihood objective over (fields, raw couplings).

    ``fields``: initial fields; ``couplings_shape``: the shape of the raw coupling matrix, made
    symmetric and masked (``mask``) before use; ``objective(fields, couplings)``: the negative
    weighted mean log pseudo-likelihood; ``build(fields, couplings)``: the fitted model.
    """

    fields: Tensor
    couplings_shape: tuple[int, int]
    mask: Tensor
    objective: Callable[[Tensor, Tensor], Tensor]
    build: Callable[[Tensor, Tensor], Any]


@runtime_checkable
class PackedGradient(Protocol):
    """A pseudo-likelihood objective (:attr:`PseudoLikelihoodProblem.objective`) that writes its
    gradient straight into the solver's packed vector (the fields, then J_ij for i < j), without a
    gradient of the whole (L q)^2 coupling matrix (docs/methods.md section 9.3)."""

    def evaluate_packed(self, fields: Tensor, couplings_flat: Tensor, out: Tensor) -> float:
        """The objective at (fields, couplings), its gradient written into ``out``."""


@runtime_checkable
class PseudoLikelihood(Protocol):
    """Symmetric pairwise pseudo-likelihood maximisation (plmDCA; docs/methods.md section 9.3)."""

    def pseudo_likelihood_problem(self, data: Tensor, weights: Tensor) -> PseudoLikelihoodProblem:
        """The objective on ``data`` (model values, duplicates merged) with normalised ``weights``."""


@runtime_checkable
class SingleFlipEnergies(Protocol):
    """±1 models that give every single-spin-flip energy change at once."""

    def flip_energy_differences(self, s: Tensor) -> Tensor:
        """E(s with s_i flipped) - E(s), shape (M, N) for s of shape (M, N)."""


@runtime_checkable
class PairwiseParameters(Protocol):
    """Models whose parameters are the fields and pair couplings themselves."""

    fields: Tensor
    couplings: Tensor

    def zero_sum_gauge(self) -> Any:
        """The same distribution with fields and couplings in the zero-sum gauge."""


@runtime_checkable
class ZeroSumGauge(Protocol):
    """Categorical models that can move to the zero-sum gauge (docs/methods.md section 1.5)."""

    def zero_sum_gauge(self) -> Any:
        """A copy with the same p(v) whose parameters sum to zero over the states of every site
        (for a Potts RBM: over the states of every weight W_i.a and visible bias b_i.)."""


@runtime_checkable
class LowRankStart(Protocol):
    """Binary RBMs that can start from parameters written with ±1 visible and hidden units (the
    RBM converted from a restricted Coulomb machine, docs/methods.md 6.5)."""

    n_hidden: int

    def from_spin_start(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                        weight_std: float = 1e-4, generator: torch.Generator | None = None) -> Any:
        """A model of the same family, n_visible and n_hidden whose first K hidden units are the ±1
        RBM E(σ, τ) = -σ W τ - η.σ - θ.τ given by ``weights`` W (N, K), ``visible_bias`` η (N,) and
        ``hidden_bias`` θ (K,), K <= n_hidden, written in the model's own units; the other hidden
        units get N(0, ``weight_std``²) weights and zero bias."""

    def to_spins(self, v: Tensor) -> Tensor:
        """The visible values ``v`` (batch, N) as ±1 spins."""

    def from_spins(self, s: Tensor) -> Tensor:
        """±1 spins ``s`` (batch, N) as the model's visible values."""


def require(model: Any, capability: type, purpose: str) -> None:
    """Raise a one-line :class:`~boltzkit.errors.BoltzkitError` unless ``model`` has ``capability``.

    ``purpose`` says what needed it, e.g. "TAP free energies".
    """
    if not isinstance(model, capability):
        kind = getattr(model, "kind", type(model).__name__)
        what = (capability.__doc__ or capability.__name__).strip().splitlines()[0].rstrip(".")
        raise BoltzkitError(f"{purpose}: the {kind} family has no {capability.__name__} capability "
                            f"({what[:1].lower() + what[1:]})")
