"""Restricted Boltzmann machine with Potts (categorical, q states) visible units and Bernoulli
{0,1} hidden units — the model of rbmDCA (Tubiana, Cocco, Monasson, eLife 2019) and of
Decelle, Seoane, Rosset et al.'s protein experiments (docs/methods.md sections 1.5, 3.2).

Joint energy (docs/methods.md section 1.5)::

    E(v, h) = - sum_{i,mu,a} W_ia^mu h_a delta(v_i, mu) - sum_{i,mu} b_i^mu delta(v_i, mu) - sum_a c_a h_a

with ``weights`` W of shape **(n_visible, q, n_hidden)** (site, state, hidden unit: the
``clusterbm`` / ``TorchRBM`` layout), ``visible_bias`` b of shape (n_visible, q) and
``hidden_bias`` c of shape (n_hidden,). The marginal (visible free) energy is::

    F(v) = - sum_i b_i^{v_i} - sum_a softplus(c_a + sum_i W_ia^{v_i})

Conventions
-----------
* **Configurations are integer codes** 0..q-1 of shape (batch, n_visible) (for alignments: the
  codes of :func:`boltzkit.data.msa.read_msa`, index 0 = gap). Every method accepts integer or
  floating tensors holding codes; chains and samples are returned as *float codes in the model's
  dtype*, so that the generic trainer (weights in the data's dtype, chains saved and restored in
  the data's dtype) and the evaluation code (``data.to(model.dtype)``) work unchanged.
* Internally a batch is one-hot encoded and flattened to (batch, n_visible * q), and the weights
  are viewed as (n_visible * q, n_hidden): every field is then one matrix product.
* **Centering.** :meth:`PottsRBM.log_likelihood_gradient` gives the centered gradient
  (docs/methods.md section 6.1) on the one-hot units; :meth:`PottsRBM.centering` gives the
  centered coordinates in which the trainer runs its optimizer (:class:`~boltzkit.models.rbm_base.Centering`, shared with
  the binary RBM).
* **Gauge.** p(v) is unchanged by W_ia^mu -> W_ia^mu + A_ia (with c_a -> c_a - sum_i A_ia) and by
  b_i^mu -> b_i^mu + B_i. The zero-sum gauge (sum_mu W_ia^mu = 0, sum_mu b_i^mu = 0) fixes both;
  :meth:`PottsRBM.after_update` re-imposes it after every optimizer step (as ``DsysDML/rbms``).
* **Shared code.** The parameters, copies, hidden layer (``transform``, ``sample_hidden``: one
  uniform per unit from :func:`~boltzkit.models.units.random_uniform`), AIS path, gradient
  estimator and centering are those of the binary RBM (:mod:`boltzkit.models.rbm_base`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.checks import integer, number
from boltzkit.errors import InvalidValue
from boltzkit.models.base import Chains
from boltzkit.models.capabilities import BernoulliForm
from boltzkit.models.rbm_base import RBMBase, log_sum_over_binary_layer
from boltzkit.models.units import BERNOULLI, exact_log_sum
from boltzkit.models.visible import VisibleSpace, categorical_space

__all__ = ["PottsRBM", "independent_site_potts", "one_hot_flat", "sample_categorical",
           "enumerate_codes", "site_frequencies"]


# ---------------------------------------------------------------------------------- kernels
def one_hot_flat(codes: Tensor, q: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """One-hot encoding flattened to shape (batch, n_sites * q) for codes of shape (batch, n_sites)."""
    return F.one_hot(codes.long(), q).reshape(codes.shape[0], -1).to(dtype)


def sample_categorical(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw one state per row of ``logits`` (shape (..., q)) from softmax(logits); int64 codes (...).

    Inverse-transform sampling: one uniform per site, compared with the cumulative probabilities.
    """
    cdf = torch.softmax(logits, -1).cumsum(-1)
    u = torch.rand(logits.shape[:-1] + (1,), generator=generator, device=logits.device,
                   dtype=cdf.dtype)
    # first state with cdf >= u; rounding can leave cdf[-1] slightly below 1: clamp to the last state
    return torch.searchsorted(cdf, u).squeeze(-1).clamp_max(logits.shape[-1] - 1)


