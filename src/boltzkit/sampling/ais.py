"""Annealed importance sampling (AIS) estimate of log Z (Neal 2001; Salakhutdinov & Murray 2008).

Any model with the :class:`~boltzkit.models.capabilities.AnnealingPath` capability can be
annealed (``annealed(beta)``, the model at a point of the path, and
``annealing_base_log_partition()``, log Z of ``annealed(0)``): the RBMs (binary, Potts,
Gaussian), the pairwise models and the hybrid (along the temperature path of their couplings).
A model with :class:`~boltzkit.models.capabilities.FastAnnealing` gives the weight increment and
the Gibbs step at once (``annealing_step``), which is then used.

Path (docs/methods.md section 6.2): from the independent-site model theta_0 = (b, W=0, c=0), whose log Z is
known in closed form, to the target along theta_beta = (b, beta W, beta c). Hidden units are
summed out analytically: the importance weights use visible free energies,
log w += F_{beta_k}(v) - F_{beta_{k+1}}(v), and one block-Gibbs step at beta_{k+1} moves the chains.
The error bar comes from independent runs: the chains are split into ``n_runs`` groups,
each giving its own estimate; the standard error of their mean is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from boltzkit import distributed
from boltzkit.models.base import Chains
from boltzkit.models.capabilities import AnnealingPath, FastAnnealing


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate: ``log_z`` pooled over all chains, ``error`` the standard error across runs."""

    log_z: float
    error: float
    run_estimates: tuple[float, ...]
    n_chains: int
    n_steps: int


@torch.no_grad()
def ais_log_partition(model: AnnealingPath, n_chains: int = 1000, n_steps: int = 5000, n_runs: int = 10,
                      generator: torch.Generator | None = None, progress=None, base=None) -> AISResult:
    """AIS estimate of log Z.

    Parameters
    ----------
    model : a model with the AnnealingPath capability
    n_chains : int
        Total number of annealing chains (split into ``n_runs`` independent groups).
    n_steps : int
        Number of intermediate temperatures (uniform grid in beta).
    n_runs : int
        Number of groups used for the error bar.
    progress : callable, optional
        Called as ``progress(step)`` after each temperature (for progress bars).
    base : model, optional
        The independent-site model fitted to the data
        (:func:`boltzkit.models.baseline.independent_site_model`) the path starts from; None
        starts from the model's own visible fields. A base close to the data's one-site
        statistics makes the weights far less spread on trained models (docs/methods.md 6.2).

    Inside a ``torch.distributed`` process group the chains are split over the ranks (each draws
    from a generator seeded with the given generator's initial seed and its rank) and their
    weights gathered: every rank returns the estimate of all ``n_chains`` chains.
    """
    n_runs = max(1, min(n_runs, n_chains))
    ranks = distributed.current()
    local = n_chains
    if ranks.parallel:  # this rank's chains, from its own stream (docs/methods.md 6.7)
        local = n_chains // ranks.world
        distributed.share(n_chains, ranks, "--ais-chains")
        seed = 0 if generator is None else generator.initial_seed()
        generator = torch.Generator(device=model.device).manual_seed(distributed.rank_seed(seed, ranks))
    log_w, v, log_z0 = anneal(model, local, n_steps, generator, base, progress)
    log_w = distributed.gather(log_w, ranks, "gathering the AIS weights")  # every rank's chains
    return _estimate(log_w, log_z0, n_runs, n_steps, v.dtype)


def anneal(model: AnnealingPath, n_chains: int, n_steps: int, generator: torch.Generator | None = None,
           base=None, progress=None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``n_chains`` chains annealed from ``base`` (or the model's own fields) to ``model`` through
    ``n_steps`` temperatures: (their log-weights, float64 of shape (n_chains,), their final visible
    states, log Z of the start). log Z of ``model`` is log_z0 + log mean exp(log-weights); the
    chains, weighted, are distributed as the model (the start of trajectory AIS, 6.3)."""
    log_z0 = model.annealing_base_log_partition(base)
    current = model.annealed(0.0, base)
    # With W = 0 and c = 0, one Gibbs step from any start draws v exactly from the base model.
    v = current.sample_step(current.init_chains(n_chains, generator), generator).visible
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=model.device)
    betas = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64).tolist()
    # Models may provide the whole transition (weight increment and Gibbs step) in one call that
    # shares the products v W (RBM.annealing_step); otherwise two annealed models per temperature.
    fast = isinstance(model, FastAnnealing)
    for k in range(1, n_steps + 1):
        if fast:
            increment, v = model.annealing_step(v, betas[k - 1], betas[k], generator, base)
        else:
            nxt = model.annealed(betas[k], base)
            increment = current.free_energy(v) - nxt.free_energy(v)
            v = nxt.sample_step(Chains(v), generator).visible
            current = nxt
        log_w += increment.double()
        if progress is not None:
            progress(k)
    return log_w, v, log_z0


def _estimate(log_w: torch.Tensor, log_z0: float, n_runs: int, n_steps: int, dtype: torch.dtype) -> AISResult:
    """log Z from the chains' log-weights: the log of their mean, with its standard error.

    The error is the larger of two estimates of the same quantity: the delta method over all
    chains, sd(w) / (sqrt(n) mean(w)), and the spread of the ``n_runs`` group estimates over
    sqrt(n_runs) (docs/methods.md section 6.2), and at least the rounding of log Z in ``dtype``.
    With one chain there is no statistical error (nan).
    """
    n = log_w.shape[0]
    groups = log_w[: n - n % n_runs].reshape(n_runs, -1)  # equal groups, remainder dropped
    runs = torch.logsumexp(groups, 1) - math.log(groups.shape[1]) + log_z0
    pooled = float(torch.logsumexp(log_w, 0) - math.log(n) + log_z0)
    w = torch.exp(log_w - log_w.max())
    delta = float(w.std(unbiased=True) / (w.mean() * math.sqrt(n))) if n > 1 else float("nan")
    spread = float(runs.std(unbiased=True) / math.sqrt(n_runs)) if n_runs > 1 else float("nan")
    error = max(delta, spread) if n_runs > 1 else delta
    return AISResult(pooled, max(error, _rounding(pooled, dtype)), tuple(float(r) for r in runs), n, n_steps)


def _rounding(log_z: float, dtype: torch.dtype) -> float:
    """The resolution of log Z in the model's dtype: its free energies (hence the increments and
    an exact log Z to compare with) are rounded at a few units in the last place of their size,
    which a float32 model shows as a bias of about 1e-6 when the statistical error is smaller."""
    return 8.0 * torch.finfo(dtype).eps * max(1.0, abs(log_z))
