"""ULA and MALA (sampling/langevin.py, docs/methods.md section 10.6) against exact moments.

How the tests can fail, and why they do not by chance:

* moments are estimated from the final states of many independent chains, so the effective sample
  size is the number of chains (no autocorrelation to estimate); each chain runs well past its
  relaxation (the burn-in is justified at each test), so the bias of the start is negligible;
* an estimate must lie within ``Z_TOL`` = 4.5 standard errors of the exact value: for a correct
  sampler each comparison fails with probability 7e-6 (normal tails; the sample sizes are in the
  thousands, so the central limit holds), about 1e-4 for all comparisons of this file together,
  for seeds chosen blind (the seeds are fixed: the tests are deterministic);
* power: the same comparison is made for ULA at the same step size, whose stationary law is
  biased, and must fail.
"""

from __future__ import annotations

import itertools
import math
import numpy as np
import pytest
import torch
from scipy import integrate

from boltzkit.errors import BoltzkitError, InvalidValue
from boltzkit.models.base import Chains
from boltzkit.models.gaussian_rbm import GaussianRBM
from boltzkit.models.visible import REAL_SPACE
from boltzkit.sampling.gibbs import run_chains, sample
from boltzkit.sampling.langevin import LangevinDynamics, langevin

pytestmark = pytest.mark.usefixtures("single_thread")

Z_TOL = 4.5  # standard errors; two-sided normal tail 7e-6 per comparison


class Energy:
    """A test model: the EnergyModel members a sampler uses, over real values, float64."""

    kind = "test-energy"
    visible = REAL_SPACE
    device = torch.device("cpu")
    dtype = torch.float64

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        return Chains(torch.randn(n, self.n_visible, generator=generator, dtype=self.dtype))

    def chains_from(self, x: torch.Tensor) -> Chains:
        return Chains(x.to(self.dtype).clone())

    def config(self) -> dict:
        return {"kind": self.kind}


class Gaussian(Energy):
    """F(x) = (x - mean)^T P (x - mean) / 2: p = N(mean, P^-1)."""

    def __init__(self, mean: torch.Tensor, covariance: torch.Tensor):
        self.mean, self.covariance = mean, covariance
        self.precision = torch.linalg.inv(covariance)
        self.n_visible = len(mean)

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        d = x - self.mean
        return 0.5 * ((d @ self.precision) * d).sum(1)


class GaussianWithGradient(Gaussian):
    """The same model declaring its gradient (the ContinuousEnergy capability)."""

    calls = 0

    def free_energy_grad(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return (x - self.mean) @ self.precision


class DoubleWell(Energy):
    """F(x) = x^4 / 4 - a x^2 / 2 + tilt x in one dimension."""

    n_visible = 1

    def __init__(self, a: float, tilt: float):
        self.a, self.tilt = a, tilt

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, 0]
        return x**4 / 4 - self.a * x**2 / 2 + self.tilt * x

    def exact_average(self, observable, upper: float = np.inf) -> float:
        """The integral of observable(x) p(x) over x < ``upper``, by adaptive quadrature in
        float64 (relative error 1e-12, far below the MC errors)."""
        def weight(x: float, function) -> float:
            return function(x) * math.exp(-(x**4 / 4 - self.a * x**2 / 2 + self.tilt * x))

        z = integrate.quad(weight, -np.inf, np.inf, args=(lambda x: 1.0,), epsabs=0, epsrel=1e-12)[0]
        return integrate.quad(weight, -np.inf, upper, args=(observable,), epsabs=0, epsrel=1e-12)[0] / z


def gaussian_3d() -> Gaussian:
    # eigenvalues of the covariance 0.29, 1.07, 1.95: a condition number near 7
    covariance = torch.tensor([[1.0, 0.6, 0.2], [0.6, 1.5, -0.4], [0.2, -0.4, 0.8]], dtype=torch.float64)
    return Gaussian(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), covariance)


