"""`boltzkit generate ...` (the typer sub-app, mounted by the main CLI as `generate`)."""

import h5py
from typer.testing import CliRunner

from boltzkit.cli.generate import app
from boltzkit.synthetic.io import ground_truth

runner = CliRunner()


def test_generate_ising2d_writes_samples_and_reports(tmp_path):
    out = tmp_path / "ising.h5"
    result = runner.invoke(app, ["ising2d", "--size", "4", "--n-samples", "200", "--beta", "0.3", "--seed", "1",
                                 "--chains", "20", "--sweeps-thermalize", "20", "--sweeps-between", "2",
                                 "--open", "--algorithm", "heat-bath", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "acceptance rate" in result.output and "tau energy" in result.output
    with h5py.File(out, "r") as f:
        assert f["samples"].shape == (200, 16)
        assert f["truth/order_2/indices"].shape == (24, 2)  # open 4x4 lattice: 2 L (L - 1) bonds
    assert ground_truth(out).parameters["periodic"] is False


def test_generate_higher_order_and_potts(tmp_path):
    result = runner.invoke(app, ["higher-order", "--size", "12", "--n-samples", "40", "--beta", "0.5", "--gamma",
                                 "0.3", "--order", "4", "--n-terms", "5", "--chains", "10", "--sweeps-thermalize",
                                 "5", "--quiet", "--out", str(tmp_path / "ho.h5")])
    assert result.exit_code == 0, result.output
    truth = ground_truth(tmp_path / "ho.h5", scaled=False)
    assert truth.couplings[4][0].shape == (5, 4)
    result = runner.invoke(app, ["potts", "--size", "6", "--q", "4", "--n-samples", "20", "--beta", "0.5",
                                 "--chains", "10", "--sweeps-thermalize", "5", "--quiet",
                                 "--out", str(tmp_path / "p.h5")])
    assert result.exit_code == 0, result.output


def test_user_errors_are_one_line_with_exit_code_2(tmp_path):
    for args in (["ising1d", "--beta", "-1"], ["ising1d", "--beta", "1", "--algorithm", "gibbs"],
                 ["potts", "--beta", "1", "--q", "1"], ["ea2d", "--beta", "1", "--size", "2"],
                 ["ising-kbody", "--beta", "1", "--size", "5", "--order", "3", "--n-terms", "11"]):
        result = runner.invoke(app, args + ["--n-samples", "10", "--sweeps-thermalize", "1", "--quiet",
                                            "--out", str(tmp_path / "x.h5")])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert not (tmp_path / "x.h5").exists()
