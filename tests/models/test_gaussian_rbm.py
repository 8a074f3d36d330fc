"""The Gaussian-Bernoulli RBM (docs/methods.md section 11), its real visible space and baselines.

Exact references: the hidden sum by enumeration, the visible integral by scipy quadrature, the
gradient by central finite differences of the exact log-likelihood, the moments of p(v) as the
mixture sum_h p(h) N(b + W h, sigma^2), scipy.stats for the baselines.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from boltzkit.errors import BoltzkitError, InvalidValue
from boltzkit.models.baseline import (FULL_COVARIANCE, INDEPENDENT_SITE, baselines,
                                      full_covariance_model, independent_site_model)
from boltzkit.models.base import Chains
from boltzkit.models.gaussian_rbm import GaussianRBM, SamplerSettings, build_from_data
from boltzkit.models.families import GAUSSIAN_RBM

from boltzkit.models.units import BERNOULLI
from boltzkit.models.visible import BERNOULLI_SPACE, REAL_SPACE, SPIN_SPACE, VisibleSpace, real_space
from boltzkit.sampling.ais import ais_log_partition

D = torch.float64
OPTIONS = dict(GAUSSIAN_RBM.options)


def random_model(n_visible: int, n_hidden: int, seed: int = 0, coupling: float = 0.8,
                 spread: float = 0.3, **kwargs) -> GaussianRBM:
    g = torch.Generator().manual_seed(seed)
    return GaussianRBM(torch.randn(n_visible, n_hidden, generator=g, dtype=D) * coupling,
                       torch.randn(n_visible, generator=g, dtype=D) * 0.5,
                       torch.randn(n_hidden, generator=g, dtype=D) * 0.5,
                       torch.randn(n_visible, generator=g, dtype=D) * spread, **kwargs)


def exact_moments(model: GaussianRBM) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of p(v) = sum_h p(h) N(m(h), diag sigma^2)."""
    chains = model.exact_chains()
    p, m = chains.weights, chains.visible
    mean = p @ m
    second = (m * p.unsqueeze(1)).T @ m + torch.diag(model.variance)
    return mean, second - torch.outer(mean, mean)


