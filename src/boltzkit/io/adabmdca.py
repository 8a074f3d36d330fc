"""Interop with other DCA tools: adabmDCA ``params.dat`` and plmc output files.

adabmDCA parameter file (``params.dat``)
----------------------------------------
Text, one parameter per line, fields separated by blanks (adabmDCApy ``adabmDCA/io.py``,
``save_params`` / ``load_params``):

* ``J i j a b value`` for the couplings, sites ``i < j`` 0-based; states ``a``, ``b`` written as
  letters of the alphabet (adabmDCA 2.x) or as 0-based integer codes (adabmDCA 1.x / bmDCA
  "old format"; both are read). Absent couplings (e.g. pruned by edDCA/eaDCA) are zero.
* ``h i a value`` for the fields.

Energy convention ``E(s) = -sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j)``, the same as boltzkit's.
Returned couplings are dense (L, L, q, q) with ``J[j, i] = J[i, j].T`` and zero diagonal blocks.

plmc outputs (debbiemarkslab/plmc, ``src/plm.c``)
-------------------------------------------------
* ``-c`` couplings file: ``i a_i j a_j 0 score`` per pair i < j, 1-based positions (focus mode:
  focus-sequence residues and positions; otherwise ``i - j - 0 score``); the score is the
  APC-corrected Frobenius norm. Read by :func:`read_plmc_couplings`.
* ``-o`` binary parameter file (``OutputParametersFull``), native-endian (little-endian on the
  machines plmc runs on), read by :func:`read_plmc_params`:
  int32 L, int32 q, int32 nSeqs, int32 nSkippedSeqs, int32 maxIter, float32 theta, lambda_h,
  lambda_e, lambda_group, nEff, int8[q] alphabet, float32[nSeqs + nSkippedSeqs] neighbour counts
  (0 for skipped sequences), int8[L] focus sequence, int32[L] offsets, float32[L*q] f_i,
  float32[L*q] h_i, float32[L(L-1)/2 * q*q] f_ij, float32[L(L-1)/2 * q*q] e_ij, the pair blocks
  in order (0,1), (0,2), ..., (L-2,L-1), each q x q row-major in (a_i, a_j). With ``-g`` the gap
  is left out and q = len(alphabet) - 1 (the stored alphabet then has no gap).
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch

from boltzkit.data.msa import detect_alphabet, get_alphabet
from boltzkit.io.atomic import write_bytes_atomic
from boltzkit.data.files import read_bytes as _read_bytes
from boltzkit.data.files import read_text as _read_text
from boltzkit.errors import DataError

__all__ = [
    "PlmcCouplings",
    "PlmcParams",
    "adabmdca_alphabet",
    "read_adabmdca_params",
    "read_plmc_couplings",
    "read_plmc_params",
    "write_adabmdca_params",
]


# --------------------------------------------------------------------------------------------
# adabmDCA
# --------------------------------------------------------------------------------------------

def read_adabmdca_params(
    path: str | PathLike, alphabet: str = "protein", *, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an adabmDCA ``params.dat`` (plain or gzip).

    Parameters
    ----------
    path : path-like
    alphabet : str
        ``"protein"``, ``"rna"``, ``"dna"`` or the custom letters the model was trained with; it
        fixes q and decodes letter states. Integer states are taken as codes (only when the
        alphabet itself has no digits).
    dtype : torch.dtype

    Returns
    -------
    fields : Tensor of shape (L, q)
    couplings : Tensor of shape (L, L, q, q), symmetric ``J[j, i] = J[i, j].T``, zero diagonal blocks
        L is the largest site index + 1 over all lines.
    """
    path = Path(path)
    letters = get_alphabet(alphabet)
    q = len(letters)
    code_of = {c: k for k, c in enumerate(letters)}
    digits_are_codes = not any(c.isdigit() for c in letters)
    text = _read_text(path)

    def state(token: str, number: int) -> int:
        if token in code_of:
            return code_of[token]
        if digits_are_codes and token.isdigit():
            value = int(token)
            if value < q:
                return value
            raise DataError(path, f"state {value} out of range for q={q} (alphabet {letters!r})", number)
        raise DataError(path, f"state {token!r} is not in alphabet {letters!r}", number)

    def site(token: str, number: int) -> int:
        if not token.isdigit():
            raise DataError(path, f"site index must be a non-negative integer, got {token!r}", number)
        return int(token)

    def value(token: str, number: int) -> float:
        try:
            v = float(token)
        except ValueError:
            raise DataError(path, f"parameter value {token!r} is not a number", number) from None
        if not math.isfinite(v):
            raise DataError(path, f"parameter value {token!r} is not finite", number)
        return v

    j_rows: list[tuple[int, int, int, int, float]] = []
    h_rows: list[tuple[int, int, float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        kind = fields[0]
        if kind == "J":
            if len(fields) != 6:
                raise DataError(path, f"a J line needs 'J i j a b value', found {len(fields)} fields", number)
            i, j = site(fields[1], number), site(fields[2], number)
            if i == j:
                raise DataError(path, f"coupling of site {i} with itself", number)
            j_rows.append((i, j, state(fields[3], number), state(fields[4], number), value(fields[5], number)))
        elif kind == "h":
            if len(fields) != 4:
                raise DataError(path, f"an h line needs 'h i a value', found {len(fields)} fields", number)
            h_rows.append((site(fields[1], number), state(fields[2], number), value(fields[3], number)))
        else:
            raise DataError(path, f"line must start with 'J' or 'h', found {kind!r}", number)
    if not h_rows and not j_rows:
        raise DataError(path, "no parameters found (empty file?)", 1)
    length = 1 + max([r[0] for r in h_rows] + [max(r[0], r[1]) for r in j_rows])

    fields_arr = np.zeros((length, q))
    if h_rows:
        hi = np.array(h_rows)
        fields_arr[hi[:, 0].astype(int), hi[:, 1].astype(int)] = hi[:, 2]
    couplings = np.zeros((length, length, q, q))
    if j_rows:
        jr = np.array(j_rows)
        i, j, a, b = (jr[:, k].astype(int) for k in range(4))
        couplings[i, j, a, b] = jr[:, 4]
        couplings[j, i, b, a] = jr[:, 4]
    return torch.from_numpy(fields_arr).to(dtype), torch.from_numpy(couplings).to(dtype)


def adabmdca_alphabet(path: str | PathLike) -> str:
    """The alphabet of an adabmDCA ``params.dat``, told by its states: letters give ``"protein"``,
    ``"rna"`` or ``"dna"`` (:func:`~boltzkit.data.msa.detect_alphabet`); integer codes give
    ``"protein"`` up to 21 states and ``"rna"`` up to 5 (the two alphabets adabmDCA ships)."""
    states: set[str] = set()
    for line in _read_text(path).splitlines():
        fields = line.split()
        if fields[:1] == ["J"]:
            states.update(fields[3:5])
        elif fields[:1] == ["h"]:
            states.update(fields[2:3])
    letters = {s for s in states if not s.isdigit()}
    if letters:
        try:
            return detect_alphabet(letters)
        except ValueError as e:
            raise DataError(path, str(e).replace("; pass alphabet=", "")) from None
    q = 1 + max((int(s) for s in states), default=0)
    if q > 21:
        raise DataError(path, f"integer states up to {q - 1}: more than the 21 of the protein alphabet")
    return "rna" if q <= 5 else "protein"


def _as_float64_array(values: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def write_adabmdca_params(
    path: str | PathLike,
    fields: torch.Tensor | np.ndarray,
    couplings: torch.Tensor | np.ndarray,
    alphabet: str = "protein",
    *,
    letters: bool = True,
    skip_zero: bool = False,
) -> Path:
    """Write an adabmDCA ``params.dat`` atomically (a ``.gz`` name is gzip-compressed).

    Parameters
    ----------
    path : path-like
    fields : (L, q) Tensor or ndarray
    couplings : (L, L, q, q) Tensor or ndarray; only the blocks i < j are written
    alphabet : str
        Letters for the states (must have q letters).
    letters : bool
        States as letters (adabmDCA 2.x, default) or integer codes (1.x format).
    skip_zero : bool
        Leave out couplings that are exactly zero (sparse models); readers treat them as zero.

    Values are written with 9 significant digits (``%.9g``), which round-trips float32 exactly.
    """
    path = Path(path)
    h = _as_float64_array(fields)
    J = _as_float64_array(couplings)
    if h.ndim != 2:
        raise ValueError(f"fields must have shape (L, q), got {h.shape}")
    length, q = h.shape
    if J.shape != (length, length, q, q):
        raise ValueError(f"couplings must have shape {(length, length, q, q)}, got {J.shape}")
    symbols = get_alphabet(alphabet)
    if len(symbols) != q:
        raise ValueError(f"alphabet {symbols!r} has {len(symbols)} letters, the parameters have q={q}")
    names = list(symbols) if letters else [str(a) for a in range(q)]

    lines: list[str] = []
    ab = [(names[a], names[b]) for a in range(q) for b in range(q)]
    for i in range(length - 1):
        for j in range(i + 1, length):
            block = J[i, j].ravel()
            prefix = f"J {i} {j} "
            if skip_zero:
                lines.extend(f"{prefix}{sa} {sb} {v:.9g}" for (sa, sb), v in zip(ab, block) if v != 0.0)
            else:
                lines.extend(f"{prefix}{sa} {sb} {v:.9g}" for (sa, sb), v in zip(ab, block))
    for i in range(length):
        lines.extend(f"h {i} {names[a]} {h[i, a]:.9g}" for a in range(q))
    data = ("\n".join(lines) + "\n").encode("ascii")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
    return path


# --------------------------------------------------------------------------------------------
# plmc
# --------------------------------------------------------------------------------------------

@dataclass
class PlmcCouplings:
    """Scores of a plmc ``-c`` couplings file.

    Attributes
    ----------
    positions : ndarray of shape (n,), int
        The 1-based positions in the file, sorted (focus mode: focus numbering).
    residues : str
        Residue of the focus sequence at each position ("-" without focus).
    scores : ndarray of shape (n, n), float64
        Symmetric scores indexed like ``positions``; NaN on the diagonal and for pairs not listed.
    """

    positions: np.ndarray
    residues: str
    scores: np.ndarray


def read_plmc_couplings(path: str | PathLike) -> PlmcCouplings:
    """Read a plmc couplings file (``-c``): lines ``i a_i j a_j 0 score`` (plain or gzip)."""
    path = Path(path)
    text = _read_text(path)
    rows: list[tuple[int, int, float]] = []
    residue_at: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise DataError(path, f"expected 6 columns 'i a_i j a_j 0 score', found {len(fields)}", number)
        try:
            i, j = int(fields[0]), int(fields[2])
            score = float(fields[5])
        except ValueError:
            raise DataError(path, f"non-numeric position or score in {line.strip()!r}", number) from None
        if i == j:
            raise DataError(path, f"pair of position {i} with itself", number)
        for pos, res in ((i, fields[1]), (j, fields[3])):
            if residue_at.setdefault(pos, res) != res:
                raise DataError(path, f"position {pos} is {res!r} here but {residue_at[pos]!r} before", number)
        rows.append((i, j, score))
    if not rows:
        raise DataError(path, "no coupling scores found (empty file?)", 1)
    positions = np.array(sorted(residue_at))
    index = {p: k for k, p in enumerate(positions)}
    scores = np.full((len(positions), len(positions)), np.nan)
    for i, j, score in rows:
        scores[index[i], index[j]] = scores[index[j], index[i]] = score
    return PlmcCouplings(positions, "".join(residue_at[p] for p in positions), scores)


@dataclass
class PlmcParams:
    """Contents of a plmc binary parameter file (``-o``); see the module docstring for the layout.

    ``fields`` (L, q) and ``couplings`` (L, L, q, q) follow plmc's sign, which is boltzkit's
    (``p(s) ∝ exp(sum_i h_i + sum_{i<j} e_ij)``); ``fij`` is dense (L, L, q, q) with f_ii = 0.
    """

    alphabet: str
    fields: torch.Tensor
    couplings: torch.Tensor
    fi: torch.Tensor
    fij: torch.Tensor
    neighbours: np.ndarray
    focus_sequence: str
    offsets: np.ndarray
    n_sequences: int
    n_skipped: int
    max_iter: int
    theta: float
    lambda_h: float
    lambda_e: float
    lambda_group: float
    n_eff: float


def read_plmc_params(path: str | PathLike, *, dtype: torch.dtype = torch.float32) -> PlmcParams:
    """Read plmc's binary parameter file written with ``-o`` (little-endian; plain or gzip)."""
    path = Path(path)
    raw = _read_bytes(path)
    pos = 0

    def take(kind: str, count: int) -> np.ndarray:
        nonlocal pos
        item = np.dtype(kind)
        end = pos + item.itemsize * count
        if end > len(raw):
            raise DataError(path, f"truncated plmc parameter file ({len(raw)} bytes, needs at least {end})")
        out = np.frombuffer(raw, dtype=item, count=count, offset=pos)
        pos = end
        return out

    length, q, n_seqs, n_skipped, max_iter = (int(v) for v in take("<i4", 5))
    if not (0 < length < 100_000 and 0 < q < 256 and n_seqs >= 0 and n_skipped >= 0):
        raise DataError(path, f"not a plmc parameter file (header L={length}, q={q}, nSeqs={n_seqs}, "
                              f"nSkipped={n_skipped})")
    theta, lambda_h, lambda_e, lambda_group, n_eff = (float(v) for v in take("<f4", 5))
    alphabet = take("i1", q).astype(np.uint8).tobytes().decode("ascii", errors="replace")
    neighbours = take("<f4", n_seqs + n_skipped).astype(np.float64)
    focus = take("i1", length).astype(np.uint8).tobytes().decode("ascii", errors="replace")
    offsets = take("<i4", length).astype(np.int64)
    fi = take("<f4", length * q).reshape(length, q)
    hi = take("<f4", length * q).reshape(length, q)
    n_pairs = length * (length - 1) // 2
    fij_blocks = take("<f4", n_pairs * q * q).reshape(n_pairs, q, q)
    eij_blocks = take("<f4", n_pairs * q * q).reshape(n_pairs, q, q)
    if pos != len(raw):
        raise DataError(path, f"{len(raw) - pos} unexpected bytes after the couplings "
                              f"(not plmc's OutputParametersFull layout?)")
    iu, ju = np.triu_indices(length, k=1)  # row-major: (0,1), (0,2), ... as plmc writes them

    def dense(blocks: np.ndarray) -> torch.Tensor:
        out = np.zeros((length, length, q, q), dtype=np.float64)
        out[iu, ju] = blocks
        out[ju, iu] = blocks.transpose(0, 2, 1)
        return torch.from_numpy(out).to(dtype)

    return PlmcParams(
        alphabet=alphabet,
        fields=torch.from_numpy(hi.astype(np.float64)).to(dtype),
        couplings=dense(eij_blocks),
        fi=torch.from_numpy(fi.astype(np.float64)).to(dtype),
        fij=dense(fij_blocks),
        neighbours=neighbours,
        focus_sequence=focus,
        offsets=offsets,
        n_sequences=n_seqs,
        n_skipped=n_skipped,
        max_iter=max_iter,
        theta=theta,
        lambda_h=lambda_h,
        lambda_e=lambda_e,
        lambda_group=lambda_group,
        n_eff=n_eff,
    )
