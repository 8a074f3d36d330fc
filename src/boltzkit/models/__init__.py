"""Model families, all speaking the :class:`~boltzkit.models.base.EnergyModel` interface and the
capabilities of :mod:`boltzkit.models.capabilities`; :mod:`boltzkit.models.registry` names them.

Importing this package registers the built-in families and imports no torch (so that the CLI's
help and argument errors stay fast); the model modules load when a model is built or read, and
the names below on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from boltzkit.models import families  # noqa: F401  (registers the built-in families)

_LAZY = {"Chains": "base", "EnergyModel": "base", "RBM": "rbm", "independent_site_model": "rbm",
         "BERNOULLI": "units", "SPIN": "units", "UnitType": "units"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"boltzkit.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'boltzkit.models' has no attribute {name!r}")
