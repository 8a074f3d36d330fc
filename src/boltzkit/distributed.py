"""Data-parallel training over a ``torch.distributed`` process group (docs/methods.md section 6.7).

When the processes of a run form a group of ``world`` > 1 ranks (``torchrun --nproc-per-node N -m
boltzkit train ...``, or ``fit`` called inside a group the user initialised), every rank holds the
same model and the same minibatch order; each runs ``1 / world`` of the Monte Carlo chains (or of
the sequences, for pseudo-likelihood), and what the ranks computed is combined by collectives:

* maximum likelihood: the log-likelihood gradient is the data term minus the mean over the chains;
  with the chains split in equal parts, the mean over ranks of the ranks' gradients is the
  gradient of all chains (:func:`average`), and every rank applies the same update;
* pseudo-likelihood: the objective is a weighted sum over sequences; each rank's share is summed
  (:func:`sum_`), gradients too, so the optimiser sees the one-process objective.

Random streams: rank r of a group of ``world`` > 1 draws its chains from a generator seeded with
:func:`rank_seed` (seed, r); a one-process run keeps the plain seed (its runs are unchanged).
Rank 0 alone writes the run file and prints; the run stores the world size and every rank's
chains and generator, so a resume with the same number of processes continues exactly (another
number is refused in one line). A collective that fails (a rank killed, a timeout) is one line
(:class:`GroupFailed`), never a hang: the group is created with a timeout
(:data:`COLLECTIVE_TIMEOUT_S`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Mapping, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from boltzkit.errors import BoltzkitError

__all__ = ["Ranks", "GroupFailed", "current", "rank_seed", "share", "average", "sum_", "gather",
           "barrier", "agree", "average_fields", "leave", "init_from_environment", "COLLECTIVE_TIMEOUT_S"]

#: Seconds a collective waits for the other ranks before the run stops with one line.
COLLECTIVE_TIMEOUT_S = 300.0
T = TypeVar("T")


class GroupFailed(BoltzkitError):
    """A collective of the process group failed: another rank stopped, or the timeout passed."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run's process group: ``rank`` of ``world`` (0 of 1 alone)."""

    rank: int = 0
    world: int = 1

    @property
    def parallel(self) -> bool:
        return self.world > 1

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run file and prints (rank 0)."""
        return self.rank == 0


def current() -> Ranks:
    """The ranks of the initialised default process group (0 of 1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def rank_seed(seed: int, ranks: Ranks) -> int:
    """The seed of rank ``ranks.rank``'s generator: ``seed`` itself for a one-process run, else a
    63-bit seed derived from (seed, rank) by NumPy's ``SeedSequence`` (independent streams)."""
    if not ranks.parallel:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), ranks.rank]).generate_state(1, np.uint64)[0] >> 1)


def share(n: int, ranks: Ranks, flag: str) -> slice:
    """This rank's equal part of ``n`` items (chains, rows of a minibatch); ``n`` must divide by
    the world size (one-line error naming ``flag``), so that the mean over ranks is the mean."""
    if n % ranks.world:
        raise BoltzkitError(f"{flag} {n}: data-parallel training over {ranks.world} processes "
                            f"splits it in equal parts; give a multiple of {ranks.world}")
    part = n // ranks.world
    return slice(ranks.rank * part, (ranks.rank + 1) * part)


def _collective(operation: Callable[[], T], what: str) -> T:
    """Run a collective; its failure (a rank gone, the timeout) becomes one :class:`GroupFailed`."""
    try:
        return operation()
    except (RuntimeError, ValueError, OSError) as e:  # gloo/nccl errors are RuntimeErrors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        first = re.sub(r"^\[[^\]]*\]\s*", "", first)  # gloo's "[source file:line]" prefix
        raise GroupFailed(f"rank {current().rank}: {what} failed: another process of the run "
                          f"stopped or did not answer ({first[:100]})") from None


