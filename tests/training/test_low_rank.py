"""Low-rank pre-training (docs/methods.md 6.5): the mesh entropy, the RCM fit, its conversion to a
binary RBM, the mesh log Z and the exact low-rank sampler, against enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from boltzkit.errors import BoltzkitError, InvalidValue
from boltzkit.io import trajectory
from boltzkit.models.families import GAUSSIAN_RBM
from boltzkit.models.registry import family
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN
from boltzkit.models.visible import BERNOULLI_SPACE, REAL_SPACE
from boltzkit.training import low_rank as L
from boltzkit.training.config import TrainingConfig
from boltzkit.training.run import TrainingData, train_model

F64 = torch.float64


def clustered(n_visible: int, n_rows: int, seed: int, clusters: int = 3, noise: float = 0.2) -> torch.Tensor:
    """{0,1} rows around ``clusters`` random centres, each bit flipped with probability ``noise``."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(clusters, n_visible, generator=g) < 0.5
    which = torch.randint(0, clusters, (n_rows,), generator=g)
    flips = torch.rand(n_rows, n_visible, generator=g) < noise
    return (centres[which] ^ flips).to(F64)


def all_spins(n: int) -> torch.Tensor:
    codes = torch.arange(2 ** n)[:, None] >> torch.arange(n)[None, :] & 1
    return (2 * codes - 1).to(F64)


def random_directions(n_visible: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(n_visible, d, generator=g, dtype=F64))[0].T.contiguous()


