"""What the binary RBM (:class:`~boltzkit.models.rbm.RBM`) and the Potts RBM
(:class:`~boltzkit.models.potts_rbm.PottsRBM`) share.

Both have ``weights`` of shape (n_visible, ..., n_hidden) (``...``: nothing for binary visible
units, the q states for Potts ones), ``visible_bias`` of shape ``weights.shape[:-1]``,
``hidden_bias`` of shape (n_hidden,), and binary hidden units (``hidden_units``). Once the visible
layer is written as a matrix of unit values (binary units: the values; Potts units: the
flattened one-hot encoding), their joint energy, visible fields, hidden layer, centered
parametrisation, log-likelihood gradient and exact sum over the hidden configurations are the
same; :class:`RBMBase` and the functions here are that common part. What depends on the visible
units (hidden field, free energies, visible sampling, enumeration, gauge) stays in each class.
The Gaussian RBM (:mod:`boltzkit.models.gaussian_rbm`) uses :func:`gradient_terms`,
:class:`Centering` and :func:`log_sum_over_binary_layer` on its unit values v / sigma^2
(docs/methods.md section 11.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from boltzkit.models.base import Chains, RandomChains
from boltzkit.models.statistics import normalised, weighted_mean
from boltzkit.models.units import UnitType, exact_log_sum

__all__ = ["Centering", "RBMBase", "gradient_terms", "log_sum_over_binary_layer", "second_moment"]


class RBMBase(RandomChains):
    """Parameters, copies, the hidden layer's conditionals, the log-likelihood gradient, the
    centering and the AIS path of an RBM.

    Subclasses define ``hidden_field(v)`` (shape (batch, n_hidden)), ``hidden_units``,
    ``_with(weights, visible_bias, hidden_bias)`` (a model of the same class and units with other
    tensors) and ``_unit_values(v)`` (the visible layer as a matrix of unit values, shape
    (batch, n): the values themselves for binary units, the flattened one-hot encoding for Potts
    units).
    """

    hidden_units: UnitType

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor):
        if visible_bias.shape != weights.shape[:-1] or hidden_bias.shape != weights.shape[-1:]:
            raise ValueError(f"bias shapes {tuple(visible_bias.shape)}, {tuple(hidden_bias.shape)} do "
                             f"not match weights {tuple(weights.shape)}")
        self.weights, self.visible_bias, self.hidden_bias = weights, visible_bias, hidden_bias

    # ---------------------------------------------------------------- parameters and copies
    def parameters(self) -> dict[str, Tensor]:
        return {"weights": self.weights, "visible_bias": self.visible_bias,
                "hidden_bias": self.hidden_bias}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        return self._with(**{k: p.to(device=device, dtype=dtype) for k, p in self.parameters().items()})

    def clone(self):
        return self._with(**{k: p.clone() for k, p in self.parameters().items()})

    @property
    def n_visible(self) -> int:
        return self.weights.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weights.shape[-1]

    @property
    def device(self) -> torch.device:
        return self.weights.device

    @property
    def dtype(self) -> torch.dtype:
        return self.weights.dtype

    def enumeration_log2_size(self) -> float:
        """log2 of the terms of the exact sum over the cheaper layer, min(N log2 q, H) (q = 2
        for binary visible units)."""
        return min(self.n_visible * math.log2(self.visible.n_states), float(self.n_hidden))

    # ---------------------------------------------------------------- energies
    def _flat_weights(self) -> Tensor:
        """The weights as a matrix, shape (n_visible * q, n_hidden) (binary units: q = 1)."""
        return self.weights.reshape(self.visible_bias.numel(), self.n_hidden)

    def visible_field(self, h: Tensor) -> Tensor:
        """b + W h for every visible unit (Potts: every state b_i^mu + sum_a W_ia^mu h_a), shape
        (batch, n_visible) or (batch, n_visible, q)."""
        flat = torch.addmm(self.visible_bias.reshape(-1), h, self._flat_weights().T)
        return flat.reshape(h.shape[0], *self.visible_bias.shape)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """Joint energy E(v, h) = -x(v)ᵀ W h - b . x(v) - c . h, shape (batch,)."""
        x = self._unit_values(v)
        return -((x @ self._flat_weights()) * h).sum(-1) - x @ self.visible_bias.reshape(-1) \
            - h @ self.hidden_bias

    # ---------------------------------------------------------------- hidden layer
    def transform(self, v: Tensor) -> Tensor:
        """Conditional mean of the hidden units <h | v>, shape (batch, n_hidden)."""
        return self.hidden_units.mean(self.hidden_field(v))

    def sample_hidden(self, v: Tensor, generator: torch.Generator | None = None,
                      beta: float = 1.0, uniform: Tensor | None = None) -> Tensor:
        """h ~ p(h | v) at inverse temperature ``beta``, shape (batch, n_hidden).

        ``uniform`` : optional draws on [0, 1) of that shape (see :meth:`UnitType.sample`); drawn
        from ``generator`` by :func:`~boltzkit.models.units.random_uniform` when None.
        """
        field = self.hidden_field(v)
        return self.hidden_units.sample(field if beta == 1.0 else field.mul_(beta), generator,
                                        uniform, overwrite=True)

    # ---------------------------------------------------------------- annealing (AIS)
    def annealed(self, beta: float, base=None):
        """The model on the AIS path (docs/methods.md section 6.2): weights beta W, hidden bias
        beta c, and the visible bias b, or (1 - beta) b_0 + beta b from the visible bias b_0 of
        ``base`` (an independent-site model of the same visible units,
        :func:`boltzkit.models.baseline.independent_site_model`)."""
        return self._with(self.weights * beta, self._annealed_bias(beta, base), self.hidden_bias * beta)

    def _annealed_bias(self, beta: float, base) -> Tensor:
        """The visible bias at ``beta`` on the path from ``base`` (None: the model's own)."""
        if base is None:
            return self.visible_bias
        start = base.visible_bias.to(self.visible_bias.device, self.visible_bias.dtype)
        if start.shape != self.visible_bias.shape:
            raise ValueError(f"AIS base of shape {tuple(start.shape)} for a visible bias of shape "
                             f"{tuple(self.visible_bias.shape)}")
        return (1.0 - beta) * start + beta * self.visible_bias

    # ---------------------------------------------------------------- learning
    def log_likelihood_gradient(self, data: Tensor, chains: Chains,
                                data_weights: Tensor | None = None,
                                centered: bool = True, *,
                                data_hidden: Tensor | None = None) -> dict[str, Tensor]:
        """Positive minus negative phase of d<log p(v)>_data / d theta (:func:`gradient_terms`
        on the unit values x(v): for Potts units, their flattened one-hot encoding).

        The data term uses the hidden conditional means <h|v> (Rao-Blackwellised); the model term
        uses the chains' visible states and their hidden conditional means. ``centered`` gives the
        centered gradient (Montavon & Mueller 2012; docs/methods.md section 6.1): units are
        centered on the data means, which leaves the fixed points unchanged but conditions the
        updates better.

        Parameters
        ----------
        data : Tensor of shape (batch, n_visible) (Potts: codes)
        chains : Chains whose ``visible`` has shape (n_chains, n_visible); their ``weights``, if
            given, weight the model average (exact training passes every state with its probability)
        data_weights : Tensor of shape (batch,), optional
            Non-negative sample weights (normalised here).
        data_hidden : Tensor of shape (batch, n_hidden), optional
            ``transform(data)`` when the caller already has it (the trainer gets it from
            :meth:`centering`): it is not computed again.

        Returns
        -------
        dict with ``weights``, ``visible_bias`` and ``hidden_bias``, shaped like the parameters.
        """
        h_d = self.transform(data) if data_hidden is None else data_hidden
        w_m = None if chains.weights is None else chains.weights.to(self.device, self.dtype)
        grad_w, grad_b, grad_c = gradient_terms(
            self._unit_values(data), h_d, normalised(data_weights, self.weights),
            self._unit_values(chains.visible), self.transform(chains.visible), w_m, centered)
        return {"weights": grad_w.reshape(self.weights.shape),
                "visible_bias": grad_b.reshape(self.visible_bias.shape), "hidden_bias": grad_c}

    def centering(self, data: Tensor, data_weights: Tensor | None = None) -> "Centering":
        """Offsets of the centered parametrisation on ``data``: x̄ = <x(v)>_D, shaped like the
        visible bias, and h̄ = <<h|v>>_D (n_hidden,) (the trainer runs its optimizer in these
        coordinates).

        The returned object also keeps ``data_hidden`` = <h|v> of every row of ``data``, which
        :meth:`log_likelihood_gradient` of the same data can reuse.
        """
        w = normalised(data_weights, self.weights)
        h = self.transform(data)
        x_bar = weighted_mean(self._unit_values(data), w).reshape(self.visible_bias.shape)
        return Centering(x_bar, weighted_mean(h, w), h)


class Centering:
    """The centered parametrisation of an RBM (Montavon & Mueller 2012; docs/methods.md section 6.1).

    E(v, h) = -(x - x̄)ᵀ W (h - h̄) - b'ᵀ(x - x̄) - c'ᵀ(h - h̄) + const, with x the visible unit
    values (Potts RBM: the one-hot vectors of the sites, W contracted over site and state), is
    the same model with b = b' - W h̄ and c = c' - Wᵀ x̄. The trainer runs its optimizer on
    (W, b', c') — gradient from :meth:`to_centered` — and maps the step back with :meth:`restore`,
    so that the optimizer's state and any penalty on W live in one consistent set of coordinates.

    ``visible`` has the shape of the visible bias (n_visible,) or (n_visible, q), ``hidden`` is
    (n_hidden,).
    """

    def __init__(self, visible: Tensor, hidden: Tensor, data_hidden: Tensor | None = None):
        self.visible, self.hidden = visible, hidden
        self.data_hidden = data_hidden  # <h|v> of the rows the offsets were computed on, if kept

    def to_centered(self, grads: dict[str, Tensor]) -> dict[str, Tensor]:
        """Gradient w.r.t. (W, b', c') from the gradient w.r.t. (W, b, c) (chain rule); the
        gradients of other parameters (a Gaussian RBM's ``log_sigma``) pass through unchanged."""
        g_b, g_c = grads["visible_bias"], grads["hidden_bias"]
        # outer products x̄ g_c and g_b h̄ over the visible axes (torch.outer for 1-D offsets)
        g_w = grads["weights"] - self.visible.unsqueeze(-1) * g_c - g_b.unsqueeze(-1) * self.hidden
        return {**grads, "weights": g_w, "visible_bias": g_b, "hidden_bias": g_c}

    @torch.no_grad()
    def restore(self, params: dict[str, Tensor], previous: dict[str, Tensor]) -> None:
        """In place: the optimizer moved (W, b', c'); b = b' - W h̄ and c = c' - Wᵀ x̄."""
        dw = params["weights"] - previous["weights"]
        params["visible_bias"].sub_(dw @ self.hidden)
        params["hidden_bias"].sub_(self.visible.reshape(-1) @ dw.reshape(-1, dw.shape[-1]))


def second_moment(x_d: Tensor, y_d: Tensor, w_d: Tensor | None, x_m: Tensor, y_m: Tensor,
                  w_m: Tensor | None) -> Tensor:
    """<x y^T>_d - <x y^T>_m with row weights w (None: uniform), shape (n_x, n_y).

    Unweighted terms are matmuls scaled by 1/rows (two GEMMs, no temporary of the rows' size).
    """
    if w_d is None:
        pos = torch.mm(x_d.T, y_d).div_(x_d.shape[0])
    else:
        pos = torch.mm((x_d * w_d.unsqueeze(1)).T, y_d)
    if w_m is None:
        return pos.addmm_(x_m.T, y_m, alpha=-1.0 / x_m.shape[0])
    return pos.sub_(torch.mm((x_m * w_m.unsqueeze(1)).T, y_m))


def gradient_terms(v_d: Tensor, h_d: Tensor, w_d: Tensor | None, v_m: Tensor, h_m: Tensor,
                   w_m: Tensor | None, centered: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Positive minus negative phase of the log-likelihood gradient of an RBM.

    ``v`` are the visible unit values (batch, n) (Potts: flattened one-hot), ``h`` the hidden
    conditional means (batch, n_hidden), ``w`` normalised row weights (None: uniform); ``_d`` the
    data, ``_m`` the model's chains. ``centered``: units centered on the data means (docs/methods.md
    6.1). Returns the gradients of W (n, n_hidden), b (n,) and c (n_hidden,).
    """
    v_mean_d, h_mean_d = weighted_mean(v_d, w_d), weighted_mean(h_d, w_d)
    v_mean_m, h_mean_m = weighted_mean(v_m, w_m), weighted_mean(h_m, w_m)
    if centered:
        grad_w = second_moment(v_d - v_mean_d, h_d - h_mean_d, w_d, v_m - v_mean_d,
                               h_m - h_mean_d, w_m)
        grad_b = v_mean_d - v_mean_m - grad_w @ h_mean_d
        grad_c = h_mean_d - h_mean_m - v_mean_d @ grad_w
    else:
        grad_w = second_moment(v_d, h_d, w_d, v_m, h_m, w_m)
        grad_b = v_mean_d - v_mean_m
        grad_c = h_mean_d - h_mean_m
    return grad_w, grad_b, grad_c


def log_sum_over_binary_layer(marginal: Callable[[Tensor], Tensor], n_units: int, units: UnitType,
                              chunk_size: int, device: torch.device | str) -> float:
    """log sum_x exp(-marginal(x)) over the 2**n_units configurations x of a binary layer, in
    float64, ``chunk_size`` configurations at a time (first unit varies slowest)."""
    total = 2**n_units
    return exact_log_sum(marginal, (units.enumerate(n_units, device, torch.float64, start,
                                                    min(start + chunk_size, total))
                                    for start in range(0, total, chunk_size)))