def moment_z_scores(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """|sample - exact| / standard error for every mean and every covariance entry i <= j of the
    i.i.d. rows of ``x`` (standard errors of products estimated from the rows themselves)."""
    n = len(x)
    z_mean = (x.mean(0) - mean) / (cov.diagonal() / n).sqrt()
    centred = x - mean
    i, j = torch.triu_indices(x.shape[1], x.shape[1])
    products = centred[:, i] * centred[:, j]
    z_cov = (products.mean(0) - cov[i, j]) / (products.std(0) / math.sqrt(n))
    return torch.cat([z_mean, z_cov]).abs()


# ------------------------------------------------------------------------------------- energies
def test_free_energy_sums_the_joint_energy_over_hidden_states():
    model = random_model(3, 4)
    v = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=D)
    hs = BERNOULLI.enumerate(4)
    energies = torch.stack([model.energy(v, h.expand(6, 4)) for h in hs], 1)
    # float64 sums of 16 terms: agreement to rounding
    torch.testing.assert_close(model.free_energy(v), -torch.logsumexp(-energies, 1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("n_visible", [1, 2])
def test_free_energy_and_log_z_against_quadrature(n_visible):
    model = random_model(n_visible, 3, seed=n_visible)
    def density(*v):
        return math.exp(-model.free_energy(torch.tensor([v[::-1]], dtype=D)).item())

    if n_visible == 1:
        z, _ = integrate.quad(density, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12)
    else:  # the density is negligible (< e^-40 of its peak) outside +-15 for these parameters
        z, _ = integrate.dblquad(density, -15, 15, -15, 15, epsabs=1e-13, epsrel=1e-12)
    # the bar: 1e-6 in float64 (quadrature reaches about 1e-12 here)
    assert abs(model.log_partition_exact() - math.log(z)) < 1e-6


def test_hidden_free_energy_is_the_gaussian_integral():
    model = random_model(1, 3, seed=4)
    for h in BERNOULLI.enumerate(3):
        h = h.unsqueeze(0)
        z, _ = integrate.quad(lambda a: math.exp(-model.energy(torch.tensor([[a]], dtype=D), h).item()),
                              -np.inf, np.inf, epsabs=1e-14, epsrel=1e-12)
        assert abs(-model.hidden_free_energy(h).item() - math.log(z)) < 1e-9


def test_free_energy_grad_matches_autograd():
    model = random_model(5, 7, seed=2)
    v = torch.randn(4, 5, generator=torch.Generator().manual_seed(3), dtype=D).requires_grad_()
    (grad,) = torch.autograd.grad(model.free_energy(v).sum(), v)
    torch.testing.assert_close(model.free_energy_grad(v.detach()), grad, atol=1e-12, rtol=0)


def test_transform_and_conditionals():
    model = random_model(3, 2, seed=5)
    v = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=D)
    hs = BERNOULLI.enumerate(2)
    # p(h_a = 1 | v) from the joint energies of the 4 hidden states
    logp = torch.stack([-model.energy(v, h.expand(5, 2)) for h in hs], 1).log_softmax(1)
    torch.testing.assert_close(model.transform(v), logp.exp() @ hs, atol=1e-12, rtol=0)


# ------------------------------------------------------------------------------------- gradient
def exact_log_likelihood(model: GaussianRBM, data: torch.Tensor, weights: torch.Tensor) -> float:
    w = weights / weights.sum()
    return float(w @ -model.free_energy(data)) - model.log_partition_exact()


def test_gradient_matches_finite_differences_of_the_exact_log_likelihood():
    model = random_model(3, 4, seed=7)
    g = torch.Generator().manual_seed(8)
    data = torch.randn(9, 3, generator=g, dtype=D) * 1.3 + 0.2
    weights = torch.rand(9, generator=g, dtype=D)
    grads = model.log_likelihood_gradient(data, model.exact_chains(), weights, centered=False)
    eps = 1e-6  # central differences: truncation ~eps^2, rounding ~1e-16 / eps = 1e-10
    for name, p in model.parameters().items():
        numeric = torch.zeros_like(p).view(-1)
        for i in range(p.numel()):
            shifted = []
            for sign in (1.0, -1.0):
                q = p.clone().view(-1)
                q[i] += sign * eps
                shifted.append(exact_log_likelihood(model._with(**{name: q.view(p.shape)}), data, weights))
            numeric[i] = (shifted[0] - shifted[1]) / (2 * eps)
        torch.testing.assert_close(grads[name].view(-1), numeric, atol=1e-7, rtol=0, msg=name)


def test_sampled_chains_estimate_the_same_gradient():
    """Chains drawn from the model (Rao-Blackwellised over h | v) agree with the exact model
    average within Monte Carlo error."""
    model = random_model(2, 3, seed=9, coupling=0.5)
    data = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=D)
    exact = model.log_likelihood_gradient(data, model.exact_chains(), centered=False)
    g = torch.Generator().manual_seed(2)
    chains = model.sample_steps(model.init_chains(40000, g), 100, g)
    sampled = model.log_likelihood_gradient(data, Chains(chains.visible), centered=False)
    for name in exact:
        # 40000 i.i.d. chains: standard errors below 0.02 for these O(1) per-chain terms
        torch.testing.assert_close(sampled[name], exact[name], atol=0.05, rtol=0, msg=name)


def test_centered_gradient_is_the_centering_map_of_the_plain_one():
    model = random_model(3, 4, seed=10)
    g = torch.Generator().manual_seed(0)
    data = torch.randn(8, 3, generator=g, dtype=D)
    chains = Chains(torch.randn(6, 3, generator=g, dtype=D))
    plain = model.log_likelihood_gradient(data, chains, centered=False)
    centered = model.log_likelihood_gradient(data, chains, centered=True)
    offsets = model.centering(data)
    x_bar, h_bar = offsets.visible, offsets.hidden
    grad_w = (plain["weights"] - torch.outer(x_bar, plain["hidden_bias"])
              - torch.outer(plain["visible_bias"], h_bar))
    torch.testing.assert_close(centered["weights"], grad_w)
    torch.testing.assert_close(centered["visible_bias"], plain["visible_bias"] - grad_w @ h_bar)
    torch.testing.assert_close(centered["hidden_bias"], plain["hidden_bias"] - x_bar @ grad_w)
    torch.testing.assert_close(centered["log_sigma"], plain["log_sigma"])
    mapped = offsets.to_centered(plain)  # the trainer's path: log sigma passes through
    assert set(mapped) == set(plain)
    torch.testing.assert_close(mapped["log_sigma"], plain["log_sigma"])
    torch.testing.assert_close(mapped["weights"], grad_w)


