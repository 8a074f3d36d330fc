"""Loaders of binary data: a matrix of samples x features with values in {0,1} or ±1.

Whatever the file holds, a :class:`Dataset` always stores its samples in the {0,1} (Bernoulli)
convention, as float32; the convention found in the file is kept in ``Dataset.convention`` so that a
caller can map back (s = 2 v - 1). Grey-level data (uint8 images with levels 0..255, or floats in
[0,1]) are binarised on the way in, by threshold or by Bernoulli sampling.

Supported files, recognised by suffix (and by content when the suffix says nothing):

=========================================  ==================================================
``.npy``                                   one 2-D array (or 3-D images)
``.npz``                                   key ``samples`` (else the only array); optional
                                           ``labels``, ``weights`` and ``ids``
``.txt`` ``.dat`` ``.csv`` ``.tsv``        numbers separated by whitespace or commas, ``#``
(optionally ``.gz``)                       comments
``.h5`` ``.hdf5``                          dataset ``samples`` (or the one named); optional
                                           ``labels``, ``weights`` and ``ids`` datasets
``*-ubyte``, ``*.idx*`` (optionally .gz)   IDX (MNIST), see :mod:`boltzkit.data.idx`
``.hapt`` (optionally ``.gz``)             haplotypes: ``TYPE ID v1 v2 ...`` per row, values
                                           in {0,1}; the IDs are kept (``Dataset.ids``)
=========================================  ==================================================

The haplotype layout (``.hapt``, the 1000 Genomes tables of Yelmen et al. 2021, *Creating
artificial human genomes using generative neural networks*, PLoS Genet. 17:e1009303) is also
recognised by content in a text file (``.txt``, ``.dat``, ...) or a file without a known suffix:
whitespace-separated rows whose first two fields are not numbers and whose other fields are. The type field (``Real``, or ``AG`` for
artificial genomes) is read and dropped; a row without values, a row of another length, a value
other than 0 or 1 is a one-line error naming the file and the line.

A 3-D array (n_samples, height, width) is read as images: it is flattened to
(n_samples, height * width) and ``image_shape`` is set.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from boltzkit.data.files import peek_bytes, read_text
from boltzkit.data.idx import looks_like_idx, read_idx
from boltzkit.errors import BoltzkitError, DataError

__all__ = ["Dataset", "load_binary", "load_labels", "BINARIZE_MODES"]

#: Accepted values of the ``binarize`` argument.
BINARIZE_MODES = ("threshold", "stochastic", "none")

_TEXT_SUFFIXES = (".txt", ".dat", ".csv", ".tsv")
_SUFFIX_FORMATS = {".npy": "npy", ".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5"}
_MAGIC_FORMATS = {b"\x93NUMPY": "npy", b"PK\x03\x04": "npz", b"\x89HDF\r\n\x1a\n": "hdf5"}
_SUPPORTED = ".npy, .npz, .txt/.dat/.csv/.tsv, .hapt, .h5/.hdf5 or IDX (*-ubyte, *.idx)"
# Rows binarised at a time: bounds the float64 temporaries for large image sets (MNIST train is
# 47M pixels) without changing the random stream (Generator.random draws one double per value,
# so drawing chunk after chunk gives the same numbers as one big draw).
_CHUNK_ROWS = 8192
_PICKLE_PROBLEM = "holds Python objects (a pickle); only numeric arrays are supported"
# Words in a comma/tab table are categories, which the binary families cannot model.
_CATEGORICAL_HINT = (" (a table of categories is categorical data: train a Potts family on it, "
                     "boltzkit.data.table)")
#: Arrays stored beside the samples in .npz and HDF5 files, one entry per sample.
_PER_SAMPLE_KEYS = ("labels", "weights", "ids")


@dataclass(eq=False)
class Dataset:
    """Binary samples with optional labels and sample weights.

    Attributes
    ----------
    samples : ndarray of shape (n_samples, n_features), float32
        Values in {0,1}, always (the internal convention), whatever the file held.
    labels : ndarray of shape (n_samples,) or None
        One label per sample, any dtype.
    weights : ndarray of shape (n_samples,), float64, or None
        Non-negative sample weights (e.g. reweighting of similar sequences).
    image_shape : tuple (height, width) or None
        Set when the samples are flattened images, so that a row reshapes to ``image_shape``.
    source : str
        The path the samples came from.
    convention : {"bernoulli", "ising"}
        The convention found in the file: {0,1} or ±1 (then mapped to {0,1} by v = (s + 1) / 2).
    ids : ndarray of shape (n_samples,), str, or None
        The name of each row (haplotype IDs such as ``HG00096_A``; an ``ids`` array of an
        ``.npz`` or HDF5 file), the counterpart of an alignment's headers.
    """

    samples: np.ndarray
    labels: np.ndarray | None = None
    weights: np.ndarray | None = None
    image_shape: tuple[int, int] | None = None
    source: str = ""
    convention: str = "bernoulli"
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Programming errors (not user input): the loaders below always build consistent objects.
        if self.samples.ndim != 2:
            raise ValueError(f"samples must be 2-D, got shape {self.samples.shape}")
        n = self.samples.shape[0]
        for name in ("labels", "weights", "ids"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries for {n} samples")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.samples.shape[1]:
            raise ValueError(f"image_shape {self.image_shape} does not match "
                             f"{self.samples.shape[1]} features")
        if self.convention not in ("bernoulli", "ising"):
            raise ValueError(f"convention must be 'bernoulli' or 'ising', got {self.convention!r}")

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return self.samples.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features (visible units)."""
        return self.samples.shape[1]

    def subset(self, index: Any) -> Dataset:
        """The rows selected by ``index``, with their labels and weights.

        Parameters
        ----------
        index : int, slice, ndarray of int of shape (k,) or ndarray of bool of shape (n_samples,)
            Anything NumPy accepts as a row index; an integer keeps a 2-D result of one row.

        Returns
        -------
        Dataset
            ``samples`` of shape (k, n_features); the other fields are kept.
        """
        if isinstance(index, (int, np.integer)):
            index = [index]
        return replace(self, samples=self.samples[index],
                       labels=None if self.labels is None else self.labels[index],
                       weights=None if self.weights is None else self.weights[index],
                       ids=None if self.ids is None else self.ids[index])


