"""Restricted Boltzmann machines with binary units ({0,1} Bernoulli or ±1 spins).

Joint energy (class-1 seed; σ, τ convention of the class-2 seed for spins)::

    E(v, h) = - v^T W h - b . v - c . h

with ``weights`` W of shape (n_visible, n_hidden), ``visible_bias`` b and ``hidden_bias`` c.
The marginal (visible free) energy sums the hidden units out::

    F(v) = - b . v - sum_a log sum_{h_a} exp(h_a (c_a + sum_i v_i W_ia))

which is ``- b.v - sum_a softplus(c_a + v W_:a)`` for {0,1} hidden units and
``- b.v - sum_a log 2cosh(c_a + v W_:a)`` for ±1 hidden units.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from boltzkit.models.base import Chains
from boltzkit.models.units import BERNOULLI, SPIN, UNIT_TYPES, UnitType

_KIND_BY_UNITS = {("bernoulli", "bernoulli"): "bernoulli-rbm", ("spin", "spin"): "ising-rbm"}


class RBM:
    """A binary RBM. Build one with :meth:`init_from_data` or from tensors.

    Parameters
    ----------
    weights : Tensor of shape (n_visible, n_hidden)
    visible_bias : Tensor of shape (n_visible,)
    hidden_bias : Tensor of shape (n_hidden,)
    visible_units, hidden_units : UnitType
        :data:`~boltzkit.models.units.BERNOULLI` ({0,1}) or :data:`~boltzkit.models.units.SPIN` (±1).
    """

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                 visible_units: UnitType = BERNOULLI, hidden_units: UnitType = BERNOULLI):
        n_visible, n_hidden = weights.shape
        if visible_bias.shape != (n_visible,) or hidden_bias.shape != (n_hidden,):
            raise ValueError(
                f"bias shapes {tuple(visible_bias.shape)}, {tuple(hidden_bias.shape)} do not match "
                f"weights {tuple(weights.shape)}")
        self.weights = weights
        self.visible_bias = visible_bias
        self.hidden_bias = hidden_bias
        self.visible_units = visible_units
        self.hidden_units = hidden_units

    # ---------------------------------------------------------------- construction
    @property
    def kind(self) -> str:
        return _KIND_BY_UNITS.get((self.visible_units.name, self.hidden_units.name), "rbm")

    @classmethod
    def init_from_data(cls, data: Tensor, n_hidden: int, units: UnitType = BERNOULLI,
                       generator: torch.Generator | None = None, weight_std: float = 1e-4,
                       data_weights: Tensor | None = None) -> "RBM":
        """Small random weights, visible bias of the independent-site model of ``data``, zero hidden bias.

        ``data`` must already be in the units' values ({0,1} or ±1).
        """
        n_visible = data.shape[1]
        w = torch.randn(n_visible, n_hidden, generator=generator, dtype=data.dtype,
                        device=data.device) * weight_std
        return cls(w, independent_site_bias(data, units, data_weights), torch.zeros(
            n_hidden, dtype=data.dtype, device=data.device), units, units)

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]) -> "RBM":
        return cls(params["weights"], params["visible_bias"], params["hidden_bias"],
                   UNIT_TYPES[config["visible_units"]], UNIT_TYPES[config["hidden_units"]])

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": "rbm", "n_visible": self.n_visible,
                "n_hidden": self.n_hidden, "visible_units": self.visible_units.name,
                "hidden_units": self.hidden_units.name}

    def parameters(self) -> dict[str, Tensor]:
        return {"weights": self.weights, "visible_bias": self.visible_bias,
                "hidden_bias": self.hidden_bias}

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "RBM":
        p = {k: v.to(device=device, dtype=dtype) for k, v in self.parameters().items()}
        return RBM(p["weights"], p["visible_bias"], p["hidden_bias"], self.visible_units,
                   self.hidden_units)

    def clone(self) -> "RBM":
        p = {k: v.clone() for k, v in self.parameters().items()}
        return RBM(p["weights"], p["visible_bias"], p["hidden_bias"], self.visible_units,
                   self.hidden_units)

    @property
    def n_visible(self) -> int:
        return self.weights.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weights.shape[1]

    @property
    def device(self) -> torch.device:
        return self.weights.device

    @property
    def dtype(self) -> torch.dtype:
        return self.weights.dtype

    # ---------------------------------------------------------------- energies
    def hidden_field(self, v: Tensor) -> Tensor:
        """c + v W, shape (batch, n_hidden)."""
        return torch.addmm(self.hidden_bias, v, self.weights)

    def visible_field(self, h: Tensor) -> Tensor:
        """b + h W^T, shape (batch, n_visible)."""
        return torch.addmm(self.visible_bias, h, self.weights.T)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """Joint energy E(v, h), shape (batch,)."""
        return -((v @ self.weights) * h).sum(-1) - v @ self.visible_bias - h @ self.hidden_bias

    def free_energy(self, v: Tensor) -> Tensor:
        """Marginal energy F(v) = -log sum_h exp(-E(v, h)), shape (batch,)."""
        return -(v @ self.visible_bias) - self.hidden_units.log_normalizer(
            self.hidden_field(v)).sum(-1)

    def hidden_free_energy(self, h: Tensor) -> Tensor:
        """The dual marginal -log sum_v exp(-E(v, h)), shape (batch,)."""
        return -(h @ self.hidden_bias) - self.visible_units.log_normalizer(
            self.visible_field(h)).sum(-1)

    # ---------------------------------------------------------------- conditionals and sampling
    def transform(self, v: Tensor) -> Tensor:
        """Conditional mean of the hidden units <h | v>, shape (batch, n_hidden)."""
        return self.hidden_units.mean(self.hidden_field(v))

    def visible_mean(self, h: Tensor) -> Tensor:
        return self.visible_units.mean(self.visible_field(h))

    def sample_hidden(self, v: Tensor, generator: torch.Generator | None = None,
                      beta: float = 1.0) -> Tensor:
        field = self.hidden_field(v)
        return self.hidden_units.sample(field if beta == 1.0 else beta * field, generator)

    def sample_visible(self, h: Tensor, generator: torch.Generator | None = None,
                       beta: float = 1.0) -> Tensor:
        field = self.visible_field(h)
        return self.visible_units.sample(field if beta == 1.0 else beta * field, generator)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One block-Gibbs step v -> h -> v' (at inverse temperature ``beta``)."""
        h = self.sample_hidden(chains.visible, generator, beta)
        return Chains(self.sample_visible(h, generator, beta), h)

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        return Chains(self.visible_units.random((n, self.n_visible), generator, self.device,
                                                self.dtype))

    def enumerate_visible(self) -> Tensor:
        """All 2**n_visible visible configurations, shape (2**n_visible, n_visible)."""
        return self.visible_units.enumerate(self.n_visible, self.device, self.dtype)

    def chains_from(self, x: Tensor) -> Chains:
        return Chains(x.to(device=self.device, dtype=self.dtype).clone())

    # ---------------------------------------------------------------- exact partition function
    def log_partition_exact(self, chunk_size: int = 1 << 14, max_units: int = 26) -> float:
        """log Z by enumerating the smaller layer, in float64.

        Cost 2**min(n_visible, n_hidden) * n_visible * n_hidden.
        """
        small = min(self.n_visible, self.n_hidden)
        if small > max_units:
            raise ValueError(
                f"exact log Z needs a layer of at most {max_units} units (smallest has {small}); "
                "use AIS")
        model = self.to(dtype=torch.float64)
        over_hidden = self.n_hidden <= self.n_visible
        units = self.hidden_units if over_hidden else self.visible_units
        marginal = model.hidden_free_energy if over_hidden else model.free_energy
        total = 2**small
        pieces = []
        codes = torch.arange(small, device=self.device)
        for start in range(0, total, chunk_size):
            idx = torch.arange(start, min(start + chunk_size, total), device=self.device)
            bits = ((idx.unsqueeze(1) >> (small - 1 - codes)) & 1).bool()
            configs = torch.where(bits, units.high, units.low).to(torch.float64)
            pieces.append(torch.logsumexp(-marginal(configs), 0))
        return float(torch.logsumexp(torch.stack(pieces), 0))

    # ---------------------------------------------------------------- annealing (AIS)
    def annealed(self, beta: float) -> "RBM":
        """The model on the AIS path (METHODS.md 6.2): same visible bias, weights beta W,
        hidden bias beta c."""
        return RBM(self.weights * beta, self.visible_bias, self.hidden_bias * beta,
                   self.visible_units, self.hidden_units)

    def annealing_base_log_partition(self) -> float:
        """log Z of ``annealed(0)``: independent visible units with fields b, plus n_hidden free
        hidden units."""
        zero = torch.zeros((), dtype=self.dtype, device=self.device)
        return float(self.visible_units.log_normalizer(self.visible_bias).sum()
                     + self.n_hidden * self.hidden_units.log_normalizer(zero))

    # ---------------------------------------------------------------- learning
    def log_likelihood_gradient(self, data: Tensor, chains: Chains,
                                data_weights: Tensor | None = None,
                                centered: bool = True) -> dict[str, Tensor]:
        """Positive minus negative phase of d<log p(v)>_data / d theta.

        The data term uses the hidden conditional means <h|v> (Rao-Blackwellised); the model term
        uses the chains' visible states and their hidden conditional means. ``centered`` gives the
        centred gradient (Montavon & Mueller 2012; METHODS.md 6.1): units are centred on the data
        means, which leaves the fixed points unchanged but conditions the updates better.

        Parameters
        ----------
        data : Tensor of shape (batch, n_visible)
        chains : Chains whose ``visible`` has shape (n_chains, n_visible); their ``weights``, if
            given, weight the model average (exact training passes every state with its probability)
        data_weights : Tensor of shape (batch,), optional
            Non-negative sample weights (normalised here).
        """
        v_d, v_m = data, chains.visible
        h_d, h_m = self.transform(v_d), self.transform(v_m)
        if data_weights is None:
            w_d = torch.full((v_d.shape[0],), 1.0 / v_d.shape[0], dtype=v_d.dtype, device=v_d.device)
        else:
            w_d = data_weights / data_weights.sum()
        w_m = chains.weights
        if w_m is None:
            w_m = torch.full((v_m.shape[0],), 1.0 / v_m.shape[0], dtype=v_m.dtype, device=v_m.device)
        v_mean_d, h_mean_d = w_d @ v_d, w_d @ h_d
        v_mean_m, h_mean_m = w_m @ v_m, w_m @ h_m
        if centered:
            grad_w = ((v_d - v_mean_d) * w_d.unsqueeze(1)).T @ (h_d - h_mean_d) \
                - ((v_m - v_mean_d) * w_m.unsqueeze(1)).T @ (h_m - h_mean_d)
            grad_b = v_mean_d - v_mean_m - grad_w @ h_mean_d
            grad_c = h_mean_d - h_mean_m - v_mean_d @ grad_w
        else:
            grad_w = (v_d * w_d.unsqueeze(1)).T @ h_d - (v_m * w_m.unsqueeze(1)).T @ h_m
            grad_b = v_mean_d - v_mean_m
            grad_c = h_mean_d - h_mean_m
        return {"weights": grad_w, "visible_bias": grad_b, "hidden_bias": grad_c}

    def centring(self, data: Tensor, data_weights: Tensor | None = None) -> "Centring":
        """Offsets of the centred parametrisation on ``data``: v̄ = <v>_D and h̄ = <<h|v>>_D."""
        if data_weights is None:
            w = torch.full((data.shape[0],), 1.0 / data.shape[0], dtype=data.dtype,
                           device=data.device)
        else:
            w = data_weights / data_weights.sum()
        return Centring(w @ data, w @ self.transform(data))

    # ---------------------------------------------------------------- parametrisations
    def to_ising(self) -> tuple["RBM", float]:
        """Exact ±1 (σ, τ) form of a {0,1} RBM, with v = (1+σ)/2, h = (1+τ)/2.

        Returns the spin RBM and the shift ``s`` such that F_{0/1}(v) = F_{±1}(2v-1) - s and
        log Z_{0/1} = log Z_{±1} + s.
        """
        if (self.visible_units, self.hidden_units) != (BERNOULLI, BERNOULLI):
            raise ValueError("to_ising() converts a {0,1} RBM")
        W, b, c = self.weights, self.visible_bias, self.hidden_bias
        w = W / 4
        eta = b / 2 + w.sum(1)
        theta = c / 2 + w.sum(0)
        shift = float(w.sum() + b.sum() / 2 + c.sum() / 2)
        return RBM(w, eta, theta, SPIN, SPIN), shift

    def to_bernoulli(self) -> tuple["RBM", float]:
        """Exact {0,1} form of a ±1 RBM (inverse of :meth:`to_ising`).

        Returns the {0,1} RBM and the shift ``s`` with log Z_{0/1} = log Z_{±1} + s.
        """
        if (self.visible_units, self.hidden_units) != (SPIN, SPIN):
            raise ValueError("to_bernoulli() converts a ±1 RBM")
        w, eta, theta = self.weights, self.visible_bias, self.hidden_bias
        W = 4 * w
        b = 2 * (eta - w.sum(1))
        c = 2 * (theta - w.sum(0))
        bern = RBM(W, b, c, BERNOULLI, BERNOULLI)
        return bern, bern.to_ising()[1]