def standard_errors_ok(samples: torch.Tensor, mean: torch.Tensor, covariance: torch.Tensor) -> bool:
    """Whether every mean and covariance entry of i.i.d. ``samples`` (N, n) lies within Z_TOL of its
    standard error from the exact value. The standard error of C_ij is the sample std of
    (x_i - m_i)(x_j - m_j) over sqrt(N) (the error of the estimated mean m enters at order 1/N)."""
    n = len(samples)
    centred = samples - samples.mean(0)
    products = centred.unsqueeze(2) * centred.unsqueeze(1)  # (N, n, n)
    mean_z = (samples.mean(0) - mean) / (samples.std(0) / math.sqrt(n))
    cov_z = (products.mean(0) - covariance) / (products.std(0) / math.sqrt(n))
    return bool(mean_z.abs().max() < Z_TOL) and bool(cov_z.abs().max() < Z_TOL)


# --------------------------------------------------------------------------- MALA: exact moments
def test_mala_reproduces_the_moments_of_a_correlated_gaussian():
    model = gaussian_3d()
    n_chains, step = 20000, 0.5
    # Start 3 away from the mean in every coordinate. Burn-in: the drift contracts the slowest
    # mode (precision eigenvalue 0.51) by 1 - 0.5 * 0.51 * (acceptance 0.55) = 0.86 per step, so
    # after 200 steps the start's trace is 0.86^200 * 5 < 1e-12, far below the standard errors
    # (about 0.01); the integrated autocorrelation time at this step size is about 8 steps.
    start = (model.mean + 3.0).expand(n_chains, 3).clone()
    result = langevin(model, start, 200, step, torch.Generator().manual_seed(1), metropolis=True)
    assert result.x.shape == (n_chains, 3) and result.acceptance.shape == (n_chains,)
    assert 0.4 < float(result.acceptance.mean()) < 0.7
    assert standard_errors_ok(result.x, model.mean, model.covariance)

    # power: ULA at the same step size has the stationary covariance (P - eps P^2 / 2)^-1,
    # 1.5 to 8 times the exact one, and must fail the same comparison
    ula = langevin(model, start, 200, step, torch.Generator().manual_seed(1))
    assert not standard_errors_ok(ula.x, model.mean, model.covariance)
    biased = torch.linalg.inv(model.precision - step * model.precision @ model.precision / 2)
    assert standard_errors_ok(ula.x, model.mean, biased)
    assert bool((ula.acceptance == 1).all())


def test_mala_reproduces_the_moments_of_a_double_well():
    # barrier of 1.45 kT from the left well (minimum at x = -1.48), 0.61 kT from the right one
    # (x = 1.33); the chains all start at x = 2, in the wrong well for most of the mass.
    model = DoubleWell(a=2.0, tilt=0.3)
    exact = [model.exact_average(lambda x, p=power: x**p) for power in (1, 2, 3)]
    n_chains = 20000
    start = torch.full((n_chains, 1), 2.0, dtype=torch.float64)
    # Burn-in: at step 0.5 (acceptance 0.58) the mean of the chains relaxes to its equilibrium
    # value with a time of about 7 steps (measured: off by 0.11 after 20 steps, within noise after
    # 40); 400 steps is 57 relaxation times (trace < 1e-20).
    result = langevin(model, start, 400, 0.5, torch.Generator().manual_seed(2), metropolis=True)
    x = result.x[:, 0]
    for power in (1, 2, 3):
        values = x**power
        z = (float(values.mean()) - exact[power - 1]) / float(values.std() / math.sqrt(n_chains))
        assert abs(z) < Z_TOL, (power, z)
    # the fraction of chains in the left well, against the quadrature
    p_left = model.exact_average(lambda x: 1.0, upper=0.15)  # 0.69
    z = (float((x < 0.15).double().mean()) - p_left) / math.sqrt(p_left * (1 - p_left) / n_chains)
    assert abs(z) < Z_TOL

    # power: ULA at step 0.1 puts <x^2> 10 standard errors off (measured), and at step 0.5 its
    # chains run away to infinity: the quartic's drift overshoots (Roberts & Tweedie 1996)
    ula = langevin(model, start, 400, 0.1, torch.Generator().manual_seed(2)).x[:, 0]
    z = (float((ula**2).mean()) - exact[1]) / float((ula**2).std() / math.sqrt(n_chains))
    assert abs(z) > Z_TOL
    with pytest.raises(BoltzkitError, match="diverged"):
        langevin(model, start, 100, 0.5, torch.Generator().manual_seed(2))


