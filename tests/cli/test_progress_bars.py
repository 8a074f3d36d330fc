"""Progress of the long commands (``msa-info``, ``contacts``, ``report``): the API's
``progress(done, total)`` callbacks count real work and end at the total; the bars go to stderr,
never into ``--json`` output, are off with ``--quiet``, and an argument error is still one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data.msa_summary import msa_summary
from boltzkit.data.reweighting import sequence_weights
from boltzkit.evaluation.contacts import run_contact_scores
from boltzkit.interpret.tap import tap_fixed_points
from boltzkit.io import trajectory
from boltzkit.models.potts_rbm import PottsRBM

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("single_thread")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def recorder() -> tuple[list[tuple[int, int]], callable]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def assert_progress(calls: list[tuple[int, int]], max_calls: int = 202) -> None:
    """Strictly increasing ``done`` with one ``total``, ending at the total, at most every 0.5 %
    of the work (so at most 200 calls after the first, plus the last)."""
    assert calls, "progress was never called"
    totals = {total for _, total in calls}
    assert len(totals) == 1 and calls[-1][0] == calls[-1][1] > 0, calls[-3:]
    done = [d for d, _ in calls]
    assert all(b > a for a, b in zip(done, done[1:])), done
    assert len(calls) <= max_calls


# ------------------------------------------------------------------------------- the API
def test_sequence_weights_progress_counts_the_identity_blocks():
    codes = torch.randint(0, 4, (300, 12), generator=torch.Generator().manual_seed(0))
    calls, progress = recorder()
    weights = sequence_weights(codes, 0.8, chunk_size=16, progress=progress)
    assert_progress(calls)
    assert calls[0][0] == 0
    # 19 blocks of 16 distinct rows at most: the upper-triangle blocks cover the M_u (M_u + 16) / 2
    # entries or so; the total is the exact number of entries computed (at least M_u (M_u + 1) / 2)
    n_unique = len(np.unique(codes.numpy(), axis=0))
    assert n_unique * (n_unique + 1) // 2 <= calls[-1][1] <= n_unique * (n_unique + 16) // 2
    # 171 blocks but at most every 0.5 % of the work: throttled, yet more than a handful of calls
    assert 20 < len(calls) <= 202
    np.testing.assert_array_equal(weights, sequence_weights(codes, 0.8, chunk_size=16))


def test_msa_summary_progress_after_the_checks(tmp_path):
    path = tmp_path / "a.fasta"
    path.write_text(">a\nAAAAA\n>b\nAAAAC\n>c\nAAAAA\n>d\nCCCXC\n")
    calls, progress = recorder()
    assert msa_summary(path, progress=progress)["m_eff"] == pytest.approx(2.0)
    assert_progress(calls)
    calls.clear()
    with pytest.raises(Exception, match="--threshold"):
        msa_summary(path, threshold=1.5, progress=progress)
    assert calls == []


def test_tap_fixed_points_progress_counts_finished_points(make_rbm):
    rbm = make_rbm(12, 5, scale=1.0).to(dtype=torch.float64)
    x = (torch.rand(90, 12, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    plain = tap_fixed_points(rbm, x, tol=1e-8, max_iter=300, batch_size=40)
    calls, progress = recorder()
    result = tap_fixed_points(rbm, x, tol=1e-8, max_iter=300, batch_size=40, progress=progress)
    assert_progress(calls)
    assert calls[0] == (0, 90) and calls[-1] == (90, 90)
    torch.testing.assert_close(result.visible, plain.visible, rtol=0, atol=0)
    # a max_iter too small to converge: the points count by the fraction of max_iter swept
    calls.clear()
    short = tap_fixed_points(rbm, x, tol=1e-14, max_iter=7, progress=progress, auto_damping=False)
    assert not bool(short.converged.all())
    assert_progress(calls)
    assert calls[-1] == (90, 90)


def potts_rbm_run(path):
    rbm = PottsRBM(torch.randn(10, 3, 4, generator=torch.Generator().manual_seed(0)),
                   torch.zeros(10, 3), torch.zeros(4))
    trajectory.create(path, {"model": rbm.config()})
    trajectory.append(path, 3, rbm.parameters(), 0.0, 0.0, checkpoint=True)
    return path


def struct_file(path, length=10):
    rows = [f"{i} {j} 0.0 {4.0 if j - i in (5, 6) else 20.0}"
            for i in range(1, length + 1) for j in range(i + 1, length + 1)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_contacts_progress_follows_the_rbm_couplings(tmp_path):
    run, struct = potts_rbm_run(tmp_path / "rbm.h5"), struct_file(tmp_path / "s.dat")
    calls, progress = recorder()
    found = run_contact_scores(run, struct, progress=progress)
    assert_progress(calls)
    assert found.summary["precision"] == run_contact_scores(run, struct).summary["precision"]
    # a structure file too short for the model: refused before any couplings are computed
    calls.clear()
    with pytest.raises(Exception, match="exceeds length=10"):
        run_contact_scores(run, struct_file(tmp_path / "long.dat", length=12), progress=progress)
    assert calls == []


# ------------------------------------------------------------------------------- the commands
def test_msa_info_bar_on_stderr_json_clean_quiet_and_one_line_errors(tmp_path):
    path = tmp_path / "a.fasta"
    path.write_text(">a\nAAAAA\n>b\nAAAAC\n>c\nAAAAA\n")
    shown = invoke("msa-info", path)
    assert shown.exit_code == 0 and "sequence weights" in shown.stderr and "100/100" in shown.stderr
    assert "sequence weights" not in invoke("msa-info", path, "--quiet").stderr
    as_json = invoke("msa-info", path, "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.output)["n_sequences"] == 3  # stdout + stderr
    bad = invoke("msa-info", path, "--threshold", "2")
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1


def test_contacts_bar_json_and_one_line_errors(tmp_path):
    run, struct = potts_rbm_run(tmp_path / "rbm.h5"), struct_file(tmp_path / "s.dat")
    shown = invoke("contacts", run, "--struct", struct, "--out", tmp_path / "m.png")
    assert shown.exit_code == 0 and "couplings" in shown.stderr and "100/100" in shown.stderr
    quiet = invoke("contacts", run, "--struct", struct, "--out", tmp_path / "m.png", "--quiet")
    assert "100/100" not in quiet.stderr
    as_json = invoke("contacts", run, "--struct", struct, "--out", tmp_path / "m.png", "--json")
    assert set(json.loads(as_json.output)["precision"]) == {"L/5", "L/2", "L", "2L"}
    bad = invoke("contacts", run, "--struct", struct_file(tmp_path / "long.dat", 12), "--out", tmp_path / "m.png")
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output


def test_report_bar_quiet_and_one_line_errors(tiny_run, tmp_path):
    small = ["--no-landscape", "--no-tree", "--no-couplings", "--curve-points", "2", "--ais-chains", "10",
             "--ais-steps", "10", "--samples", "20", "--gibbs-steps", "5"]
    shown = invoke("report", tiny_run, "--out", tmp_path / "r.html", *small)
    assert shown.exit_code == 0, shown.output
    assert "report" in shown.stderr and "100/100" in shown.stderr
    quiet = invoke("report", tiny_run, "--out", tmp_path / "q.html", "--quiet", *small)
    assert quiet.exit_code == 0 and "100/100" not in quiet.stderr
    bad = invoke("report", tiny_run, "--out", tmp_path / "b.html", "--struct", tmp_path / "none.dat", *small)
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert not (tmp_path / "b.html").exists()
