"""An interrupted and resumed run is bit-identical to the uninterrupted one.

The trainer saves its whole state (parameters, persistent chains, both generators, optimizer
state, minibatch permutation and cursor) at every checkpoint and every ``save_every`` updates.
A run stopped after M updates restarts from the last save (possibly before M, replaying the
updates in between) and must then produce exactly the same numbers: the final parameters AND
every checkpoint are compared with torch.equal, no tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.estimator import BernoulliRBM
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.training.config import TrainingConfig, checkpoint_schedule
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")

N_UPDATES = 30


@pytest.fixture
def data(structured_data) -> torch.Tensor:
    # 200 rows, batch 50: the permutation is redrawn every 4 updates, so the data generator and
    # the cursor are part of the state that must survive.
    return structured_data(200, 12, seed=3).float()


def fresh_model(data: torch.Tensor, seed: int = 0) -> RBM:
    g = torch.Generator().manual_seed(seed)
    return RBM.init_from_data(data, 5, generator=g, weight_std=0.05)


def config(optimizer: str, save_every: int = 0, method: str = "pcd") -> TrainingConfig:
    return TrainingConfig(method=method, n_updates=N_UPDATES, batch_size=50, n_chains=20,
                          gibbs_steps=3, learning_rate=0.05 if optimizer == "sgd" else 0.01,
                          optimizer=optimizer, n_checkpoints=5, spacing="log",
                          save_every=save_every, seed=7)


def uninterrupted(data, cfg, path: Path) -> RBM:
    model = fresh_model(data)
    trainer = Trainer(model, data, cfg, out=path)
    trainer.start()
    return trainer.run()


def interrupted(data, cfg, path: Path, stop_after: int) -> tuple[RBM, int]:
    first = Trainer(fresh_model(data), data, cfg, out=path)
    first.start()
    first.run(stop_after=stop_after)
    assert first.update == stop_after
    # A new process: a new model (even initialised differently) and a new trainer on the file.
    second = Trainer(fresh_model(data, seed=99), data, cfg, out=path)
    second.resume()
    resumed_from = second.update
    return second.run(), resumed_from


def assert_same_run(a: Path, b: Path, model_a: RBM, model_b: RBM) -> None:
    for name, tensor in model_a.parameters().items():
        assert torch.equal(tensor, model_b.parameters()[name]), name
    assert trajectory.checkpoint_updates(a) == trajectory.checkpoint_updates(b)
    for (ua, ma), (ub, mb) in zip(trajectory.load_models(a), trajectory.load_models(b)):
        assert ua == ub
        for name, tensor in ma.parameters().items():
            assert torch.equal(tensor, mb.parameters()[name]), (ua, name)
    sa, sb = trajectory.read_state(a), trajectory.read_state(b)
    assert sa.update == sb.update == N_UPDATES
    assert torch.equal(sa.chains, sb.chains) and torch.equal(sa.rng, sb.rng)


def test_schedule_used_below():
    # log spacing of 5 checkpoints over 30 updates; 17 is not a save point, 13 is.
    assert checkpoint_schedule(N_UPDATES, 5, "log") == [1, 2, 5, 13, 30]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(("stop_after", "save_every", "expected_restart"), [
    pytest.param(13, 0, 13, id="stop-at-checkpoint"),
    pytest.param(17, 0, 13, id="stop-between-checkpoints"),
    pytest.param(17, 4, 16, id="stop-between-save-every"),
])
def test_resumed_pcd_run_is_bit_identical(tmp_path, data, optimizer, stop_after, save_every,
                                          expected_restart):
    cfg = config(optimizer, save_every)
    full = uninterrupted(data, cfg, tmp_path / "full.h5")
    resumed, restart = interrupted(data, cfg, tmp_path / "run.h5", stop_after)
    assert restart == expected_restart
    assert_same_run(tmp_path / "full.h5", tmp_path / "run.h5", full, resumed)


def test_resume_without_the_state_would_differ(tmp_path, data):
    """Guard: the comparison above is sensitive. Restarting from the saved parameters alone
    (fresh chains, generators and optimizer) gives different final parameters."""
    cfg = config("adam")
    full = uninterrupted(data, cfg, tmp_path / "full.h5")
    first = Trainer(fresh_model(data), data, cfg, out=tmp_path / "run.h5")
    first.start()
    first.run(stop_after=13)
    model = fresh_model(data)
    for name, t in trajectory.read_params(tmp_path / "run.h5", 13).items():
        model.parameters()[name].copy_(t)
    naive = Trainer(model, data, cfg)
    naive.update = 13
    naive.run()
    assert not torch.equal(full.weights, model.weights)


@pytest.mark.parametrize("method", ["cd", "rdm"])
def test_resumed_non_persistent_runs_are_bit_identical(tmp_path, data, method):
    cfg = config("adam", save_every=0, method=method)
    full = uninterrupted(data, cfg, tmp_path / "full.h5")
    resumed, _ = interrupted(data, cfg, tmp_path / "run.h5", 17)
    for name, tensor in full.parameters().items():
        assert torch.equal(tensor, resumed.parameters()[name]), name


def test_estimator_fit_resume_matches_uninterrupted_fit(tmp_path, data):
    x = data.numpy().astype(np.float64)
    kwargs = dict(n_hidden=5, method="pcd", n_updates=N_UPDATES, batch_size=50, n_chains=20,
                  gibbs_steps=3, learning_rate=0.01, optimizer="adam", n_checkpoints=5,
                  random_state=7)
    full = BernoulliRBM(out=tmp_path / "full.h5", **kwargs).fit(x)

    # Interrupt the same run: the estimator's own trainer, stopped after 17 updates.
    est = BernoulliRBM(out=tmp_path / "run.h5", **kwargs)
    tensor = torch.as_tensor(x, dtype=torch.float32)
    cfg = est._training_config()
    model = RBM.init_from_data(tensor, 5, generator=torch.Generator().manual_seed(cfg.seed))
    trainer = Trainer(model, tensor, cfg, out=tmp_path / "run.h5")
    trainer.start()
    trainer.run(stop_after=17)

    resumed = est.fit(x, resume=True)
    np.testing.assert_array_equal(resumed.weights_, full.weights_)
    np.testing.assert_array_equal(resumed.visible_bias_, full.visible_bias_)
    np.testing.assert_array_equal(resumed.hidden_bias_, full.hidden_bias_)
