"""The sampler a command runs: the model's own Monte Carlo step, or one of its variants.

``boltzkit sample --sampler NAME`` (and the report's samples) reach a model's step variants
through the :class:`~boltzkit.models.capabilities.SamplerVariants` capability, never through its
class: ``"gibbs"`` is every model's plain step (block Gibbs for RBMs, sweeps for pairwise models);
the other names are those the model declares (the Gaussian RBM's Gibbs-Langevin samplers,
docs/methods.md section 11.4).
"""

from __future__ import annotations

from typing import Any, Mapping

from boltzkit.errors import InvalidValue
from boltzkit.models.capabilities import SamplerVariants

__all__ = ["with_sampler", "PLAIN_STEP"]

#: The name of every model's own step.
PLAIN_STEP = "gibbs"


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
                               f"step only (--sampler {PLAIN_STEP})")
        if settings:
            flags = ", ".join("--" + k.replace("_", "-") for k in settings)
            raise InvalidValue(f"{flags}: the {model.kind} family's sampler takes no such setting")
        return model
    if name is not None and name not in model.samplers:
        raise InvalidValue(f"--sampler {name}: the {model.kind} family samples with "
                           f"{' | '.join(model.samplers)}")
    return model.with_sampler_options(dict(settings, **({} if name is None else {"sampler": name})))
