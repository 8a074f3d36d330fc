"""Parallel tempering leaves the model's law invariant: the replica at beta = 1 reproduces the exact
marginal of small binary and Potts RBMs (chi-square on every visible state), also on a strongly
coupled, two-mode model where plain Gibbs chains from one mode do not; the ladder reaches its
target exchange acceptance.

Chi-square: 20000 independent chains (each chain index is its own set of replicas); cells expected
below 5 counts pooled; a p-value threshold of 1e-3 (uniform under H0: a 1/1000 false alarm for a
blind seed; the seeds are fixed) and a power check (the counts against a perturbed model, p < 1e-6).
"""

from __future__ import annotations

import pytest
import torch

from boltzkit.errors import InvalidValue
from boltzkit.models.baseline import independent_site_model
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM
from boltzkit.sampling.gibbs import run_chains
from boltzkit.sampling.tempering import ParallelTempering, adaptive_ladder, parallel_tempering_samples
from scipy import stats

pytestmark = pytest.mark.usefixtures("single_thread")
N_CHAINS = 20000


def chi_square_p_value(counts: torch.Tensor, p: torch.Tensor) -> float:
    """Pearson chi-square p-value over the states, those expected below 5 counts pooled into one
    cell (the two-mode model puts nearly all its mass on a dozen states: fewer cells than the
    Gibbs tests' 20, each with the chi-square law's 5 expected counts)."""
    expected = p * counts.sum()
    rare = expected < 5
    obs = torch.cat([counts[~rare], counts[rare].sum().reshape(1)])
    exp = torch.cat([expected[~rare], expected[rare].sum().reshape(1)])
    if float(exp[-1]) < 5:  # too little pooled mass for a cell of its own: joined to the smallest
        obs, exp = obs[:-1].clone(), exp[:-1].clone()
        smallest = int(torch.argmin(exp))
        obs[smallest] += counts[rare].sum()
        exp[smallest] += expected[rare].sum()
    assert len(obs) >= 8
    return float(stats.chisquare(obs.numpy(), exp.numpy()).pvalue)


def exact(model) -> tuple[torch.Tensor, torch.Tensor]:
    states = model.enumerate_visible()
    return states, torch.softmax(-model.free_energy(states).double(), 0)


def cell(x: torch.Tensor, q: int) -> torch.Tensor:
    """Index of each state (codes or {0,1} bits) in the enumeration order (first site slowest)."""
    powers = q ** torch.arange(x.shape[1] - 1, -1, -1)
    return (x.long() * powers).sum(1)


def random_potts_rbm(g: torch.Generator) -> PottsRBM:
    """4 sites of q = 3 states, 3 hidden units, couplings of scale 1.2 drawn from ``g``: 81
    visible states, every one enumerated."""
    n, q, h = 4, 3, 3
    return PottsRBM(torch.randn(n, q, h, generator=g, dtype=torch.float64) * 1.2,
                    torch.randn(n, q, generator=g, dtype=torch.float64) * 0.5,
                    torch.randn(h, generator=g, dtype=torch.float64) * 0.5)


def two_mode_rbm() -> RBM:
    """6 {0,1} units all coupled to one hidden unit with weight 10, biases placing the two modes
    (all 0s; all 1s with h = 1) at equal energy 0 behind a barrier of 15 (3 units on): a Gibbs
    chain crosses between them about once in exp(15) steps."""
    w = torch.full((6, 1), 10.0, dtype=torch.float64)
    return RBM(w, torch.full((6,), -5.0, dtype=torch.float64), torch.tensor([-30.0], dtype=torch.float64))


def data_base(model, n: int = 5000, seed: int = 0):
    """The independent-site model of exact samples of ``model`` (what AIS and PT start from)."""
    states, p = exact(model)
    g = torch.Generator().manual_seed(seed)
    return independent_site_model(model.visible, states[torch.multinomial(p, n, replacement=True, generator=g)])


