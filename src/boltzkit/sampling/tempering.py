"""Parallel tempering (replica exchange) for any model with an annealing path (docs/methods.md 6.4).

The replicas run at the points 0 = beta_0 < beta_1 < ... < beta_K = 1 of the model's annealing
path (:class:`~boltzkit.models.capabilities.AnnealingPath`): p_beta(x) ∝ p_0(x)^(1 - beta)
p(x)^beta, p_0 the independent-site model fitted to the data (``base``) — with a uniform base this
is temperature tempering proper, p^beta; without a base the model's own fields are kept and its
interactions tempered (the families' ``annealed(beta)``). Each replica takes one step of its
model's sampler, then neighbouring replicas exchange their states, chain by chain, with the
Metropolis probability of the joint law of the replicas,

    min(1, exp(F_k(x_k) + F_k+1(x_k+1) - F_k(x_k+1) - F_k+1(x_k))),

F_k the free energy of the replica at beta_k (its marginal over hidden units): the product of the
p_beta_k is left invariant, so the replica at beta = 1 samples the model exactly. Every step ends
with one sweep of exchanges over all the neighbouring pairs from the bottom up (0-1, then 1-2 with
the states left by the first exchange, ...; the order of the reference PTT code, ``swap_config_multi``),
so that a configuration drawn at replica 0 can climb several replicas in one step. Each exchange
leaves the joint law invariant, hence so does the sweep. ``passages`` counts the configurations
that reach the target having been at replica 0 more recently than at the target (fresh
configurations carried all the way up: what decorrelates the target's chains).

The ladder is chosen by :func:`adaptive_ladder`: starting from {0, 1}, the midpoint of every
neighbouring pair whose swap acceptance (measured on equilibrated replicas) is below the target is
inserted, until every pair reaches it.

Everything goes through the model's interface: ``annealed``, ``free_energy``, ``init_chains`` and
``sample_step``; no family is named here.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from boltzkit.checks import integer, number
from boltzkit.errors import InvalidValue
from boltzkit.models.base import Chains
from boltzkit.models.capabilities import AnnealingPath, require
from boltzkit.sampling.gibbs import run_chains

__all__ = ["ParallelTempering", "adaptive_ladder", "parallel_tempering_samples", "MAX_BRIDGES",
           "most_trajectory_replicas"]

#: Models interpolated between checkpoints too far apart, at most, in trajectory tempering.
MAX_BRIDGES = 64


def most_trajectory_replicas(n_checkpoints: int) -> int:
    """The most replicas :meth:`ParallelTempering.trajectory` can hold over ``n_checkpoints``
    checkpoints: the start, every checkpoint and every bridge (what a memory check counts)."""
    return 1 + n_checkpoints + MAX_BRIDGES


def _swap_log_ratio(lower: Any, upper: Any, x_low: Tensor, x_up: Tensor) -> Tensor:
    """log of the exchange ratio of the states ``x_low`` (at ``lower``) and ``x_up`` (at
    ``upper``), chain by chain, shape (n,)."""
    return ((lower.free_energy(x_low) + upper.free_energy(x_up))
            - (lower.free_energy(x_up) + upper.free_energy(x_low))).double()


class ParallelTempering:
    """Replica exchange between ``replicas`` (models of one visible space, from the easiest to
    sample, index 0, to the target, index -1), ``n_chains`` chains each.

    Build it with :meth:`on_path` (temperatures of one model's annealing path) or :meth:`trajectory`
    (a run's checkpoints: parallel trajectory tempering). ``chains``: the starting chains of every
    replica (default: exact draws of replica 0, one step of its sampler from its random start, for
    every replica).

    Attributes
    ----------
    chains : list of Chains, one per replica (index -1: the target model)
    accepted, proposed : Tensor of shape (K,), the exchanges accepted / proposed per neighbouring
        pair since the start (or :meth:`reset_counts`)
    passages : float, the configurations that went from replica 0 to the target since then
    """

    def __init__(self, replicas: list, n_chains: int, generator: torch.Generator | None = None,
                 chains: list[Chains] | None = None):
        if len(replicas) < 2:
            raise InvalidValue("parallel tempering needs at least two replicas")
        self.replicas, self.generator = list(replicas), generator
        self.n_chains = integer(n_chains, "--chains (n_chains)", 1)
        if chains is None:  # replica 0 is drawn exactly; the others start from it
            first = self.replicas[0].init_chains(self.n_chains, generator)
            first = self.replicas[0].sample_step(first, generator)
            chains = [Chains(first.visible.clone()) for _ in self.replicas]
        self.chains = list(chains)
        self.step_count = 0
        self.accepted = torch.zeros(len(self.replicas) - 1, dtype=torch.float64)
        self.proposed = torch.zeros(len(self.replicas) - 1, dtype=torch.float64)
        # per replica and chain: whether its configuration was at replica 0 more recently than at
        # the target (carried along with the configurations by the exchanges)
        device = self.chains[0].visible.device
        self.climbing = torch.zeros(len(self.replicas), self.n_chains, dtype=torch.bool, device=device)
        self.passages = 0.0

    @classmethod
    def on_path(cls, model: Any, betas: list[float], n_chains: int,
                generator: torch.Generator | None = None, base: Any = None) -> "ParallelTempering":
        """Replicas at the inverse temperatures ``betas`` (increasing from 0 to 1) of ``model``'s
        annealing path from ``base``."""
        require(model, AnnealingPath, "parallel tempering")
        betas = [float(b) for b in betas]
        if len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or any(
                b >= c for b, c in zip(betas, betas[1:])):
            raise InvalidValue("the inverse temperatures must increase from 0 to 1 (at least two)")
        pt = cls([model.annealed(b, base) if b < 1.0 else model for b in betas], n_chains, generator)
        pt.betas = betas
        return pt

    @classmethod
    @torch.no_grad()
    def trajectory(cls, models: list, n_chains: int, generator: torch.Generator | None = None,
                   target: float = 0.3, anneal_steps: int = 10, max_bridges: int = MAX_BRIDGES,
                   pilot_steps: int = 50) -> "ParallelTempering":
        """Parallel trajectory tempering (docs/methods.md 6.4): ``models`` are a model sampled
        exactly by one step of its sampler (the data's independent-site model) followed by a run's
        checkpoints in training order, the last the target.

        Chains drawn from the first are annealed through the others (``anneal_steps`` steps each).
        Walking the checkpoints, the previous one is kept whenever the exchange acceptance between
        the last kept model and the next, measured on those chains, would fall below ``target``;
        when two neighbouring checkpoints are already too far apart, models whose parameters lie
        between theirs (linear interpolation, midpoints by bisection, ``max_bridges`` at most) are
        walked through and kept as needed. The last is always kept. The annealed chains keep the
        share of each mode they started with, so this walk can be far too optimistic when the
        models' modes change weight (a run's first updates): the choice is then checked at
        equilibrium (:func:`_refine`): ``pilot_steps`` steps of tempering, and wherever a pair's
        acceptance is below ``target`` the checkpoint halfway between them (or a bridge, for
        neighbouring ones) joins the replicas, until none is or none can be inserted. ``kept`` holds the position of
        each replica on the trajectory (a checkpoint's index in ``models``, fractional for a bridge);
        the replicas' chains start where the annealing left them, each replica's rows in its own
        random order: exchanges pair the same chain index of neighbouring replicas, and a chain
        annealed through all the models sits in one mode on every replica, so that, unshuffled,
        an index whose replicas are all in one mode exchanges within that mode only (on the MNIST
        0/1 run of docs/methods.md 6.4: 0 jumps of the target's chains against 0.2 per chain in
        2000 steps)."""
        number(target, "--target-acceptance", 0.0, 1.0, low_open=True, high_open=True)
        integer(anneal_steps, "--anneal-steps", 1)
        integer(pilot_steps, "pilot steps", 1)
        if len(models) < 2:
            raise InvalidValue("trajectory tempering needs a start model and at least one checkpoint")
        last = models[-1]
        models = [m.to(last.device, last.dtype) for m in models]
        kept = _walk(models, n_chains, generator, target, anneal_steps, max_bridges)
        kept = [(p, m, Chains(c.visible[_permutation(n_chains, generator, c.visible.device)])) for p, m, c in kept]
        kept = _refine(cls, models, kept, n_chains, generator, target, pilot_steps, max_bridges)
        pt = cls([m for _, m, _ in kept], n_chains, generator, [c for _, _, c in kept])
        pt.kept = [position for position, _, _ in kept]
        return pt

    def reset_counts(self) -> None:
        """Zero the exchange counts and the passages (the configurations' histories are kept)."""
        self.accepted.zero_()
        self.proposed.zero_()
        self.passages = 0.0

    @property
    def acceptance(self) -> Tensor:
        """Exchange acceptance per neighbouring pair (nan where none was proposed)."""
        return self.accepted / self.proposed

    @torch.no_grad()
    def step(self, n_steps: int = 1) -> Chains:
        """``n_steps`` rounds of one sampler step per replica then one sweep of exchanges; the
        chains of the target model (the last replica) after them."""
        for _ in range(n_steps):
            self.chains = [run_chains(m, c, 1, self.generator) for m, c in zip(self.replicas, self.chains)]
            self.climbing[0] = True  # replica 0 was just drawn again
            self._sweep()
            self.passages += float(self.climbing[-1].sum())
            self.climbing[-1] = False
            self.step_count += 1
        return self.chains[-1]

    def _sweep(self) -> None:
        """Exchanges between every neighbouring pair, from the bottom up; three free energies per
        pair (that of the lower replica's state at its own model is carried over from the pair below)."""
        own = self.replicas[0].free_energy(self.chains[0].visible)
        for k in range(len(self.replicas) - 1):
            lower, upper = self.replicas[k], self.replicas[k + 1]
            x_low, x_up = self.chains[k].visible, self.chains[k + 1].visible
            low_up, up_low, up_up = lower.free_energy(x_up), upper.free_energy(x_low), upper.free_energy(x_up)
            log_ratio = ((own + up_up) - (low_up + up_low)).double()
            u = torch.rand(log_ratio.shape, generator=self.generator, device=log_ratio.device,
                           dtype=torch.float64)
            swap = torch.log(u) < log_ratio
            self.accepted[k] += float(swap.sum())
            self.proposed[k] += swap.numel()
            self.chains[k], self.chains[k + 1] = _exchanged(self.chains[k], self.chains[k + 1], swap)
            climbing = self.climbing[k].clone()
            self.climbing[k] = torch.where(swap, self.climbing[k + 1], climbing)
            self.climbing[k + 1] = torch.where(swap, climbing, self.climbing[k + 1])
            own = torch.where(swap, up_low, up_up)


def _permutation(n: int, generator: torch.Generator | None, device: Any) -> Tensor:
    """A random order of ``n`` rows."""
    return torch.randperm(n, generator=generator, device="cpu").to(device)


def _walk(models: list, n_chains: int, generator: torch.Generator | None, target: float,
          anneal_steps: int, max_bridges: int) -> list[tuple[float, Any, Chains]]:
    """The checkpoint selection of :meth:`ParallelTempering.trajectory`: the kept (position,
    model, annealed chains), from ``models[0]`` to ``models[-1]``."""
    first = models[0].sample_step(models[0].init_chains(n_chains, generator), generator)
    kept = [(0.0, models[0], Chains(first.visible.clone()))]
    previous = kept[0]
    queue = [(float(t), models[t]) for t in range(1, len(models))]
    bridges = 0
    # the acceptance is measured between the kept model's chains and the candidate's in another
    # order: chain i of both descends from the same start, and the pair of near-copies would
    # exchange whatever the distance between the models (HGD run of docs/methods.md 6.5: pairs
    # measured above 0.3 exchanged 0.002-0.03 of the time at equilibrium)
    order = _permutation(n_chains, generator, first.visible.device)
    while queue:
        position, model = queue[0]
        chains = run_chains(model, Chains(previous[2].visible), anneal_steps, generator)
        ratio = _swap_log_ratio(kept[-1][1], model, kept[-1][2].visible, chains.visible[order])
        if float(torch.exp(ratio.clamp(max=0.0)).mean()) >= target:
            previous = (position, model, Chains(chains.visible.clone()))
            queue.pop(0)
        elif previous is not kept[-1]:
            kept.append(previous)  # then this checkpoint is measured again against it
        elif bridges < max_bridges and _same_shapes(kept[-1][1], model):
            middle = 0.5 * (kept[-1][0] + position)
            queue.insert(0, (middle, _between(kept[-1][1], model, 0.5)))
            bridges += 1
        else:  # no bridge possible: the pair stays as it is
            previous = (position, model, Chains(chains.visible.clone()))
            queue.pop(0)
    if previous is not kept[-1]:
        kept.append(previous)
    return kept


def _refine(cls: type, models: list, kept: list, n_chains: int, generator: torch.Generator | None,
            target: float, pilot_steps: int, max_bridges: int) -> list[tuple[float, Any, Chains]]:
    """The walk's replicas checked at equilibrium: rounds of ``pilot_steps`` steps of tempering on
    the kept (position, model, chains); below ``target`` a pair gets the checkpoint halfway between
    its positions, or a bridge between neighbouring checkpoints (at most ``max_bridges`` in all),
    its chains a copy of the lower replica's. Stops when every pair reaches ``target`` or no pair
    that misses it can take another model; the chains continue from the last round."""
    while True:
        pt = cls([m for _, m, _ in kept], n_chains, generator, [c for _, _, c in kept])
        pt.step(pilot_steps)
        kept = [(p, m, c) for (p, m, _), c in zip(kept, pt.chains)]
        bridges = sum(p != int(p) for p, _, _ in kept)
        inserted = False
        for k in reversed(range(len(kept) - 1)):
            if float(pt.acceptance[k]) >= target:
                continue
            (a, lower, chains), (b, upper, _) = kept[k], kept[k + 1]
            if a == int(a) and b == int(b) and b - a >= 2:
                middle = (int(a) + int(b)) // 2
                kept.insert(k + 1, (float(middle), models[middle], Chains(chains.visible.clone())))
            elif bridges < max_bridges and _same_shapes(lower, upper):
                kept.insert(k + 1, (0.5 * (a + b), _between(lower, upper, 0.5), Chains(chains.visible.clone())))
                bridges += 1
            else:
                continue
            inserted = True
        if not inserted:
            return kept


def _same_shapes(a: Any, b: Any) -> bool:
    """Whether two models have tensors of the same names and shapes (their parameters can be
    interpolated)."""
    pa, pb = a.parameters(), b.parameters()
    return pa.keys() == pb.keys() and all(pa[k].shape == pb[k].shape for k in pa)


def _between(a: Any, b: Any, weight: float) -> Any:
    """A model of ``b``'s family whose parameters are (1 - weight) a + weight b."""
    out = b.clone()
    start = a.parameters()
    for name, tensor in out.parameters().items():
        tensor.copy_(torch.lerp(start[name].to(tensor), tensor, weight))
    return out


def _exchanged(a: Chains, b: Chains, swap: Tensor) -> tuple[Chains, Chains]:
    """The chains with the states of the ``swap`` rows exchanged (hidden states dropped: each
    replica redraws them from its own conditional at its next step)."""
    rows = swap.unsqueeze(1).to(a.visible.device)
    return (Chains(torch.where(rows, b.visible, a.visible)),
            Chains(torch.where(rows, a.visible, b.visible)))


@torch.no_grad()
def adaptive_ladder(model: Any, n_chains: int = 500, target: float = 0.3, pilot_steps: int = 50,
                    max_temperatures: int = 64, generator: torch.Generator | None = None,
                    base: Any = None, progress: Callable[[int], None] | None = None) -> list[float]:
    """Inverse temperatures from 0 to 1 whose neighbouring exchanges are accepted at least
    ``target`` of the time (measured with ``n_chains`` chains after ``pilot_steps`` steps of
    tempering on the current ladder), by inserting midpoints where they are not; at most
    ``max_temperatures`` (then the ladder is returned as it is)."""
    number(target, "--target-acceptance", 0.0, 1.0, low_open=True, high_open=True)
    integer(pilot_steps, "--pilot-steps", 1)
    integer(max_temperatures, "--max-temperatures", 2)
    betas = [0.0, 1.0]
    while True:
        pt = ParallelTempering.on_path(model, betas, n_chains, generator, base)
        pt.step(pilot_steps)  # equilibrate the replicas (exchanges included)
        pt.reset_counts()
        pt.step(max(2, pilot_steps // 2))  # then measure: every pair proposed at least once
        low = [k for k, a in enumerate(pt.acceptance.tolist()) if a < target]
        if progress is not None:
            progress(len(betas))
        if not low or len(betas) >= max_temperatures:
            return betas
        room = max_temperatures - len(betas)
        new = sorted(betas + [(betas[k] + betas[k + 1]) / 2.0 for k in low[:room]])
        betas = new


def parallel_tempering_samples(model: Any, n_samples: int, n_steps: int,
                               generator: torch.Generator | None = None, base: Any = None,
                               target: float = 0.3) -> tuple[Tensor, list[float], Tensor]:
    """``n_samples`` configurations of ``model`` after ``n_steps`` rounds of parallel tempering
    on an adaptive ladder (:func:`adaptive_ladder`, target acceptance ``target``): (samples,
    betas, acceptance per neighbouring pair over the run)."""
    betas = adaptive_ladder(model, min(n_samples, 500), target, generator=generator, base=base)
    pt = ParallelTempering.on_path(model, betas, n_samples, generator, base)
    samples = pt.step(n_steps).visible if n_steps else pt.chains[-1].visible
    return samples, betas, pt.acceptance
