"""Progress that needs the changes of /tmp/trim/progress14_apply.py: ``boltzkit landscape`` draws a
bar of the TAP iterations on stderr (points finished), off with ``--quiet`` and ``--json`` (whose
output stays valid JSON), one-line argument errors; the effective couplings of a Potts RBM (what
``contacts`` waits for) report progress within the pairs, not only after them."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.interpret.potts_couplings import potts_rbm_couplings
from boltzkit.models.potts_rbm import PottsRBM

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("single_thread")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_landscape_bar_json_quiet_and_one_line_errors(tiny_run, tmp_path):
    data = tiny_run.parent / "x.npy"
    shown = invoke("landscape", tiny_run, data, "--out", tmp_path / "a.h5")
    assert shown.exit_code == 0, shown.output
    assert "TAP fixed points" in shown.stderr and "60/60" in shown.stderr
    quiet = invoke("landscape", tiny_run, data, "--out", tmp_path / "q.h5", "--quiet")
    assert quiet.exit_code == 0 and "60/60" not in quiet.stderr
    as_json = invoke("landscape", tiny_run, data, "--out", tmp_path / "j.h5", "--json")
    assert json.loads(as_json.output)["n_points"] == 60  # stdout and stderr together
    bad = invoke("landscape", tiny_run, data, "--out", tmp_path / "b.h5", "--tol", "0")
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert not (tmp_path / "b.h5").exists()


@pytest.mark.parametrize("method", ["gaussian", "mixture"])
def test_potts_rbm_couplings_progress_within_the_pairs(method):
    # q = 21 and 20 hidden units: the Gaussian pass takes about 11 pairs per chunk (CHUNK_ELEMENTS)
    g = torch.Generator().manual_seed(0)
    rbm = PottsRBM(torch.randn(20, 21, 20, generator=g), torch.zeros(20, 21), torch.zeros(20))
    calls = []
    found = potts_rbm_couplings(rbm, method, progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert calls[-1] == (20 + 190, 20 + 190) and all(b > a for a, b in zip(done, done[1:]))
    # after every chunk of the pairs (about 18 of them), not only after the fields and the pairs
    assert 10 < len(calls) <= 201
    assert torch.equal(found.couplings, potts_rbm_couplings(rbm, method).couplings)
