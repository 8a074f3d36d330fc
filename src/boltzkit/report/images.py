"""Samples as files and pictures: ``.npy``, ``.txt`` and ``.png`` (image grid or raster).

Conventions
-----------
Samples are rows of a matrix of shape (n_samples, n_visible): binary values in {0,1} or ±1 (the
model's units), or real values (the data's units, docs/methods.md section 11.6). Pictures show a
binary unit at its high value (1 or +1) **black** and at its low value (0 or −1) **white**, like
ink on paper; grey separates the images of a grid.

Real values are drawn as **grey levels** on a range that the caller gives
(:func:`grey_levels`): the low end white, the high end black, values outside clipped. Images
use the range of the data (:func:`data_range`: [0, 1] for grey levels read from 8-bit images);
other real data are drawn as standardised values (:func:`standard_scores`) on
:data:`STANDARD_RANGE`, [-3, 3].

* an **image grid** (``image_shape`` given) puts each row, reshaped to (height, width), in a cell
  of a grid of ``n_cols`` columns, with a 1-pixel grey border around every cell;
* a **raster** (no ``image_shape``) draws one row of pixels per sample and one column per site.

PNG files are scaled up by whole pixels (every pixel becomes a block) so that small images stay
visible; :func:`png_scale` gives the factors.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from boltzkit.errors import BoltzkitError
from boltzkit.io.atomic import atomic_path

if TYPE_CHECKING:
    from boltzkit.models.visible import VisibleSpace

__all__ = ["as_bernoulli", "grey_levels", "data_range", "standard_scores", "image_grid", "png_scale",
           "sample_picture", "png_bytes", "save_samples", "SUPPORTED_FORMATS", "STANDARD_RANGE"]

SUPPORTED_FORMATS = (".npy", ".txt", ".png")
#: The standardised values a picture of real data spans (white to black); beyond, clipped.
STANDARD_RANGE = (-3.0, 3.0)
GRID_PAD_VALUE = 0.5  # grey between the cells of a grid
PNG_TARGET_SIZE = 512  # scale PNGs up until the picture is about this many pixels wide / tall
PNG_MAX_SCALE = 16


def as_bernoulli(x: np.ndarray) -> np.ndarray:
    """Samples in {0,1} (float32), whether given in {0,1} or ±1.

    Parameters
    ----------
    x : array of shape (n_samples, n_visible), values in {0,1} or {-1,+1}

    Raises
    ------
    BoltzkitError
        If ``x`` is not 2-D or holds other values.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise BoltzkitError(f"samples must be 2-D (n_samples, n_visible); got shape {x.shape}")
    if np.isin(x, (0, 1)).all():  # also no sample at all
        return x.astype(np.float32)
    if np.isin(x, (-1, 1)).all():
        return ((x + 1) / 2).astype(np.float32)
    raise BoltzkitError("samples must hold values in {0,1} or {-1,+1}")


def _real_rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a 2-D float64 array of finite values, else a one-line error."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise BoltzkitError(f"samples must be 2-D (n_samples, n_visible); got shape {x.shape}")
    if not np.isfinite(x).all():
        raise BoltzkitError("samples must hold finite values (NaN or infinite found)")
    return x


