"""Known energy functions as sparse hypergraph terms: the ground truth of controlled experiments.

Two families cover every generator of :mod:`boltzkit.synthetic.generators`.

:class:`SpinHamiltonian` — a multilinear polynomial in site variables x_i taking values in a finite set
(the *convention*), plus an optional on-site quadratic (crystal-field) term::

    E(x) = - sum_i h_i x_i - sum_{k>=2} sum_{B in E_k} J_B prod_{j in B} x_j + sum_i D_i x_i^2

=============== ===================== ==================================================
convention      values of x_i         stored sample code
=============== ===================== ==================================================
``ising``       -1, +1                the spin itself (int8 ±1)
``lattice-gas`` 0, 1                  the occupation itself (int8 0/1)
``blume-capel`` -1, +1, 0             state index 0 -> -1, 1 -> +1, 2 -> 0 (int8)
=============== ===================== ==================================================

The Blume-Capel coding puts the ±1 states at indices 0, 1 and spin 0 at index 2, as inferred for the
reference Blume-Capel data (docs/methods.md section 2.1). This is the generalized Ising model (GIM) form of
docs/methods.md (H = -sum H_j s_j - sum J_jk s_j s_k - sum J_jkl s_j s_k s_l - ...).

:class:`PottsHamiltonian` — q-state variables x_i in {0..q-1} with pairwise couplings on edges::

    E(x) = - sum_i h_i(x_i) - sum_{(i,j) in E} J_ij(x_i, x_j)

stored in the gauge in which they were generated (for the standard Potts model J_ij(a,b) = J delta_ab).

A pairwise Hamiltonian (Ising convention, pairs only; any :class:`PottsHamiltonian`) is a trainable
pairwise model of :mod:`boltzkit.models.pairwise` in sparse form: ``to_model`` and
:func:`from_pairwise` convert exactly, through :mod:`boltzkit.models.interactions`.

Parameters are *not* multiplied by the inverse temperature: samples are drawn from
p(x) ∝ exp(-beta E(x)), and the beta-scaled couplings are ``hamiltonian.scaled(beta)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.interactions import Interactions, coalesce_terms, dense_to_pairs, pairs_to_dense
from boltzkit.models.pairwise import pairwise_model

__all__ = ["STATE_VALUES", "SPIN_CONVENTIONS", "Interactions", "coalesce_terms", "SpinHamiltonian",
           "PottsHamiltonian", "from_pairwise", "encode_states", "decode_states", "state_indices"]

#: Values of a site in each spin convention, in the order of their stored state index.
STATE_VALUES: dict[str, tuple[float, ...]] = {
    "ising": (-1.0, 1.0),
    "lattice-gas": (0.0, 1.0),
    "blume-capel": (-1.0, 1.0, 0.0),
}
SPIN_CONVENTIONS = tuple(STATE_VALUES)


def _as_long(indices) -> Tensor:
    return torch.as_tensor(indices, dtype=torch.long)


@dataclass(frozen=True)
class SpinHamiltonian:
    """A spin-type energy function with interactions of any order.

    Parameters
    ----------
    fields : Tensor of shape (N,)
        h_i.
    interactions : mapping int -> Interactions
        ``interactions[k]`` holds the k-body terms (k >= 2): indices (m_k, k), values (m_k,).
    convention : {"ising", "lattice-gas", "blume-capel"}
        The values each site takes (see the module docstring).
    crystal_field : Tensor of shape (N,), optional
        D_i of the on-site term + D_i x_i^2 (Blume-Capel); meaningless for binary conventions.
    """

    fields: Tensor
    interactions: Mapping[int, Interactions] = field(default_factory=dict)
    convention: str = "ising"
    crystal_field: Tensor | None = None

    def __post_init__(self) -> None:
        if self.convention not in STATE_VALUES:
            raise BoltzkitError(f"unknown spin convention {self.convention!r}; "
                                f"expected one of {', '.join(SPIN_CONVENTIONS)}")
        if self.fields.ndim != 1:
            raise BoltzkitError(f"fields must have shape (N,), got {tuple(self.fields.shape)}")
        n = self.fields.shape[0]
        clean = {}
        for k, term in sorted(self.interactions.items()):
            if k < 2:
                raise BoltzkitError(f"interaction orders start at 2 (fields are separate), got {k}")
            indices = _as_long(term[0]).reshape(-1, k).to(self.fields.device)
            values = torch.as_tensor(term[1], dtype=self.fields.dtype).reshape(-1).to(self.fields.device)
            if len(indices) != len(values):
                raise BoltzkitError(f"order {k}: {len(indices)} index rows but {len(values)} values")
            if len(indices) and (indices.min() < 0 or indices.max() >= n):
                raise BoltzkitError(f"order {k}: site index out of range 0..{n - 1}")
            sorted_rows = torch.sort(indices, dim=1).values
            if len(indices) and bool((sorted_rows[:, 1:] == sorted_rows[:, :-1]).any()):
                raise BoltzkitError(f"order {k}: a term repeats a site")
            clean[k] = Interactions(indices, values)
        object.__setattr__(self, "interactions", clean)
        if self.crystal_field is not None and self.crystal_field.shape != (n,):
            raise BoltzkitError(f"crystal_field must have shape ({n},), got {tuple(self.crystal_field.shape)}")

    # ------------------------------------------------------------------ properties
    @property
    def n_sites(self) -> int:
        return int(self.fields.shape[0])

    @property
    def state_values(self) -> Tensor:
        """Tensor of shape (n_states,): the value of each state index."""
        return torch.tensor(STATE_VALUES[self.convention], dtype=self.fields.dtype, device=self.fields.device)

    @property
    def n_states(self) -> int:
        return len(STATE_VALUES[self.convention])

    @property
    def orders(self) -> list[int]:
        return sorted(self.interactions)

    # ------------------------------------------------------------------ energy
    def energy(self, x: Tensor) -> Tensor:
        """Energy of configurations.

        Parameters
        ----------
        x : Tensor of shape (B, N)
            Site *values* in this convention (not the stored codes; see :func:`decode_states`).

        Returns
        -------
        Tensor of shape (B,), in the dtype of the fields.
        """
        x = x.to(self.fields.dtype)
        e = -(x @ self.fields)
        for term in self.interactions.values():
            e = e - x[:, term.indices].prod(-1) @ term.values
        if self.crystal_field is not None:
            e = e + (x * x) @ self.crystal_field
        return e

    # ------------------------------------------------------------------ transforms
    def scaled(self, beta: float) -> "SpinHamiltonian":
        """The same Hamiltonian with every parameter multiplied by ``beta`` (so p ∝ exp(-E))."""
        inter = {k: Interactions(t.indices, beta * t.values) for k, t in self.interactions.items()}
        cf = None if self.crystal_field is None else beta * self.crystal_field
        return replace(self, fields=beta * self.fields, interactions=inter, crystal_field=cf)

    def coalesce(self, drop_below: float | None = None) -> "SpinHamiltonian":
        """Canonical form: sorted sites within terms, duplicates merged, terms sorted."""
        inter = {k: coalesce_terms(t.indices, t.values, drop_below) for k, t in self.interactions.items()}
        return replace(self, interactions=inter)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "SpinHamiltonian":
        """Copy on another dtype / device."""
        inter = {k: Interactions(t.indices.to(device=device), t.values.to(device=device, dtype=dtype))
                 for k, t in self.interactions.items()}
        crystal = None if self.crystal_field is None else self.crystal_field.to(device=device, dtype=dtype)
        return replace(self, fields=self.fields.to(device=device, dtype=dtype), interactions=inter,
                       crystal_field=crystal)

    def pairs(self) -> Interactions:
        """The pair terms (order 2; empty when there are none)."""
        return self.interactions.get(2, Interactions(torch.zeros(0, 2, dtype=torch.long), self.fields[:0]))

    def pair_matrix(self) -> Tensor:
        """Dense symmetric pair couplings, shape (N, N), zero diagonal (duplicates summed)."""
        return pairs_to_dense(self.pairs(), self.fields)

    def to_model(self, sampler: str = "gibbs") -> Any:
        """The trainable Ising model with the same energy (unscaled: ``scaled(beta).to_model()`` for
        p ∝ exp(-beta E)); Ising convention and pairs only (a lattice gas converts first with
        :func:`boltzkit.synthetic.conversion.lattice_gas_to_ising`)."""
        orders = [k for k, t in self.interactions.items() if len(t.indices)]
        if self.convention != "ising" or self.crystal_field is not None or set(orders) - {2}:
            raise BoltzkitError(f"only an Ising Hamiltonian with pair terms alone is a pairwise model, not "
                                f"this {self.convention} one with orders {orders}"
                                + (" and a crystal field" if self.crystal_field is not None else ""))
        return pairwise_model(self.fields, self.pairs(), sampler)

    def hyperedges(self) -> list[Tensor]:
        """The index tensors of every order (for colourings)."""
        return [t.indices for t in self.interactions.values()]

    def polynomial(self) -> dict[tuple[int, ...], float]:
        """Coefficients of ``-E`` as {sorted subset: value} (fields as 1-subsets; duplicates summed)."""
        poly = {(i,): h for i, h in enumerate(self.fields.tolist()) if h != 0.0}
        for term in self.interactions.values():
            for key, value in zip(map(tuple, torch.sort(term.indices, 1).values.tolist()), term.values.tolist()):
                poly[key] = poly.get(key, 0.0) + value
        return poly


@dataclass(frozen=True)
class PottsHamiltonian:
    """A pairwise q-state Potts model.

    Parameters
    ----------
    fields : Tensor of shape (N, q)
        h_i(a).
    edges : Tensor of shape (E, 2), long
        Coupled pairs (i, j), i != j.
    couplings : Tensor of shape (E, q, q)
        ``couplings[e, a, b]`` = J_ij(a, b) for ``edges[e] = (i, j)``.
    """

    fields: Tensor
    edges: Tensor
    couplings: Tensor
    convention: str = field(default="potts", init=False)

    def __post_init__(self) -> None:
        if self.fields.ndim != 2:
            raise BoltzkitError(f"Potts fields must have shape (N, q), got {tuple(self.fields.shape)}")
        n, q = self.fields.shape
        edges = _as_long(self.edges).reshape(-1, 2).to(self.fields.device)
        couplings = torch.as_tensor(self.couplings, dtype=self.fields.dtype).to(self.fields.device)
        if couplings.shape != (len(edges), q, q):
            raise BoltzkitError(f"Potts couplings must have shape ({len(edges)}, {q}, {q}), "
                                f"got {tuple(couplings.shape)}")
        if len(edges) and (edges.min() < 0 or edges.max() >= n or bool((edges[:, 0] == edges[:, 1]).any())):
            raise BoltzkitError("Potts edges must join two distinct sites in range")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "couplings", couplings)

    @property
    def n_sites(self) -> int:
        return int(self.fields.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.fields.shape[1])

    def energy(self, x: Tensor) -> Tensor:
        """Energy of configurations ``x`` of shape (B, N) with states 0..q-1; returns shape (B,)."""
        x = x.long()
        sites = torch.arange(self.n_sites, device=x.device)
        e = -self.fields[sites, x].sum(-1)
        i, j = self.edges[:, 0], self.edges[:, 1]
        return e - self.couplings[torch.arange(len(self.edges), device=x.device), x[:, i], x[:, j]].sum(-1)

    def scaled(self, beta: float) -> "PottsHamiltonian":
        return PottsHamiltonian(beta * self.fields, self.edges, beta * self.couplings)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "PottsHamiltonian":
        return PottsHamiltonian(self.fields.to(device=device, dtype=dtype), self.edges.to(device=device),
                                self.couplings.to(device=device, dtype=dtype))

    def pair_tensor(self) -> Tensor:
        """Dense couplings of shape (N, N, q, q) with J[j, i, b, a] = J[i, j, a, b], zero diagonal blocks."""
        return pairs_to_dense(Interactions(self.edges, self.couplings), self.fields)

    def to_model(self, sampler: str = "gibbs") -> Any:
        """The trainable Potts model with the same energy (unscaled, as :meth:`SpinHamiltonian.to_model`)."""
        return pairwise_model(self.fields, Interactions(self.edges, self.couplings), sampler)

    def hyperedges(self) -> list[Tensor]:
        return [self.edges]


def from_pairwise(fields: Tensor, couplings: Tensor) -> SpinHamiltonian | PottsHamiltonian:
    """The inverse of ``to_model``: the Hamiltonian of dense pairwise parameters (a pairwise model's
    ``fields`` and ``couplings``), Ising for shapes (N,) and (N, N), Potts for (N, q) and
    (N, N, q, q), with a term on every pair i < j whose coupling is not zero."""
    n = fields.shape[0]
    if fields.ndim > 2 or couplings.shape != (n, n) + tuple(fields.shape[1:]) * 2:
        raise BoltzkitError(f"pairwise parameters need fields (N,) and couplings (N, N), or (N, q) and "
                            f"(N, N, q, q); got {tuple(fields.shape)} and {tuple(couplings.shape)}")
    pairs = dense_to_pairs(couplings)
    if fields.ndim == 2:
        return PottsHamiltonian(fields, pairs.indices, pairs.values)
    return SpinHamiltonian(fields, {2: pairs} if len(pairs.indices) else {})


# ---------------------------------------------------------------------- state coding
def encode_states(x: Tensor, convention: str) -> Tensor:
    """Site values (or Potts states) -> the int8 codes stored in sample files.

    Ising and lattice-gas values are stored as they are; Blume-Capel values -1, +1, 0 become
    state indices 0, 1, 2; Potts states are already indices.
    """
    if x.is_floating_point():
        x = x.round()
    if convention == "blume-capel":
        x = x.to(torch.int8)
        # -1 -> 0, +1 -> 1, 0 -> 2
        return torch.where(x == 0, torch.full_like(x, 2), (x + 1) // 2)
    if convention in ("ising", "lattice-gas", "potts"):
        return x.to(torch.int8)
    raise BoltzkitError(f"unknown convention {convention!r}")


def decode_states(codes: Tensor, convention: str, dtype: torch.dtype = torch.float32) -> Tensor:
    """Stored codes -> site values (float) for spin conventions, long states for Potts."""
    if convention == "potts":
        return codes.long()
    if convention == "blume-capel":
        return torch.tensor(STATE_VALUES["blume-capel"], dtype=dtype, device=codes.device)[codes.long()]
    if convention in ("ising", "lattice-gas"):
        return codes.to(dtype)
    raise BoltzkitError(f"unknown convention {convention!r}")


def state_indices(codes: Tensor, convention: str) -> Tensor:
    """Stored codes -> state indices 0..n_states-1 (the order of :data:`STATE_VALUES`), long."""
    if convention == "ising":
        return ((codes.long() + 1) // 2)
    return codes.long()

