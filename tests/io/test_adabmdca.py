"""adabmDCA params.dat and plmc file interop (boltzkit.io.adabmdca)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.data.msa import decode, focus_columns, read_msa
from boltzkit.errors import DataError
from boltzkit.io.adabmdca import (
    read_adabmdca_params,
    read_plmc_couplings,
    read_plmc_params,
    write_adabmdca_params,
)

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not found at {SHARED}")


def random_params(length: int, q: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(length, q, generator=gen)
    J = torch.randn(length, length, q, q, generator=gen)
    J = 0.5 * (J + J.permute(1, 0, 3, 2))
    J[torch.arange(length), torch.arange(length)] = 0
    return h, J


# --------------------------------------------------------------------------------------------
# adabmDCA
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("letters", [True, False])
def test_adabmdca_round_trip_is_exact_in_float32(tmp_path, letters):
    h, J = random_params(5, 21, seed=0)
    path = write_adabmdca_params(tmp_path / "params.dat", h, J, "protein", letters=letters)
    lines = path.read_text().splitlines()
    assert len(lines) == 10 * 21 * 21 + 5 * 21  # C(5, 2) coupling blocks, then the fields
    assert lines[0].split()[:5] == (["J", "0", "1", "-", "-"] if letters else ["J", "0", "1", "0", "0"])
    assert lines[-1].split()[:3] == (["h", "4", "Y"] if letters else ["h", "4", "20"])
    h_back, J_back = read_adabmdca_params(path, "protein")
    # %.9g round-trips float32 exactly
    assert h_back.dtype == torch.float32 and torch.equal(h_back, h)
    assert J_back.shape == (5, 5, 21, 21) and torch.equal(J_back, J)
    assert [p.name for p in tmp_path.iterdir()] == ["params.dat"]  # atomic: no temporary left


def test_adabmdca_reads_a_hand_written_file(tmp_path):
    path = tmp_path / "params.dat.gz"
    text = "J 0 2 A G 0.5\nJ 0 2 - U -1.25\nJ 1 2 C C 2\nh 0 A 0.1\nh 2 U -3\n"
    path.write_bytes(gzip.compress(text.encode()))
    h, J = read_adabmdca_params(path, "rna", dtype=torch.float64)
    assert h.shape == (3, 5) and J.shape == (3, 3, 5, 5)
    assert h[0, 1] == 0.1 and h[2, 4] == -3 and h.abs().sum() == pytest.approx(3.1)
    assert J[0, 2, 1, 3] == 0.5 and J[2, 0, 3, 1] == 0.5  # J[j, i] = J[i, j].T
    assert J[0, 2, 0, 4] == -1.25 and J[1, 2, 2, 2] == 2 and J[2, 1, 2, 2] == 2
    assert J.abs().sum() == pytest.approx(2 * (0.5 + 1.25 + 2))  # everything else absent = 0
    # the integer-state (adabmDCA 1.x) spelling of the same file reads the same
    old = tmp_path / "old.dat"
    old.write_text("J 0 2 1 3 0.5\nJ 0 2 0 4 -1.25\nJ 1 2 2 2 2\nh 0 1 0.1\nh 2 4 -3\n")
    h_old, J_old = read_adabmdca_params(old, "rna", dtype=torch.float64)
    assert torch.equal(h_old, h) and torch.equal(J_old, J)


def test_adabmdca_sparse_write(tmp_path):
    h, J = random_params(4, 3, seed=1)
    J[0, 3] = 0
    J[3, 0] = 0
    path = write_adabmdca_params(tmp_path / "sparse.dat", h, J, "-AB", skip_zero=True)
    assert len(path.read_text().splitlines()) == 5 * 9 + 4 * 3  # the (0, 3) block is left out
    h_back, J_back = read_adabmdca_params(path, "-AB")
    assert torch.equal(J_back, J) and torch.equal(h_back, h)


def test_adabmdca_bad_files_name_the_line(tmp_path):
    path = tmp_path / "bad.dat"
    for text, line, words in [
        ("h 0 A 0.1\nJ 0 1 A 0.5\n", 2, "J i j a b value"),
        ("h 0 A 0.1\nh 1 Z 0.2\n", 2, "'Z'"),
        ("h 0 A 0.1\nK 0 A 1\n", 2, "'J' or 'h'"),
        ("J 1 1 A A 0.1\n", 1, "itself"),
        ("h 0 A zero\n", 1, "not a number"),
        ("h 0 30 1.0\n", 1, "out of range"),
        ("", 1, "empty"),
    ]:
        path.write_text(text)
        with pytest.raises(DataError) as info:
            read_adabmdca_params(path, "protein")
        assert str(info.value).startswith(f"{path}:{line}: ") and words in str(info.value)
    with pytest.raises(ValueError, match="letters"):
        write_adabmdca_params(tmp_path / "x.dat", torch.zeros(2, 3), torch.zeros(2, 2, 3, 3), "protein")


# --------------------------------------------------------------------------------------------
# plmc
# --------------------------------------------------------------------------------------------

@needs_shared
def test_plmc_reference_couplings_file_on_dhfr():
    scores = read_plmc_couplings(SHARED / "msa" / "DHFR" / "DHFR_plmc_reference.couplings.gz")
    assert len(scores.positions) == 159 and scores.scores.shape == (159, 159)
    assert int(np.isfinite(scores.scores).sum()) == 2 * 12561  # C(159, 2) pairs, both halves
    assert np.array_equal(np.isnan(scores.scores), np.eye(159, dtype=bool))
    assert scores.scores[0, 1] == scores.scores[1, 0] == 0.275207  # first line: "1 M 2 I 0 0.275207"
    # positions are alignment columns of the focus (offset 1), its residues are the focus sequence
    msa = read_msa(SHARED / "msa" / "DHFR" / "DHFR.a2m.gz")
    columns = focus_columns(msa, "DYR_ECOLI")
    np.testing.assert_array_equal(scores.positions, columns + 1)
    assert scores.residues == decode(msa.sequences[0, columns], msa.alphabet)


def test_plmc_couplings_without_focus_and_errors(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1 - 2 - 0 0.5\n1 - 3 - 0 -0.25\n2 - 3 - 0 1.0\n")
    scores = read_plmc_couplings(path)
    assert scores.residues == "---" and scores.scores[0, 2] == -0.25 and scores.scores[2, 1] == 1.0
    path.write_text("1 - 2 - 0 0.5\n1 - 3 - 0\n")
    with pytest.raises(DataError) as info:
        read_plmc_couplings(path)
    assert str(info.value).startswith(f"{path}:2: ")


def plmc_param_bytes(length, q, alphabet, n_seqs, n_skipped, neighbours, focus, offsets, fi, hi, fij, eij):
    """The bytes plmc's OutputParametersFull (src/plm.c) writes, field by field."""
    out = struct.pack("<5i", length, q, n_seqs, n_skipped, 50)
    out += struct.pack("<5f", 0.2, 0.01, 16.0, 0.0, 2.5)
    out += alphabet.encode("ascii")
    out += struct.pack(f"<{len(neighbours)}f", *neighbours)
    out += focus.encode("ascii")
    out += struct.pack(f"<{length}i", *offsets)
    for block in (fi, hi, fij, eij):
        out += np.asarray(block, dtype="<f4").tobytes()
    return out


