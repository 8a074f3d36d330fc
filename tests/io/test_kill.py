"""kill -9 during training: the run file stays readable, ``--resume`` continues to the same
parameters as a run never interrupted, and no temporary file of a killed process is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.errors import DataError
from boltzkit.io import trajectory

TRAIN = ["train", "x.npy", "--hidden", "16", "--updates", "3000", "--batch-size", "50", "--chains", "50",
         "--gibbs-steps", "2", "--save-every", "10", "--checkpoints", "5", "--quiet", "--threads", "1"]


def _boltzkit(folder: Path, *args: str) -> subprocess.Popen:
    code = "import sys; from boltzkit.cli.main import main; sys.argv[0] = 'boltzkit'; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=folder, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _saved_update(path: Path) -> int:
    """The update of the run's resume state (0 while there is none)."""
    try:
        return trajectory.read_state(path).update
    except (DataError, OSError):
        return 0


def _params(path: Path) -> dict[str, torch.Tensor]:
    return trajectory.read_params(path)


@pytest.mark.slow
def test_kill_9_at_random_moments_resumes_bit_identically(tmp_path):
    rng = np.random.default_rng(7)
    np.save(tmp_path / "x.npy", (rng.random((400, 30)) < 0.3).astype(np.uint8))
    reference = _boltzkit(tmp_path, *TRAIN, "-o", "reference.h5")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()

    run = tmp_path / "killed.h5"
    kills = 0
    process = _boltzkit(tmp_path, *TRAIN, "-o", run.name)
    while kills < 4:
        start = _saved_update(run)
        deadline = time.monotonic() + 120
        while process.poll() is None and _saved_update(run) <= start and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is not None:
            break  # finished before this kill
        time.sleep(float(rng.uniform(0.0, 0.3)))  # a random moment, often inside a write
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        trajectory.read_config(run)  # readable after every kill
        process = _boltzkit(tmp_path, *TRAIN, "-o", run.name, "--resume")
    assert process.wait(timeout=300) == 0, process.stderr.read().decode()
    assert kills >= 3
    assert trajectory.checkpoint_updates(run) == trajectory.checkpoint_updates(tmp_path / "reference.h5")
    for name, tensor in _params(tmp_path / "reference.h5").items():
        assert torch.equal(_params(run)[name], tensor), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.h5", "reference.h5", "x.npy"]
