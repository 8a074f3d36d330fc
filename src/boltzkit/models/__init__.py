"""Model families, all speaking the :class:`~boltzkit.models.base.EnergyModel` interface."""

from boltzkit.models.base import Chains, EnergyModel
from boltzkit.models.rbm import RBM, independent_site_model
from boltzkit.models.units import BERNOULLI, SPIN, UnitType

__all__ = ["Chains", "EnergyModel", "RBM", "independent_site_model", "BERNOULLI", "SPIN",
           "UnitType"]
