"""load_binary: round trips for every format, conventions, binarisation, and one-line errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import h5py
import numpy as np
import pytest

from boltzkit.data import Dataset, load_binary, load_labels
from boltzkit.errors import BoltzkitError, DataError


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Minimal IDX writer for uint8 arrays (magic 0x0000080d with d = ndim)."""
    data = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_text(path: Path, matrix: np.ndarray, delimiter: str = " ", header: str = "") -> Path:
    lines = [header] if header else []
    lines += [delimiter.join(str(int(v)) for v in row) for row in matrix]
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def matrix() -> np.ndarray:
    """A {0,1} matrix of shape (20, 7) holding both values."""
    return (np.random.default_rng(0).random((20, 7)) < 0.4).astype(np.int64)


def assert_error(call, path: Path, keyword: str) -> DataError:
    """The call raises a one-line DataError naming the file and the problem."""
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert path.name in message
    assert keyword in message
    assert "\n" not in message
    return info.value


# --------------------------------------------------------------------------- round trips

def check_round_trip(data: Dataset, matrix: np.ndarray, path: Path, convention: str = "bernoulli"):
    assert data.samples.dtype == np.float32
    assert data.samples.flags.c_contiguous
    np.testing.assert_array_equal(data.samples, matrix)
    assert data.convention == convention
    assert data.source == str(path)
    assert len(data) == matrix.shape[0] and data.n_features == matrix.shape[1]


def test_npy(tmp_path, matrix):
    path = tmp_path / "x.npy"
    np.save(path, matrix.astype(np.uint8))
    data = load_binary(path)
    check_round_trip(data, matrix, path)
    assert data.labels is None and data.weights is None and data.image_shape is None


def test_npy_bool(tmp_path, matrix):
    path = tmp_path / "x.npy"
    np.save(path, matrix.astype(bool))
    check_round_trip(load_binary(path), matrix, path)


def test_npz_with_labels_and_weights(tmp_path, matrix):
    path = tmp_path / "x.npz"
    labels = np.arange(20) % 3
    weights = np.linspace(0.5, 2.0, 20, dtype=np.float32)
    np.savez(path, samples=matrix, labels=labels, weights=weights)
    data = load_binary(path)
    check_round_trip(data, matrix, path)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.weights.dtype == np.float64
    np.testing.assert_allclose(data.weights, weights)


def test_npz_only_array_and_named_key(tmp_path, matrix):
    only = tmp_path / "only.npz"
    np.savez(only, spins=2 * matrix - 1, labels=np.zeros(20))
    check_round_trip(load_binary(only), matrix, only, "ising")
    named = tmp_path / "named.npz"
    np.savez(named, a=matrix, b=1 - matrix)
    np.testing.assert_array_equal(load_binary(named, dataset="b").samples, 1 - matrix)
    err = assert_error(lambda: load_binary(named), named, "no array 'samples'")
    assert "a, b" in str(err)


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("x.txt", " "), ("x.dat", "  "), ("x.csv", ","), ("x.tsv", "\t"), ("x.csv", ", "), ("x.txt.gz", " ")],
)
def test_text(tmp_path, matrix, name, delimiter):
    path = write_text(tmp_path / name, matrix, delimiter, header="# a header comment")
    check_round_trip(load_binary(path), matrix, path)


def test_text_single_row_and_single_column(tmp_path):
    row = write_text(tmp_path / "row.txt", np.array([[0, 1, 1]]))
    column = write_text(tmp_path / "column.txt", np.array([[0], [1], [1]]))
    assert load_binary(row).samples.shape == (1, 3)
    assert load_binary(column).samples.shape == (3, 1)