def test_exact_gradient_ascent_reaches_the_data_moments():
    """Maximum likelihood with the exact model average: a model with no hidden unit reaches the
    Gaussian fit (b = mean, sigma = std) in closed form."""
    scale = torch.tensor([0.5, 2.0], dtype=D)
    data = torch.randn(50, 2, generator=torch.Generator().manual_seed(4), dtype=D) * scale + 1.0
    model = GaussianRBM(torch.zeros(2, 0, dtype=D), torch.zeros(2, dtype=D), torch.zeros(0, dtype=D),
                        torch.zeros(2, dtype=D))
    for _ in range(3000):
        grads = model.log_likelihood_gradient(data, model.exact_chains(), centered=False)
        for name, p in model.parameters().items():
            p.add_(0.05 * grads[name] * (model.variance if name == "visible_bias" else 1.0))
    torch.testing.assert_close(model.visible_bias, data.mean(0), atol=1e-8, rtol=0)
    torch.testing.assert_close(model.log_sigma.exp(), data.std(0, unbiased=False), atol=1e-8, rtol=0)


# ------------------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("sampler, step_size, beta", [("gibbs", 0.01, 1.0), ("gibbs-langevin", 0.3, 1.0),
                                                      ("gibbs-langevin", 0.3, 0.5), ("gibbs", 0.01, 0.5)])
def test_samplers_reproduce_the_exact_moments(sampler, step_size, beta):
    model = random_model(3, 4, seed=11, coupling=0.6, spread=0.1)
    target = GaussianRBM(model.weights, model.visible_bias, model.hidden_bias * beta,
                         model.log_sigma - 0.5 * math.log(beta))  # p^beta, again a Gaussian RBM
    mean, cov = exact_moments(target)
    model = model.with_sampler(SamplerSettings(sampler, 10, step_size))
    g = torch.Generator().manual_seed(12)
    x = model.sample_steps(model.init_chains(20000, g), 300, g, beta).visible
    # 20000 independent chains, 9 statistics: |z| > 4.5 has probability 7e-6 each
    assert moment_z_scores(x, mean, cov).max() < 4.5


def test_unadjusted_gibbs_langevin_bias_shrinks_with_the_step_size():
    model = random_model(3, 4, seed=11, coupling=0.6, spread=0.1)
    exact_var = exact_moments(model)[1].diagonal()
    bias = []
    for step_size in (0.8, 0.2, 0.05):
        chained = model.with_sampler(SamplerSettings("gibbs-langevin-unadjusted", 10, step_size))
        g = torch.Generator().manual_seed(13)
        x = chained.sample_steps(chained.init_chains(40000, g), 200, g).visible
        bias.append((x.var(0) / exact_var - 1.0).mean().item())
    # Unadjusted Langevin inflates the variances (measured: 12%, 6%, 2.5% of them); with 40000
    # chains the relative error of each is about 0.4% (sqrt(2 / 40000) / sqrt(3) coordinates),
    # so steps of 0.015 are over 2.5 standard errors of a difference.
    assert bias[0] > bias[1] + 0.015 and bias[1] > bias[2] + 0.015 and bias[2] > 0


def test_gibbs_langevin_composes_its_langevin_steps():
    """(A, S) of langevin_coefficients are the mean map and spread of K explicit Langevin steps."""
    model = random_model(2, 3, seed=14).with_sampler(SamplerSettings("gibbs-langevin", 4, 0.4))
    decay, spread = model.langevin_coefficients(beta=0.7)
    r = model.variance / 0.7
    steps = torch.tensor([0.4 * float(r.mean()) * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)],
                         dtype=D)
    g = torch.Generator().manual_seed(0)
    v0, m = torch.tensor([1.0, -2.0], dtype=D), torch.tensor([0.3, 0.5], dtype=D)
    v = v0.expand(200000, 2).clone()
    for eta in steps:
        v = v - eta * (v - m) / r + (2 * eta).sqrt() * torch.randn(v.shape, generator=g, dtype=D)
    # 200000 draws: standard errors about 0.3% of the spread
    torch.testing.assert_close(v.mean(0), m + decay * (v0 - m), atol=0.01, rtol=0)
    torch.testing.assert_close(v.std(0), spread, atol=0.01, rtol=0)