def test_plmc_binary_params_layout(tmp_path):
    length, q = 3, 2
    rng = np.random.default_rng(0)
    fi, hi = rng.random((length, q)), rng.standard_normal((length, q))
    fij, eij = rng.random((3, q, q)), rng.standard_normal((3, q, q))  # pairs (0,1), (0,2), (1,2)
    raw = plmc_param_bytes(length, q, "-A", 4, 1, [1, 2, 0, 1, 3], "A-A", [2, 3, 5], fi, hi, fij, eij)
    path = tmp_path / "dhfr.params"
    path.write_bytes(raw)
    params = read_plmc_params(path, dtype=torch.float64)
    assert params.alphabet == "-A" and params.focus_sequence == "A-A"
    assert params.n_sequences == 4 and params.n_skipped == 1 and params.max_iter == 50
    np.testing.assert_array_equal(params.neighbours, [1, 2, 0, 1, 3])
    np.testing.assert_array_equal(params.offsets, [2, 3, 5])
    assert params.theta == pytest.approx(0.2) and params.lambda_e == 16.0 and params.n_eff == 2.5
    f32 = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32).astype(np.float64))  # noqa: E731
    assert torch.equal(params.fields, f32(hi)) and torch.equal(params.fi, f32(fi))
    for k, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        assert torch.equal(params.couplings[i, j], f32(eij[k]))
        assert torch.equal(params.couplings[j, i], f32(eij[k]).T)
        assert torch.equal(params.fij[i, j], f32(fij[k]))
    assert torch.equal(params.couplings[1, 1], torch.zeros(q, q))
    # a file of the wrong size is refused with a clear message
    path.write_bytes(raw[:-4])
    with pytest.raises(DataError, match="truncated"):
        read_plmc_params(path)
    path.write_bytes(raw + b"\0\0\0\0")
    with pytest.raises(DataError, match="unexpected bytes"):
        read_plmc_params(path)
