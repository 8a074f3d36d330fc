"""Pairwise Potts and Ising models: energies, gauge, Gibbs/Metropolis sampling, gradient, registry."""

from __future__ import annotations

import itertools

import pytest
import torch
from scipy.stats import chisquare

from boltzkit.data.reweighting import frequencies
from boltzkit.models.base import Chains
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.models.registry import model_from_config
from boltzkit.sampling.gibbs import run_chains

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def random_potts(length: int, q: int, coupling_scale: float = 0.5, field_scale: float = 0.5,
                 seed: int = 0) -> PottsModel:
    g = torch.Generator().manual_seed(seed)
    h = field_scale * torch.randn(length, q, generator=g, dtype=torch.float64)
    j = coupling_scale * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    return PottsModel(h, j)


def random_ising(n: int, coupling_scale: float = 0.4, field_scale: float = 0.3, seed: int = 0) -> IsingModel:
    g = torch.Generator().manual_seed(seed)
    j = torch.triu(coupling_scale * torch.randn(n, n, generator=g, dtype=torch.float64), 1)
    return IsingModel(field_scale * torch.randn(n, generator=g, dtype=torch.float64), j + j.T)


def loop_energy_potts(model: PottsModel, s: list[int]) -> float:
    e = -sum(float(model.fields[i, s[i]]) for i in range(len(s)))
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            e -= float(model.couplings[i, j, s[i], s[j]])
    return e


def exact_probabilities(model) -> tuple[torch.Tensor, torch.Tensor]:
    states = model.enumerate_visible()
    return states, torch.softmax(-model.energy(states), 0)


def state_index(x: torch.Tensor, q: int) -> torch.Tensor:
    powers = q ** torch.arange(x.shape[1] - 1, -1, -1)
    return (x.long() * powers).sum(1)


def test_potts_energy_matches_the_definition_and_log_partition_the_sum():
    model = random_potts(4, 3)
    states = model.enumerate_visible()
    loops = torch.tensor([loop_energy_potts(model, [int(a) for a in s]) for s in states],
                         dtype=torch.float64)
    assert torch.allclose(model.energy(states), loops, atol=1e-12)
    assert model.log_partition_exact() == pytest.approx(float(torch.logsumexp(-loops, 0)), abs=1e-12)
    # local fields: -E changes by field(a) - field(s_i) when site i goes to state a
    lf = model.local_fields(states[:7])
    for k in range(7):
        s = states[k].clone()
        for a in range(3):
            t = s.clone()
            t[2] = a
            delta = -model.energy(t[None]) + model.energy(s[None])
            assert float(delta) == pytest.approx(float(lf[k, 2, a] - lf[k, 2, int(s[2])]), abs=1e-12)


def test_ising_energy_and_equivalent_potts_model():
    ising = random_ising(5)
    spins = ising.enumerate_visible()
    loops = torch.tensor([-float(ising.fields @ s) - sum(float(ising.couplings[i, j] * s[i] * s[j])
                                                         for i in range(5) for j in range(i + 1, 5))
                          for s in spins], dtype=torch.float64)
    assert torch.allclose(ising.energy(spins), loops, atol=1e-12)
    potts = ising.to_potts()
    codes = (spins > 0).double()
    assert torch.allclose(potts.energy(codes), ising.energy(spins), atol=1e-12)
    assert potts.log_partition_exact() == pytest.approx(ising.log_partition_exact(), abs=1e-12)


def test_ising_flip_energy_differences():
    ising = random_ising(5, seed=11)
    spins = ising.enumerate_visible()[:9]
    delta = ising.flip_energy_differences(spins)
    for i in range(5):
        flipped = spins.clone()
        flipped[:, i] *= -1
        assert torch.allclose(delta[:, i], ising.energy(flipped) - ising.energy(spins), atol=1e-12)


def test_zero_sum_gauge_changes_energies_by_a_constant():
    model = random_potts(4, 3, seed=1)
    gauged = model.zero_sum_gauge()
    j = gauged.couplings
    assert float(j.sum(2).abs().max()) < 1e-12 and float(j.sum(3).abs().max()) < 1e-12
    assert float(gauged.fields.sum(1).abs().max()) < 1e-12
    assert torch.allclose(j, j.permute(1, 0, 3, 2), atol=1e-14)
    states = model.enumerate_visible()
    shift = gauged.energy(states) - model.energy(states)
    assert float(shift.max() - shift.min()) < 1e-12
    ll = -model.energy(states) - model.log_partition_exact()
    ll_gauged = -gauged.energy(states) - gauged.log_partition_exact()
    assert torch.allclose(ll, ll_gauged, atol=1e-12)
    # gauge fixing is a projection
    again = gauged.zero_sum_gauge()
    assert torch.allclose(again.couplings, gauged.couplings, atol=1e-14)
    assert torch.allclose(again.fields, gauged.fields, atol=1e-14)


