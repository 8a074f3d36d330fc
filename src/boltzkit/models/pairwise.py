"""Pairwise models (Boltzmann machines): the Potts model of DCA and the Ising model.

Potts (``kind = "potts-bm"``), s_i in {0..q-1}::

    E(s) = - sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j)

with ``fields`` h of shape (L, q) and ``couplings`` J of shape (L, L, q, q), stored in full:
J[i, j, a, b] = J[j, i, b, a] (symmetric), diagonal blocks J[i, i] = 0. Configurations are codes
(batch, L), handled like :class:`~boltzkit.models.potts_rbm.PottsRBM`'s: any integer or float
tensor of codes in, float codes in the model's dtype out.

Ising (``kind = "ising-bm"``), s_i in {-1, +1}::

    E(s) = - sum_i h_i s_i - sum_{i<j} J_ij s_i s_j

with ``fields`` (N,) and symmetric ``couplings`` (N, N) with zero diagonal.

Sampling: one :meth:`sample_step` is a sequential sweep over the sites, every site updated for all
chains at once — heat-bath (Gibbs) by default, or Metropolis (``sampler="metropolis"``; Potts:
uniform proposal among the q-1 other states; the rule of :mod:`boltzkit.models.metropolis`,
docs/methods.md section 10.3). The local field of site i for all chains is one matrix product with a
column of the couplings (Ising), one ``embedding_bag`` over the coupling columns (Potts). The sparse
form of the same model (:func:`pairwise_model`, :mod:`boltzkit.models.interactions`) is the
synthetic generators' Hamiltonian, swept by the colour-parallel kernels of :mod:`boltzkit.synthetic.mcmc`.

log Z (docs/methods.md section 6.2): exact enumeration for tiny models; otherwise AIS along the
temperature path of the couplings, theta_beta = (h, beta J) — or ((1 - beta) h_0 + beta h, beta J)
from the fields h_0 of an independent-site model fitted to the data — from independent sites
(log Z_0 = sum_i log sum_a exp h_0,i(a), h_0 = h without data) to the model, each temperature
swept by the model's own sampler (:meth:`annealed`, :meth:`annealing_step`,
:func:`boltzkit.sampling.ais.ais_log_partition`).

Learning (Boltzmann learning, bmDCA): the gradient of the mean log-likelihood is the difference of
data and model statistics (moment matching at the fixed point)::

    dL/dh_i(a) = f_i(a) - p_i(a),      dL/dJ_ij(a, b) = f_ij(a, b) - p_ij(a, b)   (i != j)

These data statistics do not depend on the parameters: :meth:`data_statistics` computes them once
and :meth:`log_likelihood_gradient` accepts the result in place of the data (the trainer does so
for full-batch training). L2 on the couplings is the trainer's ``l2`` (``penalized_parameters``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from boltzkit.data.reweighting import frequencies
from boltzkit.errors import BoltzkitError
from boltzkit.models.base import Chains, RandomChains
from boltzkit.models.capabilities import PseudoLikelihoodProblem
from boltzkit.models.gauge import zero_sum_gauge
from boltzkit.models.interactions import Interactions, pairs_to_dense
from boltzkit.models.potts_rbm import enumerate_codes, sample_categorical, site_frequencies
from boltzkit.models.statistics import PairwiseStatistics, correlation_pearson, normalised
from boltzkit.models.pseudo_likelihood import potts_objective, pseudo_log_likelihood
from boltzkit.models.units import SPIN, exact_log_sum
from boltzkit.models.visible import SPIN_SPACE, VisibleSpace, categorical_space
from boltzkit.models.metropolis import metropolis_accept, metropolis_categorical

__all__ = ["PottsModel", "IsingModel", "PairwiseStatistics", "build_potts", "build_ising", "SAMPLERS",
           "correlation_pearson", "pairwise_model"]

SAMPLERS = ("gibbs", "metropolis")


def _normalised_weights(weights: Tensor | None, like: Tensor) -> Tensor:
    """Weights of the rows of ``like`` summing to 1, in its dtype and device (None: all 1/n)."""
    n = like.shape[0]
    w = normalised(weights, like)
    return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device) if w is None else w


def _symmetric_gram(wx: Tensor, x: Tensor, block: int, n_blocks: int = 8) -> Tensor:
    """``wx.T @ x`` for a symmetric result (``wx = x * w[:, None]``), shape (d, d).

    Only the block upper triangle is multiplied (cut at multiples of ``block``, i.e. between
    sites) and mirrored: about half the operations of the full product, the cost that dominates
    the statistics of many chains.
    """
    d = x.shape[1]
    sites = d // block
    cuts = sorted({min(sites, round(k * sites / n_blocks)) * block for k in range(n_blocks + 1)})
    out = torch.empty(d, d, dtype=x.dtype, device=x.device)
    for a, b in zip(cuts[:-1], cuts[1:]):
        torch.mm(wx[:, a:b].T, x[:, a:], out=out[a:b, a:])
        out[b:, a:b] = out[a:b, b:].T
    return out


class _Pairwise(RandomChains):
    """What the Potts and Ising models share."""

    family = "pairwise"
    penalized_parameters = ("couplings",)  # the trainer's l1/l2 apply to these
    chain_statistics: PairwiseStatistics | None = None  # of the last log_likelihood_gradient call

    def parameters(self) -> dict[str, Tensor]:
        return {"fields": self.fields, "couplings": self.couplings}

    @property
    def device(self) -> torch.device:
        return self.fields.device

    @property
    def dtype(self) -> torch.dtype:
        return self.fields.dtype

    @property
    def n_visible(self) -> int:
        return self.fields.shape[0]

    def __init__(self, fields: Tensor, couplings: Tensor, sampler: str = "gibbs"):
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r} (choose {', '.join(SAMPLERS)})")
        self.fields, self.couplings, self.sampler = fields, couplings, sampler

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, Tensor]):
        return cls(params["fields"], params["couplings"], config.get("sampler", "gibbs"))

    @classmethod
    def uncoupled(cls, fields: Tensor, sampler: str = "gibbs"):
        """The independent-site model of ``fields``: every coupling zero."""
        n = fields.shape[0]
        return cls(fields, fields.new_zeros((n, n) + tuple(fields.shape[1:]) * 2), sampler)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        return type(self)(self.fields.to(device=device, dtype=dtype),
                          self.couplings.to(device=device, dtype=dtype), self.sampler)

    def clone(self):
        return type(self)(self.fields.clone(), self.couplings.clone(), self.sampler)

    def free_energy(self, s: Tensor) -> Tensor:
        """The energy (no hidden units to sum out), shape (batch,)."""
        return self.energy(s)

    def enumerate_visible(self, max_states: int = 1 << 22) -> Tensor:
        """Every configuration as codes (site 0 varies slowest), shape (q**n_visible, n_visible)."""
        return enumerate_codes(self.n_visible, self.visible.n_states, self.device, self.dtype, max_states)

    def enumeration_log2_size(self) -> float:
        """log2 of the number of configurations, n_visible * log2(q)."""
        return self.n_visible * math.log2(self.visible.n_states)

    def log_partition_exact(self, chunk_size: int = 1 << 14, max_states: int = 1 << 24) -> float:
        """log Z = logsumexp_s -E(s) by enumeration (float64; tiny models only)."""
        model = self.to(dtype=torch.float64)
        return exact_log_sum(model.free_energy, model.enumerate_visible(max_states).split(chunk_size))

    # ---------------------------------------------------------------- annealing (AIS)
    def annealed(self, beta: float, base: Any = None):
        """The model on the AIS temperature path (docs/methods.md section 6.2): couplings beta J and
        the fields h, or (1 - beta) h_0 + beta h from the visible bias h_0 of ``base`` (an
        independent-site model of the same visible space,
        :func:`boltzkit.models.baseline.independent_site_model`). At beta = 0 (independent sites)
        it sweeps by heat bath whatever the sampler: one sweep from any start is then an exact
        draw, where AIS starts its chains."""
        return type(self)(self._annealed_fields(beta, base), self.couplings * beta,
                          "gibbs" if beta == 0 else self.sampler)

    def _annealed_fields(self, beta: float, base: Any) -> Tensor:
        """The fields at ``beta`` on the path from ``base`` (None: the model's own)."""
        if base is None:
            return self.fields
        start = base.visible_bias.to(self.device, self.dtype)
        if start.shape != self.fields.shape:
            raise ValueError(f"AIS base of shape {tuple(start.shape)} for fields of shape "
                             f"{tuple(self.fields.shape)}")
        return (1.0 - beta) * start + beta * self.fields

    def annealing_step(self, v: Tensor, beta: float, beta_next: float,
                       generator: torch.Generator | None = None, base: Any = None) -> tuple[Tensor, Tensor]:
        """One AIS transition along the path of :meth:`annealed`, from ``beta`` to ``beta_next``.

        Returns the log-weight increment E_beta(v) - E_beta_next(v), shape (n_chains,), and ``v``
        after one sweep of ``annealed(beta_next, base)``. The energy is linear in beta,
        E_beta = E_0 + beta (E - E_0) with E_0(v) = -h_0(v) (-h(v) without ``base``), so the
        increment is (beta_next - beta) (E_0(v) - E(v)): the coupling energy E_J(v)
        (:meth:`coupling_energy`) and the field terms h - h_0, without the two one-hot energies of
        the annealed models. In float64 (the increments of thousands of steps are summed).
        """
        rise = self.coupling_energy(v).double()  # E(v) - E_0(v)
        if base is not None:
            rise += self.field_energy(v, self.fields - self._annealed_fields(0.0, base)).double()
        return (beta - beta_next) * rise, self._annealed_sweep(v, beta_next, generator, base)

    def _annealed_sweep(self, v: Tensor, beta: float, generator: torch.Generator | None,
                        base: Any) -> Tensor:
        return self.annealed(beta, base).sample_step(Chains(v), generator).visible

    def annealing_base_log_partition(self, base: Any = None) -> float:
        """log Z of ``annealed(0, base)``: independent sites with the fields f = h (or h_0 of
        ``base``), sum_i log sum_a exp f_i(a) (Potts) or sum_i log(2 cosh f_i) (Ising)."""
        fields = self._annealed_fields(0.0, base).double()
        per_site = torch.logsumexp(fields, -1) if fields.ndim == 2 else SPIN.log_normalizer(fields)
        return float(per_site.sum())

    def log_likelihood_gradient(self, data: "Tensor | PairwiseStatistics", chains: Chains,
                                data_weights: Tensor | None = None,
                                centered: bool = True) -> dict[str, Tensor]:
        """Data minus model statistics, keyed like :meth:`parameters`.

        Parameters
        ----------
        data : Tensor of shape (batch, n_visible), or the :class:`PairwiseStatistics` of the data
            (from :meth:`data_statistics`, then ``data_weights`` is ignored)
        chains : Chains; the model average uses ``chains.visible`` weighted by ``chains.weights``
        data_weights : Tensor of shape (batch,), optional (e.g. sequence weights)
        centered : ignored (the moment-matching gradient has no centered variant)

        The chains' statistics are kept as ``chain_statistics`` (for a convergence test such as
        :func:`correlation_pearson` without a second pass over the chains).
        """
        positive = data if isinstance(data, PairwiseStatistics) else \
            self.data_statistics(data, data_weights)
        negative = self.data_statistics(chains.visible, chains.weights)
        self.chain_statistics = negative
        grad_j = positive.couplings - negative.couplings
        sites = torch.arange(self.n_visible, device=grad_j.device)
        grad_j[sites, sites] = 0  # no self-couplings (diagonal entries or blocks)
        return {"fields": positive.fields - negative.fields, "couplings": grad_j}


class PottsModel(_Pairwise):
    """Pairwise Potts model (Boltzmann machine of DCA).

    Parameters
    ----------
    fields : Tensor of shape (L, q)
    couplings : Tensor of shape (L, L, q, q), J[i, j, a, b] = J[j, i, b, a], J[i, i] = 0
    sampler : "gibbs" (heat bath) or "metropolis"
    """

    kind = "potts-bm"

    def __init__(self, fields: Tensor, couplings: Tensor, sampler: str = "gibbs"):
        if fields.ndim != 2:
            raise ValueError(f"fields must have shape (L, q), got {tuple(fields.shape)}")
        length, q = fields.shape
        if couplings.shape != (length, length, q, q):
            raise ValueError(f"couplings must have shape ({length}, {length}, {q}, {q}), "
                             f"got {tuple(couplings.shape)}")
        super().__init__(fields, couplings, sampler)

    @classmethod
    def zeros(cls, length: int, q: int, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu", sampler: str = "gibbs") -> "PottsModel":
        return cls.uncoupled(torch.zeros(length, q, dtype=dtype, device=device), sampler)

    @classmethod
    def init_from_data(cls, data: Tensor, q: int, data_weights: Tensor | None = None,
                       pseudocount: float = 1e-4, dtype: torch.dtype | None = None,
                       sampler: str = "gibbs") -> "PottsModel":
        """Independent-site start: h_i(a) = log f_i(a) (pseudocount, zero-sum), J = 0."""
        if dtype is None:
            dtype = data.dtype if data.is_floating_point() else torch.float32
        h = torch.log(site_frequencies(data, q, data_weights, pseudocount))
        return cls.uncoupled((h - h.mean(1, keepdim=True)).to(dtype), sampler)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": self.family, "n_visible": self.n_visible,
                "n_states": self.n_states, "sampler": self.sampler}

    @property
    def n_states(self) -> int:
        return self.fields.shape[1]

    @property
    def visible(self) -> VisibleSpace:
        return categorical_space(self.n_states)

    def flat_couplings(self) -> Tensor:
        """Couplings as a symmetric (L q, L q) matrix, entry ((i, a), (j, b)) = J_ij(a, b)."""
        lq = self.n_visible * self.n_states
        return self.couplings.permute(0, 2, 1, 3).reshape(lq, lq)

    def one_hot(self, s: Tensor) -> Tensor:
        """One-hot codes flattened to shape (batch, L q), in the model's dtype.

        Written straight into a float tensor (scatter of ones): the same values as
        :func:`~boltzkit.models.potts_rbm.one_hot_flat` without its int64 intermediate, which costs
        more than the statistics of many chains.
        """
        codes = s.to(self.device).long()
        x = torch.zeros(codes.shape[0], self.n_visible * self.n_states, dtype=self.dtype,
                        device=self.device)
        offsets = torch.arange(0, x.shape[1], self.n_states, device=self.device)
        return x.scatter_(1, codes + offsets, 1.0)

    # ---------------------------------------------------------------- energies
    def local_fields(self, s: Tensor) -> Tensor:
        """h_i(a) + sum_{j != i} J_ij(a, s_j) for every site and state, shape (batch, L, q)."""
        x = self.one_hot(s)
        return (x @ self.flat_couplings()).reshape(-1, self.n_visible, self.n_states) + self.fields

    def energy(self, s: Tensor) -> Tensor:
        """E(s), shape (batch,)."""
        x = self.one_hot(s)
        return -(x @ self.fields.reshape(-1)) - 0.5 * ((x @ self.flat_couplings()) * x).sum(-1)

    def coupling_energy(self, s: Tensor) -> Tensor:
        """E_J(s) = -sum_{i<j} J_ij(s_i, s_j), the coupling part of :meth:`energy`, shape (batch,).

        Half the sum over sites of each site's coupling field at its own state, the fields taken
        as in the sweep (one ``embedding_bag`` per site over :meth:`coupling_columns`): about twice
        as fast as the one-hot quadratic form of :meth:`energy` at L = 53, q = 21 (9 ms against
        21 ms for 1000 configurations, one thread).
        """
        codes = s.to(self.device).long()
        columns = self.coupling_columns()
        index = codes + torch.arange(0, self.n_visible * self.n_states, self.n_states, device=self.device)
        total = torch.zeros(codes.shape[0], dtype=self.dtype, device=self.device)
        for i in range(self.n_visible):
            field = F.embedding_bag(index, columns[i], mode="sum")  # (batch, q)
            total += field.gather(1, codes[:, i:i + 1]).squeeze(1)
        return -0.5 * total

    def field_energy(self, s: Tensor, fields: Tensor) -> Tensor:
        """-sum_i f_i(s_i) for fields ``f`` of shape (L, q), shape (batch,)."""
        offsets = torch.arange(0, self.n_visible * self.n_states, self.n_states, device=self.device)
        return -fields.reshape(-1).take(s.to(self.device).long() + offsets).sum(-1)

    def _annealed_sweep(self, v: Tensor, beta: float, generator: torch.Generator | None,
                        base: Any) -> Tensor:
        # the sweep of annealed(beta, base) with the same draws: its fields, and the coupling
        # columns of beta J scaled from the model's (no copy of beta J)
        sweeper = PottsModel(self._annealed_fields(beta, base), self.couplings, self.sampler)
        return sweeper.sample_step(Chains(v), generator, 1.0, beta * self.coupling_columns()).visible

    # ---------------------------------------------------------------- sampling
    def sample_profile(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """``n`` independent draws of the profile (independent-site) model p_i(a) ∝ exp h_i(a).

        With J = 0 (e.g. :meth:`init_from_data`) these are exact samples of the model: the start of
        the persistent chains of bmDCA (as adabmDCA's ``init_chains``).
        """
        logits = self.fields.unsqueeze(0).expand(n, -1, -1)
        return Chains(sample_categorical(logits, generator).to(self.dtype))

    def coupling_columns(self) -> Tensor:
        """Couplings arranged for the sweep, shape (L, L q, q): entry [i, j q + b, a] = J_ij(a, b).

        Row ``j q + s_j`` of block i is the contribution of site j in state s_j to the local field
        of site i, so the field is a sum of L rows picked by the states (an ``embedding_bag``),
        q times fewer operations than the matrix product of the one-hot chains with the block.
        """
        length, q = self.n_visible, self.n_states
        return self.couplings.permute(0, 1, 3, 2).reshape(length, length * q, q).contiguous()

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0, columns: Tensor | None = None) -> Chains:
        """One sequential sweep over the sites (heat bath or Metropolis), all chains at once.

        Parameters
        ----------
        chains : Chains with ``visible`` codes of shape (n, L)
        generator : torch.Generator, optional
        beta : float, inverse temperature
        columns : Tensor of shape (L, L q, q), optional
            :meth:`coupling_columns` of the current couplings, to reuse across sweeps.
        """
        length, q = self.n_visible, self.n_states
        if columns is None:
            columns = self.coupling_columns()
        offsets = torch.arange(0, length * q, q, device=self.device)
        # the chains as row indices j q + s_j of the coupling columns, updated site by site
        index = chains.visible.to(self.device).long() + offsets
        fields = self.fields if beta == 1.0 else beta * self.fields
        for i in range(length):
            # J_ii = 0, so site i's own state adds nothing to its field
            field = F.embedding_bag(index, columns[i], mode="sum")
            if beta != 1.0:
                field = beta * field
            field += fields[i]
            if self.sampler == "gibbs":
                new = sample_categorical(field, generator)
            else:
                new = metropolis_categorical(field, index[:, i] - i * q, generator)
            index[:, i] = new + i * q
        return Chains((index - offsets).to(self.dtype))

    shared_random_numbers = False  # sample_steps is n sample_step calls sharing the coupling layout

    def sample_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None = None,
                     beta: float = 1.0) -> Chains:
        """``n_steps`` sweeps (:meth:`sample_step`), the coupling columns arranged once."""
        columns = self.coupling_columns()
        for _ in range(n_steps):
            chains = self.sample_step(chains, generator, beta, columns)
        return chains

    # ---------------------------------------------------------------- learning
    def data_statistics(self, data: Tensor, data_weights: Tensor | None = None) -> PairwiseStatistics:
        """Weighted one- and two-site frequencies f_i (L, q) and f_ij (L, L, q, q) of codes ``data``."""
        x = self.one_hot(data)
        w = _normalised_weights(data_weights, x)
        length, q = self.n_visible, self.n_states
        fij = _symmetric_gram(x * w.unsqueeze(1), x, q)
        return PairwiseStatistics((w @ x).reshape(length, q),
                                  fij.reshape(length, q, length, q).permute(0, 2, 1, 3).contiguous())

    def target_statistics(self, samples, weights, pseudocount: float) -> PairwiseStatistics:
        """Pseudocounted one- and two-site frequencies of codes ``samples`` (M, L), weighted by
        ``weights`` (M,) (:func:`boltzkit.data.reweighting.frequencies`): the bmDCA target."""
        fi, fij = frequencies(samples, self.n_states, weights, pseudocount, dtype=self.dtype)
        return PairwiseStatistics(fi.to(self.device), fij.to(self.device))

    def from_profile(self, target: PairwiseStatistics) -> "PottsModel":
        """The independent-site start of bmDCA: h_i(a) = log f_i(a), J = 0 (adabmDCA's
        ``init_parameters``); needs a pseudocount > 0 for states absent from a column."""
        fields = torch.log(target.fields)
        if not bool(torch.isfinite(fields).all()):
            raise BoltzkitError("a state never occurs in a column: give --pseudocount > 0")
        return PottsModel.uncoupled(fields, self.sampler)

    def pseudo_likelihood_problem(self, data: Tensor, weights: Tensor) -> PseudoLikelihoodProblem:
        """Symmetric plmDCA on codes ``data`` (M, L): couplings as one (L q, L q) matrix, a boolean
        mask of the pairs of different sites (1 byte an entry); the objective is a
        :class:`~boltzkit.models.pseudo_likelihood.PottsObjective` (sequences in chunks, gradient by
        hand: memory independent of M, docs/methods.md 9.3)."""
        length, q = self.n_visible, self.n_states
        n = length * q
        block = torch.arange(n, device=self.device) // q
        mask = block[:, None] != block[None, :]

        def build(fields: Tensor, couplings: Tensor) -> "PottsModel":
            j = couplings.reshape(length, q, length, q).permute(0, 2, 1, 3).contiguous()
            return PottsModel(fields.clone(), j, self.sampler).zero_sum_gauge()

        return PseudoLikelihoodProblem(torch.zeros(length, q, dtype=self.dtype, device=self.device),
                                       (n, n), mask, potts_objective(data.long(), weights, q), build)

    # ---------------------------------------------------------------- gauge
    def zero_sum_gauge(self) -> "PottsModel":
        """The same distribution in the zero-sum gauge (sum_a h_i(a) = 0, sum_a J_ij(a, b) = 0).

        J'_ij(a,b) = J_ij(a,b) - J_ij(.,b) - J_ij(a,.) + J_ij(.,.);
        h'_i(a) = h_i(a) - h_i(.) + sum_{j != i} [J_ij(a,.) - J_ij(.,.)]   (. = mean over states).
        Energies change by a constant only.
        """
        new_j, new_h = zero_sum_gauge(self.couplings, self.fields)
        return PottsModel(new_h, new_j, self.sampler)


