"""The capabilities each built-in family declares (the table of docs/architecture.md), and the
one-line error of a missing one."""

from __future__ import annotations

from pathlib import Path

import pytest

import boltzkit.models.capabilities as C
from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.models.registry import kinds

RUNS = Path(__file__).resolve().parents[1] / "fixtures" / "runs_v0_1"
RBM = {"HiddenLayer", "LayeredEnergy", "ExactEnumeration", "AnnealingPath", "FastAnnealing",
       "MultiStepSampler", "CenteredGradient", "Penalised"}
EXPECTED = {
    "bernoulli-rbm": ("bernoulli", RBM),
    "ising-rbm": ("spin", RBM),
    "potts-rbm": ("categorical", {"HiddenLayer", "LayeredEnergy", "ExactEnumeration", "AnnealingPath",
                                  "CenteredGradient", "Constrained", "Penalised", "ZeroSumGauge"}),
    "potts-bm": ("categorical", {"ExactEnumeration", "MultiStepSampler", "Penalised", "MomentMatching",
                                 "ProfileStart", "PseudoLikelihood", "PairwiseParameters",
                                 "ZeroSumGauge"}),
    "ising-bm": ("spin", {"ExactEnumeration", "Penalised", "MomentMatching", "PseudoLikelihood",
                          "SingleFlipEnergies"}),
    "hybrid": ("spin", {"ExactEnumeration", "Penalised", "SingleFlipEnergies"}),
}
CAPABILITIES = [getattr(C, name) for name in C.__all__
                if isinstance(getattr(C, name), type) and getattr(getattr(C, name), "_is_protocol", False)]


def test_every_builtin_family_is_in_the_table():
    assert set(EXPECTED) <= set(kinds())


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_declared_capabilities(kind):
    model = trajectory.load_model(RUNS / f"{kind}.h5")
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
