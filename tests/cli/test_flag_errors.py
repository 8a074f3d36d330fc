"""Hostile flags: every one is refused at the API door in one line naming the flag as typed,
exit 2, no traceback, nothing written (issue "Nothing lost, every bad input a clear error")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app

runner = CliRunner()


@pytest.fixture
def folder(tiny_run):
    """The folder of the shared tiny run: x.npy and r.h5."""
    return tiny_run.parent


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
    (TRAIN + ["--lr-schedule", "linear"], "--lr-schedule must be one of constant | geometric | cosine"),
    (TRAIN + ["--lr-schedule", "geometric", "--lr-final", "nan"], "--lr-final must be finite"),
    (TRAIN + ["--lr-schedule", "cosine", "--lr-final", "inf"], "--lr-final must be finite"),
    (TRAIN + ["--lr-schedule", "geometric", "--lr-final", "0"], "--lr-final must be > 0"),
    (TRAIN + ["--lr-schedule", "cosine", "--lr-final", "-0.001"], "--lr-final must be > 0"),
    (TRAIN + ["--lr-final", "0.001"], "--lr-final is where a decaying schedule ends"),
    (TRAIN + ["--lr-schedule", "constant", "--lr-final", "0.001"], "--lr-final is where a decaying"),
    (TRAIN + ["--lr-schedule", "geometric"], "--lr-schedule geometric needs --lr-final"),
    (TRAIN + ["--model", "ising-bm", "--method", "plm", "--lr-schedule", "cosine", "--lr-final", "0.001"],
     "--lr-schedule cosine: a schedule of the gradient steps"),
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


@pytest.mark.parametrize(("args", "message"), [
    (["--chains", "100000000"], "GiB available"),
    (["--hidden", "2000000"], "GiB available"),
    (["--hidden", "3", "--max-memory", "0.000001"], "allowed by --max-memory"),
    (["--max-memory", "nan"], "--max-memory must be finite"),
])
def test_a_run_that_cannot_fit_is_refused_before_allocating(folder, monkeypatch, args, message):
    """The estimate (training/memory.py) refuses in one line, quickly, and writes nothing."""
    monkeypatch.chdir(folder)
    before = sorted(p.name for p in folder.iterdir())
    result = runner.invoke(app, TRAIN + args)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and message in line
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("args", [["sample", "r.h5", "-o", "s.npy", "--n", "1000000000"],
                                  ["evaluate", "r.h5", "--ais-chains", "2000000000"]])
def test_chains_that_cannot_fit_are_refused_before_sampling(folder, monkeypatch, args):
    monkeypatch.chdir(folder)
    before = sorted(p.name for p in folder.iterdir())
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "GiB available" in result.output and "ask for fewer" in result.output
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_memory_estimate_scales_with_the_settings():
    from boltzkit.models.registry import family
    from boltzkit.training.config import TrainingConfig
    from boltzkit.training.memory import estimate_bytes

    rbm = family("bernoulli-rbm")
    base = estimate_bytes(rbm, 784, 2, {"n_hidden": 500}, TrainingConfig(n_chains=500, batch_size=500))
    # 5 x 393284 parameters + 6 x 500 x 1284 chain values + 4 x 500 x 1284 batch values, float32
    assert base == 4 * (5 * 393284 + 6 * 500 * 1284 + 4 * 500 * 1284)
    # a Potts model of L = 2000, q = 21 (the crash): couplings alone are 1.76e9 scalars
    potts = estimate_bytes(family("potts-bm"), 2000, 21, {}, TrainingConfig(n_chains=1000, batch_size=1000))
    assert potts > 30 * (1 << 30)


@pytest.mark.parametrize("args", [["sample", "r.h5", "-o", "s.npy"], ["evaluate", "r.h5"],
                                  ["couplings", "r.h5", "-o", "c.h5", "--method", "gaussian", "--order", "3"],
                                  ["landscape", "r.h5", "x.npy", "-o", "l.h5"],
                                  ["tree", "r.h5", "x.npy", "-o", "t.nwk"]])
def test_work_beyond_max_memory_is_refused_before_computing(folder, monkeypatch, args):
    """sample and evaluate (their chains), couplings, landscape and tree (interpret/run_interpretation.py)
    estimate what they allocate and refuse in one line, naming --max-memory, before any work."""
    monkeypatch.chdir(folder)
    before = sorted(p.name for p in folder.iterdir())
    result = runner.invoke(app, args + ["--max-memory", "0.000001"])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and "allowed by --max-memory" in line, line
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_interpretation_estimates_scale_with_the_model():
    import torch

    from boltzkit.interpret.run_interpretation import couplings_bytes, tap_bytes
    from boltzkit.models.potts_rbm import PottsRBM

    # a Potts RBM of L = 2000, q = 21: the dense pair couplings are (L q)^2 = 1.76e9 doubles, and
    # their C(L, 2) pair blocks of 2 indices and 3 x q^2 values: 59 GiB, refused on most machines
    big = PottsRBM(torch.zeros(2000, 21, 1), torch.zeros(2000, 21), torch.zeros(1))
    assert couplings_bytes(big, 2, "gaussian", 0) == 8 * (3 * (2000 * 21) ** 2 + 1999000 * (2 + 3 * 441))
    small = PottsRBM(torch.zeros(10, 3, 4), torch.zeros(10, 3), torch.zeros(4))
    # order 3 adds C(10, 3) = 120 index sets of 3 indices and 3 x 27 values each
    assert couplings_bytes(small, 3, "gaussian", 0) - couplings_bytes(small, 2, "gaussian", 0) == 8 * 120 * (3 + 81)
    assert tap_bytes(small, 100) == 8 * 12 * 100 * (30 + 4)


def test_trajectory_tempering_sizes_every_replica():
    """sample / mixing --sampler ptt and evaluate --log-z ptt hold a model and its chains per
    checkpoint: the estimate counts them all (a budget that fits one replica refuses two)."""
    import torch

    from boltzkit.errors import BoltzkitError
    from boltzkit.models.rbm import RBM
    from boltzkit.training.memory import GIB, chains_bytes, check_chains_memory

    model = RBM(torch.zeros(784, 20), torch.zeros(784), torch.zeros(20))
    one = chains_bytes(model, 1000) + 4 * (784 * 20 + 784 + 20)
    check_chains_memory(model, 1000, "--ais-chains", "cpu", 1.5 * one / GIB)
    with pytest.raises(BoltzkitError, match=r"^--ais-chains 1000: the chains of 2 replicas would need about"):
        check_chains_memory(model, 1000, "--ais-chains", "cpu", 1.5 * one / GIB, replicas=2)
