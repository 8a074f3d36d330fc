"""Persistent chains of a model that changes (training's negative phase), run by replica exchange
(docs/methods.md 6.4, ``train --sampler pt | ptt``).

At every update the chains of every replica take ``k`` rounds of one step of their replica's
sampler and a sweep of exchanges of :class:`~boltzkit.sampling.tempering.ParallelTempering`; the
chains of the last replica, the current model, are the negative phase. The replicas:

- ``pt``: the current model at the inverse temperatures beta_0 = 0 < ... < beta_K = 1 of its
  annealing path from the data's independent-site model ``base``. The ladder starts at {0, 1};
  whenever a neighbouring pair's exchanges, counted over at least :data:`MIN_PROPOSALS`
  proposals, are accepted less than ``target`` (0.3) of the time, the midpoint of the pair is
  inserted, its chains copied from the lower one's.
- ``ptt``: ``base`` (sampled exactly at each step), then models frozen along the run, then the
  current model. When the exchanges between the last frozen model (or the base) and the current
  one, counted the same way, fall below ``target``, a copy of the current model is frozen and
  joins the replicas with a copy of its chains (Béreux, Decelle, Furtlehner, Seoane 2026,
  arXiv:2607.27077: the equilibrium reservoir of parallel trajectory tempering in training).

In a ``torch.distributed`` group every rank runs its own chains; the exchange counts are summed
over the ranks before each decision, so that every rank grows the same ladder.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from boltzkit import distributed
from boltzkit.checks import choice, number
from boltzkit.models.base import Chains
from boltzkit.models.capabilities import AnnealingPath, require
from boltzkit.sampling.tempering import ParallelTempering

__all__ = ["TemperedChains", "MIN_PROPOSALS", "MAX_REPLICAS", "SCHEMES"]

#: Exchanges proposed per pair (summed over the ranks) before its acceptance decides anything.
MIN_PROPOSALS = 1000
#: The most replicas the ladder grows to (each costs one model step per round), as adaptive_ladder's.
MAX_REPLICAS = 64
SCHEMES = ("pt", "ptt")


class TemperedChains:
    """The negative phase's chains under ``scheme`` "pt" or "ptt" (module docstring).

    Attributes
    ----------
    chains : list of Tensor (n, n_visible), the visible states of every replica (last: the model)
    betas : list of float (pt), the ladder
    frozen : list of models (ptt), the models frozen along the run, oldest first
    accepted, proposed : Tensor (replicas - 1,) float64, this rank's exchange counts since the
        last decision
    """

    def __init__(self, scheme: str, base: Any, n_chains: int, generator: torch.Generator,
                 target: float = 0.3, ranks: distributed.Ranks | None = None):
        self.scheme = choice(scheme, "--sampler", SCHEMES)
        self.target = number(target, "target acceptance", 0.0, 1.0, low_open=True, high_open=True)
        self.base, self.n_chains, self.generator = base, n_chains, generator
        self.ranks = ranks or distributed.current()
        self.betas: list[float] = [0.0, 1.0]
        self.frozen: list[Any] = []
        self.chains: list[Tensor] | None = None
        self.accepted = torch.zeros(1, dtype=torch.float64)
        self.proposed = torch.zeros(1, dtype=torch.float64)
        self.capped = False

    def replicas(self, model: Any) -> list:
        """The replicas for the current ``model``, from the easiest to sample to ``model``."""
        if self.scheme == "pt":
            require(model, AnnealingPath, "--sampler pt")
            return [model.annealed(b, self.base) for b in self.betas[:-1]] + [model]
        return [self.base, *self.frozen, model]

    @torch.no_grad()
    def run(self, model: Any, k: int) -> Chains:
        """``k`` rounds of steps and exchanges with the replicas of ``model``; the model's chains."""
        replicas = self.replicas(model)
        start = None if self.chains is None else [Chains(c) for c in self.chains]
        pt = ParallelTempering(replicas, self.n_chains, self.generator, start)
        pt.step(k)
        self.chains = [c.visible for c in pt.chains]
        self.accepted += pt.accepted
        self.proposed += pt.proposed
        self._adapt(model)
        return Chains(self.chains[-1])

    def _adapt(self, model: Any) -> None:
        """Grow the ladder where the exchanges (over every rank) fell below the target."""
        device = self.chains[0].device  # (a collective: on the device, for nccl)
        counts = {"accepted": self.accepted.to(device), "proposed": self.proposed.to(device)}
        distributed.sum_(counts, self.ranks, "summing the exchange counts")
        counts = {name: t.cpu() for name, t in counts.items()}
        if float(counts["proposed"].min()) < MIN_PROPOSALS:
            return
        low = (counts["accepted"] / counts["proposed"] < self.target).tolist()
        if len(self.chains) >= MAX_REPLICAS:  # the ladder stays as it is (a note, once)
            low = [False] * len(low)
            if not self.capped:
                warnings.warn(f"--sampler {self.scheme}: {MAX_REPLICAS} replicas reached; the ladder no "
                              "longer grows (exchanges below the target acceptance)", UserWarning, stacklevel=2)
                self.capped = True
        if self.scheme == "pt":
            for k in reversed([k for k, is_low in enumerate(low) if is_low]):
                self.betas.insert(k + 1, 0.5 * (self.betas[k] + self.betas[k + 1]))
                self.chains.insert(k + 1, self.chains[k].clone())
        elif low[-1]:  # the current model is too far from the last frozen one: freeze it
            self.frozen.append(model.clone())
            self.chains.insert(-1, self.chains[-1].clone())
        self.accepted = torch.zeros(len(self.chains) - 1, dtype=torch.float64)
        self.proposed = torch.zeros(len(self.chains) - 1, dtype=torch.float64)

    # ------------------------------------------------------------------ resume
    #: The entries of :meth:`state` that every rank shares (the others are this rank's own).
    SHARED = ("betas", "frozen_")

    def state(self) -> dict[str, Tensor]:
        """This rank's chains (n, replicas, n_visible) and counts (1, pairs); the ladder that
        every rank shares: ``betas``, the frozen models' tensors stacked (``frozen_<name>``)."""
        out = {"chains": torch.stack(self.chains, 1), "accepted": self.accepted.unsqueeze(0),
               "proposed": self.proposed.unsqueeze(0), "betas": torch.tensor(self.betas, dtype=torch.float64)}
        if self.frozen:
            for name in self.frozen[0].parameters():
                out[f"frozen_{name}"] = torch.stack([m.parameters()[name] for m in self.frozen])
        return out

    def restore(self, state: dict[str, Tensor], model: Any, rows: slice, rank: int) -> None:
        """This rank's part of a stored :meth:`state` (the chains and counts of every rank, rank
        after rank; the shared entries once); ``model`` gives the family and shapes of the frozen
        models."""
        chains = state["chains"][rows].to(model.device, model.dtype)
        self.chains = [chains[:, k].contiguous() for k in range(chains.shape[1])]
        self.accepted, self.proposed = state["accepted"][rank].clone(), state["proposed"][rank].clone()
        self.betas = state["betas"].tolist()
        names = [key[len("frozen_"):] for key in state if key.startswith("frozen_")]
        count = 0 if not names else len(state[f"frozen_{names[0]}"])
        self.frozen = []
        for j in range(count):
            frozen = model.clone()
            for name, tensor in frozen.parameters().items():
                tensor.copy_(state[f"frozen_{name}"][j])
            self.frozen.append(frozen)
