"""Run many Markov chains of any energy model in parallel.

The chains are data (:class:`~boltzkit.models.base.Chains`), the model provides one step
(`sample_step`: block Gibbs for RBMs, a Metropolis/Gibbs sweep for pairwise models).
"""

from __future__ import annotations

import torch

from boltzkit.models.base import Chains, EnergyModel


@torch.no_grad()
def run_chains(model: EnergyModel, chains: Chains, n_steps: int,
               generator: torch.Generator | None = None, beta: float = 1.0) -> Chains:
    """Advance ``chains`` by ``n_steps`` steps of the model's sampler.

    Models that provide ``sample_steps(chains, n_steps, generator, beta)`` (several steps at
    once, e.g. with the random numbers of all steps drawn together) run through it.
    """
    steps = getattr(model, "sample_steps", None)
    if steps is not None:
        return steps(chains, n_steps, generator, beta)
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
