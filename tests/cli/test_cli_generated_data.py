"""Data written by ``boltzkit generate`` are read by ``boltzkit train`` directly."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory

runner = CliRunner()


def _generate(tmp_path, model: str, *extra: str):
    out = tmp_path / f"{model}.h5"
    result = runner.invoke(app, ["generate", model, "--size", "6", "--beta", "0.5", "--n-samples",
                                 "300", "--seed", "0", "--sweeps-thermalize", "50",
                                 "--sweeps-between", "2", "--quiet", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("model", ["ising1d", "lattice-gas"])
def test_binary_generated_data_train_an_rbm(tmp_path, model):
    data = _generate(tmp_path, model)
    run = tmp_path / "run.h5"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--hidden", "4",
                                 "--updates", "20", "--batch-size", "100", "--chains", "50",
                                 "--checkpoints", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert trajectory.read_config(run)["model"]["n_visible"] == 6


@pytest.mark.parametrize("model, kind", [("potts", "potts-rbm"), ("blume-capel", "potts-bm")])
def test_categorical_generated_data_train_a_potts_model(tmp_path, model, kind):
    data = _generate(tmp_path, model)
    with h5py.File(data) as f:
        q = int(f.attrs["n_states"])
    run = tmp_path / "run.h5"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--model", kind,
                                 "--hidden", "4", "--updates", "20", "--batch-size", "100",
                                 "--chains", "50", "--checkpoints", "3", "--no-reweight", "--quiet"])
    assert result.exit_code == 0, result.output
    params = trajectory.read_params(run)
    fields = params["visible_bias"] if kind == "potts-rbm" else params["fields"]
    assert fields.shape == (6, q)
    sample = runner.invoke(app, ["sample", str(run), "--n", "5", "--gibbs-steps", "5", "--out",
                                 str(tmp_path / "s.fasta")])
    assert sample.exit_code == 0, sample.output
    rows = [line for line in (tmp_path / "s.fasta").read_text().splitlines()
            if not line.startswith(">")]
    assert len(rows) == 5 and all(len(r) == 6 and set(r) <= set("0123456789"[:q]) for r in rows)
    assert np.isfinite(fields.numpy()).all()
