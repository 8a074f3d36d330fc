"""``sample --sampler``: a model's step variants through the SamplerVariants capability."""

from __future__ import annotations

import pytest
import torch

from boltzkit.errors import InvalidValue
from boltzkit.models.gaussian_rbm import GaussianRBM
from boltzkit.sampling.choice import with_sampler
from tests.conftest import random_rbm


def gaussian() -> GaussianRBM:
    return GaussianRBM(torch.zeros(3, 2), torch.zeros(3), torch.zeros(2), torch.zeros(3))


def test_variants_and_settings_reach_the_model_and_share_its_tensors():
    model = gaussian()
    chosen = with_sampler(model, "gibbs-langevin", {"langevin_steps": 4, "langevin_step_size": None})
    assert (chosen.sampler.name, chosen.sampler.langevin_steps) == ("gibbs-langevin", 4)
    assert chosen.sampler.langevin_step_size == model.sampler.langevin_step_size  # None: as stored
    assert chosen.weights is model.weights
    assert with_sampler(model).sampler == model.sampler  # nothing asked: the run's own sampler
    assert with_sampler(chosen, None, {"langevin_steps": 7}).sampler.name == "gibbs-langevin"


@pytest.mark.parametrize("name, settings, message", [
    ("hmc", None, "--sampler hmc: the gaussian-rbm family samples with gibbs | gibbs-langevin"),
    ("gibbs-langevin", {"langevin_steps": 0}, "--langevin-steps"),
    ("gibbs-langevin", {"langevin_step_size": float("nan")}, "--langevin-step-size"),
])
def test_bad_variants_and_settings_are_one_line(name, settings, message):
    with pytest.raises(InvalidValue, match=message):
        with_sampler(gaussian(), name, settings)


def test_models_without_variants_take_their_own_step_only():
    rbm = random_rbm(4, 2)
    assert with_sampler(rbm, "gibbs") is rbm and with_sampler(rbm) is rbm
    with pytest.raises(InvalidValue, match=r"--sampler gibbs-langevin: the bernoulli-rbm family samples "
                                           r"with its own step \(--sampler gibbs\) or by tempering"):
        with_sampler(rbm, "gibbs-langevin")
    with pytest.raises(InvalidValue, match="--langevin-steps: the bernoulli-rbm family's sampler"):
        with_sampler(rbm, None, {"langevin_steps": 3})
