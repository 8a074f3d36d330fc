"""Single-site Metropolis and heat-bath sweeps over many chains at once.

Chains are the first tensor dimension. Sites are grouped by a proper colouring of the interaction
graph (checkerboard on bipartite lattices, greedy colouring otherwise, see
:mod:`boltzkit.synthetic.lattices`): the sites of one colour do not interact, so their conditional
distributions are independent and they are all updated in one vectorised step. A sweep updates the
colours in turn; each colour step leaves the Boltzmann distribution invariant (it is a product of
single-site kernels in detailed balance), hence so does the sweep.

The local fields are gathered from padded per-site incidence tables: for site i and order k the table
lists the other k-1 sites and the coupling of every term containing i (padding has coupling 0). This
serves lattices and random sparse hypergraphs with one code path; small or dense pair graphs use a
dense matrix product instead. Chains are the first dimension of the public API, but internally they
are stored site-major, (N, C), so that gathering a neighbour for all chains is one contiguous copy.

* Metropolis: propose a different state uniformly (the flip for binary variables), accept with
  probability ``rho * min(1, exp(-beta dE))``: the rule of :mod:`boltzkit.models.metropolis`, shared
  with the pairwise models' sweeps (docs/methods.md section 10.3).
* Heat-bath: draw the site from its conditional distribution (the "acceptance rate" reported for
  heat-bath is the fraction of updates that changed the state).

These kernels are the fast path for sparse interaction graphs; the trainable pairwise models of
:mod:`boltzkit.models.pairwise` (dense couplings, sequential sweeps) are the same pairwise
Hamiltonians in dense form (``to_model`` of :mod:`boltzkit.synthetic.hamiltonians`).

Why Metropolis moves are damped by rho = ``METROPOLIS_MOVE_PROBABILITY`` < 1. Plain Metropolis accepts
every move with dE <= 0 with certainty. With random-site updates that is harmless, but when a whole
colour class is updated at once the forced moves make the sweep partly deterministic: on an Ising ring
at zero field a spin between two opposite neighbours (dE = 0) always flips, so every domain wall moves
one site per colour step, in a direction fixed by the sublattice it started on, and the number of
left-moving minus right-moving walls is conserved, as in the Q2R automaton (Vichniac; Pomeau). The sweep
is reducible: on the 8-site ring the exact sweep matrix has 5 closed classes for every beta > 0,
whatever the colour order, and chains started at random give c_02 = 0.345 instead of 0.508 at beta J =
0.8. Odd rings and 3 x 3 tori (three colours), the zero-field lattice gas, the q = 2 Potts ring and
4-body chains fail the same way. Damping keeps detailed balance (a(dE) / a(-dE) = exp(-beta dE)) and
leaves every update a probability >= 1 - rho of staying and > 0 of moving, so one colour step can move
any subset of its sites: any configuration is reachable in one sweep, on every graph and colouring
(irreducible and aperiodic). The cost falls where plain Metropolis was (empirically) ergodic and its
forced dE = 0 moves are efficient: on a 16 x 16 Ising torus at beta = 0.4, tau_E 7.7 -> 9.0 and tau_m 46
-> 54 sweeps with rho = 0.95 (rho = 0.9: 10.2 and 70; heat-bath: 20 and 150). On the 8-site ring the
slowest mode of a sweep then decays by 0.81 per sweep for beta J <= 0.8 (heat-bath: 0.85 at beta J =
0.8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from boltzkit.checks import integer, number
from boltzkit.errors import BoltzkitError
from boltzkit.models.metropolis import metropolis_accept, metropolis_categorical
from boltzkit.synthetic.autocorrelation import integrated_autocorrelation_time
from boltzkit.synthetic.hamiltonians import STATE_VALUES, PottsHamiltonian, SpinHamiltonian
from boltzkit.synthetic.lattices import greedy_colouring, is_proper_colouring

__all__ = ["ALGORITHMS", "SpinKernel", "PottsKernel", "compile_kernel",
           "MCMCRun", "run_chains", "magnetisation"]

ALGORITHMS = ("metropolis", "heat-bath")


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise BoltzkitError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")


def _colour_order(colours: Tensor, n_sites: int) -> tuple[Tensor, Tensor, list[tuple[int, int]]]:
    """Permutation putting each colour class in a contiguous block (so updates write a slice)."""
    if colours.shape != (n_sites,):
        raise BoltzkitError(f"colours must have shape ({n_sites},), got {tuple(colours.shape)}")
    colours = colours.long().cpu()
    perm = torch.argsort(colours, stable=True)
    counts = torch.bincount(colours)
    ends = torch.cumsum(counts, 0).tolist()
    bounds = [(end - c, end) for c, end in zip(counts.tolist(), ends) if c]
    return perm, torch.argsort(perm), bounds


def _incidence_table(indices: Tensor, values: list[Tensor], inverse: Tensor, n_sites: int) -> tuple[Tensor, Tensor]:
    """Padded per-site lists of the other members and coupling of each term (internal site order).

    ``values[p]`` (m, *value_shape) is the coupling of each term as seen from its p-th site (the
    same for spin terms; J_ij(x_i, x_j) transposed from the first site of a Potts edge).
    Returns ``others`` of shape (N, d, k-1) (long) and ``couplings`` of shape (N, d, *value_shape),
    d the largest number of terms on one site; padding points at site 0 with coupling 0.
    """
    m, k = indices.shape
    internal = inverse[indices.cpu()]
    sites = torch.cat([internal[:, p] for p in range(k)])
    others = torch.cat([internal[:, [q for q in range(k) if q != p]] for p in range(k)])
    vals = torch.cat([v.cpu() for v in values])
    order = torch.argsort(sites, stable=True)
    sites, others, vals = sites[order], others[order], vals[order]
    degree = torch.bincount(sites, minlength=n_sites)
    d = int(degree.max()) if m else 0
    start = torch.cumsum(degree, 0) - degree
    slot = torch.arange(len(sites)) - start[sites]
    table = torch.zeros(n_sites, d, k - 1, dtype=torch.long)
    coupling = torch.zeros((n_sites, d) + tuple(vals.shape[1:]), dtype=vals.dtype)
    table[sites, slot] = others
    coupling[sites, slot] = vals
    return table, coupling


def _categorical_update(neg_energy: Tensor, current: Tensor, beta: float, algorithm: str,
                        generator: torch.Generator) -> Tensor:
    """New state indices given the local negative energies of every state.

    ``neg_energy`` has the states first, shape (S, n, C), so that reductions over the (few) states are
    elementwise operations on contiguous slices (softmax over a last dimension of size 3 is an order
    of magnitude slower on CPU). ``current`` holds state indices, shape (n, C).
    """
    if algorithm == "metropolis":
        return metropolis_categorical(neg_energy, current, generator, dim=0, beta=beta)
    logits = beta * neg_energy
    weights = torch.exp(logits - logits.amax(0))
    cdf = weights.cumsum(0)
    u = torch.rand(current.shape, generator=generator, device=current.device, dtype=cdf.dtype) * cdf[-1]
    # Inverse-CDF draw: the index is the number of (unnormalised) cumulative weights below u.
    return (u > cdf[:-1]).sum(0)


class _Kernel:
    """Shared bookkeeping: colour blocks and the internal layout.

    Internally chains are stored *site-major*, shape (N, C), with sites sorted by colour: a colour
    class is a contiguous block of rows, gathering a neighbour's spins for all chains is one
    contiguous row copy, and writing an update is a slice assignment.
    """

    n_sites: int
    n_states: int

    def __init__(self, hamiltonian, colours: Tensor | None, device):
        self.n_sites = hamiltonian.n_sites
        self.n_states = hamiltonian.n_states
        self.device = torch.device(device) if device is not None else hamiltonian.fields.device
        hyper = hamiltonian.hyperedges()
        if colours is None:
            colours = greedy_colouring(self.n_sites, hyper)
        elif not is_proper_colouring(colours.cpu(), [e.cpu() for e in hyper]):
            raise BoltzkitError("the given colouring puts two interacting sites in the same colour")
        self.colours = colours.long().cpu()
        self.perm_cpu, self.inverse_cpu, self.blocks = _colour_order(self.colours, self.n_sites)
        self.perm, self.inverse = self.perm_cpu.to(self.device), self.inverse_cpu.to(self.device)

    @property
    def n_colours(self) -> int:
        return len(self.blocks)

    def to_internal(self, states: Tensor) -> Tensor:
        """(C, N) chains -> internal (N, C) site-major, colour-sorted copy."""
        return torch.index_select(states.to(self.device).T, 0, self.perm).contiguous()

    def to_external(self, internal: Tensor) -> Tensor:
        """Internal (N, C) -> (C, N) chains in the original site order."""
        return torch.index_select(internal, 0, self.inverse).T.contiguous()

    def sweep(self, states: Tensor, beta: float, algorithm: str, generator: torch.Generator,
              n_sweeps: int = 1) -> tuple[Tensor, Tensor]:
        """Run ``n_sweeps`` full sweeps.

        Parameters
        ----------
        states : Tensor of shape (C, N)
            Current chains (site values for spin models, state indices for Potts). Not modified.
        beta : float
        algorithm : {"metropolis", "heat-bath"}
        generator : torch.Generator on the kernel's device
        n_sweeps : int

        Returns
        -------
        states : Tensor of shape (C, N)
            New chains.
        n_changed : Tensor (scalar, long)
            Number of site updates that changed the state.
        """
        _check_algorithm(algorithm)
        internal = self.to_internal(states)
        changed = self.sweep_internal(internal, beta, algorithm, generator, n_sweeps)
        return self.to_external(internal), changed

    def sweep_internal(self, internal: Tensor, beta: float, algorithm: str, generator: torch.Generator,
                       n_sweeps: int = 1) -> Tensor:
        """Sweeps on the internal (N, C) layout, in place; returns the number of changed updates."""
        changed = torch.zeros((), dtype=torch.long, device=internal.device)
        for _ in range(n_sweeps):
            for block, (a, b) in enumerate(self.blocks):
                new = self._update_block(internal, block, beta, algorithm, generator)
                changed += (new != internal[a:b]).sum()
                internal[a:b] = new
        return changed

    def _update_block(self, internal: Tensor, block: int, beta: float, algorithm: str,
                      generator: torch.Generator) -> Tensor:
        raise NotImplementedError


def _block_slots(block_range: tuple[int, int], others: Tensor, coupling: Tensor, device
                 ) -> list[tuple[list[Tensor], Tensor]]:
    """Per slot of the incidence table: the index vectors of the other members and the couplings
    of the block's sites; slots whose couplings are all zero on the block (padding) are skipped."""
    a, b = block_range
    slots = []
    for t in range(others.shape[1]):
        w = coupling[a:b, t]
        if bool((w == 0).all()):
            continue
        idx = [others[a:b, t, m].contiguous().to(device) for m in range(others.shape[2])]
        slots.append((idx, w.to(device)))
    return slots