def chi_square_pvalues(model, samples: torch.Tensor, q: int, wrong) -> tuple[float, float]:
    n = len(samples)
    counts = torch.bincount(state_index(samples, q), minlength=q**samples.shape[1]).double()
    _, p = exact_probabilities(model)
    _, p_wrong = exact_probabilities(wrong)
    assert float(p.min()) * n > 5  # enough expected counts in every cell
    return (chisquare(counts.numpy(), (p * n).numpy()).pvalue,
            chisquare(counts.numpy(), (p_wrong * n).numpy()).pvalue)


@pytest.mark.parametrize("sampler", ["gibbs", "metropolis"])
def test_potts_sampling_reproduces_the_exact_distribution(sampler):
    """20000 independent chains (the last state of each), 81 states, chi-square against the exact
    probabilities. Seeds are fixed, so the test is deterministic; 1e-3 is the acceptance level of a
    correct sampler (a false alarm for 1 seed in 1000) and the same histogram must reject a model
    with one coupling entry moved by 0.3 at p < 1e-6 (power)."""
    model = random_potts(4, 3, coupling_scale=0.4, field_scale=0.3, seed=2)
    model.sampler = sampler
    g = torch.Generator().manual_seed(3)
    chains = run_chains(model.to(dtype=torch.float32), model.init_chains(20000, g), 25, g)
    wrong = model.clone()
    wrong.couplings[0, 1, 0, 0] += 0.3
    wrong.couplings[1, 0, 0, 0] += 0.3
    p_ok, p_wrong = chi_square_pvalues(model, chains.visible, 3, wrong)
    assert p_ok > 1e-3
    assert p_wrong < 1e-6


@pytest.mark.parametrize("sampler", ["gibbs", "metropolis"])
def test_ising_sampling_reproduces_the_exact_distribution(sampler):
    model = random_ising(5, seed=4)
    model.sampler = sampler
    g = torch.Generator().manual_seed(5)
    chains = run_chains(model.to(dtype=torch.float32), model.init_chains(20000, g), 25, g)
    wrong = model.clone()
    wrong.couplings[0, 1] += 0.15
    wrong.couplings[1, 0] += 0.15
    p_ok, p_wrong = chi_square_pvalues(model, (chains.visible > 0).long(), 2, wrong)
    assert p_ok > 1e-3
    assert p_wrong < 1e-6


def ring_ising(n: int, coupling: float) -> IsingModel:
    j = torch.zeros(n, n, dtype=torch.float64)
    i = torch.arange(n)
    j[i, (i + 1) % n] = j[(i + 1) % n, i] = coupling
    return IsingModel(torch.zeros(n, dtype=torch.float64), j)


@pytest.mark.parametrize("to_potts", [False, True])
def test_metropolis_mixes_on_a_zero_field_ring(to_potts):
    """Zero-field 8-ring at J = 0.8: a spin between opposite neighbours has dE = 0. Plain Metropolis
    flips it with certainty and the fixed-order sweep then keeps the chain in a few closed classes
    (c_1 came out 0.23 instead of 0.695); the damped rule (boltzkit.models.metropolis) must give
    the exact nearest-neighbour correlation. 4000 chains x 200 sweeps from random starts: the
    standard error of c_1 is about 0.01 (one ring of 8 correlated bonds per chain), the tolerance
    0.04 is 4 of them, and the old error was 0.47."""
    ising = ring_ising(8, 0.8)
    states = ising.enumerate_visible()
    p = torch.softmax(-ising.energy(states), 0)
    c1_exact = float(p @ (states[:, 0] * states[:, 1]))
    model = ising.to_potts() if to_potts else ising
    model.sampler = "metropolis"
    g = torch.Generator().manual_seed(11)
    s = run_chains(model, model.init_chains(4000, g), 200, g).visible
    spins = (2.0 * s - 1.0) if to_potts else s
    c1 = float((spins * spins.roll(1, 1)).mean())
    assert abs(c1 - c1_exact) < 0.04, (c1, c1_exact)


def mean_log_likelihood(model, data: torch.Tensor, weights: torch.Tensor) -> float:
    states = model.enumerate_visible()
    log_z = torch.logsumexp(-model.energy(states), 0)
    return float((weights / weights.sum()) @ (-model.energy(data) - log_z))