def _reduce(tensors: Mapping[str, Tensor], scale: float, what: str) -> None:
    """All-reduce the tensors in place (one flat buffer), then multiply them by ``scale``."""
    names = list(tensors)
    flat = torch.cat([tensors[name].reshape(-1) for name in names])
    _collective(lambda: dist.all_reduce(flat), what)
    if scale != 1.0:
        flat.mul_(scale)
    offset = 0
    for name in names:
        t = tensors[name]
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def average(tensors: Mapping[str, Tensor], ranks: Ranks, what: str = "averaging the gradient") -> None:
    """Replace each tensor by its mean over the ranks, in place (nothing to do alone)."""
    if ranks.parallel and tensors:
        _reduce(tensors, 1.0 / ranks.world, what)


def sum_(tensors: Mapping[str, Tensor], ranks: Ranks, what: str = "summing the objective") -> None:
    """Replace each tensor by its sum over the ranks, in place (nothing to do alone)."""
    if ranks.parallel and tensors:
        _reduce(tensors, 1.0, what)


def average_fields(statistics: T, ranks: Ranks, what: str = "averaging the chains' statistics") -> T:
    """A NamedTuple of tensors (e.g. :class:`~boltzkit.models.statistics.PairwiseStatistics`)
    averaged over the ranks, as a new tuple (the same one alone)."""
    if not ranks.parallel:
        return statistics
    copies = {name: t.clone() for name, t in zip(statistics._fields, statistics)}
    average(copies, ranks, what)
    return type(statistics)(**copies)


def gather(tensor: Tensor, ranks: Ranks, what: str = "gathering the chains") -> Tensor:
    """The tensors of every rank (equal shapes) concatenated along the first axis, in rank order
    (this rank's alone)."""
    if not ranks.parallel:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(ranks.world)]
    _collective(lambda: dist.all_gather(parts, tensor.contiguous()), what)
    return torch.cat(parts)


def barrier(ranks: Ranks, what: str = "waiting for the other processes") -> None:
    if ranks.parallel:
        _collective(dist.barrier, what)


def agree(value: Any, ranks: Ranks, what: str) -> Any:
    """Rank 0's ``value`` (any picklable object) on every rank."""
    if not ranks.parallel:
        return value
    box = [value]
    _collective(lambda: dist.broadcast_object_list(box, src=0), what)
    return box[0]


def leave(in_order: bool = False) -> None:
    """Leave the process group (at the end of a command); nothing without one.

    ``in_order`` (a run that went well): rank 0, whose process hosts the group's store, leaves
    last, after every other rank has said through the store that it left, so that no rank's
    shutdown still talks to a store that is gone (which gloo answers by aborting the process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    ranks = current()
    store = None
    if in_order and ranks.parallel:
        try:
            store = dist.distributed_c10d._get_default_store()
        except (AttributeError, RuntimeError, ValueError):
            store = None
    dist.destroy_process_group()
    if store is None:
        return
    if ranks.rank:
        store.set(f"boltzkit/left/{ranks.rank}", "1")
    else:
        _collective(lambda: store.wait([f"boltzkit/left/{r}" for r in range(1, ranks.world)],
                                       timedelta(seconds=COLLECTIVE_TIMEOUT_S)), "waiting for the others to leave")


def init_from_environment(device: str) -> tuple[Ranks, str]:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1,
    ``RANK``, ``MASTER_ADDR``/``MASTER_PORT`` or its rendezvous): gloo on CPU, nccl on CUDA with
    this rank's GPU (``LOCAL_RANK``). Returns (ranks, the device this rank uses); alone, (0 of 1,
    ``device``) and nothing is initialised."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return current(), device
    if not dist.is_available():
        raise BoltzkitError("WORLD_SIZE > 1 but this torch has no torch.distributed")
    cuda = device.startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    try:
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S))
    except (RuntimeError, ValueError) as e:
        raise GroupFailed(f"cannot join the process group of {world} processes: "
                          f"{str(e).strip().splitlines()[0][:160]}") from None
    return current(), device
