"""Run many Markov chains of any energy model in parallel.

The chains are data (:class:`~boltzkit.models.base.Chains`), the model provides one step
(`sample_step`: block Gibbs for RBMs, a Metropolis/Gibbs sweep for pairwise models).
"""

from __future__ import annotations

import torch

from boltzkit.models.base import Chains, EnergyModel
from boltzkit.models.capabilities import MultiStepSampler


@torch.no_grad()
def run_chains(model: EnergyModel, chains: Chains, n_steps: int,
               generator: torch.Generator | None = None, beta: float = 1.0) -> Chains:
    """Advance ``chains`` by ``n_steps`` steps of the model's sampler.

    Models with the :class:`~boltzkit.models.capabilities.MultiStepSampler` capability (several
    steps at once, e.g. with the random numbers of all steps drawn together) run through it.
    """
    if isinstance(model, MultiStepSampler):
        return model.sample_steps(chains, n_steps, generator, beta)
    for _ in range(n_steps):
        chains = model.sample_step(chains, generator, beta)
    return chains


@torch.no_grad()
def sample(model: EnergyModel, n_samples: int, n_steps: int,
           generator: torch.Generator | None = None, start: torch.Tensor | None = None,
           beta: float = 1.0) -> torch.Tensor:
    """Draw ``n_samples`` visible configurations after ``n_steps`` steps of independent chains.

    Chains start uniformly at random, or at ``start`` (shape (n_samples, n_visible)).
    Returns a tensor of shape (n_samples, n_visible).
    """
    chains = model.init_chains(n_samples, generator) if start is None else model.chains_from(start)
    return run_chains(model, chains, n_steps, generator, beta).visible
