"""boltzkit: energy-based models — train, sample, evaluate and interpret them.

The estimators (one per registered model family: ``BernoulliRBM``, ``IsingRBM``, ``PottsRBM``,
``PottsBM``, ``IsingBM``, ``HybridEBM``, ...) and :func:`load` are imported lazily, so that
``import boltzkit`` and ``import boltzkit.data`` stay light (no torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["BernoulliRBM", "IsingRBM", "PottsRBM", "PottsBM", "IsingBM", "HybridEBM", "load"]


def __getattr__(name: str) -> Any:
    from boltzkit.models.registry import families  # plain data: no torch yet

    if name == "load" or any(entry.api_name == name for entry in families()):
        from boltzkit import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'boltzkit' has no attribute {name!r}")
