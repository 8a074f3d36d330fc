"""How well a sampler mixes (docs/methods.md 6.4): integrated autocorrelation times and jumps
between the data's clusters, measured on recorded chain trajectories.

* :func:`autocorrelation` — the normalised autocorrelation ρ(t) of a multivariate series, averaged
  over chains and summed over components (for the visible configuration: Σ_i Cov(x_i(s), x_i(s+t)) /
  Σ_i Var(x_i), the means and variances taken over every chain and time, i.e. at equilibrium);
* :func:`integrated_time` — τ_int = 1 + 2 Σ_{t=1..M} ρ(t) with Sokal's automatic window, the
  smallest M with M >= c τ_int(M) (c = 5);
* :func:`cluster_jumps` — the number of times each chain enters the core of another cluster
  (nearer its centre than half its distance to any other; hysteresis between cores).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["autocorrelation", "integrated_time", "cluster_jumps", "principal_directions", "WINDOW_C"]

#: Sokal's window constant: the sum of ρ(t) stops at the first M >= WINDOW_C * τ_int(M).
WINDOW_C = 5.0


def autocorrelation(series: Tensor) -> Tensor:
    """ρ(t) for t = 0..T-1 of ``series`` of shape (T, n_chains) or (T, n_chains, d), float64: the
    autocovariance at lag t (products of deviations from the overall mean, averaged over the T - t
    pairs of every chain, summed over the d components), divided by its value at t = 0. Computed by
    FFT (zero-padded: no wrap-around). A constant series gives ρ = 1 at t = 0 and 0 after."""
    x = series.double()
    if x.ndim == 2:
        x = x.unsqueeze(-1)
    n = x.shape[0]
    x = x - x.reshape(-1, x.shape[-1]).mean(0)
    size = 1 << (2 * n - 1).bit_length()
    f = torch.fft.rfft(x, n=size, dim=0)
    acov = torch.fft.irfft(f * f.conj(), n=size, dim=0)[:n].sum((1, 2))
    acov = acov / torch.arange(n, 0, -1, dtype=torch.float64)  # the T - t pairs of each lag
    if float(acov[0]) <= 0:
        out = torch.zeros(n, dtype=torch.float64)
        out[0] = 1.0
        return out
    return acov / acov[0]


def integrated_time(rho: Tensor, c: float = WINDOW_C) -> tuple[float, int]:
    """(τ_int, window M) of the autocorrelation ``rho`` (:func:`autocorrelation`), in steps of the
    series; when no window fits in the series (it is too short for its τ), the last lag is used
    and τ is a lower bound."""
    tau = 1.0 + 2.0 * torch.cumsum(rho[1:], 0)
    lags = torch.arange(1, len(rho), dtype=torch.float64)
    fits = torch.nonzero(lags >= c * tau)
    m = int(fits[0]) + 1 if len(fits) else len(rho) - 1
    return (float(tau[m - 1]) if m >= 1 else 1.0), m


def principal_directions(data: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(mean, the first ``k`` principal directions as columns (N, k)) of ``data`` (n, N)."""
    x = data.double()
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k].T


def cluster_jumps(projections: Tensor, centres: Tensor, core: float = 0.5) -> Tensor:
    """Jumps per chain along ``projections`` (T, n_chains, k), shape (n_chains,): how many times a
    chain enters the *core* of another of the ``centres`` (n_clusters, k) than the last one it was
    in. A state is in the core of its nearest centre when its distance to it is at most ``core``
    times its distance to every other centre; states between cores keep the chain's last core
    (hysteresis), so that fluctuations on a boundary are not counted as jumps."""
    distances = torch.cdist(projections.double(), centres.double().expand(projections.shape[0], -1, -1))
    two = distances.topk(2, dim=-1, largest=False) if centres.shape[0] > 1 else None
    if two is None:
        return torch.zeros(projections.shape[1], dtype=torch.long)
    nearest = two.indices[..., 0]
    inside = two.values[..., 0] <= core * two.values[..., 1]
    last = torch.full((projections.shape[1],), -1, dtype=torch.long)
    jumps = torch.zeros(projections.shape[1], dtype=torch.long)
    for t in range(projections.shape[0]):
        entered = inside[t] & (nearest[t] != last)
        jumps += (entered & (last >= 0)).long()
        last = torch.where(inside[t], nearest[t], last)
    return jumps
