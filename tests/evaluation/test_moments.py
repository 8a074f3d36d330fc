"""compare_moments / means_and_correlations on hand-made data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from boltzkit.evaluation.moments import compare_moments, means_and_correlations

pytestmark = pytest.mark.usefixtures("single_thread")


def test_means_and_correlations_by_hand():
    x = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=torch.float32)
    mean, cov = means_and_correlations(x)
    assert mean.dtype == torch.float64
    torch.testing.assert_close(mean, torch.full((3,), 0.5, dtype=torch.float64))
    expected = torch.tensor([[0.25, 0.25, 0.0], [0.25, 0.25, 0.0], [0.0, 0.0, 0.25]],
                            dtype=torch.float64)
    torch.testing.assert_close(cov, expected, rtol=0, atol=1e-15)


def test_weighted_moments_equal_numpy():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 5)) < 0.4).astype(float)
    w = rng.random(40)
    mean, cov = means_and_correlations(torch.from_numpy(x), torch.from_numpy(w))
    np.testing.assert_allclose(mean.numpy(), np.average(x, axis=0, weights=w), atol=1e-14)
    np.testing.assert_allclose(cov.numpy(), np.cov(x.T, aweights=w, bias=True), atol=1e-14)


def test_identical_data_and_samples():
    rng = np.random.default_rng(1)
    x = torch.from_numpy((rng.random((300, 8)) < rng.random(8)).astype(float))
    x[:, 3] = x[:, 2]  # a strong correlation, so the C_ij are spread out
    c = compare_moments(x, x.clone())
    assert c.means_pearson == pytest.approx(1.0, abs=1e-12)
    assert c.means_slope == pytest.approx(1.0, abs=1e-12)
    assert c.correlations_pearson == pytest.approx(1.0, abs=1e-12)
    assert c.correlations_slope == pytest.approx(1.0, abs=1e-12)
    assert c.data_correlations.shape == (28,)  # the i < j upper triangle of 8 x 8


def test_weights_equal_repetitions():
    rows = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]],
                        dtype=torch.float64)
    counts = torch.tensor([3, 1, 4, 2, 5])
    c = compare_moments(rows, rows.repeat_interleave(counts, 0), data_weights=counts.double())
    np.testing.assert_allclose(c.model_means, c.data_means, atol=1e-14)
    np.testing.assert_allclose(c.model_correlations, c.data_correlations, atol=1e-14)
    assert c.correlations_slope == pytest.approx(1.0, abs=1e-12)


def test_known_slope_of_one_half():
    """Mixing the data half and half with a set of equal means and zero correlations (the full
    factorial design) halves every C_ij exactly: slope 1/2, r = 1; equal means give r = nan."""
    base = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1],
                         [1, 1, 1, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1]],
                        dtype=torch.float64)
    data = torch.cat([base, 1 - base])  # 16 rows, every mean exactly 1/2
    design = torch.tensor([[(k >> i) & 1 for i in range(4)] for k in range(16)],
                          dtype=torch.float64)  # means 1/2, all C_ij = 0
    c = compare_moments(data, torch.cat([data, design]))
    assert c.correlations_slope == pytest.approx(0.5, abs=1e-12)
    assert c.correlations_pearson == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(c.means_pearson) and math.isnan(c.means_slope)


def test_complement_reverses_means_and_keeps_correlations():
    rng = np.random.default_rng(2)
    x = torch.from_numpy((rng.random((500, 6)) < np.linspace(0.1, 0.8, 6)).astype(float))
    x[:, 1] = x[:, 0] * torch.from_numpy((rng.random(500) < 0.7).astype(float))
    c = compare_moments(x, 1 - x)
    assert c.means_slope == pytest.approx(-1.0, abs=1e-12)
    assert c.means_pearson == pytest.approx(-1.0, abs=1e-12)
    assert c.correlations_slope == pytest.approx(1.0, abs=1e-12)
