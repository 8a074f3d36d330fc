"""Low-rank pre-training: the restricted Coulomb machine (RCM) and the RBM it converts to
(docs/methods.md 6.5).

A. Decelle, C. Furtlehner, *Exact training of Restricted Boltzmann machines on intrinsically low
dimensional data*, PRL 127, 158303 (2021), arXiv:2103.10755; N. Béreux, A. Decelle, C. Furtlehner,
L. Rosset, B. Seoane, *Fast training and sampling of Restricted Boltzmann Machines*, ICLR 2025,
arXiv:2405.15376.

Conventions. σ ∈ {±1}^N is the ±1 form of a configuration; U (d, N), orthonormal rows, holds the
first d principal directions of the (±1) training rows; m(σ) = U σ / √N ∈ R^d. A model whose
energy depends on σ only through m, p(σ) ∝ exp(-N E(m(σ))), has the law of m

    p(m) ∝ Ω(m) exp(-N E(m)),   log Ω(m) ≈ N s(m) - ½ log det H(m)   (+ a constant),

where s(m) = min_μ [ (1/N) Σ_i log 2cosh(√N (Uᵀμ)_i) - μ·m ] is the entropy per spin of
independent spins whose mean projection is m (Legendre transform; μ(m) the conjugate fields, found
by Newton's method) and H(m) = U diag(1 - tanh²(√N Uᵀμ)) Uᵀ the covariance of √N m under those spins
(the Gaussian factor of the local central limit: Ω is a density of configurations per unit volume
of m). Sums over σ become sums over a mesh of the d-dimensional m space.

The RCM's energy is E(m) = -v·m - Σ_a q_a |n_a·m - b_a| / K with K hyperplanes (unit normals n_a,
offsets b_a) and q_a ≥ 0: its log-likelihood on the mesh is concave in (v, q). It is the large-N
limit of a ±1 RBM (log 2cosh x ≈ |x|) with K hidden units

    W_ia = √N q_a (Uᵀ n_a)_i / K,   η_i = √N (Uᵀ v)_i,   θ_a = -N q_a b_a / K,

free energy F(σ) = -η·σ - Σ_a log 2cosh(θ_a + Σ_i σ_i W_ia) = Φ(m(σ)); that RBM is the start.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from boltzkit.checks import integer
from boltzkit.errors import InvalidValue
from boltzkit.models.capabilities import LowRankStart, require
from boltzkit.models.mesh_mixture import MeshMixture, log2cosh as _log2cosh
from boltzkit.training.memory import refuse_beyond

__all__ = ["principal_directions", "Mesh", "build_mesh", "conjugate_fields", "CoulombMachine",
           "candidate_hyperplanes", "merge_correlated", "fit_coulomb", "spin_parameters",
           "mesh_free_energy", "mesh_log_partition", "LowRankFit", "fit_low_rank",
           "low_rank_start", "MESH_POINTS"]

#: Mesh points per dimension (nbereux/fast-RBM experiments_paper.sh: 100 for d <= 3, 50 for d = 4).
MESH_POINTS = {1: 100, 2: 100, 3: 100, 4: 50}
#: Hyperplanes of the RCM at most (the reference's 200 for the human genome and MNIST-01).
MAX_HYPERPLANES = 200
#: Decimation: a hyperplane is dropped when N q_a / K < 2.5, the reference's q_a < 500 / N at K = 200.
DECIMATION = 2.5
#: Weights of the RBM's hidden units beyond the RCM's (the reference's conversion: N(0, 1e-4²)).
EXTRA_WEIGHT_STD = 1e-4
FLAG = "--pretrain low-rank"
_CHUNK = 1 << 22  # floats of the (points x N) tensors of one Newton block


# ---------------------------------------------------------------- principal directions
def principal_directions(spins: Tensor, weights: Tensor | None, dims: int) -> Tensor:
    """The first ``dims`` eigenvectors of the (weighted, uncentred) second moment of the ±1 rows
    ``spins`` (n, N), as rows of U (dims, N), float64; each oriented so that the data's mean
    projection is positive. Refuses ``dims`` above the rank of the rows."""
    s = spins.double()
    w = torch.full((len(s),), 1.0 / len(s), dtype=torch.float64) if weights is None \
        else weights.double().cpu() / weights.double().sum().cpu()
    s = s.cpu()
    second = (s * w[:, None]).T @ s
    values, vectors = torch.linalg.eigh(second)
    rank = int((values > values.max() * s.shape[1] * torch.finfo(torch.float64).eps).sum())
    if dims > rank:
        raise InvalidValue(f"--pretrain-dims {dims} is larger than the rank of the training rows ({rank})")
    u = vectors[:, -dims:].flip(1).T.contiguous()
    sign = torch.sign(u @ (w @ s))
    return u * torch.where(sign == 0, torch.ones_like(sign), sign)[:, None]


# ---------------------------------------------------------------- the mesh and its entropy
def _dual(mu: Tensor, m: Tensor, u: Tensor) -> Tensor:
    """φ(μ) - μ·m with φ(μ) = (1/N) Σ_i log 2cosh(√N (Uᵀμ)_i), shape (points,)."""
    return _log2cosh(math.sqrt(u.shape[1]) * mu @ u).mean(1) - (mu * m).sum(1)


def _newton_block(m: Tensor, u: Tensor, tol: float, max_iter: int) -> tuple[Tensor, Tensor, Tensor]:
    """Damped Newton on the convex dual φ(μ) - μ·m for a block of points: (μ, entropy with the
    Gaussian factor, converged). A point whose fields saturate a spin (tanh = ±1 in float64) lies
    outside the set of reachable m or on its edge: not converged (as in the reference)."""
    n_vis = u.shape[1]
    mu = torch.zeros_like(m)
    entropy = torch.full((len(m),), -math.inf, dtype=m.dtype)
    done = torch.zeros(len(m), dtype=torch.bool)
    live = torch.arange(len(m))
    for _ in range(max_iter):
        if len(live) == 0:
            break
        th = torch.tanh(math.sqrt(n_vis) * mu[live] @ u)
        hess = (u * (1.0 - th * th)[:, None, :]) @ u.T
        step, info = torch.linalg.solve_ex(hess, m[live] - th @ u.T / math.sqrt(n_vis))
        bad = (th.abs() >= 1.0).any(1) | (info != 0) | ~torch.isfinite(step).all(1)
        small = step.abs().amax(1) <= tol
        finished = small & ~bad
        idx = live[finished]
        mu[idx] += step[finished]
        entropy[idx] = _dual(mu[idx], m[idx], u) - torch.logdet(hess[finished]) / (2 * n_vis)
        done[idx] = True
        go = ~small & ~bad
        mu[live[go]] = _damped(mu[live[go]], step[go], m[live[go]], u)
        live = live[go]
    return mu, entropy, done


def _damped(mu: Tensor, step: Tensor, m: Tensor, u: Tensor) -> Tensor:
    """μ + t step with t halved (up to 2^-30) until the dual decreases (backtracking; within its
    rounding, so that the last steps before convergence are not shortened by rounding noise)."""
    before = _dual(mu, m, u)
    allowed = before + 1e-13 * before.abs().clamp_min(1.0)
    t = torch.ones(len(mu), 1, dtype=mu.dtype)
    for _ in range(30):
        worse = ~(_dual(mu + t * step, m, u) <= allowed)
        if not worse.any():
            break
        t[worse] *= 0.5
    return mu + t * step


def conjugate_fields(m: Tensor, u: Tensor, tol: float = 1e-10, max_iter: int = 200
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """Conjugate fields μ(m) (P, d), entropy s(m) - log det H(m) / (2N) (P,) and convergence (P,)
    of the points ``m`` (P, d), by blocks of points (float64)."""
    m, u = m.double(), u.double()
    block = max(1, _CHUNK // (u.shape[1] * max(u.shape[0], 2)))
    parts = [_newton_block(m[i:i + block], u, tol, max_iter) for i in range(0, len(m), block)]
    return tuple(torch.cat(p) for p in zip(*parts))


@dataclass
class Mesh:
    """A regular mesh of the m space, the points where μ(m) exists.

    points (P, d), fields μ (P, d), entropy (P,) (per spin, with the Gaussian factor), directions U
    (d, N), spacing (d,), size: the points of the full grid before the unreachable ones were left out.
    """

    points: Tensor
    fields: Tensor
    entropy: Tensor
    directions: Tensor
    spacing: Tensor
    size: int

    @property
    def n_visible(self) -> int:
        return self.directions.shape[1]

    def log_uniform(self) -> Tensor:
        """log of the mesh weights of uniform spins, N s(m) - ½ log det H, normalised (P,)."""
        x = self.n_visible * self.entropy
        return x - torch.logsumexp(x, 0)


def build_mesh(u: Tensor, n_points: int) -> Mesh:
    """``n_points`` per dimension over the bounding box of the reachable m, |m_α| <= ||u_α||_1/√N
    (exact: the support function of the zonotope {Uσ/√N}); the points outside it, or on its edge,
    have no conjugate fields and are left out."""
    u = u.double().cpu()
    reach = u.abs().sum(1) / math.sqrt(u.shape[1])
    axes = [torch.linspace(-r, r, n_points, dtype=torch.float64) for r in reach.tolist()]
    grid = torch.stack([a.reshape(-1) for a in torch.meshgrid(*axes, indexing="ij")], 1)
    mu, entropy, ok = conjugate_fields(grid, u)
    spacing = 2 * reach / (n_points - 1)
    return Mesh(grid[ok], mu[ok], entropy[ok], u, spacing, len(grid))


# ---------------------------------------------------------------- the Coulomb machine
@dataclass
class CoulombMachine:
    """The RCM: E(m) = -v·m - Σ_a q_a |n_a·m - b_a| / K.

    normals (K, d) unit vectors, offsets (K,), visible_bias v (d,), weights q (K,) >= 0, directions U
    (d, N); log_likelihood: the train log-likelihood (nats per row) of the converted RBM on the mesh;
    coulomb_log_likelihood: the RCM's own; trials: (hyperplanes, log_likelihood) per fit of the
    decimation loop.
    """

    normals: Tensor
    offsets: Tensor
    visible_bias: Tensor
    weights: Tensor
    directions: Tensor
    log_likelihood: float = float("nan")
    coulomb_log_likelihood: float = float("nan")
    trials: list = field(default_factory=list)

    def features(self, m: Tensor) -> Tensor:
        """|n_a·m - b_a| / K, shape (P, K)."""
        return _features(self.normals, self.offsets, m)

    def energy(self, m: Tensor) -> Tensor:
        """E(m), shape (P,)."""
        return -(m @ self.visible_bias) - self.features(m) @ self.weights

    def mesh_log_likelihood(self, mesh: Mesh, proj: Tensor, weights: Tensor) -> float:
        """Mean log p(σ) of rows with projections ``proj`` (n, d), weights (n,) summing to 1:
        -N E(m) - log Z, log Z = N log 2 + log Σ_mesh Ω e^{-NE} - log Σ_mesh Ω."""
        n = mesh.n_visible
        log_omega = n * mesh.entropy
        log_z = (n * math.log(2.0) + torch.logsumexp(log_omega - n * self.energy(mesh.points), 0)
                 - torch.logsumexp(log_omega, 0))
        return float(-n * (weights @ self.energy(proj)) - log_z)


def _features(normals: Tensor, offsets: Tensor, m: Tensor) -> Tensor:
    return (m @ normals.T - offsets).abs() / len(normals)


def _lattice_directions(d: int) -> Tensor:
    """The (3^d - 1)/2 directions with entries in {-1, 0, 1} up to sign (axes and diagonals), unit."""
    grid = torch.cartesian_prod(*[torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)] * d).reshape(-1, d)
    first = [row for row in grid if row.abs().sum() > 0 and row[row != 0][0] > 0]
    dirs = torch.stack(first)
    return dirs / dirs.norm(dim=1, keepdim=True)


def candidate_hyperplanes(proj: Tensor, n_candidates: int, generator: torch.Generator
                          ) -> tuple[Tensor, Tensor]:
    """Hyperplanes to choose from: half along the lattice directions (axes, diagonals) with offsets
    evenly spaced over the data's range on each, half with random normal directions through
    randomly chosen data points (the reference mixes structured and random ones alike)."""
    d = proj.shape[1]
    lattice = _lattice_directions(d)
    per = max(1, -(-n_candidates // (2 * len(lattice))))
    along = proj @ lattice.T  # (n, D)
    fractions = (torch.arange(per, dtype=torch.float64) + 0.5) / per
    low, high = along.amin(0), along.amax(0)
    offsets = (low[:, None] + fractions[None, :] * (high - low)[:, None]).reshape(-1)
    normals = lattice.repeat_interleave(per, 0)
    n_random = max(n_candidates - len(normals), n_candidates // 2)
    rand = torch.randn(n_random, d, generator=generator, dtype=torch.float64)
    rand /= rand.norm(dim=1, keepdim=True)
    rows = torch.randint(0, len(proj), (n_random,), generator=generator)
    rand_offsets = (rand * proj[rows]).sum(1)
    return torch.cat([normals, rand]), torch.cat([offsets, rand_offsets])


def merge_correlated(normals: Tensor, offsets: Tensor, proj: Tensor, target: int
                     ) -> tuple[Tensor, Tensor]:
    """Merge the two hyperplanes whose features |n·m - b| are the most correlated over the data rows
    ``proj`` into their mean (the second flipped to face the first), until ``target`` are left; the
    correlation matrix is updated by one row per merge."""
    normals, offsets = normals.clone(), offsets.clone()
    z = _standardised(normals, offsets, proj)  # (n, K)
    corr = z.T @ z
    corr.fill_diagonal_(-math.inf)
    while len(normals) > target:
        a, b = divmod(int(corr.argmax()), len(normals))
        sign = 1.0 if float(normals[a] @ normals[b]) >= 0 else -1.0
        n = normals[a] + sign * normals[b]
        scale = n.norm().clamp_min(1e-12)
        merged_n, merged_b = (n / scale)[None], ((offsets[a] + sign * offsets[b]) / scale)[None]
        keep = torch.tensor([k for k in range(len(normals)) if k not in (a, b)], dtype=torch.long)
        normals, offsets, z = normals[keep], offsets[keep], z[:, keep]
        new = _standardised(merged_n, merged_b, proj)
        row = (z.T @ new)[:, 0]
        corr = torch.cat([torch.cat([corr[keep][:, keep], row[:, None]], 1),
                          torch.cat([row, row.new_full((1,), -math.inf)])[None]], 0)
        normals, offsets, z = torch.cat([normals, merged_n]), torch.cat([offsets, merged_b]), torch.cat([z, new], 1)
    return normals, offsets


def _standardised(normals: Tensor, offsets: Tensor, proj: Tensor) -> Tensor:
    """The features over the rows, centred and scaled to unit norm per column (n, K)."""
    f = (proj @ normals.T - offsets).abs()
    f = f - f.mean(0)
    return f / f.norm(dim=0).clamp_min(1e-300)


def fit_coulomb(mesh: Mesh, proj: Tensor, weights: Tensor, normals: Tensor, offsets: Tensor,
                start: tuple[Tensor, Tensor] | None = None, max_iter: int = 200,
                tol: float = 1e-7) -> tuple[Tensor, Tensor]:
    """Maximum likelihood (v, q >= 0) of the RCM on the mesh. The negative log-likelihood per row,
    f(θ) = -N θ·<S>_data + log Σ_mesh exp(N s + N θ·S) + const with S(m) = (m, features(m)) and
    θ = (v, q), is convex (an exponential family on the mesh): gradient N (<S>_mesh - <S>_data),
    Hessian N² Cov_mesh(S). Projected Newton steps (the reference's quasi-Newton step with the mesh
    covariance as Hessian, projected on q >= 0; D. P. Bertsekas, SIAM J. Control Optim. 20, 221
    (1982)): the q within ε of 0 whose gradient pushes them down are held, Newton on the others
    (Levenberg-regularised, as the features are nearly collinear), the projected step halved until f
    decreases (Armijo), until |θ - P(θ - ∇f)|_∞ <= ``tol``.
    ``proj`` (n, d) data projections, ``weights`` (n,) summing to 1."""
    n_vis, d = mesh.n_visible, proj.shape[1]
    stats = torch.cat([mesh.points, _features(normals, offsets, mesh.points)], 1)  # (P, d + K)
    data_stats = torch.cat([weights @ proj, weights @ _features(normals, offsets, proj)])
    base = n_vis * mesh.entropy
    theta = torch.zeros(stats.shape[1], dtype=torch.float64) if start is None else torch.cat(start).clone()
    value, grad, p = _coulomb_objective(theta, stats, base, data_stats, n_vis)
    for _ in range(max_iter):
        projected = theta.clone()
        projected[d:] = (theta[d:] - grad[d:]).clamp_min(0.0)
        projected[:d] -= grad[:d]
        gap = float((theta - projected).abs().max())  # 0 exactly at the constrained optimum
        if gap <= tol:
            break
        held = torch.zeros_like(theta, dtype=torch.bool)  # Bertsekas' ε-active set, ε = min(1e-3, gap)
        held[d:] = (theta[d:] <= min(1e-3, gap)) & (grad[d:] > 0)
        step = torch.zeros_like(theta)
        step[~held] = _newton_step(stats, p, grad, ~held, n_vis)
        theta, value, grad, p, moved = _line_search(theta, step, value, grad, d, stats, base, data_stats, n_vis)
        if not moved:
            break
    return theta[:d].clone(), theta[d:].clamp_min(0.0).clone()


def _coulomb_objective(theta: Tensor, stats: Tensor, base: Tensor, data_stats: Tensor, n_vis: int
                       ) -> tuple[float, Tensor, Tensor]:
    logits = base + n_vis * (stats @ theta)
    p = torch.softmax(logits, 0)
    value = float(torch.logsumexp(logits, 0)) - n_vis * float(data_stats @ theta)
    return value, n_vis * (p @ stats - data_stats), p


def _newton_step(stats: Tensor, p: Tensor, grad: Tensor, free: Tensor, n_vis: int) -> Tensor:
    """-H⁻¹ g on the free parameters, H = N² Cov_p(S) over the mesh points of non-negligible weight."""
    heavy = p > p.max() * 1e-30
    s, w = stats[heavy][:, free], p[heavy] / p[heavy].sum()
    centred = s - w @ s
    hess = n_vis ** 2 * (centred * w[:, None]).T @ centred
    ridge = 1e-10 * float(hess.diagonal().mean()) + 1e-300
    hess.diagonal().add_(ridge)
    return -torch.linalg.solve(hess, grad[free])


def _line_search(theta, step, value, grad, d, stats, base, data_stats, n_vis):
    """θ + t step projected on q >= 0, t halved until f decreases by Armijo's rule (40 halvings)."""
    t = 1.0
    for _ in range(40):
        new = theta + t * step
        new[d:] = new[d:].clamp_min(0.0)
        new_value, new_grad, new_p = _coulomb_objective(new, stats, base, data_stats, n_vis)
        if new_value <= value + 1e-4 * float(grad @ (new - theta)) or new_value < value - 1e-12 * abs(value):
            return new, new_value, new_grad, new_p, True
        t *= 0.5
    return theta, value, grad, None, False


