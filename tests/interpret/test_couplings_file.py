"""COUPLINGS.h5 round trip in the ground-truth layout, gauge handling of the reference, and the
``couplings`` command end to end on an RBM whose couplings are known exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import pytest
import torch
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_rbm_couplings import ring_lattice_gas  # noqa: E402

from boltzkit.cli.couplings import register  # noqa: E402
from boltzkit.errors import DataError  # noqa: E402
from boltzkit.interpret.couplings_file import (compare_with_truth, read_couplings, read_truth,  # noqa: E402
                                               truth_in_gauge, write_couplings)
from boltzkit.interpret.energy_couplings import energy_couplings  # noqa: E402
from boltzkit.interpret.rbm_couplings import rbm_couplings  # noqa: E402
from boltzkit.io import trajectory  # noqa: E402
from boltzkit.synthetic.hamiltonians import SpinHamiltonian  # noqa: E402
from boltzkit.synthetic.io import write_dataset  # noqa: E402


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # keep ``couplings`` a sub-command, as in ``boltzkit``
        pass

    register(app)
    return app


@pytest.fixture()
def lattice_gas_run(tmp_path):
    """A run file holding an RBM equal to a known lattice gas, and that lattice gas as a data file
    (beta = 0.5, unscaled couplings 2 K, so the beta-scaled truth is K)."""
    rbm, truth = ring_lattice_gas(10, seed=2)
    run = tmp_path / "run.h5"
    trajectory.create(run, {"model": rbm.config(), "training": {}})
    trajectory.append(run, 7, rbm.parameters(), 0.0, 0.1, checkpoint=True)
    unscaled = truth.scaled(2.0)
    samples = (torch.rand(20, 10, generator=torch.Generator().manual_seed(0)) < 0.5).to(torch.int8)
    data = write_dataset(tmp_path / "data.h5", samples, unscaled, 0.5, "lattice-gas-test", {})
    return run, data, rbm, truth


def test_round_trip_in_the_ground_truth_layout(tmp_path):
    h = SpinHamiltonian(torch.randn(6, dtype=torch.float64), {}, "ising")
    found = energy_couplings(h.energy, 6, orders=(2, 3), method="sampling", n_samples=2000)
    path = write_couplings(tmp_path / "c.h5", found, {"run": "x"})
    with h5py.File(path) as f:
        assert {"fields", "couplings", "order_2", "order_3"} <= set(f["truth"])
        assert f["truth/couplings"].shape == (6, 6) and f.attrs["beta"] == 1.0
    back = read_couplings(path)
    torch.testing.assert_close(back.pair_matrix(), found.pair_matrix())
    torch.testing.assert_close(back.standard_errors[3], found.standard_errors[3])
    assert back.gauge == "ising" and back.method == "sampling"
    truth = read_truth(path)
    assert truth.beta == 1.0 and set(truth.couplings) == {2, 3}
    with pytest.raises(DataError):
        read_truth(tmp_path / "missing.h5")


def test_reference_is_compared_in_the_gauge_of_the_couplings(lattice_gas_run):
    _, data, rbm, truth = lattice_gas_run
    reference = read_truth(data)
    torch.testing.assert_close(reference.hamiltonian().pair_matrix(), truth.pair_matrix())  # beta-scaled
    ising = truth_in_gauge(reference, "ising")
    torch.testing.assert_close(ising.hamiltonian().pair_matrix(), truth.pair_matrix() / 4)
    for gauge in ("ising", "lattice-gas"):
        errors = compare_with_truth(rbm_couplings(rbm, 3, "exact", gauge), reference)
        assert errors[2].epsilon < 1e-12 and errors[1].rmse < 1e-12 and errors[3].rmse < 1e-12


def test_couplings_command_end_to_end(lattice_gas_run, tmp_path):
    run, data, _, _ = lattice_gas_run
    out = tmp_path / "COUPLINGS.h5"
    result = CliRunner().invoke(cli(), ["couplings", str(run), "--order", "3", "--method", "exact",
                                        "--truth", str(data), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["epsilon"]["2"] < 1e-12 and report["rmse"]["3"] < 1e-12
    assert "beta-scaled" in report["truth"]["scaling"]
    assert all(Path(p).exists() for p in report["figures"]) and len(report["figures"]) == 5  # + the network figure
    # the couplings file serves as the reference of another run (here the same one, lattice-gas gauge)
    out2 = tmp_path / "LG.h5"
    result = CliRunner().invoke(cli(), ["couplings", str(run), "--gauge", "lattice-gas", "--truth", str(out),
                                        "--json", "--no-plots", "--out", str(out2)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["epsilon"]["2"] < 1e-12
    # table output, gaussian method
    result = CliRunner().invoke(cli(), ["couplings", str(run), "--method", "gaussian", "--truth", str(data),
                                        "--no-plots", "--out", str(tmp_path / "g.h5")])
    assert result.exit_code == 0 and "epsilon" in result.stdout and "beta-scaled" in result.stdout


def test_couplings_command_user_errors(lattice_gas_run, tmp_path):
    run, _, _, _ = lattice_gas_run
    for args, message in [(["--method", "magic"], "--method"), (["--order", "5"], "--order"),
                          (["--truth", str(tmp_path / "none.h5")], "no such file")]:
        result = CliRunner().invoke(cli(), ["couplings", str(run), "--out", str(tmp_path / "c.h5"), *args])
        assert result.exit_code == 2 and message in result.output
