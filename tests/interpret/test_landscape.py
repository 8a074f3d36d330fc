"""Free-energy landscape: deduplication, ranking and basins of TAP fixed points on an RBM whose minima
are known (one hidden unit per prototype), the HDF5 output, the figures and ``boltzkit landscape``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from boltzkit.interpret.landscape import (deduplicate, free_energy_landscape, landscape_from_fixed_points,
                                          load_run_points, save_landscape)
from boltzkit.interpret.tap import tap_fixed_points, tap_free_energy
from boltzkit.interpret.tree_metrics import adjusted_rand_index
from boltzkit.io import trajectory
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM


pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest


def prototype_rbm(prototypes: np.ndarray, strength: float = 4.0, n_hidden: int | None = None,
                  visible_bias: np.ndarray | None = None) -> RBM:
    """One hidden unit per {0,1} prototype ξ_a: W_ia = w (2ξ_ia - 1) and a hidden bias that switches
    unit a on within half the smallest Hamming distance δ between prototypes: c_a = -w(|ξ_a| - δ/2).
    Its TAP fixed points from nearby data are the prototypes (magnetisations sigmoid(±w))."""
    k, n = prototypes.shape
    n_hidden = n_hidden or max(k, 1)
    w = torch.zeros(n, n_hidden, dtype=torch.float64)
    c = torch.full((n_hidden,), -10.0, dtype=torch.float64)
    if k:
        xi = prototypes.astype(np.float64)
        w[:, :k] = torch.tensor(strength * (2 * xi - 1).T)
        ham = (xi[:, None] != xi[None]).sum(-1) + np.eye(k, dtype=int) * n
        delta = ham.min() if k > 1 else n
        c[:k] = torch.tensor(-strength * (xi.sum(1) - delta / 2))
    b = torch.zeros(n, dtype=torch.float64) if visible_bias is None else torch.tensor(visible_bias)
    return RBM(w, b, c)


def balanced_prototypes(k: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(np.r_[np.ones(n // 2), np.zeros(n - n // 2)]) for _ in range(k)])


def noisy_copies(prototypes: np.ndarray, per: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(prototypes)), per)
    x = prototypes[labels]
    x = np.where(rng.random(x.shape) < noise, 1 - x, x)
    return x.astype(np.float64), labels


@pytest.fixture(scope="module")
def three_minima():
    xi = balanced_prototypes(3, 40, seed=0)
    # a small visible bias towards prototype 0 makes it the deepest minimum
    rbm = prototype_rbm(xi, visible_bias=0.2 * (2 * xi[0] - 1))
    x, labels = noisy_copies(xi, 60, 0.05, seed=1)
    return rbm, xi, x, labels


# ------------------------------------------------------------------------- deduplication
def test_deduplicate_groups_points_within_tolerance_in_order():
    p = torch.tensor([[0.0, 0.0], [0.5, 0.5], [1e-4, 0.0], [0.5, 0.5 + 5e-4], [2.0, 2.0]])
    assert deduplicate(p, 1e-3).tolist() == [0, 1, 0, 1, 2]
    assert deduplicate(p, 1.0).tolist() == [0, 0, 0, 0, 1]
    assert deduplicate(p[:0], 1e-3).tolist() == []


# ------------------------------------------------------------------------- the landscape
@pytest.mark.parametrize("order", [1, 2, 3])
def test_fixed_points_basins_and_ranking_on_known_minima(three_minima, order):
    rbm, xi, x, labels = three_minima
    land = free_energy_landscape(rbm, torch.tensor(x), order=order, tol=1e-9)
    assert land.converged.all() and land.n_fixed_points == 3
    # every fixed point is one prototype, each prototype found once
    found = [int(np.flatnonzero((np.round(v) == xi).all(1))[0]) for v in land.visible]
    assert sorted(found) == [0, 1, 2] and found[0] == 0  # prototype 0 has the lowest F
    assert np.all(np.diff(land.free_energy) > 0)
    assert adjusted_rand_index(labels, land.basin) == 1.0
    np.testing.assert_array_equal(land.basin_size, np.bincount(land.basin))
    # the reported free energies are F at the stored fixed points
    f = tap_free_energy(rbm, torch.tensor(land.visible), torch.tensor(land.hidden), order)
    np.testing.assert_allclose(land.free_energy, f.numpy(), atol=1e-9)
    rows = land.table()
    assert [r["rank"] for r in rows] == [0, 1, 2] and sum(r["fraction"] for r in rows) == pytest.approx(1)


def test_unconverged_points_get_basin_minus_one(three_minima):
    rbm, _, x, _ = three_minima
    result = tap_fixed_points(rbm, torch.tensor(x), order=2, tol=1e-9)
    converged = result.converged.clone()
    converged[:5] = False
    land = landscape_from_fixed_points(result._replace(converged=converged), 1e-3)
    assert (land.basin[:5] == -1).all() and (land.basin[5:] >= 0).all()
    assert land.basin_size.sum() == len(x) - 5
    none = landscape_from_fixed_points(result._replace(converged=torch.zeros_like(converged)))
    assert none.n_fixed_points == 0 and (none.basin == -1).all()


def test_potts_landscape_on_known_minima():
    q, n = 3, 30
    rng = np.random.default_rng(2)
    proto = rng.integers(0, q, (3, n))
    strength = 4.0
    w = torch.zeros(n, q, 3, dtype=torch.float64)
    for a in range(3):
        w[np.arange(n), proto[a], a] = strength
    ham = (proto[:, None] != proto[None]).sum(-1) + np.eye(3, dtype=int) * n
    c = torch.full((3,), -strength * (n - ham.min() / 2), dtype=torch.float64)
    model = PottsRBM(w, torch.zeros(n, q, dtype=torch.float64), c)
    labels = np.repeat(np.arange(3), 40)
    x = proto[labels].copy()
    noise = rng.random(x.shape) < 0.05
    x[noise] = rng.integers(0, q, noise.sum())
    land = free_energy_landscape(model, torch.tensor(x, dtype=torch.float64), order=2, tol=1e-9)
    assert land.converged.all() and land.n_fixed_points == 3
    assert land.visible.shape == (3, n, q)
    assert sorted(int(np.flatnonzero((land.visible[j].argmax(-1) == proto).all(1))[0])
                  for j in range(3)) == [0, 1, 2]
    assert adjusted_rand_index(labels, land.basin) == 1.0


# ------------------------------------------------------------------------- files and figures
def _run_file(path, model, data: np.ndarray, image_shape=None, alphabet=None):
    config = {"model": model.config(), "training": {}, "data": {}}
    if alphabet is not None:
        config["alphabet"] = alphabet
    trajectory.create(path, config, data.astype(np.uint8 if alphabet is None else np.int8),
                      None, image_shape)
    for update in (1, 2):
        trajectory.append(path, update, model.parameters(), 0.0, 0.1, checkpoint=True)
    return path


def test_save_landscape_and_figure(tmp_path, three_minima):
    from boltzkit.report.tree_figures import fixed_points_figure, landscape_figure

    rbm, xi, x, labels = three_minima
    land = free_energy_landscape(rbm, torch.tensor(x), order=2)
    save_landscape(tmp_path / "b.h5", land, attrs={"run": "r.h5", "checkpoint": None})
    with h5py.File(tmp_path / "b.h5") as f:
        np.testing.assert_array_equal(f["points/basin"][()], land.basin)
        np.testing.assert_allclose(f["fixed_points/free_energy"][()], land.free_energy)
        assert f["fixed_points/visible"].shape == (3, 40) and f.attrs["order"] == 2
        assert f.attrs["run"] == "r.h5" and "checkpoint" not in f.attrs
    fig = landscape_figure(x, land, image_shape=(5, 8))
    fig.savefig(tmp_path / "l.png")
    assert (tmp_path / "l.png").stat().st_size > 1000
    fixed_points_figure(land.visible, land.free_energy).savefig(tmp_path / "p.png")  # profiles


runner = CliRunner()


def _app():
    from boltzkit.cli.interpret_landscape import register

    app = typer.Typer()
    register(app)
    return app


def test_cli_landscape(tmp_path, three_minima):
    rbm, xi, x, labels = three_minima
    run = _run_file(tmp_path / "run.h5", rbm, x)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    out = tmp_path / "basins.h5"
    r = runner.invoke(_app(), ["landscape", str(run), str(tmp_path / "x.npy"), "--out", str(out),
                               "--order", "2", "--checkpoint", "2", "--n-points", "0"])
    assert r.exit_code == 0, r.output
    assert "3 distinct fixed points" in r.output
    assert out.exists() and out.with_suffix(".png").exists()
    with h5py.File(out) as f:
        assert adjusted_rand_index(labels, f["points/basin"][()]) == 1.0
        np.testing.assert_array_equal(f["points/index"][()], np.arange(len(x)))
        assert f.attrs["checkpoint"] == 2
    r = runner.invoke(_app(), ["landscape", str(run), str(tmp_path / "x.npy"), "--out", str(out),
                               "--n-points", "50", "--json"])
    assert r.exit_code == 0, r.output
    import json

    summary = json.loads(r.output)
    assert summary["n_points"] == 50 and sum(f["basin_size"] for f in summary["fixed_points"]) == 50
    # user errors: one line, exit code 2
    np.save(tmp_path / "bad.npy", x[:, :10].astype(np.float32))
    r = runner.invoke(_app(), ["landscape", str(run), str(tmp_path / "bad.npy"), "--out", str(out)])
    assert r.exit_code == 2 and "10 columns" in r.output
    r = runner.invoke(_app(), ["landscape", str(run), str(tmp_path / "x.npy"), "--out", str(out),
                               "--order", "4"])
    assert r.exit_code == 2 and "order 4" in r.output
    r = runner.invoke(_app(), ["landscape", str(run), str(tmp_path / "x.npy"), "--out", str(out),
                               "--checkpoint", "7"])
    assert r.exit_code == 2 and "no checkpoint at update 7" in r.output


def test_load_run_points_spin_and_potts(tmp_path):
    from boltzkit.models.units import SPIN

    spin = RBM(torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.float64),
               torch.zeros(2, dtype=torch.float64), SPIN, SPIN)
    x = np.array([[0, 1, 1, 0], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=np.float32)
    run = _run_file(tmp_path / "spin.h5", spin, x)
    np.save(tmp_path / "x.npy", x)
    pts = load_run_points(run, tmp_path / "x.npy", n_points=2, seed=0)
    assert pts.x.shape == (2, 4) and set(pts.x.unique().tolist()) <= {-1.0, 1.0}
    np.testing.assert_array_equal(pts.x.numpy(), 2 * x[pts.index] - 1)
    assert pts.names == [f"s{i}" for i in pts.index]
    # Potts run: an alignment read with the run's alphabet
    potts = PottsRBM(torch.zeros(5, 5, 2, dtype=torch.float64), torch.zeros(5, 5, dtype=torch.float64),
                     torch.zeros(2, dtype=torch.float64))
    fasta = tmp_path / "a.fasta"
    fasta.write_text(">one\nAC-GT\n>two\nACGGT\n")
    run = _run_file(tmp_path / "potts.h5", potts, np.zeros((2, 5)), alphabet="-ACGT")
    pts = load_run_points(run, fasta)
    assert pts.names == ["one", "two"] and pts.alphabet == "-ACGT"
    np.testing.assert_array_equal(pts.x.numpy(), [[1, 2, 0, 3, 4], [1, 2, 3, 3, 4]])
    assert pts.one_hot().shape == (2, 5, 5)


def test_landscape_of_a_model_without_a_layered_energy_is_a_one_line_error(tmp_path):
    """What the landscape needs is a capability (LayeredEnergy), not a kind: a pairwise Potts run's
    points are read like any categorical run's, and the API then names the missing capability."""
    from boltzkit.errors import BoltzkitError
    from boltzkit.interpret.run_interpretation import run_landscape
    from boltzkit.models.pairwise import PottsModel

    potts = PottsModel(torch.zeros(5, 5, dtype=torch.float64), torch.zeros(5, 5, 5, 5, dtype=torch.float64))
    fasta = tmp_path / "a.fasta"
    fasta.write_text(">one\nAC-GT\n>two\nACGGT\n")
    run = _run_file(tmp_path / "potts.h5", potts, np.zeros((2, 5)), alphabet="-ACGT")
    assert load_run_points(run, fasta).alphabet == "-ACGT"
    with pytest.raises(BoltzkitError, match="potts-bm family has no LayeredEnergy capability"):
        run_landscape(run, fasta, tmp_path / "basins.h5")
    assert not (tmp_path / "basins.h5").exists()
