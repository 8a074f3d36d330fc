"""``boltzkit couplings`` on q-state models and on archives of the rbms package: zero-sum couplings,
comparison with a Potts ground truth (generated in another gauge) or another couplings file, JSON
``epsilon`` keyed by order, figures."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import torch
import typer
from typer.testing import CliRunner

from boltzkit.cli.couplings import register
from boltzkit.interpret.couplings_file import read_couplings, read_potts_couplings, read_truth
from boltzkit.interpret.potts_couplings import potts_rbm_couplings
from boltzkit.io import trajectory
from boltzkit.io.rbms_archive import load_rbms
from boltzkit.models.pairwise import PottsModel
from boltzkit.synthetic.hamiltonians import PottsHamiltonian
from boltzkit.synthetic.io import write_dataset

pytestmark = pytest.mark.usefixtures("single_thread")

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "rbms"


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    register(app)
    return app


def invoke(*args: str):
    result = CliRunner().invoke(cli(), ["couplings", *map(str, args)])
    return result


def test_rbms_potts_archive_exact_and_gaussian(tmp_path):
    archive = FIXTURES / "pbrbm.h5"
    exact_out = tmp_path / "exact.h5"
    result = invoke(archive, "--method", "exact", "--order", "3", "--json", "--out", exact_out)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"] == "rbms archive" and report["orders"] == [1, 2, 3] and report["n_states"] == 3
    # the file holds exactly what the Python API gives for the imported model
    found = read_potts_couplings(exact_out)
    expected = potts_rbm_couplings(load_rbms(archive), "exact", 3)
    torch.testing.assert_close(found.couplings, expected.couplings, atol=1e-12, rtol=0)
    torch.testing.assert_close(found.terms[3].values, expected.terms[3].values, atol=1e-12, rtol=0)
    with h5py.File(exact_out) as f:
        assert f.attrs["convention"] == "potts" and f.attrs["n_states"] == 3
        assert f["truth/couplings"].shape == (6, 6, 3, 3) and f["truth/order_2/values"].shape == (15, 3, 3)
    # the interaction-network figure (issue 14, another part) may come beside the heat map
    assert [Path(p).name for p in report["figures"] if "_network" not in p] == ["exact_heatmap.png"]
    # gaussian against the exact couplings file: epsilon per order, figures per order
    result = invoke(archive, "--method", "gaussian", "--order", "3", "--truth", exact_out, "--json",
                    "--out", tmp_path / "clt.h5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["epsilon"]) == {"1", "2", "3"}
    # N = 6 is far from the central-limit regime, yet the trained model's couplings are close. Measured
    # (deterministic: no sampling): epsilon 0.0388 (fields), 0.0291 (pairs), 0.0913 (triplets); bounds at
    # 1.5x leave room for rounding / quadrature changes only. Plausible bugs land far above: the q x q pair
    # blocks transposed give 0.277, a reference-state gauge instead of zero-sum 2.20, the triplet blocks
    # with two state axes swapped 0.334.
    assert 0 < report["epsilon"]["1"] < 0.06
    assert 0 < report["epsilon"]["2"] < 0.045
    assert 0 < report["epsilon"]["3"] < 0.14
    assert report["truth"]["scaling"] == "effective couplings, as stored"
    names = sorted(Path(p).name for p in report["figures"] if "_network" not in p)
    assert names == ["clt_heatmap.png", "clt_scatter_fields.png", "clt_scatter_order2.png",
                     "clt_scatter_order3.png"]
    assert all(Path(p).stat().st_size > 1000 for p in report["figures"])


def test_potts_truth_in_another_gauge_is_recovered_exactly(tmp_path):
    """A potts-bm run whose parameters are beta * (generating Hamiltonian) in a shifted gauge: the
    zero-sum comparison with the data file's truth gives epsilon 0 at every order."""
    gen = torch.Generator().manual_seed(0)
    n, q, beta = 5, 3, 0.5
    edges = torch.tensor([[0, 1], [2, 1], [3, 4]])                        # (2, 1): stored j > i
    hamiltonian = PottsHamiltonian(torch.randn(n, q, generator=gen, dtype=torch.float64), edges,
                                   torch.randn(3, q, q, generator=gen, dtype=torch.float64))
    samples = torch.randint(0, q, (10, n), generator=gen).to(torch.int8)
    data = write_dataset(tmp_path / "potts.h5", samples, hamiltonian, beta, "potts-test", {})
    truth = read_truth(data)
    # a gauge change: J_ij(a, b) += u_ij(a), with the field of i compensating exactly
    couplings = truth.pair_matrix().clone()
    shift = torch.randn(n, n, q, 1, generator=gen, dtype=torch.float64)
    shift = shift * (couplings.abs().sum((2, 3), keepdim=True) > 0)        # on the edges only
    couplings = couplings + shift + shift.permute(1, 0, 3, 2)
    fields = truth.fields - shift[..., 0].sum(1) + 0.3                    # + a constant per site
    model = PottsModel(fields.float(), couplings.float())
    run = tmp_path / "run.h5"
    trajectory.create(run, {"model": model.config(), "training": {}})
    trajectory.append(run, 1, model.parameters(), 0.0, 0.1, checkpoint=True)
    result = invoke(run, "--truth", data, "--order", "3", "--json", "--no-plots", "--out", tmp_path / "c.h5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "beta-scaled" in report["truth"]["scaling"]
    assert report["epsilon"]["1"] < 1e-6 and report["epsilon"]["2"] < 1e-6    # float32 parameters
    assert report["rmse"]["3"] == 0.0 and report["epsilon"]["3"] is None      # no true triplets
    # table output
    result = invoke(run, "--truth", data, "--no-plots", "--out", tmp_path / "d.h5")
    assert result.exit_code == 0 and "zero-sum" in result.stdout


def test_potts_rbm_run_sampling_and_errors(tmp_path):
    rbm = load_rbms(FIXTURES / "pbrbm.h5")
    run = tmp_path / "run.h5"
    trajectory.create(run, {"model": rbm.config(), "training": {}})
    trajectory.append(run, 3, rbm.parameters(), 0.0, 0.1, checkpoint=True)
    exact = tmp_path / "exact.h5"
    assert invoke(run, "--no-plots", "--out", exact).exit_code == 0
    result = invoke(run, "--method", "sampling", "--samples", "40000", "--truth", exact, "--json", "--no-plots",
                    "--out", tmp_path / "s.h5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # Monte Carlo: a relative error of a few 1e-2 with 4e4 samples (standard errors reported)
    assert report["epsilon"]["2"] < 0.15 and report["standard_error"]["2"] > 0
    result = invoke(run, "--method", "mixture", "--order", "3", "--truth", exact, "--json", "--no-plots",
                    "--out", tmp_path / "m.h5")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "mixture" and "3" in json.loads(result.stdout)["epsilon"]
    for args, message in [(["--method", "cossu"], "cossu"), (["--method", "sampling", "--order", "3"], "order 2"),
                          (["--truth", str(FIXTURES.parent / "rbms" / "bbrbm.h5")], "")]:
        result = invoke(run, *args, "--no-plots", "--out", tmp_path / "e.h5")
        assert result.exit_code == 2 and message in result.output


def test_rbms_bernoulli_archive_and_potts_truth_mismatch(tmp_path):
    archive = FIXTURES / "bbrbm.h5"
    out = tmp_path / "b.h5"
    result = invoke(archive, "--order", "3", "--json", "--no-plots", "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["orders"] == [1, 2, 3]
    potts = tmp_path / "p.h5"
    assert invoke(FIXTURES / "pbrbm.h5", "--no-plots", "--out", potts).exit_code == 0
    result = invoke(archive, "--truth", potts, "--no-plots", "--out", tmp_path / "x.h5")
    assert result.exit_code == 2 and "Potts" in result.output
    # mixture applies to binary RBMs too (issue 14): on this archive it runs and reports its gap to exact
    result = invoke(archive, "--method", "mixture", "--json", "--no-plots", "--out", tmp_path / "x.h5")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "mixture" and "method_exact_gap" in json.loads(result.stdout)


def test_potts_comparison_normalizations(tmp_path):
    """Zero couplings against a truth at beta = 0.5: epsilon 1 relative to the beta-scaled truth, and
    0.5 with the unscaled truth as the denominator (the SciPost notebook's normalisation)."""
    from boltzkit.interpret.couplings_file import compare_potts_with_truth
    from boltzkit.interpret.energy_couplings import PottsCouplings

    gen = torch.Generator().manual_seed(2)
    hamiltonian = PottsHamiltonian(torch.zeros(4, 3, dtype=torch.float64), torch.tensor([[0, 1], [1, 3]]),
                                   torch.randn(2, 3, 3, generator=gen, dtype=torch.float64))
    data = write_dataset(tmp_path / "p.h5", torch.zeros(2, 4, dtype=torch.int8), hamiltonian, 0.5, "t", {})
    zero = PottsCouplings(torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 4, 3, 3, dtype=torch.float64))
    errors = compare_potts_with_truth(zero, read_truth(data))
    assert errors[2].epsilon == pytest.approx(1.0) and errors[2].n_terms == 6
    errors = compare_potts_with_truth(zero, read_truth(data), "reference", read_truth(data, scaled=False))
    assert errors[2].epsilon == pytest.approx(0.5)


def _rbms_archive(path: Path, model_type: str, w, b, c) -> Path:
    """An archive in rbms' layout (model_type + update_<k>/params), as tests/io/test_rbms_archive.py."""
    with h5py.File(path, "w") as f:
        f["model_type"] = model_type
        params = f.create_group("update_1").create_group("params")
        for name, value in (("weight_matrix", w), ("vbias", b), ("hbias", c)):
            params[name] = value.numpy()
    return path


def test_two_state_potts_models_take_the_potts_path(tmp_path):
    """q = 2 Potts models (a PBRBM archive, a potts-rbm run, a potts-bm run) give zero-sum Potts couplings,
    and those of the Potts RBM equal the Ising-gauge couplings of the equivalent binary RBM exactly:
    with n = [v = 1], W[i, v_i] = W[i, 0] + n_i (W[i, 1] - W[i, 0]), so the Bernoulli RBM with
    w = W[:, 1] - W[:, 0], b = vbias[:, 1] - vbias[:, 0], c = hbias + sum_i W[i, 0] has the same
    distribution; a zero-sum q = 2 coupling is J(a, b) = J sigma(a) sigma(b) with sigma(1) = +1,
    sigma(0) = -1, i.e. the Ising J_ij = J_ij(1, 1) and h_i = h_i(1)."""
    gen = torch.Generator().manual_seed(5)
    n, nh = 5, 3
    w = torch.randn(n, 2, nh, generator=gen, dtype=torch.float64)
    b = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    c = torch.randn(nh, generator=gen, dtype=torch.float64)
    potts_archive = _rbms_archive(tmp_path / "pb2.h5", "PBRBM", w, b, c)
    binary_archive = _rbms_archive(tmp_path / "bb.h5", "BBRBM", w[:, 1] - w[:, 0], b[:, 1] - b[:, 0],
                                   c + w[:, 0].sum(0))
    result = invoke(potts_archive, "--order", "3", "--json", "--no-plots", "--out", tmp_path / "p.h5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_states"] == 2 and report["gauge"] == "zero-sum" and report["orders"] == [1, 2, 3]
    result = invoke(binary_archive, "--order", "3", "--json", "--no-plots", "--out", tmp_path / "b.h5")
    assert result.exit_code == 0, result.output
    potts, ising = read_potts_couplings(tmp_path / "p.h5"), read_couplings(tmp_path / "b.h5")
    # float64 tensors, the same enumeration: agreement to rounding
    torch.testing.assert_close(potts.couplings[:, :, 1, 1], ising.pair_matrix(), atol=1e-10, rtol=0)
    torch.testing.assert_close(potts.fields[:, 1], ising.fields, atol=1e-10, rtol=0)
    assert float(ising.pair_matrix().abs().max()) > 0.05                  # not a trivial agreement
    # triplets: zero-sum J(a, b, c) = K sigma(a) sigma(b) sigma(c), K the Ising triplet
    torch.testing.assert_close(potts.terms[3].indices, ising.couplings[3].indices)
    torch.testing.assert_close(potts.terms[3].values[:, 1, 1, 1], ising.couplings[3].values, atol=1e-10, rtol=0)
    # the same q = 2 Potts RBM as a boltzkit run file
    rbm = load_rbms(potts_archive)
    run = tmp_path / "run.h5"
    trajectory.create(run, {"model": rbm.config(), "training": {}})
    trajectory.append(run, 1, rbm.parameters(), 0.0, 0.1, checkpoint=True)
    result = invoke(run, "--json", "--no-plots", "--out", tmp_path / "r.h5")
    assert result.exit_code == 0, result.output
    torch.testing.assert_close(read_potts_couplings(tmp_path / "r.h5").couplings, potts.couplings,
                               atol=1e-10, rtol=0)
    # a q = 2 pairwise Potts model: its own parameters, in the zero-sum gauge
    pairs = torch.randn(n, n, 2, 2, generator=gen) * (1 - torch.eye(n))[:, :, None, None]
    bm = PottsModel(torch.randn(n, 2, generator=gen), pairs + pairs.permute(1, 0, 3, 2))  # J_ji = J_ij^T
    bm_run = tmp_path / "bm.h5"
    trajectory.create(bm_run, {"model": bm.config(), "training": {}})
    trajectory.append(bm_run, 1, bm.parameters(), 0.0, 0.1, checkpoint=True)
    result = invoke(bm_run, "--json", "--no-plots", "--out", tmp_path / "m.h5")
    assert result.exit_code == 0, result.output
    torch.testing.assert_close(read_potts_couplings(tmp_path / "m.h5").couplings,
                               bm.zero_sum_gauge().couplings.double(), atol=1e-6, rtol=0)


def test_lattice_gas_gauge_is_refused_on_a_potts_model(tmp_path):
    result = invoke(FIXTURES / "pbrbm.h5", "--gauge", "lattice-gas", "--no-plots", "--out", tmp_path / "x.h5")
    assert result.exit_code == 2 and "zero-sum gauge only" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()
    # the default (and an explicit ising, the q = 2 form of zero-sum) still work
    assert invoke(FIXTURES / "pbrbm.h5", "--gauge", "ising", "--no-plots", "--out", tmp_path / "y.h5").exit_code == 0
