"""--resume says what it does: flags that differ from the stored run are refused with the list of
differences; --updates extends a run, which then ends exactly where a run trained to that many
updates at once ends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory

runner = CliRunner()
SETTINGS = ["--hidden", "3", "--batch-size", "20", "--chains", "20", "--gibbs-steps", "2",
            "--save-every", "10", "--lr", "0.05", "--quiet"]


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", (rng.random((80, 8)) < 0.4).astype(np.uint8))
    np.save(tmp_path / "y.npy", (rng.random((80, 8)) < 0.6).astype(np.uint8))
    return tmp_path


def train(folder, *args):
    return runner.invoke(app, ["train", str(folder / "x.npy"), *map(str, args)])


def test_resume_with_more_updates_equals_training_that_long_at_once(folder):
    assert train(folder, "-o", folder / "once.h5", "--updates", "60", *SETTINGS).exit_code == 0
    assert train(folder, "-o", folder / "twice.h5", "--updates", "30", *SETTINGS).exit_code == 0
    result = train(folder, "-o", folder / "twice.h5", "--resume", "--updates", "60", "--quiet")
    assert result.exit_code == 0, result.output
    a, b = trajectory.read_params(folder / "once.h5"), trajectory.read_params(folder / "twice.h5")
    assert trajectory.checkpoint_updates(folder / "twice.h5")[-1] == 60
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert trajectory.read_config(folder / "twice.h5")["training"]["n_updates"] == 60


def test_resume_refuses_what_differs_from_the_run(folder):
    run = folder / "run.h5"
    assert train(folder, "-o", run, "--updates", "20", *SETTINGS).exit_code == 0
    stamp = run.read_bytes()
    result = runner.invoke(app, ["train", str(folder / "y.npy"), "-o", str(run), "--resume",
                                 "--lr", "0.5", "--hidden", "3", "--quiet"])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "--resume continues the run as it was started" in line
    assert "DATA" in line and "y.npy" in line and "--lr 0.5 (the run has 0.05)" in line
    assert "--hidden" not in line  # the same as stored: fine to repeat
    result = train(folder, "-o", run, "--resume", "--updates", "5", "--quiet")
    assert result.exit_code == 2 and "has already done 20 updates" in result.output
    assert run.read_bytes() == stamp


def test_resume_of_a_run_older_than_a_setting_takes_its_default(folder):
    """A run written before --lr-schedule existed stores no lr_schedule: typing the default on
    --resume agrees with it, another value is refused."""
    import json

    import h5py

    run = folder / "old.h5"
    assert train(folder, "-o", run, "--updates", "20", *SETTINGS).exit_code == 0
    with h5py.File(run, "r+") as f:  # as a run of release 0.1 wrote it
        config = json.loads(f.attrs["config"])
        for key in ("lr_schedule", "lr_final"):
            config["training"].pop(key, None)
        f.attrs["config"] = json.dumps(config)
    result = train(folder, "-o", run, "--resume", "--lr-schedule", "constant", "--quiet")
    assert result.exit_code == 0, result.output
    result = train(folder, "-o", run, "--resume", "--lr-schedule", "cosine", "--lr-final", "0.001", "--quiet")
    assert result.exit_code == 2 and "--lr-schedule cosine (the run has constant)" in result.output, result.output
