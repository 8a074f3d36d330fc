"""Hostile flags: every one is refused at the API door in one line naming the flag as typed,
exit 2, no traceback, nothing written (issue "Nothing lost, every bad input a clear error")."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flags")
    np.save(folder / "x.npy", (np.random.default_rng(0).random((60, 8)) < 0.5).astype(np.uint8))
    result = runner.invoke(app, ["train", str(folder / "x.npy"), "-o", str(folder / "r.h5"), "--hidden", "3",
                                 "--updates", "4", "--batch-size", "20", "--chains", "20",
                                 "--gibbs-steps", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return folder


TRAIN = ["train", "x.npy", "-o", "new.h5", "--quiet"]
CASES = [
    (TRAIN + ["--lr", "nan"], "--lr (learning_rate) must be finite"),
    (TRAIN + ["--lr", "inf"], "--lr (learning_rate) must be finite"),
    (TRAIN + ["--lr", "0"], "--lr (learning_rate) must be > 0"),
    (TRAIN + ["--updates", "-1"], "--updates (n_updates) must be >= 1"),
    (TRAIN + ["--hidden", "0"], "--hidden (n_hidden) must be >= 1"),
    (TRAIN + ["--hidden", "-5"], "--hidden (n_hidden) must be >= 1"),
    (TRAIN + ["--threads", "-1"], "--threads must be >= 1"),
    (TRAIN + ["--gibbs-steps", "0"], "--gibbs-steps must be >= 1"),
    (TRAIN + ["--save-every", "-5"], "--save-every must be >= 0"),
    (TRAIN + ["--l1", "nan"], "--l1 must be finite"),
    (TRAIN + ["--l2", "-1"], "--l2 must be >= 0"),
    (TRAIN + ["--test-fraction", "nan"], "--test-fraction must be finite"),
    (TRAIN + ["--test-fraction", "-0.1"], "--test-fraction must be >= 0"),
    (TRAIN + ["--test-fraction", "1"], "--test-fraction must be < 1"),
    (TRAIN + ["--batch-size", "0"], "--batch-size must be >= 1"),
    (TRAIN + ["--chains", "0"], "--chains (n_chains) must be >= 1"),
    (TRAIN + ["--checkpoints", "0"], "--checkpoints (n_checkpoints) must be >= 1"),
    (TRAIN + ["--method", "bogus"], "--method must be one of"),
    (TRAIN + ["--model", "ising-bm", "--method", "plm", "--lambda-j", "nan"], "--lambda-j must be finite"),
    (TRAIN + ["--model", "ising-bm", "--method", "plm", "--lambda-h", "-1"], "--lambda-h must be >= 0"),
    (TRAIN + ["--model", "ising-bm", "--target-pearson", "nan"], "--target-pearson must be finite"),
    (["sample", "r.h5", "-o", "s.npy", "--n", "-1"], "--n must be >= 1"),
    (["sample", "r.h5", "-o", "s.npy", "--gibbs-steps", "-1"], "--gibbs-steps must be >= 0"),
    (["evaluate", "r.h5", "--ais-chains", "0"], "--ais-chains must be >= 1"),
    (["evaluate", "r.h5", "--ais-steps", "0"], "--ais-steps must be >= 1"),
    (["evaluate", "r.h5", "--moment-samples", "0"], "--moment-samples must be >= 1"),
    (["evaluate", "r.h5", "--log-z", "guess"], "--log-z must be one of auto | exact | ais"),
    (["landscape", "r.h5", "x.npy", "-o", "l.h5", "--beta", "nan"], "--beta must be finite"),
    (["landscape", "r.h5", "x.npy", "-o", "l.h5", "--max-iter", "0"], "--max-iter must be >= 1"),
    (["tree", "r.h5", "x.npy", "-o", "t.nwk", "--eps", "0"], "--eps must be > 0"),
    (["couplings", "r.h5", "-o", "c.h5", "--quadrature", "0"], "--quadrature must be >= 1"),
    (["couplings", "r.h5", "-o", "c.h5", "--samples", "0"], "--samples must be >= 1"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_bad_flag_is_one_line_naming_it_and_writes_nothing(folder, monkeypatch, args, message):
    monkeypatch.chdir(folder)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"error: {lines[0][7:]}", result.output
    assert message in lines[0]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # nothing written
