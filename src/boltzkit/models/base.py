"""The one seam of the toolkit: the energy-model interface.

Samplers, trainers, evaluation and interpretation are written against :class:`EnergyModel`,
never against a concrete class. A model is a Gibbs-Boltzmann distribution p(x) = exp(-E(x)) / Z
over visible configurations x; for models with hidden units E is the marginal free energy.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor


class Chains(NamedTuple):
    """State of many Markov chains run in parallel.

    Attributes
    ----------
    visible : Tensor of shape (n_chains, n_visible)
        Current visible configurations.
    hidden : Tensor of shape (n_chains, n_hidden) or None
        Current hidden configurations (models with hidden units), else None.
    weights : Tensor of shape (n_chains,) or None
        Probability weights of the chains (summing to 1) when they are not equally weighted:
        exact training puts every configuration in ``visible`` with its probability here.
    """

    visible: Tensor
    hidden: Tensor | None = None
    weights: Tensor | None = None


@runtime_checkable
class EnergyModel(Protocol):
    """What every model family provides.

    ``kind`` names the family (stored in files); ``parameters()`` returns the learnable tensors
    by their field names (``weights``, ``visible_bias``, ...).

    Optional, used when present: ``sample_steps(chains, n_steps, generator, beta)`` (several
    steps at once, by :func:`boltzkit.sampling.gibbs.run_chains`) and
    ``annealing_step(v, beta, beta_next, generator)`` (by AIS); see
    :class:`boltzkit.models.rbm.RBM`.
    """

    kind: str

    def parameters(self) -> dict[str, Tensor]: ...

    def free_energy(self, x: Tensor) -> Tensor:
        """Energy of visible configurations, shape (batch,) for x of shape (batch, n_visible)."""
        ...

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """Uniformly random chains."""
        ...

    def chains_from(self, x: Tensor) -> Chains:
        """Chains started at the given visible configurations."""
        ...

    def enumerate_visible(self) -> Tensor:
        """All visible configurations, shape (n_states, n_visible) (small models only)."""
        ...

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One Monte Carlo step (block Gibbs for RBMs, a sweep for pairwise models)."""
        ...

    def log_likelihood_gradient(self, data: Tensor, chains: Chains, data_weights: Tensor | None = None,
                                centered: bool = True) -> dict[str, Tensor]:
        """Estimate of d<log p>_data / d theta (positive minus negative phase), keyed like parameters()."""
        ...

    def config(self) -> dict[str, Any]:
        """Everything but the tensors needed to rebuild the model (unit types, sizes...)."""
        ...
