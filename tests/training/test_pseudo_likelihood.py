"""Pseudo-likelihood of any ±1 energy: batched flips against brute force, gradients against the closed
form and finite differences, consistency on the exact distribution, and recovery of the couplings of
a pairwise model at the sampling floor (the sandwich covariance of the estimator) from exact samples."""

from __future__ import annotations

import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.models.hybrid import HybridEBM
from boltzkit.models.units import SPIN
from boltzkit.synthetic.exact import ExactDistribution
from boltzkit.synthetic.hamiltonians import Interactions, SpinHamiltonian
from boltzkit.models.pseudo_likelihood import flip_energy_differences, pseudo_log_likelihood
from boltzkit.training.pseudo_likelihood import (PseudoLikelihoodConfig, fit_pseudo_likelihood,
                                                 pairwise_pl_gradient)


class EnergyOnly:
    """A model that only has an energy: the generic (M (N+1), N) path."""

    def __init__(self, model):
        self.model = model

    def free_energy(self, s):
        return self.model.free_energy(s)


def hybrid(n=6, hidden=(5,), seed=0) -> HybridEBM:
    model = HybridEBM(n, hidden, "tanh", seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 10)
    J = 0.5 * torch.randn(n, n, generator=gen, dtype=torch.float64)
    model.couplings.copy_((J + J.T).fill_diagonal_(0))
    model.fields.copy_(0.3 * torch.randn(n, generator=gen, dtype=torch.float64))
    return model