def test_init_chains_draw_the_base_gaussians():
    data = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0), dtype=D) * 2.0 + 5.0
    model = GaussianRBM.init_from_data(data, 4, generator=torch.Generator().manual_seed(1))
    chains = model.init_chains(20000, torch.Generator().manual_seed(2))
    assert chains.hidden is None
    # 20000 draws: standard errors 0.014 (means) and 0.01 (standard deviations) for std 2
    torch.testing.assert_close(chains.visible.mean(0), data.mean(0), atol=0.07, rtol=0)
    torch.testing.assert_close(chains.visible.std(0), data.std(0), atol=0.05, rtol=0)


# ------------------------------------------------------------------------------------- AIS
def test_annealed_models_run_from_the_base_to_the_model():
    model = random_model(3, 5, seed=15, base=(torch.tensor([0.1, -0.2, 0.3], dtype=D),
                                             torch.tensor([1.5, 0.7, 1.1], dtype=D)))
    v = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=D)
    torch.testing.assert_close(model.annealed(1.0).free_energy(v), model.free_energy(v))
    assert model.annealed(0.0).log_partition_exact() == pytest.approx(model.annealing_base_log_partition(),
                                                                      abs=1e-12)
    baseline = independent_site_model(REAL_SPACE, v)
    for beta, beta_next in [(0.0, 0.1), (0.3, 0.35), (0.9, 1.0)]:
        for base in (None, baseline):
            increment, _ = model.annealing_step(v.clone(), beta, beta_next, base=base)
            expected = (model.annealed(beta, base).free_energy(v)
                        - model.annealed(beta_next, base).free_energy(v))
            torch.testing.assert_close(increment, expected, atol=1e-12, rtol=0)
    start = model.annealed(0.0, baseline)
    torch.testing.assert_close(start.visible_bias, baseline.visible_bias)
    torch.testing.assert_close(start.log_sigma, baseline.log_sigma)
    assert start.log_partition_exact() == pytest.approx(model.annealing_base_log_partition(baseline),
                                                        abs=1e-12)
    # the path is the geometric mean of the base and the model: F_beta = (1-beta) F_0 + beta F_1 on
    # the joint energies, so log-densities of the hidden-free part interpolate linearly
    h = BERNOULLI.enumerate(5)[[0, 7, 19]]
    e0 = model.annealed(0.0).energy(v[:3], h) - model.annealed(0.0).log_partition_exact()
    e_half = model.annealed(0.5).energy(v[:3], h)
    e1 = model.energy(v[:3], h)
    diff = e_half - 0.5 * (e0 + e1)
    torch.testing.assert_close(diff, diff[:1].expand(3))  # equal up to one constant


@pytest.mark.parametrize("start", ["stored", "baseline", "own"])
def test_ais_agrees_with_the_exact_log_partition(start):
    """AIS from the stored base (the training data's Gaussians), from the independent-site
    baseline fitted to samples (what evaluation passes), and from the model's own b and sigma."""
    model = random_model(4, 8, seed=16, coupling=0.5,
                         base=(torch.zeros(4, dtype=D), torch.ones(4, dtype=D)))
    g = torch.Generator().manual_seed(0)
    samples = model.sample_steps(model.init_chains(2000, g), 50, g).visible
    base = independent_site_model(REAL_SPACE, samples) if start == "baseline" else None
    if start == "own":
        model = model._with(base=None)
    exact = model.log_partition_exact()
    result = ais_log_partition(model, 1000, 1000, 10, g, **({} if base is None else {"base": base}))
    # the bar (0.05 nats) and the estimate's own error bar (3 standard errors)
    assert abs(result.log_z - exact) < min(0.05, 3 * result.error + 1e-3)


