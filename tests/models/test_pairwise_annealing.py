"""The AIS temperature path of the pairwise models (potts-bm, ising-bm) and of the hybrid
(docs/methods.md section 6.2): theta_beta = (h, beta J) (hybrid: (h, beta J, beta E_NN)) from the
independent sites of the fields, or ((1 - beta) h_0 + beta h, ...) from the fields h_0 of an
independent-site model fitted to data (the ``base`` of AIS).

Checks: the ends and the linearity of the path, the exact draw at beta = 0 whatever the sampler, the
fast transition (``annealing_step``) against the two annealed models, and AIS log Z
(:func:`boltzkit.sampling.ais.ais_log_partition`) against exact enumeration on small random and
strongly coupled models, with the power to see a wrong model.
"""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.base import Chains
from boltzkit.models.baseline import independent_site_model
from boltzkit.models.capabilities import AnnealingPath, FastAnnealing
from boltzkit.models.hybrid import HybridEBM
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.sampling.ais import AISResult, ais_log_partition

pytestmark = pytest.mark.usefixtures("single_thread")

# AIS settings of the comparisons: 400 chains in 10 groups, 400 temperatures (0.2 to 1.4 s CPU
# per model on one thread).
AIS_CHAINS, AIS_STEPS, AIS_RUNS = 400, 400, 10
# Tolerance: 4 of AIS's own error bars (one standard error, docs/methods.md section 6.2). Measured
# over 20 generator seeds on each of the 14 comparisons below (280 runs): |AIS - exact| exceeded
# 1, 2 and 3 error bars in 33.6 %, 5.7 % and 0.7 % of the runs (a normal law gives 31.7, 4.6 and
# 0.3 %), never 4 (largest 3.3): the error bars are calibrated, and 4 leaves a margin for other
# seeds. MAX_ERROR keeps the comparison meaningful: the largest error bar in those runs was 0.052
# (the Metropolis Potts model), the typical one 0.002 to 0.04 nats, against log Z of 7 to 35.
N_SIGMA = 4.0
MAX_ERROR = 0.06


