"""Restricted Boltzmann machines with binary units ({0,1} Bernoulli or ±1 spins).

Joint energy (docs/methods.md section 1.1; σ, τ for ±1 units)::

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

from boltzkit.checks import integer
from boltzkit.errors import BoltzkitError
from boltzkit.models.base import Chains
from boltzkit.models.capabilities import BernoulliForm
from boltzkit.models.rbm_base import RBMBase, log_sum_over_binary_layer
from boltzkit.models.statistics import normalised, weighted_mean
from boltzkit.models.units import BERNOULLI, SPIN, UNIT_TYPES, UnitType, random_uniform
from boltzkit.models.visible import BERNOULLI_SPACE, SPIN_SPACE, VisibleSpace

_KIND_BY_UNITS = {("bernoulli", "bernoulli"): "bernoulli-rbm", ("spin", "spin"): "ising-rbm"}
# Uniform numbers drawn at once by sample_steps (4 MiB in float32): all the steps of a PCD-10
# update of a 64 x 64 RBM with 500 chains share one draw. Measured per 10 steps there (1 thread):
# 2.55 ms with blocks of 2**20, 2.95 ms with 2**17, 3.3 ms with 2**15.
_UNIFORM_BLOCK = 1 << 20


class RBM(RBMBase):
    """A binary RBM. Build one with :meth:`init_from_data` or from tensors.

    Parameters
    ----------
    weights : Tensor of shape (n_visible, n_hidden)
    visible_bias : Tensor of shape (n_visible,)
    hidden_bias : Tensor of shape (n_hidden,)
    visible_units, hidden_units : UnitType
        :data:`~boltzkit.models.units.BERNOULLI` ({0,1}) or :data:`~boltzkit.models.units.SPIN` (±1).

    Parameters, copies, ``visible_field``, ``energy``, ``transform``, ``sample_hidden``,
    ``annealed``, ``log_likelihood_gradient`` and ``centering`` come from
    :class:`~boltzkit.models.rbm_base.RBMBase` (shared with the Potts RBM).
    """

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                 visible_units: UnitType = BERNOULLI, hidden_units: UnitType = BERNOULLI):
        if weights.ndim != 2:
            raise ValueError(f"weights must have shape (n_visible, n_hidden), got {tuple(weights.shape)}")
        super().__init__(weights, visible_bias, hidden_bias)
        self.visible_units = visible_units
        self.hidden_units = hidden_units

    def _with(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor) -> "RBM":
        return RBM(weights, visible_bias, hidden_bias, self.visible_units, self.hidden_units)

    def _unit_values(self, v: Tensor) -> Tensor:
        return v

    penalized_parameters = ("weights",)  # the trainer's l1/l2 apply to these
    shared_random_numbers = True  # sample_steps draws the uniforms of several steps at once

    # ---------------------------------------------------------------- construction
    @property
    def visible(self) -> VisibleSpace:
        return SPIN_SPACE if self.visible_units is SPIN else BERNOULLI_SPACE

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
        w = torch.randn(data.shape[1], n_hidden, generator=generator, dtype=data.dtype,
                        device=data.device) * weight_std
        return cls(w, independent_site_bias(data, units, data_weights), data.new_zeros(n_hidden),
                   units, units)

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]) -> "RBM":
        return cls(params["weights"], params["visible_bias"], params["hidden_bias"],
                   UNIT_TYPES[config["visible_units"]], UNIT_TYPES[config["hidden_units"]])

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": "rbm", "n_visible": self.n_visible,
                "n_hidden": self.n_hidden, "visible_units": self.visible_units.name,
                "hidden_units": self.hidden_units.name}

    # ---------------------------------------------------------------- energies
    def hidden_field(self, v: Tensor) -> Tensor:
        """c + v W, shape (batch, n_hidden)."""
        return torch.addmm(self.hidden_bias, v, self.weights)

    def free_energy(self, v: Tensor) -> Tensor:
        """Marginal energy F(v) = -log sum_h exp(-E(v, h)), shape (batch,)."""
        return -(v @ self.visible_bias) - self.hidden_units.log_normalizer(
            self.hidden_field(v)).sum(-1)

    def hidden_free_energy(self, h: Tensor) -> Tensor:
        """The dual marginal -log sum_v exp(-E(v, h)), shape (batch,)."""
        return -(h @ self.hidden_bias) - self.visible_units.log_normalizer(
            self.visible_field(h)).sum(-1)

    # ---------------------------------------------------------------- conditionals and sampling
    def visible_mean(self, h: Tensor) -> Tensor:
        return self.visible_units.mean(self.visible_field(h))

    def sample_visible(self, h: Tensor, generator: torch.Generator | None = None,
                       beta: float = 1.0, uniform: Tensor | None = None) -> Tensor:
        """v ~ p(v | h) at inverse temperature ``beta``, shape (batch, n_visible)."""
        field = self.visible_field(h)
        return self.visible_units.sample(field if beta == 1.0 else field.mul_(beta), generator,
                                         uniform, overwrite=True)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One block-Gibbs step v -> h -> v' (at inverse temperature ``beta``)."""
        return self.sample_steps(chains, 1, generator, beta)

    def sample_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None = None,
                     beta: float = 1.0) -> Chains:
        """``n_steps`` block-Gibbs steps v -> h -> v' (at inverse temperature ``beta``).

        The same Markov chain as ``n_steps`` calls of :meth:`sample_hidden` then
        :meth:`sample_visible`, with two savings that matter for small models on CPU: the
        uniform draws of several steps are made at once (blocks of up to 2**20 numbers, at less
        than half the cost per number of drawing them step by step, see
        :func:`~boltzkit.models.units.random_uniform`), and the loop calls the kernels directly.
        """
        if n_steps == 0:
            return chains
        v, h = chains.visible, chains.hidden
        n, n_h, n_v = v.shape[0], self.n_hidden, self.n_visible
        w, b, c = self.weights, self.visible_bias, self.hidden_bias
        if beta != 1.0:  # the model at inverse temperature beta: all fields scaled
            w, b, c = w * beta, b * beta, c * beta
        w_t = w.T
        hidden_units, visible_units = self.hidden_units, self.visible_units
        per_step = n * (n_h + n_v)
        per_block = max(1, _UNIFORM_BLOCK // max(per_step, 1))
        for done in range(0, n_steps, per_block):
            m = min(per_block, n_steps - done)
            u = random_uniform((m * per_step,), generator, v.device, v.dtype)
            # the block: m hidden layers' draws, then m visible layers' draws (4 views in all)
            u_hidden = u[:m * n * n_h].view(m, n, n_h).unbind(0)
            u_visible = u[m * n * n_h:].view(m, n, n_v).unbind(0)
            for u_h, u_v in zip(u_hidden, u_visible):
                h = hidden_units.sample(torch.addmm(c, v, w), None, u_h, overwrite=True)
                v = visible_units.sample(torch.addmm(b, h, w_t), None, u_v, overwrite=True)
        return Chains(v, h)

    def enumerate_visible(self) -> Tensor:
        """All 2**n_visible visible configurations, shape (2**n_visible, n_visible)."""
        return self.visible_units.enumerate(self.n_visible, self.device, self.dtype)

    # ---------------------------------------------------------------- exact partition function
    def as_bernoulli(self) -> BernoulliForm:
        """The {0,1} form (:class:`~boltzkit.models.capabilities.BernoulliForm`) of this RBM;
        a ±1 RBM is converted exactly (:meth:`to_bernoulli`)."""
        units = (self.visible_units, self.hidden_units)
        if units == (BERNOULLI, BERNOULLI):
            return BernoulliForm(self.weights, self.visible_bias, self.hidden_bias, 0.0)
        if units == (SPIN, SPIN):
            bern, shift = self.to_bernoulli()
            return BernoulliForm(bern.weights, bern.visible_bias, bern.hidden_bias, shift)
        raise BoltzkitError("both layers must have the same units ({0,1} or ±1) for the {0,1} form")

    def log_partition_exact(self, chunk_size: int = 1 << 14, max_units: int = 26) -> float:
        """log Z by enumerating the smaller layer, in float64.

        Cost 2**min(n_visible, n_hidden) * n_visible * n_hidden.
        """
        small = min(self.n_visible, self.n_hidden)
        if small > max_units:
            raise ValueError(f"exact log Z needs a layer of at most {max_units} units (smallest has "
                             f"{small}); use AIS")
        model = self.to(dtype=torch.float64)
        over_hidden = self.n_hidden <= self.n_visible
        units = self.hidden_units if over_hidden else self.visible_units
        marginal = model.hidden_free_energy if over_hidden else model.free_energy
        return log_sum_over_binary_layer(marginal, small, units, chunk_size, self.device)

    # ---------------------------------------------------------------- annealing (AIS)
    def annealing_step(self, v: Tensor, beta: float, beta_next: float,
                       generator: torch.Generator | None = None, base=None) -> tuple[Tensor, Tensor]:
        """One AIS transition along the path of :meth:`annealed`, from ``beta`` to ``beta_next``.

        Returns the log importance-weight increment F_beta(v) - F_beta_next(v), shape (batch,),
        and the visible state after one block-Gibbs step at ``beta_next``. The same quantities
        as from ``annealed(beta, base)`` and ``annealed(beta_next, base)``, with one product v W
        instead of three: x = c + v W gives both hidden log-normalisers and the hidden field
        beta_next x; the visible biases contribute (beta_next - beta) (b - b_0).v (nothing
        without a ``base``).
        """
        n, n_h, n_v = v.shape[0], self.n_hidden, self.n_visible
        x = self.hidden_field(v)
        log_norm = self.hidden_units.log_normalizer
        # In float64: the increment is a small difference of two large log-normalisers, and
        # float32 rounding of each would add to the spread of the weights.
        x64 = x.double()
        increment = (log_norm(beta_next * x64) - log_norm(beta * x64)).sum(-1)
        if base is not None:
            shift = (self.visible_bias - self._annealed_bias(0.0, base)).double()
            increment += (beta_next - beta) * (v.double() @ shift)
        u = random_uniform((n * (n_h + n_v),), generator, v.device, v.dtype)
        h = self.hidden_units.sample(x.mul_(beta_next), None, u[:n * n_h].view(n, n_h),
                                     overwrite=True)
        field = torch.addmm(self._annealed_bias(beta_next, base), h, self.weights.T, alpha=beta_next)
        v = self.visible_units.sample(field, None, u[n * n_h:].view(n, n_v), overwrite=True)
        return increment, v

    def annealing_base_log_partition(self, base=None) -> float:
        """log Z of ``annealed(0, base)``: independent visible units with fields b (or b_0 of
        ``base``), plus n_hidden free hidden units."""
        zero = torch.zeros((), dtype=self.dtype, device=self.device)
        return float(self.visible_units.log_normalizer(self._annealed_bias(0.0, base)).sum()
                     + self.n_hidden * self.hidden_units.log_normalizer(zero))

    # ---------------------------------------------------------------- low-rank start (LowRankStart)
    def from_spin_start(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor,
                        weight_std: float = 1e-4, generator: torch.Generator | None = None) -> "RBM":
        """This RBM's units and shapes, its first K hidden units the ±1 RBM (``weights`` (N, K),
        ``visible_bias`` η (N,), ``hidden_bias`` θ (K,)) converted exactly to these units
        (:meth:`to_bernoulli`), the other n_hidden - K with N(0, ``weight_std``²) weights and zero
        bias (docs/methods.md 6.5)."""
        k = weights.shape[1]
        if weights.shape[0] != self.n_visible or k > self.n_hidden:
            raise ValueError(f"a start of shape {tuple(weights.shape)} for an RBM of "
                             f"{self.n_visible} x {self.n_hidden} units")
        like = {"device": self.device, "dtype": torch.float64}
        spin = RBM(weights.to(**like), visible_bias.to(**like), hidden_bias.to(**like), SPIN, SPIN)
        if (self.visible_units, self.hidden_units) != (SPIN, SPIN):
            spin = spin.as_bernoulli()
            if (self.visible_units, self.hidden_units) != (BERNOULLI, BERNOULLI):
                raise ValueError("a low-rank start needs both layers in the same units")
        shape = (self.n_visible, self.n_hidden - k)
        extra = torch.zeros(shape, dtype=torch.float64) if weight_std == 0 else \
            torch.randn(shape, generator=generator, dtype=torch.float64) * weight_std
        w = torch.cat([spin.weights, extra.to(self.device)], 1)
        c = torch.cat([spin.hidden_bias, spin.hidden_bias.new_zeros(self.n_hidden - k)])
        return RBM(w.to(self.dtype), spin.visible_bias.to(self.dtype), c.to(self.dtype),
                   self.visible_units, self.hidden_units)

    def to_spins(self, v: Tensor) -> Tensor:
        """The visible values as ±1 spins (2v - 1 for {0,1} units)."""
        return v if self.visible_units is SPIN else 2.0 * v - 1.0

    def from_spins(self, s: Tensor) -> Tensor:
        """±1 spins as the visible values ((1 + s) / 2 for {0,1} units)."""
        return s if self.visible_units is SPIN else 0.5 * (s + 1.0)

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


def independent_site_bias(data: Tensor, units: UnitType, data_weights: Tensor | None = None,
                          eps: float = 1e-4) -> Tensor:
    """Fields of the independent-site model that reproduces the data means.

    Frequencies are clamped to [eps, 1-eps] so that constant columns get a finite bias.
    """
    mean = weighted_mean(data, normalised(data_weights, data))
    p = ((mean - units.low) / (units.high - units.low)).clamp(eps, 1 - eps)
    logit = torch.log(p) - torch.log1p(-p)
    # {0,1}: p = sigmoid(b) ; ±1: p = sigmoid(2 b)
    return logit if units is BERNOULLI else logit / 2


def independent_site_model(data: Tensor, units: UnitType = BERNOULLI,
                           data_weights: Tensor | None = None) -> RBM:
    """The independent-site model as an RBM with no hidden unit (a baseline for likelihoods)."""
    b = independent_site_bias(data, units, data_weights)
    return RBM(data.new_zeros(data.shape[1], 0), b, data.new_zeros(0), units, units)


def build_from_data(data: Tensor, weights: Tensor | None, space, options: dict[str, Any],
                    seed: int) -> RBM:
    """Registry builder of the binary RBMs: :meth:`RBM.init_from_data` with ``n_hidden`` hidden
    units of the visible space's units ({0,1} or ±1) and a generator seeded with ``seed``."""
    units = SPIN if space.name == "spin" else BERNOULLI
    generator = torch.Generator(device=data.device).manual_seed(seed)
    n_hidden = integer(options["n_hidden"], "--hidden (n_hidden)", 1)
    return RBM.init_from_data(data, n_hidden, units, generator,
                              data_weights=None if weights is None else weights.to(data))
