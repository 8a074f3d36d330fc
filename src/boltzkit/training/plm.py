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

Potts conditionals (:class:`~boltzkit.models.pseudo_likelihood.PottsObjective`): over chunks of
sequences, the local fields of every site and state, h_i(a) + sum_{j != i} J_ij(a, s_j), are one
``embedding_bag`` (a sum of the rows of the flattened coupling matrix selected by each sequence),
and the gradient is written by hand, directly in the solver's layout (the free couplings J_ij,
i < j: no (L q)^2 gradient matrix), so the working memory does not grow with the number of
sequences (the codes are kept in one byte each). Ising models use the generic ±1 pseudo-likelihood of
:mod:`boltzkit.models.pseudo_likelihood` (the one the hybrid EBM trains with),
log p(s_i | s_-i) = -softplus(-ΔE_i) with the single-flip energy changes
ΔE_i = 2 s_i (h_i + sum_j J_ij s_j), shape (M, N). Duplicate configurations are merged first
(their weights add up).

Parameters: the solver sees one vector, the fields and the couplings J_ij for i < j only (the
free entries of the symmetric matrix, plmc's layout: L(L-1)/2 q^2 for Potts), so every vector it
keeps is half the full (L q)^2 matrix. Solvers (docs/methods.md 9.3): L-BFGS with a strong-Wolfe
line search (default; the iteration and stopping rules of ``torch.optim.LBFGS``, written here with
its vectors allocated once: 4 + 2 ``history_size`` of them, a history of 6 pairs as plmc's; the
line search's trial points x + t d are written straight into the coupling matrix the objective
reads, never into a vector of their own), or Adam. The returned Potts model is in the zero-sum
gauge (:meth:`PottsModel.zero_sum_gauge`), which leaves the distribution unchanged; the Ising model
has no gauge freedom besides a constant.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from boltzkit.checks import integer, number
from boltzkit.errors import InvalidValue
from boltzkit.models.capabilities import PackedGradient, PseudoLikelihood, PseudoLikelihoodProblem
from boltzkit.models.pseudo_likelihood import merge_duplicates
from boltzkit.models.registry import family
from boltzkit import distributed

__all__ = ["fit_plm", "pseudo_log_likelihood", "SOLVERS"]

SOLVERS = ("lbfgs", "adam")


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))


#: Rows of the data checked against the model's values at a time.
_CHECK_ROWS = 4096


def _value_dtype(model: Any) -> torch.dtype:
    """The smallest type that holds the model's discrete values exactly (codes 0..q-1, ±1, 0/1: one
    byte a value for q <= 127), the model's dtype for real values."""
    space = model.visible
    if space.real:
        return model.dtype
    return torch.int8 if space.n_states <= 127 else torch.int16 if space.n_states < 2**15 else torch.int32


def _prepared(model: Any, data: Any, weights: Any) -> tuple[Tensor, Tensor]:
    """Data checked against the model's visible values, duplicates merged, in the smallest type that
    holds them (:func:`_value_dtype`; the merged rows are the same in any type); weights normalised."""
    x = _as_tensor(data)
    if x.ndim != 2 or x.shape[1] != model.n_visible:
        raise InvalidValue(f"data must have shape (M, {model.n_visible}), got {tuple(x.shape)}")
    for block in torch.split(x, _CHECK_ROWS):  # in blocks: no float64 copy of the whole data
        model.visible.check(block.double().cpu().numpy(), "data")
    x = x.to(model.device, _value_dtype(model))
    w = torch.ones(len(x), dtype=torch.float64) if weights is None else _as_tensor(weights).double()
    w = w.to(model.device)
    if w.shape != (len(x),) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise InvalidValue("weights must be non-negative, of shape (M,), with a positive sum")
    x, w = merge_duplicates(x, w)
    return x, (w / w.sum()).to(model.dtype)


