"""Block Gibbs sampling reproduces the exact marginal p(v) of small RBMs (chi-square tests).

How the test can fail, and why it does not by chance:

* 20000 independent chains, each run long enough that its law is within 1e-6 (total variation)
  of p(v) — computed exactly from the 32 x 32 transition matrix of v -> h -> v' — so their final
  states are i.i.d. draws from p(v) up to a negligible bias (1e-6 * 20000 = 0.02 expected
  misplaced draws);
* Pearson chi-square on the 32 cells (cells expected below 5 counts pooled, >= 20 cells left). Under the null
  hypothesis the p-value is uniform on (0, 1): a threshold of 1e-3 gives a 1/1000 chance of a
  false alarm for a seed chosen blind (the seeds are fixed, so the test is deterministic);
* power: the same samples are confronted with the distribution of a model whose weights are
  perturbed by 0.1 N(0, 1), and must be rejected with p < 1e-6.
"""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from boltzkit.models.base import Chains
from boltzkit.models.rbm import RBM
from boltzkit.sampling.gibbs import run_chains, sample

pytestmark = pytest.mark.usefixtures("single_thread")

N_CHAINS = 20000
N_STEPS = 100
P_VALUE_MIN = 1e-3  # uniform p-value under H0: 1e-3 false-alarm rate for a blind seed
P_VALUE_WRONG = 1e-6


def exact_p(model: RBM, brute) -> torch.Tensor:
    return brute.distribution(model)[1]


def transition_matrix(model: RBM, brute) -> torch.Tensor:
    """T[v, v'] = sum_h p(h | v) p(v' | h), float64, rows indexed like brute.configs."""
    vs = brute.configs(model.n_visible, model.visible_units)
    hs = brute.configs(model.n_hidden, model.hidden_units)

    def cond(field, states, units):  # p(states | field) for factorised binary units
        p_high = units.prob_high(field).unsqueeze(1)  # (batch, 1, n)
        high = (states == units.high).unsqueeze(0)  # (1, n_states, n)
        return torch.where(high, p_high, 1 - p_high).prod(-1)

    p_h_given_v = cond(model.hidden_field(vs), hs, model.hidden_units)  # (32 v, 16 h)
    p_v_given_h = cond(model.visible_field(hs), vs, model.visible_units)  # (16 h, 32 v)
    return p_h_given_v @ p_v_given_h


def chi_square_p_value(counts: torch.Tensor, p: torch.Tensor) -> float:
    """Pearson chi-square p-value; cells expected below 5 counts are pooled (smallest first) into
    one cell of at least 5, so that the chi-square law of the statistic holds."""
    expected = p * counts.sum()
    order = torch.argsort(expected)
    n_pool = int((expected < 5).sum())
    while n_pool and float(expected[order[:n_pool]].sum()) < 5:
        n_pool += 1
    pooled, rest = order[:n_pool], order[n_pool:]
    obs = torch.cat([counts[pooled].sum().reshape(1), counts[rest]]) if n_pool else counts
    exp = torch.cat([expected[pooled].sum().reshape(1), expected[rest]]) if n_pool else expected
    assert len(obs) >= 20 and float(exp.min()) >= 5
    return float(stats.chisquare(obs.numpy(), exp.numpy()).pvalue)


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_block_gibbs_samples_the_exact_marginal(make_rbm, brute, units):
    # ±1 units with the same weights make stiffer models (second eigenvalue of T 0.93 at scale
    # 0.7 against 0.26 for {0,1}): scale 0.5 (0.83) keeps 100 steps ample (TV 3e-9).
    model = make_rbm(5, 4, units, scale=0.7 if units == "bernoulli" else 0.5, seed=31)
    p = exact_p(model, brute)

    # "Enough steps", computed: the law after N_STEPS steps from the uniform start is within
    # 1e-6 of p in total variation, and p is stationary for T.
    t = transition_matrix(model, brute)
    torch.testing.assert_close(p @ t, p, rtol=0, atol=1e-14)
    law = torch.full_like(p, 1 / len(p)) @ torch.linalg.matrix_power(t, N_STEPS)
    assert 0.5 * float((law - p).abs().sum()) < 1e-6

    g = torch.Generator().manual_seed(2024)
    x = sample(model, N_CHAINS, N_STEPS, generator=g)
    assert x.shape == (N_CHAINS, 5) and x.dtype == torch.float64
    assert set(x.unique().tolist()) <= {model.visible_units.low, model.visible_units.high}
    counts = torch.bincount(brute.index(x, model.visible_units), minlength=32).double()
    assert chi_square_p_value(counts, p) > P_VALUE_MIN

    # Power: the same counts against a slightly different model are rejected.
    g2 = torch.Generator().manual_seed(7)
    wrong = RBM(model.weights + 0.1 * torch.randn(model.weights.shape, generator=g2,
                                                  dtype=torch.float64),
                model.visible_bias, model.hidden_bias, model.visible_units, model.hidden_units)
    assert chi_square_p_value(counts, exact_p(wrong, brute)) < P_VALUE_WRONG


