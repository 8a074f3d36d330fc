"""Lattice gas <-> Ising at any order, checked by enumeration; Potts zero-sum gauge."""

import pytest
import torch

from boltzkit.synthetic.conversion import ising_to_lattice_gas, lattice_gas_to_ising, potts_zero_sum_gauge
from boltzkit.synthetic.exact import enumerate_states
from boltzkit.synthetic.hamiltonians import Interactions, PottsHamiltonian, SpinHamiltonian
from boltzkit.synthetic.lattices import random_hyperedges


def all_spins(n: int) -> torch.Tensor:
    return enumerate_states(n, 2).double() * 2 - 1


def random_hamiltonian(n: int, convention: str, seed: int, orders=(2, 3, 4)) -> SpinHamiltonian:
    g = torch.Generator().manual_seed(seed)
    inter = {k: Interactions(random_hyperedges(n, k, 6, g), torch.randn(6, generator=g, dtype=torch.float64))
             for k in orders}
    return SpinHamiltonian(torch.randn(n, generator=g, dtype=torch.float64), inter, convention)


def test_pair_lattice_gas_maps_as_in_methods():
    # docs/methods.md section 2.1: J_ij = K_ij / 4, h_i = mu_i / 2 + sum_j K_ij / 4.
    n = 6
    g = torch.Generator().manual_seed(0)
    pairs = random_hyperedges(n, 2, 8, g)
    k_values = torch.randn(8, generator=g, dtype=torch.float64)
    mu = torch.randn(n, generator=g, dtype=torch.float64)
    lg = SpinHamiltonian(mu, {2: Interactions(pairs, k_values)}, "lattice-gas")
    ising, offset = lattice_gas_to_ising(lg)
    assert torch.allclose(ising.pair_matrix(), lg.pair_matrix() / 4, atol=1e-15)
    assert torch.allclose(ising.fields, mu / 2 + lg.pair_matrix().sum(1) / 4, atol=1e-15)
    assert ising.orders == [2]
    # energies equal up to the returned constant on all 2^N configurations
    s = all_spins(n)
    assert torch.allclose(lg.energy((1 + s) / 2), ising.energy(s) + offset, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_order_energies_match_on_all_configurations(seed):
    n = 8
    lg = random_hamiltonian(n, "lattice-gas", seed)
    ising, offset = lattice_gas_to_ising(lg)
    s = all_spins(n)
    assert torch.allclose(lg.energy((1 + s) / 2), ising.energy(s) + offset, atol=1e-12)
    # a 4-body lattice-gas term spreads onto all its subsets with weight 2^-4
    assert set(ising.orders) == {2, 3, 4}
    back, offset_back = ising_to_lattice_gas(ising)
    assert torch.allclose(ising.energy(s), back.energy((1 + s) / 2) + offset_back, atol=1e-12)


def _same_polynomial(a: SpinHamiltonian, b: SpinHamiltonian, tol: float = 1e-12) -> bool:
    pa, pb = a.polynomial(), b.polynomial()
    return all(abs(pa.get(key, 0.0) - pb.get(key, 0.0)) <= tol for key in set(pa) | set(pb))


@pytest.mark.parametrize("seed", [3, 4])
def test_round_trips_are_the_identity(seed):
    lg = random_hamiltonian(9, "lattice-gas", seed)
    ising, off1 = lattice_gas_to_ising(lg)
    back, off2 = ising_to_lattice_gas(ising)
    assert _same_polynomial(lg, back)
    assert abs(off1 + off2) < 1e-12  # the two offsets cancel
    spins = random_hamiltonian(9, "ising", seed + 10)
    again, _ = lattice_gas_to_ising(ising_to_lattice_gas(spins)[0])
    assert _same_polynomial(spins, again)
    # and the check has teeth: a perturbed model is not the identity
    perturbed = SpinHamiltonian(lg.fields + 1e-6, lg.interactions, "lattice-gas")
    assert not _same_polynomial(perturbed, back)


def test_potts_zero_sum_gauge_keeps_energy_differences():
    n, q = 4, 3
    g = torch.Generator().manual_seed(7)
    edges = torch.combinations(torch.arange(n), 2)
    h = PottsHamiltonian(torch.randn(n, q, generator=g, dtype=torch.float64), edges,
                         torch.randn(len(edges), q, q, generator=g, dtype=torch.float64))
    fields, couplings = potts_zero_sum_gauge(h.fields, h.pair_tensor())
    assert couplings.sum(2).abs().max() < 1e-12 and couplings.sum(3).abs().max() < 1e-12
    assert fields.sum(1).abs().max() < 1e-12
    i, j = edges[:, 0], edges[:, 1]
    gauged = PottsHamiltonian(fields, edges, couplings[i, j])
    x = enumerate_states(n, q)
    diff = h.energy(x) - gauged.energy(x)
    assert torch.allclose(diff, diff[0].expand_as(diff), atol=1e-12)
