"""How close are inferred couplings to the true ones? (controlled experiments, MISSION.md section 6)

The reconstruction error of Feinauer & Lucibello (arXiv:2012.06625; docs/methods.md sections 2.3, 5.2)::

    epsilon = sqrt( sum_{i<j} (J_true_ij - J_hat_ij)^2 / sum_{i<j} J_true_ij^2 )

and the root-mean-square error over all entries (including the pairs whose true coupling is zero, as
in the Blume-Capel reference function). The same is computed per interaction order for
higher-order couplings given as sparse (indices, values) lists.

**Normalisation.** ``normalization="relative"`` divides by the truth *as given*: pass beta-scaled
true couplings (``boltzkit.synthetic.ground_truth(path)``, the default) to compare with couplings
inferred from samples of exp(-beta E). Beware (docs/methods.md section 1.6): the SciPost reference notebook
divides by the sum of squares of the *unscaled* ±1 couplings while the numerator uses beta * J, so its
Delta = 0.02 at beta = 0.2 corresponds to a relative error of about 0.10 in our sense. To reproduce that
number use ``normalization="reference"`` with ``reference=`` the unscaled couplings;
``normalization="none"`` gives the plain Euclidean distance.

Potts couplings (N, N, q, q) are compared entry by entry; both sides must be in the same gauge
(e.g. zero-sum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError

__all__ = ["NORMALIZATIONS", "ReconstructionError", "pair_entries", "reconstruction_error", "rmse",
           "errors_by_order"]

NORMALIZATIONS = ("relative", "reference", "none")


def _tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def pair_entries(couplings: Any) -> Tensor:
    """The i<j entries of a dense coupling matrix.

    Parameters
    ----------
    couplings : array of shape (N, N) or (N, N, q, q)
        Dense symmetric couplings (the diagonal is ignored).

    Returns
    -------
    Tensor of shape (N(N-1)/2,) or (N(N-1)/2, q, q), float64, in row-major order of (i, j).
    """
    c = _tensor(couplings)
    if c.ndim < 2 or c.shape[0] != c.shape[1]:
        raise BoltzkitError(f"dense couplings must have shape (N, N, ...), got {tuple(c.shape)}")
    i, j = torch.triu_indices(c.shape[0], c.shape[0], offset=1)
    return c[i, j]


def _values(x: Any) -> Tensor:
    """Dense (N, N[, q, q]) -> i<j entries; anything else -> flat values as given."""
    t = _tensor(x)
    return (pair_entries(t) if t.ndim in (2, 4) and t.shape[0] == t.shape[1] else t).reshape(-1)


def reconstruction_error(true: Any, inferred: Any, normalization: str = "relative",
                         reference: Any | None = None) -> float:
    """epsilon = ||J_true - J_hat|| / ||denominator|| over the i<j pairs.

    Parameters
    ----------
    true, inferred : array of shape (N, N), (N, N, q, q) or (m,) / (m, ...)
        Dense coupling matrices (their i<j entries are used) or matching flat lists of coupling
        values (e.g. the values of one interaction order on the same index list).
    normalization : {"relative", "reference", "none"}
        "relative": denominator sum J_true^2 (the truth as given; pass beta-scaled truth when J_hat is
        inferred from samples at inverse temperature beta). "reference": denominator sum reference^2
        (e.g. the unscaled couplings, as in the SciPost notebook; see the module docstring). "none":
        no denominator (Euclidean distance).
    reference : array, optional
        Same layout as ``true``; required for ``normalization="reference"``.

    Returns
    -------
    float
        NaN when the denominator is zero.
    """
    if normalization not in NORMALIZATIONS:
        raise BoltzkitError(f"unknown normalization {normalization!r}; expected one of {', '.join(NORMALIZATIONS)}")
    t, h = _values(true), _values(inferred)
    if t.shape != h.shape:
        raise BoltzkitError(f"true and inferred couplings differ in shape: {tuple(t.shape)} vs {tuple(h.shape)}")
    numerator = float(((t - h) ** 2).sum())
    if normalization == "none":
        return math.sqrt(numerator)
    if normalization == "reference":
        if reference is None:
            raise BoltzkitError("normalization='reference' needs the reference couplings")
        r = _values(reference)
        if r.shape != t.shape:
            raise BoltzkitError(f"reference couplings have shape {tuple(r.shape)}, expected {tuple(t.shape)}")
        denominator = float((r ** 2).sum())
    else:
        denominator = float((t ** 2).sum())
    return math.sqrt(numerator / denominator) if denominator > 0 else float("nan")


def rmse(true: Any, inferred: Any) -> float:
    """Root-mean-square error over all i<j entries (dense input) or all given values (flat input)."""
    t, h = _values(true), _values(inferred)
    if t.shape != h.shape:
        raise BoltzkitError(f"true and inferred couplings differ in shape: {tuple(t.shape)} vs {tuple(h.shape)}")
    if t.numel() == 0:
        return float("nan")
    return math.sqrt(float(((t - h) ** 2).mean()))


@dataclass(frozen=True)
class ReconstructionError:
    """Errors of one interaction order.

    Attributes
    ----------
    order : int
        1 for fields, 2 for pairs, ...
    epsilon : float
        Relative error (normalisation as requested).
    rmse : float
        Over the union of the true and inferred terms (a term absent on one side counts as 0 there).
    n_terms : int
        Size of that union.
    """

    order: int
    epsilon: float
    rmse: float
    n_terms: int


def _as_dict(terms: tuple[Any, Any]) -> dict[tuple[int, ...], Tensor]:
    """Sparse (indices, values) as {sorted site tuple: value}, duplicate terms summed."""
    out: dict[tuple[int, ...], Tensor] = {}
    rows = torch.sort(_tensor(terms[0]).long(), dim=1).values.tolist()
    for row, v in zip(rows, _tensor(terms[1])):
        key = tuple(row)
        out[key] = out[key] + v if key in out else v.clone()
    return out


def errors_by_order(true: Mapping[int, tuple[Any, Any]], inferred: Mapping[int, tuple[Any, Any]],
                    normalization: str = "relative", true_fields: Any | None = None,
                    inferred_fields: Any | None = None,
                    reference: Mapping[int, tuple[Any, Any]] | None = None) -> dict[int, ReconstructionError]:
    """Reconstruction errors per interaction order for sparse couplings.

    Parameters
    ----------
    true, inferred : mapping order -> (indices (m, k), values (m,) or (m, q, q))
        Couplings as stored in ``truth/order_k`` (``GroundTruth.couplings`` has this layout). Terms are
        matched by their site set (order within a row does not matter); a term present on one side
        only counts as zero on the other.
    normalization : {"relative", "reference", "none"}
        See :func:`reconstruction_error`.
    true_fields, inferred_fields : array of shape (N,) or (N, q), optional
        Also report order 1 (fields).
    reference : mapping like ``true``, optional
        Denominator couplings for ``normalization="reference"`` (same index lists as ``true``).

    Returns
    -------
    dict order -> ReconstructionError
    """
    results: dict[int, ReconstructionError] = {}
    if true_fields is not None and inferred_fields is not None:
        t, h = _tensor(true_fields), _tensor(inferred_fields)
        results[1] = ReconstructionError(1, reconstruction_error(t.reshape(-1), h.reshape(-1),
                                                                 "none" if normalization == "none" else "relative"),
                                         rmse(t.reshape(-1), h.reshape(-1)), int(t.shape[0]))
    for k in sorted(set(true) | set(inferred)):
        tdict = _as_dict(true[k]) if k in true else {}
        hdict = _as_dict(inferred[k]) if k in inferred else {}
        keys = sorted(set(tdict) | set(hdict))
        if not keys:
            continue
        zero = torch.zeros_like(next(iter((tdict or hdict).values())))
        t = torch.stack([tdict.get(key, zero) for key in keys])
        h = torch.stack([hdict.get(key, zero) for key in keys])
        ref = None
        if normalization == "reference":
            if reference is None or k not in reference:
                raise BoltzkitError(f"normalization='reference' needs reference couplings of order {k}")
            rdict = _as_dict(reference[k])
            ref = torch.stack([rdict.get(key, zero) for key in keys])
        results[k] = ReconstructionError(k, reconstruction_error(t, h, normalization, ref), rmse(t, h), len(keys))
    return results
