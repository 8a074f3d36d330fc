"""Multiple sequence alignments: alphabets, reading, writing and one-hot encoding.

An alignment is held as an integer matrix ``sequences`` of shape (M, L) (``int8``, values in
``0..q-1``) plus the alphabet string that gives the letter of each code. **Index 0 is the gap**
in every built-in alphabet (``protein = "-ACDEFGHIKLMNPQRSTVWY"``, ``rna = "-ACGU"``,
``dna = "-ACGT"``, the ordering of plmc and adabmDCA); for a custom alphabet index 0 is whatever
its first letter is, and it plays the role of the gap (unknown letters are mapped to it).

Reading rules (:func:`read_msa`)
--------------------------------
* Formats: aligned FASTA (any extension other than those below), A2M/A3M (``.a2m``, ``.a3m``)
  and Stockholm (``.sto``, ``.stk``, ``.stockholm``, or any file starting with
  ``# STOCKHOLM``). Each may be gzip-compressed; compression is detected from the magic bytes
  ``1f 8b``, not from the name (``.gz`` is only stripped to find the format).
* **Insert columns.** In A2M/A3M files lower-case letters and ``.`` are insertions relative to the
  match states and are *dropped*; upper-case letters and ``-`` are the match columns that are kept.
  In FASTA and Stockholm files nothing is dropped: lower-case letters are upper-cased and ``.`` is
  a gap. ``drop_inserts=True/False`` overrides the default for any format (e.g. a Pfam A2M
  alignment saved as ``.fasta``). A symbol that belongs to the alphabet is never treated as an
  insertion (a custom alphabet ``".ACGU"`` keeps ``.``).
* **Gaps.** ``.`` is the gap (index 0) whenever it is not itself a letter of the alphabet, so Rfam
  FASTA files written with ``.`` as gap read the same with ``alphabet="rna"`` and ``".ACGU"``.
* **Unknown letters** (``X``, ``B``, ``Z``, ``J``, ``O``, ``U`` in proteins, ``N`` in DNA, any
  other symbol not in the alphabet) are never dropped silently: with ``unknown="gap"`` (default)
  they are encoded as index 0 and counted (``MSA.n_unknown``, per sequence in
  ``MSA.unknown_per_sequence``, and in ``str(msa)``); with ``unknown="error"`` the first one raises
  a :class:`~boltzkit.errors.DataError` naming the file and line.
* **Auto-detection** (``alphabet="auto"``): after upper-casing and ignoring the gap symbols
  ``-`` and ``.``, letters within ``{A, C, G, T, N}`` give ``dna`` (DNA wins ties, e.g. a file with
  only ``A``, ``C``, ``G``), letters within ``{A, C, G, U, N}`` give ``rna``, any other set of letters
  ``A``-``Z`` gives ``protein``. Symbols that are not letters make auto-detection fail: name the
  alphabet explicitly.
* **Checks** (each a one-line ``DataError`` "PATH:LINE: problem"): empty file, text before the
  first header, a record without residues, sequences of unequal length (line of the offending
  header), unknown letters with ``unknown="error"`` and, unless ``allow_gap_columns=True``,
  columns that are gaps in every sequence (the message names the column).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from boltzkit.io.atomic import write_bytes_atomic
from boltzkit.data.files import read_bytes
from boltzkit.errors import DataError

__all__ = ["ALPHABETS", "MSA", "decode", "detect_alphabet", "encode", "focus_columns", "get_alphabet",
           "one_hot", "read_msa", "write_fasta"]

#: Built-in alphabets; the gap ``-`` is index 0 in each.
ALPHABETS: dict[str, str] = {
    "protein": "-ACDEFGHIKLMNPQRSTVWY",
    "rna": "-ACGU",
    "dna": "-ACGT",
}

_A2M_SUFFIXES = {".a2m", ".a3m"}
_STOCKHOLM_SUFFIXES = {".sto", ".stk", ".stockholm"}


def get_alphabet(alphabet: str) -> str:
    """Letters of a built-in alphabet (``"protein"``, ``"rna"``, ``"dna"``) or a custom string.

    A custom alphabet is used as given (index = position in the string) and must not repeat a
    letter.
    """
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"alphabet must be 'protein', 'rna', 'dna' or a string of letters, got {alphabet!r}")
    letters = ALPHABETS.get(alphabet.lower(), alphabet)
    if len(set(letters)) != len(letters):
        raise ValueError(f"alphabet {letters!r} repeats a letter")
    if any(not c.isprintable() or c.isspace() or ord(c) > 127 for c in letters):
        raise ValueError(f"alphabet {letters!r} must contain printable ASCII symbols only")
    return letters


def _alphabet_name(letters: str) -> str:
    return next((name for name, value in ALPHABETS.items() if value == letters), repr(letters))


def detect_alphabet(symbols: set[str] | str) -> str:
    """Guess ``"protein"``, ``"rna"`` or ``"dna"`` from the set of symbols of an alignment.

    See the module docstring for the rule. Raises ``ValueError`` when a symbol is neither a letter
    nor a gap (``-`` or ``.``).
    """
    letters = {c.upper() for c in symbols} - {"-", "."}
    odd = sorted(c for c in letters if not ("A" <= c <= "Z"))
    if odd:
        raise ValueError(f"cannot detect the alphabet: symbols {''.join(odd)!r} are not letters; pass alphabet=")
    if letters <= set("ACGTN"):
        return "dna"
    if letters <= set("ACGUN"):
        return "rna"
    return "protein"


@dataclass
class MSA:
    """An encoded multiple sequence alignment.

    Attributes
    ----------
    sequences : ndarray of shape (M, L), dtype int8
        Codes in ``0..q-1``; index 0 is the gap (see the module docstring).
    headers : list of str
        The M header lines without the leading ``>`` (Stockholm: the sequence names).
    alphabet : str
        The q letters; ``alphabet[k]`` is the letter of code k.
    n_unknown : int
        Number of letters outside the alphabet that were mapped to index 0.
    source : str
        The file the alignment was read from ("" if built in memory).
    unknown_per_sequence : ndarray of shape (M,), dtype int64
        How many unknown letters each sequence had (plmc discards such sequences, see
        :func:`boltzkit.data.reweighting.plmc_weights`).
    """

    sequences: np.ndarray
    headers: list[str]
    alphabet: str
    n_unknown: int = 0
    source: str = ""
    unknown_per_sequence: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.unknown_per_sequence is None:
            self.unknown_per_sequence = np.zeros(len(self.sequences), dtype=np.int64)

    @property
    def q(self) -> int:
        """Number of states per site (length of the alphabet)."""
        return len(self.alphabet)

    @property
    def n_sequences(self) -> int:
        return int(self.sequences.shape[0])

    @property
    def length(self) -> int:
        """Number of alignment columns L."""
        return int(self.sequences.shape[1])

    def __len__(self) -> int:
        return self.n_sequences

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        text = (f"{where}{self.n_sequences} sequences x {self.length} columns, "
                f"alphabet {_alphabet_name(self.alphabet)} (q={self.q})")
        if self.n_unknown:
            n_seq = int(np.count_nonzero(self.unknown_per_sequence))
            letters = "letter" if self.n_unknown == 1 else "letters"
            seqs = "sequence" if n_seq == 1 else "sequences"
            text += f", {self.n_unknown} unknown {letters} mapped to gap in {n_seq} {seqs}"
        return text

    def select(self, rows: np.ndarray | Sequence[int] | None = None,
               columns: np.ndarray | Sequence[int] | None = None) -> MSA:
        """A new MSA restricted to some rows and/or columns (index arrays or boolean masks)."""
        row_idx = np.arange(self.n_sequences) if rows is None else np.arange(self.n_sequences)[np.asarray(rows)]
        seqs = self.sequences[row_idx]
        if columns is not None:
            seqs = seqs[:, np.asarray(columns)]
        unknown = self.unknown_per_sequence[row_idx]
        return MSA(sequences=np.ascontiguousarray(seqs), headers=[self.headers[i] for i in row_idx],
                   alphabet=self.alphabet, n_unknown=int(unknown.sum()), source=self.source,
                   unknown_per_sequence=unknown.copy())


def focus_columns(msa: MSA, focus: str) -> np.ndarray:
    """Columns where the focus sequence is not a gap, as plmc's ``-f`` selects them.

    The focus is the first sequence whose header starts with ``focus`` (plmc's rule). Returns the
    0-based column indices, shape (L_focus,). Lower-case (insert) focus columns are already gone
    when the alignment was read as A2M.
    """
    for row, header in enumerate(msa.headers):
        if header.startswith(focus):
            return np.flatnonzero(msa.sequences[row] != 0)
    raise DataError(msa.source or None, f"no sequence header starts with focus {focus!r}")


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------

def _lookup_table(letters: str, *, upper: bool, dot_is_gap: bool) -> np.ndarray:
    """Byte -> code table, -1 for symbols outside the alphabet."""
    table = np.full(256, -1, dtype=np.int16)
    for code, letter in enumerate(letters):
        table[ord(letter)] = code
        if upper and letter.isalpha() and letter.lower() not in letters:
            table[ord(letter.lower())] = code
    if dot_is_gap and "." not in letters:
        table[ord(".")] = 0
    return table


def encode(sequences: str | Sequence[str], alphabet: str = "protein", unknown: str = "gap") -> np.ndarray:
    """Encode aligned strings into codes.

    Parameters
    ----------
    sequences : str or sequence of str
        One string (returns shape (L,)) or M strings of equal length (returns shape (M, L)).
    alphabet : str
        ``"protein"``, ``"rna"``, ``"dna"`` or a custom string of letters.
    unknown : {"gap", "error"}
        Letters outside the alphabet become index 0, or raise ``ValueError``. Lower-case letters
        are upper-cased (unless the alphabet has lower-case letters) and ``.`` is a gap unless it
        is in the alphabet.

    Returns
    -------
    ndarray of dtype int8
    """
    letters = get_alphabet(alphabet)
    _check_unknown_option(unknown)
    single = isinstance(sequences, str)
    seqs = [sequences] if single else list(sequences)
    if not seqs:
        return np.zeros((0, 0), dtype=np.int8)
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise ValueError(f"sequences have different lengths {sorted(lengths)}")
    table = _lookup_table(letters, upper=letters == letters.upper(), dot_is_gap=True)
    try:
        raw = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as exc:
        raise ValueError(f"non-ASCII symbol in sequences: {exc}") from None
    codes = table[raw].reshape(len(seqs), -1)
    bad = codes < 0
    if unknown == "error" and bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"letter {seqs[row][col]!r} (sequence {row}, column {col}) is not in alphabet {letters!r}")
    codes[bad] = 0
    out = codes.astype(np.int8)
    return out[0] if single else out


def decode(sequences: np.ndarray | torch.Tensor, alphabet: str = "protein") -> str | list[str]:
    """Inverse of :func:`encode`: codes of shape (L,) -> str, shape (M, L) -> list of str."""
    letters = get_alphabet(alphabet)
    arr = sequences.detach().cpu().numpy() if isinstance(sequences, torch.Tensor) else np.asarray(sequences)
    if arr.size and (arr.min() < 0 or arr.max() >= len(letters)):
        raise ValueError(f"codes must lie in 0..{len(letters) - 1} for alphabet {letters!r}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"codes must have shape (L,) or (M, L), got {arr.shape}")
    chars = np.frombuffer(letters.encode("ascii"), dtype=np.uint8)[arr.astype(np.int64)]
    if arr.ndim == 1:
        return chars.tobytes().decode("ascii")
    return [row.tobytes().decode("ascii") for row in chars]


def one_hot(sequences: np.ndarray | torch.Tensor, q: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot encoding, shape (M, L, q) for codes of shape (M, L) (any leading shape works)."""
    codes = sequences if isinstance(sequences, torch.Tensor) else torch.from_numpy(np.asarray(sequences))
    codes = codes.long()
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= q):
        raise ValueError(f"codes must lie in 0..{q - 1}")
    return torch.nn.functional.one_hot(codes, num_classes=q).to(dtype)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

