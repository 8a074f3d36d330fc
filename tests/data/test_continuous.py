"""Real-valued data files: every format, header detection, grey-level images, one-line errors on
bad input, constant columns left out, and the stored spec (ContinuousSpec) rebuilding the same
split and columns."""

from __future__ import annotations

import gzip
import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from boltzkit.data import grey_levels, load_continuous
from boltzkit.data.continuous import constant_columns, expand_columns
from boltzkit.data.specs import (ContinuousSpec, DataSpec, MSASpec, TableSpec, datasets_like,
                                 make_spec, spec_from_config)
from boltzkit.data.split import split_rows
from boltzkit.errors import BoltzkitError, DataError

SHARED = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
FASHION = SHARED / "fashion_mnist"
needs_fashion = pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(),
                                   reason=f"shared Fashion-MNIST not found at {FASHION}")

X = np.array([[1.5, -2.0, 3.0], [0.25, 4.0, -1.0], [2.0, 0.5, 0.0], [-3.0, 1.0, 7.5]])


def write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    data = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (magic 0 0 0x08 ndim, big-endian sizes, the bytes)."""
    return bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + array.tobytes()


def one_line_error(call, *patterns: str) -> str:
    """The message of the DataError ``call`` raises: one line, holding each pattern."""
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for pattern in patterns:
        assert pattern in message, message
    return message


def no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize("dtype, stored", [(np.float64, np.float64), (np.float32, np.float32),
                                           (np.float16, np.float32), (np.int64, np.float64),
                                           (np.uint8, np.float64), (bool, np.float64)])
def test_npy_keeps_the_file_values_without_rounding(tmp_path, dtype, stored):
    array = (X * 2).astype(dtype) if dtype is not bool else X > 0
    np.save(tmp_path / "x.npy", array)
    data = load_continuous(tmp_path / "x.npy")
    assert data.samples.dtype == stored and data.image_shape is None and not data.header
    np.testing.assert_array_equal(data.samples, array.astype(stored))  # a 2-D uint8 matrix: numbers
    assert data.file_columns == ["0", "1", "2"] and data.columns == ["0", "1", "2"]


def test_npz_named_array_with_labels_weights_and_ids(tmp_path):
    weights, labels = np.array([1.0, 0.5, 2.0, 1.0]), np.array(["a", "b", "a", "c"])
    np.savez(tmp_path / "x.npz", features=X, labels=labels, weights=weights, ids=np.arange(4))
    data = load_continuous(tmp_path / "x.npz")  # the only array besides the per-sample ones
    np.testing.assert_array_equal(data.samples, X)
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.weights, weights)
    assert list(data.ids) == ["0", "1", "2", "3"]
    np.savez(tmp_path / "y.npz", a=X, b=X[:2])
    assert load_continuous(tmp_path / "y.npz", dataset="b").samples.shape == (2, 3)
    one_line_error(lambda: load_continuous(tmp_path / "y.npz"), "y.npz", "no array 'samples'")


def test_hdf5_samples_labels_and_weights(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["samples"] = X.astype(np.float32)
        f["labels"] = np.array([0, 1, 1, 0])
        f["weights"] = np.array([1.0, 2.0, 0.0, 1.0])
        f["group/other"] = X[:, :2]
    data = load_continuous(tmp_path / "x.h5")
    assert data.samples.dtype == np.float32
    np.testing.assert_array_equal(data.samples, X.astype(np.float32))
    np.testing.assert_array_equal(data.labels, [0, 1, 1, 0])
    np.testing.assert_array_equal(data.weights, [1.0, 2.0, 0.0, 1.0])
    assert load_continuous(tmp_path / "x.h5", "group/other").samples.shape == (4, 2)
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["samples"] = X
        f["weights"] = np.array([1.0, -1.0, 1.0, 1.0])
    one_line_error(lambda: load_continuous(tmp_path / "bad.h5"), "bad.h5", "negative weights")


@pytest.mark.parametrize("name, delimiter", [("x.csv", ","), ("x.csv.gz", ","), ("x.tsv", "\t"),
                                             ("x.tsv.gz", "\t"), ("x.txt", " "), ("x.dat", ","),
                                             ("x.data", "\t")])
def test_text_tables_with_a_header_keep_its_names(tmp_path, name, delimiter):
    head = delimiter.join(["alpha", "beta_2", "gamma"])
    rows = [delimiter.join(f"{v:g}" for v in row) for row in X]
    path = write(tmp_path, name, ["# a comment line", head, *rows[:2], "", *rows[2:]])
    data = load_continuous(path)
    assert data.header and data.file_columns == ["alpha", "beta_2", "gamma"]
    assert data.samples.dtype == np.float64
    np.testing.assert_array_equal(data.samples, X)


def test_first_row_of_numbers_is_data_and_overrides(tmp_path):
    path = write(tmp_path, "x.csv", [",".join(f"{v:g}" for v in row) for row in X])
    data = load_continuous(path)
    assert not data.header and data.file_columns == ["0", "1", "2"]
    np.testing.assert_array_equal(data.samples, X)
    forced = load_continuous(path, header=True)  # numbers as column names when the user says so
    assert forced.header and forced.file_columns == ["1.5", "-2", "3"] and len(forced) == 3
    # a header with one non-numeric field is a header; quotes and spaces around fields are removed
    quoted = write(tmp_path, "q.csv", ['"mean radius", "2019",x', "1, 2 ,3", '"4",5,6'])
    data = load_continuous(quoted)
    assert data.file_columns == ["mean radius", "2019", "x"]
    np.testing.assert_array_equal(data.samples, [[1, 2, 3], [4, 5, 6]])
    bom = tmp_path / "bom.csv"  # the byte order mark Excel writes is not part of the first number
    bom.write_bytes("\ufeff1,2\r\n3,4\r\n".encode())
    data = load_continuous(bom)
    assert not data.header
    np.testing.assert_array_equal(data.samples, [[1, 2], [3, 4]])
    with pytest.raises(BoltzkitError, match="header must be True, False or 'auto'"):
        load_continuous(path, header="yes")


def test_labels_column_by_name_or_position(tmp_path):
    path = write(tmp_path, "x.csv", ["a,label,b", "1,cat,2", "3,dog,4", "5,cat,6.5"])
    for column in ("label", 1):
        data = load_continuous(path, labels_column=column)
        assert data.file_columns == ["a", "b"]
        np.testing.assert_array_equal(data.samples, [[1, 2], [3, 4], [5, 6.5]])
        assert list(data.labels) == ["cat", "dog", "cat"]
    one_line_error(lambda: load_continuous(path, labels_column="nope"), "no column named 'nope'")
    classes = load_continuous(write(tmp_path, "n.csv", ["1.5,0", "2.5,1", "3.5,1"]), labels_column=1)
    assert classes.labels.dtype == np.int64 and list(classes.labels) == [0, 1, 1]
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(BoltzkitError, match="--labels-column: only for a text table"):
        load_continuous(tmp_path / "x.npy", labels_column=0)


@pytest.mark.parametrize("name, compress", [("img-idx3-ubyte", False), ("img-idx3-ubyte.gz", True)])
def test_idx_images_are_grey_levels_not_binarised(tmp_path, name, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    raw = idx_bytes(images)
    (tmp_path / name).write_bytes(gzip.compress(raw) if compress else raw)
    (tmp_path / "labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)))
    data = load_continuous(tmp_path / name, labels_path=tmp_path / "labels-idx1-ubyte")
    assert data.samples.dtype == np.float32 and data.samples.shape == (5, 12) and data.image_shape == (3, 4)
    # level / 255 rounded once to float32: equal to float32 division, within 6e-8 of the float64 value
    np.testing.assert_array_equal(data.samples, images.reshape(5, 12).astype(np.float32) / np.float32(255))
    np.testing.assert_allclose(data.samples, images.reshape(5, 12) / 255.0, rtol=6e-8, atol=0)
    assert data.samples.min() == 0.0 and data.samples.max() == 1.0
    assert len(np.unique(data.samples)) > 2  # not binarised
    np.testing.assert_array_equal(data.labels, np.arange(5))


def test_grey_levels_and_3d_uint8_arrays_as_images(tmp_path):
    levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(grey_levels(levels), (levels / 255.0).astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        grey_levels(levels.astype(np.int16))
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    np.save(tmp_path / "img.npy", images)
    data = load_continuous(tmp_path / "img.npy")
    assert data.image_shape == (3, 4) and data.samples.dtype == np.float32
    np.testing.assert_array_equal(data.samples, grey_levels(images.reshape(2, 12)))
    np.save(tmp_path / "float_img.npy", images.astype(np.float64))  # not 8-bit: values as they are
    np.testing.assert_array_equal(load_continuous(tmp_path / "float_img.npy").samples, images.reshape(2, 12))


@needs_fashion
def test_fashion_mnist_test_images_as_grey_levels():
    spec = ContinuousSpec(str(FASHION / "t10k-images-idx3-ubyte.gz"), test_fraction=0.2,
                          labels_path=str(FASHION / "t10k-labels-idx1-ubyte.gz"))
    train, test = no_warning(spec.load)  # every pixel varies over the 8000 training images
    assert train.samples.shape == (8000, 784) and test.samples.shape == (2000, 784)
    assert train.image_shape == (28, 28) and train.samples.dtype == np.float32
    assert 0.0 <= train.samples.min() and train.samples.max() <= 1.0 and len(np.unique(train.samples)) == 256
    assert set(np.unique(train.labels)) == set(range(10))
    assert spec.kept_columns == list(range(784)) and spec.constant_values == []


# --------------------------------------------------------------------------- bad input

def test_non_numeric_and_empty_cells_name_file_line_and_column(tmp_path):
    path = write(tmp_path, "bad.csv", ["a,b,c", "1,2,3", "# comment", "4,five,6"])
    one_line_error(lambda: load_continuous(path), "bad.csv:4:", "not a number: 'five'", "column 1 'b'",
                   "columns counted from 0")
    path = write(tmp_path, "empty.csv", ["1,2,3", "4,,6"])
    one_line_error(lambda: load_continuous(path), "empty.csv:2:", "empty value in column 1")


def test_ragged_row_names_file_and_line(tmp_path):
    path = write(tmp_path, "ragged.txt", ["1 2 3", "", "4 5 6", "7 8"])
    one_line_error(lambda: load_continuous(path), "ragged.txt:4:", "ragged rows: 2 fields on this line, 3 on line 1")
    path = write(tmp_path, "ragged.csv", ["x,y", "1,2", "3,4,5"])
    one_line_error(lambda: load_continuous(path), "ragged.csv:3:", "3 fields on this line, 2 on line 1")


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "NaN"])
def test_non_finite_text_value_names_line_and_column(tmp_path, value):
    path = write(tmp_path, "x.csv.gz", ["u,v,w", "1,2,3", f"4,5,{value}"])
    message = one_line_error(lambda: load_continuous(path), "x.csv.gz:3:", "not a finite number",
                             "column 2 'w'")
    assert ("nan" if "a" in value.lower() else "inf") in message


def test_non_finite_array_value_names_row_from_1_and_column_from_0(tmp_path):
    array = X.copy()
    array[2, 1] = np.nan
    np.save(tmp_path / "x.npy", array)
    one_line_error(lambda: load_continuous(tmp_path / "x.npy"), "x.npy:", "not a finite number: nan",
                   "column 1 of row 3", "rows counted from 1, columns from 0")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["samples"] = np.where(np.arange(12).reshape(4, 3) == 5, -np.inf, 1.0)
    one_line_error(lambda: load_continuous(tmp_path / "x.h5"), "x.h5:", "-inf in column 2 of row 2")


def test_arrays_that_are_not_matrices(tmp_path):
    np.save(tmp_path / "one.npy", np.arange(5.0))
    one_line_error(lambda: load_continuous(tmp_path / "one.npy"), "one.npy:",
                   "expected a matrix (rows x columns)", "1-D array of shape (5,)")
    np.save(tmp_path / "four.npy", np.zeros((2, 2, 2, 2)))
    one_line_error(lambda: load_continuous(tmp_path / "four.npy"), "four.npy:", "shape (2, 2, 2, 2)")
    np.save(tmp_path / "none.npy", np.zeros((0, 3)))
    one_line_error(lambda: load_continuous(tmp_path / "none.npy"), "none.npy:", "empty")
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    one_line_error(lambda: load_continuous(tmp_path / "text.npy"), "values must be real numbers")


def test_other_unusable_files(tmp_path):
    one_line_error(lambda: load_continuous(write(tmp_path, "h.csv", ["a,b"])), "h.csv:", "only a header")
    one_line_error(lambda: load_continuous(write(tmp_path, "e.txt", ["# nothing"])), "e.txt:", "empty")
    one_line_error(lambda: load_continuous(tmp_path / "missing.csv"), "missing.csv:", "file not found")
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "x.npy.gz").write_bytes(gzip.compress((tmp_path / "x.npy").read_bytes()))
    one_line_error(lambda: load_continuous(tmp_path / "x.npy.gz"), "gzip-compressed .npy")  # as binary
    path = write(tmp_path, "g.hapt", ["Real HG1 0 1 1", "Real HG2 1 0 1"])
    one_line_error(lambda: load_continuous(path), "g.hapt:", "binary values")


# --------------------------------------------------------------------------- constant columns

def test_constant_columns_left_out_with_a_note_and_put_back(tmp_path):
    rows = ["id,const,x,zero,y"] + [f"{i},7.25,{i * 0.5},0,{(-1) ** i}" for i in range(6)]
    spec = make_spec("continuous", write(tmp_path, "c.csv", rows))
    with pytest.warns(UserWarning) as record:
        train, test = spec.load()
    note = str(record[0].message)
    assert "\n" not in note and "c.csv" in note
    assert "2 constant columns" in note and "1 'const', 3 'zero'" in note and "counted from 0" in note
    assert test is None and train.columns == ["id", "x", "y"] and train.file_columns[1] == "const"
    assert spec.kept_columns == [0, 2, 4] and spec.constant_values == [7.25, 0.0]
    assert spec.file_columns == ["id", "const", "x", "zero", "y"] and spec.header is True
    np.testing.assert_array_equal(train.samples[:, 1], np.arange(6) * 0.5)
    full = load_continuous(spec.path).samples
    np.testing.assert_array_equal(spec.expand(train.samples), full)
    np.testing.assert_array_equal(train.expand(), full)
    np.testing.assert_array_equal(expand_columns(train.samples[0], [0, 2, 4], [7.25, 0.0]), full[0])


def test_many_constant_pixels_are_counted_not_all_listed(tmp_path):
    images = np.zeros((6, 4, 5), dtype=np.uint8)
    images[:, 1:3, 1:4] = np.arange(6, dtype=np.uint8)[:, None, None] * 40
    np.save(tmp_path / "img.npy", images)
    spec = ContinuousSpec(str(tmp_path / "img.npy"))
    with pytest.warns(UserWarning, match=r"14 constant columns .*: columns 0, 1, 2, 3, 4, 5, 9, 10, "
                                         r"14, 15 and 4 more \(counted from 0\)"):
        train, _ = spec.load()
    assert train.n_features == 6 and train.image_shape == (4, 5)
    np.testing.assert_array_equal(train.expand().reshape(6, 4, 5), grey_levels(images))


def test_every_column_constant_is_one_line(tmp_path):
    spec = make_spec("continuous", write(tmp_path, "k.csv", ["a,b", "1,2", "1,2", "1,2"]))
    one_line_error(spec.load, "k.csv:", "every column is constant over the training rows (2 columns)")


def test_constant_over_the_training_rows_only(tmp_path):
    """The split is drawn first; a column that varies only in the held-out rows is left out."""
    n, test_fraction, seed = 10, 0.3, 4
    train_rows, test_rows = split_rows(n, test_fraction, seed)
    x = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    x[test_rows, 1] = 1.0
    np.save(tmp_path / "x.npy", x)
    spec = make_spec("continuous", tmp_path / "x.npy", test_fraction, seed)
    with pytest.warns(UserWarning, match="1 constant column over the training rows"):
        train, test = spec.load()
    assert spec.kept_columns == [0] and spec.constant_values == [0.0]
    np.testing.assert_array_equal(train.samples[:, 0], train_rows)
    np.testing.assert_array_equal(test.samples[:, 0], test_rows)


def test_constant_test_is_the_visible_space_one():
    """std <= 1e-12 max(1, |mean|), weighted, rows of weight 0 not counted; no cancellation."""
    rng = np.random.default_rng(1)
    big = np.full(1000, 1e8)  # E[x^2] - E[x]^2 would leave rounding noise of order 1e16 * 2^-52 ~ 1
    jitter = 1e6 + 1e-9 * rng.standard_normal(1000)  # std 1e-9 <= 1e-12 * 1e6
    small = 1e-6 * rng.standard_normal(1000)  # std 1e-6 > 1e-12 * max(1, |mean|)
    only_zero_weight = np.where(np.arange(1000) < 10, 5.0, 3.0)
    x = np.column_stack([big, jitter, small, only_zero_weight])
    weights = np.where(np.arange(1000) < 10, 0.0, 1.0)
    constant, means = constant_columns(x, weights)
    np.testing.assert_array_equal(constant, [True, True, False, True])
    assert means[0] == 1e8 and means[3] == 3.0
    constant, _ = constant_columns(x)  # without weights the last column varies
    np.testing.assert_array_equal(constant, [True, True, False, False])
    constant, _ = constant_columns(x, rows=np.arange(10, 1000))
    np.testing.assert_array_equal(constant, [True, True, False, True])


def test_zero_weights_on_every_training_row_refused(tmp_path):
    _, (held_out,) = split_rows(4, 0.25, 0)
    np.savez(tmp_path / "w.npz", samples=X, weights=np.where(np.arange(4) == held_out, 1.0, 0.0))
    spec = make_spec("continuous", tmp_path / "w.npz", 0.25, 0)
    one_line_error(spec.load, "w.npz:", "weights of the training rows are all zero")


# --------------------------------------------------------------------------- the stored spec

def test_spec_round_trip_rebuilds_the_same_split_and_columns(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 4))
    x[:, 2] = 1.5
    weights = rng.uniform(0.5, 2.0, 40)
    np.savez(tmp_path / "x.npz", samples=x, labels=np.arange(40) % 3, weights=weights)
    spec = make_spec("continuous", tmp_path / "x.npz", 0.25, 7)
    assert isinstance(spec, ContinuousSpec)
    with pytest.warns(UserWarning, match="column 2"):
        train, test = spec.load()
    stored = json.loads(json.dumps({"data": spec.to_dict()}))  # what the run file keeps
    again = spec_from_config(stored)
    assert isinstance(again, ContinuousSpec) and again == spec
    train2, test2 = no_warning(again.load)  # the columns are fixed: no second note
    train_rows, test_rows = split_rows(40, 0.25, 7)  # the rule of the other specs
    for got, rows in ((train, train_rows), (train2, train_rows), (test, test_rows), (test2, test_rows)):
        np.testing.assert_array_equal(got.samples, x[rows][:, [0, 1, 3]])
        np.testing.assert_array_equal(got.labels, rows % 3)
        np.testing.assert_array_equal(got.weights, weights[rows])
    assert train2.columns == ["0", "1", "3"] and again.n_columns == 4


def test_other_files_are_read_with_the_run_columns(tmp_path):
    spec = make_spec("continuous", write(tmp_path, "train.csv", ["a,b,c", "1,0,2", "2,0,5", "3,0,1"]))
    with pytest.warns(UserWarning, match="column 1 'b'"):
        spec.load()
    config = {"data": spec.to_dict()}
    other = write(tmp_path, "other.csv", ["a,b,c", "9,4,8", "7,3,6"])  # b varies here: still left out
    with pytest.warns(UserWarning, match="left out of the model, vary in these rows: 1 'b'"):
        train, test = datasets_like(config, other, other, data_kind="continuous")
    np.testing.assert_array_equal(train.samples, [[9, 8], [7, 6]])
    np.testing.assert_array_equal(test.samples, train.samples)
    np.testing.assert_array_equal(train.expand(), [[9, 0, 8], [7, 0, 6]])
    renamed = write(tmp_path, "renamed.csv", ["a,x,c", "9,4,8"])
    one_line_error(lambda: datasets_like(config, renamed), "renamed.csv:", "columns a,x,c differ from the run's a,b,c")
    narrow = write(tmp_path, "narrow.csv", ["a,b", "9,4"])
    one_line_error(lambda: datasets_like(config, narrow), "narrow.csv:", "2 columns, the run's data have 3")


def test_make_spec_and_spec_kinds(tmp_path):
    path = write(tmp_path, "x.csv", ["a,label", "1,u", "2,v"])
    spec = make_spec("continuous", path, labels_column="label", labels_path=tmp_path / "labels.txt")
    for flag, given in (("--binarize stochastic", dict(binarize="stochastic")),
                        ("--alphabet protein", dict(alphabet="protein"))):
        with pytest.raises(BoltzkitError, match=f"^{flag}: a family of real-valued data"):
            make_spec("continuous", path, **given)
    assert (spec.labels_column, spec.labels_path, spec.format) == ("label", str(tmp_path / "labels.txt"),
                                                                   "continuous")
    assert spec.like(tmp_path / "y.csv").labels_path is None and spec.like(path).test_fraction == 0
    assert [c.data_kind for c in (DataSpec, MSASpec, TableSpec, ContinuousSpec)] == \
        ["binary", "categorical", "categorical", "continuous"]
    with pytest.raises(BoltzkitError, match="choose binary, categorical, continuous"):
        make_spec("reals", path)
    with pytest.raises(BoltzkitError, match="--labels-column: only for a table"):
        make_spec("binary", path, labels_column="label")
    with pytest.raises(BoltzkitError, match="--test-fraction"):
        make_spec("continuous", path, test_fraction=1.0)
    with pytest.raises(BoltzkitError, match="not fixed"):
        spec.expand(np.zeros((1, 1)))
    with pytest.raises(BoltzkitError, match="stored together"):
        ContinuousSpec(str(path), kept_columns=[0])
