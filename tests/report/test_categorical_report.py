"""The HTML report of categorical (Potts) runs: a small PF00014 Potts RBM and a plm Potts model.

Checks the sections (logos, C_ij scatter, contact map; no binary-only section), that the page is
self-contained (no script, no external resource) and consistent with ``boltzkit contacts``, and
that headless Chromium renders it with a clean console (when /usr/bin/chromium exists).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data.msa import read_msa, write_fasta
from boltzkit.evaluation.contacts import run_contacts
from boltzkit.report.html import ReportOptions, write_report
from boltzkit.training.config import TrainingConfig
from boltzkit.data.specs import MSASpec
from boltzkit.training.run import train_run

MSA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "msa" / "PF00014"
STRUCT = MSA_DIR / "PF00014_struct.dat.gz"
OPTIONS = dict(curve_points=2, n_samples=100, gibbs_steps=10, landscape=False, tree=False, ais_chains=20, ais_steps=20, ais_runs=2,
               couplings=False, struct=str(STRUCT))

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, single_thread_module):
    """300 PF00014 sequences (fixed seed); a Potts RBM (4 hidden units, 8 PCD updates) and a
    potts-bm fitted by 15 L-BFGS iterations of pseudo-likelihood."""
    if not STRUCT.exists():
        pytest.skip(f"{MSA_DIR} not available (../shared is not beside the repository)")
    folder = tmp_path_factory.mktemp("cat_report")
    msa = read_msa(MSA_DIR / "PF00014_mgap6.fasta.gz")
    rows = np.sort(np.random.default_rng(0).choice(msa.n_sequences, 300, replace=False))
    sub = msa.select(rows)
    write_fasta(folder / "pf14.fasta", sub.sequences, sub.alphabet, sub.headers)
    spec = MSASpec(str(folder / "pf14.fasta"), test_fraction=0.2)
    config = TrainingConfig(method="pcd", n_updates=8, batch_size=100, n_chains=50, gibbs_steps=2,
                            learning_rate=0.05, n_checkpoints=3)
    train_run(spec, folder / "rbm.h5", "potts-rbm", 4, config)
    train_run(MSASpec(str(folder / "pf14.fasta")), folder / "plm.h5", "potts-bm", 0,
                    TrainingConfig(method="plm", n_updates=15, n_checkpoints=1))
    write_report(folder / "rbm.h5", folder / "rbm.html", ReportOptions(**OPTIONS))
    return folder


def sections(page: str) -> list[str]:
    return re.findall(r"<h2>([^<]*)</h2>", page)


def assert_self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # only data URIs and anchors
    assert "http://" not in page and "https://" not in page


def test_potts_rbm_report_sections(runs):
    page = (runs / "rbm.html").read_text()
    assert sections(page) == ["Summary", "Training curve", "Sequences", "Correlations C_ij",
                              "Contact map"]
    assert_self_contained(page)
    assert "−" in page or "-" in page  # the sequences are shown as text
    assert "(exact)" in page  # 2^4 hidden configurations: exact log Z
    # the contact table agrees with `boltzkit contacts` (same couplings, same conventions)
    expected = run_contacts(runs / "rbm.h5", STRUCT, min_separation=5)["precision"]
    table = page[page.index("<h2>Contact map</h2>"):]
    for top, value in expected.items():
        assert re.search(rf"<td>{re.escape(top)}</td><td>\d+</td><td>{value:.4f}</td>", table)
    # the sequences shown are the run's first training rows, decoded
    first = "".join("-ACDEFGHIKLMNPQRSTVWY"[c] for c in read_msa(runs / "pf14.fasta")
                    .sequences[np.sort(np.random.default_rng(0).permutation(300)[60:])[0]])
    assert first in page


def test_plm_report_with_ais_log_z_and_cli_struct_option(runs):
    runner = CliRunner()
    out = runs / "plm.html"
    result = runner.invoke(app, ["report", str(runs / "plm.h5"), "-o", str(out), "--curve-points",
                                 "1", "--samples", "50", "--gibbs-steps", "3", "--no-landscape",
                                 "--no-tree", "--no-couplings", "--struct", str(STRUCT),
                                 "--ais-chains", "20", "--ais-steps", "20", "--ais-runs", "2"])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert sections(page) == ["Summary", "Training curve", "Sequences", "Correlations C_ij",
                              "Contact map"]
    assert "log Z by AIS" in page  # 21**53 states: AIS along the temperature path of the couplings
    assert_self_contained(page)
    # without --struct: no contact map, and a note says how to get one
    write_report(runs / "plm.h5", out, ReportOptions(**{**OPTIONS, "struct": None,
                                                        "curve_points": 1}))
    page = out.read_text()
    assert "Contact map" not in sections(page) and "--struct FILE" in page
    bad = runner.invoke(app, ["report", str(runs / "plm.h5"), "-o", str(runs / "x.html"),
                              "--struct", str(runs / "missing.dat")])
    assert bad.exit_code == 2 and "missing.dat: file not found" in bad.output
    assert not (runs / "x.html").exists()


def test_report_struct_without_eligible_pairs_is_a_one_line_error(runs):
    only = runs / "only_struct.dat"
    only.write_text("1 2 0 3.0\n")
    result = CliRunner().invoke(app, ["report", str(runs / "plm.h5"), "-o", str(runs / "y.html"),
                                      "--curve-points", "1", "--samples", "50", "--gibbs-steps",
                                      "3", "--no-landscape", "--no-tree", "--no-couplings",
                                      "--struct", str(only), "--min-separation", "5"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(only) in lines[0], lines
    assert not (runs / "y.html").exists()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_chromium_renders_the_categorical_report(runs, tmp_path):
    from test_report_chromium import chromium, console_errors  # tests/report is on sys.path

    result = chromium(runs / "rbm.html", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_errors(result.stderr) == []
    dom = result.stdout
    for title in ("Sequences", "Correlations C_ij", "Contact map"):
        assert f"<h2>{title}</h2>" in dom
    assert dom.count("<img ") >= 4  # curve, logos, C_ij scatter, contact map
