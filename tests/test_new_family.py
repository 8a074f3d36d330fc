"""A model family defined in this file alone, registered, then trained, sampled, evaluated and
reported through the CLI and the Python API, with no change to any other file: the proof that the
seam is real (docs/architecture.md, "Adding a model family").

The family is the independent-site model on {0,1} units, E(v) = -b . v, whose maximum-likelihood
fit is known in closed form (b_i = logit <v_i>), so the test also checks that the one trainer
reaches it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from typer.testing import CliRunner

import boltzkit
from boltzkit.cli.main import app
from boltzkit.errors import BoltzkitError
from boltzkit.models.base import Chains
from boltzkit.models.registry import Family, register_family, unregister_family
from boltzkit.models.visible import BERNOULLI_SPACE

KIND = "toy-independent"
runner = CliRunner()


class IndependentSites:
    """p(v) ∝ exp(b . v) on {0,1}^N: the interface and the ExactEnumeration capability."""

    kind = KIND
    visible = BERNOULLI_SPACE

    def __init__(self, bias: Tensor):
        self.bias = bias

    @property
    def n_visible(self) -> int:
        return self.bias.shape[0]

    @property
    def device(self) -> torch.device:
        return self.bias.device

    @property
    def dtype(self) -> torch.dtype:
        return self.bias.dtype

    def parameters(self) -> dict[str, Tensor]:
        return {"bias": self.bias}

    def to(self, device=None, dtype=None) -> "IndependentSites":
        return IndependentSites(self.bias.to(device=device, dtype=dtype))

    def clone(self) -> "IndependentSites":
        return IndependentSites(self.bias.clone())

    def config(self) -> dict[str, Any]:
        return {"kind": KIND, "n_visible": self.n_visible}

    def free_energy(self, v: Tensor) -> Tensor:
        return -(v.to(self.dtype) @ self.bias)

    def init_chains(self, n: int, generator=None) -> Chains:
        u = torch.rand(n, self.n_visible, generator=generator, device=self.device, dtype=self.dtype)
        return Chains((u < 0.5).to(self.dtype))

    def chains_from(self, x: Tensor) -> Chains:
        return Chains(x.to(self.device, self.dtype).clone())

    def sample_step(self, chains: Chains, generator=None, beta: float = 1.0) -> Chains:
        u = torch.rand(chains.visible.shape, generator=generator, device=self.device, dtype=self.dtype)
        return Chains((u < torch.sigmoid(beta * self.bias)).to(self.dtype))

    def log_likelihood_gradient(self, data: Tensor, chains: Chains, data_weights=None,
                                centered: bool = True) -> dict[str, Tensor]:
        w = None if data_weights is None else data_weights / data_weights.sum()
        positive = data.mean(0) if w is None else w @ data
        negative = chains.visible.mean(0) if chains.weights is None else chains.weights @ chains.visible
        return {"bias": positive - negative}

    # ExactEnumeration
    def enumeration_log2_size(self) -> float:
        return 0.0  # log Z is a sum of one-site terms

    def log_partition_exact(self) -> float:
        return float(torch.nn.functional.softplus(self.bias.double()).sum())

    def enumerate_visible(self) -> Tensor:
        n = self.n_visible
        codes = torch.arange(2**n, device=self.device)
        return ((codes[:, None] >> torch.arange(n - 1, -1, -1, device=self.device)) & 1).to(self.dtype)


def build(data: Tensor, weights, space, options: dict[str, Any], seed: int) -> IndependentSites:
    return IndependentSites(torch.full((data.shape[1],), float(options["init_bias"]), dtype=data.dtype,
                                       device=data.device))


def load(config: dict[str, Any], params: dict[str, Tensor]) -> IndependentSites:
    return IndependentSites(params["bias"])


@pytest.fixture(scope="module")
def toy_family():
    register_family(Family(kind=KIND, summary="independent {0,1} sites (a test family)",
                           api_name="ToyIndependent", visible="bernoulli", builder=build,
                           loader=load, methods=("pcd", "cd", "rdm", "exact"),
                           options={"init_bias": 0.0},
                           flags={"init_bias": ("--init-bias", "the sites' starting bias")}))
    yield KIND
    unregister_family(KIND)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple:
    folder = tmp_path_factory.mktemp("toy")
    means = np.linspace(0.1, 0.9, 8)
    x = (np.random.default_rng(0).random((400, 8)) < means).astype(np.uint8)
    np.save(folder / "x.npy", x)
    return folder, x


def _invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_cli_trains_samples_evaluates_and_reports_a_registered_family(toy_family, data):
    folder, x = data
    run = folder / "toy.h5"
    _invoke("train", folder / "x.npy", "--out", run, "--model", toy_family, "--updates", "300",
            "--lr", "0.5", "--batch-size", "400", "--chains", "400", "--gibbs-steps", "1",
            "--test-fraction", "0.25", "--quiet", "--method", "exact")
    model = boltzkit.load(run).model_
    # exact training on the full batch converges to the closed form b_i = logit <v_i>
    train = x[np.sort(np.random.default_rng(0).permutation(400)[100:])]
    mean = train.mean(0).clip(1e-4, 1 - 1e-4)
    np.testing.assert_allclose(model.bias.numpy(), np.log(mean / (1 - mean)), atol=2e-2)
    _invoke("sample", run, "--out", folder / "s.npy", "--n", "50", "--gibbs-steps", "2")
    assert np.load(folder / "s.npy").shape == (50, 8)
    result = _invoke("evaluate", run, "--json", "--moment-samples", "200", "--moment-steps", "2")
    out = json.loads(result.stdout)
    assert out["kind"] == KIND and out["log_z_method"] == "exact"
    # the model is the independent-site model: its likelihood is the baseline's (up to the fit)
    assert out["log_likelihood"]["test"] == pytest.approx(
        out["independent_site_log_likelihood"]["test"], abs=1e-2)
    _invoke("report", run, "--out", folder / "toy.html", "--samples", "50", "--gibbs-steps", "2",
            "--ais-chains", "10", "--ais-steps", "10")
    assert KIND in (folder / "toy.html").read_text()


def test_python_api_gets_an_estimator_for_the_family(toy_family, data):
    _, x = data
    est = boltzkit.ToyIndependent(method="exact", n_updates=200, learning_rate=0.5,
                                  batch_size=400, dtype="float64").fit(x)
    assert est.bias_.shape == (8,)
    p = np.exp(est.score_samples(est.model_.enumerate_visible().numpy()))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)  # normalised over the 2^8 states (float64)
    with pytest.raises(BoltzkitError, match="no hidden units"):
        est.transform(x)


def test_a_family_option_is_a_train_flag_without_touching_the_cli(toy_family, data):
    folder, _ = data
    run = folder / "biased.h5"
    _invoke("train", folder / "x.npy", "--out", run, "--model", toy_family, "--init-bias", "2.5",
            "--updates", "1", "--lr", "1e-9", "--quiet", "--no-check")
    np.testing.assert_allclose(boltzkit.load(run).model_.bias.numpy(), 2.5, atol=1e-6)
    for args, message in [(["--init-bias", "x"], "--init-bias: 'x' is not a number"),
                          (["--init-bias"], "--init-bias needs a value"),
                          (["--init-biass", "1"], "no such option: --init-biass"),
                          (["--model", "bernoulli-rbm", "--init-bias", "1"],
                           f"--init-bias: the bernoulli-rbm family takes no such option (it is an "
                           f"option of {toy_family})")]:
        result = runner.invoke(app, ["train", str(folder / "x.npy"), "--out", str(folder / "no.h5"),
                                     *(["--model", toy_family] if "--model" not in args else []), *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1 and not (folder / "no.h5").exists()