@dataclass
class _Record:
    header: str
    header_line: int
    lines: list[tuple[int, str]]  # (1-based line number, raw residue text)


def _read_text(path: Path) -> str:
    raw = read_bytes(path)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(path, f"non-ASCII byte 0x{raw[exc.start]:02x} (alignments are plain ASCII)", line) from None


def _format_of(path: Path, text: str) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = os.path.splitext(name)[1]
    if suffix in _A2M_SUFFIXES:
        return "a2m"
    if suffix in _STOCKHOLM_SUFFIXES or text.lstrip().startswith("# STOCKHOLM"):
        return "stockholm"
    return "fasta"


def _parse_fasta(path: Path, text: str) -> list[_Record]:
    records: list[_Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            records.append(_Record(stripped[1:].strip(), number, []))
        elif not records:
            raise DataError(path, "expected a FASTA header line starting with '>'", number)
        else:
            records[-1].lines.append((number, "".join(stripped.split())))
    return records


def _parse_stockholm(path: Path, text: str) -> list[_Record]:
    by_name: dict[str, _Record] = {}
    seen_header = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not seen_header:
            if not stripped.startswith("# STOCKHOLM"):
                raise DataError(path, "expected '# STOCKHOLM 1.0' on the first line", number)
            seen_header = True
            continue
        if stripped == "//":
            break  # only the first alignment of a multi-alignment file is read
        if stripped.startswith("#"):
            continue  # GF/GS/GR/GC markup
        parts = stripped.split()
        if len(parts) != 2:
            raise DataError(path, "expected 'name aligned-sequence' on a Stockholm sequence line", number)
        name, residues = parts
        if name not in by_name:
            by_name[name] = _Record(name, number, [])
        by_name[name].lines.append((number, residues))
    return list(by_name.values())


def read_msa(
    path: str | PathLike,
    alphabet: str = "auto",
    unknown: str = "gap",
    *,
    format: str | None = None,
    drop_inserts: bool | None = None,
    allow_gap_columns: bool = False,
) -> MSA:
    """Read an aligned FASTA, A2M/A3M or Stockholm file (plain or gzip).

    Parameters
    ----------
    path : path-like
        The alignment file. Gzip is detected from the magic bytes.
    alphabet : str
        ``"auto"`` (detect protein / rna / dna), ``"protein"``, ``"rna"``, ``"dna"`` or a custom
        string whose first letter is index 0.
    unknown : {"gap", "error"}
        What to do with letters outside the alphabet: map them to index 0 and count them
        (default) or raise a ``DataError`` naming the line.
    format : {"fasta", "a2m", "stockholm"}, optional
        Overrides detection from the file name / first line.
    drop_inserts : bool, optional
        Drop lower-case letters and ``.`` (insert states). Default: True for A2M/A3M, False
        otherwise (see the module docstring).
    allow_gap_columns : bool
        Accept columns that are a gap in every sequence (default: raise, naming the column).

    Returns
    -------
    MSA
        ``sequences`` of shape (M, L), int8.
    """
    path = Path(path)
    _check_unknown_option(unknown)
    fmt, records = _read_records(path, format)
    if drop_inserts is None:
        drop_inserts = fmt == "a2m"
    given = None if alphabet == "auto" else get_alphabet(alphabet)
    inserts = _InsertRule.of(given, drop_inserts)
    sequences = _cleaned_sequences(path, records, inserts)
    _check_lengths(path, records, sequences, drop_inserts)
    codes, letters, per_sequence = _encode_sequences(path, records, sequences, given, unknown, inserts)
    if not allow_gap_columns:
        _check_gap_columns(path, records, codes)
    return MSA(sequences=codes, headers=[rec.header for rec in records], alphabet=letters,
               n_unknown=int(per_sequence.sum()), source=str(path), unknown_per_sequence=per_sequence)


def _read_records(path: Path, format: str | None) -> tuple[str, list[_Record]]:
    """The format (``"fasta"``, ``"a2m"`` or ``"stockholm"``) and the records of the file."""
    text = _read_text(path)
    fmt = format.lower() if format else _format_of(path, text)
    if fmt not in {"fasta", "a2m", "a3m", "stockholm"}:
        raise ValueError(f"format must be 'fasta', 'a2m' or 'stockholm', got {format!r}")
    if fmt == "a3m":
        fmt = "a2m"
    if not text.strip():
        raise DataError(path, "empty file: no sequences", 1)
    records = _parse_stockholm(path, text) if fmt == "stockholm" else _parse_fasta(path, text)
    if not records:
        raise DataError(path, "no sequences found", 1)
    return fmt, records


@dataclass(frozen=True)
class _InsertRule:
    """How residue text is cleaned: insert symbols deleted (or kept), letters upper-cased."""

    delete: dict[int, None] | None  # str.translate table deleting the inserts; None keeps them
    keep_lower: bool  # the alphabet has lower-case letters: no upper-casing, not inserts

    @classmethod
    def of(cls, given: str | None, drop_inserts: bool) -> _InsertRule:
        """The rule for the letters of the alphabet argument (None when auto-detected). A symbol
        of the alphabet is never an insertion: lower-case letters and ``.`` are inserts only when
        the alphabet lacks them."""
        keep_lower = given is not None and given != given.upper()
        keep_dot = given is not None and "." in given
        inserts = ("" if keep_lower else "abcdefghijklmnopqrstuvwxyz") + ("" if keep_dot else ".")
        return cls(str.maketrans("", "", inserts) if drop_inserts else None, keep_lower)

    def clean(self, residues: str) -> str:
        """``residues`` without the inserts (when dropped), upper-cased unless ``keep_lower``."""
        if self.delete is not None:
            residues = residues.translate(self.delete)
        return residues if self.keep_lower else residues.upper()


def _cleaned_sequences(path: Path, records: list[_Record], inserts: _InsertRule) -> list[str]:
    """The residues of each record, lines joined and cleaned; a record without any is an error."""
    sequences: list[str] = []
    for rec in records:
        seq = "".join(inserts.clean(residues) for _, residues in rec.lines)
        if not seq:
            raise DataError(path, f"sequence '{rec.header}' has no residues", rec.header_line)
        sequences.append(seq)
    return sequences


def _check_lengths(path: Path, records: list[_Record], sequences: list[str], drop_inserts: bool) -> None:
    """Every sequence must be as long as the first one (the error names the offending header)."""
    length = len(sequences[0])
    for rec, seq in zip(records, sequences):
        if len(seq) != length:
            what = "match columns" if drop_inserts else "columns"
            raise DataError(path, f"sequence '{rec.header}' has {len(seq)} {what}, expected {length} "
                                  f"as the first sequence '{records[0].header}'", rec.header_line)


def _encode_sequences(path: Path, records: list[_Record], sequences: list[str], given: str | None,
                      unknown: str, inserts: _InsertRule) -> tuple[np.ndarray, str, np.ndarray]:
    """Look the M equal-length sequences up in the alphabet (``given``; detected when None).
    Unknown symbols become the gap, or raise (``unknown="error"``).

    Returns
    -------
    codes : ndarray of shape (M, L), int8
    letters : str, the alphabet
    per_sequence : ndarray of shape (M,), int64, the number of unknown letters of each sequence
    """
    # _read_text guarantees ASCII, and cleaning (deleting, upper-casing) keeps it so
    raw = np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8)
    if given is None:
        symbols = {chr(b) for b in np.unique(raw)}
        try:
            letters = ALPHABETS[detect_alphabet(symbols)]
        except ValueError as exc:
            raise DataError(path, str(exc)) from None
    else:
        letters = given
    table = _lookup_table(letters, upper=False, dot_is_gap=True)
    codes = table[raw].reshape(len(sequences), len(sequences[0]))  # -1 outside the alphabet
    bad = codes < 0
    per_sequence = bad.sum(axis=1).astype(np.int64)
    if unknown == "error" and per_sequence.any():
        rec = records[int(np.flatnonzero(per_sequence)[0])]
        _raise_first_unknown(path, rec, table, letters, inserts)
    codes[bad] = 0
    return codes.astype(np.int8), letters, per_sequence


