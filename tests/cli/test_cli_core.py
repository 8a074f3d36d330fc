"""End-to-end tests of the core commands: train, resume, sample, evaluate, and user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory

runner = CliRunner()


@pytest.fixture(scope="module")
def binary_data(tmp_path_factory) -> Path:
    """A small structured {0,1} dataset: two noisy prototypes over 12 units."""
    rng = np.random.default_rng(0)
    proto = np.array([[1] * 6 + [0] * 6, [0] * 6 + [1] * 6])
    x = proto[rng.integers(0, 2, 600)]
    flip = rng.random(x.shape) < 0.1
    x = np.where(flip, 1 - x, x).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "x.npy"
    np.save(path, x)
    return path


def _train(data: Path, out: Path, *extra: str, updates: int = 300):
    return runner.invoke(app, ["train", str(data), "--out", str(out), "--hidden", "6", "--updates",
                               str(updates), "--batch-size", "100", "--chains", "100", "--gibbs-steps", "5",
                               "--checkpoints", "5", "--test-fraction", "0.2", "--lr", "0.1", "--quiet", *extra])


def test_train_writes_a_run_file_with_checkpoints(binary_data, tmp_path):
    out = tmp_path / "run.h5"
    result = _train(binary_data, out)
    assert result.exit_code == 0, result.output
    updates = trajectory.checkpoint_updates(out)
    assert updates[-1] == 300 and len(updates) >= 4
    config = trajectory.read_config(out)
    assert config["model"]["kind"] == "bernoulli-rbm" and config["training"]["method"] == "pcd"
    assert config["data"]["test_fraction"] == 0.2


def test_resume_after_interruption_matches_uninterrupted(binary_data, tmp_path):
    full, cut = tmp_path / "full.h5", tmp_path / "cut.h5"
    assert _train(binary_data, full, "--save-every", "10", updates=80).exit_code == 0
    # interrupt: train a copy of the same run only to update 30, then resume it from the file
    from boltzkit.training.config import TrainingConfig
    from boltzkit.data.specs import DataSpec
    from boltzkit.training.trainer import Trainer

    stored = trajectory.read_config(full)
    spec = DataSpec(**stored["data"])
    config = TrainingConfig.from_dict(stored["training"])
    train, _ = spec.load()
    import torch

    from boltzkit.models.rbm import RBM

    data = torch.as_tensor(train.samples)
    model = RBM.init_from_data(data, 6, generator=torch.Generator().manual_seed(config.seed))
    trainer = Trainer(model, data, config, out=cut, run_config={"data": spec.__dict__})
    trainer.start()
    trainer.run(stop_after=43)  # state saved at update 40 (save_every 10); 41-43 are lost
    result = runner.invoke(app, ["train", str(binary_data), "--out", str(cut), "--resume", "--quiet"])
    assert result.exit_code == 0, result.output
    a, b = trajectory.read_params(full), trajectory.read_params(cut)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_sample_and_evaluate(binary_data, tmp_path):
    out = tmp_path / "run.h5"
    assert _train(binary_data, out).exit_code == 0
    result = runner.invoke(app, ["sample", str(out), "--n", "50", "--gibbs-steps", "20",
                                 "--out", str(tmp_path / "s.npy")])
    assert result.exit_code == 0, result.output
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (50, 12) and set(np.unique(s)) <= {0.0, 1.0}
    result = runner.invoke(app, ["evaluate", str(out), "--json", "--moment-samples", "500",
                                 "--moment-steps", "50"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("log_z", "log_z_error", "log_likelihood", "moments_pearson"):
        assert key in report
    assert report["log_z_method"] == "exact" and report["log_z_error"] == 0.0
    assert set(report["log_likelihood"]) == {"train", "test"}
    assert report["log_likelihood"]["test"] is not None
    # two noisy prototypes: the RBM must beat the independent-site model on held-out data
    assert report["log_likelihood"]["test"] > report["independent_site_log_likelihood"]["test"] + 0.5
    assert report["moments_pearson"]["correlations"] > 0.8


@pytest.mark.parametrize("content, problem", [
    (np.array([[0.0, 1.0], [np.nan, 1.0]]), "NaN"),
    (np.array([[0.0, 2.0], [1.0, 1.0]]), "binary"),
    (np.zeros(5), "2-D"),
])
def test_bad_data_is_one_line_and_exit_2(tmp_path, content, problem):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r.h5"), "--quiet"])
    assert result.exit_code == 2
    assert "bad.npy" in result.output and problem.lower() in result.output.lower()
    assert not (tmp_path / "r.h5").exists()


def test_missing_hdf5_dataset_named(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["other"] = np.zeros((4, 3))
    result = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "r.h5"), "--quiet"])
    assert result.exit_code == 2 and "samples" in result.output and "d.h5" in result.output


def test_console_script_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("0 1\n1 0 1\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "boltzkit.cli.main", "train", str(path), "--out",
                           str(tmp_path / "r.h5")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.txt" in lines[0]
