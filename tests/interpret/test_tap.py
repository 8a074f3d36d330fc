"""TAP / Plefka free energies (docs/methods.md section 3.1-3.2): fixed points are stationary points of the
implemented F, q=2 Potts reproduces the binary RBM exactly, ±1 RBMs go through the exact {0,1}
form, and F approaches -log Z (exact enumeration) with the error of the truncated order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.interpret.tap import (initial_magnetisations, tap_fixed_points, tap_free_energy,
                                    tap_kernel, tap_step)
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM


pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest


def random_rbm(n: int, nh: int, seed: int, scale: float = 1.0, bias: float = 0.5) -> RBM:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, nh, generator=g, dtype=torch.float64) * scale / np.sqrt(n)
    return RBM(w, bias * torch.randn(n, generator=g, dtype=torch.float64),
               bias * torch.randn(nh, generator=g, dtype=torch.float64))


def random_potts(n: int, q: int, nh: int, seed: int, scale: float = 1.0, bias: float = 1.0) -> PottsRBM:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, q, nh, generator=g, dtype=torch.float64) * scale / np.sqrt(n)
    return PottsRBM(w, bias * torch.randn(n, q, generator=g, dtype=torch.float64),
                    0.5 * torch.randn(nh, generator=g, dtype=torch.float64))


def _fd_gradient(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central finite differences of a batched scalar function f(x) -> (n,), per coordinate.

    Magnetisations near 0 or 1 get a step of 1e-3 min(m, 1-m): the entropy's third derivative
    1/m² would otherwise dominate the truncation error."""
    grad = torch.zeros_like(x)
    flat, xf = grad.reshape(len(x), -1), x.reshape(len(x), -1)
    for j in range(flat.shape[1]):
        step = torch.clamp(1e-3 * torch.minimum(xf[:, j], 1 - xf[:, j]), max=eps)
        e = torch.zeros_like(xf)
        e[:, j] = step
        e = e.reshape(x.shape)
        flat[:, j] = (f(x + e) - f(x - e)) / (2 * step)
    return grad


