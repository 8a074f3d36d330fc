"""Learning-rate schedules of the Trainer (docs/methods.md section 6.6).

The rate of each update against the section's formulas; the default constant schedule leaves
training bit-identical to a trainer without a scheduler; a decaying run interrupted and resumed
ends bit-identical to the uninterrupted one (the scheduler state is in the run file); ``--resume
--updates N`` recomputes a decaying schedule over the new total; the CLI stores the flags.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli import main as cli_main
from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.models.rbm import RBM
from boltzkit.training import trainer as trainer_module
from boltzkit.training.config import TrainingConfig, checkpoint_schedule
from boltzkit.training.schedule import learning_rates
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")

LR, LR_FINAL, T = 0.05, 0.002, 24


@pytest.fixture
def data(structured_data) -> torch.Tensor:
    return structured_data(120, 10, seed=5).float()


def fresh_model(data: torch.Tensor, seed: int = 0) -> RBM:
    return RBM.init_from_data(data, 4, generator=torch.Generator().manual_seed(seed), weight_std=0.05)


def config(schedule: str = "constant", n_updates: int = T, optimizer: str = "adam",
           save_every: int = 0) -> TrainingConfig:
    return TrainingConfig(method="pcd", n_updates=n_updates, batch_size=40, n_chains=16, gibbs_steps=2,
                          learning_rate=LR, lr_schedule=schedule,
                          lr_final=None if schedule == "constant" else LR_FINAL, optimizer=optimizer,
                          n_checkpoints=4, spacing="log", save_every=save_every, seed=3)


def rates_of_run(trainer: Trainer, stop_after: int | None = None) -> list[float]:
    """The step size each update used, read from the optimizer before its step."""
    rates = []
    end = trainer.config.n_updates if stop_after is None else stop_after
    while trainer.update < end:
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.run(stop_after=trainer.update + 1)
        assert trainer.last_learning_rate == rates[-1]
    return rates


def expected(schedule: str, t: int, n_updates: int = T) -> float:
    """docs/methods.md section 6.6, written out again."""
    x = t / (n_updates - 1)
    if schedule == "geometric":
        return LR * (LR_FINAL / LR) ** x
    if schedule == "cosine":
        return LR_FINAL + (LR - LR_FINAL) * (1 + math.cos(math.pi * x)) / 2
    return LR


@pytest.mark.parametrize("schedule", ["constant", "geometric", "cosine"])
def test_each_update_uses_the_rate_of_its_formula(data, schedule):
    cfg = config(schedule)
    rates = rates_of_run(Trainer(fresh_model(data), data, cfg))
    assert len(rates) == T
    for t in (0, 1, 7, T // 2, T - 2, T - 1):
        assert rates[t] == pytest.approx(expected(schedule, t), rel=1e-12), t
    assert rates[0] == LR and rates[-1] == pytest.approx(LR if schedule == "constant" else LR_FINAL, rel=1e-12)
    assert rates == pytest.approx(learning_rates(cfg), rel=1e-15)
    if schedule != "constant":
        assert all(a > b for a, b in zip(rates, rates[1:]))  # decays at every update


def test_geometric_decays_by_one_factor_and_cosine_is_symmetric():
    geometric = learning_rates(config("geometric"))
    ratios = [b / a for a, b in zip(geometric, geometric[1:])]
    assert ratios == pytest.approx([(LR_FINAL / LR) ** (1 / (T - 1))] * (T - 1), rel=1e-12)
    cosine = learning_rates(config("cosine", n_updates=5))
    assert cosine[2] == pytest.approx((LR + LR_FINAL) / 2, rel=1e-12)  # the half-way point
    assert learning_rates(config("cosine", n_updates=1)) == [LR]  # one update: η


class _NoScheduler:
    """What the Trainer did before schedules existed: nothing between optimizer steps."""

    def __init__(self, optimizer, config, done=0):
        pass

    def step(self):
        pass

    def state_dict(self):
        return None


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_constant_schedule_is_bit_identical_to_no_scheduler(data, monkeypatch, optimizer):
    scheduled = Trainer(fresh_model(data), data, config("constant", optimizer=optimizer)).run()
    monkeypatch.setattr(trainer_module, "make_scheduler", _NoScheduler)
    plain = Trainer(fresh_model(data), data, config("constant", optimizer=optimizer)).run()
    for name, tensor in plain.parameters().items():
        assert torch.equal(tensor, scheduled.parameters()[name]), name


@pytest.mark.parametrize("schedule", ["geometric", "cosine"])
@pytest.mark.parametrize(("stop_after", "save_every", "restart"), [(8, 0, 8), (11, 0, 8), (11, 5, 10)])
def test_resumed_decaying_run_is_bit_identical(tmp_path, data, schedule, stop_after, save_every, restart):
    cfg = config(schedule, save_every=save_every)
    assert checkpoint_schedule(T, cfg.n_checkpoints, cfg.spacing) == [1, 3, 8, 24]
    full = Trainer(fresh_model(data), data, cfg, out=tmp_path / "full.h5")
    full.start()
    full_rates = rates_of_run(full)

    first = Trainer(fresh_model(data), data, cfg, out=tmp_path / "run.h5")
    first.start()
    first.run(stop_after=stop_after)  # killed here: the file holds the last save
    second = Trainer(fresh_model(data, seed=99), data, cfg, out=tmp_path / "run.h5")
    second.resume()
    assert second.update == restart
    saved = trajectory.read_state(tmp_path / "run.h5").scheduler
    assert second.scheduler.state_dict() == saved and saved["last_epoch"] == restart
    assert saved["lr_lambdas"][0] == {"schedule": schedule, "ratio": LR_FINAL / LR, "n_updates": T}
    assert rates_of_run(second) == full_rates[restart:]  # exactly, not approximately
    for name, tensor in full.model.parameters().items():
        assert torch.equal(tensor, second.model.parameters()[name]), name
    assert full.scheduler.state_dict() == second.scheduler.state_dict()
    for a, b in zip(trajectory.load_models(tmp_path / "full.h5"), trajectory.load_models(tmp_path / "run.h5")):
        assert a[0] == b[0] and all(torch.equal(t, b[1].parameters()[n]) for n, t in a[1].parameters().items())
    assert _checkpoint_rates(tmp_path / "full.h5") == _checkpoint_rates(tmp_path / "run.h5")


def _checkpoint_rates(path) -> dict[int, float]:
    with h5py.File(path, "r") as f:
        return {int(k): float(g.attrs["learning_rate"]) for k, g in f["checkpoints"].items()}


def test_checkpoints_record_the_rate_of_their_last_update(tmp_path, data):
    cfg = config("geometric")
    trainer = Trainer(fresh_model(data), data, cfg, out=tmp_path / "run.h5")
    trainer.start()
    trainer.run()
    rates = learning_rates(cfg)
    for update, rate in _checkpoint_rates(tmp_path / "run.h5").items():
        assert rate == pytest.approx(rates[update - 1], rel=1e-15)


@pytest.mark.parametrize("schedule", ["geometric", "cosine"])
def test_resume_with_another_total_recomputes_the_schedule(tmp_path, data, schedule):
    """docs/methods.md 6.6: after t_r updates, the rest follow the schedule of the new total."""
    first = Trainer(fresh_model(data), data, config(schedule, n_updates=12), out=tmp_path / "run.h5")
    first.start()
    first.run()
    longer = config(schedule, n_updates=30)
    second = Trainer(fresh_model(data), data, longer, out=tmp_path / "run.h5")
    second.resume()
    rates = rates_of_run(second)
    assert len(rates) == 18
    assert rates == pytest.approx(learning_rates(longer)[12:], rel=1e-12)
    assert rates[0] > LR_FINAL and rates[-1] == pytest.approx(LR_FINAL, rel=1e-12)
    assert second.scheduler.lr_lambdas[0].n_updates == 30 and second.scheduler.last_epoch == 30


def test_a_run_file_without_scheduler_state_resumes_at_a_constant_rate(tmp_path, data):
    """Run files written before schedules existed have no /state/scheduler: constant rate."""
    cfg = config("constant", save_every=0)
    full = Trainer(fresh_model(data), data, cfg, out=tmp_path / "full.h5")
    full.start()
    full.run()
    first = Trainer(fresh_model(data), data, cfg, out=tmp_path / "run.h5")
    first.start()
    first.run(stop_after=8)
    with h5py.File(tmp_path / "run.h5", "a") as f:
        del f["state"]["scheduler"]
    assert trajectory.read_state(tmp_path / "run.h5").scheduler is None
    second = Trainer(fresh_model(data), data, cfg, out=tmp_path / "run.h5")
    second.resume()
    assert second.scheduler.last_epoch == 8
    second.run()
    for name, tensor in full.model.parameters().items():
        assert torch.equal(tensor, second.model.parameters()[name]), name


# ----------------------------------------------------------------------------- the command line
runner = CliRunner()
FLAGS = ["--hidden", "3", "--batch-size", "20", "--chains", "20", "--gibbs-steps", "2", "--lr", "0.05",
         "--optimizer", "adam", "--save-every", "5", "--checkpoints", "3", "--quiet"]


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", (rng.random((60, 8)) < 0.4).astype(np.uint8))
    return tmp_path


def train(folder, *args):
    return runner.invoke(app, ["train", str(folder / "x.npy"), *map(str, args)])


def test_cli_constant_flags_change_nothing(folder):
    assert train(folder, "-o", folder / "a.h5", "--updates", "15", *FLAGS).exit_code == 0
    result = train(folder, "-o", folder / "b.h5", "--updates", "15", "--lr-schedule", "constant", *FLAGS)
    assert result.exit_code == 0, result.output
    a, b = trajectory.read_params(folder / "a.h5"), trajectory.read_params(folder / "b.h5")
    assert all(torch.equal(a[name], b[name]) for name in a)
    training = trajectory.read_config(folder / "a.h5")["training"]
    assert training["lr_schedule"] == "constant" and training["lr_final"] is None


def test_cli_stores_the_schedule_and_a_killed_run_resumes_exactly(folder, monkeypatch):
    schedule = ["--lr-schedule", "geometric", "--lr-final", "0.001"]
    assert train(folder, "-o", folder / "once.h5", "--updates", "20", *schedule, *FLAGS).exit_code == 0
    training = trajectory.read_config(folder / "once.h5")["training"]
    assert training["lr_schedule"] == "geometric" and training["lr_final"] == 0.001
    assert _checkpoint_rates(folder / "once.h5")[20] == pytest.approx(0.001, rel=1e-12)

    with monkeypatch.context() as m:  # Ctrl-C after update 13: the file keeps the save of update 10
        m.setattr(cli_main, "progress_bar", _interrupted_after(13))
        result = train(folder, "-o", folder / "twice.h5", "--updates", "20", *schedule, *FLAGS)
    assert result.exit_code == 130 and trajectory.read_state(folder / "twice.h5").update == 10
    result = train(folder, "-o", folder / "twice.h5", "--resume", "--updates", "20", *schedule, "--quiet")
    assert result.exit_code == 0, result.output
    a, b = trajectory.read_params(folder / "once.h5"), trajectory.read_params(folder / "twice.h5")
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert _checkpoint_rates(folder / "once.h5") == _checkpoint_rates(folder / "twice.h5")

    result = train(folder, "-o", folder / "twice.h5", "--resume", "--lr-final", "0.002",
                   "--lr-schedule", "geometric", "--quiet")
    assert result.exit_code == 2 and "--lr-final 0.002 (the run has 0.001)" in result.output


def _interrupted_after(update: int):
    @contextmanager
    def progress_bar(description, total, enabled=True):
        def advance(n: int) -> None:
            if n == update:
                raise KeyboardInterrupt
        yield advance
    return progress_bar


def test_cli_resume_with_more_updates_ends_at_lr_final(folder):
    schedule = ["--lr-schedule", "cosine", "--lr-final", "0.001"]
    assert train(folder, "-o", folder / "run.h5", "--updates", "10", *schedule, *FLAGS).exit_code == 0
    result = train(folder, "-o", folder / "run.h5", "--resume", "--updates", "25", "--quiet")
    assert result.exit_code == 0, result.output
    assert trajectory.read_config(folder / "run.h5")["training"]["n_updates"] == 25
    state = trajectory.read_state(folder / "run.h5")
    assert state.update == 25 and state.scheduler["last_epoch"] == 25
    assert state.scheduler["lr_lambdas"][0]["n_updates"] == 25
    assert _checkpoint_rates(folder / "run.h5")[25] == pytest.approx(0.001, rel=1e-12)
