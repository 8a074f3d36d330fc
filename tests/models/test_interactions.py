"""The sparse <-> dense pair conversion and the shared Metropolis rule (models/interactions.py,
models/metropolis.py)."""

from __future__ import annotations

import math

import pytest
import torch

from boltzkit.models.interactions import Interactions, coalesce_terms, dense_to_pairs, pairs_to_dense
from boltzkit.models.metropolis import METROPOLIS_MOVE_PROBABILITY, metropolis_categorical


def test_pairs_to_dense_by_hand_and_back():
    pairs = Interactions(torch.tensor([[0, 2], [2, 0], [1, 3]]), torch.tensor([1.0, 0.5, -2.0]))
    dense = pairs_to_dense(pairs, torch.zeros(4, dtype=torch.float64))
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[0, 2] = expected[2, 0] = 1.5          # duplicated pairs are summed
    expected[1, 3] = expected[3, 1] = -2.0
    assert dense.dtype == torch.float64 and torch.equal(dense, expected)
    back = dense_to_pairs(dense)
    assert back.indices.tolist() == [[0, 2], [1, 3]] and back.values.tolist() == [1.5, -2.0]
    merged = coalesce_terms(pairs.indices, pairs.values.double())
    assert torch.equal(back.indices, merged.indices) and torch.equal(back.values, merged.values)


def test_potts_blocks_are_transposed_below_the_diagonal_and_round_trip():
    g = torch.Generator().manual_seed(0)
    n, q = 5, 3
    edges = torch.tensor([[0, 1], [3, 1], [2, 4]])
    blocks = torch.randn(3, q, q, generator=g, dtype=torch.float64)
    dense = pairs_to_dense(Interactions(edges, blocks), torch.zeros(n, q, dtype=torch.float64))
    assert dense.shape == (n, n, q, q)
    assert torch.equal(dense, dense.permute(1, 0, 3, 2))
    assert torch.equal(dense[3, 1], blocks[1]) and torch.equal(dense[1, 3], blocks[1].T)
    assert dense[torch.arange(n), torch.arange(n)].abs().sum() == 0
    back = dense_to_pairs(dense)
    assert back.indices.tolist() == [[0, 1], [1, 3], [2, 4]]
    assert torch.equal(pairs_to_dense(back, torch.zeros(n, q, dtype=torch.float64)), dense)


def test_no_pairs_give_zero_couplings():
    empty = Interactions(torch.zeros(0, 2, dtype=torch.long), torch.zeros(0))
    assert torch.equal(pairs_to_dense(empty, torch.zeros(3)), torch.zeros(3, 3))
    assert dense_to_pairs(torch.zeros(3, 3)).indices.shape == (0, 2)


def test_metropolis_categorical_is_one_rule_in_both_layouts():
    # The pairwise models put the states last, the colour-parallel kernels first: same draws.
    g = torch.Generator().manual_seed(1)
    neg_energy = torch.randn(500, 4, generator=g, dtype=torch.float64)
    current = torch.randint(0, 4, (500,), generator=g)
    last = metropolis_categorical(neg_energy, current, torch.Generator().manual_seed(2), beta=0.7)
    first = metropolis_categorical(neg_energy.T.contiguous(), current, torch.Generator().manual_seed(2),
                                   dim=0, beta=0.7)
    assert torch.equal(last, first) and bool((last != current).any())


def test_metropolis_categorical_acceptance_frequencies():
    # One site, q = 3, in state 0 with -E = (0.2, 0.2, -0.5): state 1 is neutral (accepted with rho),
    # state 2 uphill by 0.7 (rho e^-0.7); each proposed with probability 1/2. 5 binomial SE.
    n = 200_000
    neg_energy = torch.tensor([0.2, 0.2, -0.5], dtype=torch.float64).expand(n, 3)
    new = metropolis_categorical(neg_energy, torch.zeros(n, dtype=torch.long), torch.Generator().manual_seed(0))
    rho = METROPOLIS_MOVE_PROBABILITY
    for state, p in [(1, 0.5 * rho), (2, 0.5 * rho * math.exp(-0.7))]:
        freq = float((new == state).double().mean())
        assert freq == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))