# ------------------------------------------------------------------------------------- config
def test_config_round_trip_keeps_space_sampler_and_base():
    space = real_space([1.0, -2.0, 0.5], [2.0, 3.0, 0.25])
    sampler = SamplerSettings("gibbs-langevin", 7, 0.05)
    model = random_model(3, 2, seed=17, visible=space, sampler=sampler,
                         base=(torch.zeros(3, dtype=D), torch.full((3,), 2.0, dtype=D)))
    config = model.config()
    loaded = GAUSSIAN_RBM.load(config, {k: p.clone() for k, p in model.parameters().items()})
    assert loaded.visible == space and loaded.sampler == sampler and loaded.config() == config
    assert config["standardize"] is True and GAUSSIAN_RBM.options.keys() <= config.keys()
    v = torch.randn(4, 3, dtype=D)
    torch.testing.assert_close(loaded.free_energy(v), model.free_energy(v))
    assert loaded.annealing_base_log_partition() == model.annealing_base_log_partition()
    moved = model.to(dtype=torch.float32)
    assert moved.dtype == torch.float32 and moved.base[0].dtype == torch.float32
    copy = model.clone()
    copy.weights.add_(1.0)
    assert not torch.equal(copy.weights, model.weights) and copy.sampler == sampler


def test_builder_through_the_registry():
    data = torch.randn(100, 4, generator=torch.Generator().manual_seed(0)) * 3.0 + 1.0
    space = REAL_SPACE.fitted(data.numpy())
    x = torch.as_tensor(space.from_data(data.numpy()), dtype=torch.float32)
    model = GAUSSIAN_RBM.build(x, None, space, {"n_hidden": 6, "sampler": "gibbs-langevin"}, 3)
    assert (model.n_visible, model.n_hidden, model.dtype, model.visible) == (4, 6, torch.float32, space)
    assert model.sampler.name == "gibbs-langevin"
    torch.testing.assert_close(model.visible_bias, torch.zeros(4), atol=1e-5, rtol=0)  # standardised
    torch.testing.assert_close(model.log_sigma, torch.zeros(4), atol=1e-5, rtol=0)
    assert GAUSSIAN_RBM.count_parameters(4, 1, {"n_hidden": 6}) == \
        sum(p.numel() for p in model.parameters().values())


@pytest.mark.parametrize("change, flag", [({"sampler": "metropolis"}, "--sampler"),
                                          ({"langevin_steps": 0}, "--langevin-steps (langevin_steps)"),
                                          ({"langevin_step_size": -1.0},
                                           "--langevin-step-size (langevin_step_size)"),
                                          ({"langevin_step_size": float("nan")},
                                           "--langevin-step-size (langevin_step_size)"),
                                          ({"standardize": "yes"}, "--standardize"),
                                          ({"n_hidden": 0}, "--hidden (n_hidden)")])
def test_builder_refuses_bad_options_in_one_line(change, flag):
    with pytest.raises(InvalidValue) as e:
        build_from_data(torch.zeros(3, 2), None, REAL_SPACE, {**OPTIONS, **change}, 0)
    assert str(e.value).startswith(flag) and "\n" not in str(e.value)


def test_builder_refuses_a_discrete_space():
    with pytest.raises(InvalidValue, match="real values"):
        build_from_data(torch.zeros(3, 2), None, BERNOULLI_SPACE, OPTIONS, 0)


def test_exact_sums_refuse_too_many_hidden_units():
    model = random_model(2, 27)
    with pytest.raises(ValueError, match="use AIS"):
        model.log_partition_exact()
    with pytest.raises(BoltzkitError, match="at most 22 hidden units"):
        model.exact_chains()


# ------------------------------------------------------------------------------------- visible space
def test_real_space_standardises_and_converts_back():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]
    w = rng.uniform(size=40)
    space = REAL_SPACE.fitted(x, w)
    mean = np.average(x, axis=0, weights=w)
    std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    np.testing.assert_allclose(space.offset, mean, rtol=1e-12)
    np.testing.assert_allclose(space.scale, std, rtol=1e-12)
    z = space.from_data(x)
    np.testing.assert_allclose(np.average(z, axis=0, weights=w), 0.0, atol=1e-12)
    np.testing.assert_allclose(space.to_data(torch.as_tensor(z)), x, rtol=1e-12)
    assert space.log_jacobian == pytest.approx(-np.log(std).sum())
    assert (space.data_kind, space.n_states, space.storage_dtype, space.values_text) == \
        ("continuous", 1, np.float32, "real values")
    assert REAL_SPACE.fitted(x, standardize=False) == REAL_SPACE and REAL_SPACE.log_jacobian == 0.0
    assert SPIN_SPACE.fitted(x) is SPIN_SPACE and SPIN_SPACE.log_jacobian == 0.0
    assert VisibleSpace("real", 2) == REAL_SPACE  # the registry asks for 2 states: a real space has 1
    space.check(z)
    with pytest.raises(InvalidValue, match="NaN"):
        space.check(np.array([[np.nan, 0.0, 0.0]]))


