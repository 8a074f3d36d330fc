"""Samples to files: .npy/.txt round trips, PNG pixel sizes, image grids, atomic writes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from boltzkit.errors import BoltzkitError
from boltzkit.report.images import as_bernoulli, image_grid, png_scale, sample_picture, \
    save_samples


def png_size(path) -> tuple[int, int]:
    """(height, width) from the IHDR chunk of a PNG file."""
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def leftover_temp_files(folder) -> list:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def bits() -> np.ndarray:
    return (np.random.default_rng(0).random((12, 6)) < 0.4).astype(np.float32)


def test_as_bernoulli_maps_spins_and_rejects_other_values():
    np.testing.assert_array_equal(as_bernoulli(np.array([[-1, 1], [1, -1]])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(as_bernoulli(np.array([[0, 1]])), [[0, 1]])
    with pytest.raises(BoltzkitError, match="values"):
        as_bernoulli(np.array([[0, 0.5]]))
    with pytest.raises(BoltzkitError, match="2-D"):
        as_bernoulli(np.array([0, 1]))


def test_image_grid_places_each_image_in_its_cell():
    x = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)  # 5 images of 2 x 3 pixels
    grid = image_grid(x, (2, 3), n_cols=3, pad=1, pad_value=-1)
    assert grid.shape == (2 * (2 + 1) + 1, 3 * (3 + 1) + 1)
    np.testing.assert_array_equal(grid[1:3, 1:4], x[0].reshape(2, 3))
    np.testing.assert_array_equal(grid[1:3, 5:8], x[1].reshape(2, 3))
    np.testing.assert_array_equal(grid[4:6, 1:4], x[3].reshape(2, 3))  # second row, first cell
    assert (grid[4:6, 9:12] == -1).all()  # the sixth cell is empty
    assert (grid[0] == -1).all() and (grid[:, 0] == -1).all() and (grid[3] == -1).all()


def test_image_grid_default_columns_and_bad_shape():
    grid = image_grid(np.zeros((10, 4)), (2, 2))  # ceil(sqrt(10)) = 4 columns, 3 rows
    assert grid.shape == (3 * 3 + 1, 4 * 3 + 1)
    with pytest.raises(BoltzkitError, match="image_shape"):
        image_grid(np.zeros((3, 5)), (2, 2))


@pytest.mark.parametrize("spins", [False, True])
def test_npy_round_trip_keeps_values_and_dtype(tmp_path, bits, spins):
    x = 2 * bits - 1 if spins else bits
    path = save_samples(tmp_path / "s.npy", x)
    y = np.load(path)
    np.testing.assert_array_equal(y, x)
    assert y.dtype == x.dtype
    assert leftover_temp_files(tmp_path) == []


def test_txt_round_trip_writes_zero_one_integers(tmp_path, bits):
    save_samples(tmp_path / "a.txt", bits)
    save_samples(tmp_path / "b.txt", 2 * bits - 1)  # spins are written as {0,1}
    lines = (tmp_path / "a.txt").read_text().splitlines()
    assert len(lines) == len(bits)
    assert set(lines[0].split()) <= {"0", "1"}
    for name in ("a.txt", "b.txt"):
        np.testing.assert_array_equal(np.loadtxt(tmp_path / name, dtype=int), bits.astype(int))


def test_txt_is_read_back_by_the_data_layer(tmp_path, bits):
    binary = pytest.importorskip("boltzkit.data.binary")
    save_samples(tmp_path / "s.txt", bits)
    np.testing.assert_array_equal(binary.load_binary(tmp_path / "s.txt").samples, bits)


def test_png_image_grid_has_the_expected_pixel_size(tmp_path):
    from matplotlib.image import imread

    x = np.zeros((10, 16), dtype=np.float32)
    x[0, 0] = 1  # top-left pixel of the first image
    path = save_samples(tmp_path / "grid.png", x, (4, 4))
    grid = image_grid(x, (4, 4))
    assert grid.shape == (3 * 5 + 1, 4 * 5 + 1)
    scale = png_scale(grid.shape, keep_aspect=True)
    assert scale == (16, 16)  # both axes are small: the largest factor
    assert png_size(path) == (grid.shape[0] * 16, grid.shape[1] * 16)
    rgb = imread(path)[..., :3]
    assert np.allclose(rgb[16 + 8, 16 + 8], 0.0)  # value 1 is black (first pixel, one block in)
    assert np.allclose(rgb[16 + 8, 2 * 16 + 8], 1.0)  # value 0 is white
    assert 0.3 < rgb[8, 8, 0] < 0.7  # the grey border


def test_png_raster_has_one_row_per_sample(tmp_path):
    x = (np.random.default_rng(1).random((100, 50)) < 0.5).astype(np.float32)
    path = save_samples(tmp_path / "raster.png", x)
    assert png_scale((100, 50), keep_aspect=False) == (6, 11)  # ceil(512/100), ceil(512/50)
    assert png_size(path) == (100 * 6, 50 * 11)
    np.testing.assert_array_equal(sample_picture(2 * x - 1), x)


def test_unsupported_suffix_raises_and_writes_nothing(tmp_path, bits):
    for name in ("s.jpg", "s"):
        with pytest.raises(BoltzkitError, match="unsupported output format"):
            save_samples(tmp_path / name, bits)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_previous_file(tmp_path, bits):
    path = save_samples(tmp_path / "s.npy", bits)
    before = path.read_bytes()
    with pytest.raises(BoltzkitError):
        save_samples(path, bits + 0.5)
    with pytest.raises(BoltzkitError, match="image_shape"):
        save_samples(tmp_path / "s.png", bits, (5, 5))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy"]
