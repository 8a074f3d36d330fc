"""Annealed importance sampling of log Z against exact enumeration.

AIS estimates Z without bias, log Z with a small negative bias (Jensen), and reports one
standard error (the delta method over all chains, or the spread of ``n_runs`` group estimates,
whichever is larger, and at least the rounding of the model's dtype); the error bars are checked
for coverage on 20 seeds. The checks: the analytic
W = 0 case (the importance weights are deterministic), random RBMs with up to 20 hidden units,
and an RBM trained on real data (binarised MNIST), all within 0.05 nats of the exact value and
within 3 of AIS's own error bars.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

import boltzkit
from boltzkit.estimator import BernoulliRBM
from boltzkit.models.baseline import independent_site_model
from boltzkit.synthetic.generators import ising1d
from boltzkit.models.base import Chains
from boltzkit.models.rbm import RBM
from boltzkit.sampling.ais import AISResult, ais_log_partition

# One intra-op thread: CPU time of the MNIST test measured 15 s (exact) + 14 s (AIS) with one
# thread, and 15 s + 98 s with two on a loaded 2-core machine (OpenMP barrier waits).
pytestmark = pytest.mark.usefixtures("single_thread")

TOL_NATS = 0.05
N_SIGMA = 3.0


def check_against_exact(result: AISResult, exact: float) -> None:
    diff = result.log_z - exact
    assert abs(diff) < TOL_NATS, f"AIS {result.log_z:.4f} vs exact {exact:.4f} (diff {diff:+.4f})"
    assert abs(diff) < N_SIGMA * result.error, (
        f"AIS off by {diff:+.4f} = {diff / result.error:+.1f} error bars ({result.error:.4f})")


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_ais_is_exact_when_the_weights_vanish(units):
    """W = 0: F_beta(v) = -b.v - sum_a log_norm(beta c_a), so every chain gets the same weight and
    AIS returns log Z = sum_i log_norm(b_i) + sum_a log_norm(c_a) whatever the chains do."""
    from boltzkit.models.units import UNIT_TYPES

    u = UNIT_TYPES[units]
    g = torch.Generator().manual_seed(0)
    b = torch.randn(9, generator=g, dtype=torch.float64)
    c = 2 * torch.randn(5, generator=g, dtype=torch.float64)
    model = RBM(torch.zeros(9, 5, dtype=torch.float64), b, c, u, u)
    r = ais_log_partition(model, n_chains=20, n_steps=50, n_runs=4, generator=g)
    expected = float(u.log_normalizer(b).sum() + u.log_normalizer(c).sum())
    assert r.log_z == pytest.approx(expected, abs=1e-10)  # 50 telescoping float64 increments
    assert r.error == pytest.approx(0.0, abs=1e-10)
    assert model.log_partition_exact() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("units", "n_visible", "n_hidden", "scale"), [
    ("bernoulli", 12, 4, 0.5),
    ("bernoulli", 12, 20, 0.3),
    ("spin", 12, 10, 0.25),
    ("spin", 10, 20, 0.15),
])
def test_ais_matches_exact_on_random_rbms(make_rbm, units, n_visible, n_hidden, scale):
    model = make_rbm(n_visible, n_hidden, units, scale=scale, seed=n_hidden)
    exact = model.log_partition_exact()
    r = ais_log_partition(model, n_chains=400, n_steps=400, n_runs=10,
                          generator=torch.Generator().manual_seed(1))
    check_against_exact(r, exact)


def test_ais_result_bookkeeping(make_rbm):
    model = make_rbm(8, 3, scale=0.5, seed=4)
    steps = []
    r = ais_log_partition(model, n_chains=103, n_steps=15, n_runs=10,
                          generator=torch.Generator().manual_seed(2), progress=steps.append)
    assert steps == list(range(1, 16))
    assert (r.n_chains, r.n_steps, len(r.run_estimates)) == (103, 15, 10)
    runs = torch.tensor(r.run_estimates, dtype=torch.float64)
    assert r.error == pytest.approx(float(runs.std() / math.sqrt(10)), rel=1e-12)
    # the pooled estimate is the log-mean of all chains' weights: between the run extremes
    assert min(r.run_estimates) - 1e-12 <= r.log_z <= max(r.run_estimates) + 1e-12
    same = ais_log_partition(model, n_chains=103, n_steps=15, n_runs=10,
                             generator=torch.Generator().manual_seed(2))
    assert same == r
    # more runs than chains: one chain per run
    few = ais_log_partition(model, n_chains=3, n_steps=5, n_runs=10,
                            generator=torch.Generator().manual_seed(2))
    assert len(few.run_estimates) == 3


def test_ais_detects_a_wrong_model(make_rbm):
    """Power of the comparison: AIS run on a model with perturbed weights misses the exact log Z
    of the original by far more than the tolerance."""
    model = make_rbm(12, 20, "bernoulli", scale=0.3, seed=20)
    wrong = RBM(model.weights * 1.1, model.visible_bias, model.hidden_bias)
    r = ais_log_partition(wrong, n_chains=400, n_steps=400, n_runs=10,
                          generator=torch.Generator().manual_seed(1))
    with pytest.raises(AssertionError):
        check_against_exact(r, model.log_partition_exact())


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_annealing_step_is_the_transition_of_the_annealed_models(make_rbm, units):
    """RBM.annealing_step (one v W product) gives F_beta(v) - F_beta'(v) of annealed(beta) and
    annealed(beta') (float64: 1e-12), and the Gibbs step of annealed(beta') with the same draws."""
    model = make_rbm(7, 5, units, scale=0.8, seed=5)
    v = model.init_chains(64, torch.Generator().manual_seed(1)).visible
    beta, beta_next = 0.3, 0.35
    base = independent_site_model(model.visible, v)  # the path from the data's one-site statistics
    for path in ({}, {"base": base}):
        increment, v_next = model.annealing_step(v, beta, beta_next, torch.Generator().manual_seed(2), **path)
        expected = (model.annealed(beta, **path).free_energy(v)
                    - model.annealed(beta_next, **path).free_energy(v))
        torch.testing.assert_close(increment, expected, rtol=0, atol=1e-12)
        by_step = model.annealed(beta_next, **path).sample_step(Chains(v), torch.Generator().manual_seed(2))
        assert torch.equal(v_next, by_step.visible)
    start = model.annealed(0.0, base=base)
    assert torch.equal(start.visible_bias, base.visible_bias) and not start.weights.any()
    assert model.annealing_base_log_partition(base=base) == pytest.approx(
        start.log_partition_exact(), abs=1e-10)


def test_error_bars_cover_the_exact_log_z_on_twenty_seeds():
    """AIS from the data's independent-site model, on a trained float32 RBM (a 20-spin Ising
    chain at beta = 0.5, 10 hidden units, the CLI's default training): over 20 seeds the exact
    log Z lies within one error bar at least about 68% of the time and within two about 95%.

    The thresholds allow binomial scatter: for 20 draws at p = 0.68 at least 9 fall inside with
    probability 0.99, at p = 0.95 at least 17 with probability 0.98. Before the base, the float64
    weight increments and the rounding floor, this model gave 5 of 20 within one error bar and 8
    within two (a float32 bias of about 1e-6 against error bars of 5e-7); now 18 and 20."""
    data = (ising1d(20, 0.5, 5000, seed=0).samples + 1) / 2
    model = boltzkit.BernoulliRBM(n_hidden=10, n_updates=1000, random_state=0).fit(data).model_
    exact = model.log_partition_exact()
    base = independent_site_model(model.visible, torch.as_tensor(data, dtype=torch.float32))
    z = []
    for seed in range(20):
        r = ais_log_partition(model, 1000, 500, 10, torch.Generator().manual_seed(seed), base=base)
        z.append(abs(r.log_z - exact) / r.error)
    z = np.asarray(z)
    assert (z < 1).sum() >= 9 and (z < 2).sum() >= 17, np.round(z, 2)


def test_models_without_annealing_step_take_the_generic_path(make_rbm):
    """The generic path (two annealed models per temperature, e.g. the Potts RBM) gives the same
    estimate up to rounding, with the same random draws."""

    class Generic:  # an RBM seen only through annealed() / annealing_base_log_partition()
        def __init__(self, rbm):
            self.rbm, self.device = rbm, rbm.device

        def annealed(self, beta, base=None):
            return self.rbm.annealed(beta, base)

        def annealing_base_log_partition(self, base=None):
            return self.rbm.annealing_base_log_partition(base)

    model = make_rbm(8, 4, "bernoulli", scale=0.6, seed=8)
    fast = ais_log_partition(model, 50, 40, 5, torch.Generator().manual_seed(3))
    generic = ais_log_partition(Generic(model), 50, 40, 5, torch.Generator().manual_seed(3))
    assert fast.log_z == pytest.approx(generic.log_z, abs=1e-10)


# ----------------------------------------------------------------------------- real data
# Settings measured on a 2-core machine (single thread, CPU seconds): training 5.6 s, exact
# log Z over 2**20 hidden states 11 s, AIS 500 chains x 3000 temperatures 14 s.
MNIST_HIDDEN = 20
AIS_CHAINS, AIS_STEPS = 500, 3000


@pytest.fixture(scope="module")
def mnist_rbm(mnist_binary, single_thread_module):
    """A BernoulliRBM with 20 hidden units trained by PCD-5 on 2000 binarised MNIST digits."""
    est = BernoulliRBM(n_hidden=MNIST_HIDDEN, method="pcd", n_updates=500, batch_size=200,
                       n_chains=200, gibbs_steps=5, learning_rate=0.05, random_state=0)
    return est.fit(mnist_binary.numpy())


@pytest.mark.slow
def test_ais_matches_exact_on_an_rbm_trained_on_mnist(mnist_rbm):
    model = mnist_rbm.model_
    assert model.n_visible == 784 and model.n_hidden == MNIST_HIDDEN
    # Guard: the model is trained, not the independent-site start (whose AIS would be trivial).
    assert float(model.weights.abs().max()) > 0.3
    t0 = time.process_time()
    exact = model.log_partition_exact()
    t1 = time.process_time()
    r = ais_log_partition(model, n_chains=AIS_CHAINS, n_steps=AIS_STEPS, n_runs=10,
                          generator=torch.Generator().manual_seed(1))
    t2 = time.process_time()
    print(f"\nMNIST RBM Nh={MNIST_HIDDEN}: exact log Z {exact:.4f} ({t1 - t0:.1f} s CPU); "
          f"AIS {AIS_CHAINS}x{AIS_STEPS} {r.log_z:.4f} ± {r.error:.4f} "
          f"(diff {r.log_z - exact:+.4f}, {t2 - t1:.1f} s CPU)")
    check_against_exact(r, exact)
