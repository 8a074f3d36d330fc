"""First and second moments of data vs model samples (MISSION 5): means <x_i> and connected
correlations C_ij = <x_i x_j> - <x_i><x_j> (i < j), with the Pearson r and slope of model vs data;
for categorical (Potts) data the one-site frequencies f_i(a) and C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from boltzkit.data.reweighting import connected_correlations, frequencies


@dataclass(frozen=True)
class MomentComparison:
    """Pearson r and least-squares slope (model on data) of the means and of the C_ij."""

    means_pearson: float
    correlations_pearson: float
    means_slope: float
    correlations_slope: float
    data_means: np.ndarray
    model_means: np.ndarray
    data_correlations: np.ndarray  # the upper-triangle C_ij, i < j
    model_correlations: np.ndarray


def means_and_correlations(x: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Means (n,) and connected correlation matrix (n, n) of samples x of shape (m, n)."""
    x = x.double()
    w = (torch.full((len(x),), 1.0 / len(x), dtype=torch.float64, device=x.device)
         if weights is None else weights.double().to(x.device) / weights.double().sum())
    mean = w @ x
    centered = x - mean
    return mean, (centered * w.unsqueeze(1)).T @ centered


def _pearson_slope(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan"), float("nan")
    da, db = a - a.mean(), b - b.mean()
    return float(np.corrcoef(a, b)[0, 1]), float(np.dot(da, db) / np.dot(da, da))


def compare_moments(data: Tensor, samples: Tensor, data_weights: Tensor | None = None) -> MomentComparison:
    """Compare the moments of ``data`` (m, n) and of model ``samples`` (k, n)."""
    return _comparison(*means_and_correlations(data, data_weights), *means_and_correlations(samples))


def _comparison(data_means: Tensor, data_correlations: Tensor, model_means: Tensor,
                model_correlations: Tensor) -> MomentComparison:
    """Pearson r and slope of the flattened means and of the i < j blocks of the correlations
    (shape (n, n) or (L, L, q, q))."""
    iu = torch.triu_indices(data_correlations.shape[0], data_correlations.shape[0], 1)
    cd, cm = (c[iu[0], iu[1]].reshape(-1).cpu().numpy() for c in (data_correlations, model_correlations))
    md, mm = (m.reshape(-1).cpu().numpy() for m in (data_means, model_means))
    r1, s1 = _pearson_slope(md, mm)
    r2, s2 = _pearson_slope(cd, cm)
    return MomentComparison(r1, r2, s1, s2, md, mm, cd, cm)


# ------------------------------------------------------------------------- categorical (Potts)
def categorical_moments(codes: Tensor, q: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One-site frequencies f_i(a), shape (L, q), and connected correlations
    C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b), shape (L, L, q, q), of codes (M, L) (float64).

    Weighted by ``weights`` (e.g. sequence weights; need not sum to 1), no pseudocount; the
    accumulation is chunked (:func:`boltzkit.data.reweighting.frequencies`).
    """
    codes = codes.long() if isinstance(codes, Tensor) else torch.as_tensor(np.asarray(codes)).long()
    w = None if weights is None else torch.as_tensor(weights).double().cpu()
    fi, fij = frequencies(codes.cpu(), q, w, 0.0, dtype=torch.float64)
    return fi, connected_correlations(fi, fij)


def compare_categorical_moments(data: Tensor, samples: Tensor, q: int,
                                data_weights: Tensor | None = None) -> MomentComparison:
    """Compare the moments of categorical ``data`` (m, L) and model ``samples`` (k, L), codes.

    "Means" are the one-site frequencies f_i(a) (L q values), "correlations" the connected
    correlations C_ij(a, b) for i < j and all q^2 state pairs, gap state included (L(L-1)/2 q^2
    values, in (i, j, a, b) order), as in bmDCA / adabmDCA's Pearson of C_ij. Data are weighted by
    ``data_weights`` (sequence weights), samples uniformly.
    """
    return _comparison(*categorical_moments(data, q, data_weights), *categorical_moments(samples, q))
