"""Reader of the IDX format (MNIST, Fashion-MNIST), gzip-compressed or not.

The format (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/) is a header followed by the
raw array in C order, every number big-endian::

    bytes 0-1   0x00 0x00
    byte  2     dtype code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte  3     number of dimensions d
    then        d sizes, each an unsigned 32-bit integer
    then        the data, prod(sizes) items

so MNIST images start with the magic number 0x00000803 and labels with 0x00000801.
Compression is recognised by the gzip signature (1f 8b), not by the file name.

Images of 8-bit grey levels (dtype code 0x08) read as real values are the intensities
``level / 255`` in [0, 1] (:func:`grey_levels`), what continuous families train on; the binary
reader thresholds or samples the same intensities instead (:mod:`boltzkit.data.binary`).
"""

from __future__ import annotations

import gzip
import zlib
from os import PathLike
from pathlib import Path

import numpy as np

from boltzkit.data.files import read_bytes
from boltzkit.errors import DataError

__all__ = ["read_idx", "looks_like_idx", "grey_levels"]

# Big-endian on disk; converted to native byte order after reading.
_IDX_DTYPES: dict[int, np.dtype] = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
                                     0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_SIGNATURE = b"\x1f\x8b"
# level / 255 computed in float64 and rounded once to float32, for each of the 256 levels.
_GREY_LEVELS = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def _parse_header(head: bytes) -> tuple[np.dtype, int] | None:
    """(dtype, ndim) if ``head`` (at least 4 bytes) is a valid IDX magic number, else None."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        return None
    dtype = _IDX_DTYPES.get(head[2])
    ndim = head[3]
    if dtype is None or ndim == 0:
        return None
    return dtype, ndim


def looks_like_idx(path: str | PathLike) -> bool:
    """Whether a file starts with an IDX magic number (after gunzipping, if compressed).

    Only the first bytes are read; a file that looks like IDX may still be truncated.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head[:2] == _GZIP_SIGNATURE:
                f.seek(0)
                with gzip.open(f) as g:
                    head = g.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return _parse_header(head) is not None


def read_idx(path: str | PathLike) -> np.ndarray:
    """Read an IDX file (``*-ubyte``, ``*.idx*``), gzip-compressed or not.

    Parameters
    ----------
    path : str or PathLike
        The file. Compression is detected from its first two bytes, not from its suffix.

    Returns
    -------
    ndarray of shape given by the header
        In native byte order with the dtype of the header (uint8 for MNIST): shape
        (n_images, n_rows, n_cols) for an images file (magic 0x00000803), (n_items,) for a
        labels file (magic 0x00000801).

    Raises
    ------
    DataError
        If the file is missing, is not IDX (bad magic number), or holds fewer or more bytes than
        its header announces (a truncated download, for instance).
    """
    path = Path(path)
    buf = read_bytes(path)
    header = _parse_header(buf[:4])
    if header is None:
        if len(buf) < 4:
            raise DataError(path, f"not an IDX file (only {len(buf)} bytes)")
        raise DataError(path, f"not an IDX file (bad magic number 0x{buf[:4].hex()})")
    dtype, ndim = header
    start = 4 + 4 * ndim
    if len(buf) < start:
        raise DataError(path, f"truncated IDX header: {ndim} dimensions announced, "
                              f"file has {len(buf)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(buf) - start
    if found < expected:
        raise DataError(path, f"truncated IDX data: header {shape} needs {expected} bytes, "
                              f"found {found}")
    if found > expected:
        raise DataError(path, f"corrupt IDX file: {found - expected} bytes after the data "
                              f"announced by the header {shape}")
    array = np.frombuffer(buf, dtype=dtype, offset=start).reshape(shape)
    # frombuffer is read-only and big-endian; give the caller an ordinary native array.
    return array.astype(dtype.newbyteorder("="))


def grey_levels(levels: np.ndarray) -> np.ndarray:
    """8-bit grey levels as intensities in [0, 1].

    Parameters
    ----------
    levels : ndarray of uint8, any shape
        Levels 0..255 (0 black, 255 white in MNIST's convention: the ink).

    Returns
    -------
    ndarray of the same shape, float32
        ``level / 255``, computed in float64 and rounded once to float32 (a relative error below
        6e-8, far under the 1/255 step of the levels); not binarised.
    """
    levels = np.asarray(levels)
    if levels.dtype != np.uint8:
        raise ValueError(f"grey levels must be uint8, got dtype {levels.dtype}")
    return _GREY_LEVELS[levels]
