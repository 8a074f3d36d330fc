"""Data-parallel training with torch.distributed (gloo, localhost): two processes train an RBM, a
bmDCA Potts model and a plmDCA model; resumed two-process runs are bit-identical to uninterrupted
ones, plm equals the one-process fit, a killed rank stops the other in one line.

Every test launches real processes (``python -m boltzkit train`` with the environment torchrun
gives its workers, or torchrun itself), one thread each, on tiny data: a few seconds per test.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit import distributed
from boltzkit.distributed import Ranks

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")

RBM = ["--hidden", "6", "--batch-size", "100", "--chains", "50", "--test-fraction", "0.2",
       "--quiet", "--no-check", "--threads", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], cwd: Path, world: int = 2) -> list[subprocess.Popen]:
    """``world`` processes of ``python -m boltzkit ARGS`` forming one gloo group on localhost."""
    port = free_port()
    processes = []
    for rank in range(world):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                   OMP_NUM_THREADS="1")
        processes.append(subprocess.Popen([sys.executable, "-m", "boltzkit", *map(str, args)], cwd=cwd,
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
    return processes


def launch(args: list[str], cwd: Path, world: int = 2) -> list[tuple[int, str]]:
    """(exit code, stdout + stderr) of each rank once all have finished (at most 2 minutes)."""
    out = []
    for p in start(args, cwd, world):
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout + stderr))
    return out


def ok(results: list[tuple[int, str]]) -> None:
    assert all(code == 0 for code, _ in results), results


def same(a: Path, b: Path) -> bool:
    first, second = trajectory.load_model(a), trajectory.load_model(b)
    return all(torch.equal(t, second.parameters()[name]) for name, t in first.parameters().items())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dist")
    rng = np.random.default_rng(0)
    z = rng.random((600, 1)) < 0.5  # two clusters of 20 bits
    np.save(path / "x.npy", (rng.random((600, 20)) < np.where(z, 0.8, 0.2)).astype(np.uint8))
    q = list("ACGT-")
    rows = [[q[int(c)] for c in rng.integers(0, 5, 8)] for _ in range(300)]
    for row in rows[:150]:  # a correlated pair of columns
        row[3] = row[2]
    (path / "a.fasta").write_text("".join(f">s{i}\n{''.join(r)}\n" for i, r in enumerate(rows)))
    return path


def test_two_process_rbm_run_resumed_is_bit_identical_and_refuses_another_world(folder):
    ok(launch(["train", "x.npy", "-o", "whole.h5", "--updates", "12", *RBM], folder))
    ok(launch(["train", "x.npy", "-o", "half.h5", "--updates", "6", *RBM], folder))
    ok(launch(["train", "x.npy", "-o", "half.h5", "--updates", "12", "--resume", *RBM], folder))
    assert same(folder / "whole.h5", folder / "half.h5")
    assert trajectory.read_config(folder / "whole.h5")["distributed"] == {"world_size": 2}
    # one process: the chains and generators of two cannot be continued exactly
    result = subprocess.run([sys.executable, "-m", "boltzkit", "train", "x.npy", "-o", "half.h5", "--resume",
                             "--updates", "60", "--quiet"], cwd=folder, capture_output=True, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "the run was trained by 2 processes; resume it with 2" in result.stderr


@pytest.mark.parametrize("sampler", ["ptt"])  # pt shares the code of the ladder and its state
def test_two_process_tempering_and_followed_log_z_resume_bit_identical(folder, sampler):
    """The tempering chains (their ladder grown from the exchange counts summed over the ranks)
    and the trajectory-AIS populations of both ranks are saved and restored exactly."""
    extra = ["--sampler", sampler, "--track-log-z", "100", "--checkpoints", "4"]
    ok(launch(["train", "x.npy", "-o", f"{sampler}_whole.h5", "--updates", "12", *RBM, *extra], folder))
    ok(launch(["train", "x.npy", "-o", f"{sampler}_half.h5", "--updates", "6", *RBM, *extra], folder))
    ok(launch(["train", "x.npy", "-o", f"{sampler}_half.h5", "--updates", "12", "--resume", *RBM, *extra],
              folder))
    assert same(folder / f"{sampler}_whole.h5", folder / f"{sampler}_half.h5")
    # (the 6-update run saved its own log-spaced checkpoints: compare the updates both saved)
    logz = [{int(i["update"]): i["log_z"] for i in trajectory.checkpoint_info(folder / f"{sampler}_{name}.h5")}
            for name in ("whole", "half")]
    common = sorted(set(logz[0]) & set(logz[1]))
    assert 12 in common and [logz[0][u] for u in common] == [logz[1][u] for u in common]
    state = trajectory.read_state(folder / f"{sampler}_whole.h5")
    assert state.track["chains"].shape[0] == 100 and state.tempering["chains"].shape[0] == 50


def test_two_processes_learn_what_one_process_learns(folder):
    ok(launch(["train", "x.npy", "-o", "two.h5", "--updates", "300", *RBM], folder))
    one = subprocess.run([sys.executable, "-m", "boltzkit", "train", "x.npy", "-o", "one.h5", "--updates",
                          "300", *RBM], cwd=folder, capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert one.returncode == 0, one.stderr
    scores = {}
    for name in ("one", "two"):
        model = trajectory.load_model(folder / f"{name}.h5").to(dtype=torch.float64)
        _, test = trajectory.run_datasets(folder / f"{name}.h5")
        x = model.visible.tensor(test.samples, torch.float64, "cpu")
        scores[name] = float((-model.free_energy(x)).mean()) - model.log_partition_exact()
    # the same updates from other chains: equal up to training noise (6 hidden units, exact log Z;
    # the clusters' structure gains 3.4 nats over independent sites, runs of different seeds of one
    # process differ by about 0.05)
    assert abs(scores["one"] - scores["two"]) < 0.15, scores


def test_two_process_plm_equals_the_one_process_fit(folder):
    args = ["train", "a.fasta", "--model", "potts-bm", "--method", "plm", "--dtype", "float64",
            "--quiet", "--no-check", "--threads", "1"]
    ok(launch([*args, "-o", "plm2.h5"], folder))
    one = subprocess.run([sys.executable, "-m", "boltzkit", *args, "-o", "plm1.h5"], cwd=folder,
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert one.returncode == 0, one.stderr
    a, b = trajectory.load_model(folder / "plm1.h5"), trajectory.load_model(folder / "plm2.h5")
    assert a.dtype == torch.float64
    for name, tensor in a.parameters().items():
        other = b.parameters()[name]
        # the objective and gradient are sums over sequences: only the order of the sum differs
        assert float((tensor - other).abs().max()) <= 1e-6 * float(tensor.abs().max()), name


def test_two_process_bmdca_resumed_is_bit_identical(folder):
    args = ["train", "a.fasta", "--model", "potts-bm", "--method", "pcd", "--batch-size", "100000",
            "--chains", "100", "--gibbs-steps", "2", "--lr", "0.05", "--quiet", "--no-check", "--threads", "1"]
    ok(launch([*args, "-o", "bm.h5", "--updates", "6"], folder))
    ok(launch([*args, "-o", "bm_half.h5", "--updates", "3"], folder))
    ok(launch([*args, "-o", "bm_half.h5", "--updates", "6", "--resume"], folder))
    assert same(folder / "bm.h5", folder / "bm_half.h5")


def test_torchrun_launches_the_module(folder):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("no torchrun next to this Python")
    result = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "boltzkit", "train",
                             "x.npy", "-o", "torchrun.h5", "--updates", "10", *RBM], cwd=folder,
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "saved 10 checkpoints" in result.stdout + result.stderr  # printed once, by rank 0
    assert (result.stdout + result.stderr).count("saved") == 1


def test_a_killed_rank_stops_the_other_in_one_line_and_the_run_file_is_kept(folder):
    processes = start(["train", "x.npy", "-o", "killed.h5", "--updates", "1000000", "--checkpoints", "200",
                       *RBM], folder)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not (folder / "killed.h5").exists()
                                           or len(trajectory.checkpoint_updates(folder / "killed.h5")) < 3):
        time.sleep(0.2)
    processes[1].send_signal(signal.SIGKILL)
    _, stderr = processes[0].communicate(timeout=60)  # no hang: the peer's socket closes
    processes[1].communicate(timeout=10)
    assert processes[0].returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: rank 0:") and "another process" in lines[0]
    assert len(trajectory.checkpoint_updates(folder / "killed.h5")) >= 3  # the last checkpoint kept
    trajectory.load_model(folder / "killed.h5")


def test_shares_and_seeds_without_a_group():
    alone, second = Ranks(), Ranks(1, 2)
    assert distributed.current() == alone and not alone.parallel and alone.writes
    assert distributed.rank_seed(7, alone) == 7  # one-process runs keep their streams
    seeds = {distributed.rank_seed(7, Ranks(r, 4)) for r in range(4)}
    assert len(seeds) == 4 and distributed.rank_seed(7, second) == distributed.rank_seed(7, Ranks(1, 2))
    assert distributed.share(10, second, "--chains") == slice(5, 10)
    with pytest.raises(BoltzkitError, match="--chains 9: data-parallel training over 2 processes"):
        distributed.share(9, second, "--chains")
    tensors = {"a": torch.ones(3)}
    distributed.average(tensors, alone)  # alone: nothing to reduce
    assert torch.equal(tensors["a"], torch.ones(3))


def test_two_process_evaluate_splits_the_ais_chains(folder):
    if not (folder / "two.h5").exists():
        ok(launch(["train", "x.npy", "-o", "two.h5", "--updates", "30", *RBM], folder))
    results = launch(["evaluate", "two.h5", "--json", "--log-z", "ais", "--ais-chains", "200",
                      "--ais-steps", "300", "--moment-samples", "100", "--moment-steps", "5",
                      "--threads", "1", "--seed", "11"], folder)
    ok(results)
    assert results[1][1].strip() == ""  # rank 1 prints nothing
    r = json.loads(results[0][1])
    exact = trajectory.load_model(folder / "two.h5").log_partition_exact()
    # 200 chains of both ranks together: within 4 of their standard errors of the exact value
    assert r["log_z_method"] == "ais" and abs(r["log_z"] - exact) < 4 * r["log_z_error"] + 1e-5, (r, exact)
    assert r["moment_samples"]["n"] == 100 and math.isfinite(r["moments_pearson"]["correlations"])