@torch.no_grad()
def pseudo_log_likelihood(model: Any, data: Tensor, weights: Tensor | None = None) -> float:
    """Weighted mean over configurations of sum_i log p(s_i | s_-i) under a pairwise ``model``.

    Parameters
    ----------
    data : Tensor of shape (M, L): codes (Potts) or ±1 spins (Ising)
    weights : Tensor of shape (M,), optional
    """
    data = data.to(model.device)
    w = torch.ones(len(data), dtype=torch.float64, device=model.device) if weights is None \
        else weights.to(model.device, torch.float64)
    problem = model.pseudo_likelihood_problem(data.to(model.dtype), (w / w.sum()).to(model.dtype))
    fields, couplings = model.parameters()["fields"], model.parameters()["couplings"]
    flat = couplings.permute(0, 2, 1, 3).reshape(problem.couplings_shape) if couplings.ndim == 4 \
        else couplings
    return -float(problem.objective(fields, flat))


def _template(kind_or_model: Any, data: Tensor, q: int | None, dtype: torch.dtype,
              device: str | torch.device) -> Any:
    """The model whose pseudo-likelihood is maximised: given, or built for the family ``kind``."""
    if not isinstance(kind_or_model, str):
        model = kind_or_model.to(device, dtype)
    else:
        entry = family(kind_or_model, "fit_plm")
        x = _as_tensor(data)
        n_states = (int(x.max()) + 1 if x.numel() else 2) if q is None else int(q)
        space = entry.space(n_states)
        model = entry.build(torch.zeros(1, x.shape[-1], dtype=dtype, device=device), None, space, {}, 0)
    if not isinstance(model, PseudoLikelihood):
        raise InvalidValue(f"pseudo-likelihood fits pairwise models; the {model.kind} family has "
                           "no PseudoLikelihood capability")
    return model


def fit_plm(data: Tensor | np.ndarray, kind: Any, q: int | None = None,
            weights: Tensor | np.ndarray | None = None, lambda_h: float = 0.01,
            lambda_J: float = 0.01, solver: str = "lbfgs", max_iter: int = 500,
            tolerance: float = 1e-6, learning_rate: float = 0.05, history_size: int = 6,
            dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
            callback: Callable[[int, float], None] | None = None) -> Any:
    """Fit a pairwise model by (symmetric, L2-regularised) pseudo-likelihood maximisation.

    Parameters
    ----------
    data : array of shape (M, L)
        The model's visible values: integer codes 0..q-1 for a Potts model (e.g.
        ``read_msa(...).sequences``), ±1 spins for an Ising model.
    kind : str or model
        A registered family with the :class:`~boltzkit.models.capabilities.PseudoLikelihood`
        capability (``"potts-bm"``, ``"ising-bm"``), or a model of one (its size and sampler are
        kept, its parameters ignored).
    q : int, optional
        Number of states of a categorical family (default: largest code + 1).
    weights : array of shape (M,), optional
        Sequence weights (e.g. :func:`boltzkit.data.reweighting.sequence_weights`).
    lambda_h, lambda_J : float
        L2 strengths, in the normalisation of the module docstring.
    solver : "lbfgs" or "adam"
    max_iter : int
        L-BFGS iterations (each may take a few function evaluations; at most ``2 max_iter``
        evaluations in all) or Adam steps.
    tolerance : float
        L-BFGS stops when the largest gradient entry falls below it, or when the objective changes
        by less than ``tolerance * 1e-3`` between iterations.
    learning_rate : float
        Adam's step size (L-BFGS uses a line search).
    history_size : int
        L-BFGS: the number of (step, gradient change) pairs kept, each two vectors of the free
        parameters (6, plmc's: at L = 202 the history is then 0.4 GiB in float32 instead of
        1.4 GiB with 20, for about as many evaluations: 143 against 153; at L = 53, 105 against 84).
    dtype, device : where and in which precision to optimise (float64 for tight references).
    callback : called as ``callback(k, objective)`` after the k-th evaluation of the objective
        (L-BFGS: a few per iteration; Adam: one per step).

    Returns
    -------
    The fitted model: a Potts model in the zero-sum gauge (fields (L, q), couplings (L, L, q, q)),
    or an Ising model (fields (N,), couplings (N, N)).
    """
    if solver not in SOLVERS:
        raise InvalidValue(f"unknown solver {solver!r} (choose {', '.join(SOLVERS)})")
    _check_settings(lambda_h, lambda_J, max_iter, tolerance, learning_rate, history_size)
    model = _template(kind, data, q, dtype, device)
    x, w = _prepared(model, data, weights)
    ranks = distributed.current()
    rows = _rows_of(len(x), ranks)  # a process group: this rank's sequences (weights sum to 1 overall)
    problem = model.pseudo_likelihood_problem(x[rows], w[rows])
    del x, w
    packed = _Packed(problem)
    objective, build = problem.objective, problem.build
    del problem  # its mask (a byte an entry of the coupling matrix) is in the packing's blocks
    theta = packed.initial()
    evaluate = _penalised(objective, packed, lambda_h, lambda_J, ranks)
    _minimise(evaluate, theta, solver, max_iter, tolerance, learning_rate, history_size, callback)
    fields, couplings = packed.unpack(theta)
    return build(fields.clone(), couplings)