def enumerate_codes(n_sites: int, q: int, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float64, max_states: int = 1 << 24) -> Tensor:
    """All q**n_sites configurations as codes, shape (q**n_sites, n_sites); site 0 varies slowest."""
    total = q**n_sites
    if total > max_states:
        raise ValueError(f"cannot enumerate {q}**{n_sites} = {total} configurations "
                         f"(limit {max_states})")
    idx = torch.arange(total, device=device)
    powers = q ** torch.arange(n_sites - 1, -1, -1, device=device)
    return ((idx.unsqueeze(1) // powers) % q).to(dtype)


def site_frequencies(codes: Tensor, q: int, weights: Tensor | None = None,
                     pseudocount: float = 0.0, dtype: torch.dtype = torch.float64) -> Tensor:
    """Weighted one-site frequencies f_i^mu, shape (n_sites, q), with f <- (1-λ) f + λ/q
    (docs/methods.md section 9.2).

    Parameters
    ----------
    codes : Tensor of shape (n_samples, n_sites), integer or floating codes 0..q-1
    q : int, states per site
    weights : Tensor of shape (n_samples,), optional: non-negative, positive sum (default uniform)
    pseudocount : float, λ in [0, 1]
    dtype : dtype of the result (the sums are in float64)

    The weights are added into the (site, state) bins by ``index_add_`` over blocks of rows: no
    one-hot matrix of the samples (n_samples x n_sites x q) is built.
    """
    q = integer(q, "q", 1)
    pseudocount = number(pseudocount, "pseudocount", 0.0, 1.0)
    if codes.ndim != 2 or codes.shape[0] == 0:
        raise InvalidValue(f"codes must have shape (n_samples, n_sites) with n_samples > 0, "
                           f"got {tuple(codes.shape)}")
    if codes.numel() and (bool(codes.min() < 0) or bool(codes.max() >= q)):
        raise InvalidValue(f"codes must lie in 0..{q - 1}")
    w = _row_weights(weights, codes)
    f = (_weighted_state_counts(codes, q, w) / w.sum()).reshape(codes.shape[1], q)
    return ((1.0 - pseudocount) * f + pseudocount / q).to(dtype)


def _row_weights(weights: Tensor | None, codes: Tensor) -> Tensor:
    """The rows' weights in float64 on the codes' device (ones when None), checked."""
    if weights is None:
        return torch.ones(codes.shape[0], dtype=torch.float64, device=codes.device)
    w = weights.to(codes.device, torch.float64)
    if w.shape != (codes.shape[0],):
        raise InvalidValue(f"weights must have shape ({codes.shape[0]},), got {tuple(w.shape)}")
    if bool((w < 0).any()) or not float(w.sum()) > 0:
        raise InvalidValue("weights must be non-negative with a positive sum")
    return w


def _weighted_state_counts(codes: Tensor, q: int, w: Tensor, block: int = 1 << 18) -> Tensor:
    """``sum_m w_m delta(codes[m, i], mu)`` as a flat (n_sites * q,) float64 tensor, bin i q + mu,
    accumulated over blocks of about ``block`` codes (2 MiB of indices, 2 MiB of weights)."""
    n, length = codes.shape
    counts = torch.zeros(length * q, dtype=torch.float64, device=codes.device)
    offsets = torch.arange(0, length * q, q, device=codes.device)
    step = max(1, block // max(length, 1))
    for start in range(0, n, step):
        index = codes[start:start + step].long() + offsets
        counts.index_add_(0, index.reshape(-1), w[start:start + step, None].expand(index.shape).reshape(-1))
    return counts


class PottsRBM(RBMBase):
    """Potts visible – Bernoulli hidden RBM.

    Parameters
    ----------
    weights : Tensor of shape (n_visible, q, n_hidden)
        W[i, mu, a] couples state mu of site i to hidden unit a.
    visible_bias : Tensor of shape (n_visible, q)
    hidden_bias : Tensor of shape (n_hidden,)
    """

    kind = "potts-rbm"
    hidden_units = BERNOULLI
    penalized_parameters = ("weights",)  # the trainer's l1/l2 apply to these

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor):
        if weights.ndim != 3:
            raise ValueError(f"weights must have shape (n_visible, q, n_hidden), got {tuple(weights.shape)}")
        super().__init__(weights, visible_bias, hidden_bias)

    def _with(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor) -> "PottsRBM":
        return PottsRBM(weights, visible_bias, hidden_bias)

    # ---------------------------------------------------------------- construction
    @classmethod
    def init_from_data(cls, data: Tensor, n_hidden: int, q: int,
                       generator: torch.Generator | None = None, weight_std: float = 1e-4,
                       data_weights: Tensor | None = None, pseudocount: float = 1e-4,
                       dtype: torch.dtype | None = None) -> "PottsRBM":
        """Small random weights N(0, weight_std²), visible bias of the independent-site model
        b_i^mu = log f_i^mu (pseudocount λ: f <- (1-λ) f + λ/q), zero hidden bias; zero-sum gauge.

        Parameters
        ----------
        data : Tensor of shape (n_samples, n_visible), codes 0..q-1
        data_weights : Tensor of shape (n_samples,), optional (e.g. sequence weights)
        dtype : dtype of the parameters (default: ``data``'s if floating, else float32)
        """
        if dtype is None:
            dtype = data.dtype if data.is_floating_point() else torch.float32
        bias = torch.log(site_frequencies(data, q, data_weights, pseudocount)).to(dtype)
        w = torch.randn(data.shape[1], q, n_hidden, generator=generator, dtype=dtype,
                        device=data.device) * weight_std
        return cls(w, bias, bias.new_zeros(n_hidden)).zero_sum_gauge()

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]) -> "PottsRBM":
        return cls(params["weights"], params["visible_bias"], params["hidden_bias"])

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": "potts-rbm", "n_visible": self.n_visible,
                "n_states": self.n_states, "n_hidden": self.n_hidden}

    @property
    def n_states(self) -> int:
        """q, the number of states of each visible unit."""
        return self.weights.shape[1]

    def one_hot(self, v: Tensor) -> Tensor:
        """Flattened one-hot encoding of codes v, shape (batch, n_visible * q), model dtype."""
        return one_hot_flat(v.to(self.device), self.n_states, self.dtype)

    _unit_values = one_hot  # the visible unit values of RBMBase's gradient and centering

    def _rows(self, v: Tensor) -> Tensor:
        """Index of (site i, state v_i) in the flattened (n_visible * q) axis, shape (batch, n_visible)."""
        offsets = torch.arange(self.n_visible, device=self.device) * self.n_states
        return v.to(self.device).long() + offsets

    # ---------------------------------------------------------------- energies
    def hidden_field(self, v: Tensor) -> Tensor:
        """c_a + sum_i W_ia^{v_i}, shape (batch, n_hidden)."""
        # a sum of selected rows of W: the same as one_hot(v) @ W_flat without the one-hot matrix
        return F.embedding_bag(self._rows(v), self._flat_weights(), mode="sum") + self.hidden_bias

    def free_energy(self, v: Tensor) -> Tensor:
        """Marginal energy F(v) = -log sum_h exp(-E(v, h)), shape (batch,)."""
        bias = self.visible_bias.reshape(-1)[self._rows(v)].sum(-1)
        return -bias - F.softplus(self.hidden_field(v)).sum(-1)

    def hidden_free_energy(self, h: Tensor) -> Tensor:
        """The dual marginal -log sum_v exp(-E(v, h)) = -c.h - sum_i logsumexp_mu(b_i + W_i h),
        shape (batch,)."""
        return -(h @ self.hidden_bias) - torch.logsumexp(self.visible_field(h), -1).sum(-1)

    # ---------------------------------------------------------------- conditionals and sampling
    def sample_visible(self, h: Tensor, generator: torch.Generator | None = None,
                       beta: float = 1.0) -> Tensor:
        """Float codes, shape (batch, n_visible): every site drawn from its softmax at once."""
        field = self.visible_field(h)
        return sample_categorical(field if beta == 1.0 else beta * field, generator).to(self.dtype)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One block-Gibbs step v -> h -> v' (at inverse temperature ``beta``)."""
        h = self.sample_hidden(chains.visible, generator, beta)
        return Chains(self.sample_visible(h, generator, beta), h)

    def enumerate_visible(self, max_states: int = 1 << 22) -> Tensor:
        """All q**n_visible configurations as float codes, shape (q**n_visible, n_visible)."""
        return enumerate_codes(self.n_visible, self.n_states, self.device, self.dtype, max_states)

    # ---------------------------------------------------------------- exact partition function
    @property
    def visible(self) -> VisibleSpace:
        return categorical_space(self.n_states)

    def as_bernoulli(self) -> BernoulliForm:
        """The parameters as they are: one-hot visible units, {0,1} hidden units."""
        return BernoulliForm(self.weights, self.visible_bias, self.hidden_bias, 0.0)

    def log_partition_exact(self, chunk_size: int = 1 << 12, max_states: int = 1 << 26) -> float:
        """log Z in float64 by enumerating the cheaper layer.

        Over the hidden layer (2**n_hidden terms)::

            log Z = logsumexp_h [ c.h + sum_i logsumexp_mu (b_i^mu + (W h)_i^mu) ]

        or over the visible layer (q**n_visible terms) as logsumexp_v -F(v).
        """
        n_hidden_states = 2**self.n_hidden
        n_visible_states = self.n_states**self.n_visible
        if min(n_hidden_states, n_visible_states) > max_states:
            raise ValueError(f"exact log Z needs 2**n_hidden or q**n_visible at most {max_states} "
                             f"(here 2**{self.n_hidden} and {self.n_states}**{self.n_visible}); use AIS")
        model = self.to(dtype=torch.float64)
        if n_hidden_states <= n_visible_states:
            return log_sum_over_binary_layer(model.hidden_free_energy, self.n_hidden, BERNOULLI,
                                             chunk_size, self.device)
        return exact_log_sum(model.free_energy, model.enumerate_visible(max_states).split(chunk_size))

    # ---------------------------------------------------------------- annealing (AIS)
    def annealing_base_log_partition(self, base=None) -> float:
        """log Z of ``annealed(0, base)``: independent sites with fields b (or b_0 of ``base``)
        plus n_hidden free hidden units."""
        return float(torch.logsumexp(self._annealed_bias(0.0, base).double(), -1).sum()
                     + self.n_hidden * math.log(2.0))

    # ---------------------------------------------------------------- gauge
    @torch.no_grad()
    def after_update(self) -> None:
        """Re-impose the zero-sum gauge in place (called by the trainer after each step).

        A_ia = mean_mu W_ia^mu; W -= A; c_a += sum_i A_ia; b_i^mu -= mean_mu b_i^mu (docs/methods.md section 1.5).
        The hidden fields, hence p(v), are unchanged; F(v) shifts by the constant sum_i mean_mu b_i^mu.
        """
        shift = self.weights.mean(1)  # (n_visible, n_hidden)
        self.weights.sub_(shift.unsqueeze(1))
        self.hidden_bias.add_(shift.sum(0))
        self.visible_bias.sub_(self.visible_bias.mean(1, keepdim=True))

    def zero_sum_gauge(self) -> "PottsRBM":
        """A copy in the zero-sum gauge (same p(v))."""
        model = self.clone()
        model.after_update()
        return model



