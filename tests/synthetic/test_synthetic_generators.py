"""Every generator on N <= 16 reproduces the exactly enumerated distribution (chi-square test).

Protocol: 12000 chains, each thermalised for 100 sweeps and recorded once, so the 12000 samples are
independent draws from the chain's distribution after 100 sweeps. For these small systems at moderate
beta the mixing time is a few sweeps, so the samples are exact draws up to a negligible bias.
The configuration histogram is compared with the enumerated probabilities; bins with an expected count
below 5 are pooled (the usual validity condition of the chi-square approximation).

The "zero-field" cases sit at the symmetric point (h = 0, lattice-gas mu = -z K / 2) with strong
couplings: there a Metropolis move with dE = 0 exists, and a Metropolis that accepts it with certainty
turns a colour-class update into a reversible deterministic automaton (the cases with a field never
produce dE = 0, which is why they did not see it). Plain Metropolis (acceptance min(1, exp(-beta dE)))
fails all of them with p < 1e-6 except the 4 x 4 tori (Ising and EA), the Blume-Capel and the q = 3
Potts chains, which are here as coverage (see test_synthetic_mcmc.py).

Threshold: p > 1e-3. A correct sampler fails with probability 1e-3 per test over random seeds; the seeds
are fixed, so the outcome is deterministic. The negative controls show the test has power: sampling
at a 20% different beta, or dropping the 3-body terms, gives p < 1e-6.
"""

import pytest
import torch
from scipy.stats import chi2

from boltzkit.synthetic import generators as gen
from boltzkit.synthetic.exact import ExactDistribution
from boltzkit.synthetic.hamiltonians import SpinHamiltonian

N_SAMPLES = 12000
MC = dict(chains=N_SAMPLES, sweeps_thermalize=100, sweeps_between=1)

CASES = {
    "ising1d-periodic-odd": lambda **mc: gen.ising1d(7, 0.6, N_SAMPLES, field=0.2, **mc),
    "ising1d-open": lambda **mc: gen.ising1d(8, 0.8, N_SAMPLES, coupling=-0.7, field=0.3, periodic=False, **mc),
    "ising2d": lambda **mc: gen.ising2d(3, 0.35, N_SAMPLES, field=0.1, **mc),
    "ea2d": lambda **mc: gen.edwards_anderson2d(3, 0.6, N_SAMPLES, periodic=False, field=0.2, **mc),
    "ising-kbody-consecutive": lambda **mc: gen.ising_kbody(9, 0.5, N_SAMPLES, kbody_coupling=0.8, field=0.1, **mc),
    "ising-kbody-random-order4": lambda **mc: gen.ising_kbody(10, 0.5, N_SAMPLES, order=4, n_terms=6,
                                                             kbody_coupling=-0.9, **mc),
    "ising-kbody-given": lambda **mc: gen.ising_kbody(8, 0.7, N_SAMPLES, hyperedges=[[0, 2, 5], [1, 3, 7], [2, 4, 6]],
                                                     kbody_values=[1.0, -0.5, 0.7], periodic=False, **mc),
    "lattice-gas": lambda **mc: gen.lattice_gas(10, 0.9, N_SAMPLES, coupling=1.2, chemical_potential=-0.8, **mc),
    "lattice-gas-2d": lambda **mc: gen.lattice_gas(3, 0.7, N_SAMPLES, coupling=1.0, chemical_potential=-1.5,
                                                   dimension=2, **mc),
    "blume-capel": lambda **mc: gen.blume_capel(6, 0.6, N_SAMPLES, three_body=1.0, crystal_field=0.4, field=0.2,
                                                **mc),
    "potts": lambda **mc: gen.potts(6, 0.9, N_SAMPLES, q=3, field=0.3, **mc),
    "higher-order": lambda **mc: gen.higher_order(10, 0.6, N_SAMPLES, gamma=0.5, order=3, **mc),
    "zero-field-ising1d-ring8": lambda **mc: gen.ising1d(8, 0.8, N_SAMPLES, **mc),
    "zero-field-ising1d-ring10": lambda **mc: gen.ising1d(10, 0.8, N_SAMPLES, **mc),
    "zero-field-ising1d-ring7": lambda **mc: gen.ising1d(7, 0.8, N_SAMPLES, **mc),
    "zero-field-ising2d-3x3": lambda **mc: gen.ising2d(3, 0.8, N_SAMPLES, **mc),
    "zero-field-ising2d-4x4": lambda **mc: gen.ising2d(4, 0.44, N_SAMPLES, **mc),
    "zero-field-ea2d-4x4": lambda **mc: gen.edwards_anderson2d(4, 0.8, N_SAMPLES, **mc),
    "zero-field-lattice-gas": lambda **mc: gen.lattice_gas(8, 0.8, N_SAMPLES, coupling=4.0, chemical_potential=-4.0,
                                                           **mc),
    "zero-field-potts-q2": lambda **mc: gen.potts(8, 1.6, N_SAMPLES, q=2, **mc),
    "zero-field-potts-q3": lambda **mc: gen.potts(6, 1.2, N_SAMPLES, q=3, **mc),
    "zero-field-blume-capel": lambda **mc: gen.blume_capel(6, 0.8, N_SAMPLES, **mc),
    "zero-field-ising-kbody-order4": lambda **mc: gen.ising_kbody(8, 0.5, N_SAMPLES, order=4, coupling=0.5, **mc),
}