def _check_settings(lambda_h: float, lambda_J: float, max_iter: int, tolerance: float,
                    learning_rate: float, history_size: int) -> None:
    number(lambda_h, "lambda_h", 0.0)
    number(lambda_J, "lambda_J", 0.0)
    integer(max_iter, "max_iter", 1)
    number(tolerance, "tolerance", 0.0)
    number(learning_rate, "learning_rate", 0.0, low_open=True)
    integer(history_size, "history_size", 1)


def _diagonal_blocks(mask: Tensor) -> list[tuple[int, int]]:
    """The blocks [start, stop) of a coupling mask that is zero exactly on diagonal blocks (Potts:
    the q states of a site; Ising: each spin alone), in order; a one-line error for any other mask."""
    # mask.to(bool), not mask != 0: that widens a boolean mask to int64 (8 bytes an entry)
    free, n, blocks, start = mask.to(torch.bool), mask.shape[0], [], 0
    while start < n:
        after = free[start, start:].nonzero()
        stop = start + (int(after[0]) if len(after) else n - start)
        rows = free[start:stop]
        size = stop - start
        if size == 0 or bool(rows[:, start:stop].any()) or int(rows.sum()) != size * (n - size):
            raise InvalidValue("pseudo-likelihood: the coupling mask must be zero exactly on diagonal "
                               "blocks (the self-couplings of each site)")
        blocks.append((start, stop))
        start = stop
    return blocks


