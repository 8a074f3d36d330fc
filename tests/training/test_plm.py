"""Pseudo-likelihood maximisation (plmDCA) of pairwise Ising and Potts models."""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.training.plm import fit_plm, pseudo_log_likelihood

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def exact_samples(model, n: int, seed: int) -> torch.Tensor:
    """n i.i.d. configurations drawn by enumeration of all states (no MCMC error)."""
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    idx = torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))
    return states[idx]


def ising_9_spins(seed: int = 0) -> IsingModel:
    """J_ij ~ N(0, 0.3²), h_i ~ N(0, 0.1²) on 9 spins (the task's reference setting)."""
    g = torch.Generator().manual_seed(seed)
    j = torch.triu(0.3 * torch.randn(9, 9, generator=g, dtype=torch.float64), 1)
    return IsingModel(0.1 * torch.randn(9, generator=g, dtype=torch.float64), j + j.T)


def coupling_rmse(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    iu = torch.triu_indices(truth.shape[0], truth.shape[0], 1)
    return float((estimate - truth)[iu[0], iu[1]].pow(2).mean().sqrt())


def test_plm_recovers_ising_couplings_at_the_sampling_floor():
    """20000 exact samples: the statistical error of any consistent estimator of the 36 couplings is
    about 1/sqrt(20000 * Fisher information) ~ 0.01; unregularised PLM reaches RMSE ≈ 0.012 here
    (0.012-0.014 over seeds; the default lambda_J = 0.01 adds a shrinkage bias: ≈ 0.016)."""
    truth = ising_9_spins()
    data = exact_samples(truth, 20000, seed=0)
    fit = fit_plm(data, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64)
    rmse = coupling_rmse(fit.couplings, truth.couplings)
    print(f"plm Ising 9 spins, 20000 samples: coupling RMSE = {rmse:.4f}")
    assert rmse < 0.02
    assert torch.allclose(fit.couplings, fit.couplings.T) and float(fit.couplings.diag().abs().max()) == 0
    regularised = fit_plm(data, "ising-bm", dtype=torch.float64)  # lambda_h = lambda_J = 0.01
    assert coupling_rmse(regularised.couplings, truth.couplings) < 0.025


def test_plm_is_consistent_at_its_optimum():
    """Without regularisation, the gradient of the pseudo-likelihood vanishes at the fit: checked
    by finite differences of :func:`pseudo_log_likelihood` in a few directions."""
    truth = ising_9_spins(seed=1)
    data = exact_samples(truth, 2000, seed=1)
    fit = fit_plm(data, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64, tolerance=1e-9)
    base = pseudo_log_likelihood(fit, data)
    for i, j in [(0, 1), (2, 7), (4, 8)]:
        moved = fit.clone()
        moved.couplings[i, j] += 1e-3
        moved.couplings[j, i] += 1e-3
        assert pseudo_log_likelihood(moved, data) <= base + 1e-9


def test_pseudo_log_likelihood_matches_brute_force_conditionals():
    g = torch.Generator().manual_seed(2)
    j = torch.randn(4, 4, 3, 3, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(4), torch.arange(4)] = 0
    model = PottsModel(torch.randn(4, 3, generator=g, dtype=torch.float64), j)
    data = torch.randint(0, 3, (20, 4), generator=g)
    expected = 0.0
    for s in data:
        for i in range(4):
            energies = []
            for a in range(3):
                t = s.clone()
                t[i] = a
                energies.append(-model.energy(t[None].double()))
            log_norm = torch.logsumexp(torch.cat(energies), 0)
            expected += float(energies[int(s[i])] - log_norm)
    assert pseudo_log_likelihood(model, data) == pytest.approx(expected / len(data), abs=1e-10)


def test_ising_pseudo_log_likelihood_is_the_generic_flip_formulation():
    """The Ising pseudo-likelihood of plmDCA is the generic ±1 one (hybrid EBM training), whose
    -softplus(-2 s_i f_i) equals the closed form s_i f_i - log 2cosh f_i and the q = 2 Potts
    conditionals of the same distribution (log-softmax of the local fields); large fields
    (|f| ~ 60) stay finite. float64 throughout: agreement to rounding (1e-12)."""
    from boltzkit.models.pseudo_likelihood import pseudo_log_likelihood as generic

    g = torch.Generator().manual_seed(11)
    model = ising_9_spins(seed=11)
    model.fields[0] = 60.0  # a saturated site: exp(2 f) overflows in a naive log 2cosh
    spins = 2.0 * torch.randint(0, 2, (50, 9), generator=g, dtype=torch.float64) - 1.0
    weights = torch.rand(50, generator=g, dtype=torch.float64)
    f = spins @ model.couplings + model.fields
    closed = (weights / weights.sum()) @ (spins * f - torch.logaddexp(f, -f)).sum(1)
    value = pseudo_log_likelihood(model, spins, weights)
    assert value == pytest.approx(float(closed), abs=1e-12)
    assert value == pytest.approx(float(generic(model, spins, weights)), abs=1e-12)
    codes = ((spins + 1) / 2).long()  # code 1 = spin +1 (IsingModel.to_potts)
    assert value == pytest.approx(pseudo_log_likelihood(model.to_potts(), codes, weights), abs=1e-12)


def test_plm_potts_recovers_zero_sum_couplings():
    g = torch.Generator().manual_seed(3)
    length, q = 5, 3
    j = 0.5 * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    truth = PottsModel(0.3 * torch.randn(length, q, generator=g, dtype=torch.float64), j).zero_sum_gauge()
    data = exact_samples(truth, 20000, seed=3).long()
    fit = fit_plm(data, "potts-bm", q=q, lambda_h=0.0, lambda_J=0.0, dtype=torch.float64)
    jf = fit.couplings
    assert float(jf.sum(2).abs().max()) < 1e-10 and float(jf.sum(3).abs().max()) < 1e-10
    assert torch.allclose(jf, jf.permute(1, 0, 3, 2))
    iu = torch.triu_indices(length, length, 1)
    err = (jf - truth.couplings)[iu[0], iu[1]].pow(2).mean().sqrt()
    scale = truth.couplings[iu[0], iu[1]].pow(2).mean().sqrt()
    assert float(err) < 0.04 and float(err / scale) < 0.15
    assert torch.allclose(fit.fields, truth.fields, atol=0.05)


def test_potts_plm_with_two_states_equals_ising_plm():
    """A q = 2 Potts model in the zero-sum gauge is an Ising model (code 1 = spin +1): without
    regularisation both objectives have the same optimum."""
    truth = ising_9_spins(seed=4)
    spins = exact_samples(truth, 3000, seed=4)
    ising = fit_plm(spins, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64, tolerance=1e-9)
    potts = fit_plm((spins > 0).long(), "potts-bm", q=2, lambda_h=0.0, lambda_J=0.0,
                    dtype=torch.float64, tolerance=1e-9)
    assert torch.allclose(potts.couplings[:, :, 1, 1], ising.couplings, atol=1e-4)
    assert torch.allclose(potts.fields[:, 1], ising.fields, atol=1e-4)


def test_sequence_weights_act_like_repetitions():
    truth = ising_9_spins(seed=5)
    data = exact_samples(truth, 500, seed=5)
    repeated = torch.cat([data, data[:100]])
    weights = torch.ones(500, dtype=torch.float64)
    weights[:100] = 2.0
    a = fit_plm(repeated, "ising-bm", dtype=torch.float64, tolerance=1e-9)
    b = fit_plm(data, "ising-bm", weights=weights, dtype=torch.float64, tolerance=1e-9)
    assert torch.allclose(a.couplings, b.couplings, atol=1e-5)


def test_adam_solver_reaches_the_lbfgs_optimum():
    truth = ising_9_spins(seed=6)
    data = exact_samples(truth, 2000, seed=6)
    lbfgs = fit_plm(data, "ising-bm", dtype=torch.float64)
    adam = fit_plm(data, "ising-bm", solver="adam", max_iter=300, learning_rate=0.05,
                   dtype=torch.float64)
    assert torch.allclose(adam.couplings, lbfgs.couplings, atol=1e-3)


def test_input_validation():
    with pytest.raises(ValueError):
        fit_plm(torch.zeros(5, 3), "ising-bm")  # not ±1
    with pytest.raises(ValueError):
        fit_plm(torch.zeros(5, 3, dtype=torch.long), "potts-rbm")
    with pytest.raises(ValueError):
        fit_plm(torch.full((5, 3), 4), "potts-bm", q=3)
