"""Lattice bonds, hyperedges and colourings."""

import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.synthetic.lattices import (chain_bonds, chain_tuples, checkerboard_colouring, greedy_colouring,
                                         is_proper_colouring, lattice_colouring, random_hyperedges,
                                         square_bonds)


def test_chain_and_square_bond_counts():
    assert chain_bonds(5, True).tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]]
    assert chain_bonds(5, False).shape == (4, 2)
    assert square_bonds(4, True).shape == (32, 2)        # 2 L^2
    assert square_bonds(4, False).shape == (24, 2)       # 2 L (L - 1)
    # every site of a periodic lattice has exactly 4 neighbours
    degree = torch.bincount(square_bonds(5, True).flatten(), minlength=25)
    assert (degree == 4).all()


def test_too_small_periodic_lattice_is_refused():
    with pytest.raises(BoltzkitError):
        square_bonds(2, True)  # would double the wrap-around bond


def test_chain_tuples_wrap():
    t = chain_tuples(5, 3, True)
    assert t.tolist()[-1] == [4, 0, 1]
    assert chain_tuples(5, 3, False).shape == (3, 3)


@pytest.mark.parametrize("size,periodic", [(4, True), (7, True), (7, False), (3, True)])
def test_lattice_colouring_is_proper(size, periodic):
    bonds = square_bonds(size, periodic)
    colours = lattice_colouring((size, size), periodic)
    assert is_proper_colouring(colours, [bonds])
    # checkerboard (2 colours) when bipartite, else 3 colours (the chromatic number of odd tori)
    assert int(colours.max()) + 1 == (2 if size % 2 == 0 or not periodic else 3)


def test_odd_ring_and_3d_colourings():
    assert lattice_colouring((5,), True).tolist() == [0, 1, 0, 1, 2]
    assert is_proper_colouring(lattice_colouring((7,), True), [chain_bonds(7, True)])


def test_checkerboard_refuses_odd_periodic():
    assert checkerboard_colouring((7, 7), True) is None
    bad = (torch.arange(49) // 7 + torch.arange(49) % 7) % 2
    assert not is_proper_colouring(bad, [square_bonds(7, True)])


def test_greedy_colouring_of_hypergraph():
    g = torch.Generator().manual_seed(3)
    triples = random_hyperedges(20, 3, 15, g)
    pairs = random_hyperedges(20, 2, 20, g)
    colours = greedy_colouring(20, [pairs, triples])
    assert is_proper_colouring(colours, [pairs, triples])


def test_random_hyperedges_distinct_sorted_and_bounded():
    g = torch.Generator().manual_seed(0)
    e = random_hyperedges(6, 3, 20, g)  # all C(6,3) = 20 subsets
    assert len({tuple(r) for r in e.tolist()}) == 20
    assert (e[:, 1:] > e[:, :-1]).all()
    with pytest.raises(BoltzkitError):
        random_hyperedges(6, 3, 21, g)
