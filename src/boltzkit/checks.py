"""Argument checks at the API doors: one-line errors that name the argument as the user typed it.

Every public entry (the training entry, the estimators, evaluate, sample, the interpretation
commands) checks its numeric arguments here before any work: finite, of the right type, in
range. ``name`` is what the user typed: the CLI flag, with the Python parameter after it when
they differ (``"--updates (n_updates)"``), so that both kinds of users recognise it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from boltzkit.errors import InvalidValue

__all__ = ["integer", "number", "choice", "all_finite"]


def integer(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum]; a one-line :class:`InvalidValue` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            isinstance(value, float) and value.is_integer()):
        raise InvalidValue(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidValue(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidValue(f"{name} must be <= {maximum}, got {value}")
    return value


def number(value: Any, name: str, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within the bounds (open ones excluded)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise InvalidValue(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise InvalidValue(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InvalidValue(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}")
    return value


def choice(value: Any, name: str, options: Iterable[str]) -> str:
    options = tuple(options)
    if value not in options:
        raise InvalidValue(f"{name} must be one of {' | '.join(options)}, got {value!r}")
    return value


def all_finite(tensors: Iterable[Any]) -> bool:
    """Whether every tensor holds only finite values, from one sum per tensor (a NaN or an infinity
    anywhere makes its sum non-finite; so would a sum beyond the dtype's range, which is no
    trained model either). Cheap enough to run after every training update."""
    return all(bool(t.detach().sum().isfinite()) for t in tensors)
