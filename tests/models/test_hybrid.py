"""Hybrid pairwise + neural-network EBM: energy, single-flip differences, sampling against the exact
distribution, autograd likelihood gradient, storage through the run file, effective couplings."""

from __future__ import annotations

import pytest
import torch

from boltzkit.interpret.rbm_couplings import model_couplings
from boltzkit.io import trajectory
from boltzkit.models.base import Chains, EnergyModel
from boltzkit.models.hybrid import HybridEBM
from boltzkit.models.units import SPIN


def make(n=6, hidden=(8,), pairwise=True, neural=True, activation="silu", seed=0) -> HybridEBM:
    model = HybridEBM(n, hidden, activation, pairwise, neural, seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 100)
    if pairwise:
        J = 0.4 * torch.randn(n, n, generator=gen, dtype=torch.float64)
        model.couplings.copy_((J + J.T).fill_diagonal_(0.0))
        model.fields.copy_(0.3 * torch.randn(n, generator=gen, dtype=torch.float64))
    return model


def test_energy_is_pairwise_plus_network():
    model = make()
    s = SPIN.enumerate(6)
    J, h = model.couplings, model.fields
    pair = -(s @ h) - torch.stack([sum(J[i, j] * x[i] * x[j] for i in range(6) for j in range(i + 1, 6)) for x in s])
    torch.testing.assert_close(model.free_energy(s), pair + model.network(s))
    assert isinstance(model, EnergyModel)
    assert set(model.parameters()) == {"fields", "couplings", "network.0.weight", "network.0.bias",
                                       "network.2.weight"}


@pytest.mark.parametrize("pairwise,neural,hidden", [(True, True, (8,)), (True, False, (8,)), (False, True, (5, 7))])
def test_flip_differences_equal_brute_force(pairwise, neural, hidden):
    model = make(7, hidden, pairwise, neural, activation="tanh")
    s = SPIN.random((20, 7), torch.Generator().manual_seed(1), dtype=torch.float64)
    flipped = s[:, None, :] * (1 - 2 * torch.eye(7, dtype=torch.float64))[None]
    expected = model.free_energy(flipped.reshape(-1, 7)).view(20, 7) - model.free_energy(s)[:, None]
    torch.testing.assert_close(model.flip_energy_differences(s), expected)


def test_heat_bath_sweeps_sample_the_boltzmann_distribution():
    model = make(4, (6,), seed=2)
    states = SPIN.enumerate(4)
    p = torch.softmax(-model.free_energy(states), 0)
    assert float(p.max()) < 0.5  # a non-trivial distribution
    gen = torch.Generator().manual_seed(3)
    chains = model.init_chains(5_000, gen)
    for _ in range(20):
        chains = model.sample_step(chains, gen)
    # SPIN.enumerate: state index = sum_i bit_i 2^(3-i) with bit = (1+s)/2 (site 0 most significant)
    codes = (((1 + chains.visible) / 2) * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
    empirical = torch.bincount(codes, minlength=16).double() / len(codes)
    assert float((empirical - p).abs().sum() / 2) < 0.05  # total variation (sampling noise ~0.02)


def test_log_likelihood_gradient_matches_finite_differences():
    model = make(5, (4,), seed=4)
    states = model.enumerate_visible()
    data = states[torch.randint(0, 32, (40,), generator=torch.Generator().manual_seed(5))]

    def log_likelihood(m):
        e = m.free_energy(states)
        return float(-m.free_energy(data).mean() - torch.logsumexp(-e, 0))

    exact = Chains(states, None, torch.softmax(-model.free_energy(states), 0).detach())
    grads = model.log_likelihood_gradient(data, exact)
    eps = 1e-6
    for name in ("fields", "network.0.weight", "network.2.weight"):
        tensor = model.parameters()[name]
        flat = tensor.view(-1)
        for k in (0, flat.numel() - 1):
            old = float(flat[k])
            with torch.no_grad():
                flat[k] = old + eps
            up = log_likelihood(model)
            with torch.no_grad():
                flat[k] = old - eps
            down = log_likelihood(model)
            with torch.no_grad():
                flat[k] = old
            assert float(grads[name].view(-1)[k]) == pytest.approx((up - down) / (2 * eps), abs=1e-7)


def test_saved_and_loaded_through_a_run_file(tmp_path):
    model = make(6, (5, 3), seed=6)
    path = tmp_path / "run.h5"
    trajectory.create(path, {"model": model.config(), "training": {}})
    trajectory.append(path, 1, model.parameters(), 0.0, 0.1, checkpoint=True)
    loaded = trajectory.load_model(path)
    assert isinstance(loaded, HybridEBM) and loaded.hidden == [5, 3]
    s = SPIN.enumerate(6)
    torch.testing.assert_close(loaded.free_energy(s), model.free_energy(s))


def test_effective_couplings_are_explicit_plus_network_part():
    model = make(8, (16,), seed=7)
    eff = model_couplings(model, orders=2, method="exact")
    network_only = model_couplings(make(8, (16,), pairwise=False, seed=7), orders=2, method="exact")
    torch.testing.assert_close(eff.pair_matrix(), model.couplings + network_only.pair_matrix())
    pairwise_only = model_couplings(make(8, pairwise=True, neural=False, seed=7), orders=2)
    torch.testing.assert_close(pairwise_only.pair_matrix(), model.couplings)


def test_needs_a_part():
    with pytest.raises(ValueError):
        HybridEBM(4, pairwise=False, neural=False)
