"""Sequence weights, effective number of sequences and (pseudocount) frequencies of an alignment.

Sequence weights (Morcos et al., PNAS 108:E1293, 2011; plmc, Hopf et al. 2017)
-------------------------------------------------------------------------------
The weight of sequence m is ``w_m = 1 / n_m`` with ``n_m = 1 + #{t != m : identity(m, t) reaches
the threshold}``: m itself always counts, exact duplicates are kept and counted.
Identity is ``#{i : s_i == t_i} / L`` over all L columns; by default a gap facing a gap counts as a
match (as in plmc and CCMpred); ``count_gaps=False`` counts only residue matches (same denominator L).
Two conventions for "reaches":

* ``convention="plmc"`` (default): neighbour if ``matches >= threshold * L`` — plmc's
  ``id >= (1 - theta) * nSites`` (src/plm.c, ``MSAReweightSequences``), theta = 1 - threshold;
* ``convention="morcos"``: neighbour if ``matches > threshold * L`` (strict), the rule of Morcos et
  al. 2011, CCMpred ``weights_simple`` and DCAUtils (Hamming distance < (1 - threshold) L).

They differ only when ``threshold * L`` is an integer. ``M_eff = sum_m w_m``.
:func:`plmc_weights` reproduces plmc's reported weights exactly, including its alignment
pre-processing (sequences with letters outside the alphabet get weight 0, focus columns).

Identity counts are computed on torch tensors as blocks of a matrix product of one-hot encodings,
``(X_a X_b^T)_{st} = #matches`` (exact in float32 for L < 2^24): no loop over pairs of sequences.
Each block's one-hot rows are written into a preallocated float32 buffer, so the memory is that of
two blocks (at most 16 MiB each) and one block of identities, whatever M; the threshold is an
integer number of matches, compared exactly. Exact duplicates are grouped first (same
neighbourhood), so the cost is that of the distinct sequences.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from boltzkit.checks import integer
from boltzkit.data.msa import MSA, focus_columns

__all__ = ["connected_correlations", "frequencies", "m_eff", "plmc_weights", "sequence_weights",
           "unique_sequences"]

_CONVENTIONS = ("plmc", "morcos")


def _as_codes(sequences: np.ndarray | torch.Tensor | MSA, long: bool = True) -> torch.Tensor:
    """The codes of ``sequences`` as an (M, L) integer tensor: int64, or their own integer dtype
    (``long=False``: no copy eight bytes a code)."""
    if isinstance(sequences, MSA):
        sequences = sequences.sequences
    codes = sequences if isinstance(sequences, torch.Tensor) else torch.from_numpy(np.asarray(sequences))
    if codes.ndim != 2:
        raise ValueError(f"sequences must have shape (M, L), got {tuple(codes.shape)}")
    if codes.is_floating_point():
        raise ValueError("sequences must be integer codes, not floats")
    return codes.long() if long else codes


#: Largest one-hot block of :func:`sequence_weights`, in float32 entries (16 MiB).
_BLOCK_ENTRIES = 1 << 22


def sequence_weights(
    sequences: np.ndarray | torch.Tensor | MSA,
    threshold: float = 0.8,
    *,
    convention: str = "plmc",
    count_gaps: bool = True,
    q: int | None = None,
    chunk_size: int = 2048,
    device: str | torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Inverse neighbourhood-size weights ``w_m = 1 / (1 + #{t != m : identity(m, t) reaches threshold})``
    (docs/methods.md section 9.1).

    Parameters
    ----------
    sequences : ndarray or Tensor of shape (M, L) with codes in 0..q-1 (index 0 = gap), or an MSA
    threshold : float
        Identity threshold in [0, 1]; 0.8 is plmc's ``-t 0.2`` and adabmDCA's default.
    convention : {"plmc", "morcos"}
        ``>=`` (plmc) or ``>`` (Morcos 2011 / CCMpred / DCAUtils), see the module docstring.
        Self is always a neighbour and duplicates are kept.
    count_gaps : bool
        Count a gap facing a gap as a match (default, plmc) or not.
    q : int, optional
        Number of states (default: largest code + 1, or the MSA's q).
    chunk_size : int
        Most rows per block of the identity matrix (fewer when L q is large: a block's one-hot
        matrix holds at most 2^22 float32 entries, 16 MiB). Memory: two such one-hot blocks and
        one block of identities, whatever M.
    device : str or torch.device, optional
        Where to compute (default: CPU).
    progress : callable, optional
        Called as ``progress(done, total)`` with the entries of the (upper triangle of the)
        identity matrix of the distinct sequences computed so far: ``(0, total)`` once the
        arguments are checked, then after blocks of rows, at most every 0.5 % of the work, the
        last call ``(total, total)``.

    Returns
    -------
    ndarray of shape (M,), float64, each in (0, 1].
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention must be one of {_CONVENTIONS}, got {convention!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    chunk_size = integer(_python_int(chunk_size), "chunk_size", 1)
    if q is None and isinstance(sequences, MSA):
        q = sequences.q
    codes = _as_codes(sequences, long=False)
    n_seq, length = codes.shape
    if n_seq == 0:
        return np.zeros(0)
    low, high = int(codes.min()), int(codes.max())
    q = high + 1 if q is None else integer(_python_int(q), "q", 1)
    if low < 0 or high >= q:
        raise ValueError(f"codes must lie in 0..{q - 1}")
    # Identical sequences have identical neighbourhoods: work on the distinct sequences with their
    # multiplicities (exact, and M_unique^2 instead of M^2 work; real MSAs often repeat a third).
    small = np.uint8 if q <= 256 else np.int32
    unique, inverse, counts = np.unique(codes.cpu().numpy().astype(small, copy=False), axis=0,
                                        return_inverse=True, return_counts=True)
    blocks = _IdentityBlocks(torch.from_numpy(unique).to(device), q, count_gaps, chunk_size)
    neighbours = blocks.neighbours(counts, _least_matches(threshold, length, convention), progress)
    return (1.0 / neighbours[torch.from_numpy(inverse.reshape(-1)).to(neighbours.device)]).cpu().numpy()


def _python_int(value):
    """NumPy integers (an alignment's q, a size read from an array) as Python ints."""
    return int(value) if isinstance(value, np.integer) else value


def _least_matches(threshold: float, length: int, convention: str) -> int:
    """The fewest matching columns that make two sequences neighbours.

    The bound is plmc's float64 ``(1 - theta) * nSites`` (``threshold * L``); the matches are
    integers, so ``matches >= c`` is ``matches >= ceil(c)`` and ``matches > c`` is
    ``matches >= floor(c) + 1``: an integer comparison, exact in float32, whereas comparing float32
    matches with the float64 bound would round the bound to float32 (0.07 * 100 =
    7.000000000000001 would become 7).
    """
    cutoff = threshold * length
    return math.ceil(cutoff) if convention == "plmc" else math.floor(cutoff) + 1


class _IdentityBlocks:
    """Neighbour counts of distinct sequences from blocks of the identity matrix ``X_a X_b^T``.

    Each block's one-hot rows are written into one of two preallocated float32 buffers (a scatter
    of ones, no int64 one-hot), multiplied into a preallocated block of matches (exact: integers
    up to L < 2^24), thresholded in place to 0/1 and summed against the multiplicities. Only
    blocks b >= a are visited (the matrix is symmetric).
    """

    def __init__(self, unique: torch.Tensor, q: int, count_gaps: bool, chunk_size: int):
        n_unique, length = unique.shape
        # without gap matches: q - 1 residue states (one column when q = 1: never set)
        self.states = q if count_gaps else max(q - 1, 1)
        self.count_gaps, self.unique = count_gaps, unique
        width = length * self.states
        self.rows = max(1, min(chunk_size, n_unique, _BLOCK_ENTRIES // max(width, 1)))
        self.x_a, self.x_b = (torch.empty(self.rows, width, device=unique.device) for _ in range(2))
        self.matches = torch.empty(self.rows * self.rows, device=unique.device)
        self.offsets = torch.arange(0, width, self.states, device=unique.device)

    def one_hot(self, start: int, out: torch.Tensor) -> torch.Tensor:
        """The one-hot rows of distinct sequences ``start...`` (one block), written into ``out``."""
        codes = self.unique[start:start + self.rows].long()
        x = out[:codes.shape[0]].zero_()
        if self.count_gaps:
            return x.scatter_(1, codes + self.offsets, 1.0)
        residue = codes > 0  # a gap writes a 0 on its site's first column, set by no other state
        return x.scatter_(1, codes - residue.long() + self.offsets, residue.to(x.dtype))

    def neighbours(self, counts: np.ndarray, least: int,
                   progress: Callable[[int, int], None] | None) -> torch.Tensor:
        """``1 + sum_t mult_t close[u, t] - close[u, u]`` for every distinct sequence u, float64.

        Self always counts, even when count_gaps=False leaves a gappy sequence below the threshold
        with itself; its duplicates count when close[u, u] holds (plmc: count from 1 over t != s).
        """
        n, step = self.unique.shape[0], self.rows
        # multiplicities in float32 while every partial sum (an integer <= M) is exact there
        mult = torch.from_numpy(counts).to(self.unique.device,
                                           torch.float32 if counts.sum() < 1 << 24 else torch.float64)
        result = torch.ones(n, dtype=torch.float64, device=self.unique.device)
        total = sum(min(step, n - a) * (n - a) for a in range(0, n, step))
        done = reported = 0
        if progress is not None:
            progress(0, total)
        for a in range(0, n, step):
            x_a = self.one_hot(a, self.x_a)
            for b in range(a, n, step):
                x_b = x_a if b == a else self.one_hot(b, self.x_b)
                out = self.matches[:x_a.shape[0] * x_b.shape[0]].view(x_a.shape[0], x_b.shape[0])
                close = torch.mm(x_a, x_b.T, out=out)
                close = close.ge_(least).to(mult.dtype)  # no copy in float32
                result[a:a + close.shape[0]] += close @ mult[b:b + close.shape[1]]
                if b == a:
                    result[a:a + close.shape[0]] -= close.diagonal()
                else:
                    result[b:b + close.shape[1]] += close.T @ mult[a:a + close.shape[0]]
                done += close.numel()
                if progress is not None and (done - reported >= total / 200 or done == total):
                    progress(done, total)
                    reported = done
        return result


def m_eff(
    sequences: np.ndarray | torch.Tensor | MSA, threshold: float = 0.8, **kwargs
) -> float:
    """Effective number of sequences ``sum_m w_m`` with :func:`sequence_weights` (same options)."""
    return float(sequence_weights(sequences, threshold, **kwargs).sum())


def plmc_weights(msa: MSA, theta: float = 0.2, focus: str | None = None) -> np.ndarray:
    """Sequence weights exactly as plmc computes and saves them (``--save-weights``).

    plmc (src/plm.c, ``MSARead`` and ``MSAReweightSequences``):

    1. discards every sequence with a letter outside the alphabet (e.g. ``X``); its saved weight
       is 0 and it is nobody's neighbour — here, rows with ``msa.unknown_per_sequence > 0``;
    2. with a focus sequence (``-f NAME``) keeps only the columns where the focus is an upper-case
       residue (lower-case columns are already dropped by :func:`read_msa` for A2M files);
    3. counts identities over the kept columns with gap = gap a match, neighbour if
       ``id >= (1 - theta) * L``, self included: ``sequence_weights(..., 1 - theta, convention="plmc")``.

    Returns
    -------
    ndarray of shape (M,), with 0 for discarded sequences; its sum is plmc's
    "Effective number of samples".
    """
    valid = msa.unknown_per_sequence == 0
    columns = focus_columns(msa, focus) if focus is not None else np.arange(msa.length)
    weights = np.zeros(msa.n_sequences)
    sub = msa.sequences[valid][:, columns]
    weights[valid] = sequence_weights(sub, 1.0 - theta, convention="plmc", q=msa.q)
    return weights


def unique_sequences(sequences: np.ndarray | torch.Tensor | MSA) -> np.ndarray:
    """Indices (sorted) of the first occurrence of each distinct sequence, shape (M_unique,).

    adabmDCA removes exact duplicates before reweighting; ``seqs[unique_sequences(seqs)]`` does
    the same.
    """
    codes = _as_codes(sequences, long=False).cpu().numpy()
    _, first = np.unique(codes, axis=0, return_index=True)
    return np.sort(first)


def frequencies(
    sequences: np.ndarray | torch.Tensor | MSA,
    q: int,
    weights: np.ndarray | torch.Tensor | None = None,
    pseudocount: float = 0.0,
    *,
    chunk_size: int = 4096,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted one- and two-site frequencies with the usual DCA pseudocount.

    ``f_i(a) = (1 - λ) f_i^data(a) + λ / q`` and, for i != j,
    ``f_ij(a, b) = (1 - λ) f_ij^data(a, b) + λ / q^2``; the diagonal blocks are kept consistent,
    ``f_ii(a, b) = f_i(a) δ_ab`` (pseudocounted), so that ``sum_b f_ij(a, b) = f_i(a)`` for all i, j.
    The data frequencies are ``sum_m w_m δ(s^m_i, a) / sum_m w_m``.

    Parameters
    ----------
    sequences : ndarray or Tensor of shape (M, L) with codes, or an MSA
    q : int
    weights : array of shape (M,), optional
        Sequence weights (default uniform); they need not sum to 1.
    pseudocount : float
        λ in [0, 1].
    chunk_size : int
        Sequences per block of the accumulation.
    dtype : torch.dtype
        Output dtype (accumulation is in float64).

    Returns
    -------
    f_i : Tensor of shape (L, q)
    f_ij : Tensor of shape (L, L, q, q)
    """
    if not 0.0 <= pseudocount <= 1.0:
        raise ValueError(f"pseudocount must lie in [0, 1], got {pseudocount}")
    codes = _as_codes(sequences)
    n_seq, length = codes.shape
    if n_seq == 0:
        raise ValueError("no sequences")
    if int(codes.min()) < 0 or int(codes.max()) >= q:
        raise ValueError(f"codes must lie in 0..{q - 1}")
    if weights is None:
        w = torch.ones(n_seq, dtype=torch.float64)
    else:
        w = (weights if isinstance(weights, torch.Tensor) else torch.from_numpy(np.asarray(weights))).to(torch.float64)
        if w.shape != (n_seq,):
            raise ValueError(f"weights must have shape ({n_seq},), got {tuple(w.shape)}")
        if bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
    w = w.to(device)
    total = w.sum()
    fi = torch.zeros(length * q, dtype=torch.float64, device=w.device)
    fij = torch.zeros(length * q, length * q, dtype=torch.float64, device=w.device)
    for start in range(0, n_seq, chunk_size):
        x = torch.nn.functional.one_hot(codes[start:start + chunk_size].to(w.device), q)
        x = x.reshape(x.shape[0], -1).to(torch.float64)
        wx = x * w[start:start + chunk_size, None]
        fi += wx.sum(dim=0)
        fij += wx.T @ x
    fi = (fi / total).reshape(length, q)
    fij = (fij / total).reshape(length, q, length, q).permute(0, 2, 1, 3).contiguous()
    lam = float(pseudocount)
    fi = (1.0 - lam) * fi + lam / q
    fij = (1.0 - lam) * fij + lam / q**2
    diag = torch.arange(length)
    fij[diag, diag] = torch.diag_embed(fi)
    return fi.to(dtype), fij.to(dtype)


def connected_correlations(fi: torch.Tensor, fij: torch.Tensor) -> torch.Tensor:
    """Connected correlations ``C_ij(a, b) = f_ij(a, b) - f_i(a) f_j(b)``, shape (L, L, q, q).

    With the consistent diagonal of :func:`frequencies`, ``C_ii = diag(f_i) - f_i f_i^T``.
    """
    if fi.ndim != 2 or fij.shape != (fi.shape[0], fi.shape[0], fi.shape[1], fi.shape[1]):
        raise ValueError(f"expected f_i (L, q) and f_ij (L, L, q, q), got {tuple(fi.shape)} and {tuple(fij.shape)}")
    return fij - fi[:, None, :, None] * fi[None, :, None, :]