class SpinKernel(_Kernel):
    """Compiled sweep for a :class:`SpinHamiltonian` (any order, any spin convention).

    Pair couplings use a dense (N, N) matrix product when the graph is small or dense
    (N <= max(64, 8 * largest degree); ``dense_pairs`` forces the choice), sparse gathers otherwise;
    higher orders always use gathers.
    """

    def __init__(self, hamiltonian: SpinHamiltonian, colours: Tensor | None = None, device=None,
                 dtype: torch.dtype = torch.float32, dense_pairs: bool | None = None):
        super().__init__(hamiltonian, colours, device)
        h = hamiltonian.to(dtype=dtype, device="cpu")
        perm = self.perm_cpu
        self.values = h.state_values.to(self.device)
        self.binary_values = tuple(sorted(STATE_VALUES[h.convention])) if self.n_states == 2 else None
        integer_values = [int(v) for v in STATE_VALUES[h.convention]]
        self.lowest_value = min(integer_values)
        lookup = torch.zeros(max(integer_values) - self.lowest_value + 1, dtype=torch.long)
        lookup[torch.tensor(integer_values) - self.lowest_value] = torch.arange(self.n_states)
        self.index_of_value = lookup.to(self.device)
        self.fields = h.fields[perm][:, None].to(self.device)
        self.crystal = None if h.crystal_field is None else h.crystal_field[perm][:, None].to(self.device)
        self.dense_pairs: Tensor | None = None
        tables = []
        for k, term in h.interactions.items():
            if len(term.indices) == 0:
                continue
            others, coupling = _incidence_table(term.indices, [term.values] * k, self.inverse_cpu, self.n_sites)
            dense = self.n_sites <= max(64, 8 * others.shape[1]) if dense_pairs is None else dense_pairs
            if k == 2 and dense:
                self.dense_pairs = h.pair_matrix()[perm][:, perm].to(self.device)
                continue
            tables.append((others, coupling))
        # block -> list of (index vectors of the other members, couplings (n_c,)) per table slot
        self.slots = [[s for others, coupling in tables for s in _block_slots(blk, others, coupling, self.device)]
                      for blk in self.blocks]

    def random_states(self, n_chains: int, generator: torch.Generator) -> Tensor:
        """Uniformly random chains of shape (n_chains, N) (site values)."""
        idx = torch.randint(0, self.n_states, (n_chains, self.n_sites), generator=generator, device=self.device)
        return self.values[idx]

    def local_field(self, internal: Tensor, block: int) -> Tensor:
        """phi_i = h_i + sum_{B containing i} J_B prod_{j in B, j != i} x_j for the block's sites, (n_c, C)."""
        a, b = self.blocks[block]
        if self.dense_pairs is not None:
            phi = torch.addmm(self.fields[a:b], self.dense_pairs[a:b], internal)
        else:
            phi = self.fields[a:b].expand(b - a, internal.shape[1]).clone()
        for idx, w in self.slots[block]:
            g = torch.index_select(internal, 0, idx[0])
            for other in idx[1:]:
                g = g * torch.index_select(internal, 0, other)
            phi.addcmul_(g, w[:, None])
        return phi

    def _update_block(self, internal: Tensor, block: int, beta: float, algorithm: str,
                      generator: torch.Generator) -> Tensor:
        # The energy is E = -x_i phi_i + D_i x_i^2 + (terms without x_i).
        a, b = self.blocks[block]
        phi = self.local_field(internal, block)
        current = internal[a:b]
        crystal = None if self.crystal is None else self.crystal[a:b]
        if self.n_states == 2:
            # Arithmetic rather than torch.where (several times slower on CPU): with v0 < v1 the
            # values, width = v1 - v0 and sign = +1 at v1, -1 at v0.
            v0, v1 = self.binary_values
            width = v1 - v0
            gap = phi if width == 1.0 else width * phi  # E(v0) - E(v1)
            if crystal is not None:
                gap = gap - crystal * (v1 * v1 - v0 * v0)
            if algorithm == "heat-bath":
                u = torch.rand(current.shape, generator=generator, device=current.device, dtype=current.dtype)
                up = (u < torch.sigmoid(beta * gap)).to(current.dtype)
                return up if (v0, width) == (0.0, 1.0) else up * width + v0
            sign = current if (v0, v1) == (-1.0, 1.0) else current * (2.0 / width) - (v0 + v1) / width
            # dE = E(proposal) - E(current) = sign * gap (leaving v1 costs +gap, leaving v0 costs -gap)
            flip = metropolis_accept((sign * gap).mul_(-beta), generator).to(current.dtype)
            return current - flip * (sign * width)
        values = self.values[:, None, None]
        neg_energy = values * phi
        if crystal is not None:
            neg_energy = neg_energy - crystal * (values * values)
        # Site values are small integers: a lookup table gives their state index (argmax over the
        # state dimension is much slower).
        current_idx = self.index_of_value[(current - self.lowest_value).long()]
        return self.values[_categorical_update(neg_energy, current_idx, beta, algorithm, generator)]


