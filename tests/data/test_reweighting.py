"""Sequence weights, M_eff and frequencies (boltzkit.data.reweighting)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.data import reweighting
from boltzkit.data.msa import read_msa
from boltzkit.data.reweighting import (
    connected_correlations,
    frequencies,
    m_eff,
    plmc_weights,
    sequence_weights,
    unique_sequences,
)

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not found at {SHARED}")


def brute_force_weights(seqs: np.ndarray, threshold: float, strict: bool, count_gaps: bool) -> np.ndarray:
    """The definition, one pair at a time."""
    n, length = seqs.shape
    out = np.zeros(n)
    for s in range(n):
        neighbours = 1  # self, always
        for t in range(n):
            if t == s:
                continue
            same = seqs[s] == seqs[t]
            if not count_gaps:
                same &= seqs[s] != 0
            matches = int(same.sum())
            neighbours += matches > threshold * length if strict else matches >= threshold * length
        out[s] = 1.0 / neighbours
    return out


# --------------------------------------------------------------------------------------------
# weights: definition and conventions
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("convention", ["plmc", "morcos"])
@pytest.mark.parametrize("count_gaps", [True, False])
def test_weights_match_the_pairwise_definition(convention, count_gaps):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 4, size=(6, 10))
    # families of close relatives so that many pairs sit near the 0.7 threshold
    seqs = np.concatenate([np.where(rng.random((5, 10)) < 0.25, rng.integers(0, 4, (5, 10)), row) for row in base])
    # exact duplicates, including a gappy one that is below the threshold with itself when gaps
    # do not count: self still counts, its copies only if they pass the criterion
    gappy = np.array([[0, 0, 0, 0, 1, 2, 3, 0, 0, 0]])
    seqs = np.concatenate([seqs, seqs[:3], gappy, gappy, gappy])
    expected = brute_force_weights(seqs, 0.7, strict=convention == "morcos", count_gaps=count_gaps)
    # chunk_size=7 does not divide the number of distinct rows: off-diagonal and ragged blocks
    got = sequence_weights(seqs, 0.7, convention=convention, count_gaps=count_gaps, q=4, chunk_size=7)
    np.testing.assert_array_equal(got, expected)  # both are 1/integer: exact
    assert got.dtype == np.float64 and got.shape == (36,)
    assert got[-1] == (1 / 3 if count_gaps else 1.0)


def test_threshold_boundary_and_duplicates():
    # L = 5, threshold 0.8: a pair with 4 matches has identity exactly 0.8
    seqs = np.array([[1, 2, 3, 4, 5], [1, 2, 3, 4, 6], [7, 7, 7, 7, 7], [7, 7, 7, 7, 7], [7, 7, 7, 7, 7]])
    np.testing.assert_array_equal(sequence_weights(seqs, 0.8, convention="plmc"), [0.5, 0.5, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(sequence_weights(seqs, 0.8, convention="morcos"), [1, 1, 1 / 3, 1 / 3, 1 / 3])
    # duplicates are kept and counted: three copies weigh 1/3 each, M_eff counts them once
    assert m_eff(seqs, 0.8, convention="morcos") == pytest.approx(3.0, abs=1e-12)
    np.testing.assert_array_equal(unique_sequences(seqs), [0, 1, 2])
    with pytest.raises(ValueError, match="convention"):
        sequence_weights(seqs, 0.8, convention=">=")


def test_gap_matches_counted_only_when_asked():
    seqs = np.array([[0, 0, 0, 1], [0, 0, 0, 2]])  # 3 of 4 positions are gap facing gap
    np.testing.assert_array_equal(sequence_weights(seqs, 0.7, count_gaps=True), [0.5, 0.5])
    np.testing.assert_array_equal(sequence_weights(seqs, 0.7, count_gaps=False), [1.0, 1.0])


def direct_weights(seqs: np.ndarray, threshold: float, strict: bool, count_gaps: bool) -> np.ndarray:
    """The definition on the whole (M, M) matrix of matches at once, bound compared in float64."""
    same = seqs[:, None, :] == seqs[None, :, :]
    if not count_gaps:
        same &= seqs[:, None, :] != 0
    matches = same.sum(-1)
    bound = threshold * seqs.shape[1]
    close = matches > bound if strict else matches >= bound
    return 1.0 / (1 + close.sum(1) - close.diagonal())


def related_alignment(n_families: int, per_family: int, length: int, q: int, seed: int) -> np.ndarray:
    """Families of mutated copies (many pairs near 80 % identity), gap runs, exact duplicates."""
    rng = np.random.default_rng(seed)
    rows = []
    for base in rng.integers(0, q, size=(n_families, length)):
        mutated = rng.random((per_family, length)) < rng.uniform(0.05, 0.35, (per_family, 1))
        rows.append(np.where(mutated, rng.integers(0, q, (per_family, length)), base))
    seqs = np.concatenate(rows)
    seqs[rng.random(len(seqs)) < 0.2, : length // 3] = 0  # gapped N-termini
    return np.concatenate([seqs, seqs[rng.choice(len(seqs), len(seqs) // 4)]])


@pytest.mark.parametrize("convention", ["plmc", "morcos"])
@pytest.mark.parametrize("count_gaps", [True, False])
def test_blocked_weights_equal_the_whole_matrix(convention, count_gaps, monkeypatch):
    seqs = related_alignment(12, 25, 30, 21, seed=3)  # 375 rows, about 300 distinct
    expected = direct_weights(seqs, 0.8, convention == "morcos", count_gaps)
    assert len(np.unique(expected)) > 5  # the neighbourhoods differ: the test can fail
    for chunk_size in (5, 64, 2048):  # ragged blocks, one block
        got = sequence_weights(seqs, 0.8, convention=convention, count_gaps=count_gaps, q=21,
                               chunk_size=chunk_size)
        np.testing.assert_array_equal(got, expected)  # 1 / integer counts: exact
    # blocks cut by width (L q large): 10 rows of 630 columns each
    monkeypatch.setattr(reweighting, "_BLOCK_ENTRIES", 6300)
    got = sequence_weights(seqs, 0.8, convention=convention, count_gaps=count_gaps, q=21)
    np.testing.assert_array_equal(got, expected)


def test_weight_blocks_stay_small():
    # L = 500, q = 21: a block's one-hot matrix holds at most 2^22 float32 entries (16 MiB),
    # whatever chunk_size, and is allocated once
    seqs = np.random.default_rng(4).integers(0, 21, size=(3000, 500)).astype(np.int8)
    blocks = reweighting._IdentityBlocks(torch.from_numpy(seqs), 21, True, 2048)
    assert blocks.rows * 500 * 21 <= 1 << 22 and blocks.rows == (1 << 22) // (500 * 21)
    assert blocks.x_a.shape == blocks.x_b.shape == (blocks.rows, 500 * 21)
    assert blocks.matches.numel() == blocks.rows**2


def test_threshold_bound_is_compared_in_float64():
    # 0.14 * 50 = 7.000000000000001 in float64 (plmc's bound), 7.0 in float32: 7 matches are
    # below it, 8 reach it
    a = np.arange(50) % 20 + 1  # residues 1..20
    seven, eight = a.copy(), a.copy()
    seven[7:] = a[7:] % 20 + 1  # another residue from column 7 on
    eight[8:] = seven[8:]
    assert (seven == a).sum() == 7 and (eight == a).sum() == 8 and 0.14 * 50 > 7
    np.testing.assert_array_equal(sequence_weights(np.stack([a, seven]), 0.14, q=21), [1.0, 1.0])
    np.testing.assert_array_equal(sequence_weights(np.stack([a, eight]), 0.14, q=21), [0.5, 0.5])
    np.testing.assert_array_equal(sequence_weights(np.stack([a, seven]), 0.14, q=21, convention="morcos"),
                                  [1.0, 1.0])


def test_weights_edge_cases():
    one = np.array([[3, 0, 1]])
    np.testing.assert_array_equal(sequence_weights(one, 0.8), [1.0])
    same = np.tile([[2, 0, 5, 5]], (6, 1))  # all identical: each is the others' neighbour
    np.testing.assert_array_equal(sequence_weights(same, 0.8, q=6), np.full(6, 1 / 6))
    np.testing.assert_array_equal(sequence_weights(same, 0.8, q=6, convention="morcos"), np.full(6, 1 / 6))
    gaps = np.zeros((4, 5), dtype=np.int64)  # all gaps: identical, or no residue match at all
    np.testing.assert_array_equal(sequence_weights(gaps, 0.8, q=21), np.full(4, 0.25))
    np.testing.assert_array_equal(sequence_weights(gaps, 0.8, q=21, count_gaps=False), np.ones(4))
    np.testing.assert_array_equal(sequence_weights(gaps, 0.8, q=1, count_gaps=False), np.ones(4))
    np.testing.assert_array_equal(sequence_weights(gaps, 0.0, q=1, count_gaps=False), np.full(4, 0.25))
    assert sequence_weights(np.zeros((0, 5), dtype=np.int64)).shape == (0,)
    with pytest.raises(ValueError, match="chunk_size"):
        sequence_weights(same, 0.8, chunk_size=0)
    with pytest.raises(ValueError, match="codes"):
        sequence_weights(same, 0.8, q=5)


# --------------------------------------------------------------------------------------------
# weights: reference values of other tools
# --------------------------------------------------------------------------------------------

@needs_shared
def test_plmc_reference_weights_on_dhfr():
    """plmc -t 0.2 -f DYR_ECOLI on DHFR.a2m (plmc's own regression test): sum 1568.1."""
    msa = read_msa(SHARED / "msa" / "DHFR" / "DHFR.a2m.gz")
    reference = np.loadtxt(SHARED / "msa" / "DHFR" / "DHFR_plmc_reference_weights.txt.gz")
    weights = plmc_weights(msa, theta=0.2, focus="DYR_ECOLI")
    assert weights.shape == reference.shape == (3629,)
    # plmc drops the 13 sequences with X (weight 0) and keeps the 159 focus columns. Both sides are
    # 1/n for integer n written with 17 digits: 1e-15 only absorbs the text round trip.
    np.testing.assert_allclose(weights, reference, rtol=1e-15, atol=0)
    assert int((weights == 0).sum()) == 13
    assert round(weights.sum(), 1) == 1568.1


@pytest.fixture(scope="module")
def pf00014():
    return read_msa(SHARED / "msa" / "PF00014" / "PF00014_mgap6.fasta.gz")


@needs_shared
def test_pf00014_effective_number_of_sequences(pf00014):
    """M_eff of PF00014_mgap6, convention: identity >= 0.8, gap=gap counts, self and duplicates kept."""
    weights = sequence_weights(pf00014, 0.8, convention="plmc")
    meff = weights.sum()
    print(f"\nPF00014_mgap6: M = {len(pf00014)}, M_eff(0.8, plmc convention) = {meff:.2f}")
    # plmc -t 0.2 reports 4363.9 (msa/README); it prints one decimal, hence the 0.05 tolerance
    assert abs(meff - 4363.9) < 0.05
    assert weights.min() > 0 and weights.max() == 1.0


@needs_shared
def test_pf00014_adabmdca_and_ardca_conventions(pf00014):
    # adabmDCA 1.0 removes exact duplicates first: 8871 sequences, M_eff 4376.5 (msa/README)
    unique = pf00014.sequences[unique_sequences(pf00014)]
    assert unique.shape == (8871, 53)
    assert abs(m_eff(unique, 0.8) - 4376.5) < 0.05
    # ArDCA.jl's shipped weights (theta=:auto, threshold not recorded) are reproduced exactly by
    # >= 44 identical columns out of 53 (found by scanning the integer cut-offs 30..53 once)
    shipped = np.loadtxt(SHARED / "msa" / "PF00014" / "PF00014_mgap6_weights_ardca.txt.gz")
    np.testing.assert_allclose(sequence_weights(pf00014, 44 / 53), shipped, rtol=1e-12, atol=0)
    assert round(shipped.sum(), 2) == 4632.19


# --------------------------------------------------------------------------------------------
# frequencies
# --------------------------------------------------------------------------------------------

def brute_force_frequencies(seqs, q, w, lam):
    n, length = seqs.shape
    w = w / w.sum()
    fi = np.zeros((length, q))
    fij = np.zeros((length, length, q, q))
    for m in range(n):
        for i in range(length):
            fi[i, seqs[m, i]] += w[m]
            for j in range(length):
                fij[i, j, seqs[m, i], seqs[m, j]] += w[m]
    fi = (1 - lam) * fi + lam / q
    fij = (1 - lam) * fij + lam / q**2
    for i in range(length):
        fij[i, i] = np.diag(fi[i])
    return fi, fij


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_frequencies_match_the_definition(lam):
    rng = np.random.default_rng(2)
    seqs = rng.integers(0, 3, size=(11, 4))
    w = rng.random(11)
    fi, fij = frequencies(seqs, 3, w, pseudocount=lam, chunk_size=4, dtype=torch.float64)
    ref_i, ref_ij = brute_force_frequencies(seqs, 3, w, lam)
    assert fi.shape == (4, 3) and fij.shape == (4, 4, 3, 3) and fi.dtype == torch.float64
    # float64 sums of 11 terms: 1e-12 is far above rounding and far below any real discrepancy
    np.testing.assert_allclose(fi.numpy(), ref_i, atol=1e-12)
    np.testing.assert_allclose(fij.numpy(), ref_ij, atol=1e-12)
    # consistency: marginals of f_ij are f_i, including the diagonal blocks
    np.testing.assert_allclose(fij.sum(dim=3).numpy(), np.broadcast_to(ref_i[:, None, :], (4, 4, 3)), atol=1e-12)
    np.testing.assert_allclose(fi.sum(dim=1).numpy(), 1.0, atol=1e-12)


def test_connected_correlations_vanish_for_independent_sites():
    # all 9 combinations of two independent 3-state sites: f_ij = f_i f_j exactly
    seqs = np.array([[a, b] for a in range(3) for b in range(3)])
    fi, fij = frequencies(seqs, 3, dtype=torch.float64)
    C = connected_correlations(fi, fij)
    assert C.shape == (2, 2, 3, 3)
    assert torch.allclose(C[0, 1], torch.zeros(3, 3, dtype=torch.float64), atol=1e-15)
    # diagonal block: covariance of a one-hot variable, diag(f) - f f^T
    assert torch.allclose(C[0, 0], torch.diag(fi[0]) - torch.outer(fi[0], fi[0]), atol=1e-15)
    # perfectly correlated sites give a non-zero connected correlation
    fi2, fij2 = frequencies(np.array([[0, 0], [1, 1], [2, 2]]), 3, dtype=torch.float64)
    c01 = connected_correlations(fi2, fij2)[0, 1, 0, 0]
    assert torch.allclose(c01, torch.tensor(1 / 3 - 1 / 9, dtype=torch.float64))


def test_frequencies_reject_bad_input():
    seqs = np.zeros((3, 2), dtype=int)
    with pytest.raises(ValueError, match="weights"):
        frequencies(seqs, 2, np.ones(4))
    with pytest.raises(ValueError, match="pseudocount"):
        frequencies(seqs, 2, pseudocount=1.5)
    with pytest.raises(ValueError, match="codes"):
        frequencies(seqs + 2, 2)