class _Packed:
    """The free parameters of a pseudo-likelihood problem as one vector: the fields, then the
    coupling entries of the strict upper triangle where the mask is non-zero, row by row. A
    symmetric matrix with zero masked entries has exactly these degrees of freedom (N(N-1)/2 for
    Ising spins, L(L-1)/2 q^2 for Potts sites, plmc's layout), so the solver's vectors (L-BFGS
    history, Adam moments) are half those of the full matrix. The mask is zero on diagonal blocks
    (a site's states), so the free entries of block [a, b)'s rows are the columns b.. of those rows:
    one (b - a, n - b) segment of the vector per block, copied block by block with no index or
    second matrix. :meth:`unpack` writes the symmetric matrix into one buffer; :meth:`pack_gradient`
    folds a gradient with respect to the full matrix, G + G^T on the free entries (each appears
    twice)."""

    def __init__(self, problem: PseudoLikelihoodProblem):
        self.fields_shape = problem.fields.shape
        self.n_fields = problem.fields.numel()
        n = problem.couplings_shape[0]
        self.blocks = _diagonal_blocks(problem.mask)
        self.sizes = [(stop - start) * (n - stop) for start, stop in self.blocks]
        self.n_couplings = sum(self.sizes)
        self.start = problem.fields.reshape(-1)
        self.fields = torch.empty_like(problem.fields)
        self.couplings = torch.zeros(problem.couplings_shape, dtype=problem.fields.dtype,
                                     device=problem.fields.device)

    def initial(self) -> Tensor:
        theta = torch.zeros(self.n_fields + self.n_couplings, dtype=self.start.dtype,
                            device=self.start.device)
        theta[:self.n_fields] = self.start
        return theta

    def _segments(self, vector: Tensor) -> list[tuple[int, int, Tensor]]:
        """(start, stop, the (stop - start, n - stop) view of ``vector``'s couplings) of each block."""
        n = self.couplings.shape[1]
        parts = torch.split(vector[self.n_fields:], self.sizes)
        return [(a, b, part.view(b - a, n - b)) for (a, b), part in zip(self.blocks, parts)]

    def unpack(self, theta: Tensor, t: float = 0.0, d: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The fields and the symmetric couplings of theta + t d (``d`` None: of theta), in two
        buffers rewritten by every call (the couplings' diagonal blocks stay zero); the point
        itself is not stored."""
        with torch.no_grad():
            fields = self.fields.view(-1)
            steps = self._segments(d) if d is not None else None
            for k, (a, b, segment) in enumerate(self._segments(theta)):
                upper = self.couplings[a:b, b:]
                if steps is None:
                    upper.copy_(segment)
                else:
                    torch.add(segment, steps[k][2], alpha=t, out=upper)
                self.couplings[b:, a:b] = upper.T
            if d is None:
                fields.copy_(theta[:self.n_fields])
            else:
                torch.add(theta[:self.n_fields], d[:self.n_fields], alpha=t, out=fields)
        return self.fields, self.couplings

    def couplings_norm2(self) -> float:
        """sum_{i<j} ||J_ij||^2 of the last point: half the squared norm of the symmetric buffer
        (each free entry appears twice), one float32 dot per block of rows summed in float64."""
        total = 0.0
        for a, b in self.blocks:
            rows = self.couplings[a:b].reshape(-1)
            total += float(rows.dot(rows))
        return 0.5 * total

    def add_couplings(self, out: Tensor, alpha: float) -> None:
        """out's couplings += alpha * the free entries of the couplings buffer (the last point)."""
        for a, b, segment in self._segments(out):
            segment.add_(self.couplings[a:b, b:], alpha=alpha)

    def pack_gradient(self, grad_fields: Tensor, grad_couplings: Tensor, out: Tensor) -> None:
        out[:self.n_fields] = grad_fields.reshape(-1)
        for a, b, segment in self._segments(out):
            torch.add(grad_couplings[a:b, b:], grad_couplings[b:, a:b].T, out=segment)


def _penalised(objective: Callable[[Tensor, Tensor], Tensor], packed: _Packed, lambda_h: float,
               lambda_J: float, ranks: distributed.Ranks) -> Callable[[Tensor, Tensor], float]:
    """``evaluate(theta, grad)``: the penalised objective at ``theta``, its gradient written into
    ``grad``. In a process group each rank's data term is its share and the penalty counts
    1/world on each: the values and gradients are summed over the ranks before the solver sees
    them, so every rank takes the same steps (docs/methods.md 6.7)."""
    n_fields = packed.n_fields
    data_term = _data_term(objective, packed)

    def evaluate(theta: Tensor, t: float, d: Tensor | None, grad: Tensor) -> float:
        fields, couplings = packed.unpack(theta, t, d)  # the point theta + t d
        value = data_term(fields, couplings, grad)
        h = fields.reshape(-1)
        penalty = lambda_h * float(h.dot(h)) + lambda_J * packed.couplings_norm2()
        grad[:n_fields].add_(h, alpha=2 * lambda_h / ranks.world)
        packed.add_couplings(grad, 2 * lambda_J / ranks.world)
        value = value + penalty / ranks.world
        if ranks.parallel:  # the value in float64, the gradient in place
            total = torch.tensor([value], dtype=torch.float64, device=grad.device)
            distributed.sum_({"value": total}, ranks)
            distributed.sum_({"grad": grad}, ranks)
            value = float(total)
        return value

    return evaluate


def _data_term(objective: Any, packed: _Packed) -> Callable[[Tensor, Tensor, Tensor], float]:
    """``data_term(fields, couplings, grad)``: the objective at the unpacked point (rounded to its
    dtype), its gradient with respect to the free parameters written into ``grad``. An objective with
    the :class:`PackedGradient` capability (the Potts one) writes that gradient itself, in
    this layout (fields, then J_ij for i < j row by row), with no (L q)^2 gradient matrix; any
    other is differentiated with respect to the symmetric matrix and the gradient folded
    (:meth:`_Packed.pack_gradient`)."""
    if isinstance(objective, PackedGradient):
        def data_term(fields: Tensor, couplings: Tensor, grad: Tensor) -> float:
            value = objective.evaluate_packed(fields, couplings, grad)
            return float(torch.tensor(value, dtype=grad.dtype))

        return data_term

    def autograd_term(fields: Tensor, couplings: Tensor, grad: Tensor) -> float:
        fields, couplings = fields.detach().requires_grad_(True), couplings.detach().requires_grad_(True)
        with torch.enable_grad():
            value = objective(fields, couplings)
            grad_fields, grad_couplings = torch.autograd.grad(value, (fields, couplings))
        packed.pack_gradient(grad_fields, grad_couplings, grad)
        return float(value.detach())

    return autograd_term


def _rows_of(m: int, ranks: distributed.Ranks) -> slice:
    """This rank's contiguous block of the ``m`` (merged) sequences: sizes differ by at most one
    (all of them alone)."""
    if not ranks.parallel:
        return slice(None)
    if m < ranks.world:
        raise InvalidValue(f"{m} distinct sequences cannot be shared by {ranks.world} processes")
    bounds = np.linspace(0, m, ranks.world + 1).round().astype(int)
    return slice(int(bounds[ranks.rank]), int(bounds[ranks.rank + 1]))


def _minimise(evaluate: Callable[..., float], theta: Tensor, solver: str, max_iter: int,
              tolerance: float, learning_rate: float, history_size: int,
              callback: Callable[[int, float], None] | None) -> None:
    """Minimise ``evaluate`` over the vector ``theta``, in place: L-BFGS with a strong-Wolfe line
    search (:func:`_lbfgs`) or Adam."""
    counted = _Counted(evaluate, callback)
    if solver == "lbfgs":
        _lbfgs(counted, theta, max_iter, 2 * max_iter, history_size, tolerance, tolerance * 1e-3)
        return
    optimizer = torch.optim.Adam([theta], lr=learning_rate)
    theta.grad = torch.zeros_like(theta)
    for _ in range(max_iter):
        counted(theta, 0.0, None, theta.grad)
        optimizer.step()
    theta.grad = None


class _Counted:
    """The objective with its evaluations counted and reported to the callback."""

    def __init__(self, evaluate: Callable[..., float], callback: Callable[[int, float], None] | None):
        self.evaluate, self.callback, self.count = evaluate, callback, 0

    def __call__(self, x: Tensor, t: float, d: Tensor | None, grad: Tensor) -> float:
        value = self.evaluate(x, t, d, grad)
        self.count += 1
        if self.callback is not None:
            self.callback(self.count, value)
        return value


class _History:
    """The last ``size`` L-BFGS pairs s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k in two (size, n)
    blocks allocated once (their pages are touched as they fill), and the two-loop recursion
    (Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4) with the initial scaling
    gamma = s.y / y.y of the newest pair."""

    def __init__(self, size: int, like: Tensor):
        self.s = torch.empty(size, like.numel(), dtype=like.dtype, device=like.device)
        self.y = torch.empty_like(self.s)
        self.slots: list[int] = []      # oldest first
        self.rho: dict[int, float] = {}
        self.gamma = 1.0

    def push(self, step: float, d: Tensor, g_new: Tensor, g_old: Tensor, ys: float) -> None:
        """Keep the pair of the step ``step d`` (gradients before and after) when s.y > 1e-10."""
        if ys <= 1e-10:
            return
        full = len(self.slots) == len(self.s)
        slot = self.slots.pop(0) if full else len(self.slots)
        torch.mul(d, step, out=self.s[slot])
        torch.sub(g_new, g_old, out=self.y[slot])
        self.slots.append(slot)
        self.rho[slot] = 1.0 / ys
        self.gamma = ys / float(self.y[slot].dot(self.y[slot]))

    def direction(self, g: Tensor, d: Tensor) -> None:
        """d = -H g, H the L-BFGS inverse Hessian approximation."""
        d.copy_(g).neg_()
        alphas = []
        for slot in reversed(self.slots):
            alphas.append(float(self.s[slot].dot(d)) * self.rho[slot])
            d.add_(self.y[slot], alpha=-alphas[-1])
        d.mul_(self.gamma)
        for slot, alpha in zip(self.slots, reversed(alphas)):
            beta = float(self.y[slot].dot(d)) * self.rho[slot]
            d.add_(self.s[slot], alpha=alpha - beta)


def _lbfgs(f: _Counted, x: Tensor, max_iter: int, max_eval: int, history_size: int,
           tolerance_grad: float, tolerance_change: float) -> None:
    """Minimise ``f`` from ``x``, in place: L-BFGS with the strong-Wolfe line search of
    :class:`_LineSearch`, the iteration and stopping rules of ``torch.optim.LBFGS`` (lr 1, first
    step min(1, 1/|g|_1)), with every vector allocated once: x, the direction, two gradients and
    the history — 4 + 2 ``history_size`` vectors of the free parameters, no allocation per
    iteration. ``f(x, t, d, grad)`` evaluates at x + t d (``d`` None: at x), so the line search's
    trial points need no vector of their own (the objective writes them where it needs them)."""
    # every vector before the first evaluation: the objective's temporaries come after them
    g, d, g_new = (torch.empty_like(x) for _ in range(3))
    history = _History(history_size, x)
    loss = f(x, 0.0, None, g)
    if float(g.abs().max()) <= tolerance_grad:
        return
    for iteration in range(1, max_iter + 1):
        history.direction(g, d)
        t = min(1.0, 1.0 / float(g.abs().sum())) if iteration == 1 else 1.0
        gtd = float(g.dot(d))
        if gtd > -tolerance_change:  # not a descent direction any more
            break
        search = _LineSearch(f, x, d, loss, gtd, g, g_new, tolerance_change)
        new_loss, t, gtd_new = search.run(t, max_eval - f.count)
        history.push(t, d, g_new, g, t * (gtd_new - gtd))
        g, g_new = g_new, g
        loss, previous = new_loss, loss
        if iteration == max_iter or f.count >= max_eval or float(g.abs().max()) <= tolerance_grad:
            break
        if float(d.abs().max()) * abs(t) <= tolerance_change or abs(loss - previous) < tolerance_change:
            break


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1, f1' = g1) and (x2, f2, g2), clipped to
    ``bounds`` (default: the interval between the points); its midpoint when the cubic has no
    minimum (Nocedal & Wright, eq. 3.59)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(square)
    if x1 <= x2:
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimum, low), high)