def test_constant_columns_are_refused_by_name():
    x = np.column_stack([np.arange(5.0), np.full(5, 3.0), np.ones(5) * 1e6, np.arange(5.0)])
    for standardize in (True, False):  # without standardisation too: a zero width is no density
        with pytest.raises(InvalidValue) as e:
            REAL_SPACE.fitted(x, standardize=standardize)
        assert str(e.value) == ("cannot model constant columns (0-based) 1, 2: a Gaussian of zero "
                                "width is no density (leave them out)")


def test_real_space_validates_offset_and_scale():
    for offset, scale in [([0.0], None), ([0.0, 1.0], [1.0]), ([0.0], [0.0]), ([np.inf], [1.0])]:
        with pytest.raises(ValueError):
            VisibleSpace("real", 1, offset, scale)
    with pytest.raises(ValueError):
        VisibleSpace("spin", 2, (0.0,), (1.0,))


# ------------------------------------------------------------------------------------- baselines
def test_independent_gaussian_baseline_against_scipy_in_data_units():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)) * [2.0, 0.5, 1.0] + [1.0, 0.0, -4.0]
    w = rng.uniform(size=60)
    space = REAL_SPACE.fitted(x[:40])
    z = torch.as_tensor(space.from_data(x))
    model = independent_site_model(space, z[:40], torch.as_tensor(w[:40]))
    log_p = -model.free_energy(z[40:]) - model.log_partition_exact() + space.log_jacobian
    mean = np.average(x[:40], axis=0, weights=w[:40])
    std = np.sqrt(np.average((x[:40] - mean) ** 2, axis=0, weights=w[:40]))
    expected = stats.norm(mean, std).logpdf(x[40:]).sum(1)
    np.testing.assert_allclose(log_p.numpy(), expected, rtol=1e-10)


def test_full_covariance_baseline_against_scipy():
    rng = np.random.default_rng(2)
    mixing = rng.normal(size=(4, 4))
    x = rng.normal(size=(80, 4)) @ mixing + 1.0
    w = rng.uniform(size=80)
    model = full_covariance_model(torch.as_tensor(x[:60]), torch.as_tensor(w[:60]))
    log_p = -model.free_energy(torch.as_tensor(x[60:])) - model.log_partition_exact()
    mean = np.average(x[:60], axis=0, weights=w[:60])
    cov = np.cov(x[:60].T, aweights=w[:60], bias=True)
    # the ridge (1e-6 of the mean variance) moves these log-densities by at most 1.5e-4 here (the
    # smallest eigenvalue of this covariance is about 1e-2 of the mean one); exactly scipy's with it
    expected = stats.multivariate_normal(mean, cov).logpdf(x[60:])
    np.testing.assert_allclose(log_p.numpy(), expected, atol=1e-3, rtol=0)
    with_ridge = stats.multivariate_normal(mean, model.cov.numpy()).logpdf(x[60:])
    np.testing.assert_allclose(log_p.numpy(), with_ridge, rtol=1e-10)


def test_full_covariance_of_collinear_columns_stays_finite():
    x = torch.randn(30, 2, dtype=D)
    x = torch.cat([x, x[:, :1] * 2.0], 1)  # a collinear third column
    model = full_covariance_model(x)
    assert math.isfinite(model.log_partition_exact()) and torch.isfinite(model.free_energy(x)).all()


def test_baselines_by_space():
    x = torch.randn(20, 3, dtype=D)
    assert list(baselines(REAL_SPACE, x)) == [INDEPENDENT_SITE, FULL_COVARIANCE]
    assert list(baselines(BERNOULLI_SPACE, (x > 0).double())) == [INDEPENDENT_SITE]
