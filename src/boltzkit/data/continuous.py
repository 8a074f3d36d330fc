"""Loaders of real-valued data: a matrix of samples x features, for the continuous families.

The values are kept in the file's own units (standardisation belongs to the model's visible space,
:mod:`boltzkit.models.visible`): float32 when the file holds float32 (or float16) numbers or 8-bit
grey levels, float64 otherwise, so that the reader never rounds a value the file holds.

Supported files, recognised as :func:`boltzkit.data.binary.load_binary` recognises them (by suffix,
else by content; gzip by its magic bytes where the binary reader accepts it):

=========================================  ==================================================
``.npy``                                   one 2-D array (or 3-D images)
``.npz``                                   key ``samples`` (else the only array, or the key
                                           named by ``dataset``); optional ``labels``,
                                           ``weights`` and ``ids``
``.h5`` ``.hdf5``                          dataset ``samples`` (or the one named); optional
                                           ``labels``, ``weights`` and ``ids`` datasets
``.txt`` ``.dat`` ``.csv`` ``.tsv``        a table of numbers, with or without a header row
(optionally ``.gz``)                       (see below)
``*-ubyte``, ``*.idx*`` (optionally .gz)   IDX images (MNIST, Fashion-MNIST)
any other name                             a text table when its first bytes are text (the
                                           UCI repository's ``.data`` files)
=========================================  ==================================================

Images (an IDX file, or any 3-D array (n_samples, height, width)) are flattened to
(n_samples, height * width) with ``image_shape`` kept; 8-bit images (uint8) are read as grey
levels ``level / 255`` in [0, 1] (:func:`boltzkit.data.idx.grey_levels`), never binarised. A 2-D
uint8 matrix is taken as numbers (counts, say), not rescaled.

Text tables
-----------
* Delimiter: a comma for ``.csv``, a tab for ``.tsv``; otherwise a comma when the first row
  holds one, a tab when it holds one, else runs of whitespace. ``#`` starts a comment; blank
  lines are skipped; CSV quotes (``"mean radius"``) are removed.
* Header (``header="auto"``): the first row is a header when one of its fields is not a number;
  its names are kept (:attr:`ContinuousDataset.file_columns`). Header-less columns are named by
  their 0-based position, ``"0"``, ``"1"``, ...
* ``labels_column`` (a name, or a 0-based position): that column is kept as the rows' labels
  (typed as :func:`boltzkit.data.binary.load_labels` types them: integers, numbers, else
  strings) and left out of the matrix.

Checks, each a one-line :class:`~boltzkit.errors.DataError` naming the file: a text row with
another number of fields than the first (naming its line), a cell that is not a number (its line
and column), NaN or infinite values (the line of a text file, else the row counted from 1, and the
column counted from 0, by name when the table has a header), a 1-D array ("expected a matrix"),
no rows or no columns, labels or weights of the wrong length, negative weights.

Constant columns
----------------
A column constant over the training rows carries no information and has no scale to standardise
by. :func:`constant_columns` finds them (population standard deviation, weighted by the rows'
weights, at most 1e-12 max(1, |mean|): the visible space's own test, so that nothing it would
refuse reaches it); :class:`boltzkit.data.specs.ContinuousSpec` leaves them out with a warning
naming them, keeps their value, and reads every later file with the same columns;
:func:`expand_columns` puts them back into rows of the model (samples written in the file's
layout).
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from boltzkit.data.binary import _data_lines as _binary_data_lines
from boltzkit.data.binary import (_READERS, _check_file, _check_weights, _format_of, _is_number,
                                  _per_sample, load_labels)
from boltzkit.data.files import peek_bytes, read_text
from boltzkit.data.idx import grey_levels
from boltzkit.data.table import _column_index, _suffix_delimiter
from boltzkit.errors import BoltzkitError, DataError

__all__ = ["ContinuousDataset", "load_continuous", "constant_columns", "expand_columns",
           "columns_note", "warn_constant", "CONSTANT_TOLERANCE"]

# Rows per block of the constant-column test: bounds its float64 temporaries on image sets.
_CHUNK_ROWS = 8192
# A column is constant when its standard deviation is at most this times max(1, |mean|).
CONSTANT_TOLERANCE = 1e-12
# Constant columns named in a note before "and k more".
_SHOWN_COLUMNS = 10


@dataclass(eq=False)
class ContinuousDataset:
    """Real-valued samples with optional labels, sample weights and row names.

    Attributes
    ----------
    samples : ndarray of shape (n_samples, n_features), float32 or float64
        The values in the file's units, restricted to the columns ``kept`` (all of them when
        ``kept`` is None).
    labels : ndarray of shape (n_samples,) or None
    weights : ndarray of shape (n_samples,), float64, or None
    ids : ndarray of shape (n_samples,), str, or None
    image_shape : tuple (height, width) or None
        The image shape of the file's rows: :meth:`expand` rows reshape to it.
    source : str
        The file the samples came from.
    file_columns : list of str
        The names of the file's columns (a header's names, else ``"0"``, ``"1"``, ...), labels
        column excluded.
    header : bool
        Whether the first row of a text file was a header.
    kept : ndarray of int of shape (n_features,), or None
        The 0-based columns of the file held in ``samples``, increasing; None: all of them.
    fill : ndarray of shape (n_columns - n_features,), float64, or None
        The value of each column left out, in increasing column order.
    """

    samples: np.ndarray
    labels: np.ndarray | None = None
    weights: np.ndarray | None = None
    ids: np.ndarray | None = None
    image_shape: tuple[int, int] | None = None
    source: str = ""
    file_columns: list[str] | None = None
    header: bool = False
    kept: np.ndarray | None = None
    fill: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Programming errors (not user input): the loaders always build consistent objects.
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be 2-D, got shape {self.samples.shape}")
        if self.file_columns is None:
            self.file_columns = [str(j) for j in range(self.samples.shape[1])]
        for name in ("labels", "weights", "ids"):
            value = getattr(self, name)
            if value is not None and len(value) != len(self.samples):
                raise ValueError(f"{name} has {len(value)} entries for {len(self.samples)} samples")
        if (self.kept is None) != (self.fill is None) or self.n_features + self._n_fill != self.n_columns:
            raise ValueError(f"{self.n_features} kept and {self._n_fill} filled columns for "
                             f"{self.n_columns} columns")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.n_columns:
            raise ValueError(f"image_shape {self.image_shape} does not match {self.n_columns} columns")

    @property
    def _n_fill(self) -> int:
        return 0 if self.fill is None else len(self.fill)

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def n_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def n_features(self) -> int:
        """Columns of ``samples`` (the model's visible units)."""
        return self.samples.shape[1]

    @property
    def n_columns(self) -> int:
        """Columns of the file."""
        return len(self.file_columns)

    @property
    def columns(self) -> list[str]:
        """The names of the columns of ``samples``."""
        return list(self.file_columns) if self.kept is None else [self.file_columns[j] for j in self.kept]

    def subset(self, index: Any) -> ContinuousDataset:
        """The rows selected by ``index`` (anything NumPy accepts; an int keeps one row, 2-D), with
        their labels, weights and ids."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return replace(self, samples=self.samples[index],
                       **{name: None if getattr(self, name) is None else getattr(self, name)[index]
                          for name in ("labels", "weights", "ids")})

    def select(self, kept: Sequence[int], fill: Sequence[float]) -> ContinuousDataset:
        """The dataset restricted to the file's columns ``kept`` (0-based, increasing), the others
        recorded with their values ``fill`` (in increasing column order)."""
        if self.kept is not None:
            raise ValueError("select applies to a dataset that holds all its file's columns")
        kept = np.asarray(kept, dtype=np.int64)
        if len(kept) == self.n_columns:
            return self
        return replace(self, samples=np.ascontiguousarray(self.samples[:, kept]), kept=kept,
                       fill=np.asarray(fill, dtype=np.float64))

    def expand(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Rows of ``samples`` (default: the dataset's own), shape (n, n_features), in the file's
        layout, shape (n, n_columns), the columns left out holding their values."""
        rows = self.samples if rows is None else rows
        if self.kept is None:
            return np.asarray(rows)
        return expand_columns(rows, self.kept, self.fill)


def expand_columns(rows: np.ndarray, kept: Sequence[int], fill: Sequence[float]) -> np.ndarray:
    """Rows over the columns ``kept`` put back into the file's layout.

    Parameters
    ----------
    rows : ndarray of shape (n, len(kept)) or (len(kept),)
    kept : 0-based columns of the file, increasing
    fill : the values of the other columns, in increasing column order

    Returns
    -------
    ndarray of shape (n, len(kept) + len(fill)) (or (n_columns,) for one row), float64 (or the
    dtype of ``rows`` when it is wider)
    """
    rows = np.asarray(rows)
    kept = np.asarray(kept, dtype=np.int64)
    fill = np.asarray(fill, dtype=np.float64)
    if rows.shape[-1] != len(kept):
        raise ValueError(f"rows of {rows.shape[-1]} values for {len(kept)} kept columns")
    out = np.empty(rows.shape[:-1] + (len(kept) + len(fill),), dtype=np.result_type(rows, np.float64))
    dropped = np.setdiff1d(np.arange(out.shape[-1]), kept)
    out[..., kept] = rows
    out[..., dropped] = fill
    return out


# --------------------------------------------------------------------------- text tables

class _Text(NamedTuple):
    """A text table as read: its numbers, their column names and the line of each row."""

    samples: np.ndarray
    names: list[str]
    header: bool
    lines: np.ndarray
    labels: np.ndarray | None


def _data_lines(text: str) -> tuple[list[int], list[str]]:
    """The 1-based line numbers and the contents (comments and surrounding blanks removed) of
    the non-empty lines, after Excel's byte-order mark (:func:`boltzkit.data.binary._data_lines`)."""
    numbered = list(_binary_data_lines(text.removeprefix("\ufeff").splitlines()))
    return [number for number, _ in numbered], [content for _, content in numbered]


def _delimiter(path: Path, first: str) -> str | None:
    """The suffix's delimiter (:func:`boltzkit.data.table._suffix_delimiter`), else the first
    row's: a comma, a tab, or None (white space)."""
    return _suffix_delimiter(path) or ("," if "," in first else "\t" if "\t" in first else None)


def _fields(content: str, delimiter: str | None) -> list[str]:
    """The stripped fields of one row (CSV quoting rules for a comma or a tab)."""
    if delimiter is None:
        return content.split()
    if '"' not in content:
        return [field.strip() for field in content.split(delimiter)]
    return [field.strip() for field in next(csv.reader([content], delimiter=delimiter,
                                                        skipinitialspace=True))]


def _check_widths(path: Path, contents: list[str], numbers: list[int], delimiter: str | None) -> None:
    """Raise naming the first row with another number of fields than the first row."""
    if delimiter is None:
        counts = np.fromiter((len(c.split()) for c in contents), np.int64, len(contents))
    else:  # a quoted field may hold the delimiter: such rows are counted by the csv rules
        counts = np.fromiter((len(_fields(c, delimiter)) if '"' in c else c.count(delimiter) + 1
                              for c in contents), np.int64, len(contents))
    bad = np.flatnonzero(counts != counts[0])
    if bad.size:
        row = int(bad[0])
        raise DataError(path, f"ragged rows: {counts[row]} fields on this line, {counts[0]} on line "
                              f"{numbers[0]}", numbers[row])


def _column_text(j: int, names: list[str], header: bool) -> str:
    return f"column {j} {names[j]!r}" if header else f"column {j}"


def _bad_cell(path: Path, contents: list[str], numbers: list[int], delimiter: str | None,
              names: list[str], header: bool, skip: int | None) -> DataError | None:
    """The error naming the first cell (line and column) that is not a number, if any."""
    for content, number in zip(contents, numbers):
        for j, field in enumerate(_fields(content, delimiter)):
            if j == skip or _is_number(field):
                continue
            what = f"not a number: {field!r}" if field else "empty value"
            return DataError(path, f"{what} in {_column_text(j, names, header)} (columns counted "
                                   "from 0)", number)
    return None


def _header(path: Path, first: list[str], header: bool | str, n_rows: int) -> tuple[bool, list[str]]:
    """(whether the first row is a header, the column names)."""
    found = not all(_is_number(field) for field in first) if header == "auto" else bool(header)
    if found and n_rows < 2:
        raise DataError(path, "no rows of values (only a header)")
    names = [name or str(j) for j, name in enumerate(first)] if found else [str(j) for j in range(len(first))]
    return found, names


def _read_text(path: Path, header: bool | str, labels_column: str | int | None) -> _Text:
    """A text table of numbers (see the module docstring), every row and cell checked."""
    numbers, contents = _data_lines(read_text(path))
    if not contents:
        raise DataError(path, "empty: 0 samples")
    delimiter = _delimiter(path, contents[0])
    first = _fields(contents[0], delimiter)
    header, names = _header(path, first, header, len(contents))
    _check_widths(path, contents, numbers, delimiter)
    if header:
        numbers, contents = numbers[1:], contents[1:]
    skip = None if labels_column is None else _column_index(path, names, labels_column)
    used = [j for j in range(len(names)) if j != skip]
    if not used:
        raise DataError(path, "no column of values besides the labels column")
    options = dict(delimiter=delimiter, ndmin=2, comments=None,
                   quotechar='"' if delimiter is not None else None)
    try:
        samples = np.loadtxt(contents, dtype=np.float64, usecols=used, **options)
    except ValueError as e:
        raise _bad_cell(path, contents, numbers, delimiter, names, header, skip) or DataError(
            path, f"cannot parse as a table of numbers ({str(e).strip().splitlines()[0]})") from None
    labels = None if skip is None else _typed_labels(
        np.loadtxt(contents, dtype=str, usecols=[skip], **options).reshape(-1))
    return _Text(samples, [names[j] for j in used], header, np.asarray(numbers), labels)


def _typed_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as :func:`boltzkit.data.binary.load_labels` types them: int64 when every label is
    an integer, else float64 when every one is a number, else str."""
    for dtype in (np.int64, np.float64):
        try:
            return labels.astype(dtype)
        except ValueError:
            continue
    return labels


# --------------------------------------------------------------------------- arrays

def _real_matrix(array: Any, path: Path, images: bool) -> tuple[np.ndarray, tuple[int, int] | None]:
    """(n_samples, n_features) real values of a 2-D array or of 3-D images, and the image shape."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise DataError(path, f"values must be real numbers (found dtype {array.dtype})")
    if array.ndim < 2:
        raise DataError(path, f"expected a matrix (rows x columns); found a {array.ndim}-D array of "
                              f"shape {array.shape}")
    if array.ndim > 3:
        raise DataError(path, "expected a matrix (rows x columns) or images (n_samples, height, "
                              f"width); found shape {array.shape}")
    image_shape = tuple(int(s) for s in array.shape[1:]) if array.ndim == 3 else None
    matrix = array.reshape(array.shape[0], int(np.prod(array.shape[1:])))
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise DataError(path, f"empty: {matrix.shape[0]} samples x {matrix.shape[1]} columns "
                              f"(shape {array.shape})")
    if matrix.dtype == np.uint8 and (images or image_shape is not None):
        return grey_levels(matrix), image_shape
    wide = matrix.dtype.kind != "f" or matrix.dtype.itemsize > 4  # float32 and float16 stay float32
    return matrix.astype(np.float64 if wide else np.float32, copy=False), image_shape


def _check_finite(path: Path, samples: np.ndarray, names: list[str], header: bool,
                  lines: np.ndarray | None) -> None:
    """Raise naming the first NaN or infinite value: its text line, else its row counted from 1,
    and its column counted from 0."""
    finite = np.isfinite(samples)
    if finite.all():
        return
    row, col = np.unravel_index(int(np.argmin(finite)), samples.shape)
    what = f"not a finite number: {samples[row, col]} in {_column_text(int(col), names, header)}"
    if lines is not None:
        raise DataError(path, f"{what} (columns counted from 0)", int(lines[row]))
    raise DataError(path, f"{what} of row {row + 1} (rows counted from 1, columns from 0)")


# --------------------------------------------------------------------------- public API

def _format(path: Path) -> str:
    """The binary reader's format of the file (:func:`boltzkit.data.binary.load_binary`), or
    "text" for a file of another name whose first bytes are text (no NUL byte)."""
    try:
        return _format_of(path)
    except DataError:
        head = peek_bytes(path, 4096)
        if head and b"\0" not in head:
            return "text"
        raise


def _check_options(header: bool | str, labels_column: str | int | None) -> None:
    if header not in (True, False, "auto"):
        raise BoltzkitError(f"header must be True, False or 'auto'; got {header!r}")
    if labels_column is not None and (isinstance(labels_column, bool)
                                      or not isinstance(labels_column, (str, int, np.integer))):
        raise BoltzkitError(f"--labels-column must be a column name or a 0-based position; "
                            f"got {labels_column!r}")


def load_continuous(path: str | PathLike, dataset: str = "samples", *, header: bool | str = "auto",
                    labels_column: str | int | None = None,
                    labels_path: str | PathLike | None = None) -> ContinuousDataset:
    """Load real-valued samples from a file, checked, in the file's units.

    Parameters
    ----------
    path : str or PathLike
        ``.npy``, ``.npz``, HDF5, a text table (``.txt``, ``.dat``, ``.csv``, ``.tsv``, optionally
        ``.gz``) or IDX images (see the module docstring).
    dataset : str, default "samples"
        The HDF5 dataset or ``.npz`` key of the samples; ignored by the other formats.
    header : True, False or "auto", default "auto"
        Whether the first row of a text table names the columns; "auto": when one of its fields
        is not a number.
    labels_column : str or int, optional
        A text table's column kept as the rows' labels (its name or 0-based position).
    labels_path : str or PathLike, optional
        A separate labels file (:func:`boltzkit.data.binary.load_labels`), e.g. Fashion-MNIST's
        ``*-labels-idx1-ubyte``; it takes precedence over labels stored with the samples.

    Returns
    -------
    ContinuousDataset
        Every column of the file (``kept`` None); ``image_shape`` (height, width) for images.

    Raises
    ------
    DataError
        One line naming the file (and the line, or the row and column): see the module
        docstring.
    BoltzkitError
        An invalid ``header`` or ``labels_column``, or ``labels_column`` for a file that is not
        a text table.
    """
    _check_options(header, labels_column)
    path = Path(path)
    _check_file(path)
    fmt = _format(path)
    if fmt == "hapt":
        raise DataError(path, "a haplotype table holds binary values, not real ones: train a binary "
                              "family on it")
    if labels_column is not None and fmt != "text":
        raise BoltzkitError(f"--labels-column: only for a text table (CSV / TSV); {path} is {fmt}")
    if fmt == "text":
        text = _read_text(path, header, labels_column)
        _check_finite(path, text.samples, text.names, text.header, text.lines)
        data = ContinuousDataset(text.samples, text.labels, source=str(path), file_columns=text.names,
                                 header=text.header)
    else:
        raw = _READERS[fmt](path, dataset)
        samples, image_shape = _real_matrix(raw.samples, path, images=fmt == "idx")
        _check_finite(path, samples, [], False, None)
        data = ContinuousDataset(samples, raw.labels, raw.weights, raw.ids, image_shape, str(path))
    return _with_extras(data, path, labels_path)


def _with_extras(data: ContinuousDataset, path: Path,
                 labels_path: str | PathLike | None) -> ContinuousDataset:
    """The dataset with its labels (from ``labels_path`` when given), weights and ids checked."""
    n, labels, source = len(data.samples), data.labels, path
    if labels_path is not None:
        labels, source = load_labels(labels_path), labels_path
    return replace(data, labels=None if labels is None else _per_sample(labels, n, source, "labels"),
                   weights=None if data.weights is None else _check_weights(data.weights, n, path),
                   ids=None if data.ids is None else _per_sample(data.ids, n, path, "ids").astype(str))


def constant_columns(samples: np.ndarray, weights: np.ndarray | None = None,
                     rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which columns are constant over the rows, and the (weighted) mean of every column.

    A column is constant when its population standard deviation (weighted by ``weights``: rows
    of weight 0 do not count) is at most ``1e-12 * max(1, |mean|)``, the test of the visible
    space. Computed in float64 in blocks of rows, the mean first and then the squared deviations
    from it (no cancellation between E[x^2] and E[x]^2, which would hide a constant column of
    large values under rounding noise).

    Parameters
    ----------
    samples : ndarray of shape (n_samples, n_columns)
    weights : ndarray of shape (n_samples,), optional (uniform when None)
    rows : ndarray of int, optional
        The rows to consider (e.g. the training split); default all.

    Returns
    -------
    constant : ndarray of bool of shape (n_columns,)
    means : ndarray of float64 of shape (n_columns,)
    """
    rows = np.arange(len(samples)) if rows is None else np.asarray(rows)
    w = np.ones(len(samples)) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(w[rows].sum())
    blocks = [rows[start:start + _CHUNK_ROWS] for start in range(0, len(rows), _CHUNK_ROWS)]
    means = sum(w[block] @ samples[block].astype(np.float64) for block in blocks) / total
    variance = sum(w[block] @ np.square(samples[block] - means) for block in blocks) / total
    constant = np.sqrt(variance) <= CONSTANT_TOLERANCE * np.maximum(1.0, np.abs(means))
    return constant, means


def columns_note(path: str | PathLike, constant: np.ndarray, names: list[str], header: bool) -> str:
    """The one-line note that names the constant columns left out (0-based, by name with a
    header; the first ten, then how many more)."""
    dropped = np.flatnonzero(constant)
    shown = ", ".join(f"{j} {names[j]!r}" if header else str(j) for j in dropped[:_SHOWN_COLUMNS])
    more = f" and {len(dropped) - _SHOWN_COLUMNS} more" if len(dropped) > _SHOWN_COLUMNS else ""
    noun = "column" if len(dropped) == 1 else "columns"
    return (f"{path}: {len(dropped)} constant {noun} over the training rows left out of the model: "
            f"{noun} {shown}{more} (counted from 0)")


def warn_constant(path: str | PathLike, constant: np.ndarray, names: list[str], header: bool,
                  stacklevel: int = 2) -> None:
    """Warn (UserWarning) with :func:`columns_note` when a column is constant; ``stacklevel``
    as :func:`warnings.warn`'s, counted from the caller."""
    if constant.any():
        warnings.warn(columns_note(path, constant, names, header), UserWarning, stacklevel=stacklevel + 1)
