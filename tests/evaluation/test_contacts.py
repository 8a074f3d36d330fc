"""Contact maps, Frobenius/APC scores and precision (boltzkit.evaluation.contacts)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.errors import DataError
from boltzkit.evaluation.contacts import (
    average_product_correction,
    contact_precision,
    frobenius_scores,
    ppv_curve,
    ranked_pairs,
    read_struct,
    zero_sum_gauge,
)

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not found at {SHARED}")


def random_couplings(length: int, q: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(length, length, q, q, generator=gen, dtype=torch.float64)
    J = 0.5 * (J + J.permute(1, 0, 3, 2))  # J[j, i] = J[i, j].T
    J[torch.arange(length), torch.arange(length)] = 0
    return J


def energies(h: torch.Tensor, J: torch.Tensor) -> torch.Tensor:
    """E(s) = -sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j) for every configuration."""
    length, q = h.shape
    out = []
    for s in itertools.product(range(q), repeat=length):
        e = -sum(h[i, s[i]] for i in range(length))
        e -= sum(J[i, j, s[i], s[j]] for i in range(length) for j in range(i + 1, length))
        out.append(e)
    return torch.stack(out)


# --------------------------------------------------------------------------------------------
# structure files
# --------------------------------------------------------------------------------------------

@needs_shared
def test_pf00014_struct_has_652_contacts_below_8_angstrom():
    cmap = read_struct(SHARED / "msa" / "PF00014" / "PF00014_struct.dat.gz")
    assert cmap.length == 53 and cmap.threshold == 8.0
    assert int(cmap.pair_mask().sum()) == 1378  # all i < j are listed
    assert cmap.n_contacts() == 652  # data README: d < 8 A gives 652 pairs
    assert np.array_equal(cmap.contacts, cmap.contacts.T) and not cmap.contacts.diagonal().any()


@needs_shared
def test_pf00072_struct_counts_of_the_reference_notebook():
    cmap = read_struct(SHARED / "msa" / "PF00072" / "PF00072_struct.dat.gz", threshold=7.5)
    assert cmap.length == 112
    # docs/methods.md section 1.6 item 3: |i - j| > 5 (min_separation=6, inclusive) and d < 7.5: 2074 of 5671 pairs
    assert int(cmap.pair_mask(min_separation=6).sum()) == 5671
    assert cmap.n_contacts(min_separation=6) == 2074
    assert cmap.with_threshold(8.0).n_contacts() == 2816  # data README, d < 8 over all pairs


def test_read_struct_small_file_and_errors(tmp_path):
    path = tmp_path / "toy_struct.dat"
    path.write_text("1 3 0.5 7.9\n2.0e+00 4.0e+00 0.1 8.0\n\n1 4 0.0 3.0\n")
    cmap = read_struct(path, length=5)
    assert cmap.length == 5
    assert cmap.contacts[0, 2] and cmap.contacts[2, 0] and not cmap.contacts[1, 3]  # 8.0 is not < 8
    assert np.isnan(cmap.distances[0, 1]) and not cmap.known[0, 1]  # unlisted pair: unknown
    assert cmap.n_contacts() == 2

    bad = tmp_path / "bad_struct.dat"
    for text, line, words in [
        ("1 3 0.5 7.9\n1 2 3\n", 2, "4 columns"),
        ("1 3 0.5 7.9\n2 2 0.5 7.9\n", 2, "itself"),
        ("1 3 0.5 abc\n", 1, "non-numeric"),
        ("1.5 3 0.5 4\n", 1, "integers"),
        ("\n", 1, "no pairs"),
    ]:
        bad.write_text(text)
        with pytest.raises(DataError) as info:
            read_struct(bad)
        assert str(info.value).startswith(f"{bad}:{line}: ") and words in str(info.value)
    with pytest.raises(DataError, match="exceeds length"):
        read_struct(path, length=3)


# --------------------------------------------------------------------------------------------
# gauge and scores
# --------------------------------------------------------------------------------------------

def test_zero_sum_gauge_keeps_the_distribution_and_is_zero_sum():
    length, q = 4, 3
    J = random_couplings(length, q, seed=0)
    h = torch.randn(length, q, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    J_zs, h_zs = zero_sum_gauge(J, h)
    # energies shift by one constant: p(s) unchanged (float64 sums of ~10 terms: 1e-12)
    shift = energies(h_zs, J_zs) - energies(h, J)
    assert torch.allclose(shift, shift[0].expand_as(shift), atol=1e-12)
    assert torch.allclose(J_zs.sum(dim=2), torch.zeros(length, length, q, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(J_zs.sum(dim=3), torch.zeros(length, length, q, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(h_zs.sum(dim=1), torch.zeros(length, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(J_zs, J_zs.permute(1, 0, 3, 2))
    J_again, h_again = zero_sum_gauge(J_zs, h_zs)  # idempotent
    assert torch.allclose(J_again, J_zs, atol=1e-12) and torch.allclose(h_again, h_zs, atol=1e-12)
    assert zero_sum_gauge(J)[1] is None


def test_frobenius_scores_are_gauge_invariant_and_exclude_the_gap():
    length, q = 6, 4
    J = random_couplings(length, q, seed=3)
    gen = torch.Generator().manual_seed(4)
    u = torch.randn(length, length, q, generator=gen, dtype=torch.float64)
    # J_ij(a, b) + u_ij(a) + u_ji(b): a gauge change (absorbed by the fields), symmetric by construction
    J_gauged = J + u[:, :, :, None] + u.transpose(0, 1)[:, :, None, :]
    for apc in (False, True):
        assert torch.allclose(frobenius_scores(J, apc=apc), frobenius_scores(J_gauged, apc=apc), atol=1e-12)
    J_zs, _ = zero_sum_gauge(J)
    expected = torch.linalg.matrix_norm(J_zs[:, :, 1:, 1:])  # docs/methods.md section 1.5: J[1:, 1:] after the gauge
    expected.fill_diagonal_(0)
    assert torch.allclose(frobenius_scores(J, apc=False), expected, atol=1e-12)
    with_gap = torch.linalg.matrix_norm(J_zs)
    with_gap.fill_diagonal_(0)
    assert torch.allclose(frobenius_scores(J, exclude_gap=False, apc=False), with_gap, atol=1e-12)
    assert not torch.allclose(expected, with_gap)


def test_average_product_correction_formula():
    rng = np.random.default_rng(5)
    F = rng.random((5, 5))
    F = F + F.T
    np.fill_diagonal(F, 0)
    expected = np.zeros_like(F)
    total = F.sum()
    for i in range(5):
        for j in range(5):
            if i != j:
                expected[i, j] = F[i, j] - F[i, :].sum() * F[:, j].sum() / total
    np.testing.assert_allclose(average_product_correction(F).numpy(), expected, atol=1e-14)


# --------------------------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------------------------

def test_precision_on_a_hand_ranked_example(toy_contact_map):
    cmap = toy_contact_map
    S = np.zeros((10, 10))
    for (i, j), s in {(0, 5): 10.0, (0, 9): 9.0, (1, 6): 8.0, (2, 8): 7.0, (0, 1): 100.0}.items():
        S[i, j] = S[j, i] = s
    # (0, 1) is too close to count; after the 4 scored pairs the zero scores follow in (i, j)
    # order: (0,4) (0,6) (0,7) (0,8) (1,5) (1,7) (1,8) (1,9) (2,6) (2,7) (2,9) (3,7) (3,8) (3,9) ...
    prec = contact_precision(S, cmap, min_separation=4)
    assert list(prec) == ["L/5", "L/2", "L", "2L"]
    assert prec == {"L/5": 0.5, "L/2": 3 / 5, "L": 3 / 10, "2L": 4 / 20}
    assert contact_precision(S, cmap, min_separation=4, tops=(1, 3)) == {"1": 1.0, "3": 2 / 3}
    curve = ppv_curve(S, cmap, min_separation=4)
    assert curve.shape == (21,)  # pairs with j - i >= 4 among 10 columns
    np.testing.assert_allclose(curve[:4], [1, 1 / 2, 2 / 3, 3 / 4])
    # min_separation is inclusive: (0, 4) is eligible at 4, not at 5
    pairs4, _ = ranked_pairs(S, cmap, min_separation=4)
    pairs5, _ = ranked_pairs(S, cmap, min_separation=5)
    assert [0, 4] in pairs4.tolist() and [0, 4] not in pairs5.tolist()
    # the close pair counts once the separation allows it
    assert contact_precision(S, cmap, min_separation=1, tops=(1,)) == {"1": 1.0}


@needs_shared
def test_known_couplings_give_perfect_precision_and_shuffled_ones_do_not():
    cmap = read_struct(SHARED / "msa" / "PF00014" / "PF00014_struct.dat.gz")
    length, q = cmap.length, 21
    gen = torch.Generator().manual_seed(7)
    # strong random couplings on the true contacts, weak noise elsewhere (the "known couplings")
    noise = 0.01 * random_couplings(length, q, seed=8)
    strong = random_couplings(length, q, seed=9)
    mask = torch.as_tensor(cmap.contacts & cmap.pair_mask(4))
    mask = (mask | mask.T)[:, :, None, None]
    J = torch.where(mask, strong, noise)
    scores = frobenius_scores(J)
    assert scores.shape == (length, length) and torch.allclose(scores, scores.T)
    prec = contact_precision(scores, cmap, min_separation=4)
    assert prec == {"L/5": 1.0, "L/2": 1.0, "L": 1.0, "2L": 1.0}  # 499 contacts >= 2L = 106
    # relabelling the sites destroys the information: precision falls to about the base rate
    base_rate = cmap.n_contacts(4) / cmap.pair_mask(4).sum()  # 499 / 1225 = 0.41
    shuffled = []
    for _ in range(20):
        perm = torch.randperm(length, generator=gen)
        shuffled.append(contact_precision(scores[perm][:, perm], cmap, min_separation=4)["L"])
    # 20 draws of top-53 precision, each with sd ~ sqrt(0.41 * 0.59 / 53) = 0.07: the mean of 20
    # has sd ~ 0.015, so +-0.1 around the base rate is a > 6 sigma band
    assert abs(np.mean(shuffled) - base_rate) < 0.1
    assert max(shuffled) < 0.8


def test_scores_must_match_the_map(toy_contact_map):
    cmap = toy_contact_map
    with pytest.raises(ValueError, match="shape"):
        contact_precision(np.zeros((9, 9)), cmap)
    with pytest.raises(ValueError, match="top"):
        contact_precision(np.zeros((10, 10)), cmap, tops=(0,))
    # a fraction of L below one pair is the top pair: (0, 5), a contact, then (0, 6), not one
    S = np.zeros((10, 10))
    S[0, 5] = S[5, 0] = 2.0
    assert contact_precision(S, cmap, tops=("L/20",)) == {"L/20": 1.0}
    S[0, 6] = S[6, 0] = 3.0
    assert contact_precision(S, cmap, tops=("L/20",)) == {"L/20": 0.0}
