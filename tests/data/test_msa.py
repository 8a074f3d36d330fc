"""Reading, writing and encoding alignments (boltzkit.data.msa)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.data.msa import (
    ALPHABETS,
    MSA,
    decode,
    detect_alphabet,
    encode,
    focus_columns,
    get_alphabet,
    one_hot,
    read_msa,
    write_fasta,
)
from boltzkit.errors import DataError

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data not found at {SHARED}")


def write(tmp_path: Path, name: str, text: str, compress: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode("ascii")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --------------------------------------------------------------------------------------------
# alphabets and encoding
# --------------------------------------------------------------------------------------------

def test_builtin_alphabets_put_the_gap_first():
    assert get_alphabet("protein") == "-ACDEFGHIKLMNPQRSTVWY" and len(ALPHABETS["protein"]) == 21
    assert get_alphabet("rna") == "-ACGU"
    assert get_alphabet("dna") == "-ACGT"
    assert get_alphabet("_*^") == "_*^"
    with pytest.raises(ValueError, match="repeats"):
        get_alphabet("AAB")


def test_detect_alphabet_rule():
    assert detect_alphabet(set("ACGT-")) == "dna"
    assert detect_alphabet(set("ACG")) == "dna"  # DNA wins ties
    assert detect_alphabet(set("ACGTN")) == "dna"
    assert detect_alphabet(set(".ACGU")) == "rna"
    assert detect_alphabet(set("ACGUN-")) == "rna"
    assert detect_alphabet(set("ACDEFW-")) == "protein"
    assert detect_alphabet(set("ACGTU")) == "protein"  # both T and U: not a nucleotide alphabet
    with pytest.raises(ValueError, match="not letters"):
        detect_alphabet(set("_*^"))


def test_encode_decode_round_trip_and_unknown_rule():
    codes = encode(["AC-Y", "ac.W"], "protein")
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, [[1, 2, 0, 20], [1, 2, 0, 19]])  # lower case upper-cased, '.' = gap
    assert decode(codes, "protein") == ["AC-Y", "AC-W"]
    assert decode(codes[0], "protein") == "AC-Y"
    assert decode(torch.as_tensor(codes), "protein")[1] == "AC-W"
    np.testing.assert_array_equal(encode("AXB", "protein"), [1, 0, 0])  # unknown -> gap
    with pytest.raises(ValueError, match="'X'"):
        encode("AXB", "protein", unknown="error")
    with pytest.raises(ValueError, match="codes must lie"):
        decode(np.array([0, 21]), "protein")


def test_one_hot_shape_and_content():
    codes = np.array([[0, 2, 1], [1, 1, 0]], dtype=np.int8)
    x = one_hot(codes, 3)
    assert x.shape == (2, 3, 3) and x.dtype == torch.float32
    assert torch.equal(x.sum(-1), torch.ones(2, 3))
    assert torch.equal(x.argmax(-1), torch.as_tensor(codes).long())
    with pytest.raises(ValueError):
        one_hot(codes, 2)


# --------------------------------------------------------------------------------------------
# reading the formats
# --------------------------------------------------------------------------------------------

def test_fasta_multiline_lowercase_dot_and_unknown_letters(tmp_path):
    path = write(tmp_path, "toy.fasta", ">s1 first\nACF\nDE\n\n>s2\nacxde\n>s3\nA.BDE\n")
    msa = read_msa(path, alphabet="protein")
    assert msa.headers == ["s1 first", "s2", "s3"]
    assert msa.q == 21 and msa.alphabet == ALPHABETS["protein"] and msa.source == str(path)
    np.testing.assert_array_equal(msa.sequences, encode(["ACFDE", "AC-DE", "A--DE"], "protein"))
    assert msa.sequences.dtype == np.int8 and msa.sequences.shape == (3, 5)
    # X (s2) and B (s3) are mapped to the gap and reported, '.' is a plain gap (not unknown)
    assert msa.n_unknown == 2
    np.testing.assert_array_equal(msa.unknown_per_sequence, [0, 1, 1])
    assert "2 unknown letters mapped to gap in 2 sequences" in str(msa)


def test_unknown_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "toy.fasta", ">s1\nACDE\n>s2\nAC\nXE\n")
    with pytest.raises(DataError) as info:
        read_msa(path, alphabet="protein", unknown="error")
    message = str(info.value)
    assert message.startswith(f"{path}:5: ") and "'X'" in message and "\n" not in message


def test_a2m_and_a3m_drop_insertions(tmp_path):
    # A2M: lower case and '.' are insert states and are dropped; 4 match columns remain.
    a2m = write(tmp_path, "toy.a2m", ">q\nAC..DE\n>h1\nAcgCD-\n>h2\nA.C-E\n")
    msa = read_msa(a2m, alphabet="protein")
    assert decode(msa.sequences, msa.alphabet) == ["ACDE", "ACD-", "AC-E"]
    # A3M omits the '.' padding; a record whose match columns do not add up is an error
    a3m = write(tmp_path, "toy.a3m", ">q\nACDE\n>h1\nAcgC-DE\n")
    with pytest.raises(DataError) as info:
        read_msa(a3m, alphabet="protein")
    assert str(info.value).startswith(f"{a3m}:3: ") and "match columns" in str(info.value)
    a3m.write_text(">q\nACDE\n>h1\nAcgC-E\n")
    assert decode(read_msa(a3m).sequences, "protein") == ["ACDE", "AC-E"]
    # the same content as .fasta keeps every column (upper-cased, '.' = gap) ...
    fasta = write(tmp_path, "toy.fasta", ">q\nAC..DE\n>h1\nAcgCDE\n")
    assert decode(read_msa(fasta, "protein").sequences, "protein") == ["AC--DE", "ACGCDE"]
    # ... unless inserts are dropped explicitly
    assert decode(read_msa(fasta, "protein", drop_inserts=True).sequences, "protein") == ["ACDE", "ACDE"]


def test_stockholm_interleaved_and_gzip_detected_by_magic_bytes(tmp_path):
    text = (
        "# STOCKHOLM 1.0\n"
        "#=GF ID toy\n"
        "seqA/1-4  AC-D\n"
        "seqB/2-5  ACGD\n"
        "#=GC SS_cons ....\n"
        "\n"
        "seqA/1-4  EF\n"
        "seqB/2-5  E.\n"
        "//\n"
    )
    path = write(tmp_path, "family.sto", text, compress=True)  # gzip without a .gz name
    msa = read_msa(path)
    assert msa.alphabet == ALPHABETS["protein"]
    assert msa.headers == ["seqA/1-4", "seqB/2-5"]
    assert decode(msa.sequences, "protein") == ["AC-DEF", "ACGDE-"]
    # also recognised from the first line when the extension says nothing
    other = write(tmp_path, "family.txt", text)
    assert decode(read_msa(other).sequences, "protein") == ["AC-DEF", "ACGDE-"]


def test_rna_dot_gap_reads_the_same_with_both_alphabets(tmp_path):
    path = write(tmp_path, "rfam.fasta", ">r1\n..ACGU\n>r2\nAUC.GU\n")
    auto = read_msa(path)
    assert auto.alphabet == "-ACGU" and auto.n_unknown == 0
    custom = read_msa(path, alphabet=".ACGU")
    assert custom.alphabet == ".ACGU"
    np.testing.assert_array_equal(auto.sequences, custom.sequences)
    np.testing.assert_array_equal(auto.sequences, [[0, 0, 1, 2, 3, 4], [1, 4, 2, 0, 3, 4]])


def test_dna_with_n_is_detected_and_n_is_reported(tmp_path):
    path = write(tmp_path, "x.fa", ">d1\nACGTN\n>d2\nacgtt\n")
    msa = read_msa(path)
    assert msa.alphabet == "-ACGT" and msa.n_unknown == 1
    np.testing.assert_array_equal(msa.sequences[0], [1, 2, 3, 4, 0])


# --------------------------------------------------------------------------------------------
# bad input: one line, file and line named
# --------------------------------------------------------------------------------------------

def test_unequal_lengths_names_the_header_line(tmp_path):
    path = write(tmp_path, "bad.fasta", ">a\nACDE\n>b\nACDE\n\n>c\nACD\n")
    with pytest.raises(DataError) as info:
        read_msa(path)
    message = str(info.value)
    assert message.startswith(f"{path}:6: ") and "'c'" in message and "3" in message and "4" in message
    assert "\n" not in message and info.value.line == 6


def test_empty_file_and_text_before_the_first_header(tmp_path):
    empty = write(tmp_path, "empty.fasta", "\n\n")
    with pytest.raises(DataError) as info:
        read_msa(empty)
    assert str(info.value).startswith(f"{empty}:1: ") and "empty" in str(info.value)
    no_header = write(tmp_path, "noheader.fasta", "\nACDE\n>a\nACDE\n")
    with pytest.raises(DataError) as info:
        read_msa(no_header)
    assert str(info.value).startswith(f"{no_header}:2: ")
    no_residues = write(tmp_path, "nores.fasta", ">a\nACDE\n>b\n>c\nACDE\n")
    with pytest.raises(DataError) as info:
        read_msa(no_residues)
    assert str(info.value).startswith(f"{no_residues}:3: ") and "'b'" in str(info.value)


def test_unknown_alphabet_symbols(tmp_path):
    path = write(tmp_path, "potts.fasta", ">a\n_*^\n>b\n^^*\n")
    with pytest.raises(DataError) as info:
        read_msa(path)  # auto-detection refuses non-letters
    assert str(info.value).startswith(f"{path}: ") and "alphabet=" in str(info.value)
    msa = read_msa(path, alphabet="_*^")
    np.testing.assert_array_equal(msa.sequences, [[0, 1, 2], [2, 2, 1]])
    with pytest.raises(DataError) as info:
        read_msa(path, alphabet="_*", unknown="error")
    assert str(info.value).startswith(f"{path}:2: ") and "'^'" in str(info.value)


def test_all_gap_column_is_an_error_unless_allowed(tmp_path):
    path = write(tmp_path, "gapcol.fasta", ">a\nA-C\n>b\nD-E\n")
    with pytest.raises(DataError) as info:
        read_msa(path)
    message = str(info.value)
    assert message.startswith(f"{path}:1: ") and "column 2 " in message and "allow_gap_columns" in message
    msa = read_msa(path, allow_gap_columns=True)
    assert msa.sequences.shape == (2, 3) and (msa.sequences[:, 1] == 0).all()


def test_missing_file():
    with pytest.raises(DataError, match="file not found"):
        read_msa("/nonexistent/alignment.fasta")


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def test_write_fasta_round_trip_is_atomic(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 21, size=(7, 13)).astype(np.int8)
    codes[:, 0] = 1  # no all-gap column
    path = tmp_path / "out" / "aln.fasta"
    path.parent.mkdir()
    path.write_text("old content that must be replaced\n")
    write_fasta(path, codes, "protein", headers=[f"h{i}" for i in range(7)], line_width=5)
    back = read_msa(path, alphabet="protein")
    np.testing.assert_array_equal(back.sequences, codes)
    assert back.headers == [f"h{i}" for i in range(7)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["aln.fasta"]  # no temporary file left
    gz = write_fasta(tmp_path / "aln.fasta.gz", torch.as_tensor(codes), "protein")
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    back = read_msa(gz, alphabet="protein")
    np.testing.assert_array_equal(back.sequences, codes)
    assert back.headers[0] == "seq_0"
    with pytest.raises(ValueError):
        write_fasta(tmp_path / "x.fasta", codes, "protein", headers=["only one"])


def test_msa_select_and_focus_columns():
    msa = MSA(sequences=encode(["A-CD", "AECD", "--CD"], "protein"), headers=["focus/1-3", "b", "c"],
              alphabet=ALPHABETS["protein"], n_unknown=1, unknown_per_sequence=np.array([0, 1, 0]))
    np.testing.assert_array_equal(focus_columns(msa, "focus"), [0, 2, 3])
    sub = msa.select(rows=[1, 2], columns=[0, 2])
    assert sub.headers == ["b", "c"] and sub.n_unknown == 1
    assert decode(sub.sequences, "protein") == ["AC", "-C"]
    with pytest.raises(DataError, match="focus"):
        focus_columns(msa, "absent")


# --------------------------------------------------------------------------------------------
# the shared data sets
# --------------------------------------------------------------------------------------------

@needs_shared
def test_shared_alignments_read_with_the_catalogued_shapes():
    msa_dir = SHARED / "msa"
    pf14 = read_msa(msa_dir / "PF00014" / "PF00014_mgap6.fasta.gz")
    assert pf14.sequences.shape == (13600, 53) and pf14.alphabet == ALPHABETS["protein"] and pf14.n_unknown == 0
    dhfr = read_msa(msa_dir / "DHFR" / "DHFR.a2m.gz")
    assert dhfr.sequences.shape == (3629, 171)
    assert dhfr.n_unknown == 18  # the README says DHFR "contains X": 18 of them, in 13 sequences
    assert int((dhfr.unknown_per_sequence > 0).sum()) == 13
    assert dhfr.headers[0].startswith("DYR_ECOLI")
    assert len(focus_columns(dhfr, "DYR_ECOLI")) == 159  # = plmc's "159 sites out of 171"
    rna = read_msa(SHARED / "rna_msa" / "RF00162_SAM" / "RF00162.fasta.gz")
    assert rna.sequences.shape == (4757, 107) and rna.alphabet == "-ACGU"
    potts = read_msa(msa_dir / "potts3" / "potts3.a2m.gz", alphabet="_*^")
    assert potts.sequences.shape == (500, 60) and potts.q == 3


@needs_shared
def test_pfam_alignment_with_inserts():
    path = SHARED / "msa" / "PF00014" / "PF00014_pfam_full_with_inserts.fasta.gz"
    raw = read_msa(path)  # .fasta: every column kept
    assert raw.sequences.shape == (4915, 219)
    matches = read_msa(path, drop_inserts=True)  # A2M content: the 53 match columns
    assert matches.sequences.shape == (4915, 53)
    assert matches.headers == raw.headers