class IsingModel(_Pairwise):
    """Pairwise Ising model on ±1 spins.

    Parameters
    ----------
    fields : Tensor of shape (N,)
    couplings : Tensor of shape (N, N), symmetric with zero diagonal
    sampler : "gibbs" (heat bath) or "metropolis" (single spin flips)
    """

    kind = "ising-bm"
    visible = SPIN_SPACE

    def __init__(self, fields: Tensor, couplings: Tensor, sampler: str = "gibbs"):
        if fields.ndim != 1 or couplings.shape != (fields.shape[0], fields.shape[0]):
            raise ValueError(f"fields (N,) and couplings (N, N) expected, got {tuple(fields.shape)} "
                             f"and {tuple(couplings.shape)}")
        super().__init__(fields, couplings, sampler)

    @classmethod
    def zeros(cls, n: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
              sampler: str = "gibbs") -> "IsingModel":
        return cls.uncoupled(torch.zeros(n, dtype=dtype, device=device), sampler)

    @classmethod
    def init_from_data(cls, data: Tensor, data_weights: Tensor | None = None, eps: float = 1e-4,
                       sampler: str = "gibbs") -> "IsingModel":
        """Independent-site start h_i = atanh(<s_i>) (means clamped to ±(1 - 2 eps)), J = 0."""
        w = _normalised_weights(data_weights, data)
        m = (w @ data).clamp(-1 + 2 * eps, 1 - 2 * eps)
        return cls.uncoupled(torch.atanh(m), sampler)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": self.family, "n_visible": self.n_visible,
                "sampler": self.sampler}

    def local_fields(self, s: Tensor) -> Tensor:
        """h_i + sum_j J_ij s_j, shape (batch, N)."""
        return torch.addmm(self.fields, s.to(self.dtype), self.couplings)

    def energy(self, s: Tensor) -> Tensor:
        s = s.to(self.device, self.dtype)
        return -(s @ self.fields) - 0.5 * ((s @ self.couplings) * s).sum(-1)

    def coupling_energy(self, s: Tensor) -> Tensor:
        """E_J(s) = -sum_{i<j} J_ij s_i s_j, the coupling part of :meth:`energy`, shape (batch,)."""
        s = s.to(self.device, self.dtype)
        return -0.5 * ((s @ self.couplings) * s).sum(-1)

    def field_energy(self, s: Tensor, fields: Tensor) -> Tensor:
        """-sum_i f_i s_i for fields ``f`` of shape (N,), shape (batch,)."""
        return -(s.to(self.device, self.dtype) @ fields)

    def flip_energy_differences(self, s: Tensor) -> Tensor:
        """E(s with spin i flipped) - E(s) = 2 s_i (h_i + sum_j J_ij s_j) for every site, shape
        (batch, N) (used by :mod:`boltzkit.training.pseudo_likelihood`)."""
        s = s.to(self.device, self.dtype)
        return 2.0 * s * self.local_fields(s)

    def enumerate_visible(self, max_states: int = 1 << 22) -> Tensor:
        """Every ±1 configuration (site 0 varies slowest, -1 first), shape (2**N, N)."""
        return SPIN.from_bernoulli(super().enumerate_visible(max_states))

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One sequential sweep (heat bath or Metropolis single-spin flips), all chains at once."""
        s = chains.visible.to(self.device, self.dtype).clone()
        for i in range(self.n_visible):
            field = beta * (self.fields[i] + s @ self.couplings[:, i])  # J_ii = 0
            if self.sampler == "gibbs":
                u = torch.rand(s.shape[0], generator=generator, device=self.device, dtype=self.dtype)
                s[:, i] = torch.where(u < torch.sigmoid(2.0 * field), 1.0, -1.0).to(self.dtype)
            else:
                # flipping s_i changes -E by -2 s_i field
                flip = metropolis_accept(-2.0 * s[:, i] * field, generator)
                s[:, i] = torch.where(flip, -s[:, i], s[:, i])
        return Chains(s)

    def data_statistics(self, data: Tensor, data_weights: Tensor | None = None) -> PairwiseStatistics:
        """Weighted <s_i> (N,) and <s_i s_j> (N, N) of ±1 ``data``."""
        s = data.to(self.device, self.dtype)
        w = _normalised_weights(data_weights, s)
        return PairwiseStatistics(w @ s, (s * w.unsqueeze(1)).T @ s)

    def pseudo_likelihood_problem(self, data: Tensor, weights: Tensor) -> PseudoLikelihoodProblem:
        """Symmetric plmDCA on ±1 spins ``data`` (M, N): log p(s_i | s_-i) = -softplus(-ΔE_i)."""
        n = self.n_visible
        spins = data.to(self.device, self.dtype)

        def objective(fields: Tensor, couplings: Tensor) -> Tensor:
            return -pseudo_log_likelihood(IsingModel(fields, couplings), spins, weights)

        def build(fields: Tensor, couplings: Tensor) -> "IsingModel":
            return IsingModel(fields.clone(), couplings.clone(), self.sampler)

        return PseudoLikelihoodProblem(torch.zeros(n, dtype=self.dtype, device=self.device), (n, n),
                                       1.0 - torch.eye(n, dtype=self.dtype, device=self.device),
                                       objective, build)

    def to_potts(self) -> PottsModel:
        """The same distribution as a q = 2 Potts model in the zero-sum gauge (code 1 = spin +1)."""
        sign = torch.tensor([-1.0, 1.0], dtype=self.dtype, device=self.device)
        return PottsModel(self.fields[:, None] * sign,
                          self.couplings[:, :, None, None] * (sign[:, None] * sign[None, :]),
                          self.sampler)


def build_potts(data: Tensor, weights: Tensor | None, space, options: dict[str, Any],
                seed: int) -> PottsModel:
    """Registry builder of the Potts model: the independent-site start (:meth:`PottsModel.init_from_data`)."""
    return PottsModel.init_from_data(data, space.n_states, weights)


def build_ising(data: Tensor, weights: Tensor | None, space, options: dict[str, Any],
                seed: int) -> IsingModel:
    """Registry builder of the Ising model: the independent-site start (:meth:`IsingModel.init_from_data`)."""
    return IsingModel.init_from_data(data, weights)


def pairwise_model(fields: Tensor, pairs: Interactions, sampler: str = "gibbs") -> "IsingModel | PottsModel":
    """The model of ``fields`` (N,) (an :class:`IsingModel`) or (N, q) (a :class:`PottsModel`) and sparse
    pair couplings ``pairs`` (indices (m, 2), values (m,) or (m, q, q)); the inverse is
    :func:`~boltzkit.models.interactions.dense_to_pairs` of its couplings (docs/methods.md section 2.1)."""
    family = IsingModel if fields.ndim == 1 else PottsModel
    return family(fields, pairs_to_dense(pairs, fields), sampler)
