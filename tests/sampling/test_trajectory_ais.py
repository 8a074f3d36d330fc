"""Trajectory AIS and the PTT (Bennett) log Z against exact enumeration (docs/methods.md 6.3).

The checks: Bennett's acceptance ratio on two distributions with a known ratio; trajectory AIS
replayed along a sequence of small models, and followed during the training of an RBM with 12
hidden units on real data (MNIST digits), within 0.05 nats of the exact log Z at every checkpoint;
the log Z of trajectory tempering over a run's checkpoints; resampling; exact resume; the
training itself left unchanged by following log Z; the one-line refusals of ``evaluate``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data import load_mnist
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI
from boltzkit.sampling.tempering import ParallelTempering
from boltzkit.sampling.trajectory_ais import TrajectoryAIS, bennett_log_ratio, ptt_log_partition
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()
TOL_NATS = 0.05  # the bound for RBMs with up to 20 hidden units trained on real data


def test_bennett_ratio_of_two_known_distributions():
    """Two distributions on 6 states with unnormalised weights exp(-F0), exp(-F1): BAR from exact
    draws of each recovers log(Z1 / Z0); with 20000 draws per side its standard error is about
    0.01 (the overlap is large), so 0.04 is four of them."""
    g = torch.Generator().manual_seed(0)
    f0 = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.5, 3.0], dtype=torch.float64)
    f1 = torch.tensor([1.0, 0.2, 2.5, 0.0, 2.0, 1.0], dtype=torch.float64)
    x0 = torch.multinomial(torch.softmax(-f0, 0), 20000, True, generator=g)
    x1 = torch.multinomial(torch.softmax(-f1, 0), 20000, True, generator=g)
    forward, reverse = (f1 - f0)[x0][None], (f1 - f0)[x1][None]
    delta = float(bennett_log_ratio(forward, reverse)[0])
    exact = float(torch.logsumexp(-f1, 0) - torch.logsumexp(-f0, 0))
    assert -delta == pytest.approx(exact, abs=0.04)


def small_path(steps: int, seed: int = 0) -> list[RBM]:
    """Models on a straight line in parameter space from the independent-site model to a random
    RBM with strong couplings (10 visible, 5 hidden units: 2^5 hidden states to sum)."""
    g = torch.Generator().manual_seed(seed)
    w = 1.5 * torch.randn(10, 5, generator=g, dtype=torch.float64)
    b, c = torch.randn(10, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    return [RBM(t * w, b, t * c, BERNOULLI, BERNOULLI) for t in np.linspace(0.0, 1.0, steps)]


@pytest.mark.parametrize("steps, expect_resampling", [(400, False), (6, True)])
def test_replayed_trajectory_follows_the_exact_log_z(steps, expect_resampling):
    """Along 400 small moves the weights stay even (no resampling); along 5 large ones the
    effective sample size falls below 0.3 and groups are resampled. Both stay within 4 of their
    own error bars (and 0.05 nats) of the exact log Z at every model."""
    models = small_path(steps)
    tracker = TrajectoryAIS.start(models[0], 2000, torch.Generator().manual_seed(1))
    for old, new in zip(models, models[1:]):
        tracker.before(old)
        tracker.after(new)
        est, exact = tracker.estimate(), new.log_partition_exact()
        assert abs(est.log_z - exact) < max(4 * est.error, 1e-6) + 0.01 and abs(est.log_z - exact) < TOL_NATS
    assert (tracker.resamplings > 0) == expect_resampling


def test_trajectory_tempering_log_z_on_the_small_path():
    """Bennett ratios between the replicas of trajectory tempering over 30 models of the path
    (replica 0 the independent-site model, exact log Z): within 0.05 nats and 4 error bars; the
    progress runs from the burn-in to the last sweep, up to --ais-steps."""
    models = small_path(30)
    base = models[0]
    pt = ParallelTempering.trajectory(models, 500, torch.Generator().manual_seed(2))
    seen: list[int] = []
    est = ptt_log_partition(pt, base.log_partition_exact(), 300, 100, progress=seen.append)
    exact = models[-1].log_partition_exact()
    assert abs(est.log_z - exact) < min(TOL_NATS, 4 * est.error + 1e-3), (est, exact)
    assert len(seen) == 400 and seen == sorted(seen) and seen[0] == 0 and seen[-1] == 300


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return torch.as_tensor(load_mnist(n=2000).samples, dtype=torch.float32)


def mnist_trainer(digits, path, track: int = 1000, seed: int = 0) -> Trainer:
    g = torch.Generator().manual_seed(seed)
    p = digits.double().mean(0).clamp(1e-3, 1 - 1e-3)  # the usual start: the data's one-site fields
    model = RBM(0.01 * torch.randn(784, 12, generator=g), torch.log(p / (1 - p)).float(), torch.zeros(12),
                BERNOULLI, BERNOULLI).to(dtype=torch.float32)
    cfg = TrainingConfig(method="pcd", n_updates=300, batch_size=200, n_chains=200, gibbs_steps=5,
                         learning_rate=0.02, n_checkpoints=6, track_log_z=track, seed=seed)
    return Trainer(model, digits, cfg, out=path)


def test_log_z_followed_in_training_matches_exact(digits, tmp_path):
    """An RBM with 12 hidden units trained by PCD on 2000 MNIST digits, log Z followed by 1000
    chains: within 0.05 nats of the exact value (2^12 hidden states) at every checkpoint, and the
    run stores it where ``evaluate --log-z trajectory`` reads it."""
    trainer = mnist_trainer(digits, tmp_path / "run.h5")
    trainer.start()
    trainer.run()
    infos = trajectory.checkpoint_info(tmp_path / "run.h5")
    models = trajectory.load_models(tmp_path / "run.h5")
    assert len(infos) == 6
    for info, (update, model) in zip(infos, models):
        exact = model.to(dtype=torch.float64).log_partition_exact()
        assert abs(info["log_z"] - exact) < TOL_NATS, (update, info["log_z"], exact)
    assert models[-1][1].to(dtype=torch.float64).log_partition_exact() > models[0][1].to(
        dtype=torch.float64).log_partition_exact() + 1.0  # the model did move: the check is not idle


def test_following_log_z_leaves_training_unchanged_and_resumes_exactly(digits, tmp_path):
    plain = mnist_trainer(digits, tmp_path / "plain.h5", track=0)
    plain.start()
    plain.run()
    whole = mnist_trainer(digits, tmp_path / "whole.h5", track=200)
    whole.start()
    whole.run()
    for name, tensor in plain.model.parameters().items():
        assert torch.equal(tensor, whole.model.parameters()[name]), name
    cut = mnist_trainer(digits, tmp_path / "cut.h5", track=200)
    cut.start()
    cut.run(stop_after=120)  # the last save before it: the checkpoint at update 111 of the log schedule
    again = mnist_trainer(digits, tmp_path / "cut.h5", track=200)
    again.resume()
    again.run()
    a = [i["log_z"] for i in trajectory.checkpoint_info(tmp_path / "whole.h5")]
    b = [i["log_z"] for i in trajectory.checkpoint_info(tmp_path / "cut.h5")]
    assert a == b


def test_evaluate_reads_the_followed_log_z_and_refuses_without_it(tmp_path):
    data = tmp_path / "d.npy"
    np.save(data, (np.random.default_rng(0).random((200, 8)) > 0.5).astype(np.uint8))
    common = ["--hidden", "3", "--updates", "30", "--chains", "40", "--batch-size", "40", "--no-check",
              "--checkpoints", "4"]
    assert runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "t.h5"), "--track-log-z", "200",
                               *common]).exit_code == 0
    assert runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "p.h5"), *common]).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(tmp_path / "t.h5"), "--log-z", "trajectory", "--json",
                                 "--moment-samples", "10", "--moment-steps", "1"])
    assert result.exit_code == 0, result.output
    stored = trajectory.checkpoint_info(tmp_path / "t.h5")[-1]["log_z"]
    assert f'"log_z": {stored}' in result.output.replace("\n", " ") or str(round(stored, 6))[:8] in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path / "p.h5"), "--log-z", "trajectory", "--json",
                                 "--moment-samples", "10", "--moment-steps", "1"])
    assert "trained without --track-log-z" in result.output
    exact = trajectory.load_model(tmp_path / "p.h5").to(dtype=torch.float64).log_partition_exact()
    result = runner.invoke(app, ["evaluate", str(tmp_path / "p.h5"), "--log-z", "ptt", "--json",
                                 "--ais-chains", "200", "--ais-steps", "200", "--moment-samples", "10",
                                 "--moment-steps", "1"])
    assert result.exit_code == 0, result.output
    import json
    value = json.loads(result.output)["log_z"]
    assert abs(value - exact) < TOL_NATS and math.isfinite(value)


def test_refusals():
    with pytest.raises(Exception, match="--track-log-z"):
        TrainingConfig(method="exact", track_log_z=100)
    with pytest.raises(Exception, match="--sampler pt"):
        TrainingConfig(method="cd", sampler="pt")
    with pytest.raises(Exception, match="--track-log-z"):
        TrajectoryAIS.start(small_path(2)[0], 1, torch.Generator())
    with pytest.raises(Exception, match="--track-log-z is a number of chains"):
        TrainingConfig(track_log_z=1)
    with pytest.raises(Exception, match="--pretrain-dims: the directions of --pretrain low-rank"):
        TrainingConfig(pretrain_dims=3)
    assert TrainingConfig(pretrain="low-rank").pretrain_dims == 2