def test_text_trailing_comments_and_blank_lines(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("# spins\n1 -1 1  # first\n\n-1 -1 1\n")
    data = load_binary(path)
    np.testing.assert_array_equal(data.samples, [[1, 0, 1], [0, 0, 1]])
    assert data.convention == "ising"


def test_hdf5_with_labels_and_weights(tmp_path, matrix):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["samples"] = matrix.astype(np.int8)
        f["labels"] = np.array(["a", "b"] * 10, dtype=h5py.string_dtype())
        f["weights"] = np.full(20, 0.25)
    data = load_binary(path)
    check_round_trip(data, matrix, path)
    assert data.labels.tolist() == ["a", "b"] * 10  # variable-length strings come back as str
    np.testing.assert_array_equal(data.weights, np.full(20, 0.25))


def test_hdf5_dataset_in_a_group_and_labels_group_ignored(tmp_path, matrix):
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as f:
        f["train/spins"] = 2.0 * matrix - 1
        f["labels/level_1"] = np.arange(20)  # a group of labels: not taken
    data = load_binary(path, dataset="train/spins")
    check_round_trip(data, matrix, path, "ising")
    assert data.labels is None


def test_hdf5_missing_dataset_lists_available(tmp_path, matrix):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["data"] = matrix
        f["group/inner"] = matrix
    err = assert_error(lambda: load_binary(path), path, "'samples' not found")
    assert "data" in str(err) and "group/inner" in str(err)
    assert_error(lambda: load_binary(path, dataset="group"), path, "group")


@pytest.mark.parametrize("name", ["x-images-idx3-ubyte", "x-images-idx3-ubyte.gz", "x.idx3", "x.idx"])
def test_idx_images(tmp_path, name):
    images = np.zeros((5, 4, 3), dtype=np.uint8)
    images[:, 1, :] = 200  # one bright row per image
    images[2, 0, 0] = 127  # just below 0.5 * 255 = 127.5
    images[3, 0, 0] = 128  # just above
    path = write_idx(tmp_path / name, images, compress=name.endswith(".gz"))
    data = load_binary(path)
    assert data.image_shape == (4, 3)
    assert data.samples.shape == (5, 12)
    expected = (images.reshape(5, 12) >= 128).astype(np.float32)
    np.testing.assert_array_equal(data.samples, expected)
    assert data.samples[2, 0] == 0 and data.samples[3, 0] == 1


def test_format_detected_by_content_without_suffix(tmp_path, matrix):
    npy = tmp_path / "x.bin"
    with open(npy, "wb") as f:
        np.save(f, matrix)
    idx = write_idx(tmp_path / "images", matrix.reshape(20, 7, 1).astype(np.uint8))
    np.testing.assert_array_equal(load_binary(npy).samples, matrix)
    np.testing.assert_array_equal(load_binary(idx).samples, matrix)


def test_3d_npy_is_images(tmp_path):
    images = (np.random.default_rng(2).random((6, 2, 5)) < 0.5).astype(np.float64)
    path = tmp_path / "images.npy"
    np.save(path, images)
    data = load_binary(path)
    assert data.image_shape == (2, 5)
    np.testing.assert_array_equal(data.samples, images.reshape(6, 10))
    np.testing.assert_array_equal(data.samples[3].reshape(data.image_shape), images[3])


# --------------------------------------------------------------------------- conventions and binarisation

def test_ising_is_mapped_to_bernoulli(tmp_path, matrix):
    path = tmp_path / "spins.npy"
    np.save(path, (2 * matrix - 1).astype(np.float32))
    data = load_binary(path)
    check_round_trip(data, matrix, path, "ising")


def test_all_ones_is_bernoulli(tmp_path):
    # A matrix of ones is both {0,1} and ±1; it is read in the default {0,1} convention.
    path = tmp_path / "ones.npy"
    np.save(path, np.ones((3, 2)))
    data = load_binary(path)
    assert data.convention == "bernoulli" and data.samples.sum() == 6


def test_threshold_on_floats(tmp_path):
    grey = np.array([[0.1, 0.5, 0.51, 0.9], [1.0, 0.0, 0.3, 0.7]])
    path = tmp_path / "grey.npy"
    np.save(path, grey)
    np.testing.assert_array_equal(load_binary(path).samples, grey > 0.5)
    np.testing.assert_array_equal(load_binary(path, threshold=0.25).samples, grey > 0.25)


def test_threshold_on_uint8_is_exact(tmp_path):
    # 51 / 255 is 0.2 exactly (as a double), so it is not above the threshold 0.2; 52 is.
    path = write_idx(tmp_path / "g-idx3-ubyte", np.array([[[50, 51, 52, 255]]], dtype=np.uint8))
    np.testing.assert_array_equal(load_binary(path, threshold=0.2).samples, [[0, 0, 1, 1]])


def test_stochastic_binarisation_matches_grey_levels(tmp_path):
    # Columns of grey levels 0, 0.25, 0.5, 0.75, 1 over 20000 rows. Each column mean is a mean of
    # 20000 Bernoulli draws, standard deviation at most sqrt(0.25 / 20000) = 0.0035: a tolerance of
    # 0.02 is over 5 standard deviations, and the seed is fixed, so the test is not flaky.
    levels = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    path = tmp_path / "grey.npy"
    np.save(path, np.tile(levels, (20000, 1)))
    data = load_binary(path, binarize="stochastic", seed=3)
    assert set(np.unique(data.samples)) <= {0.0, 1.0}
    np.testing.assert_allclose(data.samples.mean(axis=0), levels, atol=0.02)
    assert data.samples[:, 0].sum() == 0 and data.samples[:, 4].all()  # p = 0 and p = 1 are certain
    again = load_binary(path, binarize="stochastic", seed=3)
    other = load_binary(path, binarize="stochastic", seed=4)
    np.testing.assert_array_equal(data.samples, again.samples)
    assert not np.array_equal(data.samples, other.samples)


def test_stochastic_on_uint8_levels(tmp_path):
    # Level 77 is p = 77/255 = 0.302; 10000 x 10 draws have standard deviation 0.0015, tolerance
    # 0.01 is about 7 of them.
    path = write_idx(tmp_path / "g-idx3-ubyte", np.full((10000, 2, 5), 77, dtype=np.uint8))
    data = load_binary(path, binarize="stochastic", seed=0)
    assert abs(data.samples.mean() - 77 / 255) < 0.01


def test_binary_data_is_never_binarised(tmp_path, matrix):
    path = tmp_path / "x.npy"
    np.save(path, matrix)
    for mode in ("threshold", "stochastic", "none"):
        np.testing.assert_array_equal(load_binary(path, binarize=mode, threshold=1.0).samples, matrix)


# --------------------------------------------------------------------------- labels

def test_labels_path_formats(tmp_path, matrix):
    data_path = tmp_path / "x.npy"
    np.save(data_path, matrix)
    text = tmp_path / "labels.txt"
    text.write_text("# digit\n" + "\n".join(str(i % 10) for i in range(20)) + "\n")
    npy = tmp_path / "labels.npy"
    np.save(npy, np.arange(20).reshape(20, 1))
    idx = write_idx(tmp_path / "labels-idx1-ubyte.gz", np.arange(20, dtype=np.uint8), compress=True)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(["AFR", "EUR"] * 10))
    expected = {text: np.arange(20) % 10, npy: np.arange(20), idx: np.arange(20)}
    for labels_path, labels in expected.items():
        data = load_binary(data_path, labels_path=labels_path)
        np.testing.assert_array_equal(data.labels, labels)
        assert data.labels.dtype == np.int64
    assert load_binary(data_path, labels_path=names).labels.tolist() == ["AFR", "EUR"] * 10
    floats = tmp_path / "floats.txt"
    floats.write_text("\n".join(str(i / 4) for i in range(20)))
    assert load_labels(floats).dtype == np.float64


