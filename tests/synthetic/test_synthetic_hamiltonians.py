"""Energy functions, state coding, and the sweep kernels' local fields against full energy differences."""

import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.synthetic.hamiltonians import (Interactions, PottsHamiltonian, SpinHamiltonian, decode_states,
                                             encode_states)
from boltzkit.synthetic.lattices import random_hyperedges, square_bonds
from boltzkit.synthetic.mcmc import PottsKernel, SpinKernel


def random_spin_hamiltonian(n: int, convention: str, seed: int, crystal: bool = False) -> SpinHamiltonian:
    g = torch.Generator().manual_seed(seed)
    inter = {k: Interactions(random_hyperedges(n, k, m, g), torch.randn(m, generator=g, dtype=torch.float64))
             for k, m in [(2, 12), (3, 8), (4, 5)]}
    cf = torch.randn(n, generator=g, dtype=torch.float64) if crystal else None
    return SpinHamiltonian(torch.randn(n, generator=g, dtype=torch.float64), inter, convention, cf)


def test_energy_by_hand():
    # E = -(0.5 s0) - (1.0 s0 s1) - (2.0 s0 s1 s2) + 0.3 s2^2 on the configuration (1, -1, 0) (Blume-Capel)
    h = SpinHamiltonian(torch.tensor([0.5, 0.0, 0.0], dtype=torch.float64),
                        {2: Interactions(torch.tensor([[0, 1]]), torch.tensor([1.0])),
                         3: Interactions(torch.tensor([[0, 1, 2]]), torch.tensor([2.0]))},
                        "blume-capel", torch.tensor([0.0, 0.0, 0.3], dtype=torch.float64))
    x = torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    assert h.energy(x).tolist() == pytest.approx([-0.5 + 1.0, -0.5 - 1.0 - 2.0 + 0.3])


def test_invalid_terms_are_refused():
    with pytest.raises(BoltzkitError):
        SpinHamiltonian(torch.zeros(3), {2: Interactions(torch.tensor([[0, 0]]), torch.tensor([1.0]))})
    with pytest.raises(BoltzkitError):
        SpinHamiltonian(torch.zeros(3), {2: Interactions(torch.tensor([[0, 3]]), torch.tensor([1.0]))})
    with pytest.raises(BoltzkitError):
        SpinHamiltonian(torch.zeros(3), convention="spin")


def test_blume_capel_coding_round_trip():
    values = torch.tensor([[-1.0, 1.0, 0.0, 1.0]])
    codes = encode_states(values, "blume-capel")
    assert codes.tolist() == [[0, 1, 2, 1]] and codes.dtype == torch.int8
    assert decode_states(codes, "blume-capel").tolist() == values.tolist()


def test_coalesce_merges_duplicates_and_pair_matrix_is_symmetric():
    h = SpinHamiltonian(torch.zeros(4, dtype=torch.float64),
                        {2: Interactions(torch.tensor([[0, 1], [1, 0], [2, 3]]), torch.tensor([1.0, 0.5, -2.0]))})
    c = h.coalesce()
    assert c.interactions[2].indices.tolist() == [[0, 1], [2, 3]]
    assert c.interactions[2].values.tolist() == [1.5, -2.0]
    m = h.pair_matrix()
    assert torch.equal(m, m.T) and m[0, 1] == 1.5 and m.diagonal().abs().sum() == 0


@pytest.mark.parametrize("convention,dense", [("ising", None), ("ising", False), ("lattice-gas", None),
                                              ("blume-capel", None)])
def test_spin_kernel_local_field_matches_energy_difference(convention, dense):
    # E(x) = -x_i phi_i + D_i x_i^2 + (terms without x_i), so for every value v:
    # E(x_i = v) - E(x_i = 0-or-reference) is linear in phi_i. Check on every block, exactly (float64).
    h = random_spin_hamiltonian(10, convention, seed=1, crystal=convention == "blume-capel")
    kernel = SpinKernel(h, dtype=torch.float64, dense_pairs=dense)
    g = torch.Generator().manual_seed(0)
    x = kernel.random_states(7, g)
    internal = kernel.to_internal(x)
    for block, (a, b) in enumerate(kernel.blocks):
        phi = kernel.local_field(internal, block)  # (n_c, C)
        for row, site in enumerate(kernel.perm[a:b].tolist()):
            for v in h.state_values.tolist():
                y = x.clone()
                y[:, site] = v
                z = x.clone()
                z[:, site] = h.state_values[0]
                v0 = float(h.state_values[0])
                crystal = 0.0 if h.crystal_field is None else float(h.crystal_field[site])
                expected = -(v - v0) * phi[row] + crystal * (v * v - v0 * v0)
                assert torch.allclose(h.energy(y) - h.energy(z), expected, atol=1e-10)


def test_potts_kernel_local_energy_matches_energy():
    g = torch.Generator().manual_seed(4)
    n, q = 7, 3
    edges = random_hyperedges(n, 2, 10, g)
    h = PottsHamiltonian(torch.randn(n, q, generator=g, dtype=torch.float64), edges,
                         torch.randn(len(edges), q, q, generator=g, dtype=torch.float64))
    kernel = PottsKernel(h, dtype=torch.float64)
    x = kernel.random_states(5, g)
    internal = kernel.to_internal(x)
    for block, (a, b) in enumerate(kernel.blocks):
        neg = kernel.local_neg_energy(internal, block)  # (q, n_c, C)
        for row, site in enumerate(kernel.perm[a:b].tolist()):
            for state in range(q):
                y = x.clone()
                y[:, site] = state
                z = x.clone()
                z[:, site] = 0
                assert torch.allclose(h.energy(y) - h.energy(z), -(neg[state, row] - neg[0, row]),
                                      atol=1e-10)