@pytest.mark.parametrize("d", [1, 2])
def test_mesh_entropy_is_the_legendre_transform_computed_by_enumeration(d):
    """At each mesh point, the independent spins with fields √N Uᵀμ(m) have mean projection m, and
    the stored entropy is their Shannon entropy minus ½ log det of the covariance of √N m, per spin:
    all by enumerating the 2^10 configurations."""
    n = 10
    u = random_directions(n, d, seed=d)
    mesh = L.build_mesh(u, 9 if d == 2 else 15)
    assert len(mesh.points) >= (30 if d == 2 else 10)
    sigma = all_spins(n)
    m_all = sigma @ u.T / math.sqrt(n)
    for k in range(0, len(mesh.points), max(1, len(mesh.points) // 12)):
        m, mu = mesh.points[k], mesh.fields[k]
        log_p = torch.log_softmax(n * (m_all @ mu), 0)  # p_μ(σ) ∝ exp(√N μ·Uσ) = exp(N μ·m(σ))
        p = log_p.exp()
        assert torch.allclose(p @ m_all, m, atol=1e-9)
        shannon = -(p @ log_p)
        centred = m_all - m
        cov = (centred * p[:, None]).T @ centred * n
        expected = (shannon - 0.5 * torch.logdet(cov)) / n
        assert abs(float(mesh.entropy[k] - expected)) < 1e-9


@pytest.mark.parametrize("d", [1, 2])
def test_mesh_density_of_states_counts_the_configurations(d):
    """Σ_mesh Ω(m) ΔV (N/2π)^{d/2} = 2^N: the Gaussian factor makes Ω a density per unit volume.
    The local central limit holds to O(1/N) (the next Edgeworth term): measured 0.6/N (d = 1) and
    1.9/N (d = 2) nats at N = 10 and 200; the bound is 2.5 d / N, and the error must fall ~1/N."""
    errors = []
    for n in (10, 200):
        mesh = L.build_mesh(random_directions(n, d, seed=n), 60)
        total = (torch.logsumexp(n * mesh.entropy, 0) + torch.log(mesh.spacing).sum()
                 + d / 2 * math.log(n / (2 * math.pi)))
        errors.append(abs(float(total) - n * math.log(2)))
        assert errors[-1] < 2.5 * d / n
    assert errors[1] < errors[0] / 5


@pytest.fixture(scope="module")
def fitted_200():
    """An RCM fitted on 3-cluster rows of N = 200 spins, d = 1 and 2 (8 hidden units)."""
    x = clustered(200, 1000, seed=0)
    model = RBM.init_from_data(x, 8, generator=torch.Generator().manual_seed(0)).to(dtype=F64)
    return x, {d: L.fit_low_rank(model, x, None, d, torch.Generator().manual_seed(1),
                                 mesh_points=100 if d == 1 else 50) for d in (1, 2)}


@pytest.mark.parametrize("d", [1, 2])
def test_mesh_log_partition_matches_enumeration_of_the_converted_rbm(fitted_200, d):
    """log Z of the converted RBM on the mesh against the exact sum over its 2^K hidden states.
    The mesh replaces the discrete law of m by a density (local central limit, O(1/N)) summed at
    spacing 0.016 (d = 1) / 0.03 (d = 2) against a width 1/√N = 0.07 of the peaks: measured
    0.001 and 0.003 nats; 0.02 allows for the seed."""
    x, fits = fitted_200
    fit = fits[d]
    low = fit.converted
    exact = low.log_partition_exact()
    assert abs(fit.log_partition - exact) < 0.02
    exact_ll = float(-low.free_energy(x).mean() - exact)
    assert abs(fit.machine.log_likelihood - exact_ll) < 0.02


def _rcm_log_likelihood(mesh, proj, v, q, normals, offsets) -> float:
    n = mesh.n_visible
    neg_energy = lambda m: m @ v + L._features(normals, offsets, m) @ q  # noqa: E731
    return float(n * neg_energy(proj).mean() - torch.logsumexp(n * (mesh.entropy + neg_energy(mesh.points)), 0))


def test_fit_is_the_constrained_maximum_of_the_likelihood():
    """At the fit, the mesh law matches the data's mean projections and the mean features of the
    hyperplanes in use (q > 0), and the others' data means are below the model's (KKT of q >= 0);
    the likelihood is above the start's (q = 0, v = 0) and above nearby points."""
    x = clustered(60, 600, seed=3)
    spins = 2 * x - 1
    w = torch.full((len(x),), 1.0 / len(x), dtype=F64)
    u = L.principal_directions(spins, w, 2)
    mesh = L.build_mesh(u, 40)
    proj = spins @ u.T / math.sqrt(60)
    normals, offsets = L.merge_correlated(*L.candidate_hyperplanes(proj, 16, torch.Generator().manual_seed(0)),
                                          proj, 8)
    v, q = L.fit_coulomb(mesh, proj, w, normals, offsets)
    feats = L._features(normals, offsets, mesh.points)
    logits = mesh.n_visible * (mesh.entropy + mesh.points @ v + feats @ q)
    p = torch.softmax(logits, 0)
    # the fit stops at |θ - P(θ - ∇f)| <= 1e-7 with ∇f = N (moment differences), N = 60: 2e-9 on the moments
    assert torch.allclose(p @ mesh.points, proj.mean(0), atol=1e-6)
    data_f, model_f = L._features(normals, offsets, proj).mean(0), p @ feats
    used = q > 0
    assert used.any()
    assert torch.allclose(data_f[used], model_f[used], atol=1e-6)
    assert bool((data_f[~used] <= model_f[~used] + 1e-6).all())
    best = _rcm_log_likelihood(mesh, proj, v, q, normals, offsets)
    assert best > _rcm_log_likelihood(mesh, proj, 0 * v, 0 * q, normals, offsets) + 1.0
    rcm = L.CoulombMachine(normals, offsets, v, q, u)  # the same up to the constant N log 2 - log Σ Ω
    shift = 60 * math.log(2) - float(torch.logsumexp(60 * mesh.entropy, 0))
    assert abs(rcm.mesh_log_likelihood(mesh, proj, w) - (best - shift)) < 1e-9
    g = torch.Generator().manual_seed(5)
    for _ in range(5):
        dv, dq = 0.01 * torch.randn(2, generator=g, dtype=F64), 0.05 * torch.rand(8, generator=g, dtype=F64)
        assert _rcm_log_likelihood(mesh, proj, v + dv, q + dq, normals, offsets) <= best + 1e-9


def test_merging_joins_the_same_hyperplane_written_twice_first():
    """(n, b) and (-n, -b) are one feature |n·m - b|: merged first, into (n, b) itself."""
    g = torch.Generator().manual_seed(0)
    proj = torch.randn(300, 2, generator=g, dtype=F64)
    normals = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-0.6, -0.8], [0.0, 1.0]], dtype=F64)
    offsets = torch.tensor([0.3, 0.1, -0.1, -0.5], dtype=F64)
    n, b = L.merge_correlated(normals, offsets, proj, 3)
    assert torch.allclose(n[-1], normals[1]) and abs(float(b[-1] - 0.1)) < 1e-12
    assert torch.equal(n[:2], normals[[0, 3]])