def test_too_few_steps_are_detected(make_rbm, brute):
    """Chains started all at one state and run 1 step are not at equilibrium: rejected."""
    model = make_rbm(5, 4, "bernoulli", scale=0.7, seed=31)
    g = torch.Generator().manual_seed(3)
    start = torch.zeros(N_CHAINS, 5, dtype=torch.float64)
    x = sample(model, N_CHAINS, 1, generator=g, start=start)
    counts = torch.bincount(brute.index(x, model.visible_units), minlength=32).double()
    assert chi_square_p_value(counts, exact_p(model, brute)) < P_VALUE_WRONG


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_gibbs_at_inverse_temperature_beta(make_rbm, brute, beta):
    """sample_step(beta) samples p_beta(v, h) ∝ exp(-beta E(v, h)): the marginal is that of the
    RBM with every parameter multiplied by beta."""
    model = make_rbm(5, 4, "bernoulli", scale=0.7, seed=31)
    scaled = RBM(beta * model.weights, beta * model.visible_bias, beta * model.hidden_bias)
    p = exact_p(scaled, brute)
    assert 0.5 * float((p - exact_p(model, brute)).abs().sum()) > 0.05  # beta matters
    law = torch.full_like(p, 1 / 32) @ torch.linalg.matrix_power(transition_matrix(scaled, brute),
                                                                 N_STEPS)
    assert 0.5 * float((law - p).abs().sum()) < 1e-6
    g = torch.Generator().manual_seed(11)
    x = sample(model, N_CHAINS, N_STEPS, generator=g, beta=beta)
    counts = torch.bincount(brute.index(x, model.visible_units), minlength=32).double()
    assert chi_square_p_value(counts, p) > P_VALUE_MIN


def test_sampling_is_reproducible_and_keeps_hidden_states(make_rbm):
    model = make_rbm(6, 3, "spin", scale=1.0, seed=2)
    a = sample(model, 50, 10, generator=torch.Generator().manual_seed(5))
    b = sample(model, 50, 10, generator=torch.Generator().manual_seed(5))
    c = sample(model, 50, 10, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    chains = run_chains(model, model.init_chains(50, torch.Generator().manual_seed(1)), 3,
                        torch.Generator().manual_seed(2))
    assert isinstance(chains, Chains)
    assert chains.visible.shape == (50, 6) and chains.hidden.shape == (50, 3)
    assert set(chains.hidden.unique().tolist()) <= {-1.0, 1.0}
    # zero steps return the chains untouched; start states are copied, not aliased
    start = model.init_chains(4, torch.Generator().manual_seed(0)).visible
    out = sample(model, 4, 0, start=start)
    assert torch.equal(out, start) and out.data_ptr() != start.data_ptr()


@pytest.mark.parametrize("block_steps", [3, 1])
def test_several_steps_per_uniform_draw_sample_the_exact_marginal(make_rbm, brute, monkeypatch,
                                                                  block_steps):
    """RBM.sample_steps draws the uniforms of several steps at once (rbm._UNIFORM_BLOCK): with
    3 steps per draw, 100 steps are 33 full blocks and a last block of one step; the chains'
    law must still be p(v) (same chi-square test as above, other seeds)."""
    import boltzkit.models.rbm as rbm_module

    model = make_rbm(5, 4, "bernoulli", scale=0.7, seed=31)
    per_step = N_CHAINS * (model.n_visible + model.n_hidden)
    monkeypatch.setattr(rbm_module, "_UNIFORM_BLOCK", block_steps * per_step)
    x = sample(model, N_CHAINS, N_STEPS, generator=torch.Generator().manual_seed(77))
    counts = torch.bincount(brute.index(x, model.visible_units), minlength=32).double()
    assert chi_square_p_value(counts, exact_p(model, brute)) > P_VALUE_MIN


@pytest.mark.parametrize("block_steps", [3, 100])
def test_sample_steps_is_the_half_step_loop_with_one_draw_per_block(make_rbm, monkeypatch,
                                                                    block_steps):
    """RBM.sample_steps is, bit for bit, the loop of sample_hidden / sample_visible half-steps fed
    the slices of one random_uniform block per ``block_steps`` steps (m hidden layers' draws,
    then m visible layers' draws), and it advances the generator by exactly one random_uniform
    call per block: 7 steps are blocks of 3, 3, 1 (3 calls) or one block of 7 (1 call)."""
    import boltzkit.models.rbm as rbm_module
    from boltzkit.models.units import random_uniform

    model = make_rbm(6, 3, "bernoulli", scale=1.0, seed=2).to(dtype=torch.float32)
    n, n_steps = 40, 7
    per_step = n * (model.n_visible + model.n_hidden)
    monkeypatch.setattr(rbm_module, "_UNIFORM_BLOCK", block_steps * per_step)
    calls = []

    def counting_uniform(*args, **kwargs):
        calls.append(args[0])
        return random_uniform(*args, **kwargs)

    monkeypatch.setattr(rbm_module, "random_uniform", counting_uniform)
    start = model.init_chains(n, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(9)
    a = model.sample_steps(start, n_steps, g)
    n_blocks = -(-n_steps // block_steps)
    assert len(calls) == n_blocks
    # the explicit loop, from an identically seeded generator
    ref = torch.Generator().manual_seed(9)
    v, h, done = start.visible, None, 0
    while done < n_steps:
        m = min(block_steps, n_steps - done)
        u = random_uniform((m * per_step,), ref, v.device, v.dtype)
        u_h = u[:m * n * model.n_hidden].view(m, n, model.n_hidden)
        u_v = u[m * n * model.n_hidden:].view(m, n, model.n_visible)
        for k in range(m):
            h = model.sample_hidden(v, uniform=u_h[k].clone())
            v = model.sample_visible(h, uniform=u_v[k].clone())
        done += m
    assert torch.equal(a.visible, v) and torch.equal(a.hidden, h)
    # the generator advanced by exactly n_blocks draws: both generators are in the same state
    assert torch.equal(g.get_state(), ref.get_state())
    # and the same state gives the same chains
    again = model.sample_steps(start, n_steps, torch.Generator().manual_seed(9))
    assert torch.equal(again.visible, a.visible) and torch.equal(again.hidden, a.hidden)
    assert a.visible.dtype == torch.float32 and set(a.visible.unique().tolist()) <= {0.0, 1.0}
    assert model.sample_steps(start, 0, g) is start
