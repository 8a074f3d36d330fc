"""Interpretation of trained models: the interaction network a model has learned.

* :mod:`~boltzkit.interpret.rbm_couplings` — a binary RBM as a generalized Ising model (exact Walsh
  expansion, central-limit approximation, Cossu baseline; Ising and lattice-gas gauges).
* :mod:`~boltzkit.interpret.energy_couplings` — couplings of any energy function (exact enumeration or
  uniform sampling with standard errors; binary and Potts), and :func:`model_couplings` for any model.
* :mod:`~boltzkit.interpret.couplings_file` — COUPLINGS.h5 in the ground-truth layout, and comparison
  with a reference.
* :mod:`~boltzkit.interpret.potts_couplings` — a Potts RBM as a zero-sum Potts model (exact, CLT,
  Gaussian mixture; pairs and triplets).
"""

from boltzkit.interpret.couplings_file import (compare_with_truth, read_couplings, read_truth, truth_in_gauge,
                                               write_couplings)
from boltzkit.interpret.energy_couplings import (EffectiveCouplings, PottsCouplings, energy_couplings,
                                                 lattice_gas_couplings, model_couplings, potts_energy_couplings)
from boltzkit.interpret.potts_couplings import potts_rbm_couplings
from boltzkit.interpret.rbm_couplings import (cossu_couplings, gaussian_couplings, rbm_couplings,
                                              rbm_lattice_gas_couplings, spin_form)

__all__ = ["EffectiveCouplings", "PottsCouplings", "energy_couplings", "lattice_gas_couplings", "model_couplings",
           "potts_energy_couplings", "rbm_couplings", "gaussian_couplings", "cossu_couplings",
           "rbm_lattice_gas_couplings", "spin_form", "write_couplings", "read_couplings", "read_truth",
           "truth_in_gauge", "compare_with_truth", "potts_rbm_couplings"]