class _LineSearch:
    """A step t along d that satisfies the strong Wolfe conditions
    f(x + t d) <= f(x) + c1 t g.d and |g(x + t d).d| <= c2 |g.d| (c1 = 1e-4, c2 = 0.9): bracketing,
    then zoom by safeguarded cubic interpolation (Nocedal & Wright, Algorithms 3.5 and 3.6, with the
    safeguards of minFunc as ``torch.optim.LBFGS`` ports them). Only (t, f, g.d) of the bracket ends
    are kept, not their gradients: ``g_new`` holds the latest trial's, and the accepted point is
    evaluated again in the rare case that it is not the latest trial."""

    c1, c2 = 1e-4, 0.9

    def __init__(self, f: _Counted, x: Tensor, d: Tensor, loss: float, gtd: float, g: Tensor,
                 g_new: Tensor, tolerance_change: float):
        self.f, self.x, self.d, self.g, self.g_new = f, x, d, g, g_new
        self.loss, self.gtd, self.tolerance_change = loss, gtd, tolerance_change
        self.d_norm = float(d.abs().max())
        self.last: float | None = None

    def run(self, t: float, max_ls: int) -> tuple[float, float, float]:
        """(f, t, g.d) at the accepted step; ``x`` and ``g_new`` then hold that point and its gradient
        (the trials are evaluated at x + t d without being stored: ``x`` moves once, here)."""
        bracket, done, count = self._bracket(t, max_ls)
        t, value, gtd = self._zoom(bracket, done, count, max_ls)
        if t != self.last:
            if t == 0.0:
                self.g_new.copy_(self.g)
            else:
                value, gtd = self._at(t)
        if t != 0.0:
            self.x.add_(self.d, alpha=t)
        return value, t, gtd

    def _at(self, t: float) -> tuple[float, float]:
        value = self.f(self.x, t, self.d, self.g_new)
        self.last = t
        return value, float(self.g_new.dot(self.d))

    def _too_high(self, t: float, value: float) -> bool:  # sufficient decrease (Armijo) fails
        return value > self.loss + self.c1 * t * self.gtd

    def _flat_enough(self, gtd: float) -> bool:  # the strong curvature condition holds
        return abs(gtd) <= -self.c2 * self.gtd

    def _bracket(self, t: float, max_ls: int) -> tuple[list[list[float]], bool, int]:
        """An interval of steps that contains a strong-Wolfe point, or such a point (done)."""
        value, gtd = self._at(t)
        previous = [0.0, self.loss, self.gtd]
        for count in range(max_ls):
            if self._too_high(t, value) or (count > 1 and value >= previous[1]):
                return [previous, [t, value, gtd]], False, count
            if self._flat_enough(gtd):
                return [[t, value, gtd]], True, count
            if gtd >= 0:
                return [previous, [t, value, gtd]], False, count
            step = _cubic_minimum(*previous, t, value, gtd, bounds=(t + 0.01 * (t - previous[0]), 10 * t))
            previous, t = [t, value, gtd], step
            value, gtd = self._at(t)
        return [[0.0, self.loss, self.gtd], [t, value, gtd]], False, max_ls

    def _zoom(self, bracket: list[list[float]], done: bool, count: int, max_ls: int) -> list[float]:
        """Shrink the bracket to a strong-Wolfe point; the end with the lower objective."""
        insufficient = False
        low, high = _ends(bracket)
        while not done and count < max_ls:
            if abs(bracket[1][0] - bracket[0][0]) * self.d_norm < self.tolerance_change:
                break
            t, insufficient = _safeguarded(_cubic_minimum(*bracket[0], *bracket[1]), bracket, insufficient)
            value, gtd = self._at(t)
            count += 1
            if self._too_high(t, value) or value >= bracket[low][1]:
                bracket[high] = [t, value, gtd]
                low, high = _ends(bracket)
                continue
            if self._flat_enough(gtd):
                done = True
            elif gtd * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, value, gtd]
        return bracket[low]


def _ends(bracket: list[list[float]]) -> tuple[int, int]:
    """Indices of the (low, high) ends of a bracket: the low end has the smaller objective."""
    return (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)


def _safeguarded(t: float, bracket: list[list[float]], insufficient: bool) -> tuple[float, bool]:
    """A trial step kept at least a tenth of the bracket from its ends once an interpolation has
    fallen that close twice in a row, or outside (minFunc's safeguard); the new flag."""
    low, high = min(bracket[0][0], bracket[1][0]), max(bracket[0][0], bracket[1][0])
    eps = 0.1 * (high - low)
    if min(high - t, t - low) >= eps:
        return t, False
    if insufficient or t >= high or t <= low:
        return (high - eps if abs(t - high) < abs(t - low) else low + eps), False
    return t, True