def test_potts_gradient_matches_finite_differences():
    """dL/dh_i(a) = f_i(a) - p_i(a); dL/dJ_ij(a,b) = f_ij - p_ij for the pair parameter
    J_ij(a,b) = J_ji(b,a) (both entries moved together)."""
    model = random_potts(3, 3, seed=6)
    g = torch.Generator().manual_seed(7)
    data = torch.randint(0, 3, (50, 3), generator=g).double()
    weights = torch.rand(50, generator=g, dtype=torch.float64)
    states, p = exact_probabilities(model)
    grads = model.log_likelihood_gradient(data, Chains(states, None, p), weights)
    eps = 1e-6
    for i, a in itertools.product(range(3), range(3)):
        model.fields[i, a] += eps
        up = mean_log_likelihood(model, data, weights)
        model.fields[i, a] -= 2 * eps
        down = mean_log_likelihood(model, data, weights)
        model.fields[i, a] += eps
        assert float(grads["fields"][i, a]) == pytest.approx((up - down) / (2 * eps), abs=1e-8)
    for i, j, a, b in itertools.product(range(3), range(3), range(3), range(3)):
        if i == j:
            assert float(grads["couplings"][i, j, a, b]) == 0.0
            continue
        model.couplings[i, j, a, b] += eps
        model.couplings[j, i, b, a] += eps
        up = mean_log_likelihood(model, data, weights)
        model.couplings[i, j, a, b] -= 2 * eps
        model.couplings[j, i, b, a] -= 2 * eps
        down = mean_log_likelihood(model, data, weights)
        model.couplings[i, j, a, b] += eps
        model.couplings[j, i, b, a] += eps
        assert float(grads["couplings"][i, j, a, b]) == pytest.approx((up - down) / (2 * eps), abs=1e-8)


def test_ising_gradient_matches_finite_differences():
    model = random_ising(4, seed=8)
    g = torch.Generator().manual_seed(9)
    data = torch.where(torch.rand(60, 4, generator=g) < 0.5, -1.0, 1.0).double()
    weights = torch.rand(60, generator=g, dtype=torch.float64)
    states, p = exact_probabilities(model)
    grads = model.log_likelihood_gradient(data, Chains(states, None, p), weights)
    eps = 1e-6
    for i in range(4):
        model.fields[i] += eps
        up = mean_log_likelihood(model, data, weights)
        model.fields[i] -= 2 * eps
        down = mean_log_likelihood(model, data, weights)
        model.fields[i] += eps
        assert float(grads["fields"][i]) == pytest.approx((up - down) / (2 * eps), abs=1e-8)
        for j in range(4):
            if i == j:
                assert float(grads["couplings"][i, i]) == 0.0
                continue
            model.couplings[i, j] += eps
            model.couplings[j, i] += eps
            up = mean_log_likelihood(model, data, weights)
            model.couplings[i, j] -= 2 * eps
            model.couplings[j, i] -= 2 * eps
            down = mean_log_likelihood(model, data, weights)
            model.couplings[i, j] += eps
            model.couplings[j, i] += eps
            assert float(grads["couplings"][i, j]) == pytest.approx((up - down) / (2 * eps), abs=1e-8)


def test_data_statistics_agree_with_the_alignment_frequencies():
    g = torch.Generator().manual_seed(10)
    codes = torch.randint(0, 4, (300, 6), generator=g, dtype=torch.int8)
    weights = torch.rand(300, generator=g, dtype=torch.float64)
    model = PottsModel.zeros(6, 4, dtype=torch.float64)
    stats = model.data_statistics(codes, weights)
    fi, fij = frequencies(codes.numpy(), 4, weights.numpy(), dtype=torch.float64)
    assert torch.allclose(stats.fields, fi, atol=1e-12)
    assert torch.allclose(stats.couplings, fij, atol=1e-12)


def test_registry_round_trip():
    for model in (random_potts(3, 4).to(dtype=torch.float32), random_ising(5).to(dtype=torch.float32)):
        model.sampler = "metropolis"
        rebuilt = model_from_config(model.config(), {k: v.clone() for k, v in model.parameters().items()})
        assert type(rebuilt) is type(model) and rebuilt.sampler == "metropolis"
        x = model.init_chains(8, torch.Generator().manual_seed(0)).visible
        assert torch.equal(rebuilt.energy(x), model.energy(x))
        assert model.free_energy(x).shape == (8,)
    with pytest.raises(ValueError):
        PottsModel(torch.zeros(3, 2), torch.zeros(3, 3, 2, 2), sampler="wolff")


# ------------------------------------------------------------------ fast sweep kernels
def test_coupling_columns_give_the_local_fields():
    """The embedding-bag field of the sweep (rows j q + s_j of the coupling columns) equals the
    matrix-product local fields h_i(a) + sum_j J_ij(a, s_j), exactly in float64."""
    model = random_potts(5, 4, seed=11)
    g = torch.Generator().manual_seed(12)
    s = torch.randint(0, 4, (64, 5), generator=g)
    columns = model.coupling_columns()
    index = s + torch.arange(0, 20, 4)
    fields = torch.stack([torch.nn.functional.embedding_bag(index, columns[i], mode="sum")
                          for i in range(5)], 1) + model.fields
    assert torch.allclose(fields, model.local_fields(s), atol=1e-12)


