"""Hybrid energy-based model: a pairwise (Ising) energy plus a neural-network energy.

Feinauer & Lucibello, *Reconstruction of Pairwise Interactions using Energy-Based Models*,
arXiv:2012.06625 (MSML 2021, PMLR 145:291-313); docs/methods.md section 5.1. On s in {-1, +1}^N::

    E(s) = - sum_i h_i s_i - sum_{i<j} J_ij s_i s_j + E_NN(s)

with ``fields`` h (N,), ``couplings`` J (N, N) symmetric with zero diagonal, and E_NN a multilayer
perceptron s -> R (``network``: Linear(N, H1), activation, ..., Linear(H_last, 1, no bias); the
output bias would only shift E). Special cases: ``pairwise=False`` is the NN-only model (no h, J),
``neural=False`` the pairwise-only model (an Ising Boltzmann machine).

The explicit J alone is not identifiable — the network can absorb pairwise structure — so the
couplings a hybrid model has learned are those of its *whole* energy,
J_eff = J + J_NN with J_NN = -<E_NN(s) s_i s_j>_uniform (:mod:`boltzkit.interpret.energy_couplings`).

log Z (docs/methods.md section 6.2): exact enumeration for small N, otherwise AIS along
theta_beta = (h, beta J, beta E_NN) from the independent spins of the fields, or from those of an
independent-site model fitted to the data (:meth:`HybridEBM.annealed`).

Training is by pseudo-likelihood (:mod:`boltzkit.training.pseudo_likelihood`), which needs the
energy change of every single-spin flip: :meth:`HybridEBM.flip_energy_differences` gets all N of them
for a batch at the cost of about one forward pass — the pairwise part in closed form
(ΔE_i = 2 s_i (h_i + sum_j J_ij s_j)), and for the network the first layer's pre-activations of
the N flipped configurations are a - 2 s_i W1[:, i] (no (B N, N) input is ever built).

The tensors are stored by name — ``fields``, ``couplings``, ``network.0.weight``, ``network.0.bias``,
``network.2.weight``, ... — so a hybrid model is saved and loaded like any other
(:func:`boltzkit.models.registry.model_from_config`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from boltzkit.errors import BoltzkitError
from boltzkit.models.base import Chains, RandomChains
from boltzkit.models.statistics import normalised, weighted_mean
from boltzkit.models.units import SPIN, exact_log_sum
from boltzkit.models.visible import SPIN_SPACE

__all__ = ["ACTIVATIONS", "MLPEnergy", "HybridEBM"]

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "softplus": nn.Softplus, "elu": nn.ELU}


class MLPEnergy(nn.Module):
    """A scalar energy s -> E_NN(s), shape (batch, N) -> (batch,).

    Parameters
    ----------
    n_visible : int
    hidden : sequence of int
        Widths of the hidden layers (default one layer of 128).
    activation : str
        One of :data:`ACTIVATIONS`.
    generator : torch.Generator, optional
        Draws the initial weights (PyTorch's default scheme, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        but reproducible from the seed).
    """

    def __init__(self, n_visible: int, hidden: Sequence[int] = (128,), activation: str = "silu",
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (choose {', '.join(ACTIVATIONS)})")
        widths = [n_visible, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b, dtype=dtype, device=device), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], 1, bias=False, dtype=dtype, device=device))
        self.network = nn.Sequential(*layers)
        with torch.no_grad():
            for layer in (m for m in self.network if isinstance(m, nn.Linear)):
                for p in layer.parameters():
                    u = torch.rand(p.shape, generator=generator, dtype=torch.float64)
                    p.copy_((2 * u - 1) * (1.0 / math.sqrt(layer.in_features)))
        # like every model's tensors, learned only when a trainer asks for gradients
        self.network.requires_grad_(False)

    @property
    def first(self) -> nn.Linear:
        return self.network[0]

    def forward(self, s: Tensor) -> Tensor:
        return self.network(s).squeeze(-1)

    def from_preactivation(self, a: Tensor) -> Tensor:
        """E_NN given the first layer's pre-activations a (..., H1), shape (...)."""
        return self.network[1:](a).squeeze(-1)

    def flip_differences(self, s: Tensor) -> Tensor:
        """E_NN(s with s_i flipped) - E_NN(s) for every site, shape (batch, N)."""
        a = self.first(s)                                               # (B, H1)
        w = self.first.weight                                           # (H1, N)
        flipped = a[:, None, :] - 2 * s[:, :, None] * w.T[None]         # (B, N, H1)
        return self.from_preactivation(flipped) - self.from_preactivation(a)[:, None]


class HybridEBM(RandomChains):
    """Pairwise + neural-network energy on ±1 spins (see the module docstring).

    Parameters
    ----------
    n_visible : int
    hidden : int or sequence of int
        Width(s) of the network's hidden layers (default 128).
    activation : str
        ``silu`` (default), ``relu``, ``tanh``, ``softplus`` or ``elu``.
    pairwise, neural : bool
        Which parts the energy has (both: hybrid; one of them: the pairwise-only / NN-only model).
    seed : int
        Seed of the network's initial weights (h and J start at zero).
    dtype, device
    """

    kind = "hybrid"
    visible = SPIN_SPACE
    penalized_parameters = ("couplings",)  # the trainer's l1/l2 apply to these
    visible_units = SPIN

    def __init__(self, n_visible: int, hidden: int | Sequence[int] = 128, activation: str = "silu",
                 pairwise: bool = True, neural: bool = True, seed: int = 0,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
        if not (pairwise or neural):
            raise ValueError("a hybrid model needs a pairwise part, a neural part, or both")
        self.n_visible = int(n_visible)
        self.hidden = [int(hidden)] if isinstance(hidden, int) else [int(h) for h in hidden]
        self.activation = activation
        self.pairwise = bool(pairwise)
        self.neural = bool(neural)
        self.seed = int(seed)
        self.fields = torch.zeros(n_visible, dtype=dtype, device=device) if pairwise else None
        self.couplings = torch.zeros(n_visible, n_visible, dtype=dtype, device=device) if pairwise else None
        self.network = MLPEnergy(n_visible, self.hidden, activation, torch.Generator().manual_seed(seed),
                                 dtype, device) if neural else None

    # ---------------------------------------------------------------- construction and storage
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": "hybrid", "n_visible": self.n_visible,
                "hidden": self.hidden, "activation": self.activation, "pairwise": self.pairwise,
                "neural": self.neural, "seed": self.seed, "visible_units": "spin"}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]) -> "HybridEBM":
        """The model of ``config`` holding copies of the tensors ``params`` (named as in
        :meth:`parameters`), in their dtype and on their device."""
        some = next(iter(params.values()))
        model = cls(config["n_visible"], config.get("hidden", [128]), config.get("activation", "silu"),
                    config.get("pairwise", True), config.get("neural", True), config.get("seed", 0),
                    some.dtype, some.device)
        own = model.parameters()
        missing = set(own) - set(params)
        if missing:
            raise ValueError(f"missing tensors for a hybrid model: {', '.join(sorted(missing))}")
        with torch.no_grad():
            for name, tensor in own.items():
                tensor.copy_(params[name])
        return model

    def parameters(self) -> dict[str, Tensor]:
        """The learnable tensors by name (the network's as ``network.<layer>.<weight|bias>``)."""
        out: dict[str, Tensor] = {}
        if self.pairwise:
            out["fields"], out["couplings"] = self.fields, self.couplings
        if self.neural:
            out.update({f"network.{k}": p for k, p in self.network.network.named_parameters()})
        return out

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "HybridEBM":
        return HybridEBM.from_config(self.config(), {k: p.detach().to(device=device, dtype=dtype)
                                                     for k, p in self.parameters().items()})

    def clone(self) -> "HybridEBM":
        return self.to()

    @property
    def device(self) -> torch.device:
        return next(iter(self.parameters().values())).device

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.parameters().values())).dtype

    def pair_matrix(self) -> Tensor:
        """The explicit J (N, N) (zeros for the NN-only model); not the effective couplings."""
        if not self.pairwise:
            return torch.zeros(self.n_visible, self.n_visible, dtype=self.dtype, device=self.device)
        return self.couplings.detach()

    # ---------------------------------------------------------------- energies
    def _masked_couplings(self) -> Tensor:
        # Only the symmetric off-diagonal part acts; the gradient of -1/2 s^T J s is then symmetric
        # and zero on the diagonal, so an elementwise optimizer keeps J symmetric with zero diagonal.
        eye = torch.eye(self.n_visible, dtype=torch.bool, device=self.device)
        return self.couplings.masked_fill(eye, 0.0)

    def pairwise_energy(self, s: Tensor) -> Tensor:
        """-h.s - sum_{i<j} J_ij s_i s_j, shape (batch,) (zeros for the NN-only model)."""
        if not self.pairwise:
            return torch.zeros(s.shape[0], dtype=s.dtype, device=s.device)
        return -(s @ self.fields) - 0.5 * ((s @ self._masked_couplings()) * s).sum(-1)

    def free_energy(self, s: Tensor) -> Tensor:
        """E(s) for s of shape (batch, N) with values ±1; shape (batch,)."""
        s = s.to(device=self.device, dtype=self.dtype)
        e = self.pairwise_energy(s)
        return e + self.network(s) if self.neural else e

    energy = free_energy

    def flip_energy_differences(self, s: Tensor) -> Tensor:
        """E(s^(i)) - E(s) for every site i (s^(i): s with spin i flipped), shape (batch, N)."""
        s = s.to(device=self.device, dtype=self.dtype)
        delta = torch.zeros_like(s)
        if self.pairwise:
            delta = delta + 2 * s * (self.fields + s @ self._masked_couplings())
        if self.neural:
            delta = delta + self.network.flip_differences(s)
        return delta

    # ---------------------------------------------------------------- sampling
    def enumerate_visible(self) -> Tensor:
        return SPIN.enumerate(self.n_visible, self.device, self.dtype)

    def enumeration_log2_size(self) -> float:
        return float(self.n_visible)

    @torch.no_grad()
    def log_partition_exact(self, chunk_size: int = 1 << 14) -> float:
        """log Z = logsumexp_s -E(s) over the 2**N configurations (float64; small N only)."""
        model = self.to(dtype=torch.float64)
        return exact_log_sum(model.free_energy, model.enumerate_visible().split(chunk_size))

    @torch.no_grad()
    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One sequential heat-bath sweep over the sites, all chains at once.

        The network's first-layer pre-activations are updated incrementally after each accepted
        flip, so a site update only runs the layers above the first."""
        s = chains.visible.to(device=self.device, dtype=self.dtype).clone()
        a = self.network.first(s) if self.neural else None
        J = self._masked_couplings() if self.pairwise else None
        for i in range(self.n_visible):
            si = s[:, i]
            delta = torch.zeros_like(si)
            if self.pairwise:
                delta = delta + 2 * si * (self.fields[i] + s @ J[:, i])
            if self.neural:
                a_flip = a - 2 * si[:, None] * self.network.first.weight[:, i]
                delta = delta + self.network.from_preactivation(a_flip) - self.network.from_preactivation(a)
            # heat bath: P(flip) = 1 / (1 + exp(beta * delta))
            u = torch.rand(si.shape, generator=generator, device=self.device, dtype=self.dtype)
            flip = u < torch.sigmoid(-beta * delta)
            if self.neural:
                a = torch.where(flip[:, None], a_flip, a)
            s[:, i] = torch.where(flip, -si, si)
        return Chains(s)

    # ---------------------------------------------------------------- annealing (AIS)
    def annealed(self, beta: float, base: Any = None) -> "HybridEBM":
        """The model on the AIS temperature path (docs/methods.md section 6.2): beta times the
        energy beyond the fields — couplings beta J, network beta E_NN (its last layer, linear
        without bias, scaled) — and the fields h, or (1 - beta) h_0 + beta h from the visible bias
        h_0 of ``base`` (an independent-site model of the spins,
        :func:`boltzkit.models.baseline.independent_site_model`; the NN-only model then gets the
        fields (1 - beta) h_0 and zero couplings)."""
        fields = self._annealed_fields(beta, base)
        params = {k: p.detach() for k, p in self.parameters().items()}
        if fields is not None:
            params["fields"] = fields
            params["couplings"] = beta * self.pair_matrix()
        if self.neural:
            last = f"network.{len(self.network.network) - 1}.weight"
            params[last] = beta * params[last]
        return HybridEBM.from_config({**self.config(), "pairwise": fields is not None}, params)

    def _annealed_fields(self, beta: float, base: Any) -> Tensor | None:
        """The fields at ``beta`` on the path from ``base`` (None: the model's own, or none)."""
        own = self.fields.detach() if self.pairwise else None
        if base is None:
            return own
        start = base.visible_bias.to(self.device, self.dtype)
        if start.shape != (self.n_visible,):
            raise ValueError(f"AIS base of shape {tuple(start.shape)} for {self.n_visible} spins")
        return (1.0 - beta) * start + (0.0 if own is None else beta * own)

    def annealing_base_log_partition(self, base: Any = None) -> float:
        """log Z of ``annealed(0, base)``: independent spins, sum_i log(2 cosh f_i) with the fields
        f = h (or h_0 of ``base``); N log 2 for the NN-only model without a base."""
        fields = self._annealed_fields(0.0, base)
        if fields is None:
            return self.n_visible * math.log(2.0)
        return float(SPIN.log_normalizer(fields.double()).sum())

    # ---------------------------------------------------------------- maximum-likelihood gradient
    def log_likelihood_gradient(self, data: Tensor, chains: Chains, data_weights: Tensor | None = None,
                                centered: bool = True) -> dict[str, Tensor]:
        """-<dE/dθ>_data + <dE/dθ>_model by automatic differentiation, keyed like :meth:`parameters`
        (``centered`` is ignored)."""
        def mean_energy(x: Tensor, w: Tensor | None) -> Tensor:
            e = self.free_energy(x)
            return weighted_mean(e, normalised(w, e))

        params = self.parameters()
        flags = {k: p.requires_grad for k, p in params.items()}
        try:
            for p in params.values():
                p.requires_grad_(True)
            with torch.enable_grad():
                objective = mean_energy(chains.visible, chains.weights) - mean_energy(data, data_weights)
                grads = torch.autograd.grad(objective, list(params.values()), allow_unused=True)
        finally:
            for k, p in params.items():
                p.requires_grad_(flags[k])
        return {k: (torch.zeros_like(p) if g is None else g) for (k, p), g in zip(params.items(), grads)}


#: ``parts`` -> (pairwise, neural)
HYBRID_PARTS = {"both": (True, True), "pair": (True, False), "nn": (False, True)}


def build_from_data(data: Tensor, weights: Tensor | None, space, options: dict[str, Any],
                    seed: int) -> HybridEBM:
    """Registry builder of the hybrid EBM: zero pairwise part, a network of ``nn_hidden`` units
    (``activation``) initialised from ``seed``; ``parts`` chooses both / pair / nn."""
    parts, nn_hidden, activation = options["parts"], int(options["nn_hidden"]), options["activation"]
    if parts not in HYBRID_PARTS:
        raise BoltzkitError(f"--hybrid-parts {parts}: choose {' | '.join(HYBRID_PARTS)}")
    if nn_hidden < 1:
        raise BoltzkitError(f"--nn-hidden {nn_hidden}: the network needs at least one hidden unit")
    if activation not in ACTIVATIONS:
        raise BoltzkitError(f"--activation {activation}: choose {' | '.join(ACTIVATIONS)}")
    pairwise, neural = HYBRID_PARTS[parts]
    return HybridEBM(data.shape[1], nn_hidden, activation, pairwise, neural, seed, data.dtype,
                     data.device)
