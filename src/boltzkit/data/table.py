"""Tables of categorical columns (CSV / TSV), read as categorical data for the Potts families.

A categorical table is a text file of M rows and L columns, each cell a value name (``e``,
``red``, ``?``); each column has its own set of values, its *categories* (the UCI mushroom data:
22 attributes with 1 to 12 values each, plus the class). :func:`read_table` turns it into integer
codes, column by column.

Representation: one alphabet for all columns
--------------------------------------------
The Potts families take codes ``0..q-1`` with one q for every site (one-hot of shape (M, L, q),
:func:`boltzkit.data.msa.one_hot`). A table is given that shape with

* ``q = max_j k_j``, the largest number of categories of a column;
* column j's categories sorted (so the codes do not depend on the order of the rows) and coded
  ``0..k_j-1``; the states ``k_j..q-1`` of that column are never observed;
* the value names kept per column (:attr:`CategoricalTable.categories`, stored in the run's data
  spec, :class:`boltzkit.data.specs.TableSpec`), so that codes decode back to values
  (:func:`decode_table`) and another file is coded the same way (``categories=``).

Why this and not a per-column q: every model, sampler, statistic and run-file layout of the
categorical families keeps working unchanged, because the data look like an alignment whose
columns do not use every letter (as a conserved protein column does not). The price is
``(q - k_j)`` unused states at column j: their frequency is 0, so a likelihood-trained model pushes
their fields towards -inf (held finite by the regularisation, the pseudocount or the finite number
of updates), and a sample may, rarely, hold one; :func:`decode_table` writes it as ``""`` (no value
name is empty: empty cells are refused). The codes are written with the symbols
``STATE_SYMBOLS[:q]`` (``0-9A-Z``, so q <= 36) wherever an alphabet string is needed.

A missing value written as a symbol (the mushroom file's ``?``) is one more category: a Potts model
has no notion of "missing", and the symbol is kept so that the choice is visible in decoded
samples.

Reading rules
-------------
* Delimiter: a tab for ``.tsv`` files, a comma for ``.csv``, else a tab when the first line holds
  one and a comma otherwise. Quoted fields follow the CSV rules (:mod:`csv`); surrounding spaces are
  stripped; blank lines are skipped. The file may be gzip-compressed.
* Header (``header="auto"``): the first row is a header when, in every column, its value occurs in
  no other row, e.g. ``class,cap-shape,...`` above rows of one-letter values. Header-less columns
  are named ``"0"``, ``"1"``, ... (their position).
* ``labels_column`` (a column name, or its 0-based position): that column is kept as the rows'
  labels (strings) and left out of the codes.
* Checks, each a one-line :class:`~boltzkit.errors.DataError` naming the file and the line: a row
  with another number of fields than the first, an empty cell, a value outside the given
  ``categories``, a column with more than 36 categories; and (naming the file) no rows, no column
  left besides the labels, every column constant (q = 1).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boltzkit.data.files import peek_bytes, read_text
from boltzkit.data.msa import MSA, STATE_SYMBOLS
from boltzkit.errors import DataError

__all__ = ["CategoricalTable", "decode_table", "looks_like_table", "read_table"]

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass
class CategoricalTable:
    """A categorical table coded column by column (see the module docstring).

    Attributes
    ----------
    codes : ndarray of shape (M, L), int8
        Codes ``0..k_j-1`` in column j, where ``k_j = len(categories[j])``.
    columns : list of str
        The L column names (header-less tables: ``"0"``, ``"1"``, ...).
    categories : list of L lists of str
        ``categories[j][a]`` is the value name of code a in column j, sorted.
    labels : ndarray of shape (M,), str, or None
        The ``labels_column`` of each row.
    labels_column : str or None
        The name of the column taken as labels.
    header : bool
        Whether the first row of the file was a header.
    source : str
        The file the table was read from.
    """

    codes: np.ndarray
    columns: list[str]
    categories: list[list[str]]
    labels: np.ndarray | None = None
    labels_column: str | None = None
    header: bool = False
    source: str = ""

    @property
    def q(self) -> int:
        """States per site: the largest number of categories of a column."""
        return max(len(values) for values in self.categories)

    @property
    def alphabet(self) -> str:
        """The q symbols that write the codes (``STATE_SYMBOLS[:q]``)."""
        return STATE_SYMBOLS[:self.q]

    @property
    def ids(self) -> list[str]:
        """Row names ``sample_0``, ``sample_1``, ... (as for HDF5 state codes)."""
        return [f"sample_{i}" for i in range(len(self.codes))]

    def to_msa(self) -> MSA:
        """The codes as an :class:`~boltzkit.data.msa.MSA` with the alphabet :attr:`alphabet`, for
        the reweighting and the split of alignments."""
        return MSA(sequences=self.codes, headers=self.ids, alphabet=self.alphabet, source=self.source)

    def decode(self, codes: np.ndarray | None = None) -> np.ndarray:
        """Value names of ``codes`` (default: the table's own), see :func:`decode_table`."""
        return decode_table(self.codes if codes is None else codes, self.categories)


def decode_table(codes: np.ndarray, categories: Sequence[Sequence[str]]) -> np.ndarray:
    """Value names of codes, column by column.

    Parameters
    ----------
    codes : array-like of shape (M, L) or (L,), integers 0..q-1
        E.g. samples of a Potts model trained on the table.
    categories : L sequences of str
        The value names of each column (:attr:`CategoricalTable.categories`, or the
        ``categories`` of a run's data spec).

    Returns
    -------
    ndarray of the shape of ``codes``, dtype object (str)
        ``categories[j][a]``; ``""`` for a state a that column j does not have (an unused state,
        see the module docstring).
    """
    codes = np.asarray(codes)
    if codes.ndim not in (1, 2) or codes.shape[-1] != len(categories):
        raise ValueError(f"codes of shape {codes.shape} for {len(categories)} columns")
    q = max(len(values) for values in categories)
    if codes.size and (codes.min() < 0 or codes.max() >= max(q, 1)):
        raise ValueError(f"codes must lie in 0..{q - 1}")
    table = np.full((len(categories), q), "", dtype=object)
    for j, values in enumerate(categories):
        table[j, :len(values)] = list(values)
    return table[np.arange(len(categories)), codes.astype(np.int64)]


def looks_like_table(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a categorical table rather than an alignment: a ``.csv`` / ``.tsv``
    name (optionally ``.gz``), or a first non-blank line that holds a comma or a tab and is not a
    FASTA header or a Stockholm mark."""
    path = Path(path)
    if _suffix_delimiter(path) is not None:
        return True
    head = peek_bytes(path)
    if head.startswith(b"\x89HDF"):  # integer states in HDF5 (read as an alignment)
        return False
    text = head.decode("utf-8", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return not first.startswith((">", "#")) and ("," in first or "\t" in first)


def _suffix_delimiter(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _TABLE_SUFFIXES.get(os.path.splitext(name)[1])


def read_table(path: str | os.PathLike, *, header: bool | str = "auto",
               labels_column: str | int | None = None,
               categories: Sequence[Sequence[str]] | None = None,
               delimiter: str | None = None) -> CategoricalTable:
    """Read a table of categorical columns (plain or gzip), coded column by column.

    Parameters
    ----------
    path : path-like
        A CSV / TSV file (see the module docstring for the reading rules).
    header : bool or "auto", default "auto"
        Whether the first row names the columns; "auto" decides by its values.
    labels_column : str or int, optional
        The column kept as labels (its name, or its 0-based position), left out of the codes.
    categories : L sequences of str, optional
        The value names of each coded column, in code order (those of another table, so that this
        one is coded the same way); a value outside them is an error. Default: the sorted values
        found in each column.
    delimiter : str, optional
        The field separator; default from the suffix or the first line.

    Returns
    -------
    CategoricalTable
        ``codes`` of shape (M, L) int8, with L the number of columns less the labels column.

    Raises
    ------
    DataError
        One line naming the file (and the line): see the module docstring.
    """
    path = Path(path)
    rows, numbers = _rows(path, delimiter)
    if header == "auto":
        header = _first_row_is_header(rows)
    if header:
        names, rows, numbers = [name or str(j) for j, name in enumerate(rows[0])], rows[1:], numbers[1:]
    else:
        names = [str(j) for j in range(len(rows[0]))]
    if not rows:
        raise DataError(path, "no rows of values (only a header)")
    cells = np.array(rows, dtype=object)  # (M, L_file)
    labels = label_name = None
    if labels_column is not None:
        index = _column_index(path, names, labels_column)
        labels, label_name = cells[:, index].astype(str), names[index]
        cells, names = np.delete(cells, index, axis=1), names[:index] + names[index + 1:]
    if cells.shape[1] == 0:
        raise DataError(path, "no column to model besides the labels column")
    codes, found = _encode_columns(path, cells, names, numbers, categories)
    table = CategoricalTable(codes, names, found, labels, label_name, bool(header), str(path))
    if table.q < 2:
        raise DataError(path, "every column holds a single value: nothing to model")
    return table


def _rows(path: Path, delimiter: str | None) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows split into stripped fields, and their 1-based line numbers; every row
    has as many fields as the first and no field is empty."""
    lines = read_text(path).splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise DataError(path, "empty file: no rows", 1)
    if delimiter is None:
        delimiter = _suffix_delimiter(path) or ("\t" if "\t" in numbered[0][1] else ",")
    rows, numbers = [], []
    try:
        for (number, _), fields in zip(numbered, csv.reader([line for _, line in numbered],
                                                             delimiter=delimiter, strict=True)):
            rows.append([field.strip() for field in fields])
            numbers.append(number)
    except csv.Error as e:
        # the row being read when csv gave up (a quoted field may have run over several lines)
        raise DataError(path, f"not a readable table ({e})",
                        numbered[min(len(rows), len(numbered) - 1)][0]) from None
    _check_rows(path, rows, numbers)
    return rows, numbers


def _check_rows(path: Path, rows: list[list[str]], numbers: list[int]) -> None:
    width = len(rows[0])
    for fields, number in zip(rows, numbers):
        if len(fields) != width:
            raise DataError(path, f"ragged rows: {len(fields)} fields on this line, {width} on "
                                  f"line {numbers[0]}", number)
        if "" in fields:
            raise DataError(path, f"empty value in column {fields.index('') + 1} (write a missing "
                                  "value as a symbol, e.g. '?', to make it a category)", number)


def _first_row_is_header(rows: list[list[str]]) -> bool:
    """True when every value of the first row occurs nowhere else in its column."""
    if len(rows) < 2:
        return False
    rest = list(zip(*rows[1:]))
    return all(value not in column for value, column in zip(rows[0], rest))


def _column_index(path: Path, names: list[str], column: str | int) -> int:
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not 0 <= column < len(names):
            raise DataError(path, f"labels column {column} out of range: the table has "
                                  f"{len(names)} columns (0..{len(names) - 1})")
        return int(column)
    if str(column) in names:
        return names.index(str(column))
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    raise DataError(path, f"no column named {column!r} for the labels (columns: {shown})")


def _encode_columns(path: Path, cells: np.ndarray, names: list[str], numbers: list[int],
                    categories: Sequence[Sequence[str]] | None) -> tuple[np.ndarray, list[list[str]]]:
    """(codes of shape (M, L) int8, the categories of each column)."""
    if categories is not None and len(categories) != cells.shape[1]:
        raise DataError(path, f"{cells.shape[1]} columns to code, the given categories are for "
                              f"{len(categories)}")
    codes = np.empty(cells.shape, dtype=np.int8)
    found: list[list[str]] = []
    for j in range(cells.shape[1]):
        values, inverse = np.unique(cells[:, j].astype(str), return_inverse=True)
        if categories is None:
            known = [str(v) for v in values]
        else:
            known = [str(v) for v in categories[j]]
            _check_known(path, values, inverse, known, names[j], numbers)
        if len(known) > len(STATE_SYMBOLS):
            raise DataError(path, f"column {names[j]!r} has {len(known)} distinct values; at most "
                                  f"{len(STATE_SYMBOLS)} (an identifier column is not categorical "
                                  "data: drop it, or name it as the labels column)")
        lookup = {value: code for code, value in enumerate(known)}
        codes[:, j] = np.array([lookup[str(v)] for v in values], dtype=np.int8)[inverse.reshape(-1)]
        found.append(known)
    return codes, found


def _check_known(path: Path, values: np.ndarray, inverse: np.ndarray, known: list[str],
                 name: str, numbers: list[int]) -> None:
    """Raise naming the first line whose value in column ``name`` is not in ``known``."""
    unknown = np.flatnonzero(~np.isin(values, np.array(known, dtype=str)))
    if not unknown.size:
        return
    row = int(np.flatnonzero(np.isin(inverse.reshape(-1), unknown))[0])
    shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    raise DataError(path, f"value {str(values[inverse.reshape(-1)[row]])!r} in column {name!r} is "
                          f"not one of its known categories ({shown})", numbers[row])
