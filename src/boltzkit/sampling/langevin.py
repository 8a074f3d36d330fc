"""Langevin samplers for any energy over real values: ULA and MALA (docs/methods.md section 10.6).

The target is p(x) ∝ exp(-beta F(x)) over real visible values x, with F the model's (marginal) free
energy, differentiable in x. One step proposes

    y = x - eps beta grad F(x) + sqrt(2 eps) xi,    xi ~ N(0, I),

the Euler-Maruyama step of the Langevin diffusion. ULA (the unadjusted Langevin algorithm) takes y:
cheap, but its stationary law is off by O(eps) (Roberts & Tweedie 1996). MALA accepts y with the
Metropolis-Hastings probability min(1, p(y) q(x | y) / (p(x) q(y | x))) for the Gaussian proposal
density q, which makes p exactly stationary. Many chains run at once, as rows of a batch; each
chain accepts or rejects on its own. The step size can be adapted during a warm-up (Robbins-Monro
on log eps toward a target mean acceptance, 0.574 by default: Roberts & Rosenthal 1998), then is
frozen: while it adapts the chain is not Markov and detailed balance does not hold, so only the
steps after the warm-up count as samples.

The gradient is the model's own ``free_energy_grad`` when it has the
:class:`~boltzkit.models.capabilities.ContinuousEnergy` capability, otherwise automatic
differentiation of ``free_energy``. :class:`LangevinDynamics` makes the sampler a model's Monte
Carlo step, so that :func:`boltzkit.sampling.gibbs.run_chains` and ``sample`` run it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from boltzkit.checks import integer, number
from boltzkit.errors import BoltzkitError, InvalidValue
from boltzkit.models.base import Chains, EnergyModel
from boltzkit.models.capabilities import ContinuousEnergy

__all__ = ["LangevinResult", "LangevinDynamics", "langevin", "ADAPTATION_EXPONENT",
           "ADAPTATION_GAIN"]

#: The Robbins-Monro gains of the step-size adaptation, gamma_t = c (t + 1)^-kappa (docs/methods.md
#: section 10.6). kappa in (1/2, 1]: the gains sum to infinity (any step size is reachable) while
#: their squares sum to a finite value (the noise of the acceptance averages out) (Andrieu & Thoms
#: 2008, section 4). c = 2: the mean acceptance falls by 0.3 to 0.5 per unit of log eps near the
#: target on the test energies, so c (slope) near 1 makes each step nearly a Newton step; with
#: c = 1, chains started at eps 500 times too small were still 0.03 above the target after 100 steps.
ADAPTATION_EXPONENT = 0.6
ADAPTATION_GAIN = 2.0


class LangevinResult(NamedTuple):
    """What :func:`langevin` returns.

    Attributes
    ----------
    x : Tensor of shape (n_chains, n_visible)
        The chains after the last step.
    acceptance : Tensor of shape (n_chains,)
        Fraction of the proposals each chain accepted after the warm-up (ULA: 1; NaN when no step
        came after the warm-up).
    step_size : float
        The step size of the steps after the warm-up (the adapted one with ``adapt``).
    """

    x: Tensor
    acceptance: Tensor
    step_size: float


class _State(NamedTuple):
    """Chains with their potential U = beta F (shape (n_chains,)) and its gradient in x."""

    x: Tensor
    potential: Tensor
    grad: Tensor


def langevin(model: EnergyModel, x: Tensor, n_steps: int, step_size: float,
             generator: torch.Generator | None = None, metropolis: bool = False, adapt: bool = False,
             target_acceptance: float = 0.574, n_adapt: int | None = None,
             beta: float = 1.0) -> LangevinResult:
    """Run ULA or MALA chains on exp(-beta F(x)) (docs/methods.md section 10.6).

    Parameters
    ----------
    model : EnergyModel
        A model over real visible values (``model.visible.data_kind == "continuous"``, or the
        :class:`~boltzkit.models.capabilities.ContinuousEnergy` capability) whose ``free_energy``
        is differentiable in x.
    x : Tensor of shape (n_chains, n_visible)
        Starting points, model values (finite); moved to the model's device and dtype.
    n_steps : int >= 0
        Steps, warm-up included.
    step_size : float > 0
        eps of the proposal (the first one when ``adapt``).
    generator : torch.Generator, optional
        Source of the Gaussian noise and of the acceptance uniforms.
    metropolis : bool
        MALA (accept/reject with the Metropolis-Hastings ratio) instead of ULA.
    adapt : bool
        Adapt eps during the first ``n_adapt`` steps toward ``target_acceptance`` (MALA only),
        then freeze it: one eps for all chains, driven by their mean acceptance probability.
    target_acceptance : float in (0, 1)
        Mean acceptance probability the adaptation aims at (0.574: Roberts & Rosenthal 1998).
    n_adapt : int, optional
        Warm-up steps that adapt (default ``n_steps // 2`` with ``adapt``, 0 without).
    beta : float >= 0
        Inverse temperature of the target.

    Returns
    -------
    LangevinResult
        ``x`` (n_chains, n_visible), per-chain ``acceptance`` after the warm-up, ``step_size``.
    """
    n_steps, step_size, n_adapt, target_acceptance, beta = _checked(
        n_steps, step_size, metropolis, adapt, target_acceptance, n_adapt, beta)
    state = _potential(model, _checked_start(model, x), beta)
    accepted = torch.zeros(len(state.x), device=state.x.device)
    for t in range(n_steps):
        state, probability, moved = _step(model, state, step_size, beta, metropolis, generator)
        if t < n_adapt:
            # Robbins-Monro on log eps: up when the chains accept more than the target, down if less
            gain = ADAPTATION_GAIN * (t + 1) ** -ADAPTATION_EXPONENT
            step_size *= math.exp(gain * (float(probability.mean()) - target_acceptance))
        else:
            accepted += moved
    counted = n_steps - n_adapt
    acceptance = accepted / counted if counted else torch.full_like(accepted, math.nan)
    if not bool(state.x.isfinite().all()):
        raise BoltzkitError(f"Langevin chains diverged (non-finite values) with step size "
                            f"{step_size:.3g}: use a smaller --langevin-step-size"
                            f"{'' if metropolis else ' or MALA'}")
    return LangevinResult(state.x, acceptance, step_size)


class LangevinDynamics:
    """A model whose Monte Carlo step is Langevin (ULA or MALA at a fixed step size).

    Wraps ``model`` with the :class:`~boltzkit.models.base.EnergyModel` members a sampler needs
    (its space, sizes, ``free_energy``, ``init_chains``, ``chains_from``) and the
    :class:`~boltzkit.models.capabilities.MultiStepSampler` capability, so that
    :func:`boltzkit.sampling.gibbs.run_chains` and :func:`boltzkit.sampling.gibbs.sample` run
    Langevin chains on it. ``sample_steps`` keeps the free energy and gradient of the chains from
    one step to the next (one evaluation per step); ``sample_step`` evaluates them afresh (two).
    Chains come back without hidden units. To adapt the step size, run :func:`langevin` with
    ``adapt`` first and pass its ``step_size``.
    """

    shared_random_numbers = False

    def __init__(self, model: EnergyModel, step_size: float, metropolis: bool = True):
        _checked(0, step_size, metropolis, False, 0.5, None, 1.0)
        _check_model(model)
        self.model, self.step_size, self.metropolis = model, float(step_size), bool(metropolis)
        self.kind, self.visible, self.n_visible = model.kind, model.visible, model.n_visible
        self.device, self.dtype = model.device, model.dtype

    def free_energy(self, x: Tensor) -> Tensor:
        """The wrapped model's free energy, shape (batch,)."""
        return self.model.free_energy(x)

    def init_chains(self, n: int, generator: torch.Generator | None = None) -> Chains:
        """The wrapped model's starting chains."""
        return Chains(self.model.init_chains(n, generator).visible)

    def chains_from(self, x: Tensor) -> Chains:
        """Chains started at ``x`` (shape (n, n_visible))."""
        return Chains(self.model.chains_from(x).visible)

    def sample_step(self, chains: Chains, generator: torch.Generator | None = None,
                    beta: float = 1.0) -> Chains:
        """One Langevin step of every chain."""
        return self.sample_steps(chains, 1, generator, beta)

    def sample_steps(self, chains: Chains, n_steps: int, generator: torch.Generator | None = None,
                     beta: float = 1.0) -> Chains:
        """``n_steps`` Langevin steps of every chain at inverse temperature ``beta``."""
        result = langevin(self.model, chains.visible, n_steps, self.step_size, generator,
                          self.metropolis, beta=beta)
        return Chains(result.x)

    def config(self) -> dict[str, Any]:
        """The wrapped model's config."""
        return self.model.config()


# --------------------------------------------------------------------------- kernels
def _potential(model: EnergyModel, x: Tensor, beta: float, with_energy: bool = True) -> _State:
    """U = beta F(x) and beta grad F(x): the model's gradient, or autograd on its free energy.
    ``with_energy`` False (ULA, which never uses U): U is left at 0 when the model gives the
    gradient itself."""
    if isinstance(model, ContinuousEnergy):
        with torch.no_grad():
            energy = model.free_energy(x) if with_energy else x.new_zeros(len(x))
            return _State(x, beta * energy, beta * model.free_energy_grad(x))
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        energy = model.free_energy(leaf)
        try:
            (grad,) = torch.autograd.grad(energy.sum(), leaf)
        except RuntimeError:
            raise BoltzkitError(f"Langevin sampling: the free energy of the {model.kind} family is not "
                                "differentiable in x by autograd") from None
    return _State(x, beta * energy.detach(), beta * grad)


def _step(model: EnergyModel, state: _State, step: float, beta: float, metropolis: bool,
          generator: torch.Generator | None) -> tuple[_State, Tensor, Tensor]:
    """One ULA or MALA step of every chain: (new state, acceptance probability, accepted 0/1)."""
    x = state.x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    proposal = _potential(model, x - step * state.grad + math.sqrt(2.0 * step) * noise, beta,
                          metropolis)
    if not metropolis:
        ones = torch.ones(len(x), device=x.device)
        return proposal, ones, ones
    # log of p(y) q(x | y) / (p(x) q(y | x)); q(y | x) = N(y; x - eps grad U(x), 2 eps I), whose
    # exponent at y is -|sqrt(2 eps) xi|^2 / (4 eps) = -|xi|^2 / 2
    backward = x - proposal.x + step * proposal.grad
    log_ratio = (state.potential - proposal.potential
                 - backward.square().sum(1) / (4.0 * step) + noise.square().sum(1) / 2.0)
    # a NaN ratio (a proposal where F is undefined) is a rejection
    log_ratio = torch.nan_to_num(log_ratio, nan=-math.inf)
    u = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype)
    accept = u.log() < log_ratio
    column = accept.unsqueeze(1)
    new = _State(torch.where(column, proposal.x, x),
                 torch.where(accept, proposal.potential, state.potential),
                 torch.where(column, proposal.grad, state.grad))
    probability = log_ratio.clamp(max=0.0).exp().float()
    return new, probability, accept.float()


