"""The law of a low-rank model on a mesh: a mixture of independent-spin laws, sampled exactly and
with an exact, normalised density (docs/methods.md 6.5).

Low-rank pre-training (:mod:`boltzkit.training.low_rank`) describes its model through the
projection m(σ) = U σ / √N of the ±1 configuration σ ∈ {±1}^N on d principal directions (rows
of U, (d, N)). On a mesh of points m_p, the law it draws is

    q(σ) = Σ_p w_p Π_i exp(σ_i h_pi) / (2 cosh h_pi),    h_p = √N Uᵀ μ_p,

with μ_p the conjugate fields of m_p (independent spins whose mean projection is m_p) and w_p the
model's weight of mesh point p. Since σ · h_p = √N μ_p · (U σ), the log-density needs only the
d projections of σ:

    log q(σ) = logsumexp_p [log w_p - A_p + √N μ_p · (U σ)],    A_p = Σ_i log 2cosh h_pi.

A draw picks p with probability w_p, then every spin independently. Both use the same mixture,
so this model is exact for the law it defines (log Z = 0), which approximates the converted
RBM's law to O(1/N): it is the first replica of trajectory tempering after low-rank
pre-training, its chains exchanged with the first checkpoint by the usual rule on
``free_energy(v) = -log q(σ(v))`` (Béreux et al., ICLR 2025, arXiv:2405.15376).

The mesh points whose weight is below e^-40 of the total are left out (:data:`NEGLIGIBLE`): the
law changes by at most their number times e^-40 in total variation (below 1e-11 for a million
points), less than the resolution of a float64 inverse-CDF draw.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from boltzkit.models.base import Chains
from boltzkit.models.visible import VisibleSpace

__all__ = ["MeshMixture", "mesh_mixture", "log2cosh", "NEGLIGIBLE"]

#: Mesh points of log weight below the largest minus this many nats are dropped (module docstring).
NEGLIGIBLE = 40.0
_BLOCK = 1 << 22  # elements of the (rows x points) block of the log-density


def log2cosh(x: Tensor) -> Tensor:
    """log(2 cosh x), without overflow."""
    a = x.abs()
    return a + torch.log1p(torch.exp(-2.0 * a))


class MeshMixture:
    """The mesh law q of a low-rank model over binary configurations (module docstring).

    Parameters
    ----------
    visible : VisibleSpace
        ``bernoulli`` ({0,1}, σ = 2v - 1) or ``spin`` (±1, σ = v): the values of the configurations
        it draws and scores.
    directions : Tensor (d, N)
        U, orthonormal rows.
    fields : Tensor (P, d)
        The conjugate fields μ_p of the mesh points.
    log_weights : Tensor (P,)
        log w_p, up to a constant (normalised here); points below :data:`NEGLIGIBLE` dropped.
    """

    kind = "low-rank mesh law"

    def __init__(self, visible: VisibleSpace, directions: Tensor, fields: Tensor, log_weights: Tensor):
        if visible.name not in ("bernoulli", "spin"):
            raise ValueError(f"a mesh law draws binary configurations, not {visible.name!r} values")
        log_weights = log_weights - torch.logsumexp(log_weights.double(), 0).to(log_weights.dtype)
        keep = log_weights >= log_weights.max() - NEGLIGIBLE
        self.visible = visible
        self.directions = directions
        self.fields = fields[keep]
        self.log_weights = log_weights[keep] - torch.logsumexp(log_weights[keep].double(), 0).to(log_weights.dtype)
        root = math.sqrt(directions.shape[1])
        # A_p = Σ_i log 2cosh(√N (Uᵀ μ_p)_i), by blocks of points, in float64
        u, mu = directions.double(), self.fields.double()
        step = max(1, _BLOCK // u.shape[1])
        self._offsets = torch.cat([log2cosh(root * mu[i:i + step] @ u).sum(1)
                                   for i in range(0, len(mu), step)]).to(log_weights.dtype) \
            if len(mu) else log_weights.new_zeros(0)
        self._cdf = torch.cumsum(torch.softmax(self.log_weights.double(), 0), 0)
        self._cdf = self._cdf / self._cdf[-1]

    # ---------------------------------------------------------------- the interface
    n_visible = property(lambda self: self.directions.shape[1])
    device = property(lambda self: self.directions.device)
    dtype = property(lambda self: self.directions.dtype)

    def parameters(self) -> dict[str, Tensor]:
        """The tensors that define the law (what a run file stores)."""
        return {"directions": self.directions, "fields": self.fields, "log_weights": self.log_weights}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "MeshMixture":
        return MeshMixture(self.visible, *(t.to(device, dtype) for t in self.parameters().values()))

    def clone(self) -> "MeshMixture":
        return MeshMixture(self.visible, *(t.clone() for t in self.parameters().values()))

    def _spins(self, v: Tensor) -> Tensor:
        return v if self.visible.name == "spin" else 2.0 * v - 1.0

    def free_energy(self, v: Tensor) -> Tensor:
        """-log q(σ(v)) of the configurations ``v`` (batch, N), shape (batch,): a normalised
        log-density, so that :meth:`log_partition_exact` is 0."""
        proj = math.sqrt(self.n_visible) * self._spins(v.to(self.dtype)) @ self.directions.T  # √N U σ (batch, d)
        bias = self.log_weights - self._offsets
        step = max(1, _BLOCK // max(1, len(bias)))
        return torch.cat([-torch.logsumexp(bias + proj[i:i + step] @ self.fields.T, 1)
                          for i in range(0, len(proj), step)]) if len(proj) else proj.new_zeros(0)

    def log_partition_exact(self) -> float:
        """log Z of ``exp(-free_energy)``: 0, the law is normalised."""
        return 0.0

    def sample(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """``n`` exact draws: a mesh point by inverse CDF, then independent spins."""
        u = torch.rand(n, generator=generator, device=self.device, dtype=torch.float64)
        index = torch.searchsorted(self._cdf.to(self.device), u).clamp_max(len(self._cdf) - 1)
        h = math.sqrt(self.n_visible) * self.fields[index] @ self.directions  # (n, N)
        draw = torch.rand(h.shape, generator=generator, device=self.device, dtype=self.dtype)
        spins = 2.0 * (draw < torch.sigmoid(2.0 * h)).to(self.dtype) - 1.0
        return Chains(spins if self.visible.name == "spin" else 0.5 * (spins + 1.0))

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        return self.sample(n, generator)

    def chains_from(self, v: Tensor) -> Chains:
        return Chains(v)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None, beta: float = 1.0) -> Chains:
        """A fresh exact draw of as many configurations as ``chains`` holds (their states are
        ignored: the draws are independent)."""
        if beta != 1.0:
            raise ValueError("the mesh law is drawn at beta = 1 only")
        return self.sample(len(chains.visible), generator)


def mesh_mixture(visible: VisibleSpace, tensors: dict[str, Tensor]) -> MeshMixture:
    """The mesh law stored as ``tensors`` (:meth:`MeshMixture.parameters`) over ``visible``."""
    return MeshMixture(visible, tensors["directions"], tensors["fields"], tensors["log_weights"])