class PottsKernel(_Kernel):
    """Compiled sweep for a pairwise :class:`PottsHamiltonian`."""

    def __init__(self, hamiltonian: PottsHamiltonian, colours: Tensor | None = None, device=None,
                 dtype: torch.dtype = torch.float32):
        super().__init__(hamiltonian, colours, device)
        h = hamiltonian.to(dtype=dtype, device="cpu")
        q = self.n_states
        # States-first layouts (see _categorical_update): fields (q, N), coupling tables (q, rows).
        self.fields_t = h.fields[self.perm_cpu].T.contiguous().to(self.device)
        self.slots: list[list[tuple[Tensor, Tensor, Tensor]]] = [[] for _ in self.blocks]
        if len(h.edges):
            # Site i's row for edge (i, j) must give J(x_i = a, x_j = b) indexed [b, a]: couplings[e].T
            # for the first site of an edge, couplings[e] for the second.
            others, table = _incidence_table(h.edges, [h.couplings.transpose(1, 2), h.couplings],
                                             self.inverse_cpu, self.n_sites)
            # Per slot, column s q + b of the (q, n_c q) table is the vector J_s,nbr(., b) over x_s.
            self.slots = [[(idx[0], w.reshape(-1, q).T.contiguous(),
                            q * torch.arange(len(w), device=self.device)[:, None])
                           for idx, w in _block_slots(block, others, table, self.device)]
                          for block in self.blocks]

    def random_states(self, n_chains: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.n_states, (n_chains, self.n_sites), generator=generator, device=self.device)

    def local_neg_energy(self, internal: Tensor, block: int) -> Tensor:
        """-E_i(a) = h_i(a) + sum_j J_ij(a, x_j) for every state a and the block's sites, (q, n_c, C)."""
        a, b = self.blocks[block]
        n_chains = internal.shape[1]
        neg_energy = self.fields_t[:, a:b, None].expand(self.n_states, b - a, n_chains)
        for nbr, table_t, base in self.slots[block]:
            rows = (base + torch.index_select(internal, 0, nbr)).reshape(-1)
            neg_energy = neg_energy + torch.index_select(table_t, 1, rows).view(self.n_states, b - a, n_chains)
        return neg_energy

    def _update_block(self, internal: Tensor, block: int, beta: float, algorithm: str,
                      generator: torch.Generator) -> Tensor:
        a, b = self.blocks[block]
        return _categorical_update(self.local_neg_energy(internal, block), internal[a:b], beta, algorithm, generator)


