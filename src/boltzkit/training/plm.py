"""Pseudo-likelihood maximisation (plmDCA) for pairwise Potts and Ising models.

The pseudo-likelihood replaces log p(s) by sum_i log p(s_i | s_-i), whose normaliser is a sum over
the q states of one site (Besag 1975; Ekeberg, Lovkvist, Lan, Weigt, Aurell, PRE 87, 012707 (2013)).
Objective minimised here (the *symmetric* plmDCA: J_ij(a, b) = J_ji(b, a) is one parameter from
the start, optimised jointly with the fields)::

    f(h, J) = - (1 / sum_m w_m) sum_m w_m sum_i log p(s_i^m | s_-i^m)
              + lambda_h sum_i ||h_i||^2 + lambda_J sum_{i<j} ||J_ij||^2

with sequence weights w_m (uniform by default). **Convention.** The data term is normalised by the
effective number of sequences M_eff = sum_m w_m, so the penalties are per-sequence quantities and
are not rescaled with the alignment size or with L and q; the defaults are
``lambda_h = lambda_J = 0.01`` (the values of plmDCA, whose objective is normalised the same way).
Conversions: a code that penalises the *unnormalised* sum (plmc) with lambda' corresponds to
lambda' / M_eff here; an asymmetric plmDCA penalises lambda sum_{j != i} ||J_ij||^2 in each of the
L site problems, i.e. every pair twice, which is 2 lambda here. With the defaults, PF00014
(M_eff = 4364) gives a top-L contact precision of 1.00 (benchmarks/plm_pf00014_contacts.py).

All conditionals are computed at once: for Potts models the local fields of every site and
state, h_i(a) + sum_{j != i} J_ij(a, s_j), shape (M, L, q), are one ``embedding_bag`` (a sum of
the rows of the flattened coupling matrix selected by each sequence); Ising models use the
generic ±1 pseudo-likelihood of :mod:`boltzkit.training.pseudo_likelihood` (the one the hybrid
EBM trains with), log p(s_i | s_-i) = -softplus(-ΔE_i) with the single-flip energy changes
ΔE_i = 2 s_i (h_i + sum_j J_ij s_j), shape (M, N). Duplicate configurations are merged first
(their weights add up).

Solvers: L-BFGS (``torch.optim.LBFGS`` with strong-Wolfe line search, default) or Adam. The
returned Potts model is in the zero-sum gauge (:meth:`PottsModel.zero_sum_gauge`), which leaves the
distribution unchanged; the Ising model has no gauge freedom besides a constant.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.training.pseudo_likelihood import pseudo_log_likelihood as spin_pll

__all__ = ["fit_plm", "pseudo_log_likelihood", "SOLVERS"]

SOLVERS = ("lbfgs", "adam")


def _merge_duplicates(data: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    unique, inverse = torch.unique(data, dim=0, return_inverse=True)
    merged = torch.zeros(len(unique), dtype=weights.dtype, device=weights.device)
    merged.index_add_(0, inverse.to(weights.device), weights)
    return unique, merged


def _symmetric(raw: Tensor, mask: Tensor) -> Tensor:
    return 0.5 * (raw + raw.T) * mask


def _potts_objective(codes: Tensor, weights: Tensor, q: int) -> Callable[[Tensor, Tensor], Tensor]:
    """Negative weighted mean log pseudo-likelihood of codes (M, L) as a function of (h, J_flat)."""
    length = codes.shape[1]
    rows = codes + torch.arange(length, device=codes.device) * q  # row (j, s_j) of J_flat
    observed = codes.unsqueeze(-1)

    def objective(fields: Tensor, couplings_flat: Tensor) -> Tensor:
        # J_flat is symmetric, so row (j, s_j) holds J_ij(a, s_j) in column (i, a)
        local = F.embedding_bag(rows, couplings_flat, mode="sum").view(-1, length, q) + fields
        log_p = local.gather(-1, observed).squeeze(-1) - torch.logsumexp(local, -1)
        return -(weights @ log_p.sum(-1))

    return objective


def _ising_objective(spins: Tensor, weights: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    """Negative weighted mean log pseudo-likelihood of ±1 spins (M, N) as a function of (h, J)."""
    def objective(fields: Tensor, couplings: Tensor) -> Tensor:
        return -spin_pll(IsingModel(fields, couplings), spins, weights)

    return objective


@torch.no_grad()
def pseudo_log_likelihood(model: PottsModel | IsingModel, data: Tensor,
                          weights: Tensor | None = None) -> float:
    """Weighted mean over configurations of sum_i log p(s_i | s_-i) under ``model``.

    Parameters
    ----------
    data : Tensor of shape (M, L): codes (Potts) or ±1 spins (Ising)
    weights : Tensor of shape (M,), optional
    """
    data = data.to(model.device)
    w = torch.ones(len(data), dtype=torch.float64, device=model.device) if weights is None \
        else weights.to(model.device, torch.float64)
    w = (w / w.sum()).to(model.dtype)
    if isinstance(model, PottsModel):
        objective = _potts_objective(data.long(), w, model.n_states)
        return -float(objective(model.fields, model.flat_couplings()))
    return float(spin_pll(model, data.to(model.dtype), w))


def fit_plm(data: Tensor | np.ndarray, kind: str = "potts-bm", q: int | None = None,
            weights: Tensor | np.ndarray | None = None, lambda_h: float = 0.01,
            lambda_J: float = 0.01, solver: str = "lbfgs", max_iter: int = 500,
            tolerance: float = 1e-6, learning_rate: float = 0.05, history_size: int = 20,
            dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
            callback: Callable[[int, float], None] | None = None) -> PottsModel | IsingModel:
    """Fit a pairwise model by (symmetric, L2-regularised) pseudo-likelihood maximisation.

    Parameters
    ----------
    data : array of shape (M, L)
        ``kind="potts-bm"``: integer codes 0..q-1 (e.g. ``read_msa(...).sequences``);
        ``kind="ising-bm"``: ±1 spins.
    kind : "potts-bm" or "ising-bm"
    q : int, optional
        Number of states (Potts; default: largest code + 1).
    weights : array of shape (M,), optional
        Sequence weights (e.g. :func:`boltzkit.data.reweighting.sequence_weights`).
    lambda_h, lambda_J : float
        L2 strengths, in the normalisation of the module docstring.
    solver : "lbfgs" or "adam"
    max_iter : int
        L-BFGS iterations (each may take a few function evaluations) or Adam steps.
    tolerance : float
        L-BFGS stops when the largest gradient entry falls below it, or when the objective changes
        by less than ``tolerance * 1e-3`` between iterations.
    learning_rate : float
        Adam's step size (L-BFGS uses a line search).
    dtype, device : where and in which precision to optimise (float64 for tight references).
    callback : called as ``callback(k, objective)`` after the k-th evaluation of the objective
        (L-BFGS: a few per iteration; Adam: one per step).

    Returns
    -------
    PottsModel in the zero-sum gauge (fields (L, q), couplings (L, L, q, q)), or IsingModel.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r} (choose {', '.join(SOLVERS)})")
    if kind not in (PottsModel.kind, IsingModel.kind):
        raise ValueError(f"pseudo-likelihood fits pairwise models: kind 'potts-bm' or 'ising-bm', "
                         f"not {kind!r}")
    x = data if isinstance(data, Tensor) else torch.from_numpy(np.asarray(data))
    if x.ndim != 2:
        raise ValueError(f"data must have shape (M, L), got {tuple(x.shape)}")
    x = x.to(device)
    w = torch.ones(len(x), dtype=torch.float64) if weights is None else (
        weights if isinstance(weights, Tensor) else torch.from_numpy(np.asarray(weights))).double()
    w = w.to(device)
    if w.shape != (len(x),) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError("weights must be non-negative, of shape (M,), with a positive sum")
    if kind == PottsModel.kind:
        x = x.long()
        q = int(x.max()) + 1 if q is None else int(q)
        if int(x.min()) < 0 or int(x.max()) >= q:
            raise ValueError(f"codes must lie in 0..{q - 1}")
    else:
        x = x.to(dtype)
        if not bool(((x == 1) | (x == -1)).all()):
            raise ValueError("Ising data must be ±1 spins")
    x, w = _merge_duplicates(x, w)
    w = (w / w.sum()).to(dtype)
    length = x.shape[1]

    if kind == PottsModel.kind:
        n = length * q
        block = torch.arange(n, device=device) // q
        mask = (block[:, None] != block[None, :]).to(dtype)
        fields = torch.zeros(length, q, dtype=dtype, device=device, requires_grad=True)
        objective = _potts_objective(x, w, q)
    else:
        n = length
        mask = 1.0 - torch.eye(n, dtype=dtype, device=device)
        fields = torch.zeros(length, dtype=dtype, device=device, requires_grad=True)
        objective = _ising_objective(x, w)
    raw = torch.zeros(n, n, dtype=dtype, device=device, requires_grad=True)

    def loss() -> Tensor:
        couplings = _symmetric(raw, mask)
        # sum_{i<j} ||J_ij||^2 is half the squared norm of the full symmetric matrix
        penalty = lambda_h * fields.pow(2).sum() + 0.5 * lambda_J * couplings.pow(2).sum()
        return objective(fields, couplings) + penalty

    params = [fields, raw]
    if solver == "lbfgs":
        optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                                      history_size=history_size,
                                      tolerance_grad=tolerance, tolerance_change=tolerance * 1e-3,
                                      line_search_fn="strong_wolfe")
        evaluations = [0]

        def closure() -> Tensor:
            optimizer.zero_grad()
            value = loss()
            value.backward()
            evaluations[0] += 1
            if callback is not None:
                callback(evaluations[0], float(value.detach()))
            return value

        optimizer.step(closure)  # runs up to max_iter iterations
    else:
        optimizer = torch.optim.Adam(params, lr=learning_rate)
        for it in range(max_iter):
            optimizer.zero_grad()
            value = loss()
            value.backward()
            optimizer.step()
            if callback is not None:
                callback(it + 1, float(value.detach()))

    with torch.no_grad():
        couplings = _symmetric(raw, mask).detach()
        if kind == PottsModel.kind:
            j = couplings.reshape(length, q, length, q).permute(0, 2, 1, 3).contiguous()
            return PottsModel(fields.detach().clone(), j).zero_sum_gauge()
        return IsingModel(fields.detach().clone(), couplings.clone())
