"""Couplings of any energy function: exact Walsh coefficients of a known polynomial energy, the
uniform-sampling estimator (within its standard errors, errors shrinking like 1/sqrt(K)), the
Möbius lattice-gas coefficients, and the zero-sum Potts version."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.energy_couplings import (energy_couplings, lattice_gas_couplings, potts_energy_couplings,
                                                 spin_configurations, walsh_hadamard)
from boltzkit.interpret.rbm_couplings import model_couplings
from boltzkit.models.visible import SPIN_SPACE
from boltzkit.synthetic.conversion import potts_zero_sum_gauge
from boltzkit.synthetic.hamiltonians import Interactions, PottsHamiltonian, SpinHamiltonian


def known_energy(n: int = 10, seed: int = 0) -> SpinHamiltonian:
    """Fields, all pairs, some triplets and one 4-body term: E = -sum theta_A s_A."""
    gen = torch.Generator().manual_seed(seed)
    fields = 0.3 * torch.randn(n, generator=gen, dtype=torch.float64)
    pairs = torch.combinations(torch.arange(n), 2)
    triplets = torch.tensor([[0, 1, 2], [2, 5, n - 1], [3, 4, n - 2], [1, 6, 7]])
    return SpinHamiltonian(fields, {
        2: Interactions(pairs, 0.5 * torch.randn(len(pairs), generator=gen, dtype=torch.float64)),
        3: Interactions(triplets, torch.tensor([0.7, -0.4, 0.25, 1.1], dtype=torch.float64)),
        4: Interactions(torch.tensor([[0, 3, 6, n - 1]]), torch.tensor([0.6], dtype=torch.float64)),
    }, "ising")


def test_walsh_hadamard_matches_the_matrix():
    x = torch.randn(32, dtype=torch.float64)
    s = spin_configurations(5)
    h = torch.stack([s[:, [i for i in range(5) if a >> i & 1]].prod(1) for a in range(32)])
    torch.testing.assert_close(walsh_hadamard(x), h @ x)


def test_exact_returns_the_walsh_coefficients_of_a_known_energy():
    h = known_energy()
    got = energy_couplings(h.energy, 10, orders=(2, 3, 4), method="exact")
    torch.testing.assert_close(got.fields, h.fields, atol=1e-12, rtol=0)
    torch.testing.assert_close(got.pair_matrix(), h.pair_matrix(), atol=1e-12, rtol=0)
    dense3 = dict(zip(map(tuple, h.interactions[3].indices.tolist()), h.interactions[3].values.tolist()))
    expected3 = [dense3.get(tuple(r), 0.0) for r in got.couplings[3].indices.tolist()]
    np.testing.assert_allclose(got.couplings[3].values.numpy(), expected3, atol=1e-12)
    four = got.couplings[4]
    where = (four.indices == torch.tensor([0, 3, 6, 9])).all(1)
    assert float(four.values[where]) == pytest.approx(0.6, abs=1e-12)
    assert float(four.values[~where].abs().max()) < 1e-12
    # bernoulli input: same couplings of s = 2n - 1
    got01 = energy_couplings(lambda n: h.energy(2 * n - 1), 10, orders=2, units="bernoulli")
    torch.testing.assert_close(got01.pair_matrix(), h.pair_matrix(), atol=1e-12, rtol=0)


def test_sampling_within_standard_errors_and_errors_shrink_like_inverse_sqrt_k():
    h = known_energy()
    exact = energy_couplings(h.energy, 10, orders=(2, 3))
    runs = {}
    for k in (20_000, 80_000):
        runs[k] = energy_couplings(h.energy, 10, orders=(2, 3), method="sampling", n_samples=k,
                                   generator=torch.Generator().manual_seed(1))
    est = runs[80_000]
    z = torch.cat([(est.fields - exact.fields) / est.standard_errors[1]] +
                  [(est.couplings[k].values - exact.couplings[k].values) / est.standard_errors[k] for k in (2, 3)])
    print(f"\nsampling: {len(z)} couplings, max |z| {float(z.abs().max()):.2f}, mean z^2 {float((z * z).mean()):.2f}")
    assert float(z.abs().max()) < 4.0          # 175 values: a few beyond 3 SE are expected
    assert float((z.abs() < 3).double().mean()) > 0.98
    assert 0.6 < float((z * z).mean()) < 1.5
    ratio = runs[80_000].standard_errors[2] / runs[20_000].standard_errors[2]
    assert float((ratio - 0.5).abs().max()) < 0.05   # SE ∝ 1/sqrt(K)
    # the control variate: without it, the error would include the (large) constant part of E
    shifted = energy_couplings(lambda s: h.energy(s) + 100.0, 10, orders=2, method="sampling",
                               n_samples=20_000, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(shifted.couplings[2].values, runs[20_000].couplings[2].values, atol=1e-9, rtol=0)


def test_sampling_order_two_dense_and_listed_agree():
    h = known_energy(8, seed=2)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    dense = energy_couplings(h.energy, 8, 2, "sampling", n_samples=5000, generator=gen())
    listed = energy_couplings(h.energy, 8, 2, "sampling", index_sets={2: [[0, 1], [2, 7]]}, n_samples=5000,
                              generator=gen(), chunk_size=999)
    m = dense.pair_matrix()
    torch.testing.assert_close(listed.couplings[2].values, torch.stack([m[0, 1], m[2, 7]]), atol=1e-12, rtol=0)


def test_lattice_gas_coefficients_of_a_known_lattice_gas():
    gen = torch.Generator().manual_seed(4)
    mu = torch.randn(12, generator=gen, dtype=torch.float64)
    pairs = torch.tensor([[0, 1], [1, 2], [3, 9], [5, 11]])
    K = torch.tensor([0.8, -0.5, 1.2, 0.3], dtype=torch.float64)
    trip = torch.tensor([[2, 4, 6]])
    three = Interactions(trip, torch.tensor([0.9], dtype=torch.float64))
    h = SpinHamiltonian(mu, {2: Interactions(pairs, K), 3: three}, "lattice-gas")
    got = lattice_gas_couplings(h.energy, 12, orders=(2, 3))
    torch.testing.assert_close(got.fields, mu, atol=1e-12, rtol=0)
    torch.testing.assert_close(got.pair_matrix(), h.pair_matrix(), atol=1e-12, rtol=0)
    nonzero = got.couplings[3].values.abs() > 1e-12
    assert got.couplings[3].indices[nonzero].tolist() == [[2, 4, 6]]


def zero_sum_potts(n: int, q: int, seed: int) -> tuple[PottsHamiltonian, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    edges = torch.combinations(torch.arange(n), 2)
    J = 0.4 * torch.randn(len(edges), q, q, generator=gen, dtype=torch.float64)
    h = 0.3 * torch.randn(n, q, generator=gen, dtype=torch.float64)
    model = PottsHamiltonian(h, edges, J)
    fields, couplings = potts_zero_sum_gauge(h, model.pair_tensor())
    return model, fields, couplings


def test_potts_exact_zero_sum_and_gauge_invariant():
    model, fields, couplings = zero_sum_potts(6, 3, seed=5)
    got = potts_energy_couplings(model.energy, 6, 3, method="exact")
    torch.testing.assert_close(got.couplings, couplings, atol=1e-12, rtol=0)
    torch.testing.assert_close(got.fields, fields, atol=1e-12, rtol=0)
    assert float(got.couplings.sum(2).abs().max()) < 1e-12 and float(got.couplings.sum(3).abs().max()) < 1e-12
    # a gauge change (per-pair single-site terms moved into the couplings) changes nothing
    shift = torch.randn(len(model.edges), 3, dtype=torch.float64)
    fields2 = model.fields.clone()
    fields2.index_add_(0, model.edges[:, 0], -shift)
    regauged = PottsHamiltonian(fields2, model.edges, model.couplings + shift[:, :, None])
    x = torch.randint(0, 3, (50, 6))
    torch.testing.assert_close(regauged.energy(x), model.energy(x))
    got2 = potts_energy_couplings(regauged.energy, 6, 3, method="exact")
    torch.testing.assert_close(got2.couplings, got.couplings, atol=1e-12, rtol=0)
    assert float(got.frobenius(skip_states=[0]).diagonal().abs().max()) == 0.0


def test_potts_sampling_within_standard_errors():
    model, fields, couplings = zero_sum_potts(5, 3, seed=6)
    got = potts_energy_couplings(model.energy, 5, 3, method="sampling", n_samples=60_000,
                                 generator=torch.Generator().manual_seed(7))
    off = ~torch.eye(5, dtype=torch.bool)
    z = ((got.couplings - couplings) / got.couplings_error)[off]
    zf = (got.fields - fields) / got.fields_error
    assert float(z.abs().max()) < 4.5 and 0.6 < float((z * z).mean()) < 1.5
    assert float(zf.abs().max()) < 4.5


def test_model_couplings_of_a_generic_energy_model():
    h = known_energy(8, seed=8)

    class Wrapped:  # the minimal interface model_couplings needs
        kind, n_visible = "toy", 8
        visible, dtype, device = SPIN_SPACE, torch.float64, "cpu"

        def free_energy(self, s):
            return h.energy(s)

    got = model_couplings(Wrapped(), orders=2)
    torch.testing.assert_close(got.pair_matrix(), h.pair_matrix(), atol=1e-12, rtol=0)
    with pytest.raises(BoltzkitError, match="RBMs only"):
        model_couplings(Wrapped(), method="gaussian")


def test_errors():
    with pytest.raises(BoltzkitError, match="exact enumeration"):
        energy_couplings(lambda s: s.sum(1), 30)
    with pytest.raises(BoltzkitError, match="index sets"):
        energy_couplings(lambda s: s.sum(1), 3000, orders=(3,), method="sampling")
    with pytest.raises(BoltzkitError, match="unknown method"):
        energy_couplings(lambda s: s.sum(1), 5, method="cossu")