def _raise_first_unknown(path: Path, rec: _Record, table: np.ndarray, letters: str,
                         inserts: _InsertRule) -> None:
    """Raise the ``DataError`` naming the line of the first unknown letter of record ``rec``."""
    for number, residues in rec.lines:
        for c in inserts.clean(residues):
            if table[ord(c)] < 0:
                raise DataError(path, f"letter {c!r} in sequence '{rec.header}' is not in alphabet "
                                      f"{_alphabet_name(letters)} (unknown='gap' maps it to the gap)",
                                number)
    raise DataError(path, f"unknown letter in sequence '{rec.header}'", rec.header_line)  # pragma: no cover


def _check_gap_columns(path: Path, records: list[_Record], codes: np.ndarray) -> None:
    """Raise when some columns of ``codes`` (shape (M, L)) are a gap in every sequence."""
    all_gap = np.flatnonzero((codes == 0).all(axis=0))
    if not all_gap.size:
        return
    if all_gap.size == 1:
        what = f"column {all_gap[0] + 1} is a gap"
    else:
        cols = ", ".join(str(c + 1) for c in all_gap[:5]) + (", ..." if all_gap.size > 5 else "")
        what = f"columns {cols} ({all_gap.size} in all) are gaps"
    # No single line is at fault: the line given is the first record's header.
    raise DataError(path, f"{what} in every sequence: remove such columns from the alignment "
                          "(Python API: read_msa(..., allow_gap_columns=True) keeps them)",
                    records[0].header_line)


