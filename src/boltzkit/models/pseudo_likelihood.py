"""Pseudo-likelihood objectives of the model families (Besag 1975; docs/methods.md section 5.1).

For a ±1 configuration s and a site i, with s^(i) the configuration with spin i flipped,

    log p(s_i | s_{\\i}) = -softplus(-ΔE_i),   ΔE_i = E(s^(i)) - E(s),

so the log pseudo-likelihood of any ±1 energy needs the N single-flip energy changes of every
sample, computed in one batched call: the model's own ``flip_energy_differences`` when it has the
:class:`~boltzkit.models.capabilities.SingleFlipEnergies` capability (closed form, or the
first-layer trick of the hybrid network), else the energy of a (M (N+1), N) batch of the samples
and their N flips. For Potts models the conditionals of every site and state come from one
``embedding_bag`` per chunk of sequences, with the gradient written by hand
(:class:`PottsObjective`). The solvers live in :mod:`boltzkit.training`.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.models.capabilities import SingleFlipEnergies
from boltzkit.models.statistics import normalised, weighted_mean

__all__ = ["flip_energy_differences", "pseudo_log_likelihood", "potts_objective", "PottsObjective",
           "merge_duplicates", "symmetric", "CHUNK_BYTES"]


def flip_energy_differences(model: Any, s: Tensor) -> Tensor:
    """ΔE_i = E(s^(i)) - E(s) for every sample and site, shape (M, N), of ±1 samples ``s`` (M, N)."""
    if isinstance(model, SingleFlipEnergies):
        return model.flip_energy_differences(s)
    m, n = s.shape
    flips = 1 - 2 * torch.eye(n, dtype=s.dtype, device=s.device)             # row i flips site i
    batch = torch.cat([s[:, None, :], s[:, None, :] * flips[None]], 1)        # (M, N+1, N)
    e = model.free_energy(batch.reshape(m * (n + 1), n)).view(m, n + 1)
    return e[:, 1:] - e[:, :1]


def pseudo_log_likelihood(model: Any, s: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean log pseudo-likelihood sum_i log p(s_i | s_{\\i}) of ±1 samples ``s`` (M, N).

    Parameters
    ----------
    model : an energy model on ±1 spins (``free_energy``, or ``flip_energy_differences``)
    s : Tensor of shape (M, N)
    weights : Tensor of shape (M,), optional
        Sample weights (normalised here).
    """
    log_cond = -F.softplus(-flip_energy_differences(model, s))                 # (M, N)
    return weighted_mean(log_cond, normalised(weights, log_cond)).sum()


