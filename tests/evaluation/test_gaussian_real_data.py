"""The Gaussian RBM on real continuous data bundled with scikit-learn (breast cancer, wine):
held-out log-likelihood against the independent and full-covariance Gaussians, and AIS against the
exact log Z of a 16-hidden-unit model trained on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

import boltzkit

pytestmark = pytest.mark.usefixtures("single_thread")


def split(loader):
    x = loader().data
    return train_test_split(x, test_size=0.25, random_state=0)


def baselines(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """Mean held-out log-densities (data units) of the independent and full-covariance Gaussians
    fitted to ``train`` by maximum likelihood (scipy, independent of boltzkit's own baselines)."""
    mean, std = train.mean(0), train.std(0)
    independent = norm.logpdf(test, mean, std).sum(1).mean()
    # the full covariance of the standardised features (breast cancer's raw covariance spans 12
    # orders of magnitude), with boltzkit's ridge of 1e-6, plus the Jacobian -sum log std
    z = (train - mean) / std
    cov = np.cov(z, rowvar=False, bias=True) + 1e-6 * np.eye(z.shape[1])
    full = multivariate_normal(np.zeros(z.shape[1]), cov).logpdf((test - mean) / std).mean() \
        - np.log(std).sum()
    return float(independent), float(full)


@pytest.fixture(scope="module")
def cancer_model():
    torch.set_num_threads(1)
    train, test = split(load_breast_cancer)
    model = boltzkit.GaussianRBM(n_hidden=16, n_updates=2000, batch_size=100, n_chains=100,
                                 learning_rate=0.005, random_state=0).fit(train)
    return model, train, test


def test_breast_cancer_beats_independent_gaussians_by_a_wide_margin(cancer_model):
    model, train, test = cancer_model
    independent, full = baselines(train, test)
    held_out = model.score(test)
    # measured (seed 0): independent -3.4, model 7.7, full covariance 29.4 nats per test row; the
    # bar: 5 nats per row over independent Gaussians (30 features, correlations up to 0.998)
    assert held_out > independent + 5.0, (held_out, independent, full)
    assert model.log_partition_method_ == "exact"


def test_ais_agrees_with_exact_log_z_on_models_trained_on_real_data(cancer_model):
    wine_train, _ = split(load_wine)
    wine = boltzkit.GaussianRBM(n_hidden=16, n_updates=1000, batch_size=50, n_chains=100,
                                learning_rate=0.01, random_state=1).fit(wine_train)
    for model in (cancer_model[0], wine):
        exact = model.log_partition("exact")
        ais = model.log_partition("ais", n_chains=500, n_steps=2000, n_runs=10)
        error = model.log_partition_error_
        # the bar, 0.05 nats, and the estimate's own error bar (3 standard errors)
        assert abs(ais - exact) < 0.05 and abs(ais - exact) < 3 * error + 1e-3, (ais, exact, error)
