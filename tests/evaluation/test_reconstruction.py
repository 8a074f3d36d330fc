"""Reconstruction error and RMSE on hand-computed values."""

import math

import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.reconstruction import errors_by_order, pair_entries, reconstruction_error, rmse

TRUE = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, -2.0], [0.0, -2.0, 0.0]])
HAT = torch.tensor([[9.0, 1.5, 0.5], [1.5, 9.0, -2.0], [0.5, -2.0, 9.0]])  # diagonal must be ignored


def test_epsilon_and_rmse_by_hand():
    # i<j entries: true (1, 0, -2), inferred (1.5, 0.5, -2): squared errors 0.25 + 0.25 + 0 = 0.5,
    # sum J_true^2 = 5  ->  epsilon = sqrt(0.5 / 5) = sqrt(0.1); RMSE = sqrt(0.5 / 3).
    assert pair_entries(TRUE).tolist() == [1.0, 0.0, -2.0]
    assert reconstruction_error(TRUE, HAT) == pytest.approx(math.sqrt(0.1))
    assert rmse(TRUE, HAT) == pytest.approx(math.sqrt(0.5 / 3))
    assert reconstruction_error(TRUE, HAT, normalization="none") == pytest.approx(math.sqrt(0.5))
    assert reconstruction_error(TRUE, TRUE.clone()) == 0.0


def test_reference_normalization_reproduces_the_notebook_convention():
    # docs/methods.md section 1.6: numerator with beta-scaled truth, denominator with the unscaled ±1 couplings.
    beta = 0.2
    unscaled = torch.tensor([1.0, -1.0, 1.0, -1.0])
    inferred = beta * unscaled + torch.tensor([0.02, -0.02, 0.02, -0.02])
    # sqrt(4 * 0.0004 / 4) = 0.02 against the unscaled norm, 0.02 / 0.2 = 0.1 against the scaled one
    assert reconstruction_error(beta * unscaled, inferred, "reference", reference=unscaled) == pytest.approx(0.02)
    assert reconstruction_error(beta * unscaled, inferred) == pytest.approx(0.1)
    with pytest.raises(BoltzkitError):
        reconstruction_error(beta * unscaled, inferred, "reference")
    with pytest.raises(BoltzkitError):
        reconstruction_error(unscaled, inferred, "scaled")


def test_potts_blocks_are_compared_entrywise():
    true = torch.zeros(2, 2, 2, 2)
    true[0, 1] = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    true[1, 0] = true[0, 1].T
    hat = true.clone()
    hat[0, 1, 0, 0] += 1.0
    # one entry off by 1 out of sum J^2 = 4 -> epsilon = 1/2; RMSE over the 4 entries of the pair = 1/2
    assert reconstruction_error(true, hat) == pytest.approx(0.5)
    assert rmse(true, hat) == pytest.approx(0.5)


def test_errors_by_order_matches_terms_by_site_set():
    true = {2: (torch.tensor([[0, 1], [1, 2]]), torch.tensor([1.0, 2.0])),
            3: (torch.tensor([[0, 1, 2]]), torch.tensor([0.5]))}
    # inferred lists sites in another order, misses (1, 2), and has a spurious (0, 2) pair
    inferred = {2: (torch.tensor([[1, 0], [0, 2]]), torch.tensor([1.0, 1.0])),
                3: (torch.tensor([[2, 0, 1]]), torch.tensor([0.25]))}
    res = errors_by_order(true, inferred, true_fields=torch.tensor([1.0, 0.0, 0.0]),
                          inferred_fields=torch.tensor([0.0, 0.0, 0.0]))
    # pairs: union {01, 02, 12}: errors 0, 1, 2 -> epsilon = sqrt(5 / 5) = 1, RMSE = sqrt(5 / 3)
    assert res[2].epsilon == pytest.approx(1.0) and res[2].rmse == pytest.approx(math.sqrt(5 / 3))
    assert res[2].n_terms == 3
    # triplet: (0.5 - 0.25)^2 / 0.5^2 -> epsilon 0.5
    assert res[3].epsilon == pytest.approx(0.5) and res[3].rmse == pytest.approx(0.25)
    assert res[1].epsilon == pytest.approx(1.0) and res[1].rmse == pytest.approx(math.sqrt(1 / 3))


def test_shape_mismatch_and_zero_truth():
    with pytest.raises(BoltzkitError):
        reconstruction_error(torch.zeros(3, 3), torch.zeros(4, 4))
    assert math.isnan(reconstruction_error(torch.zeros(3, 3), torch.ones(3, 3)))
