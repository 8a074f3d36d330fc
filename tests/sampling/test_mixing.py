"""Mixing diagnostics against processes whose autocorrelation is known exactly."""

from __future__ import annotations

import math

import pytest
import torch

from boltzkit.sampling.mixing import autocorrelation, cluster_jumps, integrated_time, principal_directions


def ar1(phi: float, steps: int, chains: int, seed: int = 0, dims: int = 1) -> torch.Tensor:
    """Stationary AR(1) chains x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t: rho(t) = phi^t exactly and
    tau_int = (1 + phi) / (1 - phi)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(steps, chains, dims, dtype=torch.float64)
    x[0] = torch.randn(chains, dims, generator=g, dtype=torch.float64)
    scale = math.sqrt(1 - phi * phi)
    for t in range(1, steps):
        x[t] = phi * x[t - 1] + scale * torch.randn(chains, dims, generator=g, dtype=torch.float64)
    return x


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ar1_autocorrelation_and_integrated_time(phi):
    x = ar1(phi, 4000, 50, dims=3)
    rho = autocorrelation(x)
    exact = phi ** torch.arange(20, dtype=torch.float64)
    # 50 chains x 4000 steps: the standard error of rho(t) is about sqrt(tau / 2e5) < 0.01
    torch.testing.assert_close(rho[:20], exact, atol=0.02, rtol=0)
    tau, window = integrated_time(rho)
    expected = (1 + phi) / (1 - phi)
    # the windowed estimate: within 10% (its bias exp(-M / tau) and noise are a few percent)
    assert abs(tau - expected) < 0.1 * expected and window >= 5 * tau - 1


def test_independent_and_constant_series():
    g = torch.Generator().manual_seed(1)
    rho = autocorrelation(torch.randn(2000, 20, generator=g))
    assert float(rho[0]) == 1.0 and float(rho[1:10].abs().max()) < 0.03
    tau, _ = integrated_time(rho)
    assert abs(tau - 1.0) < 0.1
    flat = autocorrelation(torch.ones(100, 3))
    assert float(flat[0]) == 1.0 and float(flat[1:].abs().max()) == 0.0


def test_cluster_jumps_and_principal_directions():
    centres = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    crossing = torch.tensor([[-1.0, 0.1], [-0.9, 0.0], [0.8, 0.0], [0.9, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    # on the boundary: nearest centre flips at every step, but no core is ever entered anew
    flicker = torch.tensor([[-1.0, 0.0], [0.05, 0.0], [-0.05, 0.0], [0.05, 0.0], [-0.05, 0.0]], dtype=torch.float64)
    stay = torch.tensor([[-1.0, 0.0]] * 5, dtype=torch.float64)
    jumps = cluster_jumps(torch.stack([crossing, flicker, stay], 1), centres)
    assert jumps.tolist() == [2, 0, 0]
    g = torch.Generator().manual_seed(2)
    data = torch.randn(500, 3, generator=g, dtype=torch.float64) * torch.tensor([5.0, 1.0, 0.1])
    mean, directions = principal_directions(data, 2)
    assert directions.shape == (3, 2) and abs(float(directions[0, 0].abs()) - 1.0) < 1e-2
