"""IDX reader: round trips for every dtype code, gzip detection by content, corrupt files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from boltzkit.data import bundled_path, read_idx
from boltzkit.data.idx import looks_like_idx
from boltzkit.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
          np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of an array: magic (0, 0, dtype code, ndim), big-endian sizes, big-endian data."""
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_round_trip_every_dtype(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    name = "x-idx3-ubyte.gz" if compress else "x-idx3-ubyte"
    out = read_idx(write_idx(tmp_path / name, array, compress))
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_labels_file_is_one_dimensional(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels-idx1-ubyte", labels)
    assert path.read_bytes()[:4] == bytes.fromhex("00000801")  # the MNIST labels magic number
    np.testing.assert_array_equal(read_idx(path), labels)


def test_gzip_detected_by_content_not_suffix(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    compressed_without_suffix = write_idx(tmp_path / "a.idx", array, compress=True)
    plain_with_gz_suffix = write_idx(tmp_path / "b.idx.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(compressed_without_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_gz_suffix), array)


def test_looks_like_idx(tmp_path):
    array = np.zeros((2, 2, 2), dtype=np.uint8)
    assert looks_like_idx(write_idx(tmp_path / "a", array))
    assert looks_like_idx(write_idx(tmp_path / "b", array, compress=True))
    (tmp_path / "c").write_text("0 1\n1 0\n")
    assert not looks_like_idx(tmp_path / "c")


@pytest.mark.parametrize(
    ("content", "keyword"),
    [
        (idx_bytes(np.zeros((4, 3, 3), np.uint8))[:-5], "truncated"),     # data cut short
        (idx_bytes(np.zeros((4, 3, 3), np.uint8))[:9], "truncated"),      # header cut short
        (idx_bytes(np.zeros((4, 3, 3), np.uint8)) + b"\0\0", "corrupt"),  # trailing bytes
        (b"\x00\x00\x07\x01" + bytes(8), "magic"),                        # unknown dtype code 0x07
        (b"P5\n28 28\n255\n" + bytes(784), "magic"),                       # another format
        (b"\x00\x00", "not an IDX"),
    ],
    ids=["data-cut", "header-cut", "trailing-bytes", "bad-dtype-code", "pgm-image", "two-bytes"],
)
def test_corrupt_files_raise(tmp_path, content, keyword):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert path.name in str(info.value)
    assert keyword in str(info.value)


def test_truncated_gzip_raises(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "cut-idx1-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert path.name in str(info.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nothing-idx3-ubyte.gz")


def test_real_mnist_file_matches_the_bundled_copy():
    shared = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not shared.exists():
        pytest.skip(f"{shared} not present")
    real = read_idx(shared)
    bundled = read_idx(bundled_path("t10k-images-idx3-ubyte.gz"))
    assert real.shape == (10000, 28, 28) and real.dtype == np.uint8
    # Mean pixel 33.791 is the value recorded for this file in shared/data/README.md.
    assert round(float(real.mean()), 3) == 33.791
    np.testing.assert_array_equal(real, bundled)