def test_labels_path_overrides_stored_labels(tmp_path, matrix):
    path = tmp_path / "x.npz"
    np.savez(path, samples=matrix, labels=np.zeros(20))
    labels = tmp_path / "y.npy"
    np.save(labels, np.arange(20))
    np.testing.assert_array_equal(load_binary(path, labels_path=labels).labels, np.arange(20))


# --------------------------------------------------------------------------- Dataset

def test_subset_keeps_fields(matrix):
    data = Dataset(matrix.astype(np.float32), labels=np.arange(20), weights=np.ones(20),
                   image_shape=(7, 1), source="s", convention="ising")
    one = data.subset(3)
    assert one.samples.shape == (1, 7) and one.labels.tolist() == [3]
    mask = data.subset(np.arange(20) % 2 == 0)
    assert len(mask) == 10 and mask.weights.shape == (10,)
    part = data.subset(slice(5, 8))
    np.testing.assert_array_equal(part.samples, matrix[5:8])
    assert (part.image_shape, part.source, part.convention) == ((7, 1), "s", "ising")


def test_dataset_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match="labels"):
        Dataset(np.zeros((3, 2), np.float32), labels=np.zeros(4))
    with pytest.raises(ValueError, match="2-D"):
        Dataset(np.zeros(3, np.float32))


# --------------------------------------------------------------------------- errors

def save(path: Path, array) -> Path:
    np.save(path, array)
    return path


def test_missing_file_and_directory(tmp_path):
    assert_error(lambda: load_binary(tmp_path / "absent.npy"), tmp_path / "absent.npy", "not found")
    folder = tmp_path / "folder.npy"
    folder.mkdir()
    assert_error(lambda: load_binary(folder), folder, "directory")


def test_unknown_format(tmp_path):
    path = tmp_path / "x.xyz"
    path.write_bytes(b"\x01\x02\x03 not a known format")
    assert_error(lambda: load_binary(path), path, "unknown format")


@pytest.mark.parametrize("name", ["x.npy", "x.npz", "x.h5"])
def test_unreadable_binary_formats(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"garbage" * 10)
    assert_error(lambda: load_binary(path), path, "not a readable")


def test_binary_garbage_with_text_suffix(tmp_path):
    path = tmp_path / "x.dat"
    path.write_bytes(bytes(range(256)))
    assert_error(lambda: load_binary(path), path, "not a text file")