# --------------------------------------------------------------------------- format detection

def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file")


def _head(path: Path) -> bytes:
    """The first 8 bytes of the file (its magic number)."""
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError as e:
        raise DataError(path, f"cannot read file ({e.strerror or e})") from None


def _first_text_line(path: Path, size: int = 65536) -> str:
    """The first non-blank line among the first ``size`` bytes (decompressed if gzip); "" when
    they are not text."""
    head = peek_bytes(path, size)
    lines = head.decode("utf-8", errors="replace").splitlines()
    complete = lines if len(head) < size else lines[:-1]  # the last line may be cut
    return next((line for line in complete if line.strip()), "")


def _format_of(path: Path) -> str:
    """One of "npy", "npz", "text", "hapt", "hdf5", "idx"; by suffix, else by the first bytes."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    base = name[:-3] if compressed else name
    if base.endswith("-ubyte") or re.search(r"\.idx\d*$", base):
        return "idx"
    suffix = Path(base).suffix
    if suffix == ".hapt":
        return "hapt"
    if suffix in _TEXT_SUFFIXES:
        return "text"
    if not compressed and suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    head = _head(path)
    for magic, fmt in _MAGIC_FORMATS.items():
        if head.startswith(magic):
            return fmt
    if looks_like_idx(path):
        return "idx"
    if _looks_like_hapt(_first_text_line(path)):
        return "hapt"
    if compressed and suffix in _SUFFIX_FORMATS:
        raise DataError(path, f"gzip-compressed {suffix} files are not supported; decompress it first")
    shown = suffix or "none"
    raise DataError(path, f"unknown format (suffix {shown}); expected {_SUPPORTED}")


# --------------------------------------------------------------------------- readers
# Each returns a _Raw: arrays as found in the file.

class _Raw(NamedTuple):
    samples: np.ndarray
    labels: Any = None
    weights: Any = None
    ids: Any = None


def _numpy_error(path: Path, error: Exception, suffix: str) -> DataError:
    """The DataError of an array that NumPy could not read from a ``suffix`` file."""
    if isinstance(error, ValueError) and "pickle" in str(error):
        return DataError(path, _PICKLE_PROBLEM)
    return DataError(path, f"not a readable {suffix} file ({_first_line(error)})")


def _read_npy(path: Path, dataset: str) -> _Raw:
    if not _head(path).startswith((b"\x93NUMPY", b"PK\x03\x04")):
        # np.load would try it as a pickle and complain about allow_pickle instead.
        raise DataError(path, "not a readable .npy file (no NumPy header)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise _numpy_error(path, e, ".npy") from None
    if not isinstance(array, np.ndarray):  # np.load gives an NpzFile for a zip archive
        array.close()
        raise DataError(path, "is an .npz archive, not an .npy array; rename it to .npz")
    return _Raw(array)


def _read_npz(path: Path, dataset: str) -> _Raw:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(path, f"not a readable .npz file ({_first_line(e)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(path, "is a single .npy array, not an .npz archive; rename it to .npy")
    with archive:
        keys = list(archive.files)
        candidates = [k for k in keys if k not in _PER_SAMPLE_KEYS]
        if dataset in keys:
            key = dataset
        elif dataset == "samples" and len(candidates) == 1:
            key = candidates[0]
        else:
            raise DataError(path, f"no array {dataset!r}; available keys: {', '.join(keys) or 'none'}")
        try:
            extra = {name: archive[name] for name in _PER_SAMPLE_KEYS if name in keys and name != key}
            return _Raw(archive[key], **extra)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise _numpy_error(path, e, ".npz") from None


def _diagnose_text(path: Path, lines: list[str], delimiter: str | None) -> None:
    """Find the first bad line of a text matrix and raise a DataError naming it."""
    expected = first = None
    hint = _CATEGORICAL_HINT if delimiter == "," or path.name.lower().endswith((".tsv", ".tsv.gz")) else ""
    for number, content in _data_lines(lines):
        fields = content.split(delimiter)
        if expected is None:
            expected, first = len(fields), number
        elif len(fields) != expected:
            raise DataError(path, f"ragged rows: {len(fields)} values on this line, "
                                  f"{expected} on line {first}", line=number)
        for field in fields:
            try:
                float(field)
            except ValueError:
                shown = field.strip()
                raise DataError(path, f"not a number: {shown!r}{hint}" if shown
                                else "empty value", line=number) from None


def _data_lines(lines: list[str]):
    """(line number, content without comment) of the non-empty lines."""
    for number, line in enumerate(lines, start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            yield number, content


def _read_text(path: Path, dataset: str) -> _Raw:
    lines = read_text(path).splitlines()
    first = next(_data_lines(lines), (0, ""))[1]
    if _looks_like_hapt(first):
        return _parse_hapt(path, lines)
    delimiter = "," if "," in first else None
    try:
        with warnings.catch_warnings():
            # An empty file only warns ("input contained no data"); the emptiness check reports it.
            warnings.simplefilter("ignore", UserWarning)
            array = np.loadtxt(lines, delimiter=delimiter, comments="#", ndmin=2, dtype=np.float64)
    except ValueError as e:
        _diagnose_text(path, lines, delimiter)
        raise DataError(path, f"cannot parse as a matrix of numbers ({_first_line(e)})") from None
    return _Raw(array)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _looks_like_hapt(line: str) -> bool:
    """A haplotype row: ``TYPE ID v1 v2 ...``, two fields that are not numbers, then numbers."""
    fields = line.split()
    return (len(fields) >= 3 and "," not in line and not _is_number(fields[0])
            and not _is_number(fields[1]) and all(_is_number(f) for f in fields[2:]))


def _read_hapt(path: Path, dataset: str) -> _Raw:
    return _parse_hapt(path, read_text(path).splitlines())


def _parse_hapt(path: Path, lines: list[str]) -> _Raw:
    """Samples (n, n_snps) of {0,1} and the row IDs of a haplotype table (see the module
    docstring); every malformed row is a DataError naming its line."""
    ids, values, numbers = [], [], []
    for number, line in enumerate(lines, start=1):
        fields = line.split(None, 2)
        if not fields:
            continue
        if len(fields) < 3:
            raise DataError(path, "haplotype row without values (expected: TYPE ID v1 v2 ...)", number)
        ids.append(fields[1])
        values.append(fields[2])
        numbers.append(number)
    if not values:
        raise DataError(path, "empty: 0 samples")
    try:
        array = np.loadtxt(values, dtype=np.int8, ndmin=2)
    except ValueError:
        _diagnose_hapt(path, values, numbers)
        raise DataError(path, "cannot parse the haplotype values") from None  # pragma: no cover
    bad = (array != 0) & (array != 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(path, f"haplotype values must be 0 or 1; found {array[row, col]} (SNP "
                              f"{col + 1} of {ids[row]})", numbers[row])
    return _Raw(array, ids=np.array(ids, dtype=str))


def _diagnose_hapt(path: Path, values: list[str], numbers: list[int]) -> None:
    """Raise a DataError naming the first haplotype row of another length or with a non-number."""
    expected = len(values[0].split())
    for text, number in zip(values, numbers):
        fields = text.split()
        if len(fields) != expected:
            raise DataError(path, f"ragged rows: {len(fields)} values on this line, {expected} on "
                                  f"line {numbers[0]}", number)
        for field in fields:
            if field not in ("0", "1"):
                raise DataError(path, f"haplotype values must be 0 or 1; found {field!r}", number)


def _h5_dataset_names(group: Any) -> list[str]:
    """The names of the datasets in ``group`` (the first 20, then "...")."""
    import h5py  # loaded only for HDF5 files: `import boltzkit.data` stays light

    names: list[str] = []
    group.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names if len(names) <= 20 else names[:20] + ["..."]


def _h5_optional(file: Any, name: str) -> np.ndarray | None:
    """The dataset ``name`` if there is one (a group of that name is ignored)."""
    import h5py  # loaded only for HDF5 files: `import boltzkit.data` stays light

    obj = file.get(name)
    if not isinstance(obj, h5py.Dataset):
        return None
    if h5py.check_string_dtype(obj.dtype) is not None:
        return np.asarray(obj.asstr()[()], dtype=str)
    return obj[()]


def _read_hdf5(path: Path, dataset: str) -> _Raw:
    import h5py  # loaded only for HDF5 files: `import boltzkit.data` stays light

    try:
        file = h5py.File(path, "r")
    except OSError as e:
        raise DataError(path, f"not a readable HDF5 file ({_first_line(e)})") from None
    with file:
        obj = file.get(dataset)
        if not isinstance(obj, h5py.Dataset):
            what = "is a group, not a dataset" if isinstance(obj, h5py.Group) else "not found"
            available = ", ".join(_h5_dataset_names(file)) or "none"
            raise DataError(path, f"dataset {dataset!r} {what}; available datasets: {available}")
        extra = {name: _h5_optional(file, name) for name in _PER_SAMPLE_KEYS if name != dataset}
        return _Raw(obj[()], **extra)


_READERS = {"npy": _read_npy, "npz": _read_npz, "text": _read_text, "hapt": _read_hapt,
            "hdf5": _read_hdf5, "idx": lambda path, dataset: _Raw(read_idx(path))}


# --------------------------------------------------------------------------- checks

def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _fmt(value: Any) -> str:
    return f"{float(value):g}"


def _as_matrix(array: np.ndarray, path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """(n_samples, n_features) view of a 2-D array or of 3-D images, and the image shape."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise DataError(path, f"values must be numbers (found dtype {array.dtype})")
    if array.ndim == 2:
        matrix, image_shape = array, None
    elif array.ndim == 3:
        n, height, width = array.shape
        matrix, image_shape = array.reshape(n, height * width), (height, width)
    else:
        raise DataError(path, "expected a 2-D array (n_samples, n_features) or 3-D images "
                              f"(n_samples, height, width); found shape {array.shape}")
    if matrix.shape[0] == 0:
        raise DataError(path, f"empty: 0 samples (shape {array.shape})")
    if matrix.shape[1] == 0:
        raise DataError(path, f"empty: 0 features (shape {array.shape})")
    return matrix, image_shape


