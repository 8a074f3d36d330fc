"""The sampler a command runs: the model's own Monte Carlo step, or one of its variants.

``boltzkit sample --sampler NAME`` (and the report's samples) reach a model's step variants
through the :class:`~boltzkit.models.capabilities.SamplerVariants` capability, never through its
class: ``"gibbs"`` is every model's plain step (block Gibbs for RBMs, sweeps for pairwise models);
the other names are those the model declares (the Gaussian RBM's Gibbs-Langevin samplers,
docs/methods.md section 11.4).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from boltzkit.errors import InvalidValue
from boltzkit.models.capabilities import SamplerVariants
from boltzkit.sampling.gibbs import sample
from boltzkit.sampling.tempering import ParallelTempering, parallel_tempering_samples

__all__ = ["with_sampler", "draw", "PLAIN_STEP", "TEMPERING", "TRAJECTORY_TEMPERING", "SAMPLERS"]

#: The name of every model's own step.
PLAIN_STEP = "gibbs"
#: Parallel tempering on the model's annealing path (:mod:`boltzkit.sampling.tempering`).
TEMPERING = "pt"
#: Parallel trajectory tempering over a run's checkpoints.
TRAJECTORY_TEMPERING = "ptt"
#: The samplers every family has (families add variants of their own step).
SAMPLERS = (PLAIN_STEP, TEMPERING, TRAJECTORY_TEMPERING)


def with_sampler(model: Any, name: str | None = None, settings: Mapping[str, Any] | None = None) -> Any:
    """``model`` running the sampler ``name`` (None: the model's own, as trained) with the variant's
    ``settings`` (family option names, e.g. ``{"langevin_steps": 20}``; None or empty: as stored).

    A model without step variants takes ``"gibbs"`` (its own step) and no settings; anything else
    is refused in one line naming ``--sampler`` and the names it takes.
    """
    settings = {k: v for k, v in (settings or {}).items() if v is not None}
    if not isinstance(model, SamplerVariants):
        if name not in (None, PLAIN_STEP):
            raise InvalidValue(f"--sampler {name}: the {model.kind} family samples with its own "
                               f"step (--sampler {PLAIN_STEP}) or by tempering (--sampler "
                               f"{TEMPERING} | {TRAJECTORY_TEMPERING})")
        if settings:
            flags = ", ".join("--" + k.replace("_", "-") for k in settings)
            raise InvalidValue(f"{flags}: the {model.kind} family's sampler takes no such setting")
        return model
    if name is not None and name not in model.samplers:
        raise InvalidValue(f"--sampler {name}: the {model.kind} family samples with "
                           f"{' | '.join(model.samplers)} (or {TEMPERING} | {TRAJECTORY_TEMPERING})")
    return model.with_sampler_options(dict(settings, **({} if name is None else {"sampler": name})))


def draw(model: Any, n: int, n_steps: int, generator: torch.Generator | None = None,
         name: str | None = None, settings: Mapping[str, Any] | None = None, base: Any = None,
         checkpoints: list | None = None) -> Tensor:
    """``n`` samples of ``model`` after ``n_steps`` steps of the sampler ``name``: parallel
    tempering (``"pt"``, on an adaptive ladder of its annealing path from ``base``, the data's
    independent-site model when given), parallel trajectory tempering (``"ptt"``: the replicas are
    ``base``, sampled exactly, and the run's ``checkpoints`` up to ``model``; docs/methods.md 6.4),
    else the model's own step or one of its variants (:func:`with_sampler`) from its random starts."""
    if name in (TEMPERING, TRAJECTORY_TEMPERING):
        if any(v is not None for v in (settings or {}).values()):
            raise InvalidValue(f"--sampler {name} runs each model's own step: it takes no sampler setting")
        if name == TEMPERING:
            return parallel_tempering_samples(model, n, n_steps, generator, base)[0]
        if base is None or not checkpoints:
            raise InvalidValue(f"--sampler {TRAJECTORY_TEMPERING} needs the run's data (its one-site "
                               "model starts the trajectory) and its saved checkpoints")
        return ParallelTempering.trajectory([base, *checkpoints], n, generator).step(n_steps).visible
    return sample(with_sampler(model, name, settings), n, n_steps, generator)
