"""Autocorrelation of Monte Carlo traces: is the sampler thermalised and are the samples decorrelated?

Convention: the integrated autocorrelation time is ``tau = 1 + 2 sum_{t>=1} rho(t)``, so that
independent records have tau = 1 and a trace of n records is worth n / tau independent ones (the
effective sample size). Some authors quote tau/2 instead (Sokal, "Monte Carlo methods in statistical
mechanics", 1996, section 3, defines tau_int = 1/2 + sum rho(t)); ours is twice that.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["autocorrelation_function", "integrated_autocorrelation_time", "effective_sample_size"]


def autocorrelation_function(trace: Tensor) -> Tensor:
    """Normalised autocorrelation rho(t), averaged over chains.

    Parameters
    ----------
    trace : Tensor of shape (T,) or (T, C)
        T successive records of an observable for C chains.

    Returns
    -------
    Tensor of shape (T,), float64, with rho(0) = 1 (all NaN when the trace is constant).

    Notes
    -----
    The trace is centred on the mean over *all* chains and times, not per chain: chains stuck in
    different regions (e.g. the two magnetised states of a ferromagnet) then show up as a slowly
    decaying rho, which is the honest diagnosis. The autocovariance uses the biased estimator
    (division by T), computed by FFT with zero padding.
    """
    x = trace.double().reshape(trace.shape[0], -1)  # (T, C), C = 1 for a single trace
    n = x.shape[0]
    x = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    f = torch.fft.rfft(x, n=size, dim=0)
    acov = torch.fft.irfft(f * f.conj(), n=size, dim=0)[:n].mean(1) / n
    if acov[0] <= 0:
        return torch.full((n,), float("nan"), dtype=torch.float64)
    return acov / acov[0]


def integrated_autocorrelation_time(trace: Tensor, window_factor: float = 5.0) -> float:
    """Integrated autocorrelation time with Sokal's automatic window.

    tau(W) = 1 + 2 sum_{t=1}^{W} rho(t), with W the smallest lag such that W >= window_factor * tau(W)
    (Sokal 1996; ``window_factor`` 5 as in emcee).

    Parameters
    ----------
    trace : Tensor of shape (T,) or (T, C)
    window_factor : float

    Returns
    -------
    float
        tau in units of the record spacing (1 for independent records). NaN when T < 4 or the trace
        is constant. When no window satisfies the criterion, the estimate at the largest lag is
        returned (a lower bound: the trace is too short).
    """
    if trace.shape[0] < 4:
        return float("nan")
    rho = autocorrelation_function(trace)
    if torch.isnan(rho[0]):
        return float("nan")
    taus = 1.0 + 2.0 * torch.cumsum(rho[1:], 0)  # taus[W-1] = tau(W)
    lags = torch.arange(1, len(rho), dtype=torch.float64)
    ok = torch.nonzero(lags >= window_factor * taus)
    w = int(ok[0, 0]) if len(ok) else len(taus) - 1
    return max(float(taus[w]), math.ulp(1.0))


def effective_sample_size(trace: Tensor, window_factor: float = 5.0) -> float:
    """Number of records divided by tau (records times chains for a (T, C) trace)."""
    return math.prod(trace.shape[:2]) / integrated_autocorrelation_time(trace, window_factor)  # NaN stays NaN