def test_generic_flips_equal_the_model_flip_trick():
    model = hybrid()
    s = SPIN.random((30, 6), torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(flip_energy_differences(EnergyOnly(model), s), model.flip_energy_differences(s))


def test_pseudo_likelihood_is_the_sum_of_conditional_log_probabilities():
    model = hybrid(5)
    s = SPIN.random((7, 5), torch.Generator().manual_seed(2), dtype=torch.float64)
    expected = 0.0
    for x in s:
        for i in range(5):
            both = x.repeat(2, 1)
            both[1, i] = -x[i]
            expected += float(torch.log_softmax(-model.free_energy(both), 0)[0])
    assert float(pseudo_log_likelihood(model, s)) == pytest.approx(expected / 7, abs=1e-12)


def test_autograd_gradient_equals_the_pairwise_closed_form():
    model = HybridEBM(7, neural=False, dtype=torch.float64)
    J = torch.randn(7, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    model.couplings.copy_((J + J.T).fill_diagonal_(0) * 0.3)
    model.fields.normal_(0, 0.3, generator=torch.Generator().manual_seed(4))
    s = SPIN.random((50, 7), torch.Generator().manual_seed(5), dtype=torch.float64)
    w = torch.rand(50, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    for p in model.parameters().values():
        p.requires_grad_(True)
    gh, gJ = torch.autograd.grad(pseudo_log_likelihood(model, s, w), [model.fields, model.couplings])
    ch, cJ = pairwise_pl_gradient(model.fields.detach(), model.couplings.detach(), s, w)
    torch.testing.assert_close(gh, ch)
    torch.testing.assert_close(gJ + gJ.T, cJ)  # per pair: J_ij and J_ji move together


def test_hybrid_gradient_matches_finite_differences():
    model = hybrid(5, hidden=(4, 3), seed=7)
    s = SPIN.random((20, 5), torch.Generator().manual_seed(8), dtype=torch.float64)
    params = model.parameters()
    for p in params.values():
        p.requires_grad_(True)
    grads = dict(zip(params, torch.autograd.grad(pseudo_log_likelihood(model, s), list(params.values()))))
    eps = 1e-6
    with torch.no_grad():
        for name, tensor in params.items():
            flat = tensor.view(-1)
            for k in {0, flat.numel() // 2, flat.numel() - 1}:
                if name == "couplings" and k % 6 == 0:
                    continue  # diagonal: not a parameter of the energy
                old = float(flat[k])
                flat[k] = old + eps
                up = float(pseudo_log_likelihood(model, s))
                flat[k] = old - eps
                down = float(pseudo_log_likelihood(model, s))
                flat[k] = old
                assert float(grads[name].reshape(-1)[k]) == pytest.approx((up - down) / (2 * eps), abs=1e-7), name


def pairwise_truth(n=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pairs = torch.combinations(torch.arange(n), 2)
    J = 0.3 * torch.randn(len(pairs), generator=gen, dtype=torch.float64)
    h = 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    return SpinHamiltonian(h, {2: Interactions(pairs, J)}, "ising")


def sandwich_floor(truth: SpinHamiltonian, dist: ExactDistribution) -> float:
    """Expected ||J_hat - J||_F^2 * M of the PL estimator: trace of A^-1 B A^-1 over the couplings,
    with A the Hessian of the expected PL and B the covariance of the per-sample gradient at the truth."""
    n = truth.n_sites
    iu = torch.triu_indices(n, n, 1)
    S, p = dist.values, dist.probabilities

    def per_sample_gradient(theta):
        J = torch.zeros(n, n, dtype=torch.float64)
        J[iu[0], iu[1]] = theta[n:]
        r = S - torch.tanh(theta[:n] + S @ (J + J.T))
        return torch.cat([r, r[:, iu[0]] * S[:, iu[1]] + r[:, iu[1]] * S[:, iu[0]]], 1)

    theta = torch.cat([truth.fields, truth.interactions[2].values])
    G = per_sample_gradient(theta)
    B = (G * p[:, None]).T @ G
    A_inv = torch.linalg.inv(-torch.autograd.functional.jacobian(lambda t: p @ per_sample_gradient(t), theta))
    return float((A_inv @ B @ A_inv).diagonal()[n:].sum())


def test_pairwise_pl_is_consistent_on_the_exact_distribution():
    truth = pairwise_truth()
    dist = ExactDistribution(truth, 1.0)
    model = HybridEBM(9, neural=False, dtype=torch.float64)
    config = PseudoLikelihoodConfig(n_epochs=150, batch_size=512, learning_rate=0.05, l2_couplings=0.0)
    fit_pseudo_likelihood(model, dist.values, config, data_weights=dist.probabilities)
    torch.testing.assert_close(model.couplings, truth.pair_matrix(), atol=1e-3, rtol=0)
    torch.testing.assert_close(model.fields, truth.fields, atol=1e-3, rtol=0)


def test_pairwise_pl_recovers_couplings_at_the_sampling_floor():
    truth = pairwise_truth()
    dist = ExactDistribution(truth, 1.0)
    trace = sandwich_floor(truth, dist)
    J = truth.pair_matrix()
    for m in (2000, 8000):
        samples = dist.sample(m, torch.Generator().manual_seed(1)).double()
        model = HybridEBM(9, neural=False, dtype=torch.float64)
        # full batch: Adam then converges to the optimum of the empirical PL (the estimator itself)
        config = PseudoLikelihoodConfig(n_epochs=150, batch_size=m, learning_rate=0.05, l2_couplings=0.0)
        fit_pseudo_likelihood(model, samples, config)
        error = float((model.couplings - J).norm() / J.norm())
        floor = (2 * trace / m) ** 0.5 / float(J.norm())  # the dense norm counts each pair twice
        print(f"\nM={m}: relative error {error:.4f}, sampling floor {floor:.4f}")
        assert 0.5 * floor < error < 1.6 * floor


def test_hybrid_fit_writes_a_loadable_run_file(tmp_path):
    truth = pairwise_truth(6, seed=3)
    samples = ExactDistribution(truth, 1.0).sample(600, torch.Generator().manual_seed(4)).double()
    model = HybridEBM(6, hidden=16, seed=1, dtype=torch.float64)
    config = PseudoLikelihoodConfig(n_epochs=4, batch_size=100, learning_rate=0.01, n_checkpoints=2)
    result = fit_pseudo_likelihood(model, samples, config, validation=samples[:100], out=tmp_path / "run.h5")
    assert [e["epoch"] for e in result.history] == [1, 2, 3, 4]
    assert result.history[-1]["pseudo_log_likelihood"] > result.history[0]["pseudo_log_likelihood"]
    assert trajectory.checkpoint_updates(tmp_path / "run.h5") == [2, 4]
    loaded = trajectory.load_model(tmp_path / "run.h5")
    torch.testing.assert_close(loaded.free_energy(samples), model.free_energy(samples))
    assert not any(p.requires_grad for p in model.parameters().values())


def test_rejects_non_spin_data():
    with pytest.raises(BoltzkitError, match="±1"):
        fit_pseudo_likelihood(HybridEBM(3, neural=False), torch.zeros(5, 3))