# ------------------------------------------------------------------------- stationarity
@pytest.mark.parametrize("order", [1, 2, 3])
def test_binary_fixed_points_are_stationary_points_of_f(order):
    # couplings strong enough for the Onsager terms to move the fixed points far from naive MF
    rbm = random_rbm(10, 6, seed=order, scale=3.0)
    x = (torch.rand(40, 10, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    result = tap_fixed_points(rbm, x, order=order, tol=1e-12, max_iter=20000)
    assert result.converged.sum() >= 30
    mv, mh = result.visible[result.converged], result.hidden[result.converged]
    if order > 1:
        naive = tap_fixed_points(rbm, x, order=1, tol=1e-12, max_iter=20000)
        assert (naive.visible[result.converged] - mv).abs().max() > 1e-2
    gv = _fd_gradient(lambda m: tap_free_energy(rbm, m, mh, order), mv)
    gh = _fd_gradient(lambda m: tap_free_energy(rbm, mv, m, order), mh)
    assert gv.abs().max() < 1e-6 and gh.abs().max() < 1e-6
    # and F at the fixed point is what the iteration reports
    torch.testing.assert_close(result.free_energy[result.converged],
                               tap_free_energy(rbm, mv, mh, order), rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_potts_fixed_points_are_stationary_points_of_f(order):
    model = random_potts(7, 3, 5, seed=order, scale=2.5, bias=0.5)
    x = torch.randint(0, 3, (30, 7), generator=torch.Generator().manual_seed(2)).double()
    result = tap_fixed_points(model, x, order=order, tol=1e-12, max_iter=20000)
    assert result.converged.sum() >= 25
    m, mh = result.visible[result.converged], result.hidden[result.converged]
    if order > 1:
        naive = tap_fixed_points(model, x, order=1, tol=1e-12, max_iter=20000)
        assert (naive.visible[result.converged] - m).abs().max() > 1e-2
    torch.testing.assert_close(m.sum(-1), torch.ones_like(m[..., 0]))
    gv = _fd_gradient(lambda p: tap_free_energy(model, p, mh, order), m)
    # stationary on the simplex: the gradient is constant over the states of each site
    gv = gv - gv.mean(-1, keepdim=True)
    gh = _fd_gradient(lambda p: tap_free_energy(model, m, p, order), mh)
    assert gv.abs().max() < 1e-6 and gh.abs().max() < 1e-6


# ------------------------------------------------------------------------- Potts q=2 == binary
@pytest.mark.parametrize("order", [1, 2])
def test_q2_potts_reproduces_binary_tap_exactly(order):
    rbm = random_rbm(9, 6, seed=10 + order, scale=3.0, bias=1.0)
    w = rbm.weights
    potts = PottsRBM(torch.stack([torch.zeros_like(w), w], 1),
                     torch.stack([torch.zeros_like(rbm.visible_bias), rbm.visible_bias], 1),
                     rbm.hidden_bias.clone())
    x = (torch.rand(25, 9, generator=torch.Generator().manual_seed(3)) < 0.5).double()
    a = tap_fixed_points(rbm, x, order=order, tol=1e-12, max_iter=5000)
    b = tap_fixed_points(potts, x, order=order, tol=1e-12, max_iter=5000)
    torch.testing.assert_close(b.visible[..., 1], a.visible, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.hidden, a.hidden, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.free_energy, a.free_energy, rtol=0, atol=1e-10)
    assert torch.equal(a.converged, b.converged) and torch.equal(a.n_iterations, b.n_iterations)
    # and the free energies agree at arbitrary magnetisations
    g = torch.Generator().manual_seed(4)
    mv, mh = torch.rand(6, 9, generator=g, dtype=torch.float64), torch.rand(6, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(tap_free_energy(potts, torch.stack([1 - mv, mv], -1), mh, order),
                               tap_free_energy(rbm, mv, mh, order), rtol=0, atol=1e-12)


def test_potts_free_energy_is_gauge_invariant():
    model = random_potts(6, 4, 5, seed=5, scale=2.0)
    gauged = model.zero_sum_gauge()
    x = torch.randint(0, 4, (20, 6), generator=torch.Generator().manual_seed(5)).double()
    a = tap_fixed_points(model, x, order=2, tol=1e-12)
    b = tap_fixed_points(gauged, x, order=2, tol=1e-12)
    torch.testing.assert_close(a.visible, b.visible, rtol=0, atol=1e-10)
    # F shifts by the constant removed from the visible bias: sum_i mean_mu b_i^mu
    shift = float(model.visible_bias.mean(1).sum())
    torch.testing.assert_close(b.free_energy - a.free_energy,
                               torch.full_like(a.free_energy, shift), rtol=0, atol=1e-10)


# ------------------------------------------------------------------------- ±1 RBMs
def test_spin_rbm_goes_through_the_exact_bernoulli_form():
    rbm = random_rbm(8, 5, seed=6, scale=1.5)
    spin, shift = rbm.to_ising()
    x = (torch.rand(15, 8, generator=torch.Generator().manual_seed(6)) < 0.5).double()
    for order in (1, 2, 3):
        a = tap_fixed_points(rbm, x, order=order, tol=1e-12)
        b = tap_fixed_points(spin, 2 * x - 1, order=order, tol=1e-12)
        assert a.converged.all() and b.converged.all()
        torch.testing.assert_close(b.visible, 2 * a.visible - 1, rtol=0, atol=1e-10)
        torch.testing.assert_close(b.hidden, 2 * a.hidden - 1, rtol=0, atol=1e-10)
        # log Z_{0/1} = log Z_{±1} + shift  =>  F_{±1} = F_{0/1} + shift
        torch.testing.assert_close(b.free_energy, a.free_energy + shift, rtol=0, atol=1e-10)
    weak = RBM(spin.weights * 0.1, spin.visible_bias, spin.hidden_bias, spin.visible_units,
               spin.hidden_units)
    f = tap_fixed_points(weak, torch.zeros(1, 8, dtype=torch.float64), order=2, tol=1e-13).free_energy
    assert float(f[0]) == pytest.approx(-weak.log_partition_exact(), abs=1e-5)


# ------------------------------------------------------------------------- against exact -log Z
def _errors(make, scales, order, start):
    out = []
    for s in scales:
        model = make(s)
        r = tap_fixed_points(model, start, order=order, tol=1e-14, max_iter=20000)
        assert r.converged.all()
        out.append(abs(float(r.free_energy[0]) + model.log_partition_exact()))
    return np.array(out)


def test_binary_tap_error_vs_exact_log_z_shrinks_with_the_truncation_order():
    base = random_rbm(12, 8, seed=1, scale=1.0, bias=1.5)
    scales = [0.2, 0.1, 0.05]

    def make(s):
        return RBM(base.weights * s, base.visible_bias, base.hidden_bias)

    start = torch.full((1, 12), 0.5, dtype=torch.float64)
    ratios = {order: _errors(make, scales, order, start) for order in (1, 2, 3)}
    for order, errors in ratios.items():
        r = errors[:-1] / errors[1:]
        # halving the couplings divides the error by ~2^(order+1): 4, 8, 16
        assert (r > 0.85 * 2 ** (order + 1)).all(), (order, errors, r)
    # order 2 is already accurate for weak couplings
    assert ratios[2][-1] < 1e-6


def test_potts_order2_error_vs_exact_log_z_shrinks_like_cube():
    base = random_potts(7, 3, 5, seed=2, scale=1.0)
    scales = [0.1, 0.05, 0.025]

    def make(s):
        return PottsRBM(base.weights * s, base.visible_bias, base.hidden_bias)

    start = torch.zeros(1, 7, dtype=torch.float64)
    e1 = _errors(make, scales, 1, start)
    e2 = _errors(make, scales, 2, start)
    assert (e1[:-1] / e1[1:] > 3.5).all()
    assert (e2[:-1] / e2[1:] > 7.0).all(), e2
    assert (e2 < e1).all()


# ------------------------------------------------------------------------- iteration mechanics
def test_convergence_is_reported_per_point_and_batches_do_not_interact():
    rbm = random_rbm(10, 6, seed=7, scale=3.0)
    x = (torch.rand(12, 10, generator=torch.Generator().manual_seed(7)) < 0.5).double()
    full = tap_fixed_points(rbm, x, order=2, tol=1e-10, max_iter=5000)
    for i in (0, 5, 11):
        alone = tap_fixed_points(rbm, x[i:i + 1], order=2, tol=1e-10, max_iter=5000)
        torch.testing.assert_close(alone.visible[0], full.visible[i], rtol=0, atol=1e-13)
        assert int(alone.n_iterations[0]) == int(full.n_iterations[i])
    batched = tap_fixed_points(rbm, x, order=2, tol=1e-10, max_iter=5000, batch_size=5)
    torch.testing.assert_close(batched.visible, full.visible, rtol=0, atol=1e-13)
    one = tap_fixed_points(rbm, x, order=2, tol=1e-10, max_iter=1)
    assert not one.converged.any() and (one.n_iterations == 1).all()


def test_damping_reaches_the_same_fixed_point():
    rbm = random_rbm(10, 6, seed=8, scale=0.8)  # weak: one (paramagnetic) fixed point
    x = (torch.rand(5, 10, generator=torch.Generator().manual_seed(8)) < 0.5).double()
    a = tap_fixed_points(rbm, x, order=3, tol=1e-12)
    b = tap_fixed_points(rbm, x, order=3, tol=1e-12, damping=0.6)
    assert a.converged.all() and b.converged.all()
    torch.testing.assert_close(a.visible, b.visible, rtol=0, atol=1e-9)
    assert (b.n_iterations > a.n_iterations).all()


def test_step_and_initial_state():
    rbm = random_rbm(6, 4, seed=9)
    x = (torch.rand(3, 6, generator=torch.Generator().manual_seed(9)) < 0.5).double()
    mv, mh = initial_magnetisations(rbm, x)
    torch.testing.assert_close(mv, x)
    torch.testing.assert_close(mh, rbm.transform(x))
    v1, h1 = tap_step(rbm, mv, mh, order=1)
    torch.testing.assert_close(h1, torch.sigmoid(rbm.hidden_field(x)))
    torch.testing.assert_close(v1, torch.sigmoid(rbm.visible_field(h1)))
    # beta scales every parameter
    k = tap_kernel(rbm, 0.5)
    torch.testing.assert_close(k.tap.weights, 0.5 * rbm.weights)
    torch.testing.assert_close(k.tap.visible_bias, 0.5 * rbm.visible_bias)


def test_user_errors():
    rbm = random_rbm(5, 3, seed=0)
    x = torch.zeros(2, 5, dtype=torch.float64)
    with pytest.raises(BoltzkitError, match="order 4"):
        tap_fixed_points(rbm, x, order=4)
    with pytest.raises(BoltzkitError, match="damping"):
        tap_fixed_points(rbm, x, damping=1.0)
    with pytest.raises(BoltzkitError, match="order 3"):
        tap_fixed_points(random_potts(4, 3, 2, seed=0), torch.zeros(2, 4), order=3)
    with pytest.raises(BoltzkitError, match="TAP"):
        tap_fixed_points(object(), x)
    with pytest.raises(BoltzkitError, match="4 visible values per point"):
        tap_fixed_points(rbm, x[:, :4])
