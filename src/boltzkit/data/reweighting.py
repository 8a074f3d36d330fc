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
``(X_a X_b^T)_{st} = #matches`` (exact in float32 for L < 2^24): no loop over pairs of sequences,
memory bounded by ``chunk_size``. Exact duplicates are grouped first (same neighbourhood), so the
cost is that of the distinct sequences.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from boltzkit.data.msa import MSA, focus_columns

__all__ = ["connected_correlations", "frequencies", "m_eff", "plmc_weights", "sequence_weights",
           "unique_sequences"]

_CONVENTIONS = ("plmc", "morcos")


def _as_codes(sequences: np.ndarray | torch.Tensor | MSA) -> torch.Tensor:
    if isinstance(sequences, MSA):
        sequences = sequences.sequences
    codes = sequences if isinstance(sequences, torch.Tensor) else torch.from_numpy(np.asarray(sequences))
    if codes.ndim != 2:
        raise ValueError(f"sequences must have shape (M, L), got {tuple(codes.shape)}")
    if codes.is_floating_point():
        raise ValueError("sequences must be integer codes, not floats")
    return codes.long()


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
    """Inverse neighbourhood-size weights ``w_m = 1 / (1 + #{t != m : identity(m, t) reaches threshold})``.

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
        Rows per block of the identity matrix; memory ~ chunk_size^2 floats plus the one-hot
        matrix M_unique * L * q float32.
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
    if q is None and isinstance(sequences, MSA):
        q = sequences.q
    codes = _as_codes(sequences)
    n_seq, length = codes.shape
    if n_seq == 0:
        return np.zeros(0)
    q = int(codes.max()) + 1 if q is None else q
    if int(codes.min()) < 0 or int(codes.max()) >= q:
        raise ValueError(f"codes must lie in 0..{q - 1}")
    # Identical sequences have identical neighbourhoods: work on the distinct sequences with their
    # multiplicities (exact, and M_unique^2 instead of M^2 work; real MSAs often repeat a third).
    unique, inverse, counts = np.unique(codes.cpu().numpy(), axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    n_unique = unique.shape[0]
    onehot = torch.nn.functional.one_hot(torch.from_numpy(unique).to(device), num_classes=q).to(torch.float32)
    if not count_gaps:
        onehot = onehot[:, :, 1:]
    onehot = onehot.reshape(n_unique, -1)
    mult = torch.from_numpy(counts).to(device=onehot.device, dtype=torch.float64)
    # Same float64 arithmetic as plmc's `id >= (1 - theta) * nSites`, so boundaries agree exactly.
    cutoff = threshold * length
    # For a sequence of distinct-sequence class u: n = 1 (self) + sum_v mult_v close[u, v] - close[u, u].
    # Self always counts, even when count_gaps=False leaves a gappy sequence below the threshold
    # with itself; its duplicates count when close[u, u] holds (plmc: count from 1 over t != s).
    neighbours = torch.ones(n_unique, dtype=torch.float64, device=onehot.device)
    # progress: the entries of the blocks (a, b >= a) computed, reported every 0.5 % at most
    total = sum(min(chunk_size, n_unique - a) * (n_unique - a) for a in range(0, n_unique, chunk_size))
    done = reported = 0
    if progress is not None:
        progress(0, total)
    # The identity matrix is symmetric: visit only blocks (a, b) with b >= a.
    for start_a in range(0, n_unique, chunk_size):
        block_a = onehot[start_a:start_a + chunk_size]
        rows_a = slice(start_a, start_a + block_a.shape[0])
        for start_b in range(start_a, n_unique, chunk_size):
            matches = block_a @ onehot[start_b:start_b + chunk_size].T
            close = ((matches >= cutoff) if convention == "plmc" else (matches > cutoff)).to(torch.float64)
            rows_b = slice(start_b, start_b + close.shape[1])
            neighbours[rows_a] += close @ mult[rows_b]
            if start_b == start_a:
                neighbours[rows_a] -= close.diagonal()
            else:
                neighbours[rows_b] += close.T @ mult[rows_a]
            done += close.numel()
            if progress is not None and (done - reported >= total / 200 or done == total):
                progress(done, total)
                reported = done
    neighbours = neighbours[torch.from_numpy(inverse).to(neighbours.device)]
    return (1.0 / neighbours).cpu().numpy()


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
    codes = _as_codes(sequences).cpu().numpy()
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
