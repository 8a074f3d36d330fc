"""Run files of Potts RBMs and pairwise models trained on alignments (``boltzkit train`` / ``sample``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data.msa import read_msa, write_fasta
from boltzkit.io import trajectory
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.io.trajectory import run_datasets

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()


@pytest.fixture(scope="module")
def alignment(tmp_path_factory) -> Path:
    """600 DNA sequences of length 6 drawn exactly from a random Potts model (q = 5 with the gap)."""
    g = torch.Generator().manual_seed(0)
    j = 0.8 * torch.randn(6, 6, 5, 5, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(6), torch.arange(6)] = 0
    model = PottsModel(0.5 * torch.randn(6, 5, generator=g, dtype=torch.float64), j)
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    codes = states[torch.multinomial(p, 600, replacement=True, generator=g)].numpy().astype(np.int8)
    path = tmp_path_factory.mktemp("msa") / "toy.fasta"
    write_fasta(path, codes, "dna")
    return path


def _train(data: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["train", str(data), "--out", str(out), "--quiet", "--checkpoints", "3",
                                 *extra])
    assert result.exit_code == 0, result.output
    return trajectory.read_config(out)


def test_plm_run_stores_a_zero_sum_potts_model_and_the_alphabet(alignment, tmp_path):
    out = tmp_path / "plm.h5"
    config = _train(alignment, out, "--model", "potts-bm", "--method", "plm", "--updates", "100",
                    "--lambda-j", "0.02")
    assert config["alphabet"] == "-ACGT" and config["data"]["format"] == "msa"
    assert config["plm"] == {"lambda_h": 0.01, "lambda_J": 0.02, "solver": "lbfgs"}
    model = trajectory.load_model(out)
    assert isinstance(model, PottsModel) and model.couplings.shape == (6, 6, 5, 5)
    assert float(model.couplings.sum(2).abs().max()) < 1e-5
    sample, _, _ = trajectory.read_data_sample(out)
    assert sample.dtype == np.int8 and sample.shape == (600, 6)
    assert np.array_equal(sample, read_msa(alignment).sequences)


def test_bmdca_run_then_sample_fasta(alignment, tmp_path):
    out = tmp_path / "bm.h5"
    config = _train(alignment, out, "--model", "potts-bm", "--method", "pcd", "--updates", "20",
                    "--batch-size", "100000", "--chains", "200", "--gibbs-steps", "2", "--lr", "0.5",
                    "--l2", "0.01", "--no-reweight")
    assert config["model"]["kind"] == "potts-bm" and config["data"]["reweight"] is False
    assert trajectory.checkpoint_updates(out)[-1] == 20
    fasta = tmp_path / "samples.fasta"
    result = runner.invoke(app, ["sample", str(out), "--out", str(fasta), "--n", "50", "--gibbs-steps", "10"])
    assert result.exit_code == 0, result.output
    samples = read_msa(fasta, alphabet="dna")
    assert samples.sequences.shape == (50, 6) and samples.headers[0] == "sample_0"


def test_potts_rbm_run_with_split_and_resume(alignment, tmp_path):
    out = tmp_path / "rbm.h5"
    config = _train(alignment, out, "--model", "potts-rbm", "--hidden", "4", "--updates", "12",
                    "--batch-size", "100", "--chains", "100", "--gibbs-steps", "2",
                    "--test-fraction", "0.25", "--alphabet", "dna", "--threshold", "0.9")
    assert config["model"] == {"kind": "potts-rbm", "family": "potts-rbm", "n_visible": 6,
                               "n_states": 5, "n_hidden": 4}
    model = trajectory.load_model(out)
    assert isinstance(model, PottsRBM)
    assert float(model.weights.sum(1).abs().max()) < 1e-5  # zero-sum gauge after every update
    train, test = run_datasets(out)
    assert len(train) == 450 and len(test) == 150 and train.q == 5
    assert train.weights is not None and train.weights.max() <= 1.0
    # resuming a finished run is a no-op that keeps the file valid
    result = runner.invoke(app, ["train", str(alignment), "--out", str(out), "--resume", "--quiet"])
    assert result.exit_code == 0, result.output
    assert trajectory.checkpoint_updates(out)[-1] == 12


def test_ising_bm_on_binary_data(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.random((400, 7)) < 0.3).astype(np.float32)
    x[:, 1] = x[:, 0]  # a strong positive coupling
    data = tmp_path / "x.npy"
    np.save(data, x)
    out = tmp_path / "ising.h5"
    _train(data, out, "--model", "ising-bm", "--method", "plm", "--updates", "100")
    model = trajectory.load_model(out)
    assert isinstance(model, IsingModel)
    assert float(model.couplings[0, 1]) == float(model.couplings.max()) > 0.5
    out_pcd = tmp_path / "ising_pcd.h5"
    _train(data, out_pcd, "--model", "ising-bm", "--updates", "10", "--batch-size", "1000",
           "--chains", "100", "--gibbs-steps", "1")
    result = runner.invoke(app, ["sample", str(out_pcd), "--out", str(tmp_path / "s.npy"), "--n", "20",
                                 "--gibbs-steps", "5"])
    assert result.exit_code == 0, result.output
    assert set(np.unique(np.load(tmp_path / "s.npy"))) <= {-1.0, 1.0}


def test_user_errors(alignment, tmp_path):
    result = runner.invoke(app, ["train", str(alignment), "--out", str(tmp_path / "x.h5"), "--quiet",
                                 "--model", "potts-rbm", "--method", "plm"])
    # the families that plm trains (the pairwise ones) are named
    assert result.exit_code == 2 and "plm trains potts-bm, ising-bm" in result.output
    result = runner.invoke(app, ["train", str(alignment), "--out", str(tmp_path / "y.h5"), "--quiet",
                                 "--model", "potts-bm", "--alphabet", "ACCA", "--updates", "1"])
    assert result.exit_code == 2 and "repeats a letter" in result.output
    result = runner.invoke(app, ["train", str(alignment), "--out", str(tmp_path / "z.h5"), "--quiet",
                                 "--model", "potts-rbm", "--resume"])
    assert result.exit_code == 2 and "no such run file" in result.output
