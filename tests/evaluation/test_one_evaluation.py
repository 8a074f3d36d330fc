"""One evaluation per run: ``evaluate``, the report and the check at the end of ``train`` give the
same log Z and log-likelihoods for a checkpoint, computed once and stored in the run file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.evaluation.run_evaluation import LikelihoodSettings, run_likelihoods
from boltzkit.io import trajectory
from boltzkit.report.context import ReportContext

pytestmark = pytest.mark.usefixtures("single_thread")
runner = CliRunner()
AIS = ["--ais-chains", "200", "--ais-steps", "300"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two noisy prototypes over 24 units: 24 visible and 24 hidden units are past exact
    enumeration (2**22), so log Z comes from AIS."""
    rng = np.random.default_rng(0)
    proto = np.array([[1] * 12 + [0] * 12, [0, 1] * 12])
    x = proto[rng.integers(0, 2, 800)]
    x = np.where(rng.random(x.shape) < 0.1, 1 - x, x).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "x.npy"
    np.save(path, x)
    return path


def _train(data, out, *extra):
    result = runner.invoke(app, ["train", str(data), "--out", str(out), "--hidden", "24", "--batch-size", "100",
                                 "--chains", "100", "--gibbs-steps", "5", "--checkpoints", "3",
                                 "--test-fraction", "0.2", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return result


def _evaluate(run, *extra):
    result = runner.invoke(app, ["evaluate", str(run), "--json", "--moment-samples", "50",
                                 "--moment-steps", "5", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run.h5"
    _train(data, out, "--updates", "100", "--lr", "0.05", "--no-check")
    return out


def test_evaluate_stores_its_numbers_and_reuses_them(run):
    first = _evaluate(run, *AIS)
    assert first["log_z_method"] == "ais" and not first["evaluation_settings"]["stored"]
    second = _evaluate(run, *AIS)
    assert second["evaluation_settings"]["stored"]
    for key in ("log_z", "log_z_error", "log_likelihood", "independent_site_log_likelihood"):
        assert second[key] == first[key]
    other = _evaluate(run, "--ais-chains", "200", "--ais-steps", "301")  # other settings: computed anew
    assert not other["evaluation_settings"]["stored"] and other["log_z"] != first["log_z"]
    assert trajectory.read_evaluations(run)  # the run file keeps them


def test_report_shows_the_numbers_of_evaluate(run):
    """The report's summary (the last point of its curve) and baseline are evaluate's numbers, on
    the same rows (the whole training split, not the 2000 stored rows) and the same estimator."""
    evaluated = _evaluate(run)  # evaluate's default settings, which the report's summary shares
    ctx = ReportContext(run)
    last = ctx.curve[-1]
    assert last.log_z.value == evaluated["log_z"] and last.log_z.error == evaluated["log_z_error"]
    assert last.train == evaluated["log_likelihood"]["train"]
    assert last.test == evaluated["log_likelihood"]["test"]
    assert ctx.baselines["independent-site"] == evaluated["independent_site_log_likelihood"]
    assert ctx.baselines == evaluated["baseline_log_likelihood"]
    assert len(ctx.baseline_data[0]) == evaluated["evaluation_settings"]["rows"]["train"] == 640


def test_a_stored_evaluation_is_reused_only_for_the_same_tensors(run):
    model = trajectory.load_model(run)
    train, test = trajectory.run_datasets(run)
    xw = (model.visible.tensor(train.samples, model.dtype, "cpu"), None)
    settings = LikelihoodSettings("ais", 100, 50)
    update = trajectory.checkpoint_updates(run)[-1]
    first = run_likelihoods(run, update, model, xw, None, settings)
    assert run_likelihoods(run, update, model, xw, None, settings)["evaluation_settings"]["stored"]
    changed = model.clone()
    changed.weights.mul_(0.5)  # another model under the same checkpoint key (an edited file)
    again = run_likelihoods(run, update, changed, xw, None, settings)
    assert not again["evaluation_settings"]["stored"] and again["log_z"] != first["log_z"]


def test_train_warns_when_the_model_learned_nothing(data, tmp_path):
    """A run too short to learn is flagged at the end of train; a run that learns is not."""
    lazy = _train(data, tmp_path / "lazy.h5", "--updates", "3", "--lr", "1e-6", "--hidden", "4")
    assert "no better than the independent-site model on the held-out rows" in lazy.output
    good = _train(data, tmp_path / "good.h5", "--updates", "200", "--lr", "0.1", "--hidden", "4")
    assert "no better" not in good.output
    assert trajectory.read_evaluations(tmp_path / "good.h5")  # the check's numbers are kept


def test_the_readme_mnist_line_of_the_issue_is_flagged(tmp_path):
    """The issue's case: 300 SGD updates at lr 0.01 on MNIST give a model within 0.002 nats of the
    independent-site model (C_ij Pearson 0.008); train now says so."""
    from boltzkit.data.bundled import MNIST_IMAGES, bundled_path

    result = runner.invoke(app, ["train", str(bundled_path(MNIST_IMAGES)), "--hidden", "100", "--updates", "300",
                                 "--lr", "0.01", "--optimizer", "sgd", "--test-fraction", "0.2",
                                 "--out", str(tmp_path / "mnist.h5"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "no better than the independent-site model on the held-out rows" in " ".join(result.output.split())