def test_pt_samples_the_exact_marginal_of_a_two_mode_rbm():
    model = two_mode_rbm()
    states, p = exact(model)
    assert float(p[0]) > 0.3 and float(p[-1]) > 0.3  # two modes, each with a third of the mass or more
    g = torch.Generator().manual_seed(5)
    # plain Gibbs from the all-0 mode stays there: the all-1 mode (a third of the mass) is reached
    # by about 1 chain in 2000 in 300 steps
    stuck = run_chains(model, model.chains_from(torch.zeros(2000, 6, dtype=torch.float64)), 300, g).visible
    assert float((stuck.sum(1) == 6).double().mean()) < 0.01
    betas = [k / 10 for k in range(11)]
    pt = ParallelTempering.on_path(model, betas, N_CHAINS, g, data_base(model))
    x = pt.step(300).visible
    counts = torch.bincount(cell(x, 2), minlength=64).double()
    assert chi_square_p_value(counts, p) > 1e-3
    assert torch.all(pt.acceptance > 0)
    wrong = RBM(model.weights * 1.05, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6


def test_pt_samples_the_exact_marginal_of_a_potts_rbm_from_the_data_base():
    g = torch.Generator().manual_seed(2)
    q, n = 3, 4
    model = random_potts_rbm(g)
    states, p = exact(model)
    data = states[torch.multinomial(p, 5000, replacement=True, generator=g)]
    base = independent_site_model(model.visible, data)  # the path from the data's one-site model
    pt = ParallelTempering.on_path(model, [0.0, 0.25, 0.5, 0.75, 1.0], N_CHAINS, g, base)
    x = pt.step(150).visible
    counts = torch.bincount(cell(x, q), minlength=q ** n).double()
    assert chi_square_p_value(counts, p) > 1e-3
    wrong = PottsRBM(model.weights * 1.1, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6


def test_adaptive_ladder_reaches_the_target_acceptance():
    model = two_mode_rbm()
    base = data_base(model)
    g = torch.Generator().manual_seed(9)
    betas = adaptive_ladder(model, n_chains=2000, target=0.5, pilot_steps=40, generator=g, base=base)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and len(betas) > 2
    pt = ParallelTempering.on_path(model, betas, 2000, g, base)
    pt.step(100)
    pt.reset_counts()
    pt.step(200)
    # measured again on fresh chains: every pair near its target (0.5 minus sampling noise)
    assert float(pt.acceptance.min()) > 0.4, (betas, pt.acceptance)
    x, used, acceptance = parallel_tempering_samples(model, 500, 50, g, base=base, target=0.5)
    assert x.shape == (500, 6) and used[-1] == 1.0 and acceptance.shape == (len(used) - 1,)


def test_bad_ladders_are_one_line():
    for betas in ([0.0], [0.1, 1.0], [0.0, 0.5, 0.5, 1.0], [0.0, 0.9]):
        with pytest.raises(InvalidValue, match="increase from 0 to 1"):
            ParallelTempering.on_path(two_mode_rbm(), betas, 10)
    with pytest.raises(InvalidValue, match="--target-acceptance"):
        adaptive_ladder(two_mode_rbm(), target=1.5)


def test_sample_command_with_parallel_tempering(tmp_path):
    from typer.testing import CliRunner

    from boltzkit.cli.main import app

    runner = CliRunner()
    rng = torch.Generator().manual_seed(0)
    modes = (torch.rand(300, 1, generator=rng) < 0.5).double()
    x = (torch.rand(300, 10, generator=rng) < 0.1 + 0.8 * modes).to(torch.uint8).numpy()
    import numpy as np

    np.save(tmp_path / "x.npy", x)
    run = tmp_path / "r.h5"
    result = runner.invoke(app, ["train", str(tmp_path / "x.npy"), "-o", str(run), "--hidden", "3",
                                 "--updates", "100", "--quiet", "--no-check", "--batch-size", "100",
                                 "--chains", "100"])
    assert result.exit_code == 0, result.output
    for sampler in ("pt", "ptt"):
        result = runner.invoke(app, ["sample", str(run), "-o", str(tmp_path / f"{sampler}.npy"), "--sampler",
                                     sampler, "--n", "100", "--gibbs-steps", "30"])
        assert result.exit_code == 0, result.output
        samples = np.load(tmp_path / f"{sampler}.npy")
        assert samples.shape == (100, 10) and set(np.unique(samples)) <= {0, 1}
    for args, message in [(["--sampler", "pt", "--langevin-steps", "3"], "--sampler pt runs each model's own step"),
                          (["--sampler", "hmc"], "--sampler hmc: the bernoulli-rbm family samples with its own step")]:
        result = runner.invoke(app, ["sample", str(run), "-o", str(tmp_path / "t.npy"), *args])
        assert result.exit_code == 2 and message in result.output and not (tmp_path / "t.npy").exists()


def test_trajectory_tempering_samples_the_last_checkpoint_exactly():
    """PTT on a synthetic 'training trajectory' of the two-mode RBM (weights and biases grown from
    0 to their final values over 30 checkpoints), started from the data's one-site model."""
    model = two_mode_rbm()
    states, p = exact(model)
    checkpoints = [RBM(model.weights * s, model.visible_bias * s, model.hidden_bias * s)
                   for s in torch.linspace(0.05, 1.0, 30, dtype=torch.float64).tolist()]
    g = torch.Generator().manual_seed(13)
    pt = ParallelTempering.trajectory([data_base(model), *checkpoints], N_CHAINS, g, target=0.3)
    assert pt.kept[0] == 0 and pt.kept[-1] == 30 and 2 < len(pt.kept) < 31
    x = pt.step(200).visible
    counts = torch.bincount(cell(x, 2), minlength=64).double()
    assert chi_square_p_value(counts, p) > 1e-3
    assert float(pt.acceptance.min()) > 0.1, (pt.kept, pt.acceptance)
    wrong = RBM(model.weights * 1.05, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6


def test_trajectory_tempering_on_a_potts_rbm():
    g = torch.Generator().manual_seed(4)
    q, n = 3, 4
    model = random_potts_rbm(g)
    states, p = exact(model)
    checkpoints = [PottsRBM(model.weights * s, model.visible_bias * s, model.hidden_bias * s)
                   for s in torch.linspace(0.1, 1.0, 10, dtype=torch.float64).tolist()]
    pt = ParallelTempering.trajectory([data_base(model), *checkpoints], N_CHAINS, g)
    x = pt.step(150).visible
    counts = torch.bincount(cell(x, q), minlength=q ** n).double()
    assert chi_square_p_value(counts, p) > 1e-3
    wrong = PottsRBM(model.weights * 1.1, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6


def test_trajectory_tempering_bridges_checkpoints_too_far_apart():
    """Three checkpoints only: the walk inserts models between them (interpolated parameters) until
    neighbours exchange at the target; the last checkpoint is still sampled exactly."""
    model = two_mode_rbm()
    states, p = exact(model)
    coarse = [RBM(model.weights * s, model.visible_bias * s, model.hidden_bias * s) for s in (0.05, 0.5, 1.0)]
    g = torch.Generator().manual_seed(17)
    pt = ParallelTempering.trajectory([data_base(model), *coarse], N_CHAINS, g, target=0.3)
    assert any(k != int(k) for k in pt.kept) and pt.kept[-1] == 3.0  # bridges between checkpoints
    x = pt.step(200).visible
    assert chi_square_p_value(torch.bincount(cell(x, 2), minlength=64).double(), p) > 1e-3
    assert float(pt.acceptance.min()) > 0.15, (pt.kept, pt.acceptance)


def test_one_sweep_carries_a_fresh_draw_from_replica_0_to_the_target():
    """Identical replicas exchange always (log ratio 0): the bottom-up sweep takes the configuration
    drawn at replica 0 to the target in the same step, so every step brings one passage per chain
    (an even/odd scheme would need K - 1 steps for one)."""
    g = torch.Generator().manual_seed(3)
    base = data_base(two_mode_rbm())
    pt = ParallelTempering([base] * 5, 50, g)
    pt.step(7)
    assert pt.passages == 7 * 50 and torch.all(pt.acceptance == 1.0)
    pt.reset_counts()
    assert pt.passages == 0 and torch.isnan(pt.acceptance).all()


def test_trajectory_replicas_start_in_independent_orders():
    """Annealed chains keep their mode through the last, strongly coupled checkpoints (a target of
    0.9 keeps them close: 28 and 30); each replica's rows are reordered at random, so a chain index
    is in the all-1 mode on both or neither of the last two replicas about p^2 + (1 - p)^2 of the
    time (p its share, 0.2 to 0.8: at most 0.68), not almost always (0.95 unshuffled, this seed):
    2000 chains, a standard deviation of 0.011, the bound 0.8 is 10 of them from either."""
    model = two_mode_rbm()
    checkpoints = [RBM(model.weights * s, model.visible_bias * s, model.hidden_bias * s)
                   for s in torch.linspace(0.05, 1.0, 30, dtype=torch.float64).tolist()]
    g = torch.Generator().manual_seed(21)
    pt = ParallelTempering.trajectory([data_base(model), *checkpoints], 2000, g, target=0.9)
    ones = [c.visible.sum(1) == 6 for c in pt.chains[-2:]]
    assert 0.2 < float(ones[1].double().mean()) < 0.8
    assert float((ones[0] == ones[1]).double().mean()) < 0.8


def tilted_rbm(t: float) -> RBM:
    """The two-mode RBM with the all-1 mode's weight multiplied by exp(6 t) (its visible bias
    shifted by t): the modes change weight, not place, along a trajectory of t."""
    model = two_mode_rbm()
    return RBM(model.weights, model.visible_bias + t, model.hidden_bias)


def test_trajectory_replicas_are_checked_at_equilibrium():
    """Along 30 checkpoints whose all-1 mode grows from exp(-6) to exp(9) times the all-0 one,
    chains annealed from the uniform start keep their share of each mode, so the walk alone keeps
    checkpoints 1 and 30 only, whose exchanges are accepted 0.19 of the time at equilibrium
    (measured). Checked at equilibrium, checkpoints join until every pair of checkpoints reaches
    the target (0.3; 0.05 below it allowed for the noise of 200 steps). (The first pair, the
    uniform start and checkpoint 1, cannot take a model between them; the exactness of the
    sampler is the other tests'.)"""
    uniform = RBM(torch.zeros(6, 0, dtype=torch.float64), torch.zeros(6, dtype=torch.float64),
                  torch.zeros(0, dtype=torch.float64))
    checkpoints = [tilted_rbm(t) for t in torch.linspace(-1.0, 1.5, 30, dtype=torch.float64).tolist()]
    pt = ParallelTempering.trajectory([uniform, *checkpoints], 5000, torch.Generator().manual_seed(0))
    assert len(pt.kept) > 3 and pt.kept[1] == 1.0
    pt.reset_counts()
    pt.step(200)
    assert float(pt.acceptance[1:].min()) > 0.25, (pt.kept, pt.acceptance)
