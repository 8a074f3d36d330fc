"""Binary RBM: exact log Z, free energies and the {0,1} <-> ±1 conversions against brute force.

Every reference enumerates both layers from the joint energy E(v, h) (tests/conftest.py), so it
shares no code with RBM.log_partition_exact / RBM.free_energy. Parameters are N(0, 1): large
enough that every term (weights, both biases) changes the result by O(1).
"""

from __future__ import annotations

import math

import pytest
import torch

from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN

pytestmark = pytest.mark.usefixtures("single_thread")

# float64 sums of at most 2**14 terms of size O(30): round-off ~1e-12; 1e-6 leaves a margin of
# 1e6 while any wrong term (a missing bias, a wrong layer) moves log Z by O(1).
TOL_LOG_Z = 1e-6
# Per-configuration free energies: a handful of float64 operations, round-off ~1e-14.
TOL_ENERGY = 1e-10

SHAPES = [(6, 9), (10, 4), (5, 5), (1, 7)]


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
@pytest.mark.parametrize(("n_visible", "n_hidden"), SHAPES)
def test_log_partition_exact_matches_double_enumeration(make_rbm, brute, units, n_visible,
                                                        n_hidden):
    model = make_rbm(n_visible, n_hidden, units, scale=1.0, seed=n_visible * 100 + n_hidden)
    reference = brute.log_z(model)
    assert model.log_partition_exact() == pytest.approx(reference, abs=TOL_LOG_Z)
    # Chunking must not matter: a chunk that does not divide 2**small, and a chunk of one.
    assert model.log_partition_exact(chunk_size=7) == pytest.approx(reference, abs=TOL_LOG_Z)
    assert model.log_partition_exact(chunk_size=1) == pytest.approx(reference, abs=TOL_LOG_Z)


def test_log_partition_exact_is_float64_for_float32_models(make_rbm):
    """A float32 model is summed in float64: same value as the float64 copy of its parameters."""
    model32 = make_rbm(12, 8, scale=1.0, seed=3, dtype=torch.float32)
    model64 = model32.to(dtype=torch.float64)
    # Same parameters, same float64 arithmetic: only summation order could differ (~1e-13).
    assert model32.log_partition_exact() == pytest.approx(model64.log_partition_exact(), abs=1e-10)


def test_log_partition_exact_refuses_large_models(make_rbm):
    model = make_rbm(30, 30, scale=0.1)
    with pytest.raises(ValueError, match="AIS"):
        model.log_partition_exact(max_units=26)


def test_log_partition_of_a_model_without_hidden_units():
    """n_hidden = 0 (the independent-site model): log Z = sum_i log(1 + e^{b_i})."""
    b = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    model = RBM(torch.zeros(3, 0, dtype=torch.float64), b, torch.zeros(0, dtype=torch.float64))
    expected = sum(math.log1p(math.exp(x)) for x in b.tolist())
    assert model.log_partition_exact() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
@pytest.mark.parametrize(("n_visible", "n_hidden"), [(6, 9), (10, 4)])
def test_free_energies_match_enumeration(make_rbm, brute, units, n_visible, n_hidden):
    model = make_rbm(n_visible, n_hidden, units, scale=1.0, seed=7)
    vs = brute.configs(n_visible, model.visible_units)
    torch.testing.assert_close(model.free_energy(vs), brute.free_energy(model, vs),
                               rtol=0, atol=TOL_ENERGY)
    # The dual marginal -log sum_v exp(-E(v, h)), by enumerating v for every h.
    hs = brute.configs(n_hidden, model.hidden_units)
    e = brute.energy(model, vs.repeat(len(hs), 1), hs.repeat_interleave(len(vs), 0))
    dual = -torch.logsumexp(-e.reshape(len(hs), len(vs)), 1)
    torch.testing.assert_close(model.hidden_free_energy(hs), dual, rtol=0, atol=TOL_ENERGY)
    # The joint energy itself.
    n = min(len(vs), len(hs))
    v, h = vs[:n], hs.flip(0)[:n]
    torch.testing.assert_close(model.energy(v, h), brute.energy(model, v, h), rtol=0,
                               atol=TOL_ENERGY)


