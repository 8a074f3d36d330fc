"""Pseudo-likelihood training of any energy on ±1 spins (Besag 1975; docs/methods.md section 5.1), by Adam on
minibatches; the objective is :func:`boltzkit.models.pseudo_likelihood.pseudo_log_likelihood`.

For a configuration s and a site i, with s^(i) the configuration with spin i flipped,

    log p(s_i | s_{\\i}) = -log(1 + exp(E(s) - E(s^(i)))) = -softplus(-ΔE_i),   ΔE_i = E(s^(i)) - E(s),

and the (mean) log pseudo-likelihood of a data set is (1/M) sum_m sum_i log p(s^m_i | s^m_{\\i}). It
needs the N single-flip energy changes of every sample, computed in one batched call:
``model.flip_energy_differences(s)`` when the model has it (hybrid and pairwise models: closed form
or the first-layer trick), else by evaluating the energy on a (M (N+1), N) batch of the samples and
their N flips (:func:`boltzkit.models.pseudo_likelihood.flip_energy_differences`). No Python loop runs
over sites or samples. The
same function is plmDCA's Ising objective (:mod:`boltzkit.training.plm`, with ΔE_i = 2 s_i f_i).

:func:`fit_pseudo_likelihood` maximises it with Adam on minibatches, with separate L2 strengths on
the couplings J (``l2_couplings`` * sum_{i<j} J_ij^2), the fields and the network weights; it
optionally writes a run file (:mod:`boltzkit.io.trajectory`) so the model can be loaded back,
evaluated and interpreted like any other.

For the pairwise (Ising) energy the gradient has the closed form (:func:`pairwise_pl_gradient`)
d/dh_i = <s_i - tanh f_i>, d/dJ_ij = <(s_i - tanh f_i) s_j + (s_j - tanh f_j) s_i>, with the local
fields f_i = h_i + sum_j J_ij s_j — a check of the automatic differentiation used otherwise.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from boltzkit.checks import all_finite
from boltzkit.errors import BoltzkitError, TrainingDiverged
from boltzkit.io import trajectory
from boltzkit.models.pseudo_likelihood import pseudo_log_likelihood

__all__ = ["PseudoLikelihoodConfig", "PseudoLikelihoodResult", "pairwise_pl_gradient", "regularization",
           "fit_pseudo_likelihood"]


def pairwise_pl_gradient(fields: Tensor, couplings: Tensor, s: Tensor,
                         weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Closed-form gradient of :func:`pseudo_log_likelihood` for E = -h.s - sum_{i<j} J_ij s_i s_j.

    Returns (d/dh (N,), d/dJ (N, N)); the J gradient is per pair (symmetric, zero diagonal), i.e. the
    derivative with respect to J_ij = J_ji moved together.
    """
    n = s.shape[1]
    J = couplings.masked_fill(torch.eye(n, dtype=torch.bool, device=s.device), 0.0)
    residual = s - torch.tanh(fields + s @ J)                                  # (M, N)
    w = torch.full((len(s),), 1.0 / len(s), dtype=s.dtype, device=s.device) if weights is None \
        else weights.to(s.dtype) / weights.sum()
    grad_h = w @ residual
    half = (residual * w[:, None]).T @ s
    grad_j = (half + half.T).masked_fill(torch.eye(n, dtype=torch.bool, device=s.device), 0.0)
    return grad_h, grad_j