def merge_duplicates(data: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct rows of ``data`` (M, L) with the summed weights of their copies."""
    unique, inverse = torch.unique(data, dim=0, return_inverse=True)
    merged = torch.zeros(len(unique), dtype=weights.dtype, device=weights.device)
    merged.index_add_(0, inverse.to(weights.device), weights)
    return unique, merged


def symmetric(raw: Tensor, mask: Tensor) -> Tensor:
    """(raw + raw^T) / 2 with the masked entries (self-couplings) set to zero."""
    return 0.5 * (raw + raw.T) * mask


#: Bytes of one chunk's local fields (rows x L q values in the model's dtype): with the couplings
#: and their gradient, the Potts objective's working memory, whatever the number of sequences.
#: Smaller chunks keep a chunk's values in cache; larger ones make fewer passes over the coupling
#: gradient that each chunk's scatter sweeps (2 MiB: the faster of both at L = 53 and L = 202).
CHUNK_BYTES = 2 << 20


class _Chunk(NamedTuple):
    rows: Tensor        # (b, L) int64: row (j, s_j) of the flattened couplings for each site j
    weights: Tensor     # (b, 1)
    scatter: Tensor     # sparse CSR (L q, b): the transposed one-hot matrix of the chunk


def _transposed_one_hot(rows: Tensor, n: int, ones: Tensor) -> Tensor:
    """The (n, b) matrix O^T with O[m, rows[m, j]] = 1, as CSR (int32 indices): A += O^T R adds each
    row of R to the L rows of A its sequence selects, a scatter with no (b L, n) intermediate."""
    b, length = rows.shape
    flat = rows.reshape(-1)
    order = torch.argsort(flat, stable=True)
    crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.bincount(flat, minlength=n).cumsum(0)
    sequence = torch.div(order, length, rounding_mode="floor")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(crow.int(), sequence.int(), ones[:b * length], (n, b),
                                       check_invariants=False)


class PottsObjective:
    """Negative weighted mean log pseudo-likelihood of Potts codes (docs/methods.md 9.3), called as
    ``objective(fields, couplings_flat)`` with the fields (L, q) and the symmetric flattened couplings
    (L q, L q) (zero diagonal blocks); ``weights`` sum to 1.

    The sum over sequences is taken over chunks of ``chunk_rows`` sequences (default: local fields
    of :data:`CHUNK_BYTES`), so memory does not grow with M. Per chunk, the local fields
    h_i(a) + sum_j J_ij(a, s_j) of every site are one ``embedding_bag`` (J_flat is symmetric, so row
    (j, s_j) holds J_ij(a, s_j) in column (i, a)), then a log-softmax over the states, whose
    exponential becomes the residual in place. The gradient is written by hand: with
    R = w (P - onehot(s)), dF/dh = sum_m R_m and dF/dJ_flat = O^T R (O the one-hot matrix of the
    sequences, a sparse product), accumulated over the chunks in buffers kept between calls. Called with inputs that require gradients, the value
    carries them (a custom autograd function; the gradients handed back are those buffers,
    overwritten by the next evaluation); otherwise only the value is computed.
    """

    def __init__(self, codes: Tensor, weights: Tensor, q: int, chunk_rows: int | None = None):
        m, self.length = codes.shape
        self.q, n = q, self.length * q
        rows = codes.long() + torch.arange(self.length, device=codes.device) * q
        step = chunk_rows or max(1, CHUNK_BYTES // (n * weights.element_size()))
        ones = torch.ones(min(step, m) * self.length, dtype=weights.dtype, device=weights.device)
        self.chunks = [_Chunk(rows[s:s + step], weights[s:s + step, None],
                              _transposed_one_hot(rows[s:s + step], n, ones)) for s in range(0, m, step)]
        self.gradients: tuple[Tensor, Tensor] | None = None

    def __call__(self, fields: Tensor, couplings_flat: Tensor) -> Tensor:
        if torch.is_grad_enabled() and (fields.requires_grad or couplings_flat.requires_grad):
            return _PottsPseudoLikelihood.apply(fields, couplings_flat, self)
        value = self.evaluate(fields, couplings_flat, gradient=False)
        return torch.tensor(value, dtype=fields.dtype, device=fields.device)

    def evaluate(self, fields: Tensor, couplings_flat: Tensor, gradient: bool) -> float:
        """The objective (a float64 sum over the chunks); with ``gradient``, its gradients in
        :attr:`gradients` (fields (L, q), couplings (L q, L q))."""
        if gradient:
            self._zeroed_gradients(fields, couplings_flat)
        value = 0.0
        for chunk in self.chunks:
            value += self._chunk(chunk, fields, couplings_flat, gradient)
        return value

    def _zeroed_gradients(self, fields: Tensor, couplings_flat: Tensor) -> None:
        if self.gradients is None or self.gradients[1].dtype != couplings_flat.dtype:
            self.gradients = (torch.zeros_like(fields), torch.zeros_like(couplings_flat))
        else:
            for g in self.gradients:
                g.zero_()

    def _chunk(self, chunk: _Chunk, fields: Tensor, couplings_flat: Tensor, gradient: bool) -> float:
        b, length, q = len(chunk.rows), self.length, self.q
        local = F.embedding_bag(chunk.rows, couplings_flat, mode="sum")           # (b, L q)
        local += fields.reshape(1, -1)
        log_p = torch.log_softmax(local.view(b, length, q), -1)
        codes = (chunk.rows - torch.arange(length, device=local.device) * q).unsqueeze(-1)
        observed = log_p.gather(-1, codes)                                         # (b, L, 1)
        value = -float(chunk.weights.reshape(-1).double() @ observed.sum((1, 2)).double())
        if gradient:
            residual = log_p.exp_()                                                # P
            residual.scatter_add_(-1, codes, torch.full_like(observed, -1.0))      # P - onehot
            residual = residual.view(b, length * q).mul_(chunk.weights)            # R
            grad_fields, grad_couplings = self.gradients
            grad_fields.add_(residual.sum(0).view(length, q))
            grad_couplings.addmm_(chunk.scatter, residual)
        return value


class _PottsPseudoLikelihood(torch.autograd.Function):
    """The value of a :class:`PottsObjective` with its hand-written gradient."""

    @staticmethod
    def forward(ctx, fields: Tensor, couplings_flat: Tensor, objective: PottsObjective) -> Tensor:
        value = objective.evaluate(fields, couplings_flat, gradient=True)
        ctx.objective = objective
        return torch.tensor(value, dtype=fields.dtype, device=fields.device)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        grad_fields, grad_couplings = ctx.objective.gradients
        if float(grad_output) != 1.0:
            grad_fields.mul_(grad_output)
            grad_couplings.mul_(grad_output)
        return grad_fields, grad_couplings, None


def potts_objective(codes: Tensor, weights: Tensor, q: int,
                    chunk_rows: int | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """Negative weighted mean log pseudo-likelihood of codes (M, L) as a function of the fields
    (L, q) and the symmetric flattened couplings (L q, L q); ``weights`` sum to 1 (a
    :class:`PottsObjective`)."""
    return PottsObjective(codes, weights, q, chunk_rows)
