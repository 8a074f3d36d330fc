"""The readers of real data layouts feed `boltzkit train` end to end: a categorical table trains a
Potts RBM, a haplotype file a Bernoulli RBM, and later commands rebuild the same data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data.specs import datasets_like
from boltzkit.data.table import decode_table
from boltzkit.io import trajectory

pytestmark = pytest.mark.usefixtures("single_thread")


def _train(tmp_path: Path, data: Path, *flags: str) -> Path:
    out = tmp_path / "run.h5"
    result = CliRunner().invoke(app, ["train", str(data), "--out", str(out), "--updates", "4",
                                      "--hidden", "3", "--batch-size", "8", "--chains", "8",
                                      "--gibbs-steps", "1", "--checkpoints", "2", "--quiet", *flags])
    assert result.exit_code == 0, result.output
    return out


def test_categorical_csv_trains_a_potts_rbm(tmp_path):
    rng = np.random.default_rng(0)
    colours, shapes = np.array(["red", "green", "blue"]), np.array(["x", "b", "f", "k", "s"])
    rows = [f"{c},{s},{'?' if rng.random() < 0.2 else 'y'}"
            for c, s in zip(rng.choice(colours, 40), rng.choice(shapes, 40))]
    data = tmp_path / "toy.csv"
    data.write_text("colour,shape,ring\n" + "\n".join(rows) + "\n")
    out = _train(tmp_path, data, "--model", "potts-rbm", "--test-fraction", "0.25")
    config = trajectory.read_config(out)
    assert config["data"]["format"] == "table" and config["data"]["columns"] == ["colour", "shape", "ring"]
    assert config["model"]["n_states"] == 5  # the widest column
    train, test = datasets_like(config, data_kind="categorical")
    assert train.samples.shape == (30, 3) and test.samples.shape == (10, 3)
    stored, _, _ = trajectory.read_data_sample(out)
    np.testing.assert_array_equal(stored, train.samples)
    decoded = decode_table(stored, config["data"]["categories"])
    assert set(decoded[:, 0]) <= set(colours)


def test_haplotype_file_trains_a_bernoulli_rbm(tmp_path):
    values = (np.random.default_rng(1).random((30, 12)) < 0.5).astype(int)
    lines = [f"Real HG{i:05d}_A " + " ".join(map(str, row)) for i, row in enumerate(values)]
    data = tmp_path / "toy.hapt.gz"
    data.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = _train(tmp_path, data)
    config = trajectory.read_config(out)
    train, _ = datasets_like(config)
    np.testing.assert_array_equal(train.samples, values)
    assert train.ids[0] == "HG00000_A"
