"""How a run's data were read and split, stored in its run file so that any later command
(evaluate, report, tree, ...) rebuilds the same train/test sets.

Three kinds of data feed the model families (a family's ``data_kind``,
:class:`~boltzkit.models.registry.Family`; a spec's own ``data_kind`` says which it reads):

* ``binary``: matrices, images and HDF5 samples read by :func:`~boltzkit.data.binary.load_binary`
  in the {0,1} convention (:class:`DataSpec`);
* ``categorical``: alignments (FASTA / A2M / Stockholm) or HDF5 integer states
  (:class:`MSASpec`), with sequence reweighting at an identity threshold; tables of categorical
  columns (CSV / TSV, :class:`TableSpec`, an :class:`MSASpec` that also stores each column's value
  names, :mod:`boltzkit.data.table`);
* ``continuous``: real-valued matrices, tables of numbers, HDF5 samples and images as grey levels
  read by :func:`~boltzkit.data.continuous.load_continuous` in the file's units
  (:class:`ContinuousSpec`, which also stores the columns the model sees: constant ones are left
  out).

A run file's config holds the spec under ``data`` (``format: "msa"`` or ``"table"`` marks a
categorical one, ``"continuous"`` a continuous one).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import h5py
import numpy as np

from boltzkit.checks import integer, number
from boltzkit.data.binary import load_binary
from boltzkit.data.continuous import (ContinuousDataset, constant_columns, expand_columns,
                                      load_continuous, warn_constant)
from boltzkit.data.msa import read_categorical_h5, read_msa
from boltzkit.data.reweighting import sequence_weights
from boltzkit.data.split import split_rows, train_test_split
from boltzkit.data.table import looks_like_table, read_table
from boltzkit.errors import BoltzkitError, DataError

__all__ = ["DataSpec", "MSASpec", "MSADataset", "TableSpec", "ContinuousSpec", "DATA_SAMPLE_ROWS",
           "make_spec", "spec_from_config", "datasets_like"]

#: Rows of the training data stored in the run file for reports.
DATA_SAMPLE_ROWS = 2000


@dataclass
class DataSpec:
    """Binary data: how they were read and split (stored in the run file's config)."""

    data_kind: ClassVar[str] = "binary"

    path: str
    dataset: str = "samples"
    binarize: str = "threshold"
    threshold: float = 0.5
    test_fraction: float = 0.0
    split_seed: int = 0
    labels_path: str | None = None

    def __post_init__(self) -> None:
        _check_split(self.test_fraction, self.split_seed)
        self.threshold = number(self.threshold, "threshold", 0.0, 1.0)

    def load(self):
        """(train, test) :class:`~boltzkit.data.binary.Dataset` (test is None without a split)."""
        data = load_binary(self.path, dataset=self.dataset, binarize=self.binarize,
                           threshold=self.threshold, seed=self.split_seed,
                           labels_path=self.labels_path)
        if self.test_fraction > 0:
            return train_test_split(data, self.test_fraction, self.split_seed)
        return data, None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def like(self, path: str | os.PathLike) -> "DataSpec":
        """Another file read the same way, without split or labels."""
        return replace(self, path=str(path), test_fraction=0.0, labels_path=None)

    def expand(self, samples: np.ndarray) -> np.ndarray:
        """Rows of the model in the file's layout: the same rows (every column is kept)."""
        return np.asarray(samples)


@dataclass
class MSADataset:
    """Codes of an alignment or a categorical table (or of one split of it) with their sequence
    weights.

    Attributes
    ----------
    samples : ndarray of shape (M, L), int8 codes 0..q-1 (index 0 = gap for alignments)
    weights : ndarray of shape (M,), float64, or None (uniform)
    alphabet : str, the q letters of the codes
    headers : list of str, the row names
    labels : ndarray of shape (M,), str, or None (a table's labels column)
    categories : list of L lists of str, or None: a table's value names per column
        (:func:`boltzkit.data.table.decode_table` turns codes into them); None for alignments
    """

    samples: np.ndarray
    weights: np.ndarray | None
    alphabet: str
    headers: list[str]
    labels: np.ndarray | None = None
    image_shape: None = None
    categories: list[list[str]] | None = None

    @property
    def q(self) -> int:
        return len(self.alphabet)

    @property
    def ids(self) -> list[str]:
        """The row names (the headers), as :attr:`boltzkit.data.binary.Dataset.ids`."""
        return self.headers

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class MSASpec:
    """Categorical data: how an alignment was read, reweighted and split (stored in the run file).

    ``alphabet``: "auto", "protein", "rna", "dna" or a custom string of letters (index 0 first).
    ``reweight``: sequence weights 1 / #neighbours at identity >= ``threshold`` (computed on each
    split separately), else uniform weights.
    """

    data_kind: ClassVar[str] = "categorical"

    path: str
    alphabet: str = "auto"
    reweight: bool = True
    threshold: float = 0.8
    test_fraction: float = 0.0
    split_seed: int = 0
    format: str = "msa"

    def __post_init__(self) -> None:
        _check_split(self.test_fraction, self.split_seed)
        self.threshold = number(self.threshold, "--threshold", 0.0, 1.0)

    def load(self) -> tuple[MSADataset, MSADataset | None]:
        """(train, test) datasets (test is None without a split); same split rule as
        :func:`boltzkit.data.split.train_test_split`."""
        try:
            if h5py.is_hdf5(self.path):  # integer states, e.g. from boltzkit generate potts
                msa = read_categorical_h5(self.path)
            else:
                msa = read_msa(self.path, alphabet=self.alphabet)
        except ValueError as e:  # e.g. alphabet detection: a user error
            raise DataError(self.path, str(e)) from None
        if self.test_fraction == 0:
            return self._dataset(msa), None
        train, test = split_rows(msa.n_sequences, self.test_fraction, self.split_seed, "sequences")
        return self._dataset(msa.select(train)), self._dataset(msa.select(test))

    def _dataset(self, msa) -> MSADataset:
        weights = sequence_weights(msa, self.threshold) if self.reweight else None
        return MSADataset(msa.sequences, weights, msa.alphabet, list(msa.headers))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def like(self, path: str | os.PathLike, alphabet: str | None = None) -> "MSASpec":
        """Another alignment read the same way (``alphabet``: the run's letters, so that the codes
        mean the same), without split."""
        return replace(self, path=str(path), test_fraction=0.0,
                       alphabet=self.alphabet if alphabet is None else alphabet)

    def expand(self, samples: np.ndarray) -> np.ndarray:
        """Rows of the model in the file's layout: the same rows (every column is kept)."""
        return np.asarray(samples)


@dataclass
class TableSpec(MSASpec):
    """A table of categorical columns (:mod:`boltzkit.data.table`): how it was read, reweighted
    and split, and the value names of each column, stored in the run file.

    ``header``: True, False or "auto" (:func:`~boltzkit.data.table.read_table`); ``labels_column``:
    the column kept as the rows' labels (name or 0-based position). ``columns`` and
    ``categories`` are None until the first :meth:`load`, which fixes them from the file (and
    ``header`` to what was found): the stored spec then codes its own file, and any file read
    :meth:`like` it, with the same codes, and decodes samples back to value names. ``alphabet`` is
    not used (each column has its own categories).
    """

    format: str = "table"
    header: bool | str = "auto"
    labels_column: str | int | None = None
    columns: list[str] | None = None
    categories: list[list[str]] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.header not in (True, False, "auto"):
            raise BoltzkitError(f"header must be True, False or 'auto'; got {self.header!r}")

    def load(self) -> tuple[MSADataset, MSADataset | None]:
        """(train, test) datasets (test is None without a split), split as alignments are."""
        table = read_table(self.path, header=self.header, labels_column=self.labels_column,
                           categories=self.categories)
        if self.columns is not None and table.header and table.columns != self.columns:
            raise DataError(self.path, f"columns {_shown(table.columns)} differ from the run's "
                                       f"{_shown(self.columns)}")
        if self.categories is None:
            self.header, self.columns, self.categories = table.header, table.columns, table.categories
        msa = table.to_msa()
        if self.test_fraction == 0:
            return self._table_dataset(msa, table.labels), None
        train, test = split_rows(msa.n_sequences, self.test_fraction, self.split_seed, "rows")
        return tuple(self._table_dataset(msa.select(rows), None if table.labels is None
                                         else table.labels[rows]) for rows in (train, test))

    def _table_dataset(self, msa, labels: np.ndarray | None) -> MSADataset:
        dataset = self._dataset(msa)
        dataset.labels, dataset.categories = labels, self.categories
        return dataset


@dataclass
class ContinuousSpec:
    """Real-valued data (:mod:`boltzkit.data.continuous`): how they were read and split, and which
    of the file's columns the model sees, stored in the run file.

    ``dataset``: the HDF5 dataset or ``.npz`` key; ``labels_path``: a separate labels file;
    ``header`` (True, False or "auto") and ``labels_column`` (name or 0-based position): a text
    table's header row and labels column (:func:`~boltzkit.data.continuous.load_continuous`).

    ``kept_columns`` (0-based columns of the file) and ``constant_values`` (the value of each
    other column, in column order) are None until the first :meth:`load`, which fixes them from
    the training rows: a column constant there
    (:func:`~boltzkit.data.continuous.constant_columns`) is left out with a warning naming it,
    every column constant is an error. The same load fixes ``header`` to what was found and
    ``file_columns`` to the header's names (None without one). The stored spec then reads its own
    file, and any file read :meth:`like` it, with the same columns, and :meth:`expand` puts the
    columns left out back into rows of the model. The split is the rule of
    :func:`boltzkit.data.split.train_test_split` (``split_rows``).
    """

    data_kind: ClassVar[str] = "continuous"

    path: str
    dataset: str = "samples"
    test_fraction: float = 0.0
    split_seed: int = 0
    labels_path: str | None = None
    header: bool | str = "auto"
    labels_column: str | int | None = None
    format: str = "continuous"
    file_columns: list[str] | None = None
    kept_columns: list[int] | None = None
    constant_values: list[float] | None = None

    def __post_init__(self) -> None:
        _check_split(self.test_fraction, self.split_seed)
        if self.header not in (True, False, "auto"):
            raise BoltzkitError(f"header must be True, False or 'auto'; got {self.header!r}")
        if (self.kept_columns is None) != (self.constant_values is None):
            raise BoltzkitError("kept_columns and constant_values are stored together")

    @property
    def n_columns(self) -> int | None:
        """The number of the file's columns (None before the first :meth:`load`)."""
        return None if self.kept_columns is None else len(self.kept_columns) + len(self.constant_values)

    def load(self) -> tuple[ContinuousDataset, ContinuousDataset | None]:
        """(train, test) datasets over the kept columns (test is None without a split)."""
        data = load_continuous(self.path, self.dataset, header=self.header,
                               labels_column=self.labels_column, labels_path=self.labels_path)
        self._check_layout(data)
        rows = None if self.test_fraction == 0 else split_rows(len(data), self.test_fraction,
                                                                 self.split_seed, "samples")
        if self.kept_columns is None:
            self._fix_columns(data, None if rows is None else rows[0])
        self._note_varying(data)
        data = data.select(self.kept_columns, self.constant_values)
        if rows is None:
            return data, None
        return data.subset(rows[0]), data.subset(rows[1])

    def _note_varying(self, data: ContinuousDataset) -> None:
        """Warn (UserWarning, one line) when a column left out of the model, constant on the
        training rows, takes other values in these rows (a test split, another file): the
        densities are of the kept columns only."""
        left_out = sorted(set(range(data.n_columns)) - set(self.kept_columns))
        if not left_out:
            return
        values = data.samples[:, left_out]
        varying = ~np.isclose(values, np.asarray(self.constant_values), rtol=1e-6, atol=0).all(0)
        if varying.any():
            flags = np.zeros(data.n_columns, dtype=bool)
            flags[np.asarray(left_out)[varying]] = True
            names = ", ".join(f"{j} {data.file_columns[j]!r}" if data.header else str(j)
                              for j in np.flatnonzero(flags)[:10])
            warnings.warn(f"{self.path}: columns constant on the training rows, left out of the model, "
                          f"vary in these rows: {names} (counted from 0); the densities are of the "
                          "other columns only", UserWarning, stacklevel=3)

    def _check_layout(self, data: ContinuousDataset) -> None:
        """Refuse a file whose columns are not those of the run's data."""
        if self.kept_columns is None:
            return
        if data.n_columns != self.n_columns:
            raise DataError(self.path, f"{data.n_columns} columns, the run's data have {self.n_columns}")
        if self.file_columns is not None and data.header and data.file_columns != self.file_columns:
            raise DataError(self.path, f"columns {_shown(data.file_columns)} differ from the run's "
                                       f"{_shown(self.file_columns)}")

    def _fix_columns(self, data: ContinuousDataset, train: np.ndarray | None) -> None:
        """Fix the kept columns, the header and the column names from the training rows."""
        rows = np.arange(len(data)) if train is None else train
        if data.weights is not None and not data.weights[rows].any():
            raise DataError(self.path, "the weights of the training rows are all zero")
        constant, means = constant_columns(data.samples, data.weights, rows)
        if constant.all():
            raise DataError(self.path, f"every column is constant over the training rows "
                                       f"({data.n_columns} columns): nothing to model")
        warn_constant(self.path, constant, data.file_columns, data.header, stacklevel=4)
        self.header, self.file_columns = data.header, list(data.file_columns) if data.header else None
        self.kept_columns = [int(j) for j in np.flatnonzero(~constant)]
        self.constant_values = [float(v) for v in means[constant]]

    def expand(self, samples: np.ndarray) -> np.ndarray:
        """Rows of the model, shape (n, len(kept_columns)), in the file's layout, shape
        (n, n_columns): the constant columns hold their values (see
        :func:`~boltzkit.data.continuous.expand_columns`)."""
        if self.kept_columns is None:
            raise BoltzkitError("the spec has not read its data yet: its columns are not fixed")
        return expand_columns(samples, self.kept_columns, self.constant_values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def like(self, path: str | os.PathLike) -> "ContinuousSpec":
        """Another file read the same way (same header, labels column and columns), without
        split or labels file."""
        return replace(self, path=str(path), test_fraction=0.0, labels_path=None)


def _shown(names: list[str]) -> str:
    return ",".join(names[:8]) + (",..." if len(names) > 8 else "")


def _check_split(test_fraction: float, split_seed: int) -> None:
    number(test_fraction, "--test-fraction", 0.0, 1.0, high_open=True)
    integer(split_seed, "--seed", 0)


def make_spec(data_kind: str, path: str | os.PathLike, test_fraction: float = 0.0,
              split_seed: int = 0, *, dataset: str = "samples", binarize: str = "threshold",
              labels_path: str | os.PathLike | None = None, alphabet: str = "auto",
              reweight: bool = True, threshold: float = 0.8,
              labels_column: str | int | None = None) -> DataSpec | MSASpec | ContinuousSpec:
    """The spec of ``path`` for a family that reads ``data_kind`` data; the options that belong to
    the other kinds are ignored, except ``labels_path``, refused for categorical data, ``alphabet``
    (other than "auto"), refused for a table (:func:`boltzkit.data.table.looks_like_table`),
    whose columns have their own categories, and ``labels_column`` (the column of a table kept
    as labels), refused for anything but a table (categorical) or continuous data (a text
    table's column, :func:`boltzkit.data.continuous.load_continuous`)."""
    if data_kind == "categorical" and labels_path is not None:
        raise BoltzkitError("--labels: only for binary data (alignments: give labels to "
                            "`boltzkit tree --labels`; tables: --labels-column)")
    if data_kind == "categorical" and looks_like_table(path):
        if alphabet != "auto":
            raise BoltzkitError(f"--alphabet: {path} is a table of categorical columns, each "
                                "with its own categories read from the file")
        return TableSpec(str(path), "auto", reweight, threshold, test_fraction, split_seed,
                         labels_column=labels_column)
    if data_kind == "continuous":
        if binarize != "threshold" or alphabet != "auto":
            flag = f"--binarize {binarize}" if binarize != "threshold" else f"--alphabet {alphabet}"
            raise BoltzkitError(f"{flag}: a family of real-valued data reads {path} as real values "
                                "(grey levels for images), neither binarised nor an alignment")
        return ContinuousSpec(str(path), dataset, test_fraction, split_seed,
                              None if labels_path is None else str(labels_path),
                              labels_column=labels_column)
    if labels_column is not None:
        raise BoltzkitError("--labels-column: only for a table (CSV / TSV) read by a categorical "
                            f"or continuous family, not {path}")
    if data_kind == "categorical":
        return MSASpec(str(path), alphabet, reweight, threshold, test_fraction, split_seed)
    if data_kind != "binary":
        raise BoltzkitError(f"unknown kind of data {data_kind!r} (choose binary, categorical, "
                            "continuous)")
    return DataSpec(str(path), dataset, binarize, 0.5, test_fraction, split_seed,
                    None if labels_path is None else str(labels_path))


def spec_from_config(stored: dict[str, Any],
                     source: str | os.PathLike = "run file") -> DataSpec | MSASpec | ContinuousSpec:
    """The spec stored in a run file's config (its ``data`` entry)."""
    if "data" not in stored and "source" in stored:  # the model file of another tool
        raise BoltzkitError(f"{source}: this {stored['source']} holds no training data: give DATA")
    if "data" not in stored:
        raise BoltzkitError(f"{source}: the run file does not say which data it was trained on")
    data = stored["data"]
    try:
        spec_class = {"msa": MSASpec, "table": TableSpec,
                      "continuous": ContinuousSpec}.get(data.get("format"), DataSpec)
        return spec_class(**data)
    except TypeError as e:
        raise BoltzkitError(f"{source}: the stored data spec is not readable ({e})") from None


def datasets_like(config: dict[str, Any], data: str | os.PathLike | None = None,
                  test: str | os.PathLike | None = None, data_kind: str = "binary",
                  source: str | os.PathLike = "run file"):
    """(train, test) datasets for a run with this config.

    Without ``data``: the run's own data and held-out split (``test`` replaces the held-out part
    when given). With ``data`` (and ``test``): those files, read like the run's data — alignments
    with the run's alphabet and reweighting settings, binary data as the run's spec, continuous
    data with the run's columns; a run that stores no spec (an imported model) has its files read
    as ``data_kind`` data. The test is None when there is none. ``source`` names the run in
    errors.
    """
    # a run that stores no spec (an imported model) has no data of its own: its files are read as
    # data_kind data
    spec = make_spec(data_kind, str(data)) if data is not None and "data" not in config \
        else spec_from_config(config, source)
    if data is None:
        train_set, test_set = spec.load()
        if test is None:
            return train_set, test_set
    if isinstance(spec, MSASpec):
        spec = spec.like(spec.path, config.get("alphabet"))
    if data is not None:
        train_set = spec.like(data).load()[0]
    test_set = None if test is None else spec.like(test).load()[0]
    return train_set, test_set

