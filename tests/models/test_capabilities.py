"""The capabilities each built-in family declares (the table of docs/architecture.md), and the
one-line error of a missing one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import boltzkit.models.capabilities as C
from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.models.families import GAUSSIAN_RBM
from boltzkit.models.registry import kinds
from boltzkit.models.visible import REAL_SPACE

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs_v0_1"
RBM = {"HiddenLayer", "LayeredEnergy", "ExactEnumeration", "LogPartitionExact", "AnnealingPath",
       "FastAnnealing", "MultiStepSampler", "CenteredGradient", "Penalised", "LowRankStart"}
EXPECTED = {
    "bernoulli-rbm": ("bernoulli", RBM),
    "ising-rbm": ("spin", RBM),
    "potts-rbm": ("categorical", {"HiddenLayer", "LayeredEnergy", "ExactEnumeration", "LogPartitionExact",
                                  "AnnealingPath", "CenteredGradient", "Constrained", "Penalised",
                                  "ZeroSumGauge"}),
    "potts-bm": ("categorical", {"ExactEnumeration", "LogPartitionExact", "AnnealingPath", "FastAnnealing",
                                 "MultiStepSampler", "Penalised", "MomentMatching", "ProfileStart",
                                 "PseudoLikelihood", "PairwiseParameters", "ZeroSumGauge"}),
    "ising-bm": ("spin", {"ExactEnumeration", "LogPartitionExact", "AnnealingPath", "FastAnnealing",
                          "Penalised", "MomentMatching", "PseudoLikelihood", "SingleFlipEnergies"}),
    "hybrid": ("spin", {"ExactEnumeration", "LogPartitionExact", "AnnealingPath", "Penalised",
                        "SingleFlipEnergies"}),
    # real visible units: an exact log Z (hidden sum, Gaussian integral) and an exact model
    # average, but no visible enumeration; no LayeredEnergy (TAP, TreeRBM and the couplings are
    # written for discrete visible units)
    "gaussian-rbm": ("real", {"HiddenLayer", "LogPartitionExact", "ExactModelAverage", "AnnealingPath",
                              "FastAnnealing", "MultiStepSampler", "CenteredGradient", "Penalised",
                              "ContinuousEnergy", "SamplerVariants"}),
}
#: Families released after the fixture runs of release 0.1: built from data through the registry.
BUILT = {"gaussian-rbm": lambda: GAUSSIAN_RBM.build(torch.randn(20, 3), None, REAL_SPACE,
                                                             {"n_hidden": 2}, 0)}
CAPABILITIES = [getattr(C, name) for name in C.__all__
                if isinstance(getattr(C, name), type) and getattr(getattr(C, name), "_is_protocol", False)]


def test_every_builtin_family_is_in_the_table():
    assert set(kinds()) == set(EXPECTED)


def test_a_real_valued_model_refuses_the_discrete_only_capabilities_in_one_line():
    model = BUILT["gaussian-rbm"]()
    for capability, purpose in [(C.LayeredEnergy, "TAP free energies"),
                                (C.ExactEnumeration, "--method exact")]:
        with pytest.raises(BoltzkitError) as e:
            C.require(model, capability, purpose)
        assert str(e.value).startswith(f"{purpose}: the gaussian-rbm family has no {capability.__name__}")
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_declared_capabilities(kind):
    model = BUILT[kind]() if kind in BUILT else trajectory.load_model(RUNS / f"{kind}.h5")
    visible, expected = EXPECTED[kind]
    assert model.kind == kind and model.visible.name == visible
    assert {c.__name__ for c in CAPABILITIES if isinstance(model, c)} == expected


def test_a_missing_capability_is_one_line_naming_family_and_capability():
    model = trajectory.load_model(RUNS / "hybrid.h5")
    with pytest.raises(BoltzkitError) as e:
        C.require(model, C.LayeredEnergy, "TAP free energies")
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("TAP free energies: the hybrid family has no LayeredEnergy capability")
