"""Figures: PCA projections against hand-made cases, and every figure function renders."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from boltzkit.report import figures
from boltzkit.report.images import image_grid


def renders(fig: Figure) -> bytes:
    assert isinstance(fig, Figure)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


# ------------------------------------------------------------------------------ PCA
def test_pca_of_data_along_one_axis():
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    data = np.zeros((5, 4))
    data[:, 2] = t
    data[:, 0] = 1.0  # constant column: no variance
    samples = np.array([[1.0, 0.0, 10.0, 0.0], [0.0, 5.0, 2.0, 0.0]])
    p = figures.pca_projection(data, samples, n_components=1)
    np.testing.assert_allclose(p.directions[:, 0], [0, 0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(p.explained_variance_ratio, [1.0])
    np.testing.assert_allclose(p.mean, [1, 0, 2, 0])
    # m_1 = u_1 . (x - <x>_data) / sqrt(N), N = 4
    np.testing.assert_allclose(p.data[:, 0], (t - 2.0) / 2.0, atol=1e-12)
    np.testing.assert_allclose(p.samples[:, 0], [(10 - 2) / 2, 0.0], atol=1e-12)


def test_pca_orders_directions_by_variance_and_fixes_signs():
    u = np.array([2.0, 1.0, 0.0]) / np.sqrt(5)
    v = np.array([-1.0, 2.0, 0.0]) / np.sqrt(5)  # the sign that makes its largest entry > 0
    offset = np.array([0.5, 0.5, 0.5])
    data = offset + np.array([3 * u, -3 * u, v, -v])  # variance 4.5 along u, 0.5 along v
    p = figures.pca_projection(data, -data + 2 * offset, n_components=2)
    np.testing.assert_allclose(p.directions[:, 0], u, atol=1e-12)
    np.testing.assert_allclose(p.directions[:, 1], v, atol=1e-12)
    p_flipped = figures.pca_projection(-data, data, n_components=2)  # same axes, same signs
    np.testing.assert_allclose(p_flipped.directions, p.directions, atol=1e-12)
    np.testing.assert_allclose(p.explained_variance_ratio, [0.9, 0.1], atol=1e-12)
    np.testing.assert_allclose(p.data[:, 0], np.array([3, -3, 0, 0]) / np.sqrt(3), atol=1e-12)
    np.testing.assert_allclose(p.data[:, 1], np.array([0, 0, 1, -1]) / np.sqrt(3), atol=1e-12)
    np.testing.assert_allclose(p.samples, -p.data, atol=1e-12)  # mirrored through the mean


def test_pca_accepts_tensors_and_caps_components():
    data = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    p = figures.pca_projection(data, data, n_components=3)
    assert p.data.shape == (3, 2) and p.directions.shape == (2, 2)
    with pytest.raises(ValueError):
        figures.pca_projection(np.zeros((3, 2)), np.zeros((3, 3)))


def test_pca_figure_layout_with_and_without_labels():
    rng = np.random.default_rng(0)
    data = (rng.random((60, 8)) < 0.3).astype(float)
    samples = (rng.random((40, 8)) < 0.3).astype(float)
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, 60)]
    fig = figures.pca_figure(data, samples, labels)
    assert len(fig.axes) == 6  # data / samples x (m1-m2, m2-m3, histograms)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b", "c"]
    renders(fig)
    fig2 = figures.pca_figure(data[:, :2], samples[:, :2])  # only two directions: one scatter
    assert len(fig2.axes) == 4


# ------------------------------------------------------------------------------ the others
def test_likelihood_curve_log_axis_and_baselines():
    baselines = {"independent-site (train)": -18.0, "independent-site (test)": -18.5}
    fig = figures.likelihood_curve([1, 10, 100], [-20.0, -15.0, -12.0], [-21.0, -16.0, -13.5],
                                   baselines, error=[0.0, 0.1, 0.2])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["independent-site (train)", "independent-site (test)"]
    assert "test" in labels and "train" in labels
    assert "nats" in ax.get_ylabel()
    renders(fig)
    renders(figures.likelihood_curve([1, 2], [-3.0, -2.0], baseline=-2.5))


def test_moments_figure_reports_pearson_r():
    rng = np.random.default_rng(0)
    means = rng.random(10)
    corr = rng.normal(size=(10, 10))
    corr = corr + corr.T
    fig = figures.moments_figure(means, 0.5 * means + 0.1, corr, 2 * corr, units="±1")
    titles = [ax.get_title() for ax in fig.axes]
    assert "r = 1.000" in titles[0] and "r = 1.000" in titles[1]
    assert "±1" in fig.axes[0].get_xlabel()
    lines = fig.axes[1].get_lines()
    assert len(lines) == 1 and lines[0].get_xdata()[0] == lines[0].get_ydata()[0]  # y = x
    assert len(fig.axes[1].collections[0].get_offsets()) == 45  # the upper triangle, i < j
    fig = figures.moments_figure(means, -means, corr[np.triu_indices(10, 1)],
                                 rng.normal(size=45))
    assert "r = -1.000" in fig.axes[0].get_title()
    renders(fig)


def test_samples_figure_grid_and_raster():
    x = (np.random.default_rng(0).random((30, 12)) < 0.5).astype(np.float32)
    fig = figures.samples_figure(2 * x - 1, (3, 4), n=20)
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(shown, image_grid(x[:20], (3, 4)))
    renders(fig)
    fig = figures.samples_figure(x, None, n=25, title="data")
    np.testing.assert_array_equal(fig.axes[0].get_images()[0].get_array(), x[:25])
    assert fig.axes[0].get_title() == "data"
    renders(fig)


def test_weights_figure_shows_largest_units_first():
    w = np.zeros((6, 5))
    w[:, 3] = np.arange(6) - 2.5  # the largest norm
    w[:, 1] = 0.1
    fig = figures.weights_figure(w, (2, 3), n_units=2)
    grid = np.ma.getdata(fig.axes[0].get_images()[0].get_array())
    np.testing.assert_allclose(grid[1:3, 1:4].ravel(), w[:, 3] / 2.5)  # own scale: max |W| = 1
    np.testing.assert_allclose(grid[1:3, 5:8], 1.0)
    assert grid.shape == (4, 9)  # two cells only
    renders(fig)
    fig = figures.weights_figure(torch.as_tensor(w), None)
    np.testing.assert_allclose(np.ma.getdata(fig.axes[0].get_images()[0].get_array())[:, 0],
                               w[:, 3])
    renders(fig)