def random_potts(length: int, q: int, scale: float, ferro: float, seed: int,
                 sampler: str = "gibbs") -> PottsModel:
    """Fields N(0, 0.25), couplings N(0, scale^2) (symmetrised) plus ``ferro`` on the diagonal
    J_ij(a, a): with ferro = 1 every site pulls its neighbours into its state (ordered phase)."""
    g = torch.Generator().manual_seed(seed)
    h = 0.5 * torch.randn(length, q, generator=g, dtype=torch.float64)
    j = scale * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = j + ferro * torch.eye(q, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    return PottsModel(h, j, sampler)


def random_ising(n: int, scale: float, ferro: float, seed: int, sampler: str = "gibbs") -> IsingModel:
    """Fields N(0, 0.09), couplings N(ferro, scale^2), symmetric with zero diagonal."""
    g = torch.Generator().manual_seed(seed)
    h = 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    j = torch.triu(scale * torch.randn(n, n, generator=g, dtype=torch.float64) + ferro, 1)
    return IsingModel(h, j + j.T, sampler)


def random_hybrid(n: int, parts: tuple[bool, bool], seed: int, network_scale: float = 5.0) -> HybridEBM:
    """A hybrid with random h, J (scale 0.3) and a network of 16 units whose output layer is
    scaled by ``network_scale`` (energy differences of a few units, like the pairwise part's)."""
    g = torch.Generator().manual_seed(seed)
    model = HybridEBM(n, 16, "silu", *parts, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        if model.pairwise:
            model.fields.copy_(0.5 * torch.randn(n, generator=g, dtype=torch.float64))
            j = torch.triu(0.3 * torch.randn(n, n, generator=g, dtype=torch.float64), 1)
            model.couplings.copy_(j + j.T)
        if model.neural:
            model.network.network[-1].weight.mul_(network_scale)
    return model


MODELS = {
    "potts-gibbs": lambda: random_potts(5, 3, 0.5, 0.5, 0),
    "potts-metropolis": lambda: random_potts(5, 3, 0.5, 0.5, 0, "metropolis"),
    "ising-gibbs": lambda: random_ising(8, 0.5, 0.1, 0),
    "ising-metropolis": lambda: random_ising(8, 0.5, 0.1, 0, "metropolis"),
    "hybrid": lambda: random_hybrid(8, (True, True), 0),
    "hybrid-pair": lambda: random_hybrid(8, (True, False), 1),
    "hybrid-nn": lambda: random_hybrid(8, (False, True), 2),
}
PAIRWISE = [name for name in MODELS if not name.startswith("hybrid")]


def random_states(model, n: int, seed: int) -> torch.Tensor:
    return model.init_chains(n, torch.Generator().manual_seed(seed)).visible


def fitted_base(model, seed: int = 11):
    """The independent-site model fitted to 200 states of a few sweeps of ``model`` (the base
    ``evaluate`` anneals from: close to the model's one-site statistics, far from its fields)."""
    g = torch.Generator().manual_seed(seed)
    chains = model.init_chains(200, g)
    for _ in range(5):
        chains = model.sample_step(chains, g)
    return independent_site_model(model.visible, chains.visible)


BASES = {"own fields": lambda model: None, "fitted base": fitted_base}


# ------------------------------------------------------------------------------ the path
@pytest.mark.parametrize("name", sorted(MODELS))
def test_capabilities(name):
    model = MODELS[name]()
    assert isinstance(model, AnnealingPath)
    # the hybrid's sweep dominates an AIS step: it takes the generic path (two annealed models)
    assert isinstance(model, FastAnnealing) == (name in PAIRWISE)


@pytest.mark.parametrize("start", sorted(BASES))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_path_ends_and_linearity(name, start):
    """annealed(0, base) is the independent-site model of the fields (or of the base's), with the
    closed-form log Z (float64 enumeration: 1e-10); annealed(1, base) is the model;
    E_beta = E_0 + beta (E_1 - E_0)."""
    model = MODELS[name]()
    base = BASES[start](model)
    first = model.annealed(0.0, base)
    assert first.log_partition_exact() == pytest.approx(model.annealing_base_log_partition(base), abs=1e-10)
    s = random_states(model, 64, 1)
    e0, e1 = first.free_energy(s), model.free_energy(s)
    if base is not None:  # the base's own energy, up to the constant its fields are shifted by
        shift = e0 - base.free_energy(s.double())
        torch.testing.assert_close(shift, shift[:1].expand(64), rtol=0, atol=1e-12)
    torch.testing.assert_close(model.annealed(1.0, base).free_energy(s), e1, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.annealed(0.37, base).free_energy(s), e0 + 0.37 * (e1 - e0),
                               rtol=0, atol=1e-12)
    # the path scales copies: the model's own tensors are untouched
    assert torch.equal(model.free_energy(s), e1)


@pytest.mark.parametrize("name", ["potts-gibbs", "ising-gibbs", "hybrid-nn"])
def test_a_base_of_another_shape_is_refused(name):
    model = MODELS[name]()
    spins = not isinstance(model, PottsModel)
    other = fitted_base(random_potts(5, 4, 0.1, 0.0, 1) if spins else random_ising(5, 0.1, 0.0, 1))
    with pytest.raises(ValueError, match="AIS base of shape"):
        model.annealed(0.5, other)


@pytest.mark.parametrize("name", ["potts-metropolis", "ising-metropolis"])
def test_the_base_is_drawn_exactly_whatever_the_sampler(name):
    """AIS starts from one sweep of annealed(0) from uniform states: a heat-bath sweep of
    independent sites is an exact draw, a Metropolis sweep is not; so annealed(0) sweeps by heat
    bath. Site frequencies of 20000 draws within 5 binomial standard errors of exp h / Z_i."""
    model = MODELS[name]()
    base = model.annealed(0.0)
    assert base.sampler == "gibbs" and model.annealed(0.5).sampler == "metropolis"
    n = 20000
    g = torch.Generator().manual_seed(3)
    drawn = base.sample_step(base.init_chains(n, g), g).visible
    if isinstance(model, PottsModel):
        p = torch.softmax(model.fields, -1)
        freq = torch.nn.functional.one_hot(drawn.long(), model.n_states).double().mean(0)
    else:
        p = torch.sigmoid(2 * model.fields)  # P(s_i = +1) = e^h / (e^h + e^-h)
        freq = (drawn > 0).double().mean(0)
    assert float(((freq - p).abs() / (p * (1 - p) / n).sqrt()).max()) < 5


@pytest.mark.parametrize("start", sorted(BASES))
@pytest.mark.parametrize("name", PAIRWISE)
def test_annealing_step_is_the_transition_of_the_annealed_models(name, start):
    """The increment (beta' - beta) (E_0(v) - E(v)) equals E_beta(v) - E_beta'(v) of the annealed
    models (float64: 1e-12) and the new states are annealed(beta')'s sweep with the same draws."""
    model = MODELS[name]()
    base = BASES[start](model)
    v = random_states(model, 128, 4)
    beta, beta_next = 0.3, 0.35
    increment, v_next = model.annealing_step(v, beta, beta_next, torch.Generator().manual_seed(5), base)
    expected = model.annealed(beta, base).free_energy(v) - model.annealed(beta_next, base).free_energy(v)
    torch.testing.assert_close(increment, expected, rtol=0, atol=1e-12)
    by_step = model.annealed(beta_next, base).sample_step(Chains(v), torch.Generator().manual_seed(5))
    assert torch.equal(v_next, by_step.visible)


@pytest.mark.parametrize("name", ["potts-gibbs", "ising-gibbs"])
def test_coupling_and_field_energies_add_up_to_the_energy(name):
    """E = E_J + field energy of h (float64: 1e-12); an empty batch gives an empty result."""
    model = MODELS[name]()
    s = random_states(model, 50, 7)
    torch.testing.assert_close(model.coupling_energy(s) + model.field_energy(s, model.fields),
                               model.energy(s), rtol=0, atol=1e-12)
    assert model.coupling_energy(s[:0]).shape == (0,)


def test_fast_and_generic_paths_give_the_same_estimate():
    """ais_log_partition through annealing_step and through two annealed models per temperature
    (a wrapper without annealing_step): the same draws, increments equal to rounding."""
    model = random_potts(6, 3, 0.5, 0.5, 8)

    class Generic:
        def __init__(self, inner):
            self.inner, self.device = inner, inner.device

        def annealed(self, beta, base=None):
            return self.inner.annealed(beta, base)

        def annealing_base_log_partition(self, base=None):
            return self.inner.annealing_base_log_partition(base)

    fast = ais_log_partition(model, 60, 50, 5, torch.Generator().manual_seed(9))
    generic = ais_log_partition(Generic(model), 60, 50, 5, torch.Generator().manual_seed(9))
    assert fast.log_z == pytest.approx(generic.log_z, abs=1e-10)


# ------------------------------------------------------------------------------ AIS vs exact
CASES = {  # q**L or 2**N states: 3**8 = 6561, 4**6 = 4096, 4**7 = 16384, 2**12 = 4096
    "potts L8 q3 random": lambda: random_potts(8, 3, 0.5, 0.0, 1),
    "potts L6 q4 random": lambda: random_potts(6, 4, 0.5, 0.0, 2),
    "potts L8 q3 ordered": lambda: random_potts(8, 3, 0.5, 1.0, 3),
    "potts L7 q4 ordered": lambda: random_potts(7, 4, 0.6, 1.0, 4),
    "potts L7 q4 ordered metropolis": lambda: random_potts(7, 4, 0.6, 1.0, 4, "metropolis"),
    "ising N10 random": lambda: random_ising(10, 0.4, 0.0, 5),
    "ising N12 spin glass": lambda: random_ising(12, 0.8, 0.0, 6),
    "ising N12 spin glass metropolis": lambda: random_ising(12, 0.8, 0.0, 6, "metropolis"),
    "ising N12 ferromagnet": lambda: random_ising(12, 0.3, 0.5, 7),
    "hybrid N10": lambda: random_hybrid(10, (True, True), 3),
    "hybrid N10 network only": lambda: random_hybrid(10, (False, True), 4, network_scale=20.0),
}


def check_against_exact(result: AISResult, exact: float) -> None:
    diff = result.log_z - exact
    assert result.error < MAX_ERROR, f"AIS error bar {result.error:.4f} too wide for the comparison"
    assert abs(diff) < N_SIGMA * result.error, (
        f"AIS {result.log_z:.4f} vs exact {exact:.4f}: off by {diff:+.4f} = "
        f"{diff / result.error:+.1f} error bars ({result.error:.4f})")


@pytest.mark.parametrize("case", sorted(CASES))
def test_ais_matches_exact(case):
    model = CASES[case]()
    exact = model.log_partition_exact()
    # guard: the couplings matter (log Z moves by more than a nat from the independent sites)
    assert abs(exact - model.annealing_base_log_partition()) > 1.0
    r = ais_log_partition(model, AIS_CHAINS, AIS_STEPS, AIS_RUNS, torch.Generator().manual_seed(1))
    check_against_exact(r, exact)


@pytest.mark.parametrize("case", ["potts L7 q4 ordered", "ising N12 spin glass", "hybrid N10 network only"])
def test_ais_from_a_fitted_base_matches_exact(case):
    """The path from an independent-site model fitted to samples (what ``evaluate`` uses)."""
    model = CASES[case]()
    r = ais_log_partition(model, AIS_CHAINS, AIS_STEPS, AIS_RUNS, torch.Generator().manual_seed(1),
                          base=fitted_base(model))
    check_against_exact(r, model.log_partition_exact())


def test_ais_detects_a_wrong_model():
    """Power: AIS on the ordered Potts model with couplings 3 % stronger misses the original's
    exact log Z by far more than the tolerance."""
    model = CASES["potts L8 q3 ordered"]()
    wrong = PottsModel(model.fields, 1.03 * model.couplings)
    r = ais_log_partition(wrong, AIS_CHAINS, AIS_STEPS, AIS_RUNS, torch.Generator().manual_seed(1))
    with pytest.raises(AssertionError):
        check_against_exact(r, model.log_partition_exact())