class Centring:
    """The centred parametrisation of an RBM (Montavon & Mueller 2012; METHODS.md 6.1).

    E(v, h) = -(v - v̄)ᵀ W (h - h̄) - b'ᵀ(v - v̄) - c'ᵀ(h - h̄) + const is the same model with
    b = b' - W h̄ and c = c' - Wᵀ v̄. The trainer runs its optimizer on (W, b', c') — gradient
    from :meth:`to_centred` — and maps the step back with :meth:`restore`, so that the optimizer's
    state and any penalty on W live in one consistent set of coordinates.
    """

    def __init__(self, visible: Tensor, hidden: Tensor):
        self.visible, self.hidden = visible, hidden

    def to_centred(self, grads: dict[str, Tensor]) -> dict[str, Tensor]:
        """Gradient w.r.t. (W, b', c') from the gradient w.r.t. (W, b, c) (chain rule)."""
        g_b, g_c = grads["visible_bias"], grads["hidden_bias"]
        g_w = grads["weights"] - torch.outer(self.visible, g_c) - torch.outer(g_b, self.hidden)
        return {"weights": g_w, "visible_bias": g_b, "hidden_bias": g_c}

    @torch.no_grad()
    def restore(self, params: dict[str, Tensor], previous: dict[str, Tensor]) -> None:
        """In place: the optimizer moved (W, b', c'); b = b' - W h̄ and c = c' - Wᵀ v̄."""
        dw = params["weights"] - previous["weights"]
        params["visible_bias"].sub_(dw @ self.hidden)
        params["hidden_bias"].sub_(self.visible @ dw)


def independent_site_bias(data: Tensor, units: UnitType, data_weights: Tensor | None = None,
                          eps: float = 1e-4) -> Tensor:
    """Fields of the independent-site model that reproduces the data means.

    Frequencies are clamped to [eps, 1-eps] so that constant columns get a finite bias.
    """
    if data_weights is None:
        mean = data.mean(0)
    else:
        mean = (data_weights / data_weights.sum()) @ data
    p = ((mean - units.low) / (units.high - units.low)).clamp(eps, 1 - eps)
    logit = torch.log(p) - torch.log1p(-p)
    # {0,1}: p = sigmoid(b) ; ±1: p = sigmoid(2 b)
    return logit if units is BERNOULLI else logit / 2


def independent_site_model(data: Tensor, units: UnitType = BERNOULLI,
                           data_weights: Tensor | None = None) -> RBM:
    """The independent-site model as an RBM with no hidden unit (a baseline for likelihoods)."""
    b = independent_site_bias(data, units, data_weights)
    empty = torch.zeros(data.shape[1], 0, dtype=data.dtype, device=data.device)
    return RBM(empty, b, torch.zeros(0, dtype=data.dtype, device=data.device), units, units)