def compile_kernel(hamiltonian: SpinHamiltonian | PottsHamiltonian, colours: Tensor | None = None,
                   device=None, dtype: torch.dtype = torch.float32) -> SpinKernel | PottsKernel:
    """The sweep kernel of a Hamiltonian.

    Parameters
    ----------
    hamiltonian : SpinHamiltonian or PottsHamiltonian
    colours : Tensor of shape (N,), optional
        Proper colouring; greedy colouring of the interaction graph if None.
    device : torch device, optional (default: the Hamiltonian's)
    dtype : float type of chains and couplings
    """
    if isinstance(hamiltonian, PottsHamiltonian):
        return PottsKernel(hamiltonian, colours, device, dtype)
    return SpinKernel(hamiltonian, colours, device, dtype)


def magnetisation(x: Tensor, hamiltonian: SpinHamiltonian | PottsHamiltonian) -> Tensor:
    """Magnetisation per site of configurations (B, N) -> (B,).

    Spin conventions: the mean site value. Potts: the order parameter (q max_a rho_a - 1)/(q - 1), with
    rho_a the fraction of sites in state a (0 for a uniform mix, 1 when ordered).
    """
    if isinstance(hamiltonian, PottsHamiltonian):
        q = hamiltonian.n_states
        rho = torch.nn.functional.one_hot(x.long(), q).double().mean(1)
        return (q * rho.max(-1).values - 1) / (q - 1)
    return x.double().mean(1)


