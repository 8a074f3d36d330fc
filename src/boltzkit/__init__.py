"""boltzkit: energy-based models — train, sample, evaluate and interpret them.

The estimators are imported lazily so that ``import boltzkit.data`` stays light (no torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["BernoulliRBM", "IsingRBM", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from boltzkit import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'boltzkit' has no attribute {name!r}")
