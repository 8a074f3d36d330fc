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
from typing import Any, Callable

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


def _transposed_one_hot(codes: Tensor, rows: Tensor, n: int, ones: Tensor) -> Tensor:
    """The (n, b) matrix O^T of one chunk, O[m, rows[m, j]] = 1 (``rows`` (b, L): row (j, s_j) of
    the flattened couplings for each site, ``codes`` (b, L) the states s_j), as CSR with int32
    indices, built when the chunk's gradient is needed (a stable sort of each site's b codes: a few %
    of the chunk's cost; kept for every chunk it would be 8 bytes a code). A += O^T R adds each row
    of R to the L rows of A its sequence selects, a scatter with no (b L, n) intermediate. The
    columns of row (j, a) are the sequences with s_j = a in increasing order."""
    b, length = rows.shape
    crow = torch.zeros(n + 1, dtype=torch.int32, device=rows.device)
    crow[1:] = torch.bincount(rows.reshape(-1), minlength=n).cumsum(0)
    sequence = torch.argsort(codes.T, dim=1, stable=True)                      # (L, b)
    return _csr(crow, sequence.int().reshape(-1), ones[:b * length], (n, b))


def _csr(crow: Tensor, column: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A CSR matrix from its arrays (not checked: they are built here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(crow, column, values, shape, check_invariants=False)


def _compact(codes: Tensor, q: int) -> Tensor:
    """The codes in the smallest integer type that holds 0..q-1 (1 byte a code for q <= 256)."""
    return codes.to(torch.uint8 if q <= 256 else torch.int16 if q <= 2**15 else torch.int32)


class PottsObjective:
    """Negative weighted mean log pseudo-likelihood of Potts codes (docs/methods.md 9.3), called as
    ``objective(fields, couplings_flat)`` with the fields (L, q) and the symmetric flattened couplings
    (L q, L q) (zero diagonal blocks); ``weights`` sum to 1.

    The sum over sequences is taken over chunks of ``chunk_rows`` sequences (default: local fields
    of :data:`CHUNK_BYTES`), so memory does not grow with M: the codes are kept in one byte each,
    and a chunk's rows, one-hot matrix and fields are built when it is evaluated. Per chunk, the
    local fields h_i(a) + sum_j J_ij(a, s_j) of every site are one ``embedding_bag`` (J_flat is
    symmetric, so row (j, s_j) holds J_ij(a, s_j) in column (i, a)), then a log-softmax over the
    states, whose exponential becomes the residual in place. The gradient is written by hand: with
    R = w (P - onehot(s)), dF/dh = sum_m R_m and dF/dJ_flat = O^T R (O the one-hot matrix of the
    sequences, a sparse product), accumulated over the chunks in buffers kept between calls. Called
    with inputs that require gradients, the value carries them (a custom autograd function; the
    gradients handed back are those buffers, overwritten by the next evaluation); otherwise only
    the value is computed. :meth:`evaluate_packed` writes the gradient of the free parameters
    instead (G + G^T on the couplings J_ij, i < j: what the solver keeps), with no (L q)^2 buffer.
    """

    def __init__(self, codes: Tensor, weights: Tensor, q: int, chunk_rows: int | None = None):
        m, self.length = codes.shape
        self.q, n = q, self.length * q
        self.codes, self.weights = _compact(codes, q), weights
        self.offsets = torch.arange(self.length, device=codes.device) * q     # row of (j, 0)
        self.step = chunk_rows or max(1, CHUNK_BYTES // (n * weights.element_size()))
        self.ones = torch.ones(min(self.step, m) * self.length, dtype=weights.dtype, device=weights.device)
        self.gradients: tuple[Tensor, Tensor] | None = None

    def __call__(self, fields: Tensor, couplings_flat: Tensor) -> Tensor:
        if torch.is_grad_enabled() and (fields.requires_grad or couplings_flat.requires_grad):
            return _PottsPseudoLikelihood.apply(fields, couplings_flat, self)
        value = self.evaluate(fields, couplings_flat, gradient=False)
        return torch.tensor(value, dtype=fields.dtype, device=fields.device)

    def evaluate(self, fields: Tensor, couplings_flat: Tensor, gradient: bool) -> float:
        """The objective (a float64 sum over the chunks); with ``gradient``, its gradients in
        :attr:`gradients` (fields (L, q), couplings (L q, L q))."""
        if not gradient:
            return self._sum(fields, couplings_flat, None)
        self._zeroed_gradients(fields, couplings_flat)
        return self._sum(fields, couplings_flat, self._add_full)

    def evaluate_packed(self, fields: Tensor, couplings_flat: Tensor, out: Tensor) -> float:
        """The objective, its gradient written into ``out`` in the solver's layout
        (:meth:`packed_segments`): dF/dh, then dF/dJ_ij(a, b) for i < j of the symmetric couplings
        (G + G^T, G the gradient with respect to ``couplings_flat``). With no (L q)^2 gradient
        buffer: per chunk and site, two sparse products write the site's block (about twice the
        scatter of one product into the full matrix, docs/methods.md 9.3)."""
        out.zero_()
        n = self.length * self.q
        segments = self.packed_segments(out)
        def add(codes: Tensor, rows: Tensor, residual: Tensor) -> None:
            self._add_packed(codes, rows, residual, out[:n], segments)

        return self._sum(fields, couplings_flat, add)

    def packed_segments(self, vector: Tensor) -> list[Tensor]:
        """Views of a vector of the free parameters (the fields (L q), then the couplings of each
        site i with the sites j > i, row by row: plmc's L(L-1)/2 q^2): the (q, (L-1-i) q) block
        J_i,>i of each site i < L - 1."""
        length, q = self.length, self.q
        n = length * q
        sizes = [q * (n - (i + 1) * q) for i in range(length - 1)]
        return [part.view(q, -1) for part in torch.split(vector[n:n + sum(sizes)], sizes)]

    def _zeroed_gradients(self, fields: Tensor, couplings_flat: Tensor) -> None:
        if self.gradients is None or self.gradients[1].dtype != couplings_flat.dtype:
            self.gradients = (torch.zeros_like(fields), torch.zeros_like(couplings_flat))
        else:
            for g in self.gradients:
                g.zero_()

    def _sum(self, fields: Tensor, couplings_flat: Tensor,
             add: Callable[[Tensor, Tensor, Tensor], None] | None) -> float:
        """The objective over the chunks; each chunk's residual handed to ``add`` (the gradient)."""
        value = 0.0
        for start in range(0, len(self.codes), self.step):
            chunk = slice(start, start + self.step)
            value += self._chunk(self.codes[chunk], self.weights[chunk, None], fields, couplings_flat, add)
        return value

    def _chunk(self, codes: Tensor, weights: Tensor, fields: Tensor, couplings_flat: Tensor,
               add: Callable[[Tensor, Tensor, Tensor], None] | None) -> float:
        (b, length), q = codes.shape, self.q
        states = codes.long()
        rows = states + self.offsets                                              # (b, L)
        local = F.embedding_bag(rows, couplings_flat, mode="sum")                 # (b, L q)
        local += fields.reshape(1, -1)
        log_p = torch.log_softmax(local.view(b, length, q), -1)
        states = states.unsqueeze(-1)
        observed = log_p.gather(-1, states)                                        # (b, L, 1)
        value = -float(weights.reshape(-1).double() @ observed.sum((1, 2)).double())
        if add is not None:
            residual = log_p.exp_()                                                # P
            residual.scatter_add_(-1, states, torch.full_like(observed, -1.0))     # P - onehot
            add(codes, rows, residual.view(b, length * q).mul_(weights))           # R
        return value

    def _add_full(self, codes: Tensor, rows: Tensor, residual: Tensor) -> None:
        """dF/dh += sum_m R_m, dF/dJ_flat += O^T R into :attr:`gradients`."""
        grad_fields, grad_couplings = self.gradients
        grad_fields.add_(residual.sum(0).view(self.length, self.q))
        grad_couplings.addmm_(_transposed_one_hot(codes, rows, self.length * self.q, self.ones), residual)

    def _add_packed(self, codes: Tensor, rows: Tensor, residual: Tensor, grad_fields: Tensor,
                    segments: list[Tensor]) -> None:
        """The chunk's share of G + G^T on each site's block: with O_i the chunk's one-hot matrix
        of site i, block i gets O_i^T R_>i (rows (i, s_i)) + (O_>i^T R_i)^T (the sequences' states
        at the later sites), two products with row slices of one CSR matrix O^T."""
        q, n = self.q, self.length * self.q
        grad_fields.add_(residual.sum(0))
        scatter = _transposed_one_hot(codes, rows, n, self.ones)
        crow, column, ones = scatter.crow_indices(), scatter.col_indices(), scatter.values()
        bounds = crow[::q].tolist()                                  # the entries of each site's rows
        b = len(codes)
        by_site = residual.view(b, self.length, q)
        for i, segment in enumerate(segments):
            split, (first, last) = (i + 1) * q, bounds[i:i + 2]
            own = _csr(crow[i * q:split + 1] - first, column[first:last], ones[first:last], (q, b))
            segment.addmm_(own, residual[:, split:])
            later = _csr(crow[split:] - last, column[last:], ones[last:], (n - split, b))
            segment.add_((later @ by_site[:, i]).T)


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