@dataclass(frozen=True)
class MCMCRun:
    """What :func:`run_chains` measured.

    Attributes
    ----------
    samples : Tensor of shape (n_records, n_chains, N), int8
        Recorded configurations (site values for spin models, state indices for Potts).
    energies : Tensor of shape (n_records, n_chains), float64
        Energy E(x) (unscaled, without beta) of each record.
    magnetisation : Tensor of shape (n_records, n_chains), float64
        See :func:`magnetisation`.
    acceptance_rate : float
        Fraction of accepted single-site proposals (Metropolis) or of updates that changed the state
        (heat-bath), over the production sweeps (the thermalisation sweeps when there are none).
    tau_energy, tau_magnetisation : float
        Integrated autocorrelation times of the records, in units of records (1 = independent
        records; NaN with fewer than 4 records per chain); see
        :func:`~boltzkit.synthetic.autocorrelation.integrated_autocorrelation_time`.
    sweeps_thermalize, sweeps_between : int
    algorithm : str
    n_colours : int
        Number of colour classes (vectorised update steps per sweep).
    """

    samples: Tensor
    energies: Tensor
    magnetisation: Tensor
    acceptance_rate: float
    tau_energy: float
    tau_magnetisation: float
    sweeps_thermalize: int
    sweeps_between: int
    algorithm: str
    n_colours: int

    @property
    def n_records(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_chains(self) -> int:
        return int(self.samples.shape[1])

    def flat_samples(self, n_samples: int | None = None) -> Tensor:
        """Samples as (n_records * n_chains, N), time-major (all chains of record 0 first)."""
        flat = self.samples.reshape(-1, self.samples.shape[-1])
        return flat if n_samples is None else flat[:n_samples]


def run_chains(hamiltonian: SpinHamiltonian | PottsHamiltonian, beta: float, *, n_records: int,
               n_chains: int, generator: torch.Generator, sweeps_thermalize: int = 1000,
               sweeps_between: int = 10, algorithm: str = "metropolis", colours: Tensor | None = None,
               device=None, dtype: torch.dtype = torch.float32, initial_states: Tensor | None = None,
               callback: Callable[[int, int], None] | None = None) -> MCMCRun:
    """Equilibrium samples of p(x) ∝ exp(-beta E(x)) from ``n_chains`` parallel chains.

    Each chain starts from a uniformly random configuration (or ``initial_states``), runs
    ``sweeps_thermalize`` sweeps, is recorded, then recorded again after every ``sweeps_between``
    further sweeps, ``n_records`` times in all.

    Parameters
    ----------
    hamiltonian : SpinHamiltonian or PottsHamiltonian
    beta : float
        Inverse temperature.
    n_records, n_chains : int
    generator : torch.Generator
        Random stream, on ``device``.
    sweeps_thermalize, sweeps_between : int
    algorithm : {"metropolis", "heat-bath"}
    colours : Tensor of shape (N,), optional
        A proper colouring of the interaction graph (greedy colouring if None).
    device : torch device, optional
    dtype : torch.dtype
        Float type of the chains and couplings (float32 by default; use float64 for reference runs).
    initial_states : Tensor of shape (n_chains, N), optional
        Site values (spin models) or state indices (Potts).
    callback : callable (sweeps_done, sweeps_total) -> None, optional
        Called after every sweep (progress bars).

    Returns
    -------
    MCMCRun
    """
    _check_algorithm(algorithm)
    if n_records < 1 or n_chains < 1:
        raise BoltzkitError(f"need at least one record and one chain, got {n_records} and {n_chains}")
    integer(sweeps_thermalize, "--sweeps-thermalize", 0)
    integer(sweeps_between, "--sweeps-between", 1)
    number(beta, "--beta", 0.0)
    kernel = compile_kernel(hamiltonian, colours, device, dtype)
    potts = isinstance(kernel, PottsKernel)
    if initial_states is None:
        x = kernel.random_states(n_chains, generator)
    else:
        if initial_states.shape != (n_chains, kernel.n_sites):
            raise BoltzkitError(f"initial states must have shape ({n_chains}, {kernel.n_sites})")
        x = initial_states.to(device=kernel.device, dtype=torch.long if potts else dtype)
    internal = kernel.to_internal(x)
    reference = hamiltonian.to(dtype=torch.float64, device=kernel.device)
    total = sweeps_thermalize + (n_records - 1) * sweeps_between
    done = 0

    def advance(n: int) -> Tensor:
        nonlocal done
        changed = torch.zeros((), dtype=torch.long, device=kernel.device)
        for _ in range(n):
            changed += kernel.sweep_internal(internal, beta, algorithm, generator)
            done += 1
            if callback is not None:
                callback(done, total)
        return changed

    changed_thermalize = advance(sweeps_thermalize)
    records, energies, mags = [], [], []
    changed_production = torch.zeros((), dtype=torch.long, device=kernel.device)
    for r in range(n_records):
        if r:
            changed_production += advance(sweeps_between)
        x = kernel.to_external(internal)
        records.append((x if potts else x.round()).to(torch.int8))
        energies.append(reference.energy(x if potts else x.double()))
        mags.append(magnetisation(x, hamiltonian))
    # over the production sweeps, else the thermalisation ones, else undefined
    changed, n_sweeps = ((changed_production, (n_records - 1) * sweeps_between) if n_records > 1
                         else (changed_thermalize, sweeps_thermalize))
    acceptance = changed.item() / (n_sweeps * n_chains * kernel.n_sites) if n_sweeps else float("nan")
    energies_t = torch.stack(energies).cpu()
    mags_t = torch.stack(mags).cpu()
    return MCMCRun(
        samples=torch.stack(records).cpu(), energies=energies_t, magnetisation=mags_t,
        acceptance_rate=acceptance, tau_energy=integrated_autocorrelation_time(energies_t),
        tau_magnetisation=integrated_autocorrelation_time(mags_t), sweeps_thermalize=sweeps_thermalize,
        sweeps_between=sweeps_between, algorithm=algorithm, n_colours=kernel.n_colours)
