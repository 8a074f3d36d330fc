"""Lattice topologies and site colourings for vectorised single-site updates.

Sites of a d-dimensional lattice are numbered in row-major order: site (r, c) of an L x L square
lattice is ``r * L + c``. A *colouring* assigns each site a colour such that two sites sharing an
interaction term never have the same colour; all sites of one colour can then be updated at once
(their conditional distributions do not depend on each other). On bipartite lattices this is the
checkerboard (red-black) colouring; periodic lattices with an odd side get a 3-colouring; general
sparse hypergraphs use a greedy colouring of the interaction graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, permutations
from math import comb

import numpy as np
import torch
from torch import Tensor

from boltzkit.errors import BoltzkitError

__all__ = ["chain_bonds", "square_bonds", "chain_tuples", "random_hyperedges", "checkerboard_colouring",
           "greedy_colouring", "lattice_colouring", "is_proper_colouring"]


def _check_size(size: int, periodic: bool, what: str) -> None:
    # A periodic ring of 2 sites would count the same bond twice (and of 1 site, a self-bond):
    # refuse rather than silently double a coupling.
    minimum = 3 if periodic else 2
    if size < minimum:
        boundary = "periodic" if periodic else "open"
        raise BoltzkitError(f"--size (the {what} size L) must be >= {minimum} with {boundary} boundaries, "
                            f"got {size}")


def chain_bonds(length: int, periodic: bool = True) -> Tensor:
    """Nearest-neighbour bonds of a 1D chain.

    Returns
    -------
    Tensor of shape (E, 2), long
        Bonds (i, i+1), plus (L-1, 0) when ``periodic``; E = L (periodic) or L - 1 (open).
    """
    _check_size(length, periodic, "chain")
    return chain_tuples(length, 2, periodic)


def chain_tuples(length: int, order: int, periodic: bool = True) -> Tensor:
    """Consecutive k-tuples (i, i+1, ..., i+k-1) of a chain (the "consecutive triplets" of
    docs/methods.md section 2.1).

    Returns
    -------
    Tensor of shape (m, order), long
        m = L when ``periodic`` (indices wrap around), else L - order + 1.
    """
    if order < 1:
        raise BoltzkitError(f"interaction order must be at least 1, got {order}")
    if periodic and length < order + 1 or not periodic and length < order:
        raise BoltzkitError(f"a chain of {length} sites is too short for consecutive {order}-tuples")
    start = torch.arange(length if periodic else length - order + 1)
    return (start[:, None] + torch.arange(order)[None, :]) % length


def square_bonds(size: int, periodic: bool = True) -> Tensor:
    """Nearest-neighbour bonds of an L x L square lattice (row-major sites).

    Returns
    -------
    Tensor of shape (E, 2), long
        First the horizontal bonds (site, right neighbour), then the vertical ones (site, neighbour
        below), each in row-major order of the first site. E = 2 L^2 (periodic) or 2 L (L - 1) (open).
    """
    _check_size(size, periodic, "lattice")
    site = torch.arange(size * size).reshape(size, size)
    cut = size if periodic else size - 1  # open boundaries: no wrap-around bond
    horizontal = torch.stack([site[:, :cut], site.roll(-1, 1)[:, :cut]], -1).reshape(-1, 2)
    vertical = torch.stack([site[:cut], site.roll(-1, 0)[:cut]], -1).reshape(-1, 2)
    return torch.cat([horizontal, vertical], 0)


def random_hyperedges(n_sites: int, order: int, n_terms: int, generator: torch.Generator,
                      exclude: Tensor | None = None) -> Tensor:
    """Distinct random k-subsets of ``range(n_sites)``, drawn uniformly without replacement.

    Parameters
    ----------
    n_sites, order, n_terms : int
        Draw ``n_terms`` subsets of size ``order``.
    generator : torch.Generator
        Source of randomness (CPU generator).
    exclude : Tensor of shape (m, order), optional
        Subsets that must not be drawn again.

    Returns
    -------
    Tensor of shape (n_terms, order), long, each row sorted increasingly.
    """
    if order < 1 or order > n_sites:
        raise BoltzkitError(f"cannot draw {order}-body terms on {n_sites} sites")
    n_excluded = 0 if exclude is None else len(exclude)
    available = comb(n_sites, order) - n_excluded
    if n_terms > available:
        raise BoltzkitError(f"asked for {n_terms} distinct {order}-body terms but only {available} exist "
                            f"on {n_sites} sites")
    if n_terms == 0:
        return torch.empty(0, order, dtype=torch.long)
    taken = set() if exclude is None else {tuple(row) for row in torch.sort(exclude, 1).values.tolist()}
    chosen: list[tuple[int, ...]] = []
    # Rejection of duplicates: draw batches of random subsets (argsort of uniform keys gives a uniform
    # random subset) until enough distinct ones are collected; the loop is over batches, not terms.
    while len(chosen) < n_terms:
        batch = max(2 * (n_terms - len(chosen)), 16)
        keys = torch.rand(batch, n_sites, generator=generator)
        subsets = torch.sort(torch.argsort(keys, dim=1)[:, :order], dim=1).values
        for key in map(tuple, subsets.tolist()):
            if key not in taken:
                taken.add(key)
                chosen.append(key)
                if len(chosen) == n_terms:
                    break
    return torch.tensor(chosen, dtype=torch.long)


def checkerboard_colouring(shape: Sequence[int], periodic: bool = True) -> Tensor | None:
    """Red-black colouring (parity of the sum of coordinates) of a hypercubic lattice.

    Returns
    -------
    Tensor of shape (prod(shape),), long, or None
        Colours 0/1; None when the parity colouring is not proper (a periodic side of odd length,
        where the wrap-around bond joins two sites of the same parity).
    """
    if periodic and any(n % 2 for n in shape):
        return None
    grids = torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij")
    return (sum(grids) % 2).flatten().long()


def _adjacency(n_sites: int, hyperedges: Sequence[Tensor]) -> list[np.ndarray]:
    """Neighbour lists of the interaction graph: i ~ j when some term contains both."""
    pairs = []
    for edges in hyperedges:
        edges = np.asarray(edges.cpu() if isinstance(edges, Tensor) else edges, dtype=np.int64)
        if edges.size:
            pairs += [edges[:, [p, q]] for p, q in permutations(range(edges.shape[1]), 2)]
    if not pairs:
        return [np.empty(0, dtype=np.int64) for _ in range(n_sites)]
    allpairs = np.unique(np.concatenate(pairs, 0), axis=0)
    allpairs = allpairs[allpairs[:, 0] != allpairs[:, 1]]
    bounds = np.searchsorted(allpairs[:, 0], np.arange(n_sites + 1))
    return [allpairs[bounds[i]:bounds[i + 1], 1] for i in range(n_sites)]


def greedy_colouring(n_sites: int, hyperedges: Sequence[Tensor]) -> Tensor:
    """Greedy (Welsh-Powell, largest degree first) proper colouring of the interaction graph.

    Parameters
    ----------
    n_sites : int
    hyperedges : sequence of Tensor of shape (m_k, k)
        The interaction terms of each order; two sites conflict when a term contains both.

    Returns
    -------
    Tensor of shape (n_sites,), long
        Colours 0..n_colours-1. At most max_degree + 1 colours; uncoupled sites get colour 0.
    """
    neighbours = _adjacency(n_sites, hyperedges)
    degree = np.array([len(nb) for nb in neighbours])
    # Stable sort: among equal degrees keep the natural order, which gives the checkerboard on
    # bipartite lattices numbered row-major.
    order = np.argsort(-degree, kind="stable")
    colours = np.full(n_sites, -1, dtype=np.int64)
    for site in order:
        used = set(colours[neighbours[site]].tolist())
        colours[site] = min(set(range(len(used) + 1)) - used)  # the smallest colour no neighbour has
    return torch.from_numpy(colours)


def lattice_colouring(shape: Sequence[int], periodic: bool = True) -> Tensor:
    """Fewest-colour proper colouring of a hypercubic lattice with nearest-neighbour bonds.

    The checkerboard (2 colours) when it is proper; otherwise (a periodic side of odd length) the
    3-colouring colour = sum_d f(x_d) mod 3 with f(i) = i mod 2 for i < L - 1 and f(L - 1) = 2 on odd
    sides: f properly colours each ring, so neighbours (which differ in one coordinate) get sums that
    differ by 1 or 2 mod 3.

    Returns
    -------
    Tensor of shape (prod(shape),), long
    """
    colours = checkerboard_colouring(shape, periodic)
    if colours is not None:
        return colours
    ring = []
    for n in shape:
        f = torch.arange(n) % 2
        if n % 2:
            f[-1] = 2
        ring.append(f)
    grids = torch.meshgrid(*ring, indexing="ij")
    return (sum(grids) % 3).flatten().long()


def is_proper_colouring(colours: Tensor, hyperedges: Sequence[Tensor]) -> bool:
    """True when no interaction term contains two sites of the same colour."""
    for edges in hyperedges:
        c = colours[edges]
        if any(bool((c[:, p] == c[:, q]).any()) for p, q in combinations(range(edges.shape[1]), 2)):
            return False
    return True
