"""Exact Boltzmann distribution of small systems by enumeration: the test oracle.

All S^N configurations are listed (S states per site), their energies computed in float64, and
p(x) = exp(-beta E(x)) / Z formed with a log-sum-exp. Exact samples are i.i.d. draws from p; exact
observables are sums over configurations. Practical up to ~2^22 configurations (N = 22 binary sites,
N = 13 three-state sites).

Configuration k has state index ``(k // S^(N-1-i)) % S`` at site i (site 0 is the most significant
digit), state indices following :data:`~boltzkit.synthetic.hamiltonians.STATE_VALUES` (Potts: the
state itself): the order of the models' ``enumerate_visible``, whose enumeration
(:func:`~boltzkit.models.potts_rbm.enumerate_codes`) this module shares (docs/methods.md section 10.5).
"""

from __future__ import annotations

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.potts_rbm import enumerate_codes
from boltzkit.synthetic.hamiltonians import PottsHamiltonian, SpinHamiltonian, encode_states, state_indices

__all__ = ["MAX_CONFIGURATIONS", "ExactDistribution", "enumerate_states"]

#: Largest number of configurations the enumeration accepts (memory: ~N bytes each, plus float64s).
MAX_CONFIGURATIONS = 1 << 23


def enumerate_states(n_sites: int, n_states: int) -> Tensor:
    """All state-index configurations, shape (n_states**n_sites, n_sites), long, in lexicographic order."""
    total = n_states ** n_sites
    if total > MAX_CONFIGURATIONS:
        raise BoltzkitError(f"exact enumeration of {n_states}^{n_sites} = {total} configurations is too large "
                            f"(limit {MAX_CONFIGURATIONS})")
    return enumerate_codes(n_sites, n_states, dtype=torch.long, max_states=total)


class ExactDistribution:
    """The Boltzmann distribution of a small :class:`SpinHamiltonian` or :class:`PottsHamiltonian`.

    Parameters
    ----------
    hamiltonian : SpinHamiltonian or PottsHamiltonian
        Unscaled energy function.
    beta : float
        Inverse temperature.

    Attributes
    ----------
    states : Tensor of shape (K, N), long
        State indices of every configuration, K = S^N.
    values : Tensor of shape (K, N)
        Site values (float64) for spin models; the states themselves (long) for Potts.
    energies : Tensor of shape (K,), float64
    log_partition : float
        ln Z with Z = sum_x exp(-beta E(x)).
    probabilities : Tensor of shape (K,), float64
    """

    def __init__(self, hamiltonian: SpinHamiltonian | PottsHamiltonian, beta: float):
        self.hamiltonian = hamiltonian.to(dtype=torch.float64, device="cpu")
        self.beta = float(beta)
        self.convention = self.hamiltonian.convention
        self.n_sites = self.hamiltonian.n_sites
        self.n_states = self.hamiltonian.n_states
        self.states = enumerate_states(self.n_sites, self.n_states)
        potts = isinstance(self.hamiltonian, PottsHamiltonian)
        self.values = self.states if potts else self.hamiltonian.state_values[self.states]
        self.energies = self.hamiltonian.energy(self.values)
        log_weights = -self.beta * self.energies
        self.log_partition = float(torch.logsumexp(log_weights, 0))
        self.probabilities = torch.exp(log_weights - self.log_partition)

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples: int, generator: torch.Generator) -> Tensor:
        """I.i.d. exact samples as stored codes (int8, see :func:`encode_states`), shape (n_samples, N)."""
        k = torch.multinomial(self.probabilities, n_samples, replacement=True, generator=generator)
        return encode_states(self.values[k], self.convention)

    def configuration_index(self, codes: Tensor) -> Tensor:
        """Index into the enumeration of stored-code configurations (B, N) -> (B,), long."""
        idx = state_indices(codes, self.convention)
        place = self.n_states ** torch.arange(self.n_sites - 1, -1, -1)
        return (idx * place).sum(-1)

    # ------------------------------------------------------------------ observables
    def expectation(self, f: Tensor) -> Tensor:
        """<f> for values ``f`` of shape (K, ...) given on every configuration."""
        return torch.tensordot(self.probabilities, f.double(), dims=([0], [0]))

    def magnetisations(self) -> Tensor:
        """<x_i>, shape (N,) (spin models: mean site value)."""
        self._spin_only("magnetisations")
        return self.expectation(self.values)

    def correlations(self) -> Tensor:
        """<x_i x_j>, shape (N, N) (spin models)."""
        self._spin_only("correlations")
        x = self.values
        return (x * self.probabilities[:, None]).T @ x

    def marginals(self) -> Tensor:
        """Single-site marginals P(x_i = state a), shape (N, S), indexed by state index."""
        onehot = torch.nn.functional.one_hot(self.states, self.n_states).double()
        return torch.einsum("k,kia->ia", self.probabilities, onehot)

    def _spin_only(self, what: str) -> None:
        if isinstance(self.hamiltonian, PottsHamiltonian):
            raise BoltzkitError(f"{what} is defined for spin models; use marginals() for Potts")
