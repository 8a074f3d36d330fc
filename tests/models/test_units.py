"""Uniform draws (models.units.random_uniform) and the binary samplers built on them.

random_uniform replaces torch.rand on CPU (numpy's SFC64 seeded from the torch generator), so
the checks are those a replacement must pass: the same grid and range as torch.rand, a uniform
law with independent consecutive numbers, determinism from the generator's state (what resume
needs), and exact Bernoulli frequencies. Statistical thresholds: chi-square / binomial p-values
under the null are uniform, so 1e-3 gives a 1/1000 false alarm for a seed chosen blind (the
seeds are fixed, so every test is deterministic).
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from boltzkit.models.units import BERNOULLI, SPIN, random_uniform

pytestmark = pytest.mark.usefixtures("single_thread")

P_MIN = 1e-3


def test_same_generator_state_same_draws_and_the_state_advances():
    g = torch.Generator().manual_seed(12)
    state = g.get_state()
    a = random_uniform((300, 7), g)
    b = random_uniform((300, 7), g)
    assert a.shape == (300, 7) and a.dtype == torch.float32
    assert not torch.equal(a, b)  # the generator moved on
    g.set_state(state)
    assert torch.equal(random_uniform((300, 7), g), a)  # a saved state replays the draws
    assert torch.equal(random_uniform((300, 7), torch.Generator().manual_seed(12)), a)
    assert not torch.equal(random_uniform((300, 7), torch.Generator().manual_seed(13)), a)


@pytest.mark.parametrize(("dtype", "bits"), [(torch.float32, 24), (torch.float64, 53)])
def test_draws_lie_on_the_grid_of_torch_rand(dtype, bits):
    u = random_uniform((1 << 16,), torch.Generator().manual_seed(0), dtype=dtype)
    assert u.dtype == dtype and float(u.min()) >= 0.0 and float(u.max()) < 1.0
    k = u * 2.0**bits
    assert torch.equal(k, k.floor())  # multiples of 2**-bits
    # every one of the `bits` bits is used: each is 1 about half of the time (binomial p-value)
    ints = k.to(torch.int64)
    for bit in (0, bits // 2, bits - 1):
        ones = int(((ints >> bit) & 1).sum())
        assert stats.binomtest(ones, len(u), 0.5).pvalue > P_MIN


def test_uniform_law_and_independence_of_neighbours():
    n = 1 << 20
    u = random_uniform((n,), torch.Generator().manual_seed(1)).double()
    counts = torch.histc(u, bins=256, min=0.0, max=1.0)
    assert stats.chisquare(counts.numpy()).pvalue > P_MIN
    # neighbours (the two halves of one 64-bit word, and consecutive words) are independent:
    # 2D histogram of (u[i], u[i+1]) on 16 x 16 cells, and their correlation within 4 sigma
    pairs = (u[:-1] * 16).long() * 16 + (u[1:] * 16).long()
    assert stats.chisquare(torch.bincount(pairs, minlength=256).numpy()).pvalue > P_MIN
    r = float(torch.corrcoef(torch.stack([u[:-1], u[1:]]))[0, 1])
    assert abs(r) < 4 / math.sqrt(n)


def test_other_dtypes_and_empty_shapes():
    g = torch.Generator().manual_seed(0)
    half = random_uniform((5, 3), g, dtype=torch.float16)  # torch.rand's path
    assert half.dtype == torch.float16 and half.shape == (5, 3)
    assert random_uniform((0, 4), g).shape == (0, 4)
    assert random_uniform(torch.Size([2, 3]), g).shape == (2, 3)


@pytest.mark.parametrize("units", [BERNOULLI, SPIN])
def test_unit_sampling_frequencies(units):
    """Each unit is high with probability prob_high(field): binomial test per field value."""
    g = torch.Generator().manual_seed(4)
    fields = torch.tensor([-3.0, -0.7, 0.0, 0.4, 2.5])
    n = 40000
    field = fields.repeat(n, 1)
    x = units.sample(field, g)
    assert torch.equal(field, fields.repeat(n, 1))  # the field is not touched by default
    assert set(x.unique().tolist()) <= {units.low, units.high}
    p = units.prob_high(fields)
    for j in range(len(fields)):
        ones = int((x[:, j] == units.high).sum())
        assert stats.binomtest(ones, n, float(p[j])).pvalue > P_MIN
    # overwrite=True: the field tensor itself becomes the sample (same draws, no copy)
    again = field.clone()
    out = units.sample(again, torch.Generator().manual_seed(4), overwrite=True)
    assert out.data_ptr() == again.data_ptr() and torch.equal(out, x)


def test_given_uniforms_decide_the_sample():
    """x = high exactly when u >= 1 - p: at p = 1/2, u one grid step below and at the threshold;
    p = 0 and p = 1 whatever u."""
    field = torch.tensor([0.0, 0.0, -math.inf, -math.inf, math.inf, math.inf])
    u = torch.tensor([0.5 - 2.0**-24, 0.5, 0.0, 1 - 2.0**-24, 0.0, 1 - 2.0**-24])
    assert BERNOULLI.sample(field, uniform=u).tolist() == [0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert SPIN.sample(field / 2, uniform=u).tolist() == [-1.0, 1.0, -1.0, -1.0, 1.0, 1.0]


def test_unit_types_survive_pickling_as_the_module_instances():
    """Models compare units by identity (``units is SPIN``): an unpickled ±1 RBM must stay ±1."""
    import pickle

    from boltzkit.models.rbm import RBM
    from boltzkit.models.units import BERNOULLI, SPIN

    assert pickle.loads(pickle.dumps(SPIN)) is SPIN and pickle.loads(pickle.dumps(BERNOULLI)) is BERNOULLI
    spin_rbm = RBM(torch.zeros(3, 2), torch.zeros(3), torch.zeros(2), SPIN, SPIN)
    assert pickle.loads(pickle.dumps(spin_rbm)).visible.name == "spin"