def test_spin_log_normalizer_is_stable_for_large_fields():
    """log 2cosh(f) = |f| + log(1 + e^{-2|f|}): finite and exact where cosh overflows."""
    f = torch.tensor([-1000.0, -30.0, 0.0, 1e-3, 30.0, 1000.0], dtype=torch.float64)
    expected = torch.tensor([1000.0, 30.0 + math.log1p(math.exp(-60.0)), math.log(2.0),
                             math.log(2.0 * math.cosh(1e-3)), 30.0 + math.log1p(math.exp(-60.0)),
                             1000.0], dtype=torch.float64)
    torch.testing.assert_close(SPIN.log_normalizer(f), expected, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(BERNOULLI.log_normalizer(torch.tensor([-800.0, 800.0],
                                                                     dtype=torch.float64)),
                               torch.tensor([0.0, 800.0], dtype=torch.float64))


@pytest.mark.parametrize(("n_visible", "n_hidden"), [(6, 9), (10, 4)])
def test_to_ising_is_the_same_distribution(make_rbm, brute, n_visible, n_hidden):
    """v = (1+σ)/2, h = (1+τ)/2: E_{0/1}(v, h) = E_{±1}(2v-1, 2h-1) - s for every pair, hence
    F_{0/1}(v) = F_{±1}(2v-1) - s and log Z_{0/1} = log Z_{±1} + s."""
    bern = make_rbm(n_visible, n_hidden, "bernoulli", scale=1.0, seed=11)
    ising, shift = bern.to_ising()
    assert (ising.visible_units, ising.hidden_units) == (SPIN, SPIN)
    assert ising.kind == "ising-rbm" and bern.kind == "bernoulli-rbm"

    vs = brute.configs(n_visible, BERNOULLI)
    hs = brute.configs(n_hidden, BERNOULLI)
    v, h = vs.repeat_interleave(len(hs), 0), hs.repeat(len(vs), 1)
    torch.testing.assert_close(brute.energy(bern, v, h),
                               brute.energy(ising, 2 * v - 1, 2 * h - 1) - shift,
                               rtol=0, atol=TOL_ENERGY)
    torch.testing.assert_close(bern.free_energy(vs), ising.free_energy(2 * vs - 1) - shift,
                               rtol=0, atol=TOL_ENERGY)
    assert bern.log_partition_exact() == pytest.approx(ising.log_partition_exact() + shift,
                                                       abs=TOL_LOG_Z)
    assert brute.log_z(bern) == pytest.approx(brute.log_z(ising) + shift, abs=TOL_LOG_Z)


def test_to_bernoulli_inverts_to_ising(make_rbm, brute):
    bern = make_rbm(7, 5, "bernoulli", scale=1.0, seed=12)
    ising, shift = bern.to_ising()
    back, shift_back = ising.to_bernoulli()
    # Round trip: a few float64 operations on O(1) numbers.
    for name, tensor in bern.parameters().items():
        torch.testing.assert_close(back.parameters()[name], tensor, rtol=0, atol=1e-12)
    assert shift_back == pytest.approx(shift, abs=1e-12)
    assert (back.visible_units, back.hidden_units) == (BERNOULLI, BERNOULLI)

    # And from a random ±1 model: the shift obeys log Z_{0/1} = log Z_{±1} + s.
    spin = make_rbm(7, 5, "spin", scale=1.0, seed=13)
    bern2, s2 = spin.to_bernoulli()
    assert brute.log_z(bern2) == pytest.approx(brute.log_z(spin) + s2, abs=TOL_LOG_Z)
    vs = brute.configs(7, BERNOULLI)
    torch.testing.assert_close(bern2.free_energy(vs), spin.free_energy(2 * vs - 1) - s2,
                               rtol=0, atol=TOL_ENERGY)
    again, _ = bern2.to_ising()
    for name, tensor in spin.parameters().items():
        torch.testing.assert_close(again.parameters()[name], tensor, rtol=0, atol=1e-12)


def test_conversions_refuse_the_wrong_units(make_rbm):
    with pytest.raises(ValueError):
        make_rbm(3, 2, "spin").to_ising()
    with pytest.raises(ValueError):
        make_rbm(3, 2, "bernoulli").to_bernoulli()


def test_conditionals_are_the_exact_conditionals(make_rbm, brute):
    """p(h_a = high | v) from the joint energy equals the unit's prob_high / mean of the field."""
    for units in ("bernoulli", "spin"):
        model = make_rbm(4, 3, units, scale=1.0, seed=5)
        vs = brute.configs(4, model.visible_units)
        hs = brute.configs(3, model.hidden_units)
        e = brute.energy(model, vs.repeat_interleave(len(hs), 0), hs.repeat(len(vs), 1))
        p_h_given_v = torch.softmax(-e.reshape(len(vs), len(hs)), 1)  # (16 v, 8 h)
        torch.testing.assert_close(model.transform(vs), p_h_given_v @ hs, rtol=0, atol=1e-12)
        # and the visible side, by symmetry of the joint energy
        e2 = brute.energy(model, vs.repeat(len(hs), 1), hs.repeat_interleave(len(vs), 0))
        p_v_given_h = torch.softmax(-e2.reshape(len(hs), len(vs)), 1)
        torch.testing.assert_close(model.visible_mean(hs), p_v_given_h @ vs, rtol=0, atol=1e-12)


def test_enumerate_visible_lists_every_state_once(make_rbm):
    for units in ("bernoulli", "spin"):
        model = make_rbm(5, 2, units)
        states = model.enumerate_visible()
        assert states.shape == (32, 5) and states.dtype == torch.float64
        assert len({tuple(r) for r in states.tolist()}) == 32
        assert set(states.unique().tolist()) == {model.visible_units.low, model.visible_units.high}
