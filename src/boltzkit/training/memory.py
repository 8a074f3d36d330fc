"""Memory a training run will need, estimated before anything is allocated.

A run that cannot fit is refused in one line with the estimate and what is available, instead of
failing minutes later (or being killed) while allocating. The estimate counts the tensors that
scale with the settings, in the training dtype:

* the parameters, their gradients and two optimizer moments (and, for pairwise models, the
  rearranged couplings of the sweep): 5 copies of the family's parameter count;
* the chains and what one Monte Carlo step allocates beside them (fields, uniform numbers,
  temporaries): 6 copies of n_chains x (visible width + hidden units);
* the minibatch and its hidden activations: 4 copies of batch x (visible width + hidden units);

where the visible width is N q for categorical units (one-hot) and N otherwise. It is an order
of magnitude, meant to catch settings that are off by factors, not to budget the last megabyte.

The commands that use a trained model (sample, evaluate, couplings, landscape, tree) estimate
what they allocate the same way and refuse through :func:`refuse_beyond`; ``--max-memory`` (GiB)
replaces the memory available now in every one of them.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from boltzkit.checks import number
from boltzkit.errors import BoltzkitError
from boltzkit.models.capabilities import HiddenLayer
from boltzkit.models.registry import Family
from boltzkit import distributed

__all__ = ["estimate_bytes", "available_bytes", "refuse_beyond", "check_memory", "check_chains_memory",
           "chains_bytes"]

_ITEM = {"float32": 4, "float64": 8}
GIB = 1 << 30


def estimate_bytes(entry: Family, n_visible: int, n_states: int, options: Mapping[str, Any], config,
                   world: int = 1, n_rows: int | None = None) -> int:
    """Bytes of the tensors of a run of family ``entry`` (see the module docstring), in each of
    ``world`` data-parallel processes (each holds the parameters and 1/world of the chains); with
    ``n_rows`` the training rows, a minibatch is at most that many rows."""
    item = _ITEM.get(config.dtype, 4)
    options = entry.with_options(options)
    hidden = int(options.get("n_hidden", 0) or 0) + int(options.get("nn_hidden", 0) or 0)
    width = n_visible * (n_states if entry.visible == "categorical" else 1)
    parameters = entry.count_parameters(n_visible, n_states, options) or width * max(hidden, 1)
    chains = 0 if config.method in ("exact", "plm") else -(-config.n_chains // world)
    batch = config.batch_size if n_rows is None else min(config.batch_size, n_rows)
    return item * (5 * parameters + 6 * chains * (width + hidden) + 4 * batch * (width + hidden))


def available_bytes(device: str = "cpu") -> int:
    """Memory free for a new allocation: MemAvailable (Linux) or the free pages; the GPU's free memory."""
    if device.startswith("cuda"):
        import torch  # only for a CUDA device

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def refuse_beyond(need: int, what: str, remedy: str, device: str = "cpu",
                  max_memory: float | None = None) -> None:
    """Refuse in one line ``what`` when its ``need`` bytes exceed the memory available on ``device``
    (or ``max_memory`` GiB, when given: the user's override)."""
    if max_memory is not None:
        number(max_memory, "--max-memory", 0.0, low_open=True)
    have = available_bytes(device) if max_memory is None else int(max_memory * GIB)
    if need > have:
        where = "allowed by --max-memory" if max_memory is not None else f"available ({device})"
        raise BoltzkitError(f"{what} would need about {_size(need)}, {_size(have)} {where}: {remedy}, "
                            "or set --max-memory")


def check_memory(entry: Family, n_visible: int, n_states: int, options: Mapping[str, Any], config,
                 max_memory: float | None = None, n_rows: int | None = None) -> None:
    """Refuse in one line a run whose tensors would not fit (``max_memory``: GiB allowed, in
    place of what is available now). In a process group the estimate is per process, against the
    memory available divided by the processes on this machine (``LOCAL_WORLD_SIZE``; each GPU is
    its own)."""
    ranks = distributed.current()
    need = estimate_bytes(entry, n_visible, n_states, options, config, ranks.world, n_rows)
    what = f"this run ({n_visible} visible units, {config.n_chains} chains, batch {config.batch_size})"
    if not ranks.parallel:
        refuse_beyond(need, what, "lower --chains, --batch-size or --hidden", config.device, max_memory)
        return
    local = 1 if config.device.startswith("cuda") else int(os.environ.get("LOCAL_WORLD_SIZE", ranks.world))
    have = available_bytes(config.device) if max_memory is None else int(number(
        max_memory, "--max-memory", 0.0, low_open=True) * GIB)
    if need * local > have:
        raise BoltzkitError(f"{what} needs about {_size(need)} per process, {_size(have // local)} "
                            f"available per process ({local} on this machine, {config.device}): lower "
                            "--chains, --batch-size or --hidden, or set --max-memory")


def _size(n_bytes: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= size / 10:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


def chains_bytes(model, n_chains: int) -> int:
    """6 copies of n_chains x (visible width + hidden units) in the model's dtype, as in training."""
    width = model.n_visible * (model.visible.n_states if model.visible.categorical else 1)
    hidden = model.n_hidden if isinstance(model, HiddenLayer) else 0
    return model.dtype.itemsize * 6 * int(n_chains) * (width + hidden)


def check_chains_memory(model, n_chains: int, flag: str, device: str = "cpu",
                        max_memory: float | None = None, replicas: int = 1) -> None:
    """Refuse in one line ``n_chains`` chains of ``model`` that cannot fit (sample, evaluate);
    with ``replicas`` > 1 (trajectory tempering over a run's checkpoints), that many models and
    their chains."""
    need = replicas * chains_bytes(model, n_chains)
    if replicas > 1:
        need += replicas * sum(t.numel() * t.element_size() for t in model.parameters().values())
    what = f"{flag} {n_chains}: the chains" + (f" of {replicas} replicas" if replicas > 1 else "")
    refuse_beyond(need, what, "ask for fewer", device, max_memory)
