"""Interpretation of trained models: the interaction network a model has learned.

* :mod:`~boltzkit.interpret.rbm_couplings` — a binary RBM as a generalized Ising model (exact Walsh
  expansion, central-limit approximation, Cossu baseline; Ising and lattice-gas gauges), and
  :func:`model_couplings` for any model with binary visible units.
* :mod:`~boltzkit.interpret.energy_couplings` — couplings of any energy function (exact enumeration or
  uniform sampling with standard errors; binary and Potts).
* :mod:`~boltzkit.interpret.potts_couplings` — a Potts RBM as a zero-sum Potts model (exact, CLT,
  Gaussian mixture; pairs and triplets), and :func:`potts_model_couplings` for any categorical model.
* :mod:`~boltzkit.interpret.expansion` — the result types and helpers the couplings modules share.
* :mod:`~boltzkit.interpret.couplings_file` — COUPLINGS.h5 in the ground-truth layout, and comparison
  with a reference.
* :mod:`~boltzkit.interpret.tap`, :mod:`~boltzkit.interpret.landscape`, :mod:`~boltzkit.interpret.tree`
  — TAP free energies, the free-energy landscape and TreeRBM (models with a layered energy).
* :mod:`~boltzkit.interpret.run_interpretation` — the same for a saved run: what ``boltzkit
  couplings``, ``landscape`` and ``tree`` do.
"""

from boltzkit.interpret.couplings_file import (compare_with_truth, read_couplings, read_truth, truth_in_gauge,
                                               write_couplings)
from boltzkit.interpret.energy_couplings import energy_couplings, lattice_gas_couplings, potts_energy_couplings
from boltzkit.interpret.expansion import EffectiveCouplings, PottsCouplings
from boltzkit.interpret.potts_couplings import potts_model_couplings, potts_rbm_couplings
from boltzkit.interpret.rbm_couplings import (cossu_couplings, gaussian_couplings, model_couplings, rbm_couplings,
                                              rbm_lattice_gas_couplings, spin_form)

__all__ = ["EffectiveCouplings", "PottsCouplings", "energy_couplings", "lattice_gas_couplings", "model_couplings",
           "potts_energy_couplings", "rbm_couplings", "gaussian_couplings", "cossu_couplings",
           "rbm_lattice_gas_couplings", "spin_form", "write_couplings", "read_couplings", "read_truth",
           "truth_in_gauge", "compare_with_truth", "potts_rbm_couplings", "potts_model_couplings"]