def chi_square_pvalue(codes: torch.Tensor, exact: ExactDistribution) -> float:
    n = codes.shape[0]
    observed = torch.bincount(exact.configuration_index(codes), minlength=len(exact.probabilities)).double()
    expected = exact.probabilities * n
    big = expected >= 5
    obs = torch.cat([observed[big], observed[~big].sum()[None]])
    exp = torch.cat([expected[big], expected[~big].sum()[None]])
    keep = exp > 0
    stat = float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum())
    return float(chi2.sf(stat, int(keep.sum()) - 1))


@pytest.mark.parametrize("algorithm", ["metropolis", "heat-bath"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_generator_matches_enumeration(case, algorithm):
    data = CASES[case](algorithm=algorithm, seed=11, **MC)
    assert data.hamiltonian.n_sites <= 16 and data.samples.shape[0] == N_SAMPLES
    exact = ExactDistribution(data.hamiltonian, data.beta)
    assert chi_square_pvalue(data.samples, exact) > 1e-3
    d = data.diagnostics()
    assert 0.0 < d["acceptance_rate"] <= 1.0


def test_wrong_beta_is_detected():
    data = gen.ising1d(7, 0.6, N_SAMPLES, field=0.2, seed=11, **MC)
    assert chi_square_pvalue(data.samples, ExactDistribution(data.hamiltonian, 0.6 * 1.2)) < 1e-6


def test_missing_three_body_terms_are_detected():
    data = gen.ising_kbody(9, 0.5, N_SAMPLES, kbody_coupling=0.8, field=0.1, seed=11, **MC)
    pairs_only = SpinHamiltonian(data.hamiltonian.fields, {2: data.hamiltonian.interactions[2]})
    assert chi_square_pvalue(data.samples, ExactDistribution(pairs_only, data.beta)) < 1e-6


def test_exact_sampler_passes_and_has_the_same_layout():
    h = gen.blume_capel(5, 0.5, 10, three_body=1.0, chains=10, sweeps_thermalize=1).hamiltonian
    data = gen.sample_exact(h, 0.5, N_SAMPLES, seed=1)
    assert data.samples.dtype == torch.int8 and data.run is None
    assert chi_square_pvalue(data.samples, ExactDistribution(h, 0.5)) > 1e-3


def test_generators_are_reproducible_and_seed_dependent():
    a = gen.higher_order(10, 0.6, 50, seed=3, chains=10, sweeps_thermalize=5)
    b = gen.higher_order(10, 0.6, 50, seed=3, chains=10, sweeps_thermalize=5)
    c = gen.higher_order(10, 0.6, 50, seed=4, chains=10, sweeps_thermalize=5)
    assert torch.equal(a.samples, b.samples)
    assert not torch.equal(a.hamiltonian.interactions[3].values, c.hamiltonian.interactions[3].values)


def test_higher_order_generator_structure():
    # the 004 seed: N random order-3 terms of strength sqrt(gamma) * N(0, 1), Gaussian pair couplings
    data = gen.higher_order(30, 0.1, 10, gamma=0.25, order=3, pair_degree=4.0, seed=0, chains=10,
                            sweeps_thermalize=1)
    h = data.hamiltonian
    assert h.interactions[3].indices.shape == (30, 3)
    assert h.interactions[2].indices.shape == (60, 2)
    xi = h.interactions[3].values / 0.5
    assert 0.5 < float(xi.std()) < 1.6  # unit-variance draws, 30 of them
    assert data.parameters["gamma"] == 0.25 and data.parameters["n_terms"] == 30


def test_schedule_and_diagnostics():
    data = gen.ising1d(12, 0.5, 1000, chains=100, sweeps_thermalize=20, sweeps_between=3, seed=0)
    run = data.run
    assert run.samples.shape == (10, 100, 12) and run.energies.shape == (10, 100)
    assert run.n_colours == 2
    # samples are time-major: the first 100 rows are record 0 of chains 0..99
    assert torch.equal(data.samples[:100], run.samples[0])
    # recorded energies are the energies of the recorded samples
    assert torch.allclose(run.energies[0], data.hamiltonian.energy(data.samples[:100].double()))
    assert run.tau_energy == run.tau_energy  # estimated (not NaN) with 10 records per chain