def independent_site_potts(data: Tensor, q: int, data_weights: Tensor | None = None,
                           pseudocount: float = 1e-4, dtype: torch.dtype = torch.float64) -> PottsRBM:
    """The independent-site model p(v) = prod_i f_i^{v_i} as a Potts RBM with no hidden unit.

    Frequencies are weighted by ``data_weights`` and regularised by the pseudocount λ
    (f <- (1-λ) f + λ/q), so that states absent from ``data`` keep a finite log-probability.
    Its exact log Z is cheap (:meth:`PottsRBM.log_partition_exact`).
    """
    bias = torch.log(site_frequencies(data, q, data_weights, pseudocount)).to(dtype)
    return PottsRBM(bias.new_zeros(data.shape[1], q, 0), bias - bias.mean(1, keepdim=True),
                    bias.new_zeros(0))


def build_from_data(data: Tensor, weights: Tensor | None, space, options: dict[str, Any],
                    seed: int) -> PottsRBM:
    """Registry builder of the Potts RBM: :meth:`PottsRBM.init_from_data` with ``n_hidden``
    hidden units and ``space.n_states`` states per site."""
    generator = torch.Generator(device=data.device).manual_seed(seed)
    w = None if weights is None else weights.to(data.device, data.dtype)
    n_hidden = integer(options["n_hidden"], "--hidden (n_hidden)", 1)
    return PottsRBM.init_from_data(data, n_hidden, space.n_states, generator, data_weights=w)