# --------------------------------------------------------------------------- ULA: O(eps) bias
def test_ula_variance_bias_shrinks_with_the_step_size_as_predicted():
    """ULA on N(0, s^2) is the AR(1) chain x' = (1 - eps/s^2) x + sqrt(2 eps) xi, whose stationary
    variance is s^2 / (1 - eps / (2 s^2)) (docs/methods.md section 10.6)."""
    s2, n_chains, n_steps = 1.5, 50000, 150
    model = Gaussian(torch.zeros(1, dtype=torch.float64), torch.full((1, 1), s2, dtype=torch.float64))
    start = torch.randn(n_chains, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    start *= math.sqrt(s2)
    variances = []
    for step in (0.4, 0.2, 0.1):
        # Started at exact N(0, s^2) samples, the law after t steps is Gaussian with variance
        # v + (s^2 - v) (1 - eps/s^2)^(2t): the transient is below 1e-10 after 150 steps.
        # The same seed for every step size (common random numbers) makes the three estimates
        # move together, so their order is sharper than their separate errors suggest.
        x = langevin(model, start, n_steps, step, torch.Generator().manual_seed(4)).x[:, 0]
        variance = float(x.var())
        predicted = s2 / (1 - step / (2 * s2))
        # the sample variance of N Gaussian draws has standard error v sqrt(2 / N) (0.63 %)
        assert abs(variance - predicted) < Z_TOL * predicted * math.sqrt(2 / n_chains), (step, variance)
        variances.append(variance)
    # biases 0.231, 0.107, 0.052: each halving of eps at least 1.5 times smaller (2.1 predicted)
    biases = [v - s2 for v in variances]
    assert biases[0] > 1.5 * biases[1] > 1.5 * 1.5 * biases[2] > 0


# --------------------------------------------------------------------------- adaptive step
@pytest.mark.parametrize("first_step", [1e-3, 10.0])
def test_adaptive_mala_reaches_the_target_acceptance(first_step):
    model = gaussian_3d()
    start = torch.zeros(2000, 3, dtype=torch.float64)
    result = langevin(model, start, 400, first_step, torch.Generator().manual_seed(5),
                      metropolis=True, adapt=True, n_adapt=200)
    # From 1e-3 or 10 the step settles near 0.48 (measured). Tolerance 0.03 on the mean acceptance
    # of the 200 frozen steps x 2000 chains: its MC error is about 0.003 (autocorrelation of the
    # accept indicator a few steps); the last Robbins-Monro gains (0.04) times the noise of a
    # 2000-chain mean acceptance (0.011) leave the step within 0.1 % of its fixed point; what
    # remains is the fixed point's shift from adapting while chains still approach equilibrium,
    # measured below 0.002. 0.03 is ten times the sum.
    assert abs(float(result.acceptance.mean()) - 0.574) < 0.03
    assert 0.3 < result.step_size < 0.7


def test_adaptation_target_is_honoured():
    model = gaussian_3d()
    start = torch.zeros(2000, 3, dtype=torch.float64)
    result = langevin(model, start, 400, 0.5, torch.Generator().manual_seed(6), metropolis=True,
                      adapt=True, target_acceptance=0.9)
    assert abs(float(result.acceptance.mean()) - 0.9) < 0.03  # as above
    assert result.step_size < 0.2


# --------------------------------------------------------------------------- the gradient
@pytest.mark.parametrize("metropolis", [True, False])
def test_the_declared_gradient_is_used_and_agrees_with_autograd(metropolis):
    mean, covariance = gaussian_3d().mean, gaussian_3d().covariance
    declared, plain = GaussianWithGradient(mean, covariance), Gaussian(mean, covariance)
    start = torch.zeros(50, 3, dtype=torch.float64)
    a = langevin(declared, start, 20, 0.4, torch.Generator().manual_seed(7), metropolis=metropolis)
    b = langevin(plain, start, 20, 0.4, torch.Generator().manual_seed(7), metropolis=metropolis)
    assert declared.calls == 21  # the start, then one proposal per step
    torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)
    torch.testing.assert_close(a.acceptance, b.acceptance)


