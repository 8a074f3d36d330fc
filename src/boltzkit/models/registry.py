"""Rebuild a model from its stored config and tensors (used by the trajectory file reader).

Each family registers one constructor here; nothing else in the toolkit names concrete classes
when reading files.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from boltzkit.models.hybrid import HybridEBM
from boltzkit.models.pairwise import pairwise_from_config
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM

_BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Tensor]], Any]] = {
    "rbm": RBM.from_config,
    "potts-rbm": PottsRBM.from_config,
    "pairwise": pairwise_from_config,
    "hybrid": HybridEBM.from_config,
}


def register_family(family: str, builder: Callable[[dict[str, Any], dict[str, Tensor]], Any]) -> None:
    _BUILDERS[family] = builder


def model_from_config(config: dict[str, Any], params: dict[str, Tensor]):
    family = config.get("family")
    if family not in _BUILDERS:
        raise ValueError(f"unknown model family {family!r}")
    return _BUILDERS[family](config, params)
