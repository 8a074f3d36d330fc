"""Gaussian-Bernoulli RBM: real visible units with learned standard deviations, {0,1} hidden units.

Joint energy (docs/methods.md section 11.1)::

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c . h - sum_ia (v_i / sigma_i^2) W_ia h_a

with ``weights`` W of shape (n_visible, n_hidden), ``visible_bias`` b, ``hidden_bias`` c and
``log_sigma`` = log sigma (learned, as in Cho, Ilin & Raiko 2011). Summing the hidden units out::

    F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_a softplus(c_a + sum_i (v_i / sigma_i^2) W_ia)

p(h_a = 1 | v) = sigmoid(c_a + sum_i v_i W_ia / sigma_i^2), p(v | h) = N(b + W h, diag sigma^2).
log Z sums the 2^n_hidden hidden states with the Gaussian integral over v in closed form (11.2).
Samplers (``sampler``, 11.4): block Gibbs, and the Gibbs-Langevin sampler of Liao, Kornblith, Ren,
Fleet & Hinton, *Gaussian-Bernoulli RBMs Without Tears* (2022), Metropolis-adjusted
(``"gibbs-langevin"``) or not (``"gibbs-langevin-unadjusted"``, the variant their training runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.checks import choice, integer, number
from boltzkit.errors import BoltzkitError, InvalidValue
from boltzkit.models.base import Chains, RandomChains
from boltzkit.models.rbm_base import Centering, gradient_terms, log_sum_over_binary_layer
from boltzkit.models.statistics import normalised, weighted_mean
from boltzkit.models.units import BERNOULLI, random_uniform
from boltzkit.models.visible import REAL_SPACE, VisibleSpace, real_space

__all__ = ["GaussianRBM", "SamplerSettings", "SAMPLERS", "build_from_data", "parameter_count"]

#: The values of the ``sampler`` option (docs/methods.md section 11.4).
SAMPLERS = ("gibbs", "gibbs-langevin", "gibbs-langevin-unadjusted")
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Exact training enumerates 2^n_hidden hidden states at every update, each with a visible row.
_EXACT_MAX_HIDDEN = 22


@dataclass(frozen=True)
class SamplerSettings:
    """What ``sample_step`` does (docs/methods.md section 11.4): ``name`` in :data:`SAMPLERS`; the
    Gibbs-Langevin samplers take ``langevin_steps`` K Langevin steps on v per hidden draw, the
    k-th of size eta_k = ``langevin_step_size`` * mean(sigma^2 / beta) * (1 + cos(pi k / K)) / 2."""

    name: str = "gibbs"
    langevin_steps: int = 10
    langevin_step_size: float = 0.01

    def __post_init__(self) -> None:
        choice(self.name, "--sampler", SAMPLERS)
        object.__setattr__(self, "langevin_steps",
                           integer(self.langevin_steps, "--langevin-steps (langevin_steps)", 1))
        object.__setattr__(self, "langevin_step_size", number(
            self.langevin_step_size, "--langevin-step-size (langevin_step_size)", 0.0, low_open=True))


class GaussianRBM(RandomChains):
    """A Gaussian-Bernoulli RBM (docs/methods.md section 11). Build one with
    :meth:`init_from_data` or from tensors.

    Parameters
    ----------
    weights : Tensor of shape (n_visible, n_hidden)
    visible_bias, log_sigma : Tensors of shape (n_visible,)
    hidden_bias : Tensor of shape (n_hidden,)
    visible : VisibleSpace
        A real space, with the offset and scale of the data's standardisation if any.
    sampler : SamplerSettings, optional
        The Monte Carlo step of :meth:`sample_step` (default: block Gibbs).
    base : (mean, std) Tensors of shape (n_visible,), optional
        The independent Gaussians the AIS path starts from and the chains are drawn from
        (:meth:`annealed`, :meth:`init_chains`): the training data's means and standard deviations
        in model values; default the model's own b and sigma.
    """

    kind = "gaussian-rbm"
    samplers = SAMPLERS  # the variants of sample_step (capability SamplerVariants)
    penalized_parameters = ("weights",)  # the trainer's l1/l2 apply to these
    shared_random_numbers = False  # sample_steps draws the numbers of each step in turn

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor, log_sigma: Tensor,
                 visible: VisibleSpace = REAL_SPACE, sampler: SamplerSettings | None = None,
                 base: tuple[Tensor, Tensor] | None = None):
        if weights.ndim != 2:
            raise ValueError(f"weights must have shape (n_visible, n_hidden), got {tuple(weights.shape)}")
        n, m = weights.shape
        shapes = {"visible_bias": (visible_bias, (n,)), "log_sigma": (log_sigma, (n,)),
                  "hidden_bias": (hidden_bias, (m,))}
        shapes.update({} if base is None else {"base mean": (base[0], (n,)), "base std": (base[1], (n,))})
        for name, (tensor, shape) in shapes.items():
            if tuple(tensor.shape) != shape:
                raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {shape} for weights "
                                 f"{tuple(weights.shape)}")
        if not visible.real or (visible.scale is not None and len(visible.scale) != n):
            got = f"{len(visible.scale)} scales" if visible.real else f"a {visible.name} space"
            raise ValueError(f"a Gaussian RBM needs a real visible space of {n} features, got {got}")
        self.weights, self.visible_bias, self.hidden_bias, self.log_sigma = (
            weights, visible_bias, hidden_bias, log_sigma)
        self.visible = visible
        self.sampler = SamplerSettings() if sampler is None else sampler
        self.base = base

    # ---------------------------------------------------------------- parameters and copies
    def parameters(self) -> dict[str, Tensor]:
        return {"weights": self.weights, "visible_bias": self.visible_bias,
                "hidden_bias": self.hidden_bias, "log_sigma": self.log_sigma}

    def _with(self, **changes: Any) -> "GaussianRBM":
        """A model with some tensors or settings changed (the others shared)."""
        fields = dict(self.parameters(), visible=self.visible, sampler=self.sampler, base=self.base)
        return GaussianRBM(**{**fields, **changes})

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> "GaussianRBM":
        moved = {k: p.to(device=device, dtype=dtype) for k, p in self.parameters().items()}
        base = None if self.base is None else tuple(t.to(device=device, dtype=dtype) for t in self.base)
        return self._with(**moved, base=base)

    def clone(self) -> "GaussianRBM":
        base = None if self.base is None else tuple(t.clone() for t in self.base)
        return self._with(**{k: p.clone() for k, p in self.parameters().items()}, base=base)

    def with_sampler(self, sampler: SamplerSettings) -> "GaussianRBM":
        """The same model (tensors shared) whose :meth:`sample_step` runs ``sampler``."""
        return self._with(sampler=sampler)

    @property
    def sampler_name(self) -> str:
        """The variant :meth:`sample_step` runs (capability SamplerVariants)."""
        return self.sampler.name

    def with_sampler_options(self, options: dict[str, Any]) -> "GaussianRBM":
        """The same model whose sampler takes ``options`` (keys ``sampler``, ``langevin_steps``,
        ``langevin_step_size``; those not given keep their values), checked by
        :class:`SamplerSettings`."""
        unknown = sorted(set(options) - {"sampler", "langevin_steps", "langevin_step_size"})
        if unknown:
            raise InvalidValue(f"the {self.kind} sampler has no option {', '.join(unknown)}")
        current = self.sampler
        return self._with(sampler=SamplerSettings(options.get("sampler", current.name),
                                                  options.get("langevin_steps", current.langevin_steps),
                                                  options.get("langevin_step_size",
                                                              current.langevin_step_size)))

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

    @property
    def variance(self) -> Tensor:
        """sigma^2 = exp(2 log_sigma), shape (n_visible,)."""
        return torch.exp(2.0 * self.log_sigma)

    def _base(self, base: Any = None) -> tuple[Tensor, Tensor]:
        """(mean, std) of the independent Gaussians of the AIS base and of :meth:`init_chains`:
        those of ``base`` (a Gaussian RBM without hidden units, e.g. the independent-site baseline
        :func:`boltzkit.models.baseline.independent_site_model`), else the stored ``base``, else the
        model's own b and sigma."""
        if base is not None:
            if tuple(base.visible_bias.shape) != (self.n_visible,) or getattr(base, "n_hidden", 0):
                raise ValueError(f"an AIS base for {self.n_visible} Gaussian units is a Gaussian RBM "
                                 f"without hidden units, got {type(base).__name__}")
            return tuple(t.to(self.device, self.dtype) for t in (base.visible_bias, base.log_sigma.exp()))
        return (self.visible_bias, self.log_sigma.exp()) if self.base is None else self.base

    # ---------------------------------------------------------------- construction and config
    @classmethod
    def init_from_data(cls, data: Tensor, n_hidden: int, visible: VisibleSpace = REAL_SPACE,
                       sampler: SamplerSettings | None = None, generator: torch.Generator | None = None,
                       weight_std: float = 0.01, data_weights: Tensor | None = None) -> "GaussianRBM":
        """b and sigma the (weighted) means and standard deviations of ``data`` (model values; a
        column's sigma at least 1e-6), W ~ N(0, weight_std^2), c = 0; the data's means and
        standard deviations are also the AIS base (docs/methods.md section 11.7)."""
        w = normalised(data_weights, data)
        mean = weighted_mean(data, w)
        std = weighted_mean((data - mean) ** 2, w).sqrt().clamp_min(1e-6)
        weights = torch.randn(data.shape[1], n_hidden, generator=generator, dtype=data.dtype,
                              device=data.device) * weight_std
        return cls(weights, mean.clone(), data.new_zeros(n_hidden), std.log(), visible, sampler,
                   (mean.clone(), std.clone()))

    def config(self) -> dict[str, Any]:
        space = self.visible
        base = None if self.base is None else {"mean": self.base[0].tolist(), "std": self.base[1].tolist()}
        return {"kind": self.kind, "n_visible": self.n_visible, "n_hidden": self.n_hidden,
                "standardize": space.scale is not None, "sampler": self.sampler.name,
                "langevin_steps": self.sampler.langevin_steps,
                "langevin_step_size": self.sampler.langevin_step_size,
                "offset": None if space.offset is None else list(space.offset),
                "scale": None if space.scale is None else list(space.scale), "annealing_base": base}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]) -> "GaussianRBM":
        """The model of :meth:`config` with its tensors ``params``."""
        tensors = {k: torch.as_tensor(params[k]) for k in ("weights", "visible_bias", "hidden_bias",
                                                              "log_sigma")}
        sampler = SamplerSettings(config.get("sampler", "gibbs"), config.get("langevin_steps", 10),
                                  config.get("langevin_step_size", 0.01))
        stored = config.get("annealing_base")
        like = tensors["visible_bias"]
        base = None if stored is None else tuple(torch.as_tensor(stored[k], dtype=like.dtype,
                                                                 device=like.device)
                                                 for k in ("mean", "std"))
        return cls(**tensors, visible=real_space(config.get("offset"), config.get("scale")),
                   sampler=sampler, base=base)

    # ---------------------------------------------------------------- energies
    def hidden_field(self, v: Tensor) -> Tensor:
        """c + (v / sigma^2) W, shape (batch, n_hidden)."""
        return torch.addmm(self.hidden_bias, v / self.variance, self.weights)

    def visible_mean(self, h: Tensor) -> Tensor:
        """E[v | h] = b + W h, shape (batch, n_visible)."""
        return torch.addmm(self.visible_bias, h, self.weights.T)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """Joint energy E(v, h), shape (batch,)."""
        var = self.variance
        return ((v - self.visible_bias) ** 2 / (2.0 * var)).sum(-1) - h @ self.hidden_bias \
            - ((v / var) @ self.weights * h).sum(-1)

    def free_energy(self, v: Tensor) -> Tensor:
        """Marginal energy F(v) = -log sum_h exp(-E(v, h)), shape (batch,)."""
        quadratic = ((v - self.visible_bias) ** 2 / (2.0 * self.variance)).sum(-1)
        return quadratic - F.softplus(self.hidden_field(v)).sum(-1)

    def free_energy_grad(self, v: Tensor) -> Tensor:
        """dF/dv = (v - b - W <h|v>) / sigma^2, shape (batch, n_visible)."""
        h = torch.sigmoid(self.hidden_field(v))
        return (v - self.visible_mean(h)) / self.variance

    def hidden_free_energy(self, h: Tensor) -> Tensor:
        """-log of the integral of exp(-E(v, h)) over v, shape (batch,) (docs/methods.md 11.2):
        -c.h - sum_i [log(sqrt(2 pi) sigma_i) + ((W h)_i^2 + 2 b_i (W h)_i) / (2 sigma_i^2)]."""
        wh = h @ self.weights.T
        gauss = (wh * (2.0 * self.visible_bias + wh) / (2.0 * self.variance)).sum(-1)
        return -(h @ self.hidden_bias) - gauss - self.log_sigma.sum() - self.n_visible * _LOG_SQRT_2PI

    # ---------------------------------------------------------------- conditionals
    def transform(self, v: Tensor) -> Tensor:
        """Conditional mean of the hidden units <h | v>, shape (batch, n_hidden)."""
        return torch.sigmoid(self.hidden_field(v))

    def sample_hidden(self, v: Tensor, generator: torch.Generator | None = None,
                      beta: float = 1.0) -> Tensor:
        """h ~ p(h | v) at inverse temperature ``beta``, shape (batch, n_hidden)."""
        return BERNOULLI.sample(self.hidden_field(v).mul_(beta), generator, overwrite=True)

    def sample_visible(self, h: Tensor, generator: torch.Generator | None = None,
                       beta: float = 1.0) -> Tensor:
        """v ~ p(v | h) = N(b + W h, sigma^2 / beta), shape (batch, n_visible)."""
        std = (self.log_sigma.exp() / math.sqrt(beta)).expand(h.shape[0], -1)
        return torch.normal(self.visible_mean(h), std, generator=generator)

    # ---------------------------------------------------------------- sampling
    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """``n`` chains drawn from Gaussian noise: the independent Gaussians of the AIS base (the
        data's means and standard deviations in model values, N(0, 1) for standardised data; the
        model's b and sigma without a stored base), docs/methods.md section 11.4."""
        mean, std = self._base()
        noise = torch.randn((n, self.n_visible), generator=generator, dtype=self.dtype, device=self.device)
        return Chains(torch.addcmul(mean, std, noise))

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One step of the model's sampler (block Gibbs or Gibbs-Langevin) at inverse temperature
        ``beta`` (all parameters scaled by beta: p(v, h)^beta)."""
        return self.sample_steps(chains, 1, generator, beta)

    def sample_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None = None,
                     beta: float = 1.0) -> Chains:
        """``n_steps`` steps of the model's sampler (:class:`SamplerSettings`, docs/methods.md
        section 11.4); the chains come back with their hidden states."""
        if n_steps == 0:
            return chains
        if self.sampler.name == "gibbs":
            return self._gibbs_steps(chains.visible, n_steps, generator, beta)
        return self._gibbs_langevin_steps(chains, n_steps, generator, beta,
                                          adjusted=self.sampler.name == "gibbs-langevin")

    def _hidden_coupling(self, beta: float) -> tuple[Tensor, Tensor]:
        """(beta c, beta W / sigma^2): the hidden field at ``beta`` is one addmm of v."""
        return self.hidden_bias * beta, self.weights * (beta / self.variance).unsqueeze(1)

    def _gibbs_steps(self, v: Tensor, n_steps: int, generator: torch.Generator | None,
                     beta: float) -> Chains:
        """Block Gibbs v -> h ~ p(h|v) -> v ~ N(b + W h, sigma^2 / beta)."""
        c, w_in = self._hidden_coupling(beta)
        std = self.log_sigma.exp() / math.sqrt(beta)
        for _ in range(n_steps):
            h = BERNOULLI.sample(torch.addmm(c, v, w_in), generator, overwrite=True)
            noise = torch.randn(v.shape, generator=generator, dtype=v.dtype, device=v.device)
            v = self.visible_mean(h).addcmul_(std, noise)
        return Chains(v, h)

    def langevin_coefficients(self, beta: float = 1.0) -> tuple[Tensor, Tensor]:
        """(A, S), shape (n_visible,) each: the K Langevin steps of the Gibbs-Langevin sampler on
        the conditional energy beta E(v, h) (a Gaussian of mean m = b + W h and variance
        r = sigma^2 / beta), v <- v - eta_k (v - m) / r + sqrt(2 eta_k) xi, compose to
        v_K = m + A (v_0 - m) + S xi (docs/methods.md section 11.4)."""
        r = self.variance / beta
        steps = self.sampler.langevin_steps
        scale = self.sampler.langevin_step_size * float(r.mean())
        decay, var = torch.ones_like(r), torch.zeros_like(r)
        for k in range(steps):
            eta = scale * (1.0 + math.cos(math.pi * k / steps)) / 2.0
            a = 1.0 - eta / r
            decay, var = a * decay, a * a * var + 2.0 * eta
        return decay, var.sqrt()

    def _tempered_free_energy(self, v: Tensor, field: Tensor, half_precision: Tensor) -> Tensor:
        """F_beta(v) = sum_i beta (v_i - b_i)^2 / (2 sigma_i^2) - sum_a softplus(field_a), shape
        (batch,), for ``field`` the hidden field at beta and ``half_precision`` = beta / (2 sigma^2)."""
        return torch.mv((v - self.visible_bias).square_(), half_precision) - F.softplus(field).sum(-1)

    def _gibbs_langevin_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None,
                              beta: float, adjusted: bool) -> Chains:
        """Gibbs-Langevin (Liao et al. 2022): from the state (v, h), K Langevin steps on v under
        E(., h) (drawn at once, :meth:`langevin_coefficients`), then h' ~ p(h | v'); ``adjusted``:
        the move to (v', h') is accepted with the Metropolis-Hastings probability
        min(1, exp(F(v) - F(v') + log q(v | v', h') - log q(v' | v, h))) (docs/methods.md 11.4).
        Chains without hidden states start with h ~ p(h | v)."""
        c, w_in = self._hidden_coupling(beta)
        decay, spread = self.langevin_coefficients(beta)
        half_precision, inverse_spread2 = beta / (2.0 * self.variance), spread.pow(-2)
        v = chains.visible
        field = torch.addmm(c, v, w_in)
        f = self._tempered_free_energy(v, field, half_precision) if adjusted else None
        h = BERNOULLI.sample(field, generator, overwrite=True) if chains.hidden is None else chains.hidden
        m = self.visible_mean(h)
        for _ in range(n_steps):
            noise = torch.randn(v.shape, generator=generator, dtype=v.dtype, device=v.device)
            v_new = torch.addcmul(m, decay, v - m).addcmul_(spread, noise)
            field = torch.addmm(c, v_new, w_in)
            f_new = self._tempered_free_energy(v_new, field, half_precision) if adjusted else None
            h_new = BERNOULLI.sample(field, generator, overwrite=True)
            m_new = self.visible_mean(h_new)
            if not adjusted:
                v, h, m = v_new, h_new, m_new
                continue
            # S xi' of the reverse move (v', h') -> v: v - m' - A (v' - m')
            back = (v - m_new).sub_((v_new - m_new).mul_(decay))
            log_ratio = f - f_new + 0.5 * (torch.linalg.vector_norm(noise, dim=1).square()
                                           - torch.mv(back.square_(), inverse_spread2))
            u = random_uniform((v.shape[0],), generator, v.device, v.dtype)
            accept = torch.log(u) < log_ratio
            v, h, m = (torch.where(accept.unsqueeze(1), new, old)
                       for new, old in ((v_new, v), (h_new, h), (m_new, m)))
            f = torch.where(accept, f_new, f)
        return Chains(v, h)

    # ---------------------------------------------------------------- learning
    def log_likelihood_gradient(self, data: Tensor, chains: Chains, data_weights: Tensor | None = None,
                                centered: bool = True, *,
                                data_hidden: Tensor | None = None) -> dict[str, Tensor]:
        """Positive minus negative phase of d<log p(v)>_data / d theta (docs/methods.md 11.3).

        W, b, c: the RBM gradient (:func:`~boltzkit.models.rbm_base.gradient_terms`) on the
        visible values x = v / sigma^2; log sigma: <(v - b)^2 / sigma^2 - 2 x (W <h|v>)> of the data
        minus that of the model, i.e. Delta<v x> - 2 b Delta<x> - 2 sum_a W_ia Delta<x_i h_a>
        (Delta: data minus model), the last from the plain W gradient. The data term uses <h|v>;
        the model term the chains' visible states with their <h|v>, or, for weighted chains that
        carry hidden states (:meth:`exact_chains`), those states with v integrated given h in
        closed form. ``centered``: the centered gradient (docs/methods.md 6.1), log sigma unchanged
        by it. ``data_hidden``: ``transform(data)`` if the caller has it (from :meth:`centering`).
        """
        var = self.variance
        w_d = normalised(data_weights, self.weights)
        x_d = data / var
        h_d = torch.sigmoid(torch.addmm(self.hidden_bias, x_d, self.weights)) if data_hidden is None \
            else data_hidden
        x_m, h_m, w_m, vx_m = self._model_terms(chains, var)
        grad_w, grad_b, grad_c = gradient_terms(x_d, h_d, w_d, x_m, h_m, w_m, centered)
        delta_x, delta_xh = self._plain_differences(grad_w, grad_b, grad_c, x_d, h_d, w_d, centered)
        grad_s = weighted_mean(data * x_d, w_d) - vx_m - 2.0 * self.visible_bias * delta_x \
            - 2.0 * (self.weights * delta_xh).sum(1)
        return {"weights": grad_w, "visible_bias": grad_b, "hidden_bias": grad_c, "log_sigma": grad_s}

    @staticmethod
    def _plain_differences(grad_w: Tensor, grad_b: Tensor, grad_c: Tensor, x_d: Tensor, h_d: Tensor,
                           w_d: Tensor | None, centered: bool) -> tuple[Tensor, Tensor]:
        """(<x>_d - <x>_m, <x h^T>_d - <x h^T>_m) from the output of ``gradient_terms``: the plain
        gradient of b and W, or, for the centered one (docs/methods.md 6.1: dW' = dW - x̄ dh^T -
        dx h̄^T, db' = dx - dW' h̄, dc' = dh - x̄^T dW'), that map undone with the data means."""
        if not centered:
            return grad_b, grad_w
        x_bar, h_bar = weighted_mean(x_d, w_d), weighted_mean(h_d, w_d)
        delta_x, delta_h = grad_b + grad_w @ h_bar, grad_c + x_bar @ grad_w
        return delta_x, grad_w + torch.outer(x_bar, delta_h) + torch.outer(delta_x, h_bar)

    def _model_terms(self, chains: Chains, var: Tensor) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """(x = v / sigma^2, <h|v> or h, row weights, <v x>) of the negative phase; weighted chains
        with hidden states: x = E[v|h] / sigma^2 = m(h) / sigma^2 and E[v x | h] = m^2 / sigma^2 + 1."""
        w_m = None if chains.weights is None else chains.weights.to(self.device, self.dtype)
        if w_m is not None and chains.hidden is not None:
            h = chains.hidden.to(self.device, self.dtype)
            m = self.visible_mean(h)
            x = m / var
            return x, h, w_m, weighted_mean(m * x, w_m) + 1.0
        v = chains.visible.to(self.device, self.dtype)
        x = v / var
        h = torch.sigmoid(torch.addmm(self.hidden_bias, x, self.weights))
        return x, h, w_m, weighted_mean(v * x, w_m)

    def centering(self, data: Tensor, data_weights: Tensor | None = None) -> Centering:
        """Offsets of the centered parametrisation (docs/methods.md 6.1, 11.3): x̄ = <v / sigma^2>_D
        and h̄ = <<h|v>>_D, with <h|v> of the rows kept for the gradient."""
        w = normalised(data_weights, self.weights)
        h = self.transform(data)
        return Centering(weighted_mean(data / self.variance, w), weighted_mean(h, w), h)

    # ---------------------------------------------------------------- exact sums
    def enumeration_log2_size(self) -> float:
        """log2 of the terms of the exact log Z: the 2^n_hidden hidden states."""
        return float(self.n_hidden)

    def log_partition_exact(self, chunk_size: int = 1 << 14, max_units: int = 26) -> float:
        """log Z = logsumexp_h -G(h), G the :meth:`hidden_free_energy`, in float64 (docs/methods.md
        11.2). Cost 2^n_hidden * n_visible * n_hidden."""
        if self.n_hidden > max_units:
            raise ValueError(f"exact log Z needs at most {max_units} hidden units (this model has "
                             f"{self.n_hidden}); use AIS")
        model = self.to(dtype=torch.float64)
        return log_sum_over_binary_layer(model.hidden_free_energy, self.n_hidden, BERNOULLI,
                                         chunk_size, self.device)

    def exact_chains(self) -> Chains:
        """Every hidden state h with p(h) (``weights``) and E[v | h] (``visible``): the exact model
        average of :meth:`log_likelihood_gradient` (docs/methods.md 11.2, 11.3)."""
        if self.n_hidden > _EXACT_MAX_HIDDEN:
            raise BoltzkitError(f"--method exact enumerates the 2^{self.n_hidden} hidden states of "
                                f"this model: at most {_EXACT_MAX_HIDDEN} hidden units")
        h = BERNOULLI.enumerate(self.n_hidden, self.device, self.dtype)
        p = torch.softmax(-self.to(dtype=torch.float64).hidden_free_energy(h.double()), 0)
        return Chains(self.visible_mean(h), h, p.to(self.dtype))

    # ---------------------------------------------------------------- annealing (AIS)
    def _path(self, beta: float, base: Any = None) -> tuple[Tensor, Tensor, Tensor]:
        """(b_beta, sigma_beta^2, beta sigma_beta^2 / sigma^2) of the AIS path at ``beta`` from the
        base N(mu, s^2) (docs/methods.md 11.5): precision (1 - beta) / s^2 + beta / sigma^2, mean
        sigma_beta^2 ((1 - beta) mu / s^2 + beta b / sigma^2), W_beta = beta sigma_beta^2 W / sigma^2."""
        mu, s = self._base(base)
        var, base_var = self.variance, s * s
        var_beta = 1.0 / ((1.0 - beta) / base_var + beta / var)
        b_beta = var_beta * ((1.0 - beta) * mu / base_var + beta * self.visible_bias / var)
        return b_beta, var_beta, beta * var_beta / var

    def annealed(self, beta: float, base: Any = None) -> "GaussianRBM":
        """The model at ``beta`` on the AIS path p_beta(v, h) ∝ p_0(v, h)^(1 - beta) p(v, h)^beta,
        p_0 the independent Gaussians of the base (:meth:`_base`) with free hidden units: again a
        Gaussian RBM (docs/methods.md 11.5), sampled by block Gibbs."""
        b_beta, var_beta, scale = self._path(beta, base)
        return GaussianRBM(self.weights * scale.unsqueeze(1), b_beta, self.hidden_bias * beta,
                           0.5 * var_beta.log(), self.visible, SamplerSettings(), self._base(base))

    def annealing_base_log_partition(self, base: Any = None) -> float:
        """log Z of ``annealed(0, base)``: sum_i log(sqrt(2 pi) s_i) + n_hidden log 2."""
        std = self._base(base)[1].double()
        return float(std.log().sum() + self.n_visible * _LOG_SQRT_2PI + self.n_hidden * math.log(2.0))

    def annealing_step(self, v: Tensor, beta: float, beta_next: float,
                       generator: torch.Generator | None = None, base: Any = None) -> tuple[Tensor, Tensor]:
        """One AIS transition: the log-weight increment F_beta(v) - F_beta_next(v), shape (batch,),
        and v after one block-Gibbs step at ``beta_next`` (the quantities of ``annealed(beta, base)``
        and ``annealed(beta_next, base)``, with one product v W)."""
        x = self.hidden_field(v)
        (b0, var0, _), (b1, var1, scale1) = self._path(beta, base), self._path(beta_next, base)
        quad = ((v - b0) ** 2 / (2.0 * var0) - (v - b1) ** 2 / (2.0 * var1)).sum(-1)
        increment = quad + (F.softplus(beta_next * x) - F.softplus(beta * x)).sum(-1)
        h = BERNOULLI.sample(x.mul_(beta_next), generator, overwrite=True)
        noise = torch.randn(v.shape, generator=generator, dtype=v.dtype, device=v.device)
        v = torch.addcmul(b1, h @ self.weights.T, scale1).addcmul_(var1.sqrt(), noise)
        return increment, v


def parameter_count(n_visible: int, n_states: int, options: dict[str, Any]) -> int:
    """Parameter scalars of a Gaussian RBM: W, b, log sigma and c."""
    return n_visible * options["n_hidden"] + 2 * n_visible + options["n_hidden"]


def build_from_data(data: Tensor, weights: Tensor | None, space: VisibleSpace, options: dict[str, Any],
                    seed: int) -> GaussianRBM:
    """Registry builder: :meth:`GaussianRBM.init_from_data` on ``data`` (model values, already
    standardised by ``space`` when it carries an offset and a scale), ``n_hidden`` hidden units,
    the sampler of the options, and a generator seeded with ``seed``."""
    n_hidden = integer(options["n_hidden"], "--hidden (n_hidden)", 1)
    if not isinstance(options["standardize"], bool):
        raise InvalidValue(f"--standardize must be True or False, got "
                           f"{options['standardize']!r}")
    sampler = SamplerSettings(options["sampler"], options["langevin_steps"], options["langevin_step_size"])
    if not space.real:
        raise InvalidValue(f"the gaussian-rbm family models real values, not {space.values_text}")
    generator = torch.Generator(device=data.device).manual_seed(seed)
    return GaussianRBM.init_from_data(data, n_hidden, space, sampler, generator,
                                      data_weights=None if weights is None else weights.to(data))
