"""The GPU path (``--device cuda``): training, sampling, evaluation and the estimators on a CUDA
device, checked against the same runs on the CPU. Skipped on a machine without a GPU (these tests
never decide anything the CPU tests do not; they show the device path runs and agrees)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import boltzkit
from boltzkit.cli.main import app
from boltzkit.io import trajectory

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cuda")
    rng = np.random.default_rng(0)
    z = rng.random((800, 1)) < 0.5
    np.save(folder / "x.npy", (rng.random((800, 16)) < np.where(z, 0.85, 0.15)).astype(np.uint8))
    np.save(folder / "r.npy", rng.standard_normal((400, 2)) @ rng.standard_normal((2, 6))
            + 0.3 * rng.standard_normal((400, 6)))
    return folder


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_train_sample_evaluate_on_the_gpu_agrees_with_the_cpu(data):
    for device in ("cpu", "cuda"):
        invoke("train", data / "x.npy", "-o", data / f"{device}.h5", "--hidden", "6", "--updates", "300",
               "--batch-size", "200", "--chains", "200", "--test-fraction", "0.2", "--device", device,
               "--quiet", "--no-check")
    assert trajectory.read_config(data / "cuda.h5")["training"]["device"] == "cuda"
    invoke("sample", data / "cuda.h5", "-o", data / "s.npy", "--n", "50", "--device", "cuda")
    assert np.load(data / "s.npy").shape == (50, 16)
    scores = {d: json.loads(invoke("evaluate", data / f"{d}.h5", "--json", "--device", d,
                                   "--moment-samples", "200", "--moment-steps", "20"))
              for d in ("cpu", "cuda")}
    # both exact (6 hidden units); the runs differ by their random streams only: within 0.2 nats
    assert abs(scores["cpu"]["log_likelihood"]["test"] - scores["cuda"]["log_likelihood"]["test"]) < 0.2


def test_gaussian_rbm_and_plm_on_the_gpu(data):
    x = np.load(data / "r.npy")
    model = boltzkit.GaussianRBM(n_hidden=4, n_updates=200, batch_size=100, n_chains=100,
                                 device="cuda", random_state=0).fit(x)
    assert model.model_.device.type == "cuda" and np.isfinite(model.score(x))
    assert model.sample(10, 20).shape == (10, 6)
    spins = np.where(np.load(data / "x.npy") > 0, 1.0, -1.0)
    cpu = boltzkit.IsingBM(method="plm", dtype="float64").fit(spins)
    gpu = boltzkit.IsingBM(method="plm", dtype="float64", device="cuda").fit(spins)
    np.testing.assert_allclose(gpu.couplings_, cpu.couplings_, rtol=1e-6, atol=1e-8)