@dataclass
class PseudoLikelihoodConfig:
    """Settings of :func:`fit_pseudo_likelihood`.

    Attributes
    ----------
    n_epochs : int
    batch_size : int
    learning_rate : float
        Adam's step size.
    final_learning_rate : float or None
        If given, the step size decays geometrically, epoch by epoch, to this value at the last
        epoch (lets minibatch Adam settle at the optimum instead of hovering around it).
    l2_couplings : float
        Strength of l2_couplings * sum_{i<j} J_ij^2.
    l2_fields : float
        Strength on sum_i h_i^2.
    l2_network : float
        Strength on the squared network weights (matrices; biases are not penalised).
    seed : int
        Minibatch order.
    n_checkpoints : int
        Models saved into the run file (evenly over the epochs; the last epoch always).
    """

    n_epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-3
    final_learning_rate: float | None = None
    l2_couplings: float = 1e-4
    l2_fields: float = 0.0
    l2_network: float = 1e-4
    seed: int = 0
    n_checkpoints: int = 10
    method: str = field(default="pseudo-likelihood", init=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PseudoLikelihoodResult:
    """What :func:`fit_pseudo_likelihood` returns.

    Attributes
    ----------
    model : the trained model (same object as passed in)
    history : list of dict
        Per epoch: ``epoch``, ``pseudo_log_likelihood`` (training data, regularisation excluded),
        ``validation`` (if validation data were given), ``wall_time``.
    """

    model: Any
    history: list[dict[str, float]]


def regularization(model: Any, config: PseudoLikelihoodConfig) -> Tensor:
    """l2_couplings sum_{i<j} J_ij^2 + l2_fields sum h^2 + l2_network sum W^2 over the model's tensors."""
    params = model.parameters()
    total = torch.zeros((), dtype=model.dtype, device=model.device)
    if "couplings" in params and config.l2_couplings:
        J = params["couplings"]
        total = total + config.l2_couplings * 0.5 * (J * J).sum()  # symmetric: each pair counted twice
    if "fields" in params and config.l2_fields:
        total = total + config.l2_fields * (params["fields"] ** 2).sum()
    if config.l2_network:
        for name, p in params.items():
            if name.startswith("network.") and name.endswith("weight"):
                total = total + config.l2_network * (p * p).sum()
    return total


def _checkpoint_epochs(n_epochs: int, n_checkpoints: int) -> set[int]:
    n_checkpoints = max(n_checkpoints, 1)  # at least one: the last epoch
    return {int(round(x)) for x in np.linspace(n_epochs / n_checkpoints, n_epochs, n_checkpoints)} | {n_epochs}


def fit_pseudo_likelihood(model: Any, data: Tensor, config: PseudoLikelihoodConfig | None = None,
                          data_weights: Tensor | None = None, validation: Tensor | None = None,
                          out: str | os.PathLike | None = None, run_config: dict[str, Any] | None = None,
                          on_epoch: Callable[[dict[str, float]], None] | None = None,
                          data_sample: tuple[np.ndarray | None, np.ndarray | None, tuple[int, int] | None]
                          | None = None) -> PseudoLikelihoodResult:
    """Maximise the pseudo-likelihood of ±1 data with Adam on minibatches.

    Parameters
    ----------
    model : energy model on ±1 spins, e.g. :class:`~boltzkit.models.hybrid.HybridEBM`
        Trained in place; all tensors of ``model.parameters()`` are learned.
    data : Tensor of shape (M, N), values ±1
    config : PseudoLikelihoodConfig, optional
    data_weights : Tensor of shape (M,), optional
    validation : Tensor of shape (M', N), optional
        Its pseudo-log-likelihood is recorded every epoch.
    out : path, optional
        Run file to write (model config, checkpoints), loadable by :func:`boltzkit.io.trajectory.load_model`.
    run_config : dict, optional
        Extra entries of the run file's config (e.g. ``data``).
    on_epoch : callable, optional
        Called with each epoch's history entry.
    data_sample : (rows, labels, image_shape), optional
        Training rows stored in the run file for reports (:func:`boltzkit.io.trajectory.create`).
    """
    config = config or PseudoLikelihoodConfig()
    params = model.parameters()
    device, dtype = model.device, model.dtype
    data = torch.as_tensor(data).to(device=device, dtype=dtype)
    if data.ndim != 2 or data.shape[1] != model.n_visible:
        raise BoltzkitError(f"data must have shape (M, {model.n_visible}), got {tuple(data.shape)}")
    if not bool(((data == 1) | (data == -1)).all()):
        raise BoltzkitError("pseudo-likelihood training expects ±1 data (map {0,1} data with 2x - 1)")
    weights = None if data_weights is None else torch.as_tensor(data_weights).to(device, dtype)
    for p in params.values():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(list(params.values()), lr=config.learning_rate)
    decay = 1.0
    if config.final_learning_rate is not None and config.n_epochs > 1:
        decay = (config.final_learning_rate / config.learning_rate) ** (1.0 / (config.n_epochs - 1))
    data_rng = torch.Generator().manual_seed(config.seed)
    checkpoints = _checkpoint_epochs(config.n_epochs, config.n_checkpoints)
    if out is not None:
        trajectory.create(out, dict(run_config or {}, model=model.config(), training=config.to_dict()),
                          *(data_sample or ()))
    history: list[dict[str, float]] = []
    m, batch = len(data), min(config.batch_size, len(data))
    wall = 0.0
    try:
        for epoch in range(1, config.n_epochs + 1):
            t0 = time.perf_counter()
            order = torch.randperm(m, generator=data_rng).to(device)
            total, count = 0.0, 0
            for start in range(0, m - batch + 1, batch):
                idx = order[start:start + batch]
                w = None if weights is None else weights[idx]
                pll = pseudo_log_likelihood(model, data[idx], w)
                loss = -pll + regularization(model, config)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(pll.detach()) * len(idx)
                count += len(idx)
            for group in optimizer.param_groups:
                group["lr"] *= decay
            wall += time.perf_counter() - t0
            entry = {"epoch": epoch, "pseudo_log_likelihood": total / max(count, 1), "wall_time": wall}
            if validation is not None:
                with torch.no_grad():
                    v = torch.as_tensor(validation).to(device=device, dtype=dtype)
                    entry["validation"] = float(pseudo_log_likelihood(model, v))
            history.append(entry)
            if on_epoch is not None:
                on_epoch(entry)
            if not all_finite(params.values()):
                raise TrainingDiverged(f"pseudo-likelihood training diverged at epoch {epoch}: the "
                                       "parameters are not finite (the run file keeps the last "
                                       "finite checkpoint); lower --lr")
            if out is not None and epoch in checkpoints:
                trajectory.append(out, epoch, {k: p.detach() for k, p in params.items()}, wall,
                                  config.learning_rate, checkpoint=True)
    finally:
        for p in params.values():
            p.requires_grad_(False)
            p.grad = None
    return PseudoLikelihoodResult(model, history)