def test_dense_and_sparse_pair_paths_give_the_same_chains():
    # Integer couplings make every local field exact in float32, so both paths take the same
    # decisions from the same random numbers: the trajectories must be identical.
    bonds = square_bonds(4, True)
    h = SpinHamiltonian(torch.zeros(16, dtype=torch.float64), {2: Interactions(bonds, torch.ones(len(bonds)))})
    out = []
    for dense in (True, False):
        kernel = SpinKernel(h, dense_pairs=dense)
        g = torch.Generator().manual_seed(5)
        x = kernel.random_states(50, g)
        x, changed = kernel.sweep(x, 0.4, "metropolis", g, n_sweeps=5)
        out.append((x, int(changed)))
    assert torch.equal(out[0][0], out[1][0]) and out[0][1] == out[1][1] > 0


# ---------------------------------------------------------------------- one pairwise representation
def test_pairwise_hamiltonians_are_the_trainable_models():
    # A generator's pairwise Hamiltonian and the trainable model convert exactly, both ways: same
    # energies, same exact log Z (ExactDistribution and log_partition_exact share the enumeration).
    from boltzkit.synthetic.exact import ExactDistribution
    from boltzkit.synthetic.hamiltonians import from_pairwise

    g = torch.Generator().manual_seed(3)
    bonds = square_bonds(3, periodic=True)
    ising = SpinHamiltonian(torch.randn(9, generator=g, dtype=torch.float64),
                            {2: Interactions(bonds, torch.randn(len(bonds), generator=g, dtype=torch.float64))})
    potts = PottsHamiltonian(torch.randn(6, 3, generator=g, dtype=torch.float64),
                             torch.tensor([[0, 1], [4, 2], [5, 0]]),
                             torch.randn(3, 3, 3, generator=g, dtype=torch.float64))
    for h in (ising, potts):
        model = h.to_model("metropolis")
        assert model.sampler == "metropolis" and model.visible.n_states == h.n_states
        exact = ExactDistribution(h, 1.0)
        assert model.log_partition_exact() == pytest.approx(exact.log_partition, abs=1e-12)
        torch.testing.assert_close(model.energy(exact.values), exact.energies, atol=1e-12, rtol=0)
        back = from_pairwise(model.fields, model.couplings)
        assert type(back) is type(h) and torch.equal(back.to_model().couplings, model.couplings)
        torch.testing.assert_close(back.energy(exact.values), exact.energies, atol=1e-12, rtol=0)
    model = ising.to_model()
    assert torch.equal(from_pairwise(model.fields, model.couplings).pair_matrix(), ising.pair_matrix())
    with pytest.raises(BoltzkitError, match="pairwise parameters"):
        from_pairwise(model.fields, model.couplings[:, :5])


def test_only_pairwise_ising_hamiltonians_become_models():
    h = random_spin_hamiltonian(6, "ising", 0)
    with pytest.raises(BoltzkitError, match=r"orders \[2, 3, 4\]"):
        h.to_model()
    pairs = {2: h.interactions[2]}
    with pytest.raises(BoltzkitError, match="lattice-gas"):
        SpinHamiltonian(h.fields, pairs, "lattice-gas").to_model()
    with pytest.raises(BoltzkitError, match="crystal field"):
        SpinHamiltonian(h.fields, pairs, crystal_field=torch.ones(6, dtype=torch.float64)).to_model()
    torch.testing.assert_close(SpinHamiltonian(h.fields, pairs).to_model().couplings, h.pair_matrix())


def test_the_kernels_and_the_models_see_the_same_local_fields():
    # The colour-parallel kernel of a model's sparse form and the model's own sweep use the same
    # local fields h_i + sum_j J_ij s_j (Ising) and h_i(a) + sum_j J_ij(a, s_j) (Potts).
    from boltzkit.synthetic.hamiltonians import from_pairwise

    g = torch.Generator().manual_seed(5)
    n, q = 7, 3
    sparse = torch.triu(torch.rand(n, n, generator=g) < 0.5, 1)
    j = torch.randn(n, n, generator=g, dtype=torch.float64) * sparse
    jq = torch.randn(n, n, q, q, generator=g, dtype=torch.float64) * sparse[:, :, None, None]
    hamiltonians = [from_pairwise(torch.randn(n, generator=g, dtype=torch.float64), j + j.T),
                    from_pairwise(torch.randn(n, q, generator=g, dtype=torch.float64), jq + jq.permute(1, 0, 3, 2))]
    for h, kernel_class in zip(hamiltonians, (SpinKernel, PottsKernel)):
        model, kernel = h.to_model(), kernel_class(h, dtype=torch.float64)
        x = model.init_chains(5, g).visible
        internal = kernel.to_internal(x if kernel_class is SpinKernel else x.long())
        expected = model.local_fields(x)
        for block, (a, b) in enumerate(kernel.blocks):
            if kernel_class is SpinKernel:
                got = kernel.local_field(internal, block).T
            else:
                got = kernel.local_neg_energy(internal, block).permute(2, 1, 0)
            torch.testing.assert_close(got, expected[:, kernel.perm[a:b]])
