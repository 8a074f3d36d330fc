"""The negative phase's tempering chains (``train --sampler pt | ptt``): with the model held
fixed they sample its exact law (chi-square over every visible state, as the tempering tests:
pooled cells, p > 1e-3 with fixed seeds, and a power check against a perturbed model); the ladder
grows where exchanges fall below the target; training with them resumes bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM
from boltzkit.sampling.tempered_chains import TemperedChains
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer
from test_tempering import cell, chi_square_p_value, data_base, exact, random_potts_rbm, two_mode_rbm

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()


def potts_rbm() -> PottsRBM:
    return random_potts_rbm(torch.Generator().manual_seed(3))


@pytest.mark.parametrize("scheme", ["pt", "ptt"])
@pytest.mark.parametrize("build, q", [(two_mode_rbm, 2), (potts_rbm, 3)])
def test_fixed_model_is_sampled_exactly(scheme, build, q):
    """20000 chains, 60 updates of 2 rounds each with the model held fixed; the two-mode RBM is
    the one whose plain Gibbs chains do not cross (tests/sampling/test_tempering.py)."""
    model = build()
    states, p = exact(model)
    tempered = TemperedChains(scheme, data_base(model), 20000, torch.Generator().manual_seed(4))
    for _ in range(60):
        chains = tempered.run(model, 2)
    counts = torch.bincount(cell(chains.visible, q), minlength=len(states)).double()
    assert chi_square_p_value(counts, p) > 1e-3
    wrong = type(model)(model.weights * 1.1, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6  # the test can fail
    assert len(tempered.chains) >= 2


def test_pt_ladder_grows_where_exchanges_fail():
    """Between beta = 0 and 1 of the two-mode RBM exchanges are rare: midpoints are inserted
    until (over the last decision) every pair is accepted at least 0.3 of the time, or more
    replicas are on the way."""
    model = two_mode_rbm()
    tempered = TemperedChains("pt", data_base(model), 2000, torch.Generator().manual_seed(1))
    for _ in range(100):
        tempered.run(model, 2)
    assert len(tempered.betas) > 2
    assert tempered.betas == sorted(tempered.betas) and tempered.betas[0] == 0.0 and tempered.betas[-1] == 1.0


def trainer(data, path, sampler) -> Trainer:
    g = torch.Generator().manual_seed(0)
    model = RBM(0.01 * torch.randn(data.shape[1], 4, generator=g, dtype=torch.float64),
                torch.zeros(data.shape[1], dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    cfg = TrainingConfig(method="pcd", n_updates=60, batch_size=50, n_chains=50, gibbs_steps=2,
                         learning_rate=0.1, n_checkpoints=5, sampler=sampler, save_every=7)
    return Trainer(model, data, cfg, out=path)


@pytest.mark.parametrize("sampler", ["pt", "ptt"])
def test_training_with_tempering_resumes_bit_for_bit(tmp_path, sampler):
    data = torch.as_tensor((np.random.default_rng(0).random((300, 12)) > 0.5), dtype=torch.float64)
    data[:150, :6] = 1.0  # two groups of rows: something to learn
    whole = trainer(data, tmp_path / "a.h5", sampler)
    whole.start()
    whole.run()
    cut = trainer(data, tmp_path / "b.h5", sampler)
    cut.start()
    cut.run(stop_after=30)  # the last save: update 28 (save_every 7)
    again = trainer(data, tmp_path / "b.h5", sampler)
    again.resume()
    again.run()
    for name, tensor in whole.model.parameters().items():
        assert torch.equal(tensor, again.model.parameters()[name]), name
    assert len(whole.tempered.chains) == len(again.tempered.chains)
    stored = trajectory.read_state(tmp_path / "a.h5").tempering
    assert stored["chains"].shape[1] == len(whole.tempered.chains)


def test_cli_sampler_choices_are_one_line(tmp_path):
    data = tmp_path / "d.npy"
    np.save(data, (np.random.default_rng(0).random((100, 6)) > 0.5).astype(np.uint8))
    result = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "x.h5"), "--method", "cd",
                                 "--sampler", "ptt"])
    assert result.exit_code == 2 and "--sampler ptt" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "y.h5"), "--hidden", "2",
                                 "--updates", "20", "--chains", "20", "--batch-size", "20",
                                 "--sampler", "ptt", "--no-check"])
    assert result.exit_code == 0, result.output
