"""The report of a hybrid run (±1 spins, a pairwise energy plus a neural one; exact log Z for
small N, no hidden layer): the same page as every family, the sections that need a layered energy
replaced by one-line notes that say why."""

from __future__ import annotations

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.evaluation.run_evaluation import evaluate_run

pytestmark = pytest.mark.usefixtures("single_thread")


def two_prototypes(n: int, seed: int) -> np.ndarray:
    """{0,1} rows: two prototypes over 12 units with 10% of the bits flipped."""
    rng = np.random.default_rng(seed)
    proto = rng.integers(0, 2, size=(2, 12))
    rows = proto[rng.integers(0, 2, size=n)]
    return np.where(rng.random(rows.shape) < 0.1, 1 - rows, rows).astype(np.uint8)


def test_hybrid_run_report(tmp_path):
    np.save(tmp_path / "data.npy", two_prototypes(200, seed=0))
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(tmp_path / "data.npy"), "-o", str(tmp_path / "run.h5"),
                                 "--model", "hybrid", "--method", "plm", "--nn-hidden", "4",
                                 "--updates", "20", "--checkpoints", "3", "--batch-size", "50",
                                 "--test-fraction", "0.2"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run.html"
    result = runner.invoke(app, ["report", str(tmp_path / "run.h5"), "-o", str(out),
                                 "--curve-points", "2", "--samples", "60", "--gibbs-steps", "5"])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert re.findall(r"<h2>([^<]*)</h2>", page) == ["Summary", "Training curve", "Samples",
                                                     "PCA projections", "Moments"]
    # the missing sections say why: the hybrid has no layered energy (weights, TAP equations)
    notes = re.search(r'<ul class="notes">(.*?)</ul>', page).group(1)
    for section in ("weights", "free-energy landscape", "TreeRBM hierarchy"):
        assert f"no {section} section: " in notes
    assert notes.count("the hybrid family has no LayeredEnergy capability") == 3
    # ±1 model values, a sweep over the sites per step (no hidden layer), exact log Z (2^12 states)
    assert "x in {-1,+1}" in page and "5 sweeps from uniformly random starts" in page
    assert "(exact)" in page
    evaluation = evaluate_run(tmp_path / "run.h5", moment_samples=10, moment_steps=1)
    assert f"{evaluation['log_z']:.4f} (exact)" in page
    for value in (evaluation["log_likelihood"]["test"],
                  evaluation["independent_site_log_likelihood"]["test"]):
        assert f"<td>{value:.4f}</td>" in page
