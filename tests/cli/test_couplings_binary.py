"""``boltzkit couplings`` on binary RBMs: the Gaussian-mixture method, the gaussian-vs-exact gap printed
whenever N <= 24, cossu labelled as the approximation it is (issue 14), on the issue's trained case."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app as main_app

pytestmark = pytest.mark.usefixtures("single_thread")


def couplings(*args):
    return CliRunner().invoke(main_app, ["couplings", *map(str, args)])


@pytest.fixture(scope="module")
def trained_chain(tmp_path_factory):
    """The issue's case: an Ising RBM with 10 hidden units trained for 1000 updates on a 20-site 1D
    Ising chain at beta = 0.5. lr 0.05 (plain SGD, PCD-10, the defaults otherwise) gives localised
    weights whose gaussian pair couplings are 4.9e-2 from exact, as the issue reports (4.7e-2);
    about 5 s of training on one core, so the real case is trained rather than imitated."""
    folder = tmp_path_factory.mktemp("chain")
    data, run = folder / "chain.h5", folder / "run.h5"
    runner = CliRunner()
    result = runner.invoke(main_app, ["generate", "ising1d", "--size", "20", "--beta", "0.5", "--seed", "0",
                                      "--out", str(data)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main_app, ["train", str(data), "--model", "ising-rbm", "--hidden", "10", "--updates",
                                      "1000", "--lr", "0.05", "--seed", "0", "--quiet", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return data, run


def test_mixture_brings_the_trained_chain_under_1e2(trained_chain, tmp_path):
    """Gaussian 4.9e-2 (pairs) and 6.7e-2 (fields) from exact on this model; the mixture 2e-4 for both
    when measured. The issue's requirement is < 1e-2; the gaussian bound (> 2e-2) checks that the case
    still defeats the central limit, i.e. that the test tests something (both are deterministic given
    the seeds; training noise across torch versions moves them by a few tens of per cent at most)."""
    data, run = trained_chain
    result = couplings(run, "--method", "mixture", "--truth", data, "--json", "--no-plots", "--out",
                       tmp_path / "m.h5")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    print(report["gaussian_exact_gap"], report["method_exact_gap"])
    assert report["method"] == "mixture" and set(report["epsilon"]) == {"1", "2"}
    assert report["gaussian_exact_gap"]["2"] > 2e-2
    assert report["method_exact_gap"]["2"] < 1e-2 and report["method_exact_gap"]["1"] < 1e-2


def test_gap_line_and_cossu_caveat(trained_chain, tmp_path):
    data, run = trained_chain
    result = couplings(run, "--method", "gaussian", "--no-plots", "--out", tmp_path / "g.h5")
    assert result.exit_code == 0, result.output
    assert "gaussian vs exact (relative L2 gap" in result.output and "warning" not in result.output
    result = couplings(run, "--method", "cossu", "--no-plots", "--out", tmp_path / "c.h5")
    assert result.exit_code == 0, result.output
    assert "warning: cossu is an approximation" in " ".join(result.output.split())
    assert "cossu vs exact" in result.output
    report = json.loads(couplings(run, "--method", "cossu", "--json", "--no-plots", "--out",
                                  tmp_path / "c2.h5").stdout)
    assert "fields are biased" in report["approximation"]
    assert report["method_exact_gap"]["1"] > 0.5  # the field bias, measured 59 (relative) on this model
    # exact: only the gaussian gap; --no-exact-gap: none; the lattice-gas gauge: none (Möbius is exact)
    report = json.loads(couplings(run, "--json", "--no-plots", "--out", tmp_path / "e.h5").stdout)
    assert "gaussian_exact_gap" in report and "method_exact_gap" not in report and "approximation" not in report
    for extra in (["--no-exact-gap"], ["--gauge", "lattice-gas"]):
        report = json.loads(couplings(run, "--json", "--no-plots", *extra, "--out", tmp_path / "n.h5").stdout)
        assert "gaussian_exact_gap" not in report


def test_progress_bar_shows_only_after_a_delay(trained_chain, tmp_path, monkeypatch):
    """The bar opens once the work has taken BAR_DELAY_S (0 here: always), never with --json."""
    import boltzkit.cli.couplings as command

    _, run = trained_chain
    monkeypatch.setattr(command, "BAR_DELAY_S", 0.0)
    result = couplings(run, "--method", "mixture", "--no-plots", "--out", tmp_path / "p.h5")
    assert result.exit_code == 0 and "couplings" in result.output and "exact reference of the gap" in result.output
    result = couplings(run, "--method", "mixture", "--json", "--no-plots", "--out", tmp_path / "q.h5")
    assert "exact reference" not in result.stdout and json.loads(result.stdout)["method"] == "mixture"
