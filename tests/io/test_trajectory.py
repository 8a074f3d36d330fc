"""The run file: round trips of config, checkpoints and resume state; atomic appends."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
import torch

from boltzkit.errors import DataError
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.models.units import SPIN
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")


def params_of(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"weights": torch.randn(4, 3, generator=g), "visible_bias": torch.randn(4, generator=g),
            "hidden_bias": torch.randn(3, generator=g)}


def state_of(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.1)
    return {"chains": torch.randint(0, 2, (6, 4), generator=g).float(),
            "rng": torch.Generator().manual_seed(seed + 1).get_state(),
            "data_rng": torch.Generator().manual_seed(seed + 2).get_state(),
            "optimizer": opt.state_dict(), "permutation": np.arange(10)[::-1].copy(), "cursor": 3}


CONFIG = {"model": {"kind": "ising-rbm", "family": "rbm", "n_visible": 4, "n_hidden": 3,
                    "visible_units": "spin", "hidden_units": "spin"},
          "training": {"method": "pcd", "seed": 1}}


@pytest.fixture
def run_file(tmp_path):
    path = tmp_path / "run.h5"
    sample = np.array([[0, 1, 1, 0], [1, 1, 0, 0]], dtype=np.uint8)
    trajectory.create(path, CONFIG, sample, np.array(["a", "b"]), (2, 2))
    trajectory.append(path, 1, params_of(1), 0.5, 0.01, True, state_of(1))
    trajectory.append(path, 10, params_of(10), 2.5, 0.01, True, state_of(10))
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trips(run_file):
    assert trajectory.read_config(run_file) == CONFIG
    assert trajectory.checkpoint_updates(run_file) == [1, 10]
    for update in (1, 10):
        for name, tensor in trajectory.read_params(run_file, update).items():
            assert torch.equal(tensor, params_of(update)[name])
    assert torch.equal(trajectory.read_params(run_file)["weights"], params_of(10)["weights"])
    info = trajectory.checkpoint_info(run_file)
    assert [i["update"] for i in info] == [1, 10] and info[1]["wall_time"] == 2.5

    model = trajectory.load_model(run_file, 1)
    assert isinstance(model, RBM) and model.visible_units is SPIN
    assert torch.equal(model.weights, params_of(1)["weights"])
    assert [u for u, _ in trajectory.load_models(run_file)] == [1, 10]

    state, expected = trajectory.read_state(run_file), state_of(10)
    assert state.update == 10 and state.wall_time == 2.5 and state.cursor == 3
    assert torch.equal(state.chains, expected["chains"])
    assert torch.equal(state.rng, expected["rng"])
    assert torch.equal(state.data_rng, expected["data_rng"])
    np.testing.assert_array_equal(state.permutation, expected["permutation"])
    assert state.optimizer["param_groups"][0]["lr"] == 0.1

    samples, labels, shape = trajectory.read_data_sample(run_file)
    np.testing.assert_array_equal(samples, [[0, 1, 1, 0], [1, 1, 0, 0]])
    assert list(labels) == ["a", "b"] and shape == (2, 2)


def test_state_only_append_adds_no_checkpoint(run_file):
    trajectory.append(run_file, 12, params_of(12), 3.0, 0.01, False, state_of(12))
    assert trajectory.checkpoint_updates(run_file) == [1, 10]
    assert trajectory.read_state(run_file).update == 12
    assert torch.equal(trajectory.read_state(run_file).params["weights"], params_of(12)["weights"])


def test_clear_errors(tmp_path, run_file):
    with pytest.raises(DataError, match="no such run file"):
        trajectory.read_config(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not an HDF5 file"):
        trajectory.read_config(junk)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DataError, match="not a boltzkit run file"):
        trajectory.read_params(tmp_path / "other.h5")
    with pytest.raises(DataError, match=r"no checkpoint at update 5 \(available: 1, 10\)"):
        trajectory.read_params(run_file, 5)
    empty = tmp_path / "empty.h5"
    trajectory.create(empty, CONFIG)
    with pytest.raises(DataError, match="no checkpoint"):
        trajectory.read_params(empty)
    with pytest.raises(DataError, match="no resume state"):
        trajectory.read_state(empty)


@pytest.mark.parametrize("fail_at", [1, 4, 9])
def test_crash_inside_append_leaves_the_previous_file(run_file, monkeypatch, fail_at):
    """A crash while writing the new checkpoint/state (here: the fail_at-th dataset creation
    raises) leaves the previous file byte for byte, still readable, and no temporary file."""
    before = digest(run_file)
    real = h5py.Group.create_dataset
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        trajectory.append(run_file, 20, params_of(20), 4.0, 0.01, True, state_of(20))
    monkeypatch.undo()

    assert calls["n"] == fail_at
    assert digest(run_file) == before
    assert trajectory.checkpoint_updates(run_file) == [1, 10]
    assert trajectory.read_state(run_file).update == 10
    assert [p.name for p in run_file.parent.iterdir()] == [run_file.name]
    # and the file can still be appended to
    trajectory.append(run_file, 20, params_of(20), 4.0, 0.01, True, state_of(20))
    assert trajectory.checkpoint_updates(run_file) == [1, 10, 20]


def test_crash_during_training_save_then_resume(tmp_path, monkeypatch, structured_data):
    """A trainer whose save crashes can be resumed from the last complete save."""
    data = structured_data(60, 8, seed=1).float()
    cfg = TrainingConfig(method="pcd", n_updates=12, batch_size=20, n_chains=10, gibbs_steps=2,
                         learning_rate=0.05, n_checkpoints=3, spacing="linear", seed=3)
    model = RBM.init_from_data(data, 3, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(model, data, cfg, out=tmp_path / "run.h5")
    trainer.start()
    trainer.run(stop_after=4)  # saves at 4
    real = h5py.Group.create_dataset

    def failing(self, name, *args, **kwargs):
        if name == "optimizer":
            raise OSError("killed while saving (simulated)")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        trainer.run()  # the next save (update 8) crashes
    monkeypatch.undo()
    assert trajectory.checkpoint_updates(tmp_path / "run.h5") == [4]

    again = Trainer(RBM.init_from_data(data, 3), data, cfg, out=tmp_path / "run.h5")
    again.resume()
    assert again.update == 4
    again.run()
    assert trajectory.checkpoint_updates(tmp_path / "run.h5") == [4, 8, 12]


def test_create_replaces_and_crash_in_create_keeps_old(run_file, monkeypatch):
    before = digest(run_file)
    monkeypatch.setattr(h5py.Group, "create_group",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("simulated")))
    with pytest.raises(OSError):
        trajectory.create(run_file, {"model": {}})
    monkeypatch.undo()
    assert digest(run_file) == before
    trajectory.create(run_file, CONFIG)  # a real create starts a new, empty run
    assert trajectory.checkpoint_updates(run_file) == []