def _check_range(value_range: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(v) for v in value_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise BoltzkitError(f"value_range must be two finite numbers, low < high; got {value_range!r}")
    return low, high


def grey_levels(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Real values as grey levels in [0, 1] (float32; 1 is drawn black): (x - low) / (high - low)
    for ``value_range`` = (low, high), values outside the range clipped to its ends.

    Parameters
    ----------
    x : array of shape (n_samples, n_visible), finite real values
    value_range : (low, high), finite, low < high
    """
    low, high = _check_range(value_range)
    return ((np.clip(_real_rows(x), low, high) - low) / (high - low)).astype(np.float32)


def data_range(reference: np.ndarray) -> tuple[float, float]:
    """The range (min, max) of the finite values of ``reference`` (data rows, any shape), the range
    images of real data are drawn on; (v - 0.5, v + 0.5) when they all equal v, (0, 1) when there
    is none."""
    values = np.asarray(reference, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if low < high else (low - 0.5, high + 0.5)


def standard_scores(space: VisibleSpace, rows: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Real rows in the data's units, shape (n, n_visible), as standardised values (float64): the
    model's own values when ``space`` standardises (its offset and scale, docs/methods.md section
    11.6), else z-scores by the column means and population standard deviations of ``reference``
    (data rows in the same units; ``rows`` themselves without one), a column without spread only
    centred."""
    rows = _real_rows(rows)
    if space.scale is not None:
        return space.from_data(rows)
    ref = rows if reference is None else _real_rows(reference)
    mean, std = ref.mean(0), ref.std(0)
    return (rows - mean) / np.where(std > 0, std, 1.0)


def _check_shape(n_visible: int, image_shape: tuple[int, int]) -> tuple[int, int]:
    height, width = (int(s) for s in image_shape)
    if height * width != n_visible:
        raise BoltzkitError(f"image_shape {tuple(image_shape)} does not match {n_visible} visible "
                            "units")
    return height, width


def image_grid(x: np.ndarray, image_shape: tuple[int, int], n_cols: int | None = None,
               pad: int = 1, pad_value: float = GRID_PAD_VALUE) -> np.ndarray:
    """Tile samples into one grey-level picture.

    Parameters
    ----------
    x : array of shape (n_samples, height * width)
        Pixel values (any real values; {0,1} samples give a black-and-white grid).
    image_shape : (height, width)
    n_cols : int, optional
        Images per row of the grid; default ``ceil(sqrt(n_samples))``.
    pad : int
        Border in pixels around every cell.
    pad_value : float
        Value of the border pixels.

    Returns
    -------
    ndarray of shape (n_rows * (height + pad) + pad, n_cols * (width + pad) + pad), float32
        with ``n_rows = ceil(n_samples / n_cols)``; cells left over are filled with ``pad_value``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise BoltzkitError(f"samples must be 2-D (n_samples, n_visible); got shape {x.shape}")
    height, width = _check_shape(x.shape[1], image_shape)
    n = len(x)
    n_cols = max(1, min(math.ceil(math.sqrt(n)) if n_cols is None else int(n_cols), n))
    n_rows = max(1, math.ceil(n / n_cols))
    grid = np.full((n_rows * (height + pad) + pad, n_cols * (width + pad) + pad), pad_value,
                   dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, n_cols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        grid[top:top + height, left:left + width] = x[k].reshape(height, width)
    return grid


def png_scale(shape: tuple[int, int], keep_aspect: bool) -> tuple[int, int]:
    """Whole-pixel scale factors (rows, columns) for a picture of ``shape``.

    Each axis is scaled up until it reaches :data:`PNG_TARGET_SIZE` pixels, by at most
    :data:`PNG_MAX_SCALE`; with ``keep_aspect`` (image grids) both axes use the smaller factor.
    """
    factors = [max(1, min(PNG_MAX_SCALE, math.ceil(PNG_TARGET_SIZE / max(s, 1)))) for s in shape]
    if keep_aspect:
        factors = [min(factors)] * 2
    return factors[0], factors[1]


def sample_picture(x: np.ndarray, image_shape: tuple[int, int] | None = None,
                   n_cols: int | None = None,
                   value_range: tuple[float, float] | None = None) -> np.ndarray:
    """The picture :func:`save_samples` writes, before scaling: an image grid, or a raster of shape
    (n_samples, n_visible) (one row of pixels per sample), with values in [0,1]: binary values
    (``value_range`` None) as {0,1}, real values as :func:`grey_levels` on ``value_range``."""
    v = as_bernoulli(x) if value_range is None else grey_levels(x, value_range)
    return image_grid(v, image_shape, n_cols) if image_shape is not None else v


def png_bytes(picture: np.ndarray, scale: tuple[int, int] = (1, 1)) -> bytes:
    """Encode a picture with values in [0,1] (1 = black) as a grey-level PNG, each pixel scaled
    up to a ``scale`` block."""
    # imported here, not at the top: `boltzkit sample` writing .npy / .txt needs no matplotlib
    # (a quarter of a second of import time)
    from matplotlib.image import imsave

    big = np.repeat(np.repeat(np.asarray(picture, dtype=np.float32), scale[0], 0), scale[1], 1)
    buffer = io.BytesIO()
    imsave(buffer, big, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


def save_samples(path: str | os.PathLike, x: np.ndarray,
                 image_shape: tuple[int, int] | None = None,
                 value_range: tuple[float, float] | None = None) -> Path:
    """Write samples to ``path``; the format follows the suffix.

    Binary samples (``value_range`` None):

    * ``.npy`` — the array as given (values and dtype kept: {0,1} or ±1);
    * ``.txt`` — 0/1 integers, one row per sample, separated by spaces (±1 is mapped to {0,1});
    * ``.png`` — an image grid when ``image_shape`` is given, else a raster (one row of pixels per
      sample), scaled up by :func:`png_scale`; high values are black.

    Real samples (``value_range`` = (low, high) given): ``.npy`` float64, ``.txt`` one row per
    line, values ``%.6g`` separated by spaces, ``.png`` the grey levels of :func:`grey_levels` on
    ``value_range`` (low white, high black, clipped), as an image grid or a raster.

    The file is written atomically (temporary file, then rename).

    Parameters
    ----------
    path : path ending in .npy, .txt or .png
    x : array of shape (n_samples, n_visible), values in {0,1} or ±1, or finite reals
    image_shape : (height, width), optional
    value_range : (low, high), optional
        Marks real samples and gives the range of the picture's grey scale.

    Raises
    ------
    BoltzkitError
        For another suffix, values not in {0,1} / ±1 (binary) or not finite (real), a bad
        ``value_range``, or an image_shape that does not fit.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise BoltzkitError(f"{path}: unsupported output format {path.suffix or '(no suffix)'!r} "
                            f"(choose {', '.join(SUPPORTED_FORMATS)})")
    real = value_range is not None
    v = grey_levels(x, value_range) if real else as_bernoulli(x)  # validates the values for every format
    if image_shape is not None:
        _check_shape(v.shape[1], image_shape)
    if suffix == ".npy":
        # np.save would append ".npy" to the temporary name; an open file keeps it as is
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, _real_rows(x) if real else np.asarray(x))
    elif suffix == ".txt":
        with atomic_path(path) as tmp, open(tmp, "w") as f:
            if real:
                np.savetxt(f, _real_rows(x), fmt="%.6g", delimiter=" ")
            else:
                np.savetxt(f, v.astype(np.uint8), fmt="%d", delimiter=" ")
    else:
        picture = image_grid(v, image_shape) if image_shape is not None else v
        data = png_bytes(picture, png_scale(picture.shape, keep_aspect=image_shape is not None))
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path
