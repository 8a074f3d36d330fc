"""Boltzmann learning (bmDCA) of pairwise models with the generic Trainer: moment matching."""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.base import Chains
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def true_potts(seed: int = 0, length: int = 4, q: int = 3) -> PottsModel:
    g = torch.Generator().manual_seed(seed)
    j = 0.6 * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    return PottsModel(0.5 * torch.randn(length, q, generator=g, dtype=torch.float64), j)


def exact_samples(model, n: int, seed: int) -> torch.Tensor:
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    return states[torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))]


def model_statistics(model):
    """Exact p_i and p_ij of a tiny model, by enumeration."""
    m = model.to(dtype=torch.float64)
    states = m.enumerate_visible()
    return m.data_statistics(states, torch.softmax(-m.energy(states), 0))


def max_moment_error(model, data: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[float, float]:
    f = model.to(dtype=torch.float64).data_statistics(data.double(), weights)
    p = model_statistics(model)
    return float((f.fields - p.fields).abs().max()), float((f.couplings - p.couplings).abs().max())


def test_exact_boltzmann_learning_reaches_moment_matching():
    data = exact_samples(true_potts(), 3000, seed=0).float()
    g = torch.Generator().manual_seed(1)
    weights = 0.5 + torch.rand(len(data), generator=g, dtype=torch.float64)  # sequence weights
    model = PottsModel.init_from_data(data, 3, weights)
    config = TrainingConfig(method="exact", n_updates=400, batch_size=len(data), learning_rate=0.05,
                            optimizer="adam", n_checkpoints=1)
    trainer = Trainer(model, data, config, weights)
    assert trainer.data_statistics is not None  # full batch: data statistics computed once
    trainer.run()
    err_i, err_ij = max_moment_error(model, data, weights)
    assert err_i < 1e-3 and err_ij < 1e-3
    j = model.couplings
    assert torch.allclose(j, j.permute(1, 0, 3, 2))
    assert float(j[torch.arange(4), torch.arange(4)].abs().max()) == 0.0


def test_pcd_boltzmann_learning_converges_to_moment_matching():
    """bmDCA proper: persistent Gibbs chains for the model term, full-batch reweighted data term.
    With 1000 chains the Monte Carlo error of a pair frequency is ~ sqrt(p(1-p)/1000) ≈ 0.015, so
    the exact moments of the learned model must agree with the data to a few hundredths (0.011
    here)."""
    truth = true_potts(seed=2)
    data = exact_samples(truth, 5000, seed=2).float()
    g = torch.Generator().manual_seed(3)
    weights = 0.5 + torch.rand(len(data), generator=g, dtype=torch.float64)
    model = PottsModel.init_from_data(data, 3, weights)
    start_i, start_ij = max_moment_error(model, data, weights)
    config = TrainingConfig(method="pcd", n_updates=150, batch_size=len(data), n_chains=1000,
                            gibbs_steps=2, learning_rate=0.5, optimizer="sgd", n_checkpoints=1,
                            seed=4)
    Trainer(model, data, config, weights).run()
    err_i, err_ij = max_moment_error(model, data, weights)
    assert start_ij > 0.05
    assert err_i < 0.03 and err_ij < 0.03
    # the learned couplings are close to the generating ones (zero-sum gauge for comparison)
    learned = model.to(dtype=torch.float64).zero_sum_gauge().couplings
    true_j = truth.zero_sum_gauge().couplings
    assert float((learned - true_j).abs().max()) < 0.25


def test_l2_on_couplings_shifts_the_fixed_point():
    """With the trainer's l2 applied to the couplings (``penalized_parameters``), the stationary point
    is f_ij - p_ij = l2 J_ij while the fields still match f_i = p_i."""
    data = exact_samples(true_potts(seed=5), 2000, seed=5).float()
    model = PottsModel.init_from_data(data, 3)
    l2 = 0.05
    config = TrainingConfig(method="exact", n_updates=600, batch_size=len(data), learning_rate=0.02,
                            optimizer="adam", l2=l2, n_checkpoints=1)
    Trainer(model, data, config).run()
    f = model.to(dtype=torch.float64).data_statistics(data.double())
    p = model_statistics(model)
    assert float((f.fields - p.fields).abs().max()) < 1e-3
    residual = (f.couplings - p.couplings) - l2 * model.couplings.double()
    residual[torch.arange(4), torch.arange(4)] = 0
    assert float(residual.abs().max()) < 1e-3
    assert float(model.couplings.abs().max()) > 0.1  # the penalty is not trivially satisfied


def test_ising_boltzmann_learning_with_metropolis_chains():
    g = torch.Generator().manual_seed(6)
    j = torch.triu(0.4 * torch.randn(6, 6, generator=g, dtype=torch.float64), 1)
    truth = IsingModel(0.2 * torch.randn(6, generator=g, dtype=torch.float64), j + j.T)
    data = exact_samples(truth, 5000, seed=6).float()
    model = IsingModel.init_from_data(data, sampler="metropolis")
    config = TrainingConfig(method="pcd", n_updates=300, batch_size=len(data), n_chains=1000,
                            gibbs_steps=2, learning_rate=0.3, optimizer="sgd", n_checkpoints=1)
    Trainer(model, data, config).run()
    # ±1 moments: twice the {0,1} frequencies' scale; MC error of <s_i> with 1000 chains ≈ 0.03
    err_i, err_ij = max_moment_error(model, data)
    assert err_i < 0.08 and err_ij < 0.08


def test_gradient_from_cached_statistics_equals_gradient_from_data():
    model = true_potts(seed=7)
    data = exact_samples(model, 500, seed=7)
    weights = torch.rand(500, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    chains = Chains(model.init_chains(50, torch.Generator().manual_seed(9)).visible)
    direct = model.log_likelihood_gradient(data, chains, weights)
    cached = model.log_likelihood_gradient(model.data_statistics(data, weights), chains)
    for name in direct:
        assert torch.equal(direct[name], cached[name])
