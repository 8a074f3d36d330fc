"""The report's "Couplings" section (report/coupling_figures.py): when the run's data file holds a
ground truth, heat map, scatter plots and epsilon per order; ``--no-couplings`` removes it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interpret"))
from test_rbm_couplings import ring_lattice_gas  # noqa: E402

from boltzkit.io import trajectory  # noqa: E402
from boltzkit.io.rbms_archive import load_rbms  # noqa: E402
from boltzkit.report.coupling_figures import comparison_series, couplings_section  # noqa: E402
from boltzkit.report.html import SECTION_BUILDERS, ReportContext, ReportOptions  # noqa: E402
from boltzkit.synthetic.hamiltonians import PottsHamiltonian  # noqa: E402
from boltzkit.synthetic.io import ground_truth, write_dataset  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_thread")

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "rbms"


def make_run(path, model, data_path):
    trajectory.create(path, {"model": model.config(), "training": {}, "data": {"path": str(data_path)}})
    trajectory.append(path, 5, model.parameters(), 0.0, 0.1, checkpoint=True)
    return path


def test_section_with_a_lattice_gas_truth(tmp_path):
    """An RBM equal to a known lattice gas: the section compares in the truth's gauge, epsilon 0."""
    rbm, truth = ring_lattice_gas(10, seed=2)
    samples = (torch.rand(20, 10, generator=torch.Generator().manual_seed(0)) < 0.5).to(torch.int8)
    data = write_dataset(tmp_path / "data.h5", samples, truth.scaled(2.0), 0.5, "lattice-gas-test", {})
    run = make_run(tmp_path / "run.h5", rbm, data)
    section = couplings_section(ReportContext(run, ReportOptions()))
    assert section.title == "Couplings"
    assert section.html.count("<img") == 4                    # heat map, network, fields and pairs scatter
    assert "lattice-gas gauge" in section.html and "method exact" in section.html
    # the table's epsilon for pairs is 0 (4 decimals)
    assert "<td>pairs</td><td>0.0000</td>" in section.html
    assert couplings_section(ReportContext(run, ReportOptions(couplings=False))) is None
    assert any(getattr(b, "__name__", "") == "_optional_couplings_section" for b in SECTION_BUILDERS)


def test_section_without_truth_and_for_a_potts_rbm(tmp_path):
    rbm = load_rbms(FIXTURES / "pbrbm.h5")
    run = make_run(tmp_path / "run.h5", rbm, tmp_path / "missing.h5")
    assert couplings_section(ReportContext(run, ReportOptions())) is None   # no truth, no section
    # with a Potts truth of the right size: zero-sum comparison, triplets by enumeration (3^6 states)
    gen = torch.Generator().manual_seed(1)
    h = PottsHamiltonian(torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.tensor([[0, 1], [1, 2]]),
                         torch.randn(2, 3, 3, generator=gen, dtype=torch.float64))
    data = write_dataset(tmp_path / "potts.h5", torch.zeros(4, 6, dtype=torch.int8), h, 1.0, "potts-test", {})
    run = make_run(tmp_path / "run2.h5", rbm, data)
    section = couplings_section(ReportContext(run, ReportOptions()))
    assert section.html.count("<img") == 5 and "zero-sum gauge" in section.html and "Frobenius" in section.html
    series = comparison_series(*_exact(rbm, data))
    assert [len(series[k][0]) for k in (1, 2, 3)] == [6 * 3, 15 * 9, 20 * 27]


def _exact(rbm, data):
    from boltzkit.interpret.potts_couplings import potts_rbm_couplings

    return potts_rbm_couplings(rbm, "exact", 3), ground_truth(data)