def test_conversion_gives_the_rcm_energy_up_to_log2cosh_minus_abs():
    """The ±1 RBM's free energy depends on σ through m(σ) only (mesh_free_energy is exact), and it
    is N times the RCM's energy up to -K log 2 <= Φ(m) - N E(m) <= 0, since 0 < log 2cosh x - |x| <= log 2."""
    n, d, k = 30, 2, 5
    g = torch.Generator().manual_seed(2)
    normals = torch.randn(k, d, generator=g, dtype=F64)
    normals /= normals.norm(dim=1, keepdim=True)
    rcm = L.CoulombMachine(normals, 0.2 * torch.randn(k, generator=g, dtype=F64),
                           torch.randn(d, generator=g, dtype=F64), 5 * torch.rand(k, generator=g, dtype=F64),
                           random_directions(n, d, 7))
    w, eta, theta = L.spin_parameters(rcm)
    sigma = 2.0 * (torch.rand(300, n, generator=g) < 0.5).to(F64) - 1
    m = sigma @ rcm.directions.T / math.sqrt(n)
    phi = L.mesh_free_energy(m, rcm.directions, w, eta, theta)
    assert torch.allclose(phi, L._spin_free_energy(sigma, w, eta, theta), atol=1e-9)
    energy = -(m @ rcm.visible_bias) - rcm.features(m) @ rcm.weights
    gap = phi - n * energy
    assert bool((gap <= 1e-9).all()) and bool((gap >= -k * math.log(2) - 1e-9).all())


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_the_start_is_the_converted_rbm_in_the_models_units(units):
    """from_spin_start: the {0,1} (or ±1) RBM has the ±1 RBM's free energy up to a constant; the
    hidden units beyond K have N(0, 1e-4²) weights and zero bias (the reference's conversion)."""
    n, k, h = 12, 3, 7
    g = torch.Generator().manual_seed(4)
    w, eta, theta = (torch.randn(n, k, generator=g, dtype=F64), torch.randn(n, generator=g, dtype=F64),
                     torch.randn(k, generator=g, dtype=F64))
    x = (torch.rand(50, n, generator=g) < 0.5).to(F64)
    model = RBM.init_from_data(x if units == "bernoulli" else 2 * x - 1, h,
                               SPIN if units == "spin" else BERNOULLI)
    start = model.to(dtype=F64).from_spin_start(w, eta, theta, 0.0, g)
    assert start.n_hidden == h and start.kind == model.kind
    sigma = 2 * x - 1
    diff = start.free_energy(start.from_spins(sigma)) - L._spin_free_energy(sigma, w, eta, theta)
    assert torch.allclose(diff, diff[0].expand_as(diff), atol=1e-9)
    padded = model.to(dtype=F64).from_spin_start(w, eta, theta, 1e-4, torch.Generator().manual_seed(0))
    assert float(padded.hidden_bias[k:].abs().max()) == 0.0
    assert 0 < float(padded.weights[:, k:].std()) < 2e-4
    assert torch.equal(start.to_spins(start.from_spins(sigma)), sigma)


def test_exact_sampler_draws_its_mesh_law():
    """Chi-square of the drawn configurations' projection m (10 bins) and z-scores of the site
    means against the law Σ_m p(m) Π_i p(σ_i | μ(m)) enumerated over the 2^10 configurations
    (fixed seed; p-value threshold 1e-3, |z| < 4); the law's free energy is that law's -log q
    (normalised to 1e-9: float64 sums of 2^10 terms)."""
    x = clustered(10, 500, seed=1, clusters=2, noise=0.15)
    model = RBM.init_from_data(x, 4, generator=torch.Generator().manual_seed(0)).to(dtype=F64)
    fit = L.fit_low_rank(model, x, None, 2, torch.Generator().manual_seed(0), mesh_points=30)
    s = fit.sampler
    assert len(s.fields) <= len(fit.mesh.points)  # the negligible points are left out
    sigma = all_spins(10)
    fields = math.sqrt(10) * s.fields @ s.directions  # (P, N)
    log_cond = (sigma @ fields.T) - L._log2cosh(fields).sum(1)  # log Π_i p(σ_i | μ) (2^N, P)
    p = torch.logsumexp(log_cond + s.log_weights - torch.logsumexp(s.log_weights, 0), 1).exp()
    assert abs(float(p.sum()) - 1) < 1e-9
    assert torch.allclose(s.free_energy(model.from_spins(sigma)), -p.log(), atol=1e-9)
    n_draws = 40000
    draws = s.to(dtype=F64).sample_step(s.init_chains(n_draws, torch.Generator().manual_seed(1)),
                                        torch.Generator().manual_seed(2)).visible
    spins = model.to_spins(draws)
    m1 = (sigma @ s.directions[0]).numpy()
    edges = np.quantile(np.repeat(m1, np.maximum(1, (p.numpy() * 1e5).astype(int))), np.linspace(0, 1, 11)[1:-1])
    expected = np.bincount(np.digitize(m1, edges), weights=p.numpy(), minlength=10) * n_draws
    observed = np.bincount(np.digitize((spins @ s.directions[0]).numpy(), edges), minlength=10)
    keep = expected > 5
    stat = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    assert chi2.sf(stat, keep.sum() - 1) > 1e-3
    site = p @ sigma
    z = (spins.mean(0) - site) / torch.sqrt((1 - site ** 2) / n_draws)
    assert float(z.abs().max()) < 4.0


