"""2D Ising 7x7 periodic ferromagnet against the transfer-matrix values of docs/methods.md section 2.1."""

import pytest

from boltzkit.synthetic.generators import ising2d
from boltzkit.synthetic.lattices import square_bonds

# beta: (<s_i s_j> nearest neighbours, <m^2> with m = sum_i s_i / N), exact for L = 7 periodic [our computation]
EXACT = {0.2: (0.21437, 0.05833), 0.4: (0.62391, 0.47745), 0.5: (0.87309, 0.84499), 0.6: (0.95452, 0.94985)}
CHAINS, RECORDS = 400, 60


@pytest.mark.parametrize("beta", sorted(EXACT))
def test_ising2d_7x7_matches_exact_values(beta):
    # 400 independent chains, 300 thermalisation sweeps (tau of m^2 is at most ~15 sweeps here, see the
    # printed diagnostics), then 60 records 2 sweeps apart. Per-chain time averages are independent
    # across chains, so their spread gives an honest standard error whatever the autocorrelation.
    # Tolerance: 3 standard errors (a correct sampler fails one of these 8 comparisons with
    # probability ~2% over seeds; the seed is fixed). The table's 5-decimal rounding (5e-6) is negligible.
    data = ising2d(7, beta, CHAINS * RECORDS, chains=CHAINS, sweeps_thermalize=300, sweeps_between=2, seed=2,
                   algorithm="metropolis")
    s = data.samples.double().reshape(RECORDS, CHAINS, 49)
    bonds = square_bonds(7, True)
    nn = (s[..., bonds[:, 0]] * s[..., bonds[:, 1]]).mean(-1).mean(0)   # per-chain averages, (CHAINS,)
    m2 = (s.mean(-1) ** 2).mean(0)
    for per_chain, exact in zip((nn, m2), EXACT[beta]):
        mean = float(per_chain.mean())
        se = float(per_chain.std()) / CHAINS ** 0.5
        assert se < 0.01  # the comparison is sharp enough to detect a 3% error
        assert abs(mean - exact) < 3 * se, (beta, mean, exact, se)


def test_heat_bath_agrees_at_the_critical_region():
    # beta = 0.4 is the hardest of the table for local updates (largest autocorrelation time).
    chains, records = 400, 60
    data = ising2d(7, 0.4, chains * records, chains=chains, sweeps_thermalize=300, sweeps_between=2, seed=5,
                   algorithm="heat-bath")
    s = data.samples.double().reshape(records, chains, 49)
    m2 = (s.mean(-1) ** 2).mean(0)
    se = float(m2.std()) / chains ** 0.5
    assert abs(float(m2.mean()) - EXACT[0.4][1]) < 3 * se
