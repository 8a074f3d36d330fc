"""boltzkit.synthetic — equilibrium data from known Hamiltonians, with their ground truth.

Controlled experiments (docs/methods.md section 2): build a known energy function, sample it at
inverse temperature beta with parallel Metropolis / heat-bath chains, and store the samples together
with the generating (unscaled) fields and couplings in one HDF5 file.

Modules: ``hamiltonians`` (energy functions as sparse hypergraph terms, the terms being
:class:`~boltzkit.models.interactions.Interactions`; pairwise ones convert exactly to the trainable
models of :mod:`boltzkit.models.pairwise`), ``lattices`` (neighbour lists,
colourings), ``mcmc`` (vectorised sweeps over chains), ``exact`` (enumeration for small N),
``conversion`` (lattice gas <-> Ising at any order, Potts zero-sum gauge), ``autocorrelation``,
``io`` (the HDF5 file with its truth) and ``generators`` (the named generators).
"""

from boltzkit.synthetic.autocorrelation import (autocorrelation_function, effective_sample_size,
                                                integrated_autocorrelation_time)
from boltzkit.synthetic.conversion import ising_to_lattice_gas, lattice_gas_to_ising, potts_zero_sum_gauge
from boltzkit.synthetic.exact import ExactDistribution
from boltzkit.synthetic.generators import (GENERATORS, SyntheticDataset, blume_capel, edwards_anderson2d,
                                           higher_order, ising1d, ising2d, ising_kbody, lattice_gas, potts,
                                           sample_exact, sample_hamiltonian)
from boltzkit.models.interactions import Interactions
from boltzkit.synthetic.hamiltonians import (STATE_VALUES, PottsHamiltonian, SpinHamiltonian, decode_states,
                                             encode_states, from_pairwise)
from boltzkit.synthetic.io import GroundTruth, ground_truth, read_attributes, read_samples, write_dataset
from boltzkit.synthetic.mcmc import MCMCRun, compile_kernel, run_chains

__all__ = [
    "GENERATORS", "SyntheticDataset", "sample_hamiltonian", "sample_exact",
    "ising1d", "ising2d", "edwards_anderson2d", "ising_kbody", "lattice_gas", "blume_capel", "potts",
    "higher_order",
    "SpinHamiltonian", "PottsHamiltonian", "Interactions", "STATE_VALUES", "encode_states", "decode_states",
    "from_pairwise",
    "ExactDistribution", "lattice_gas_to_ising", "ising_to_lattice_gas", "potts_zero_sum_gauge",
    "GroundTruth", "ground_truth", "read_samples", "read_attributes", "write_dataset",
    "MCMCRun", "run_chains", "compile_kernel",
    "autocorrelation_function", "integrated_autocorrelation_time", "effective_sample_size",
]