@pytest.mark.parametrize(
    ("array", "keyword"),
    [
        (np.zeros(5), "shape (5,)"),
        (np.zeros((2, 2, 2, 2)), "shape (2, 2, 2, 2)"),
        (np.zeros((0, 4)), "0 samples"),
        (np.zeros((4, 0)), "0 features"),
        (np.zeros((0, 28, 28)), "0 samples"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        (np.array([[0.0, 1.0], [np.inf, 0.0]]), "infinite"),
        (np.array([[0, 1], [2, 1]]), "found 2"),
        (np.array([[0.0, 1.5], [1.0, 0.0]]), "found 1.5"),
        (np.array([[0, 1], [-1, 1]]), "mix"),
        (np.array([["0", "1"]]), "numbers"),
    ],
)
def test_bad_arrays(tmp_path, array, keyword):
    path = save(tmp_path / "bad.npy", array)
    assert_error(lambda: load_binary(path), path, keyword)


def test_nan_position_is_named(tmp_path):
    path = save(tmp_path / "x.npy", np.array([[0.0, 1.0], [1.0, np.nan]]))
    assert_error(lambda: load_binary(path), path, "sample 1, feature 1")


def test_grey_levels_refused_without_binarisation(tmp_path):
    path = save(tmp_path / "grey.npy", np.array([[0.0, 0.37], [1.0, 0.5]]))
    err = assert_error(lambda: load_binary(path, binarize="none"), path,
                       "values must be binary {0,1} or ±1; found 0.37")
    assert "binarize" in str(err)  # the hint says how to fix it


def test_pickled_npy(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert_error(lambda: load_binary(path), path, "pickle")


def test_text_errors_name_the_line(tmp_path):
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("# header\n0 1 0\n1 1 0\n1 0\n")
    err = assert_error(lambda: load_binary(ragged), ragged, "ragged")
    assert err.line == 4 and "ragged.txt:4" in str(err)
    words = tmp_path / "words.csv"
    words.write_text("a,b\n0,1\n")
    err = assert_error(lambda: load_binary(words), words, "not a number: 'a'")
    assert err.line == 1
    empty_field = tmp_path / "empty_field.csv"
    empty_field.write_text("0,1\n1,\n")
    assert assert_error(lambda: load_binary(empty_field), empty_field, "empty value").line == 2


def test_empty_text_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# only a comment\n")
    assert_error(lambda: load_binary(path), path, "empty")


def test_labels_and_weights_errors(tmp_path, matrix):
    short_labels = tmp_path / "short_labels.npz"
    np.savez(short_labels, samples=matrix, labels=np.arange(19))
    assert_error(lambda: load_binary(short_labels), short_labels, "labels: 19 values for 20 samples")
    short_weights = tmp_path / "short_weights.npz"
    np.savez(short_weights, samples=matrix, weights=np.ones(21))
    assert_error(lambda: load_binary(short_weights), short_weights, "weights: 21 values")
    negative = tmp_path / "negative.h5"
    with h5py.File(negative, "w") as f:
        f["samples"] = matrix
        f["weights"] = np.where(np.arange(20) == 6, -0.5, 1.0)
    assert_error(lambda: load_binary(negative), negative, "negative weights (found -0.5 for sample 6)")
    nan = tmp_path / "nan_weights.npz"
    np.savez(nan, samples=matrix, weights=np.full(20, np.nan))
    assert_error(lambda: load_binary(nan), nan, "NaN")
    zero = tmp_path / "zero_weights.npz"
    np.savez(zero, samples=matrix, weights=np.zeros(20))
    assert_error(lambda: load_binary(zero), zero, "all zero")


def test_labels_file_errors(tmp_path, matrix):
    data = save(tmp_path / "x.npy", matrix)
    labels = tmp_path / "mylabels.txt"
    labels.write_text("\n".join("1" * 5))
    # The error names the labels file, not the samples file.
    assert_error(lambda: load_binary(data, labels_path=labels), labels, "5 values for 20 samples")
    missing = tmp_path / "nolabels.txt"
    assert_error(lambda: load_binary(data, labels_path=missing), missing, "not found")
    matrix_labels = save(tmp_path / "matrix_labels.npy", np.zeros((20, 2)))
    assert_error(lambda: load_labels(matrix_labels), matrix_labels, "1-D")
    empty = tmp_path / "empty_labels.txt"
    empty.write_text("")
    assert_error(lambda: load_labels(empty), empty, "empty")


def test_bad_options(tmp_path, matrix):
    path = save(tmp_path / "x.npy", matrix)
    with pytest.raises(BoltzkitError, match="binarize"):
        load_binary(path, binarize="round")
    with pytest.raises(BoltzkitError, match="threshold"):
        load_binary(path, threshold=2.0)
