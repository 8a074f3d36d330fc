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

The mesh points whose weight is below e^-40 of the largest are left out (:data:`NEGLIGIBLE`) and
the others renormalised: this law is the truncated mixture, drawn and scored alike, so it stays
exact; it differs from the full mesh law by less than (number of points) x e^-40 in total
variation. The law is held in float64; the values it draws and scores are in ``dtype``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from boltzkit.errors import InvalidValue
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
        log w_p, up to a constant; points below :data:`NEGLIGIBLE` dropped.
    """

    kind = "low-rank mesh law"

    def __init__(self, visible: VisibleSpace, directions: Tensor, fields: Tensor, log_weights: Tensor,
                 dtype: torch.dtype | None = None):
        if visible.name not in ("bernoulli", "spin"):
            raise ValueError(f"a mesh law draws binary configurations, not {visible.name!r} values")
        # the law is held in float64 whatever the dtype of the values it draws and scores: the
        # offsets A_p reach N log 2cosh |h| (thousands), and float32 would shift -log q by 1e-4
        directions, fields, log_weights = directions.double(), fields.double(), log_weights.double()
        keep = log_weights >= log_weights.max() - NEGLIGIBLE
        self.visible = visible
        self.dtype = dtype or torch.get_default_dtype()
        # kept as given (a stored law rebuilds bit for bit); normalised where used
        self.directions, self.fields, self.log_weights = directions, fields[keep], log_weights[keep]
        self._log_norm = torch.logsumexp(self.log_weights, 0)
        root = math.sqrt(directions.shape[1])
        step = max(1, _BLOCK // directions.shape[1])  # A_p = Σ_i log 2cosh(√N (Uᵀ μ_p)_i), by blocks
        self._offsets = torch.cat([log2cosh(root * self.fields[i:i + step] @ directions).sum(1)
                                   for i in range(0, len(self.fields), step)])
        cdf = torch.cumsum(torch.softmax(self.log_weights, 0), 0)
        self._cdf = cdf / cdf[-1]

    # ---------------------------------------------------------------- the interface
    n_visible = property(lambda self: self.directions.shape[1])
    device = property(lambda self: self.directions.device)

    def parameters(self) -> dict[str, Tensor]:
        """The tensors that define the law, float64 (what a run file stores)."""
        return {"directions": self.directions, "fields": self.fields, "log_weights": self.log_weights}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "MeshMixture":
        """The law on ``device``, drawing and scoring values of ``dtype`` (its own tensors stay float64)."""
        return MeshMixture(self.visible, *(t.to(device) for t in self.parameters().values()),
                           dtype=dtype or self.dtype)

    def clone(self) -> "MeshMixture":
        return MeshMixture(self.visible, *(t.clone() for t in self.parameters().values()), dtype=self.dtype)

    def _spins(self, v: Tensor) -> Tensor:
        v = v.double()
        return v if self.visible.name == "spin" else 2.0 * v - 1.0

    def free_energy(self, v: Tensor) -> Tensor:
        """-log q(σ(v)) of the configurations ``v`` (batch, N), shape (batch,), in ``v``'s dtype
        (computed in float64): a normalised log-density, so that :meth:`log_partition_exact` is 0."""
        proj = math.sqrt(self.n_visible) * self._spins(v) @ self.directions.T  # √N U σ (batch, d)
        bias = self.log_weights - self._log_norm - self._offsets
        step = max(1, _BLOCK // max(1, len(bias)))
        out = torch.cat([-torch.logsumexp(bias + proj[i:i + step] @ self.fields.T, 1)
                         for i in range(0, len(proj), step)]) if len(proj) else proj.new_zeros(0)
        return out.to(v.dtype)

    def log_partition_exact(self) -> float:
        """log Z of ``exp(-free_energy)``: 0, the law is normalised."""
        return 0.0

    def sample(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """``n`` exact draws: a mesh point by inverse CDF, then independent spins, P(σ_i = +1) =
        sigmoid(2 h_i) compared in float64 on the log scale (log u < -softplus(-2 h_i): exact to
        float64 even where the sigmoid rounds to 0 or 1 in float32)."""
        u = torch.rand(n, generator=generator, device=self.device, dtype=torch.float64)
        index = torch.searchsorted(self._cdf, u).clamp_max(len(self._cdf) - 1)
        h = math.sqrt(self.n_visible) * self.fields[index] @ self.directions  # (n, N)
        draw = torch.rand(h.shape, generator=generator, device=self.device, dtype=torch.float64)
        up = torch.log(draw) < -torch.nn.functional.softplus(-2.0 * h)
        spins = 2.0 * up.to(self.dtype) - 1.0
        return Chains(spins if self.visible.name == "spin" else 0.5 * (spins + 1.0))

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        return self.sample(n, generator)

    def chains_from(self, v: Tensor) -> Chains:
        return Chains(v)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None, beta: float = 1.0) -> Chains:
        """A fresh exact draw of as many configurations as ``chains`` holds (their states are
        ignored: the draws are independent)."""
        if beta != 1.0:
            raise InvalidValue("the mesh law is drawn at beta = 1 only")
        return self.sample(len(chains.visible), generator)


def mesh_mixture(visible: VisibleSpace, tensors: dict[str, Tensor]) -> MeshMixture:
    """The mesh law stored as ``tensors`` (:meth:`MeshMixture.parameters`) over ``visible``,
    checked: U of shape (d, N), fields (P, d), log weights (P,), all finite (ValueError naming the
    tensor otherwise)."""
    u, mu, w = (tensors[name] for name in ("directions", "fields", "log_weights"))
    for name, t in (("directions", u), ("fields", mu), ("log_weights", w)):
        if not (isinstance(t, Tensor) and t.is_floating_point()):
            raise ValueError(f"{name} is not an array of real numbers")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} holds values that are not finite")
    if u.ndim != 2 or mu.ndim != 2 or w.ndim != 1 or mu.shape != (len(w), len(u)) or len(w) == 0:
        raise ValueError(f"shapes directions {tuple(u.shape)}, fields {tuple(mu.shape)}, log_weights "
                         f"{tuple(w.shape)} are not (d, N), (P, d), (P,)")
    return MeshMixture(visible, u, mu, w)
