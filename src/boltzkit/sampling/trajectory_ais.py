"""Trajectory annealed importance sampling: log Z followed along a sequence of models
(docs/methods.md 6.3).

A population of chains is first annealed by temperature AIS from the independent-site model
``base`` to the first model (:func:`boltzkit.sampling.ais.anneal`). Then, for every move of the
parameters theta_t -> theta_t+1 (a training update, or the next saved checkpoint), each chain
takes one step of the sampler of theta_t (which leaves p_t invariant) and its log-weight gains

    F_t(v) - F_t+1(v),

so that the weighted chains follow p_t+1 and log Z_t+1 = log Z_start + log mean exp(log w). The
path from the base to the last model is one annealing path (temperatures, then the trajectory):
the estimate is an ordinary AIS estimate, with resampling. When the normalised effective sample
size of the weights, (sum w)^2 / (n sum w^2), falls below ``min_ess`` (0.3), the chains are
resampled systematically in proportion to their weights, log Z_start takes the current estimate
and the weights restart at 0 (sequential Monte Carlo; the estimate of Z stays unbiased).

The chains are split into ``groups`` independent populations (each with its own resampling),
whose estimates of Z give the error bar; in a ``torch.distributed`` group each rank holds its own
populations and :meth:`TrajectoryAIS.estimate` gathers their estimates.

:func:`ptt_log_partition` is the offline estimate over saved checkpoints with equilibrium chains
of parallel trajectory tempering: the ratios Z_k+1 / Z_k of neighbouring replicas by Bennett's
acceptance ratio from both replicas' chains, chained from the base, whose log Z is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from boltzkit import distributed
from boltzkit.checks import integer, number
from boltzkit.models.base import Chains
from boltzkit.sampling.ais import anneal
from boltzkit.sampling.gibbs import run_chains

__all__ = ["TrajectoryAIS", "LogZEstimate", "ptt_log_partition", "START_STEPS", "MIN_ESS"]

#: Temperatures of the temperature-AIS start (from the base to the first model).
START_STEPS = 1000
#: Normalised effective sample size below which the chains are resampled (docs/methods.md 6.3).
MIN_ESS = 0.3
#: Independent populations of a rank's chains (fewer when there are fewer than 20 chains per group).
GROUPS = 10


@dataclass(frozen=True)
class LogZEstimate:
    """log Z with its standard error (across independent populations; nan with one) and the
    method that gave it."""

    log_z: float
    error: float
    method: str


def _pooled(log_z: Tensor, sizes: Tensor) -> tuple[float, float]:
    """log of the size-weighted mean of the groups' Z, and its standard error in log units (the
    spread of the groups' Z over sqrt(groups), relative to their mean: the delta method)."""
    log_z, share = log_z.double(), sizes.double() / sizes.sum()
    pooled = float(torch.logsumexp(log_z + share.log(), 0))
    if len(log_z) < 2:
        return pooled, float("nan")
    z = torch.exp(log_z - pooled)  # each group's Z relative to the pooled one
    return pooled, float(z.std(unbiased=True) / math.sqrt(len(z)))


