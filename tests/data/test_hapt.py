"""Haplotype tables (.hapt): binary samples with their row IDs, by suffix or by content, and
one-line errors naming the line."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from boltzkit.data import load_binary, train_test_split
from boltzkit.data.specs import make_spec
from boltzkit.errors import DataError

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
HAPT = SHARED / "human_genome_805snp" / "805_SNP_1000G_real.hapt.gz"
needs_hapt = pytest.mark.skipif(not HAPT.is_file(), reason=f"shared haplotype data not found at {HAPT}")


def write_hapt(path: Path, rows: list[str]) -> Path:
    text = "\n".join(rows) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def haplotypes() -> tuple[np.ndarray, list[str]]:
    """A {0,1} matrix of shape (6, 9) and the IDs of its rows."""
    values = (np.random.default_rng(1).random((6, 9)) < 0.5).astype(np.int64)
    values[0, 0], values[1, 0] = 0, 1
    return values, [f"HG{i:05d}_{'AB'[i % 2]}" for i in range(6)]


def hapt_rows(values: np.ndarray, ids: list[str], kind: str = "Real") -> list[str]:
    return [f"{kind} {name} " + " ".join(str(v) for v in row) for name, row in zip(ids, values)]


@pytest.mark.parametrize("name", ["toy.hapt", "toy.hapt.gz", "toy.txt", "toy"])
def test_hapt_by_suffix_or_content(tmp_path, haplotypes, name):
    values, ids = haplotypes
    data = load_binary(write_hapt(tmp_path / name, hapt_rows(values, ids)))
    np.testing.assert_array_equal(data.samples, values)
    assert data.samples.dtype == np.float32 and data.convention == "bernoulli"
    assert list(data.ids) == ids and data.labels is None


def test_ids_follow_subsets_and_splits(tmp_path, haplotypes):
    values, ids = haplotypes
    data = load_binary(write_hapt(tmp_path / "toy.hapt", hapt_rows(values, ids)))
    assert list(data.subset(np.array([4, 1])).ids) == [ids[4], ids[1]]
    train, test = train_test_split(data, 0.5, seed=3)
    assert sorted(list(train.ids) + list(test.ids)) == sorted(ids)
    for part in (train, test):
        for row, name in zip(part.samples, part.ids):
            np.testing.assert_array_equal(row, values[ids.index(name)])


def test_hapt_spec_rebuilds_the_same_split(tmp_path, haplotypes):
    values, ids = haplotypes
    path = write_hapt(tmp_path / "toy.hapt.gz", hapt_rows(values, ids, kind="AG"))
    spec = make_spec("binary", path, test_fraction=0.5, split_seed=2)
    (train, test), (again, _) = spec.load(), spec.load()
    np.testing.assert_array_equal(train.ids, again.ids)
    assert len(train) + len(test) == len(values)


def test_ids_in_npz_and_hdf5(tmp_path, haplotypes):
    values, ids = haplotypes
    np.savez(tmp_path / "toy.npz", samples=values, ids=np.array(ids))
    assert list(load_binary(tmp_path / "toy.npz").ids) == ids
    with h5py.File(tmp_path / "toy.h5", "w") as f:
        f["samples"] = values
        f["ids"] = np.array(ids, dtype="S")
    assert list(load_binary(tmp_path / "toy.h5").ids) == ids


@pytest.mark.parametrize("bad_row, line, keyword", [
    ("Real HG9_A", 3, "without values"),
    ("Real HG9_A 0 1", 3, "ragged rows: 2 values on this line, 9 on line 1"),
    ("Real HG9_A 0 1 0 1 0 1 2 1 0", 3, "must be 0 or 1; found 2"),
    ("Real HG9_A 0 1 0 1 0 x 1 1 0", 3, "must be 0 or 1; found 'x'"),
])
def test_malformed_rows_name_file_and_line(tmp_path, haplotypes, bad_row, line, keyword):
    values, ids = haplotypes
    rows = hapt_rows(values, ids)
    path = write_hapt(tmp_path / "bad.hapt", rows[:2] + [bad_row] + rows[2:])
    with pytest.raises(DataError) as info:
        load_binary(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and keyword in message and "\n" not in message


def test_empty_hapt(tmp_path):
    with pytest.raises(DataError, match="0 samples"):
        load_binary(write_hapt(tmp_path / "empty.hapt", [""]))


def test_plain_text_matrix_is_not_taken_for_haplotypes(tmp_path, haplotypes):
    values, _ = haplotypes
    path = tmp_path / "plain.txt"
    path.write_text("\n".join(" ".join(str(v) for v in row) for row in values) + "\n")
    data = load_binary(path)
    assert data.ids is None
    np.testing.assert_array_equal(data.samples, values)


def test_categorical_csv_refused_as_binary_with_a_hint(tmp_path):
    path = tmp_path / "mushrooms.csv"
    path.write_text("p,x,s\ne,b,s\n")
    with pytest.raises(DataError, match=r"mushrooms.csv:1: not a number: 'p' \(a table of categories"):
        load_binary(path)


@needs_hapt
def test_shipped_805_snp_haplotypes():
    data = load_binary(HAPT)
    assert data.samples.shape == (5008, 805)
    assert list(data.ids[:3]) == ["HG00096_A", "HG00096_B", "HG00097_A"]
    assert len(set(data.ids)) == 5008
    assert int((data.samples.std(axis=0) == 0).sum()) == 3  # the README: 3 constant columns