def test_float32_models_and_no_grad_callers():
    model = gaussian_3d()
    model.mean, model.precision = model.mean.float(), model.precision.float()
    model.dtype = torch.float32
    with torch.no_grad():  # the samplers run under no_grad (run_chains): autograd is re-enabled inside
        result = langevin(model, torch.zeros(10, 3), 5, 0.3, torch.Generator().manual_seed(8), metropolis=True)
    assert result.x.dtype == torch.float32 and bool(result.x.isfinite().all())


# --------------------------------------------------------------------------- as a model's step
def test_langevin_dynamics_runs_through_the_generic_chains():
    model = gaussian_3d()
    dynamics = LangevinDynamics(model, 0.4)
    start = torch.zeros(30, 3, dtype=torch.float64)
    direct = langevin(model, start, 25, 0.4, torch.Generator().manual_seed(9), metropolis=True)
    chains = run_chains(dynamics, dynamics.chains_from(start), 25, torch.Generator().manual_seed(9))
    torch.testing.assert_close(chains.visible, direct.x, rtol=0, atol=0)
    one = dynamics.sample_step(Chains(start), torch.Generator().manual_seed(9))
    first = langevin(model, start, 1, 0.4, torch.Generator().manual_seed(9), metropolis=True)
    torch.testing.assert_close(one.visible, first.x, rtol=0, atol=0)
    drawn = sample(dynamics, 8, 3, torch.Generator().manual_seed(10))
    assert drawn.shape == (8, 3)
    unadjusted = LangevinDynamics(model, 0.4, metropolis=False)
    chains = run_chains(unadjusted, Chains(start), 25, torch.Generator().manual_seed(9))
    ula = langevin(model, start, 25, 0.4, torch.Generator().manual_seed(9))
    torch.testing.assert_close(chains.visible, ula.x, rtol=0, atol=0)


# --------------------------------------------------------------------------- at the door
def test_zero_steps_return_the_start():
    model = gaussian_3d()
    start = torch.randn(4, 3, dtype=torch.float64)
    result = langevin(model, start, 0, 0.1)
    torch.testing.assert_close(result.x, start)
    assert bool(result.acceptance.isnan().all()) and result.step_size == 0.1


@pytest.mark.parametrize("kwargs, message", [
    ({"step_size": 0.0}, "--langevin-step-size (step_size) must be > 0"),
    ({"step_size": -1.0}, "--langevin-step-size (step_size) must be > 0"),
    ({"step_size": float("nan")}, "--langevin-step-size (step_size) must be finite"),
    ({"step_size": float("inf")}, "--langevin-step-size (step_size) must be finite"),
    ({"step_size": "big"}, "--langevin-step-size (step_size) must be a number"),
    ({"n_steps": -1}, "--langevin-steps (n_steps) must be >= 0"),
    ({"n_steps": 1.5}, "--langevin-steps (n_steps) must be an integer"),
    ({"target_acceptance": 1.0, "metropolis": True, "adapt": True}, "target_acceptance must be < 1"),
    ({"target_acceptance": 0.0, "metropolis": True, "adapt": True}, "target_acceptance must be > 0"),
    ({"adapt": True}, "adapt needs metropolis=True"),
    ({"n_adapt": 5}, "n_adapt (5) needs adapt=True"),
    ({"n_adapt": 11, "metropolis": True, "adapt": True}, "n_adapt must be <= 10"),
    ({"beta": -1.0}, "beta must be >= 0"),
])
def test_bad_arguments_are_one_line(kwargs, message):
    arguments = {"n_steps": 10, "step_size": 0.1, **kwargs}
    with pytest.raises(InvalidValue) as info:
        langevin(gaussian_3d(), torch.zeros(2, 3, dtype=torch.float64), **arguments)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("start, message", [
    (torch.zeros(2, 4), "shape (n_chains, 3), got (2, 4)"),
    (torch.zeros(3), "shape (n_chains, 3), got (3,)"),
    (np.zeros((2, 3)), "shape (n_chains, 3), got ndarray"),
    (torch.tensor([[0.0, math.nan, 0.0]]), "must be finite"),
])
def test_bad_starts_are_one_line(start, message):
    with pytest.raises(InvalidValue, match=None) as info:
        langevin(gaussian_3d(), start, 10, 0.1)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_discrete_models_are_refused(make_rbm):
    rbm = make_rbm(4, 3, "bernoulli", seed=0)
    with pytest.raises(BoltzkitError, match=r"needs real-valued visible units: the bernoulli-rbm family's "
                                            r"visible units take values in \{0, 1\}"):
        langevin(rbm, torch.zeros(2, 4, dtype=torch.float64), 3, 0.1)
    with pytest.raises(BoltzkitError, match="needs real-valued visible units"):
        LangevinDynamics(rbm, 0.1)


