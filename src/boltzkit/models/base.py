"""The one seam of the toolkit: the energy-model interface.

Samplers, trainers, evaluation, interpretation and the report are written against
:class:`EnergyModel` and the optional capabilities of :mod:`boltzkit.models.capabilities`, never
against a concrete class or a kind name. A model is a Gibbs-Boltzmann distribution
p(x) = exp(-E(x)) / Z over visible configurations x; for models with hidden units E is the
marginal free energy. Families are named and built through :mod:`boltzkit.models.registry`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor

from boltzkit.models.units import UNIT_TYPES


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

    ``kind`` is the name the family is registered under (stored in run files); ``visible`` says
    what values the visible units take (:class:`~boltzkit.models.visible.VisibleSpace`);
    ``parameters()`` returns the learnable tensors by their field names (``weights``,
    ``visible_bias``, ...). Everything else a layer may need is a capability
    (:mod:`boltzkit.models.capabilities`), asked for with ``isinstance``.
    """

    kind: str
    visible: Any
    n_visible: int
    device: torch.device
    dtype: torch.dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Any:
        """A copy on ``device`` in ``dtype`` (None: unchanged)."""

    def clone(self) -> Any:
        """A copy with its own tensors."""

    def parameters(self) -> dict[str, Tensor]: ...

    def free_energy(self, x: Tensor) -> Tensor:
        """Energy of visible configurations, shape (batch,) for x of shape (batch, n_visible)."""

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """Uniformly random chains."""

    def chains_from(self, x: Tensor) -> Chains:
        """Chains started at the given visible configurations."""

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One Monte Carlo step (block Gibbs for RBMs, a sweep for pairwise models)."""

    def log_likelihood_gradient(self, data: Tensor, chains: Chains, data_weights: Tensor | None = None,
                                centered: bool = True) -> dict[str, Tensor]:
        """Estimate of d<log p>_data / d theta (positive minus negative phase), keyed like parameters()."""

    def config(self) -> dict[str, Any]:
        """Everything but the tensors needed to rebuild the model (``kind``, sizes, unit types...;
        the registry's loader reads it back). Run files also keep a legacy ``family`` entry, the
        builder group of release 0.1 (``rbm``, ``pairwise``, ...), unused since."""


class RandomChains:
    """``init_chains`` and ``chains_from`` of the :class:`EnergyModel` interface, for a model with
    ``visible``, ``n_visible``, ``device`` and ``dtype`` (every built-in family)."""

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """``n`` uniformly random visible configurations (categorical units: uniform codes),
        shape (n, n_visible), in the model's dtype."""
        shape = (n, self.n_visible)
        if self.visible.categorical:
            codes = torch.randint(0, self.visible.n_states, shape, generator=generator, device=self.device)
            return Chains(codes.to(self.dtype))
        return Chains(UNIT_TYPES[self.visible.name].random(shape, generator, self.device, self.dtype))

    def chains_from(self, x: Tensor) -> Chains:
        """Chains started at the configurations ``x`` (a copy in the model's dtype and device)."""
        return Chains(x.to(device=self.device, dtype=self.dtype).clone())