# ---------------------------------------------------------------- the converted RBM
def spin_parameters(rcm: CoulombMachine) -> tuple[Tensor, Tensor, Tensor]:
    """The ±1 RBM of the RCM (module docstring): weights W (N, K), visible fields η (N,), hidden
    biases θ (K,), float64."""
    u = rcm.directions
    n_vis, k = u.shape[1], len(rcm.weights)
    w = math.sqrt(n_vis) * (u.T @ rcm.normals.T) * (rcm.weights / k)
    eta = math.sqrt(n_vis) * (u.T @ rcm.visible_bias)
    theta = -n_vis * rcm.weights * rcm.offsets / k
    return w, eta, theta


def mesh_free_energy(m: Tensor, u: Tensor, w: Tensor, eta: Tensor, theta: Tensor) -> Tensor:
    """Φ(m) = F(σ) of a ±1 RBM with W and η in the span of U, for any σ with m(σ) = m (P,)."""
    root = math.sqrt(u.shape[1])
    return -root * (m @ (u @ eta)) - _log2cosh(theta + root * (m @ (u @ w))).sum(1)


def _mesh_log_weights(mesh: Mesh, w: Tensor, eta: Tensor, theta: Tensor) -> Tensor:
    """log of N s(m) - ½ log det H(m) - Φ(m) over the mesh (unnormalised), by blocks of points."""
    block = max(1, _CHUNK // max(len(theta), 1))
    phi = torch.cat([mesh_free_energy(mesh.points[i:i + block], mesh.directions, w, eta, theta)
                     for i in range(0, len(mesh.points), block)])
    return mesh.n_visible * mesh.entropy - phi


def mesh_log_partition(mesh: Mesh, w: Tensor, eta: Tensor, theta: Tensor) -> float:
    """log Z of the ±1 RBM on the mesh: Z = 2^N Σ_m Ω(m) e^{-Φ(m)} / Σ_m Ω(m) (the mesh weights
    of uniform spins normalised to the 2^N configurations, as the reference does)."""
    log_omega = mesh.n_visible * mesh.entropy
    return float(mesh.n_visible * math.log(2.0) + torch.logsumexp(_mesh_log_weights(mesh, w, eta, theta), 0)
                 - torch.logsumexp(log_omega, 0))


def _spin_free_energy(spins: Tensor, w: Tensor, eta: Tensor, theta: Tensor) -> Tensor:
    return -(spins @ eta) - _log2cosh(theta + spins @ w).sum(1)


# ---------------------------------------------------------------- the entry
@dataclass
class LowRankFit:
    """What :func:`fit_low_rank` fitted: the started ``model``; ``sampler``, the mesh law of the
    converted low-rank RBM (:class:`~boltzkit.models.mesh_mixture.MeshMixture`: exact draws and
    density, the first replica of trajectory tempering); ``converted``, that RBM (the RCM's hidden
    units, the others at zero weight) and ``log_partition``, the mesh estimate of its log Z in the
    model's visible values; the ``machine`` (RCM) and its ``mesh`` (``points_per_dim`` per axis)."""

    model: Any
    sampler: MeshMixture
    converted: Any
    log_partition: float
    machine: CoulombMachine
    mesh: Mesh
    points_per_dim: int
    seconds: float = float("nan")

    def summary(self) -> dict[str, Any]:
        """The run file's record of the pre-training (``run_config["pretrain"]``)."""
        return {"method": "low-rank", "dims": int(self.mesh.directions.shape[0]),
                "mesh_points_per_dim": self.points_per_dim, "mesh_size": self.mesh.size,
                "mesh_points_reachable": len(self.mesh.points),
                "hyperplanes": len(self.machine.weights),
                "train_log_likelihood": self.machine.log_likelihood,
                "rcm_train_log_likelihood": self.machine.coulomb_log_likelihood,
                "log_partition": self.log_partition,
                "trials": [[k, ll] for k, ll in self.machine.trials], "seconds": self.seconds}


def _check(model: Any, dims: int, n_visible: int) -> int:
    require(model, LowRankStart, FLAG)
    dims = integer(dims, "--pretrain-dims", 1, 4)
    if dims > n_visible:
        raise InvalidValue(f"--pretrain-dims {dims} is larger than the {n_visible} visible units")
    return dims


def mesh_bytes(n_points: int, dims: int, hyperplanes: int) -> int:
    """Bytes the mesh and the fit allocate (float64): the grid, its fields and entropy, the
    (points x (d + K)) statistics of the fit and its temporaries, the Newton blocks."""
    size = n_points ** dims
    return 8 * (size * (3 * dims + 4) + 2 * size * (dims + hyperplanes) + 8 * _CHUNK)


def _decimated_fit(mesh: Mesh, proj: Tensor, w: Tensor, k: int, generator: torch.Generator) -> CoulombMachine:
    """Fit, drop the hyperplanes with N q_a / K < DECIMATION, refit, ... (at most 10 fits); the
    fit whose converted RBM has the best train log-likelihood on the mesh is kept (the reference's
    trials)."""
    normals, offsets = merge_correlated(*candidate_hyperplanes(proj, 2 * k, generator), proj, k)
    best, trials, start = None, [], None
    for _ in range(10):
        v, q = fit_coulomb(mesh, proj, w, normals, offsets, start)
        rcm = CoulombMachine(normals, offsets, v, q, mesh.directions)
        ws, eta, theta = spin_parameters(rcm)
        rcm.log_likelihood = float(-(w @ mesh_free_energy(proj, mesh.directions, ws, eta, theta))
                                   - mesh_log_partition(mesh, ws, eta, theta))
        rcm.coulomb_log_likelihood = rcm.mesh_log_likelihood(mesh, proj, w)
        trials.append((len(q), rcm.log_likelihood))
        if best is None or rcm.log_likelihood > best.log_likelihood:
            best = rcm
        keep = mesh.n_visible * q / len(q) >= DECIMATION
        if bool(keep.all()) or not bool(keep.any()):
            break
        normals, offsets, start = normals[keep], offsets[keep], (v, q[keep])
    best.trials = trials
    return best


def _converted(model: Any, mesh: Mesh, ws: Tensor, eta: Tensor, theta: Tensor, spins: Tensor
               ) -> tuple[Any, MeshMixture, float]:
    """The converted RBM (hidden units beyond the RCM's at zero weight), its mesh law, and the mesh
    log Z moved to the model's visible values by F_model(v) = F_±1(σ) - shift."""
    low = model.from_spin_start(ws, eta, theta, 0.0, None)
    exact = low.to(dtype=torch.float64)
    shift = float(_spin_free_energy(spins[:1], ws, eta, theta)[0]
                  - exact.free_energy(exact.from_spins(spins[:1].to(exact.device)))[0])
    law = MeshMixture(model.visible, mesh.directions, mesh.fields, _mesh_log_weights(mesh, ws, eta, theta),
                      dtype=model.dtype)
    return low, law, mesh_log_partition(mesh, ws, eta, theta) + shift


def fit_low_rank(model: Any, x: Tensor, weights: Tensor | None, dims: int,
                 generator: torch.Generator | None = None, *, mesh_points: int | None = None,
                 hyperplanes: int | None = None, max_memory: float | None = None) -> LowRankFit:
    """Fit the RCM on the first ``dims`` principal directions of the rows ``x`` (n, N) (the model's
    visible values; ``weights`` (n,) or None) and convert it to a start of ``model``'s family
    (docs/methods.md 6.5).

    ``mesh_points`` per dimension (default :data:`MESH_POINTS`); ``hyperplanes``: the RCM's hidden
    units before decimation (default min(n_hidden, 200)); the RBM's other hidden units start with
    N(0, 1e-4²) weights and zero bias, as in the reference's conversion. Refuses, in one line
    naming ``--pretrain low-rank``, a family without :class:`LowRankStart`, ``dims`` outside 1..4
    or above the rows' rank, and a mesh that would not fit in memory (``max_memory`` GiB). The mesh
    and the fit are computed on the CPU in float64; the start is in the model's device and dtype."""
    started = time.perf_counter()
    dims = _check(model, dims, x.shape[1])
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    n_points = integer(mesh_points if mesh_points is not None else MESH_POINTS[dims], "mesh_points", 3)
    k = integer(hyperplanes if hyperplanes is not None else min(model.n_hidden, MAX_HYPERPLANES),
                "hyperplanes", 1, model.n_hidden)
    refuse_beyond(mesh_bytes(n_points, dims, k), f"{FLAG} (a mesh of {n_points}^{dims} points, {k} "
                  "hyperplanes)", "lower --pretrain-dims", "cpu", max_memory)
    spins = model.to_spins(x).double().cpu()
    w = torch.full((len(spins),), 1.0 / len(spins), dtype=torch.float64) if weights is None \
        else weights.double().cpu() / weights.double().sum().cpu()
    u = principal_directions(spins, w, dims)
    mesh = build_mesh(u, n_points)
    proj = spins @ u.T / math.sqrt(spins.shape[1])
    rcm = _decimated_fit(mesh, proj, w, k, generator)
    ws, eta, theta = spin_parameters(rcm)
    start = model.from_spin_start(ws, eta, theta, EXTRA_WEIGHT_STD, generator)
    low, law, log_z = _converted(model, mesh, ws, eta, theta, spins)
    return LowRankFit(start, law, low, log_z, rcm, mesh, n_points, time.perf_counter() - started)


def low_rank_start(model: Any, x: Tensor, weights: Tensor | None, dims: int,
                   generator: torch.Generator | None = None, **options: Any) -> Any:
    """``model``'s family started from the converted RCM (same shapes): :func:`fit_low_rank`'s model."""
    return fit_low_rank(model, x, weights, dims, generator, **options).model
