"""The baselines every likelihood is compared with, fitted to the training data, each with an exact
log Z: the independent-site model of any visible space (the data's one-site statistics and nothing
else), and for real values the full-covariance Gaussian (docs/methods.md section 11.6).

Each baseline has ``free_energy(x)`` (shape (batch,)), ``log_partition_exact()``, ``device`` and
``dtype`` and ``visible``: log p(x) = -free_energy(x) - log_partition_exact() in model values (add the
visible space's ``log_jacobian`` for a density in the data's units,
:func:`boltzkit.evaluation.likelihood.log_likelihood`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from boltzkit.models.gaussian_rbm import GaussianRBM
from boltzkit.models.potts_rbm import PottsRBM, independent_site_potts
from boltzkit.models.rbm import RBM
from boltzkit.models.rbm import independent_site_model as independent_binary_model
from boltzkit.models.statistics import normalised, weighted_mean
from boltzkit.models.units import BERNOULLI, SPIN
from boltzkit.models.visible import REAL_SPACE, VisibleSpace

__all__ = ["independent_site_model", "independent_gaussian_model", "full_covariance_model",
           "FullCovarianceGaussian", "baselines", "INDEPENDENT_SITE", "FULL_COVARIANCE"]

#: The names of the baselines in :func:`baselines`.
INDEPENDENT_SITE = "independent-site"
FULL_COVARIANCE = "full-covariance"
# Ridge added to the covariance, relative to each feature's own variance (a ridge on the
# correlation matrix, so that it does not depend on the units): keeps the Cholesky factor of
# collinear features finite; it moves the log-density by about 1e-6 per feature.
_RIDGE = 1e-6


def independent_site_model(space: VisibleSpace, x: Tensor,
                           weights: Tensor | None = None) -> RBM | PottsRBM | GaussianRBM:
    """The independent-site model fitted to ``x`` (model values of ``space``, shape
    (n, n_visible)), weighted by ``weights``, in float64: an RBM without hidden units (Potts
    frequencies with a pseudocount 1e-4, binary ones clamped to [1e-4, 1 - 1e-4]; real values:
    independent Gaussians, :func:`independent_gaussian_model`)."""
    if space.real:
        return independent_gaussian_model(x, weights, space)
    if space.categorical:
        return independent_site_potts(x, space.n_states, weights)
    return independent_binary_model(x.double(), SPIN if space.name == "spin" else BERNOULLI, weights)


def independent_gaussian_model(x: Tensor, weights: Tensor | None = None,
                               space: VisibleSpace = REAL_SPACE) -> GaussianRBM:
    """Independent Gaussians at the (weighted) means and population standard deviations of the
    columns of ``x`` (each at least 1e-12): a Gaussian RBM with no hidden unit, in float64."""
    x = x.double()
    w = normalised(weights, x)
    mean = weighted_mean(x, w)
    std = weighted_mean((x - mean) ** 2, w).sqrt().clamp_min(1e-12)
    return GaussianRBM(x.new_zeros(x.shape[1], 0), mean, x.new_zeros(0), std.log(), space)


class FullCovarianceGaussian:
    """The Gaussian N(mean, cov) over real model values, in closed form.

    ``free_energy(x)`` = (x - mean)ᵀ cov⁻¹ (x - mean) / 2 (through the Cholesky factor L of cov)
    and ``log_partition_exact()`` = n log(2 pi) / 2 + log det cov / 2.
    """

    kind = FULL_COVARIANCE

    def __init__(self, mean: Tensor, cov: Tensor, visible: VisibleSpace = REAL_SPACE):
        self.mean, self.cov, self.visible = mean, cov, visible
        self.cholesky = torch.linalg.cholesky(cov)

    @property
    def n_visible(self) -> int:
        return self.mean.shape[0]

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def dtype(self) -> torch.dtype:
        return self.mean.dtype

    def free_energy(self, x: Tensor) -> Tensor:
        """Half the squared Mahalanobis distance of each row of ``x`` (batch, n) to the mean."""
        z = torch.linalg.solve_triangular(self.cholesky, (x.to(self.dtype) - self.mean).T, upper=False)
        return 0.5 * z.square().sum(0)

    def log_partition_exact(self) -> float:
        return float(0.5 * self.n_visible * math.log(2.0 * math.pi)
                     + self.cholesky.diagonal().log().sum())


def full_covariance_model(x: Tensor, weights: Tensor | None = None,
                          space: VisibleSpace = REAL_SPACE) -> FullCovarianceGaussian:
    """The full-covariance Gaussian fitted to ``x`` (shape (n, n_visible), real model values of
    ``space``), weighted by ``weights``: the weighted mean and population covariance, plus a ridge of 1e-6
    times the mean variance on the diagonal, in float64."""
    x = x.double()
    w = normalised(weights, x)
    mean = weighted_mean(x, w)
    centred = x - mean
    cov = (centred.T @ centred) / len(x) if w is None else (centred * w.unsqueeze(1)).T @ centred
    ridge = _RIDGE * cov.diagonal().clamp_min(1e-300)
    return FullCovarianceGaussian(mean, cov + torch.diag(ridge), space)


def baselines(space: VisibleSpace, x: Tensor, weights: Tensor | None = None) -> dict[str, object]:
    """The baselines of ``space`` fitted to ``x`` (model values) by name: "independent-site"
    always, "full-covariance" (the Gaussian) for real values with more rows than features. Real
    values need at least 2 rows and no constant column (else no baseline: a Gaussian of zero width
    is no density)."""
    if space.real and (len(x) < 2 or bool((x.double().std(0) == 0).any())):
        return {}
    out = {INDEPENDENT_SITE: independent_site_model(space, x, weights)}
    if space.real and len(x) > x.shape[1]:
        out[FULL_COVARIANCE] = full_covariance_model(x, weights, space)
    return out