class TrajectoryAIS:
    """A population of weighted chains whose weights follow log Z along a sequence of models.

    Start it with :meth:`start` (temperature AIS from ``base`` to the first model); then, around
    each change of the parameters, call :meth:`before` with the model as it is (one step of its
    sampler, its free energies) and :meth:`after` with the model changed (the weight increments,
    the resampling). :meth:`estimate` gives log Z of the last model.

    Attributes
    ----------
    chains : Tensor (n, n_visible), the visible states of this rank's chains
    log_w : Tensor (n,) float64, their log-weights since the last resampling of their group
    log_z0 : Tensor (groups,) float64, each group's log Z at its last resampling
    bounds : list of (start, stop), the rows of each group
    generator : the generator of its steps and resamplings (its state is saved with the run)
    resamplings : int, how many times a group was resampled
    """

    def __init__(self, chains: Tensor, log_w: Tensor, log_z0: Tensor, generator: torch.Generator,
                 min_ess: float = MIN_ESS):
        self.chains, self.log_w, self.log_z0 = chains, log_w.double(), log_z0.double()
        self.generator = generator
        self.min_ess = number(min_ess, "min_ess", 0.0, 1.0, low_open=True)
        self.bounds = _groups(len(chains), len(log_z0))
        self.resamplings = 0
        self._old_energy: Tensor | None = None

    @classmethod
    @torch.no_grad()
    def start(cls, model: Any, n_chains: int, generator: torch.Generator, base: Any = None,
              n_steps: int = START_STEPS, min_ess: float = MIN_ESS) -> "TrajectoryAIS":
        """``n_chains`` chains annealed from ``base`` to ``model`` (AnnealingPath) in ``n_steps``
        temperatures, their weights kept: the population at the first model."""
        integer(n_chains, "--track-log-z", 2)
        log_w, v, log_z0 = anneal(model, n_chains, n_steps, generator, base)
        groups = max(1, min(GROUPS, n_chains // 20))
        return cls(v, log_w, torch.full((groups,), log_z0, dtype=torch.float64, device=log_w.device),
                   generator, min_ess)

    @torch.no_grad()
    def before(self, model: Any) -> None:
        """One step of ``model``'s sampler on the chains, and their free energies under it."""
        self.chains = run_chains(model, Chains(self.chains), 1, self.generator).visible
        self._old_energy = model.free_energy(self.chains).double()

    @torch.no_grad()
    def after(self, model: Any) -> None:
        """The weights moved to ``model`` (the parameters after the change), then the groups
        whose effective sample size fell below ``min_ess`` resampled."""
        if self._old_energy is None:
            raise RuntimeError("TrajectoryAIS.after without before")
        self.log_w += self._old_energy - model.free_energy(self.chains).double()
        self._old_energy = None
        for g, (lo, hi) in enumerate(self.bounds):
            w = torch.softmax(self.log_w[lo:hi], 0)
            if float(1.0 / (w.square().sum() * (hi - lo))) < self.min_ess:
                self._resample(g, lo, hi, w)

    def _resample(self, g: int, lo: int, hi: int, w: Tensor) -> None:
        """Systematic resampling of group ``g`` (rows lo:hi) by its normalised weights ``w``."""
        n = hi - lo
        self.log_z0[g] += float(torch.logsumexp(self.log_w[lo:hi], 0)) - math.log(n)
        u = torch.rand((), generator=self.generator, device=w.device, dtype=torch.float64)
        positions = (u + torch.arange(n, device=w.device, dtype=torch.float64)) / n
        rows = torch.searchsorted(torch.cumsum(w, 0), positions).clamp_(max=n - 1) + lo
        self.chains[lo:hi] = self.chains[rows]
        self.log_w[lo:hi] = 0.0
        self.resamplings += 1

    def group_log_z(self) -> tuple[Tensor, Tensor]:
        """Each group's estimate of log Z and its number of chains (this rank's)."""
        est = torch.stack([self.log_z0[g] + torch.logsumexp(self.log_w[lo:hi], 0) - math.log(hi - lo)
                           for g, (lo, hi) in enumerate(self.bounds)])
        return est, torch.tensor([hi - lo for lo, hi in self.bounds], dtype=torch.float64)

    def estimate(self, ranks: distributed.Ranks | None = None) -> LogZEstimate:
        """log Z of the last model, pooled over every group of every rank (a collective in a
        process group: every rank calls it)."""
        ranks = ranks or distributed.current()
        est, sizes = self.group_log_z()
        est = distributed.gather(est.to(self.log_w.device), ranks, "gathering the log Z estimates").cpu()
        sizes = distributed.gather(sizes.to(self.log_w.device), ranks, "gathering the log Z estimates").cpu()
        value, error = _pooled(est, sizes)
        return LogZEstimate(value, error, "trajectory")

    def state(self) -> dict[str, Tensor]:
        """This rank's population (what a resume needs, with the generator's state)."""
        return {"chains": self.chains, "log_w": self.log_w, "log_z0": self.log_z0,
                "rng": self.generator.get_state()}

    @classmethod
    def from_state(cls, state: dict[str, Tensor], generator: torch.Generator, device: Any,
                   dtype: torch.dtype, min_ess: float = MIN_ESS) -> "TrajectoryAIS":
        """The population saved by :meth:`state` (chains in ``dtype`` on ``device``), its stream
        continued by ``generator``."""
        generator.set_state(state["rng"].clone())
        return cls(state["chains"].to(device, dtype), state["log_w"].to(device),
                   state["log_z0"].to(device), generator, min_ess)


def _groups(n: int, groups: int) -> list[tuple[int, int]]:
    """(start, stop) of ``groups`` contiguous parts of n rows, as equal as possible."""
    edges = [round(k * n / groups) for k in range(groups + 1)]
    return list(zip(edges[:-1], edges[1:]))


#: At most this many sweeps of the tempering chains are kept for the ratios (evenly spaced).
MAX_KEPT_SWEEPS = 200


@torch.no_grad()
def ptt_log_partition(tempering: Any, base_log_z: float, n_steps: int, burn_in: int | None = None,
                      groups: int = GROUPS, progress: Callable[[int], None] | None = None) -> LogZEstimate:
    """log Z of the last replica of ``tempering`` (a
    :class:`~boltzkit.sampling.tempering.ParallelTempering` whose first replica has the exact log
    Z ``base_log_z``), chaining the ratios Z_k+1 / Z_k of neighbouring replicas, each by Bennett's
    acceptance ratio (:func:`bennett_log_ratio`) from both replicas' equilibrium chains over the
    ``n_steps`` steps after ``burn_in`` (default ``n_steps``) steps of tempering (at most
    :data:`MAX_KEPT_SWEEPS` sweeps kept, evenly spaced). The error is the spread of the estimates
    of ``groups`` disjoint sets of chains over sqrt(groups). ``progress(k)``, k from 0 to
    ``n_steps``, follows the burn-in and the sweeps together (for progress bars)."""
    integer(n_steps, "--ais-steps", 1)
    burn = n_steps if burn_in is None else burn_in
    report = progress or (lambda k: None)
    for done in range(1, burn + 1):
        tempering.step(1)
        report(n_steps * done // (burn + n_steps))
    replicas, every = tempering.replicas, math.ceil(n_steps / MAX_KEPT_SWEEPS)
    forward, reverse = [], []  # per kept sweep: (pairs, chains) of F_k+1 - F_k at x_k, and at x_k+1
    for step in range(1, n_steps + 1):
        tempering.step(1)
        report(n_steps * (burn + step) // (burn + n_steps))
        if step % every:
            continue
        x = [c.visible for c in tempering.chains]
        own = [m.free_energy(v).double() for m, v in zip(replicas, x)]  # F_k(x_k)
        pairs = range(len(replicas) - 1)
        forward.append(torch.stack([replicas[k + 1].free_energy(x[k]).double() - own[k] for k in pairs]))
        reverse.append(torch.stack([own[k + 1] - replicas[k].free_energy(x[k + 1]).double() for k in pairs]))
    fw, rv = torch.cat(forward, 1), torch.cat(reverse, 1)  # (pairs, sweeps x chains)
    n = tempering.n_chains
    value = base_log_z - float(bennett_log_ratio(fw, rv).sum())
    parts = [torch.arange(s, fw.shape[1], n) for s in range(n)]  # each chain's sweeps
    chunks = [torch.cat(parts[lo:hi]) for lo, hi in _groups(n, max(1, min(groups, n)))]
    if len(chunks) < 2:
        return LogZEstimate(value, float("nan"), "ptt")
    per_group = torch.stack([-bennett_log_ratio(fw[:, c], rv[:, c]).sum() for c in chunks])
    return LogZEstimate(value, float(per_group.std(unbiased=True) / math.sqrt(len(chunks))), "ptt")


def bennett_log_ratio(forward: Tensor, reverse: Tensor, iterations: int = 200) -> Tensor:
    """Bennett's acceptance ratio (Bennett 1976; Shirts & Chodera 2008) for the free-energy
    differences Delta = -log(Z_1 / Z_0) of several pairs at once: ``forward`` (pairs, n_0) holds
    F_1(x) - F_0(x) at samples of p_0, ``reverse`` (pairs, n_1) the same at samples of p_1. Delta
    solves sum_i s(Delta - M - w_i) = sum_j s(M - Delta + u_j), s the logistic function, M =
    log(n_0 / n_1); the left side grows and the right side falls with Delta, so bisection finds it
    (to float64 resolution within ``iterations`` halvings)."""
    m = math.log(forward.shape[1] / reverse.shape[1])
    lo = torch.minimum(forward.min(1).values, reverse.min(1).values) - abs(m) - 50.0
    hi = torch.maximum(forward.max(1).values, reverse.max(1).values) + abs(m) + 50.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        excess = (torch.sigmoid(mid[:, None] - m - forward).sum(1)
                  - torch.sigmoid(m - mid[:, None] + reverse).sum(1))
        lo, hi = torch.where(excess < 0, mid, lo), torch.where(excess < 0, hi, mid)
    return 0.5 * (lo + hi)
