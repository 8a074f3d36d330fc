"""Tables of categorical columns: coding per column, header detection, labels column, the stored
spec (TableSpec) and one-line errors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from boltzkit.data.msa import one_hot
from boltzkit.data.specs import MSASpec, TableSpec, datasets_like, make_spec, spec_from_config
from boltzkit.data.table import decode_table, looks_like_table, read_table
from boltzkit.errors import BoltzkitError, DataError

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
MUSHROOM = SHARED / "uci_mushroom" / "agaricus-lepiota.data"
needs_mushroom = pytest.mark.skipif(not MUSHROOM.is_file(), reason=f"shared mushroom data not found at {MUSHROOM}")

ROWS = ["p,x,s,n", "e,x,y,w", "e,b,s,g", "p,f,?,n", "e,x,y,y"]


def write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    data = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("name", ["toy.csv", "toy.csv.gz", "toy.data"])
def test_codes_are_sorted_categories_per_column(tmp_path, name):
    table = read_table(write(tmp_path, name, ROWS))
    assert not table.header and table.columns == ["0", "1", "2", "3"]
    assert table.categories == [["e", "p"], ["b", "f", "x"], ["?", "s", "y"], ["g", "n", "w", "y"]]
    np.testing.assert_array_equal(table.codes, [[1, 2, 1, 1], [0, 2, 2, 2], [0, 0, 1, 0],
                                                [1, 1, 0, 1], [0, 2, 2, 3]])
    assert table.codes.dtype == np.int8 and table.q == 4 and table.alphabet == "0123"
    np.testing.assert_array_equal(table.decode(), [row.split(",") for row in ROWS])


def test_unused_states_are_never_observed_and_decode_empty(tmp_path):
    table = read_table(write(tmp_path, "toy.csv", ROWS))
    x = one_hot(table.codes, table.q).numpy()  # (M, L, q)
    counts = x.sum(axis=0)
    for j, values in enumerate(table.categories):
        assert (counts[j, :len(values)] > 0).all() and (counts[j, len(values):] == 0).all()
    assert list(decode_table(np.array([1, 3, 0, 3]), table.categories)) == ["p", "", "?", "y"]
    with pytest.raises(ValueError, match="codes must lie in 0..3"):
        decode_table(np.array([4, 0, 0, 0]), table.categories)


def test_header_detected_and_labels_column(tmp_path):
    path = write(tmp_path, "toy.tsv", [row.replace(",", "\t") for row in
                                       ["class\tcap-shape\tring\tcolor"] + ROWS])
    table = read_table(path, labels_column="class")
    assert table.header and table.columns == ["cap-shape", "ring", "color"]
    assert list(table.labels) == ["p", "e", "e", "p", "e"] and table.labels_column == "class"
    assert table.codes.shape == (5, 3)
    by_position = read_table(path, labels_column=0)
    np.testing.assert_array_equal(by_position.codes, table.codes)
    assert read_table(path, header=False).codes.shape == (6, 4)


def test_quoted_fields_and_spaces(tmp_path):
    path = write(tmp_path, "q.csv", ['"red, dark", a', "blue ,b", '"red, dark",b'])
    table = read_table(path)
    assert table.categories[0] == ["blue", "red, dark"]


def test_given_categories_code_another_file_the_same_way(tmp_path):
    train = read_table(write(tmp_path, "train.csv", ROWS))
    other = read_table(write(tmp_path, "other.csv", ["e,f,y,n"]), categories=train.categories)
    np.testing.assert_array_equal(other.codes, [[0, 1, 2, 1]])
    assert other.categories == train.categories


def test_detection_of_tables(tmp_path):
    assert looks_like_table(write(tmp_path, "a.csv", ROWS))
    assert looks_like_table(tmp_path / "missing.tsv.gz")  # by name alone
    assert looks_like_table(write(tmp_path, "a.data", ROWS))
    assert looks_like_table(write(tmp_path, "t.dat.gz", ["a\tb", "c\td"]))
    assert not looks_like_table(write(tmp_path, "a.fasta", [">s1,x", "ACD"]))
    assert not looks_like_table(write(tmp_path, "a.sto", ["# STOCKHOLM 1.0", "s1 AC", "//"]))
    assert not looks_like_table(tmp_path / "missing.fasta")
    with h5py.File(tmp_path / "states.h5", "w") as f:
        f["samples"] = np.array([[0, 1, 44, 9], [1, 0, 44, 9]], dtype=np.int8)  # 44 = ','
    assert not looks_like_table(tmp_path / "states.h5")


@pytest.mark.parametrize("rows, kwargs, line, keyword", [
    (["a,b,c", "a,b", "b,c,d"], {}, 2, "ragged rows: 2 fields on this line, 3 on line 1"),
    (["a,b,c", "a,,c", "b,c,d"], {}, 2, "empty value in column 2"),
    (["a,b,c", 'a,"b,c', "b,c,d"], {}, 2, "not a readable table"),
    (["a,b", "c,d"], {"categories": [["a"], ["b", "d"]], "header": False}, 2,
     "value 'c' in column '0' is not one of"),
])
def test_malformed_tables_name_the_line(tmp_path, rows, kwargs, line, keyword):
    path = write(tmp_path, "bad.csv", rows)
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and keyword in message and "\n" not in message


@pytest.mark.parametrize("rows, kwargs, keyword", [
    ([""], {}, "empty file"),
    (["x,y", "a,b"], {"header": True, "labels_column": "z"}, "no column named 'z'"),
    (["a,b", "c,d"], {"labels_column": 5}, "labels column 5 out of range"),
    (["a", "b"], {"labels_column": 0}, "no column to model"),
    (["a,b", "a,b"], {}, "every column holds a single value"),
    (["x,y"], {"header": True}, "only a header"),
    ([f"{i},a" for i in range(40)] + ["0,b"], {}, "column '0' has 40 distinct values; at most 36"),
])
def test_table_errors(tmp_path, rows, kwargs, keyword):
    with pytest.raises(DataError, match=keyword):
        read_table(write(tmp_path, "bad.csv", rows), **kwargs)


def test_make_spec_picks_table_spec_and_round_trips(tmp_path):
    path = write(tmp_path, "toy.csv", ROWS * 4)
    spec = make_spec("categorical", path, 0.25, 1, reweight=False)
    assert isinstance(spec, TableSpec) and isinstance(spec, MSASpec)
    train, test = spec.load()
    assert train.samples.shape == (15, 4) and test.samples.shape == (5, 4)
    assert train.q == 4 and train.alphabet == "0123" and train.weights is None
    assert train.categories == spec.categories and spec.header is False
    stored = json.loads(json.dumps({"data": spec.to_dict(), "alphabet": train.alphabet}))
    again = spec_from_config(stored)
    assert isinstance(again, TableSpec) and again.categories == spec.categories
    train2, test2 = again.load()
    np.testing.assert_array_equal(train2.samples, train.samples)
    np.testing.assert_array_equal(test2.samples, test.samples)
    # another file is read with the run's categories, so its codes mean the same
    other = write(tmp_path, "other.csv", ["e,f,y,n"])
    rebuilt, _ = datasets_like(stored, other, data_kind="categorical")
    np.testing.assert_array_equal(rebuilt.samples, [[0, 1, 2, 1]])


def test_table_spec_keeps_labels_through_the_split(tmp_path):
    path = write(tmp_path, "toy.csv", ["class,shape"] + ["e,x", "p,y", "e,y", "p,x"] * 3)
    spec = TableSpec(str(path), reweight=False, test_fraction=0.25, labels_column="class")
    train, test = spec.load()
    assert spec.header is True and spec.columns == ["shape"]
    assert len(train.labels) == len(train) and len(test.labels) == len(test)
    decoded = decode_table(train.samples, train.categories)
    assert set(decoded[:, 0]) <= {"x", "y"}


def test_table_spec_refuses_other_columns_and_alphabet(tmp_path):
    path = write(tmp_path, "toy.csv", ["a,b", "x,y", "z,y"])
    spec = TableSpec(str(path), reweight=False)
    spec.load()
    other = write(tmp_path, "other.csv", ["c,d", "x,y"])
    with pytest.raises(DataError, match="columns c,d differ from the run's a,b"):
        spec.like(other).load()
    with pytest.raises(BoltzkitError, match="--alphabet: .* table of categorical columns"):
        make_spec("categorical", path, alphabet="protein")
    with pytest.raises(BoltzkitError, match="--labels"):
        make_spec("categorical", path, labels_path=path)


def test_alignments_still_get_msa_spec(tmp_path):
    path = write(tmp_path, "a.fasta", [">s1", "ACDE", ">s2", "ACDF"])
    spec = make_spec("categorical", path)
    assert type(spec) is MSASpec


@needs_mushroom
def test_shipped_mushroom_table():
    table = read_table(MUSHROOM, labels_column=0)
    assert table.codes.shape == (8124, 22) and not table.header
    assert sorted(set(table.labels)) == ["e", "p"] and int((table.labels == "e").sum()) == 4208
    assert table.q == 12  # gill-color, the widest attribute
    assert "?" in table.categories[10]  # stalk-root: '?' (missing) is one more category
    assert int((table.decode()[:, 10] == "?").sum()) == 2480
    assert len(table.categories[15]) == 1  # veil-type is constant
    np.testing.assert_array_equal(table.decode()[0], "x,s,n,t,p,f,c,n,k,e,e,s,s,w,w,p,w,o,p,k,s,u".split(","))


def test_make_spec_labels_column(tmp_path):
    path = write(tmp_path, "toy.csv", ROWS)
    spec = make_spec("categorical", path, labels_column=0, reweight=False)
    train, _ = spec.load()
    assert train.samples.shape == (5, 3) and list(train.labels) == ["p", "e", "e", "p", "e"]
    assert spec_from_config({"data": json.loads(json.dumps(spec.to_dict()))}).labels_column == 0
    fasta = write(tmp_path, "a.fasta", [">s1", "ACDE"])
    with pytest.raises(BoltzkitError, match="--labels-column: only for a table"):
        make_spec("categorical", fasta, labels_column=0)
    with pytest.raises(BoltzkitError, match="--labels-column: only for a table"):
        make_spec("binary", path, labels_column=0)
    with pytest.raises(BoltzkitError, match="header must be True, False or 'auto'"):
        TableSpec(str(path), header="yes")
