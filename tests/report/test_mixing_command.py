"""``boltzkit mixing`` on a two-cluster model: Gibbs chains stay in their cluster, parallel
tempering and trajectory tempering cross between clusters many times (the diagnostics the issue
names: tau_int, jumps, acceptance), and the figure is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()


@pytest.fixture(scope="module")
def clustered_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mixing")
    rng = np.random.default_rng(0)
    z = rng.random((1000, 1)) < 0.5  # two clusters of 30 bits: 95% / 5% ones
    np.save(folder / "x.npy", (rng.random((1000, 30)) < np.where(z, 0.95, 0.05)).astype(np.uint8))
    np.savetxt(folder / "labels.txt", z[:, 0].astype(int), fmt="%d")
    result = runner.invoke(app, ["train", str(folder / "x.npy"), "-o", str(folder / "r.h5"), "--hidden", "4",
                                 "--updates", "1500", "--batch-size", "100", "--chains", "100", "--lr", "0.05",
                                 "--labels", str(folder / "labels.txt"), "--checkpoints", "30", "--quiet",
                                 "--no-check"])
    assert result.exit_code == 0, result.output
    return folder / "r.h5"


def mixing(run: Path, sampler: str, *extra: str) -> dict:
    result = runner.invoke(app, ["mixing", str(run), "--sampler", sampler, "--steps", "1000", "--chains", "30",
                                 "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tempering_crosses_the_clusters_that_gibbs_does_not(clustered_run):
    gibbs = mixing(clustered_run, "gibbs", "--figure", str(clustered_run.with_name("mix.png")))
    assert set(gibbs) >= {"tau_int", "jumps", "acceptance", "sampler", "steps"}
    assert gibbs["acceptance"] is None and gibbs["jumps"]["clusters"] == 2  # the labels' two centres
    assert gibbs["jumps"]["per_chain"] < 0.5  # measured 0: the barrier is ~30 bits wide
    assert gibbs["tau_int"]["configuration"]["tau"] > 300  # a lower bound: no window fits
    assert clustered_run.with_name("mix.png").stat().st_size > 1000
    for sampler in ("pt", "ptt"):
        r = mixing(clustered_run, sampler)
        # measured with 2000 steps: 154 (pt) and 59 (ptt) jumps per chain, tau ~ 15 and ~ 45 steps
        assert r["jumps"]["per_chain"] > 10, r
        assert r["tau_int"]["configuration"]["tau"] < gibbs["tau_int"]["configuration"]["tau"] / 5
        assert r["replicas"] >= 2 and len(r["acceptance"]) == r["replicas"] - 1
        assert min(r["acceptance"]) > 0.1


def test_bad_sampler_and_output_are_one_line(clustered_run):
    for args, message in [(["--sampler", "hmc"], "--sampler must be one of gibbs | pt | ptt"),
                          (["--steps", "1"], "--steps"),
                          (["--figure", str(clustered_run)], "--figure")]:
        result = runner.invoke(app, ["mixing", str(clustered_run), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