def test_a_free_energy_without_a_gradient_is_one_line():
    class Frozen(Gaussian):
        def free_energy(self, x):
            return super().free_energy(x.detach())

    model = Frozen(gaussian_3d().mean, gaussian_3d().covariance)
    with pytest.raises(BoltzkitError, match="free energy of the test-energy family is not differentiable"):
        langevin(model, torch.zeros(2, 3, dtype=torch.float64), 3, 0.1)


def test_divergence_is_one_line():
    # ULA on N(0, 1) with eps = 5 multiplies x by -4 per step: beyond float64 in about 512 steps
    model = Gaussian(torch.zeros(1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64))
    with pytest.raises(BoltzkitError, match=r"diverged .* step size 5: use a smaller --langevin-step-size or MALA"):
        langevin(model, torch.ones(3, 1, dtype=torch.float64), 1000, 5.0, torch.Generator().manual_seed(0))
    # MALA rejects the same steps instead of diverging
    result = langevin(model, torch.ones(3, 1, dtype=torch.float64), 1000, 5.0,
                      torch.Generator().manual_seed(0), metropolis=True)
    assert bool(result.x.isfinite().all())


# --------------------------------------------------------------------------- a Gaussian RBM
def test_mala_reproduces_the_moments_of_a_gaussian_rbm():
    """MALA on the marginal free energy of a Gaussian-Bernoulli RBM, through its closed-form
    ``free_energy_grad``, against its exact moments: p(v) = sum_h p(h) N(b + W h, diag sigma^2),
    with p(h) by enumerating the 16 hidden states (written here from the joint energy of
    docs/methods.md section 11.1, not with the model's own sums)."""
    g = torch.Generator().manual_seed(11)
    weights = torch.randn(3, 4, generator=g, dtype=torch.float64) * 0.8
    visible_bias = torch.randn(3, generator=g, dtype=torch.float64) * 0.5
    log_sigma = torch.full((3,), -0.3, dtype=torch.float64)
    variance = torch.exp(2 * log_sigma)
    # hidden biases that offset each unit's quadratic gain, so that several hidden states matter
    # (p(h) of the largest state 0.84, then 0.04, 0.04, 0.03, ...)
    hidden_bias = torch.randn(4, generator=g, dtype=torch.float64) * 0.5 \
        - 0.5 * (weights**2 / variance[:, None]).sum(0)
    model = GaussianRBM(weights, visible_bias, hidden_bias, log_sigma)

    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64)
    wh = h @ weights.T
    # log of the integral over v of exp(-E(v, h)), up to a constant: c.h + sum_i ((Wh)_i^2 + 2 b_i (Wh)_i) / (2 sigma_i^2)
    p_h = torch.softmax(h @ hidden_bias + (wh * (2 * visible_bias + wh) / (2 * variance)).sum(1), 0)
    means = visible_bias + wh
    mean = p_h @ means
    covariance = torch.diag(variance) + (means * p_h[:, None]).T @ means - torch.outer(mean, mean)

    n_chains = 8000
    start = model.init_chains(n_chains, g).visible
    # 100 steps adapt the step (to about 0.36), 500 frozen ones follow. Burn-in, measured: the
    # largest deviation of the chains' moments fell from 13 standard errors at step 50 to 1.7 at
    # step 100 (an e-fold in about 25 steps), and the integrated autocorrelation time is about
    # 30 steps: 500 steps leave the start's trace e^-20 times its initial size.
    result = langevin(model, start, 600, 0.1, g, metropolis=True, adapt=True, n_adapt=100)
    assert abs(float(result.acceptance.mean()) - 0.574) < 0.03  # as in the adaptation test
    assert standard_errors_ok(result.x, mean, covariance)
