"""Runs of the Gaussian-visible RBM through the one training entry, the CLI and the estimator:
real-valued files read and standardised, log-likelihoods in the data's units beside the two
Gaussian baselines, exact training, resume, and the flags that belong to other families refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import boltzkit
import boltzkit.sampling.gibbs
from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.models.registry import family
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()


def correlated_rows(n: int = 400, seed: int = 0) -> np.ndarray:
    """``n`` rows of 5 features in very different units, driven by two shared latent factors
    (strong correlations, which independent Gaussians cannot see), plus one constant column."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    mix = np.array([[1.0, 0.2], [0.9, -0.3], [0.1, 1.0], [-0.2, 0.8], [0.7, 0.7]])
    x = z @ mix.T + 0.25 * rng.standard_normal((n, 5))
    x = x * np.array([1.0, 100.0, 0.01, 5.0, 2.0]) + np.array([0.0, 500.0, 0.1, -3.0, 10.0])
    return np.column_stack([x[:, :2], np.full(n, 7.5), x[:, 2:]])


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "features.csv"
    rows = correlated_rows()
    lines = ["alpha,beta,fixed,gamma,delta,eps"] + [",".join(f"{v:.6g}" for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def train(data: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["train", str(data), "--out", str(out), "--model", "gaussian-rbm",
                                 "--quiet", "--checkpoints", "3", *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def run(table, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("runs") / "grbm.h5"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    result = train(table, out, "--hidden", "6", "--updates", "600", "--lr", "0.05", "--batch-size",
                   "100", "--chains", "100", "--test-fraction", "0.25", "--sampler", "gibbs-langevin",
                   "--langevin-steps", "5", "--no-check")
    torch.set_num_threads(previous)
    return out, result.output


def test_constant_column_is_a_one_line_note_and_left_out(run):
    out, output = run
    assert "note:" in output and "column 2 'fixed'" in output and "Traceback" not in output
    model = trajectory.load_model(out)
    assert model.n_visible == 5 and model.visible.real and model.visible.scale is not None
    assert model.config()["sampler"] == "gibbs-langevin" and model.sampler.langevin_steps == 5


def test_log_likelihood_is_in_the_data_units_and_beats_independent_gaussians(run):
    out, _ = run
    result = runner.invoke(app, ["evaluate", str(out), "--json", "--moment-samples", "200",
                                 "--moment-steps", "50"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["log_z_method"] == "exact"  # 6 hidden units: 64 hidden states summed
    baselines = r["baseline_log_likelihood"]
    assert set(baselines) == {"independent-site", "full-covariance"}
    # the model's log-density of the test rows, in the file's units, from scratch:
    # log p(x) = -F((x - o) / s) - log Z - sum_i log s_i (the Jacobian of the standardisation)
    model = trajectory.load_model(out).to(dtype=torch.float64)
    _, test = trajectory.run_datasets(out)
    space = model.visible
    z = torch.as_tensor((test.samples - np.array(space.offset)) / np.array(space.scale))
    manual = float((-model.free_energy(z) - r["log_z"]).mean()) - float(np.log(space.scale).sum())
    assert r["log_likelihood"]["test"] == pytest.approx(manual, abs=1e-4)  # float32 rows vs float64
    # two latent Gaussian factors: the full covariance gains 3.1 nats per test row over independent
    # Gaussians; 600 updates of a 6-unit RBM (a mixture of 64 Gaussians) gain 1.3 of them (seed 0)
    gain = r["log_likelihood"]["test"] - baselines["independent-site"]["test"]
    assert gain > 0.8, r
    assert baselines["full-covariance"]["test"] > baselines["independent-site"]["test"] + 2.5


def test_samples_of_the_run_come_back_near_the_data(run):
    out, _ = run
    model = trajectory.load_model(out)
    g = torch.Generator().manual_seed(0)
    x = model.visible.to_data(boltzkit.sampling.gibbs.sample(model, 2000, 200, g))
    train_rows, _ = trajectory.run_datasets(out)
    mean, std = train_rows.samples.mean(0), train_rows.samples.std(0)
    # means within 0.3 data standard deviations (a trained 6-unit model, 2000 samples)
    assert np.all(np.abs(x.mean(0) - mean) < 0.3 * std), (x.mean(0), mean)


def test_exact_training_improves_the_likelihood(table, tmp_path):
    out = tmp_path / "exact.h5"
    train(table, out, "--hidden", "4", "--updates", "300", "--method", "exact", "--lr", "0.05",
          "--batch-size", "400", "--no-check")
    first, last = trajectory.checkpoint_updates(out)[0], trajectory.checkpoint_updates(out)[-1]
    train_rows, _ = trajectory.run_datasets(out)
    scores = []
    for update in (first, last):
        model = trajectory.load_model(out, update).to(dtype=torch.float64)
        x = model.visible.tensor(train_rows.samples, torch.float64, "cpu")
        scores.append(float((-model.free_energy(x)).mean()) - model.log_partition_exact())
    assert scores[1] > scores[0] + 1.0, scores


def test_no_standardize_keeps_the_file_units(table, tmp_path):
    out = tmp_path / "raw.h5"
    # raw units (a column of scale 0.01 next to one of scale 100): SGD needs a tiny step there
    train(table, out, "--hidden", "2", "--updates", "5", "--no-standardize", "--lr", "1e-7", "--no-check")
    model = trajectory.load_model(out)
    assert model.visible.scale is None and model.config()["standardize"] is False


def test_resumed_gaussian_run_is_bit_identical(tmp_path):
    data = torch.as_tensor(correlated_rows(200, seed=1)[:, [0, 1, 3, 4, 5]], dtype=torch.float32)
    data = (data - data.mean(0)) / data.std(0)
    cfg = TrainingConfig(method="pcd", n_updates=20, batch_size=50, n_chains=20, gibbs_steps=2,
                         learning_rate=0.01, n_checkpoints=4, save_every=3, seed=5)
    entry = family("gaussian-rbm")
    options = {"n_hidden": 3, "sampler": "gibbs-langevin", "langevin_steps": 3}

    def fresh():
        return entry.build(data, None, entry.data_space(data.numpy(), options=dict(options, standardize=False)),
                           options, 0)

    whole = Trainer(fresh(), data, cfg, out=tmp_path / "a.h5")
    whole.start()
    expected = whole.run()
    first = Trainer(fresh(), data, cfg, out=tmp_path / "b.h5")
    first.start()
    first.run(stop_after=11)
    second = Trainer(fresh(), data, cfg, out=tmp_path / "b.h5")
    second.resume()
    resumed = second.run()
    for name, tensor in expected.parameters().items():
        assert torch.equal(tensor, resumed.parameters()[name]), name


def test_flags_of_other_families_and_kinds_of_data_are_refused(table, tmp_path):
    binary = tmp_path / "b.npy"
    np.save(binary, (np.random.default_rng(0).random((20, 4)) > 0.5).astype(np.uint8))
    cases = [
        (["train", str(binary), "-o", str(tmp_path / "x.h5"), "--sampler", "gibbs-langevin"],
         "--sampler gibbs-langevin: the bernoulli-rbm family samples with its own step"),
        (["train", str(table), "-o", str(tmp_path / "x.h5"), "--model", "gaussian-rbm", "--binarize",
          "stochastic"], "--binarize stochastic: a family of real-valued data"),
        (["train", str(table), "-o", str(tmp_path / "x.h5"), "--model", "gaussian-rbm", "--sampler",
          "hmc"], "--sampler"),
        (["train", str(table), "-o", str(tmp_path / "x.h5"), "--model", "gaussian-rbm",
          "--langevin-step-size", "-1"], "--langevin-step-size"),
        (["train", str(table), "-o", str(tmp_path / "x.h5"), "--model", "gaussian-rbm", "--method", "plm"],
         "--method plm does not train the gaussian-rbm family"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output and not (tmp_path / "x.h5").exists()


def test_resume_refuses_another_sampler(run, table, tmp_path):
    out = tmp_path / "r.h5"
    train(table, out, "--hidden", "2", "--updates", "4", "--no-check")
    result = runner.invoke(app, ["train", str(table), "-o", str(out), "--model", "gaussian-rbm",
                                 "--resume", "--updates", "8", "--sampler", "gibbs-langevin"])
    assert result.exit_code == 2 and "--sampler gibbs-langevin (the run has gibbs)" in result.output


def test_estimator_works_in_the_data_units():
    x = correlated_rows(300, seed=2)[:, [0, 1, 3, 4, 5]]
    model = boltzkit.GaussianRBM(n_hidden=4, n_updates=300, batch_size=100, n_chains=50,
                                 learning_rate=0.01, random_state=0, dtype="float64").fit(x)
    scores = model.score_samples(x[:10])
    space = model.model_.visible
    z = torch.as_tensor((x[:10] - np.array(space.offset)) / np.array(space.scale))
    manual = (-model.model_.free_energy(z) - model.log_partition_).numpy() - np.log(space.scale).sum()
    np.testing.assert_allclose(scores, manual, rtol=1e-10)
    samples = model.sample(500, 100, random_state=1)
    assert np.all(np.abs(samples.mean(0) - x.mean(0)) < 0.3 * x.std(0))
    assert model.transform(x[:3]).shape == (3, 4)
    assert math.isfinite(model.score(x))


def test_exact_training_too_large_is_refused_before_any_file(table, tmp_path):
    out = tmp_path / "big.h5"
    result = runner.invoke(app, ["train", str(table), "-o", str(out), "--model", "gaussian-rbm",
                                 "--hidden", "30", "--method", "exact", "--quiet"])
    assert result.exit_code == 2 and "--method exact sums 2^30 states" in result.output
    assert not out.exists()


def test_resume_without_model_compares_the_flags_with_the_run(table, tmp_path):
    out = tmp_path / "part.h5"
    train(table, out, "--hidden", "2", "--updates", "4", "--no-check")
    result = runner.invoke(app, ["train", str(table), "-o", str(out), "--resume", "--updates", "8",
                                 "--no-standardize"])
    # the stored family's flag, compared with the run (not refused as another family's)
    assert result.exit_code == 2 and "--standardize False (the run has True)" in result.output
    result = runner.invoke(app, ["train", str(table), "-o", str(out), "--resume", "--updates", "8",
                                 "--quiet", "--no-check"])
    assert result.exit_code == 0, result.output


def test_estimator_resume_keeps_the_stored_standardisation(tmp_path):
    x = correlated_rows(200, seed=3)[:, [0, 1, 3, 4, 5]]
    first = boltzkit.GaussianRBM(n_hidden=2, n_updates=10, batch_size=50, n_chains=20, random_state=0,
                                 out=str(tmp_path / "est.h5"), n_checkpoints=2).fit(x)
    scale = first.model_.visible.scale
    again = boltzkit.GaussianRBM(n_hidden=2, n_updates=20, batch_size=50, n_chains=20, random_state=0,
                                 out=str(tmp_path / "est.h5"), n_checkpoints=2).fit(x[:60] * 3, resume=True)
    assert again.model_.visible.scale == scale  # not refitted to the new rows


def test_left_out_columns_that_vary_in_scored_rows_are_noted(tmp_path):
    x = correlated_rows(200, seed=4)  # column 2 constant (7.5): left out of the model
    np.save(tmp_path / "flat.npy", x)
    other = x[:40].copy()
    other[:5, 2] = 9.0  # another file where it varies
    np.save(tmp_path / "other.npy", other)
    train(tmp_path / "flat.npy", tmp_path / "f.h5", "--hidden", "2", "--updates", "4", "--no-check")
    assert trajectory.load_model(tmp_path / "f.h5").n_visible == 5
    result = runner.invoke(app, ["evaluate", str(tmp_path / "f.h5"), str(tmp_path / "other.npy"), "--json",
                                 "--moment-samples", "10", "--moment-steps", "1"])
    assert result.exit_code == 0, result.output
    assert "vary in these rows: 2 (counted from 0); the densities are of the other columns only" in result.output


def test_one_scored_row_gives_no_gaussian_baseline(table, run, tmp_path):
    out, _ = run
    one = tmp_path / "one.csv"
    one.write_text("\n".join(table.read_text().splitlines()[:2]) + "\n")
    result = runner.invoke(app, ["evaluate", str(out), str(one), "--json", "--moment-samples", "10",
                                 "--moment-steps", "1"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["baseline_log_likelihood"] == {} and r["independent_site_log_likelihood"]["train"] is None
    assert math.isfinite(r["log_likelihood"]["train"])