def _check_unknown_option(unknown: str) -> None:
    if unknown not in {"gap", "error"}:
        raise ValueError(f"unknown must be 'gap' or 'error', got {unknown!r}")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def write_fasta(
    path: str | PathLike,
    sequences: np.ndarray | torch.Tensor | Sequence[str],
    alphabet: str = "protein",
    headers: Sequence[str] | None = None,
    *,
    line_width: int | None = None,
) -> Path:
    """Write an aligned FASTA file atomically (temporary file in the same folder + ``os.replace``).

    Parameters
    ----------
    path : path-like
        Destination; a name ending in ``.gz`` is written gzip-compressed.
    sequences : ndarray or Tensor of shape (M, L) with codes, or M strings
    alphabet : str
        Letters of the codes (built-in name or custom string).
    headers : sequence of str, optional
        M headers without ``>``; default ``seq_0``, ``seq_1``, ...
    line_width : int, optional
        Wrap sequences at this width (default: one line per sequence).

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    if isinstance(sequences, (np.ndarray, torch.Tensor)):
        if sequences.ndim != 2:
            raise ValueError(f"sequences must have shape (M, L), got {tuple(sequences.shape)}")
        strings = decode(sequences, alphabet)
    else:
        strings = list(sequences)
    if headers is None:
        headers = [f"seq_{i}" for i in range(len(strings))]
    elif len(headers) != len(strings):
        raise ValueError(f"{len(headers)} headers for {len(strings)} sequences")
    chunks = []
    for header, seq in zip(headers, strings):
        if "\n" in header:
            raise ValueError(f"header {header!r} contains a newline")
        chunks.append(f">{header}\n")
        if line_width:
            chunks.extend(seq[k:k + line_width] + "\n" for k in range(0, len(seq), line_width))
        else:
            chunks.append(seq + "\n")
    data = "".join(chunks).encode("ascii")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
    return path


#: Symbols used to write categorical data that come without an alphabet (HDF5 state codes).
STATE_SYMBOLS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def read_categorical_h5(path: str | os.PathLike, dataset: str = "samples") -> MSA:
    """Categorical samples stored as integer states 0..q-1 in an HDF5 dataset (as written by
    ``boltzkit generate potts|blume-capel``), as an :class:`MSA` whose alphabet is the first q
    symbols of :data:`STATE_SYMBOLS` (q from the file's ``n_states`` attribute, else max + 1)."""
    import h5py  # loaded only for HDF5 files: `import boltzkit.data` stays light

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise DataError(path, f"no dataset {dataset!r} (available: {', '.join(f.keys())})")
            codes = f[dataset][()]
            q = int(f.attrs.get("n_states", 0)) or int(codes.max()) + 1
    except OSError:
        raise DataError(path, "not a readable HDF5 file") from None
    if codes.ndim != 2 or codes.size == 0:
        raise DataError(path, f"dataset {dataset!r} must be a non-empty 2-D array; got shape {codes.shape}")
    if codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= q:
        raise DataError(path, f"dataset {dataset!r} must hold integer states 0..{q - 1}")
    if q > len(STATE_SYMBOLS):
        raise DataError(path, f"{q} states: at most {len(STATE_SYMBOLS)} are supported")
    return MSA(sequences=codes.astype(np.int8), headers=[f"sample_{i}" for i in range(len(codes))],
               alphabet=STATE_SYMBOLS[:q], source=str(path))