def test_sampler_is_a_first_replica():
    """What trajectory tempering uses of models[0]: fresh draws that ignore the input, a
    normalised free energy (log Z = 0: the sum of exp(-F) over all 2^16 configurations is 1 to
    1e-4, float32 sums) close to the converted RBM's up to a constant (the mesh law approximates
    it: on 2000 of its draws the difference of the two free energies spreads by a fraction of the
    RBM's own spread, measured 0.19 at N = 16, 0.10 at 64, 0.05 at 256; bound 0.3), sizes and
    placement."""
    x = clustered(16, 300, seed=2)
    model = RBM.init_from_data(x.float(), 6, generator=torch.Generator().manual_seed(0))
    fit = L.fit_low_rank(model, x.float(), None, 1, torch.Generator().manual_seed(0), mesh_points=40)
    s = fit.sampler.to("cpu", torch.float32)
    chains = s.init_chains(5, torch.Generator().manual_seed(0))
    assert chains.visible.shape == (5, 16) and chains.visible.dtype == torch.float32
    assert set(chains.visible.unique().tolist()) <= {0.0, 1.0}
    again = s.sample_step(chains, torch.Generator().manual_seed(3))
    assert again.visible.shape == (5, 16) and not torch.equal(again.visible, chains.visible)
    every = model.from_spins(all_spins(16)).float()
    assert abs(float(torch.logsumexp(-s.free_energy(every), 0))) < 1e-4 and s.log_partition_exact() == 0.0
    draws = s.sample(2000, torch.Generator().manual_seed(4)).visible
    own = fit.converted.free_energy(draws)
    assert float((s.free_energy(draws) - own).std()) < 0.3 * float(own.std())
    assert s.n_visible == 16 and s.visible == model.visible and s.dtype == torch.float32
    with pytest.raises(ValueError):
        s.sample_step(chains, None, 0.5)


def test_refusals_name_the_flag():
    x = clustered(20, 100, seed=0)
    model = RBM.init_from_data(x, 4)
    gaussian = GAUSSIAN_RBM.build(torch.randn(20, 3), None, REAL_SPACE, {"n_hidden": 2}, 0)
    with pytest.raises(BoltzkitError, match="^--pretrain low-rank: the gaussian-rbm family") as e:
        L.low_rank_start(gaussian, torch.randn(20, 3), None, 1)
    assert "\n" not in str(e.value)
    for dims in (0, 5, 1.5):
        with pytest.raises(InvalidValue, match="^--pretrain-dims"):
            L.low_rank_start(model, x, None, dims)
    rank_one = torch.cat([x[:1].expand(10, -1), 1 - x[:1].expand(10, -1)])  # σ and -σ: rank 1
    with pytest.raises(InvalidValue, match=r"^--pretrain-dims 2 is larger than the rank of the training rows \(1\)"):
        L.low_rank_start(model, rank_one, None, 2)
    with pytest.raises(BoltzkitError, match=r"^--pretrain low-rank \(a mesh of 100\^3 points.*--max-memory"):
        L.low_rank_start(model, x, None, 3, max_memory=0.01)


def test_training_starts_from_the_low_rank_fit_and_records_it(tmp_path):
    """train_model with pretrain low-rank: the run file's config records the fit (dims, mesh,
    train log-likelihood); the start is the converted RBM (its free-energy differences)."""
    x = clustered(24, 400, seed=5).numpy().astype(np.float32)
    config = TrainingConfig(method="pcd", n_updates=1, batch_size=50, n_chains=20, gibbs_steps=1,
                            learning_rate=1e-12, n_checkpoints=1, pretrain="low-rank", pretrain_dims=2)
    out = tmp_path / "run.h5"
    data = TrainingData(x, None, BERNOULLI_SPACE, config)
    model = train_model(family("bernoulli-rbm"), data, config, out, options={"n_hidden": 5})
    record = trajectory.read_config(out)["pretrain"]
    assert record["dims"] == 2 and record["mesh_size"] == 100 ** 2 and record["method"] == "low-rank"
    assert math.isfinite(record["train_log_likelihood"]) and 1 <= record["hyperplanes"] <= 5
    assert math.isfinite(record["rcm_train_log_likelihood"])
    build = family("bernoulli-rbm").build(data.x, None, BERNOULLI_SPACE, {"n_hidden": 5}, 0)
    fit = L.fit_low_rank(build, data.x, None, 2, torch.Generator().manual_seed(0))
    rows = data.x[:10]
    expected = fit.model.free_energy(rows) - fit.model.free_energy(rows[:1])
    assert torch.allclose(model.free_energy(rows) - model.free_energy(rows[:1]), expected, atol=1e-3)
