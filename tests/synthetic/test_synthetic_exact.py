"""Exact enumeration against closed forms (the oracle must itself be right)."""

import math

import pytest
import torch
from scipy.stats import chi2

from boltzkit.synthetic.exact import ExactDistribution, enumerate_states
from boltzkit.synthetic.hamiltonians import Interactions, PottsHamiltonian, SpinHamiltonian
from boltzkit.synthetic.lattices import chain_bonds


def ising_chain(n: int, coupling: float, periodic: bool) -> SpinHamiltonian:
    bonds = chain_bonds(n, periodic)
    return SpinHamiltonian(torch.zeros(n, dtype=torch.float64),
                           {2: Interactions(bonds, torch.full((len(bonds),), coupling, dtype=torch.float64))})


def test_enumeration_order():
    s = enumerate_states(3, 2)
    assert s.shape == (8, 3) and s[1].tolist() == [0, 0, 1] and s[-1].tolist() == [1, 1, 1]


@pytest.mark.parametrize("beta", [0.3, 1.0])
def test_periodic_ising_chain_transfer_matrix(beta):
    # Transfer matrix, K = beta J, t = tanh K: Z = (2 cosh K)^N + (2 sinh K)^N and
    # <s_i s_i+1> = (t + t^(N-1)) / (1 + t^N).
    n, k = 10, beta * 1.0
    exact = ExactDistribution(ising_chain(n, 1.0, True), beta)
    log_z = math.log((2 * math.cosh(k)) ** n + (2 * math.sinh(k)) ** n)
    t = math.tanh(k)
    assert exact.log_partition == pytest.approx(log_z, abs=1e-12)
    corr = exact.correlations()
    assert float(corr[0, 1]) == pytest.approx((t + t ** (n - 1)) / (1 + t ** n), abs=1e-12)
    assert float(exact.magnetisations().abs().max()) < 1e-12
    assert torch.allclose(corr.diagonal(), torch.ones(n, dtype=torch.float64))


def test_open_potts_chain_partition_function():
    # Open q-state Potts chain, E = -J sum delta(x_i, x_i+1): Z = q (e^(beta J) + q - 1)^(N-1).
    n, q, beta = 6, 3, 0.7
    bonds = chain_bonds(n, False)
    h = PottsHamiltonian(torch.zeros(n, q, dtype=torch.float64), bonds,
                         torch.eye(q, dtype=torch.float64).expand(len(bonds), q, q).clone())
    exact = ExactDistribution(h, beta)
    assert exact.log_partition == pytest.approx(math.log(q * (math.exp(beta) + q - 1) ** (n - 1)), abs=1e-12)
    assert torch.allclose(exact.marginals(), torch.full((n, q), 1 / q, dtype=torch.float64), atol=1e-12)


def test_independent_blume_capel_sites():
    # No couplings: p(s) ∝ exp(beta (h s - D s^2)) per site; marginals in the state order (-1, +1, 0).
    n, beta, field, crystal = 3, 0.8, 0.4, 0.5
    h = SpinHamiltonian(torch.full((n,), field, dtype=torch.float64), {}, "blume-capel",
                        torch.full((n,), crystal, dtype=torch.float64))
    w = torch.tensor([math.exp(beta * (-field - crystal)), math.exp(beta * (field - crystal)), 1.0],
                     dtype=torch.float64)
    marg = ExactDistribution(h, beta).marginals()
    assert torch.allclose(marg, (w / w.sum()).expand(n, 3), atol=1e-12)


def test_exact_samples_pass_a_chi_square_test():
    # i.i.d. draws from the exact distribution: the configuration histogram must be consistent with
    # the probabilities (p-value above 1e-3; a correct sampler fails this 0.1% of the time over seeds,
    # and the seed is fixed).
    exact = ExactDistribution(ising_chain(6, 1.0, True), 0.5)
    codes = exact.sample(20000, torch.Generator().manual_seed(0))
    observed = torch.bincount(exact.configuration_index(codes), minlength=64).double()
    expected = exact.probabilities * 20000
    stat = float(((observed - expected) ** 2 / expected).sum())
    assert chi2.sf(stat, 63) > 1e-3
    assert torch.equal(exact.configuration_index(codes), exact.configuration_index(codes.clone()))