def test_one_hot_and_block_gram_match_the_plain_products():
    from boltzkit.models.pairwise import _symmetric_gram
    from boltzkit.models.potts_rbm import one_hot_flat

    model = random_potts(7, 3, seed=13)
    g = torch.Generator().manual_seed(14)
    s = torch.randint(0, 3, (50, 7), generator=g)
    x = model.one_hot(s)
    assert torch.equal(x, one_hot_flat(s, 3, torch.float64))
    w = torch.rand(50, generator=g, dtype=torch.float64)
    for n_blocks in (1, 3, 8, 20):  # more blocks than sites: empty blocks are skipped
        assert torch.allclose(_symmetric_gram(x * w[:, None], x, 3, n_blocks), (x * w[:, None]).T @ x,
                              atol=1e-12)


def test_init_from_data_fields_are_the_log_frequencies():
    g = torch.Generator().manual_seed(6)
    codes = torch.randint(0, 5, (400, 6), generator=g)
    codes[:, 2] = 0  # an all-gap column: only the pseudocount keeps the other states finite
    weights = torch.rand(400, generator=g, dtype=torch.float64)
    lam = 1e-3
    model = PottsModel.init_from_data(codes.float(), 5, weights, pseudocount=lam, dtype=torch.float64)
    f = torch.einsum("m,miq->iq", weights / weights.sum(),
                     torch.nn.functional.one_hot(codes, 5).double())  # the one-hot, directly
    h = torch.log((1 - lam) * f + lam / 5)
    # float64 logs of sums of 400 terms: 1e-12 is far above their rounding
    assert torch.allclose(model.fields, h - h.mean(1, keepdim=True), rtol=0, atol=1e-12)
    assert not model.couplings.any() and model.couplings.shape == (6, 6, 5, 5)
    assert PottsModel.init_from_data(codes.float(), 5).dtype == torch.float32  # the data's dtype


def test_sample_profile_draws_the_independent_site_model():
    """Profile samples: chi-square of each site's histogram against softmax(h_i); 20000 draws,
    acceptance 1e-3 per site (fixed seed, deterministic)."""
    model = random_potts(3, 4, field_scale=1.0, seed=15)
    samples = model.sample_profile(20000, torch.Generator().manual_seed(16)).visible.long()
    assert samples.shape == (20000, 3)
    p = torch.softmax(model.fields, 1)
    for i in range(3):
        counts = torch.bincount(samples[:, i], minlength=4).double()
        assert chisquare(counts.numpy(), (20000 * p[i]).numpy()).pvalue > 1e-3


def test_correlation_pearson_is_the_pearson_of_the_connected_correlations():
    """Against numpy on the C_ij(a, b), i < j, built by hand; 1 for identical statistics."""
    import numpy as np

    from boltzkit.models.statistics import PairwiseStatistics, correlation_pearson

    g = torch.Generator().manual_seed(17)
    a = torch.randint(0, 3, (200, 4), generator=g)
    b = torch.randint(0, 3, (300, 4), generator=g)
    sa, sb = (PairwiseStatistics(*frequencies(x, 3, dtype=torch.float64)) for x in (a, b))
    assert correlation_pearson(sa, sa) == pytest.approx(1.0, abs=1e-12)

    def cij(st):
        return np.array([float(st.couplings[i, j, u, v] - st.fields[i, u] * st.fields[j, v])
                         for i in range(4) for j in range(i + 1, 4) for u in range(3) for v in range(3)])

    assert correlation_pearson(sa, sb) == pytest.approx(np.corrcoef(cij(sa), cij(sb))[0, 1], abs=1e-10)
    # Ising statistics: C_ij = <s_i s_j> - <s_i><s_j> over i < j
    ising = IsingModel.zeros(4, dtype=torch.float64)
    x, y = (2.0 * torch.randint(0, 2, (400, 4), generator=g).double() - 1 for _ in range(2))
    tx, ty = ising.data_statistics(x), ising.data_statistics(y)
    iu = np.triu_indices(4, 1)
    cx = (tx.couplings - torch.outer(tx.fields, tx.fields)).numpy()[iu]
    cy = (ty.couplings - torch.outer(ty.fields, ty.fields)).numpy()[iu]
    assert correlation_pearson(tx, ty) == pytest.approx(np.corrcoef(cx, cy)[0, 1], abs=1e-10)