def _first(x: np.ndarray, mask: np.ndarray) -> Any:
    """The first element of ``x`` (in C order) where ``mask`` holds."""
    return x.reshape(-1)[int(np.argmax(mask.reshape(-1)))]


def _to_binary(x: np.ndarray, path: Path, binarize: str, threshold: float,
               seed: int) -> tuple[np.ndarray, str]:
    """float32 {0,1} samples of shape (n_samples, n_features), and the convention found."""
    if x.dtype.kind == "f":
        finite = np.isfinite(x)
        if not finite.all():
            row, col = np.unravel_index(int(np.argmin(finite)), x.shape)
            raise DataError(path, f"contains NaN or infinite values (first at sample {row}, "
                                  f"feature {col}, counting from 0)")
    is_one = x == 1  # booleans too: True == 1, False == 0
    binary = is_one | (x == 0)
    if binary.all():
        return is_one.astype(np.float32), "bernoulli"
    spin = is_one | (x == -1)
    if spin.all():
        # (s + 1) / 2 maps -1 -> 0 and +1 -> 1, i.e. exactly the mask of +1 entries.
        return is_one.astype(np.float32), "ising"

    is_uint8 = x.dtype == np.uint8  # grey levels 0..255, the universal 8-bit image convention
    is_unit = x.dtype.kind == "f" and bool(((x >= 0) & (x <= 1)).all())
    if binarize != "none" and (is_uint8 or is_unit):
        return _binarize_grey(x, binarize, threshold, seed), "bernoulli"

    allowed = binary | spin
    if binarize != "none" and x.dtype.kind == "f":
        allowed |= (x >= 0) & (x <= 1)
    if not allowed.all():
        found = _fmt(_first(x, ~allowed))
        if binarize != "none":
            raise DataError(path, "values must be binary {0,1} or ±1, or grey levels in [0,1] "
                                  f"(uint8: 0..255) to binarise; found {found}")
        hint = " (grey levels: use binarize='threshold' or 'stochastic')" if is_uint8 or is_unit else ""
        raise DataError(path, f"values must be binary {{0,1}} or ±1; found {found}{hint}")
    # Every value is allowed on its own, but -1 shares the matrix with 0 or a grey level.
    other = _first(x, ~spin)
    raise DataError(path, f"values mix the ±1 and {{0,1}} conventions: found both -1 and {_fmt(other)}")


