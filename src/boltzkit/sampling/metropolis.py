"""The Metropolis acceptance rule shared by every single-site Metropolis sampler.

A move that changes -E by ``gain`` is accepted with probability ``rho * min(1, exp(gain))`` with
``rho = METROPOLIS_MOVE_PROBABILITY`` < 1. The factor rho keeps detailed balance (it multiplies the
probability of every proposal alike) and makes no move certain. Plain Metropolis (rho = 1) accepts
every move with gain >= 0, and with a fixed visiting order (a sequential sweep, or a whole colour
class at once) those forced moves make the sweep partly deterministic: on an Ising ring at zero field
a spin between two opposite neighbours always flips, domain walls march one site per step and the
chain never mixes between classes of configurations (see :mod:`boltzkit.synthetic.mcmc` for the
exact analysis of the 8-site ring). rho = 0.95 costs about 15% in autocorrelation time on the 2D
Ising model at beta 0.4.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["METROPOLIS_MOVE_PROBABILITY", "metropolis_accept"]

#: rho: a Metropolis update is accepted with probability rho * min(1, exp(gain)), never with certainty.
METROPOLIS_MOVE_PROBABILITY = 0.95


def metropolis_accept(gain: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Boolean tensor: accept each proposal that raises -E by ``gain`` with probability
    rho * min(1, exp(gain)); computed as ``log u < log rho + min(gain, 0)`` (no overflow of exp)."""
    u = torch.rand(gain.shape, generator=generator, device=gain.device, dtype=gain.dtype)
    return torch.log(u) < gain.clamp(max=0.0) + math.log(METROPOLIS_MOVE_PROBABILITY)
