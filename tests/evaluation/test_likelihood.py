"""log_likelihood() against exact probabilities; the independent-site model in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.models.rbm import independent_site_bias, independent_site_model
from boltzkit.models.units import BERNOULLI, SPIN

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_log_likelihood_is_log_p_by_enumeration(make_rbm, brute, units):
    model = make_rbm(6, 4, units, scale=1.0, seed=8)
    states, p = brute.distribution(model)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(states), (50,), generator=g)
    data = states[idx]
    weights = torch.rand(50, generator=g, dtype=torch.float64)

    mean, values = log_likelihood(model, data, model.log_partition_exact(), batch_size=7)
    assert values.shape == (50,) and values.dtype == torch.float64
    # log p by double enumeration vs -F - log Z: float64 round-off ~1e-13
    torch.testing.assert_close(values, p[idx].log(), rtol=0, atol=1e-9)
    assert mean == pytest.approx(float(p[idx].log().mean()), abs=1e-9)
    wmean, _ = log_likelihood(model, data, model.log_partition_exact(), weights=weights)
    assert wmean == pytest.approx(float((weights * p[idx].log()).sum() / weights.sum()), abs=1e-9)


def test_float32_model_gives_float64_values(make_rbm):
    model = make_rbm(6, 4, scale=1.0, seed=8, dtype=torch.float32)
    data = model.enumerate_visible()
    _, values = log_likelihood(model, data, model.log_partition_exact())
    assert values.dtype == torch.float64
    # exp(values) sums to 1 over all states; float32 free energies (|F| ~ 10, eps 6e-8) -> 1e-5
    assert float(values.exp().sum()) == pytest.approx(1.0, abs=1e-5)


def bernoulli_closed_form(data: np.ndarray, eps: float = 1e-4) -> tuple[float, np.ndarray]:
    """Independent Bernoulli sites with p_i = clamp(frequency_i, eps, 1 - eps):
    log Z = -sum_i log(1 - p_i) (with b_i = logit p_i), log p(x) = sum_i x_i log p_i + (1-x_i) log(1-p_i)."""
    p = np.clip(data.mean(0), eps, 1 - eps)
    return float(-np.log1p(-p).sum()), (data * np.log(p) + (1 - data) * np.log1p(-p)).sum(1)


def test_independent_site_model_closed_form():
    rng = np.random.default_rng(0)
    data = (rng.random((200, 9)) < np.linspace(0.05, 0.9, 9)).astype(float)
    data[:, 0] = 0.0  # a constant column: frequency clamped to 1e-4, finite bias
    data[:, 1] = 1.0
    model = independent_site_model(torch.from_numpy(data))
    assert model.n_hidden == 0
    log_z, per_sample = bernoulli_closed_form(data)
    assert model.log_partition_exact() == pytest.approx(log_z, abs=1e-10)
    mean, values = log_likelihood(model, torch.from_numpy(data), model.log_partition_exact())
    np.testing.assert_allclose(values.numpy(), per_sample, rtol=0, atol=1e-10)
    # and the mean log-likelihood is minus the entropy of the empirical marginals
    p = np.clip(data.mean(0), 1e-4, 1 - 1e-4)
    f = data.mean(0)
    assert mean == pytest.approx(float((f * np.log(p) + (1 - f) * np.log1p(-p)).sum()), abs=1e-10)
    assert abs(float(model.visible_bias[0]) - math.log(1e-4 / (1 - 1e-4))) < 1e-9


def test_independent_site_model_spins_and_weights():
    rng = np.random.default_rng(1)
    bits = (rng.random((100, 5)) < 0.3).astype(float)
    w = rng.random(100) + 0.1
    spins = torch.from_numpy(2 * bits - 1)
    model = independent_site_model(spins, SPIN, torch.from_numpy(w))
    f = (w @ bits) / w.sum()  # weighted frequency of +1
    # p(σ_i = +1) = sigmoid(2 η_i) = f_i
    np.testing.assert_allclose(torch.sigmoid(2 * model.visible_bias).numpy(), f, atol=1e-12)
    log_z = float(np.log(2 * np.cosh(model.visible_bias.numpy())).sum())
    assert model.log_partition_exact() == pytest.approx(log_z, abs=1e-10)
    _, values = log_likelihood(model, spins, model.log_partition_exact())
    expected = (bits * np.log(f) + (1 - bits) * np.log1p(-f)).sum(1)
    np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-10)
    # {0,1} and ±1 conventions give the same bias map
    b01 = independent_site_bias(torch.from_numpy(bits), BERNOULLI, torch.from_numpy(w))
    torch.testing.assert_close(b01, 2 * model.visible_bias, rtol=0, atol=1e-12)