def _binarize_grey(x: np.ndarray, binarize: str, threshold: float, seed: int) -> np.ndarray:
    """Binarise grey levels: uint8 (level / 255) or floats in [0,1], shape (n_samples, n_features)."""
    # A table of the 256 levels keeps the exact rule level / 255 > threshold (in float64)
    # without a float64 copy of the whole image set.
    levels = np.arange(256) / 255.0 if x.dtype == np.uint8 else None
    if levels is not None and binarize == "threshold":
        return (levels > threshold)[x].astype(np.float32)
    out = np.empty(x.shape, dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, x.shape[0], _CHUNK_ROWS):
        block = x[start:start + _CHUNK_ROWS]
        p = block if levels is None else levels[block]
        if binarize == "threshold":
            out[start:start + _CHUNK_ROWS] = p > threshold
        else:  # stochastic: v ~ Bernoulli(p)
            out[start:start + _CHUNK_ROWS] = rng.random(block.shape) < p
    return out


def _per_sample(values: Any, n: int | None, path: Path | str, name: str) -> np.ndarray:
    """``values`` (labels or weights) as a 1-D array of ``n`` entries (a column is flattened)."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if name == "weights" and values.dtype.kind not in "biuf":
        raise DataError(path, f"weights must be numbers (found dtype {values.dtype})")
    if values.ndim != 1:
        raise DataError(path, f"{name} must be 1-D, one per sample; found shape {values.shape}")
    if n is not None and len(values) != n:
        raise DataError(path, f"{name}: {len(values)} values for {n} samples (length mismatch)")
    return values


def _check_weights(weights: Any, n: int, path: Path) -> np.ndarray:
    weights = _per_sample(weights, n, path, "weights").astype(np.float64)
    if not np.isfinite(weights).all():
        raise DataError(path, "weights contain NaN or infinite values")
    negative = weights < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise DataError(path, f"negative weights (found {weights[i]:g} for sample {i})")
    if not weights.any():
        raise DataError(path, "weights are all zero")
    return weights


def _check_options(binarize: str, threshold: float) -> None:
    if binarize not in BINARIZE_MODES:
        raise BoltzkitError(f"binarize must be one of {', '.join(BINARIZE_MODES)}; got {binarize!r}")
    if not 0.0 <= threshold <= 1.0:
        raise BoltzkitError(f"threshold must be in [0, 1]; got {threshold}")


# --------------------------------------------------------------------------- public API

def load_labels(path: str | PathLike) -> np.ndarray:
    """Read one label per sample from a file of its own.

    Parameters
    ----------
    path : str or PathLike
        A text file with one label per line (``#`` lines and blank lines skipped; optionally
        ``.gz``), an ``.npy`` array, or an IDX labels file (``*-ubyte``, ``*.idx*``, optionally
        ``.gz``).

    Returns
    -------
    ndarray of shape (n_samples,)
        int64 if every label is an integer, else float64 if every label is a number, else str.

    Raises
    ------
    DataError
        Missing or unreadable file, no labels, or an array that is not 1-D.
    """
    path = Path(path)
    _check_file(path)
    fmt = _format_of(path)
    if fmt in ("idx", "npy"):
        labels = _READERS[fmt](path, "").samples
    elif fmt == "text":
        lines = (line.strip() for line in read_text(path).splitlines())
        labels = _parse_label_tokens([s for s in lines if s and not s.startswith("#")])
    else:
        raise DataError(path, "labels must be a text file (one per line), an .npy array or an IDX file")
    labels = _per_sample(labels, None, path, "labels")
    if labels.size == 0:
        raise DataError(path, "empty: no labels")
    if labels.dtype.kind in "iub":
        labels = labels.astype(np.int64)
    return labels


def _parse_label_tokens(tokens: list[str]) -> np.ndarray:
    for kind in (int, float):
        try:
            return np.array([kind(t) for t in tokens])
        except ValueError:
            continue
    return np.array(tokens, dtype=str)


def load_binary(
    path: str | PathLike,
    dataset: str = "samples",
    binarize: str = "threshold",
    threshold: float = 0.5,
    seed: int = 0,
    labels_path: str | PathLike | None = None,
) -> Dataset:
    """Load binary samples from a file, checked and mapped to the {0,1} convention.

    Parameters
    ----------
    path : str or PathLike
        ``.npy``, ``.npz``, text (``.txt``, ``.dat``, ``.csv``, ``.tsv``, optionally ``.gz``),
        haplotypes (``.hapt``, optionally ``.gz``; see the module docstring), HDF5 (``.h5``,
        ``.hdf5``) or IDX (``*-ubyte``, ``*.idx*``, optionally ``.gz``). The array is of shape
        (n_samples, n_features), or (n_samples, height, width) for images.
    dataset : str, default "samples"
        Name of the HDF5 dataset (a path such as ``"group/samples"`` works) or ``.npz`` key that
        holds the samples. Ignored by the other formats.
    binarize : {"threshold", "stochastic", "none"}, default "threshold"
        What to do with grey-level data (uint8 levels 0..255, read as level / 255, or floats in
        [0,1]): keep ``p > threshold``, draw ``Bernoulli(p)``, or refuse them.
        Binary data ({0,1} or ±1) are never changed.
    threshold : float, default 0.5
        Threshold of ``binarize="threshold"``, in [0, 1].
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for ``binarize="stochastic"``.
    labels_path : str or PathLike, optional
        A separate labels file (see :func:`load_labels`), e.g. MNIST's ``*-labels-idx1-ubyte``.
        It takes precedence over labels stored with the samples.

    Returns
    -------
    Dataset
        ``samples`` float32 of shape (n_samples, n_features) with values in {0,1};
        ``labels`` of shape (n_samples,) or None; ``weights`` float64 of shape (n_samples,) or
        None; ``image_shape`` (height, width) for 3-D input; ``convention`` "ising" when the file
        held ±1 values, else "bernoulli"; ``ids`` of shape (n_samples,), str, the row names of a
        haplotype file (or the ``ids`` array of an .npz / HDF5 file), else None.

    Raises
    ------
    DataError
        One line naming the file and the problem: missing file, unknown or unreadable format,
        wrong number of dimensions, no samples or no features, NaN or infinite values, values that
        are not binary (when they cannot or may not be binarised), missing HDF5 dataset or npz key,
        labels or weights of the wrong length, negative weights.
    BoltzkitError
        An invalid ``binarize`` or ``threshold``.

    Examples
    --------
    >>> data = load_binary("spins.txt")          # doctest: +SKIP
    >>> data.samples.shape, data.convention      # doctest: +SKIP
    ((1000, 64), 'ising')
    """
    _check_options(binarize, threshold)
    path = Path(path)
    _check_file(path)
    raw, labels, weights, ids = _READERS[_format_of(path)](path, dataset)
    matrix, image_shape = _as_matrix(raw, path)
    samples, convention = _to_binary(matrix, path, binarize, threshold, seed)
    n = samples.shape[0]
    labels_source: Path | str = path
    if labels_path is not None:
        labels, labels_source = load_labels(labels_path), labels_path
    if labels is not None:
        labels = _per_sample(labels, n, labels_source, "labels")
    if weights is not None:
        weights = _check_weights(weights, n, path)
    if ids is not None:
        ids = _per_sample(ids, n, path, "ids").astype(str)
    return Dataset(samples=np.ascontiguousarray(samples), labels=labels, weights=weights,
                   image_shape=image_shape, source=str(path), convention=convention, ids=ids)
