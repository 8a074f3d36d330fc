"""Trajectory tempering from the low-rank law of pre-training (docs/methods.md 6.4, 6.5).

With the mesh law as the first replica (exact draws, exact normalised density) trajectory tempering
still samples the model's exact law: chi-square over every visible state, as the tempering tests
(pooled cells, p > 1e-3 with fixed seeds, and a power check against a perturbed model). A run
pre-trained with ``--pretrain low-rank`` stores the law, draws its first persistent chains from it,
runs ``--sampler ptt`` from it and resumes bit for bit; ``sample`` and ``evaluate --log-z ptt`` start
from it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.sampling.tempered_chains import TemperedChains
from boltzkit.sampling.tempering import ParallelTempering
from boltzkit.training import low_rank
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer
from test_tempering import N_CHAINS, cell, chi_square_p_value, exact, two_mode_rbm

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()


def clustered_rows(n_rows: int = 300, n_visible: int = 12, seed: int = 0) -> torch.Tensor:
    """{0,1} rows around two random centres, each bit flipped with probability 0.1."""
    g = np.random.default_rng(seed)
    centres = g.random((2, n_visible)) < 0.5
    rows = centres[g.integers(0, 2, n_rows)] ^ (g.random((n_rows, n_visible)) < 0.1)
    return torch.as_tensor(rows, dtype=torch.float64)


def fitted(data: torch.Tensor):
    """The low-rank fit (d = 1, a 40-point mesh) of a 4-hidden-unit RBM to ``data``."""
    shape = RBM.init_from_data(data, 4, generator=torch.Generator().manual_seed(0)).to(dtype=torch.float64)
    return low_rank.fit_low_rank(shape, data, None, 1, torch.Generator().manual_seed(0), mesh_points=40)


def scaled(model: RBM, s: float) -> RBM:
    return RBM(model.weights * s, model.visible_bias * s, model.hidden_bias * s)


def test_trajectory_tempering_from_the_mesh_law_samples_exactly():
    """The two-mode RBM of the tempering tests (plain Gibbs chains do not cross) along a synthetic
    trajectory of 30 checkpoints, from the mesh law fitted to its exact samples with 15% of the
    bits flipped (without the noise its two modes sit on the mesh's edge, where no point is kept);
    and the training's tempering chains with the model held fixed."""
    model = two_mode_rbm()
    states, p = exact(model)
    g = torch.Generator().manual_seed(0)
    x = states[torch.multinomial(p, 5000, replacement=True, generator=g)]
    law = fitted((x + (torch.rand(x.shape, generator=g) < 0.15)) % 2).sampler
    assert law.log_partition_exact() == 0.0 and len(law.fields) > 1
    checkpoints = [scaled(model, s) for s in torch.linspace(0.05, 1.0, 30, dtype=torch.float64).tolist()]
    pt = ParallelTempering.trajectory([law, *checkpoints], N_CHAINS, torch.Generator().manual_seed(13))
    counts = torch.bincount(cell(pt.step(200).visible, 2), minlength=len(states)).double()
    assert chi_square_p_value(counts, p) > 1e-3
    wrong = RBM(model.weights * 1.05, model.visible_bias, model.hidden_bias)
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6  # the test can fail
    tempered = TemperedChains("ptt", law, N_CHAINS, torch.Generator().manual_seed(4))
    for _ in range(60):
        chains = tempered.run(model, 2)
    counts = torch.bincount(cell(chains.visible, 2), minlength=len(states)).double()
    assert chi_square_p_value(counts, p) > 1e-3
    assert chi_square_p_value(counts, exact(wrong)[1]) < 1e-6


def pretrained_trainer(data, path, law, sampler: str = "ptt") -> Trainer:
    g = torch.Generator().manual_seed(0)
    model = RBM(0.01 * torch.randn(data.shape[1], 4, generator=g, dtype=torch.float64),
                torch.zeros(data.shape[1], dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    cfg = TrainingConfig(method="pcd", n_updates=60, batch_size=50, n_chains=50, gibbs_steps=2,
                         learning_rate=0.1, n_checkpoints=5, sampler=sampler, save_every=7)
    return Trainer(model, data, cfg, out=path, start=law)


def test_pretrained_training_starts_from_the_law_and_resumes_bit_for_bit(tmp_path):
    data = clustered_rows()
    fit = fitted(data)
    plain = pretrained_trainer(data, tmp_path / "g.h5", fit.sampler, "gibbs")
    plain.start()
    # the first persistent chains of a Gibbs negative phase: a draw of the law, from the training's generator
    assert torch.equal(plain.chains.visible, fit.sampler.init_chains(50, torch.Generator().manual_seed(0)).visible)
    whole = pretrained_trainer(data, tmp_path / "a.h5", fit.sampler)
    whole.start()
    assert whole.chains is None  # ptt's chains are its replicas'
    whole.run()
    assert whole.tempered.replicas(whole.model)[0] is whole.exact_start
    stored = trajectory.read_tempering_start(tmp_path / "a.h5")
    for name, tensor in fit.sampler.parameters().items():
        assert torch.equal(stored.parameters()[name], tensor), name
    cut = pretrained_trainer(data, tmp_path / "b.h5", fit.sampler)
    cut.start()
    cut.run(stop_after=30)
    again = pretrained_trainer(data, tmp_path / "b.h5", trajectory.read_tempering_start(tmp_path / "b.h5"))
    again.resume()
    again.run()
    for name, tensor in whole.model.parameters().items():
        assert torch.equal(tensor, again.model.parameters()[name]), name


def test_sample_and_evaluate_start_from_the_stored_law(tmp_path):
    """The CLI path: train with --pretrain low-rank --sampler ptt, then ``sample --sampler ptt``
    and ``evaluate --log-z ptt`` (its first replica the stored law, log Z 0) within 0.05 nats of
    the exact log Z (2^4 hidden states; 400 chains x 400 sweeps, the tolerance of the other PTT
    log Z tests)."""
    data = tmp_path / "d.npy"
    np.save(data, clustered_rows(400, 12, seed=3).numpy().astype(np.uint8))
    run = tmp_path / "r.h5"
    result = runner.invoke(app, ["train", str(data), "-o", str(run), "--hidden", "4", "--updates", "60",
                                 "--chains", "50", "--batch-size", "50", "--checkpoints", "6", "--no-check",
                                 "--pretrain", "low-rank", "--pretrain-dims", "1", "--sampler", "ptt"])
    assert result.exit_code == 0, result.output
    law = trajectory.read_tempering_start(run)
    assert law is not None and law.n_visible == 12
    result = runner.invoke(app, ["sample", str(run), "-o", str(tmp_path / "s.npy"), "--n", "30",
                                 "--sampler", "ptt", "--gibbs-steps", "20"])
    assert result.exit_code == 0, result.output
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (30, 12) and set(np.unique(samples)) <= {0, 1}
    result = runner.invoke(app, ["evaluate", str(run), "--log-z", "ptt", "--json", "--ais-chains", "400",
                                 "--ais-steps", "400", "--moment-samples", "10", "--moment-steps", "1"])
    assert result.exit_code == 0, result.output
    value = json.loads(result.output)["log_z"]
    expected = trajectory.load_model(run).to(dtype=torch.float64).log_partition_exact()
    assert math.isfinite(value) and abs(value - expected) < 0.05


@pytest.mark.parametrize("damage, message", [
    (lambda g: (g.__delitem__("directions"), g.create_dataset("directions", data=np.zeros((1, 15)))),
     "not \\(d, N\\)"),
    (lambda g: (g.__delitem__("log_weights"), g.create_dataset("log_weights", data=np.full(3, np.nan))),
     "log_weights holds values that are not finite"),
    (lambda g: (g.__delitem__("fields"), g.create_group("fields")), "cannot be read|damaged"),
    (lambda g: (g.__delitem__("fields"), g.create_dataset("fields", data=b"abc")), "damaged|cannot be read"),
    (lambda g: g.__delitem__("fields"), "damaged"),
    (lambda g: g.attrs.__setitem__("kind", "other"), "unknown kind"),
])
def test_a_damaged_law_is_one_line_naming_the_file(tmp_path, damage, message):
    import h5py

    from boltzkit.errors import DataError

    data = clustered_rows()
    trainer = pretrained_trainer(data, tmp_path / "r.h5", fitted(data).sampler)
    trainer.start()
    trainer.run(stop_after=2)
    with h5py.File(tmp_path / "r.h5", "a") as f:
        damage(f["tempering_start"])
    for like in (None, trainer.model):
        with pytest.raises(DataError, match=message) as e:
            trajectory.read_tempering_start(tmp_path / "r.h5", like)
        assert "\n" not in str(e.value) and "r.h5" in str(e.value)
