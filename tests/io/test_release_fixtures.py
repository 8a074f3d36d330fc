"""Run files written by boltzkit 0.1.0, one per family (tests/fixtures/runs_v0_1, made by its
make_fixtures.sh), still load, sample and evaluate, and give the numbers that release printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import boltzkit
from boltzkit.cli.main import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs_v0_1"
runner = CliRunner()

# `boltzkit evaluate RUN --json` of release 0.1.0 on these files: the exact log Z and the mean
# log-likelihoods (train, test); None where log Z is not computable (q^L = 21^8 states, no AIS path)
RELEASED = {
    "bernoulli-rbm": (30, 19.260652946570207, -6.086338334420015, -6.369701611140061),
    "ising-rbm": (30, 14.224967049169244, -6.086585493492784, -6.372577397632303),
    "ising-bm": (30, 11.721666612223052, -5.016493268430495, -5.333595707014465),
    "potts-rbm": (30, 69.41315794264976, -10.849902977961735, -25.356374217595924),
    "potts-bm": (30, None, None, None),
    "potts-bm-plm": (23, None, None, None),
    "hybrid": (None, None, None, None),  # 0.1.0 could not evaluate a hybrid run
}
# ... and the moments' Pearson r (means, C_ij) and the independent-site test log-likelihood: the
# same samples from the same seed; the baseline is now fitted in float64 (0.1.0: float32 for
# binary RBMs), a difference of about 2e-8 relative
RELEASED_MOMENTS = {
    "bernoulli-rbm": (0.9829711603231942, 0.2638070040518715, -6.368703962368142),
    "ising-rbm": (0.9840793760030314, 0.23021300775495993, -6.368703831237923),
    "ising-bm": (0.9867392563685257, 0.8165536496832855, -6.3687038172905535),
    "potts-rbm": (0.966153385840319, 0.3839416988454971, -26.179823187292286),
    "potts-bm": (0.9745598823157374, 0.7138648219944772, -26.179823187292286),
    "potts-bm-plm": (0.928733388382606, 0.685172841145343, -26.179823187292286),
}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """A copy of the fixture folder, made the working directory: the runs store their data
    paths relative to it."""
    folder = tmp_path_factory.mktemp("release") / "runs"
    shutil.copytree(FIXTURES, folder)
    return folder


@pytest.mark.parametrize("run", sorted(RELEASED))
def test_release_run_loads_samples_and_evaluates(fixtures, monkeypatch, run):
    monkeypatch.chdir(fixtures)
    checkpoint, log_z, train, test = RELEASED[run]
    est = boltzkit.load(f"{run}.h5")
    assert est.kind_ == run.replace("-plm", "")
    categorical = est.model_.visible.categorical
    out = f"{run}.samples." + ("fasta" if categorical else "npy")
    result = runner.invoke(app, ["sample", f"{run}.h5", "--out", out, "--n", "20",
                                 "--gibbs-steps", "5"])
    assert result.exit_code == 0, result.output
    if categorical:
        assert Path(out).read_text().count(">") == 20
    else:
        assert np.load(out).shape == (20, 12)
    result = runner.invoke(app, ["evaluate", f"{run}.h5", "--json", "--ais-chains", "20",
                                 "--ais-steps", "20", "--ais-runs", "2", "--moment-samples", "40",
                                 "--moment-steps", "3"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    if checkpoint is not None:
        assert got["checkpoint"] == checkpoint
    if log_z is None and checkpoint is not None:  # too many to enumerate: AIS (pairwise path)
        assert got["log_z_method"] == "ais" and np.isfinite(got["log_likelihood"]["test"])
    elif log_z is not None:
        # the same tensors through the same float64 enumeration: equal to round-off
        assert got["log_z"] == pytest.approx(log_z, rel=1e-12)
        assert got["log_likelihood"]["train"] == pytest.approx(train, rel=1e-9)
        assert got["log_likelihood"]["test"] == pytest.approx(test, rel=1e-9)
    else:  # the hybrid: 12 spins, exact log Z now
        assert got["log_z_method"] == "exact" and np.isfinite(got["log_likelihood"]["test"])
    if run in RELEASED_MOMENTS:
        means, correlations, baseline = RELEASED_MOMENTS[run]
        assert got["moments_pearson"] == {"means": means, "correlations": correlations}
        assert got["independent_site_log_likelihood"]["test"] == pytest.approx(baseline, rel=1e-7)