# --------------------------------------------------------------------------- checks
def _checked(n_steps: Any, step_size: Any, metropolis: bool, adapt: bool, target_acceptance: Any,
             n_adapt: Any, beta: Any) -> tuple[int, float, int, float, float]:
    """The arguments of :func:`langevin`, checked; ``n_adapt`` resolved (0 without ``adapt``)."""
    n_steps = integer(n_steps, "--langevin-steps (n_steps)", 0)
    step_size = number(step_size, "--langevin-step-size (step_size)", 0.0, low_open=True)
    target_acceptance = number(target_acceptance, "target_acceptance", 0.0, 1.0, True, True)
    beta = number(beta, "beta", 0.0)
    if adapt and not metropolis:
        raise InvalidValue("adapt needs metropolis=True (MALA): ULA accepts every step, there is "
                           "no acceptance to adapt the step size to")
    if not adapt:
        if n_adapt not in (None, 0):
            raise InvalidValue(f"n_adapt ({n_adapt!r}) needs adapt=True")
        return n_steps, step_size, 0, target_acceptance, beta
    n_adapt = n_steps // 2 if n_adapt is None else integer(n_adapt, "n_adapt", 0, n_steps)
    return n_steps, step_size, n_adapt, target_acceptance, beta


def _check_model(model: EnergyModel) -> None:
    """A one-line error unless ``model`` declares real-valued visible units."""
    if isinstance(model, ContinuousEnergy) or model.visible.data_kind == "continuous":
        return
    raise BoltzkitError(f"Langevin sampling needs real-valued visible units: the {model.kind} family's "
                        f"visible units take {model.visible.values_text}")


def _checked_start(model: EnergyModel, x: Any) -> Tensor:
    """``x`` as a finite (n_chains, n_visible) tensor in the model's device and dtype."""
    _check_model(model)
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != model.n_visible:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InvalidValue(f"Langevin start x must be a tensor of shape (n_chains, "
                           f"{model.n_visible}), got {shape}")
    x = x.detach().to(device=model.device, dtype=model.dtype)
    if not bool(x.isfinite().all()):
        raise InvalidValue("Langevin start x must be finite")
    return x
