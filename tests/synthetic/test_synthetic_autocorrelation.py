"""Integrated autocorrelation time against processes with a known answer."""

import math

import torch

from boltzkit.synthetic.autocorrelation import (autocorrelation_function, effective_sample_size,
                                                integrated_autocorrelation_time)


def ar1(rho: float, n: int, chains: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, chains, generator=g, dtype=torch.float64)
    x = torch.empty_like(noise)
    x[0] = noise[0] / math.sqrt(1 - rho ** 2)  # start in the stationary state
    for t in range(1, n):
        x[t] = rho * x[t - 1] + noise[t]
    return x


def test_ar1_tau_matches_theory():
    # AR(1): rho(t) = rho^t, tau = 1 + 2 rho/(1 - rho) = (1 + rho)/(1 - rho) = 9 for rho = 0.8.
    # 64 chains x 4000 steps: the relative standard error of tau is ~ sqrt(2 W / (n C)) ~ 1.5%
    # (W ~ 45, Sokal 1996 eq. 3.19); 10% tolerance is > 6 sigma.
    tau = integrated_autocorrelation_time(ar1(0.8, 4000, 64, seed=0))
    assert abs(tau - 9.0) < 0.9
    rho = autocorrelation_function(ar1(0.8, 4000, 64, seed=1))
    assert abs(float(rho[1]) - 0.8) < 0.02


def test_independent_records_have_tau_one():
    x = torch.randn(2000, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tau = integrated_autocorrelation_time(x)
    assert abs(tau - 1.0) < 0.1
    assert abs(effective_sample_size(x) - 32000) < 3200


def test_degenerate_traces_give_nan():
    assert math.isnan(integrated_autocorrelation_time(torch.ones(100, 3)))
    assert math.isnan(integrated_autocorrelation_time(torch.randn(3, 5)))
