"""TAP / Plefka mean-field free energies of RBMs and their self-consistent (fixed-point) iterations.

The Gibbs free energy at fixed magnetisations, expanded in the couplings (Plefka 1982; Georges &
Yedidia 1991; for RBMs Gabrié, Tramel & Krzakala, NeurIPS 2015, and Decelle, Seoane & Rosset,
PRE 108, 014110, 2023). All formulas are docs/methods.md 3.1-3.2, re-derived; the sign of the hidden
Onsager term of the Potts update follows the derivation, not the published reference code (see
docs/methods.md 3.2, discrepancy 1, and discrepancy 2 for the W² of the visible update).

Bernoulli-Bernoulli RBM ({0,1} units; d = m - m², S the binary entropy)::

    -F(m^v, m^h) = S(m^v) + S(m^h) + b.m^v + c.m^h + m^v W m^h
                   + 1/2 sum_ia W_ia² d^v_i d^h_a                          (order 2, TAP)
                   + 2/3 sum_ia W_ia³ d^v_i (1/2 - m^v_i) d^h_a (1/2 - m^h_a)  (order 3)

Stationarity dF = 0 gives the updates (hidden layer first, then the visible one)::

    m^h_a <- sigmoid(c_a + sum_i W_ia m^v_i + (1/2 - m^h_a) sum_i W_ia² d^v_i
                     [+ (1/3 - 2 d^h_a) sum_i W_ia³ d^v_i (1/2 - m^v_i)])
    m^v_i <- sigmoid(b_i + sum_a W_ia m^h_a + (1/2 - m^v_i) sum_a W_ia² d^h_a
                     [+ (1/3 - 2 d^v_i) sum_a W_ia³ d^h_a (1/2 - m^h_a)])

Potts-Bernoulli RBM (visible profiles m_iμ with sum_μ m_iμ = 1, weights (n_visible, q, n_hidden))::

    -F = -sum m_iμ ln m_iμ + S(m^h) + sum b_iμ m_iμ + c.m^h + sum W_iμa m_iμ m^h_a
         + 1/2 sum_ia d^h_a V_ia,     V_ia = sum_μ m_iμ W_iμa² - (sum_μ m_iμ W_iμa)²

    m^h_a <- sigmoid(c_a + sum_iμ W_iμa m_iμ + (1/2 - m^h_a) sum_i V_ia)
    m_iμ  <- softmax_μ(b_iμ + sum_a W_iμa m^h_a + sum_a d^h_a [W_iμa²/2 - W_iμa sum_ν m_iν W_iνa])

Order 1 is naive mean field (no Onsager term). For q = 2 with one colour's weights and bias zero the
Potts expressions are exactly the binary ones; the Potts F is invariant (on the simplex) under the
gauge W_iμa -> W_iμa + A_ia, c_a -> c_a - sum_i A_ia, and shifts by sum_i B_i under b_iμ -> b_iμ + B_i.

Any model with a layered energy (:class:`~boltzkit.models.capabilities.LayeredEnergy`) has these
equations: the kernel is built on its {0,1} form (``as_bernoulli()``), categorical visible units
giving the Potts kernel. ±1 RBMs are thereby handled exactly: at fixed magnetisations the terms
linear in σ or τ produced by the change of variables are absorbed by the Legendre transform, so the
Plefka series of the ±1 and {0,1} forms agree term by term; magnetisations are returned as
<σ> = 2 m - 1 and free energies are shifted by the exact constant of the form, so that F still
approximates -log Z of the ±1 model.

Temperature: ``beta`` multiplies every parameter (the distribution p(v)^β / Z_β); TreeRBM's
annealing variant lowers it from 1.

Damping: :func:`tap_fixed_points` damps every update, m <- d m_old + (1 - d) m_new, and raises d
automatically, point by point, when an iteration oscillates (a period-2 cycle, or steps that keep
reversing without shrinking: the Onsager self-feedback of orders 2-3 at strong couplings); the
damping each point ended with is returned (``TAPResult.damping``).

Conventions: F is returned with the sign of a free energy, F ≈ -log Z at the minimum (in nats).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F_
from torch import Tensor

from boltzkit.errors import BoltzkitError
from boltzkit.models.capabilities import LayeredEnergy, require

__all__ = ["TAPResult", "tap_free_energy", "tap_fixed_points", "tap_step", "tap_kernel",
           "initial_magnetisations", "BernoulliTAP", "PottsTAP"]


class TAPResult(NamedTuple):
    """Fixed points of the TAP iteration, one per starting point.

    Attributes
    ----------
    visible : Tensor of shape (n_points, n_visible), or (n_points, n_visible, q) for Potts
        Visible magnetisations in the model's units (<v> ∈ [0,1], <σ> ∈ [-1,1], or the site
        profiles m_iμ).
    hidden : Tensor of shape (n_points, n_hidden), hidden magnetisations (model's units)
    free_energy : Tensor of shape (n_points,), TAP free energy at the final state (≈ -log Z)
    converged : bool Tensor of shape (n_points,), max |Δm| < tol reached within max_iter
    n_iterations : int64 Tensor of shape (n_points,), sweeps done for each point
    damping : Tensor of shape (n_points,), the damping each point ended with (raised from the
        starting value by the automatic rule of :func:`tap_fixed_points` when it oscillated);
        None when not recorded
    """

    visible: Tensor
    hidden: Tensor
    free_energy: Tensor
    converged: Tensor
    n_iterations: Tensor
    damping: Tensor | None = None


def _entropy_binary(m: Tensor) -> Tensor:
    """S(m) = -sum [m ln m + (1-m) ln(1-m)] over the last axis (xlogy: 0 ln 0 = 0)."""
    return -(torch.xlogy(m, m) + torch.xlogy(1 - m, 1 - m)).sum(-1)


class _LayerUpdates:
    """What the kernels share: the check of the order, and the hidden update (hidden units are
    {0,1} in both); a kernel gives ``orders``, ``family``, the fields and the visible update."""

    orders: tuple[int, ...]
    family: str

    def check_order(self, order: int) -> None:
        if order not in self.orders:
            raise BoltzkitError(f"TAP order {order} is not available for {self.family} "
                                f"(choose {', '.join(map(str, self.orders))})")

    def update_hidden(self, mv: Tensor, mh: Tensor, order: int) -> Tensor:
        return torch.sigmoid(self.hidden_field(mv, mh, order))


class BernoulliTAP(_LayerUpdates):
    """TAP kernels of a {0,1} RBM (see the module docstring).

    Parameters
    ----------
    weights : Tensor of shape (n_visible, n_hidden)
    visible_bias : Tensor of shape (n_visible,)
    hidden_bias : Tensor of shape (n_hidden,)
    """

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor):
        self.weights = weights
        self.visible_bias = visible_bias
        self.hidden_bias = hidden_bias
        self.weights2 = weights**2
        self.weights3 = weights**3

    orders = (1, 2, 3)
    family = "Bernoulli RBMs"

    def free_energy(self, mv: Tensor, mh: Tensor, order: int = 2) -> Tensor:
        """F(m^v, m^h), shape (n,), for mv (n, n_visible) and mh (n, n_hidden) in [0,1]."""
        self.check_order(order)
        minus_f = (_entropy_binary(mv) + _entropy_binary(mh) + mv @ self.visible_bias
                   + mh @ self.hidden_bias + ((mv @ self.weights) * mh).sum(-1))
        if order >= 2:
            dv, dh = mv - mv**2, mh - mh**2
            minus_f = minus_f + 0.5 * ((dv @ self.weights2) * dh).sum(-1)
            if order >= 3:
                minus_f = minus_f + (2.0 / 3.0) * (((dv * (0.5 - mv)) @ self.weights3)
                                                   * (dh * (0.5 - mh))).sum(-1)
        return -minus_f

    def hidden_field(self, mv: Tensor, mh: Tensor, order: int) -> Tensor:
        """Argument of the sigmoid of the hidden update, shape (n, n_hidden)."""
        return _layer_field(self.hidden_bias, mv, mh, self.weights, self.weights2, self.weights3, order)

    def visible_field(self, mv: Tensor, mh: Tensor, order: int) -> Tensor:
        """Argument of the sigmoid of the visible update, shape (n, n_visible)."""
        return _layer_field(self.visible_bias, mh, mv, self.weights.T, self.weights2.T, self.weights3.T, order)

    def update_visible(self, mv: Tensor, mh: Tensor, order: int) -> Tensor:
        return torch.sigmoid(self.visible_field(mv, mh, order))


def _layer_field(bias: Tensor, other: Tensor, own: Tensor, w: Tensor, w2: Tensor, w3: Tensor,
                 order: int) -> Tensor:
    """The field of the update of one layer (magnetisations ``own``) of a {0,1} RBM, given the other
    layer's ``other`` and the weights (with their squares and cubes) oriented from ``other`` to it:
    the two updates of the module docstring are this one with the layers swapped."""
    field = torch.addmm(bias, other, w)
    if order >= 2:
        d_other = other - other**2
        field = field + (0.5 - own) * (d_other @ w2)
        if order >= 3:
            field = field + (1.0 / 3.0 - 2.0 * (own - own**2)) * ((d_other * (0.5 - other)) @ w3)
    return field


class PottsTAP(_LayerUpdates):
    """TAP kernels of a Potts-Bernoulli RBM (see the module docstring).

    Parameters
    ----------
    weights : Tensor of shape (n_visible, q, n_hidden)
    visible_bias : Tensor of shape (n_visible, q)
    hidden_bias : Tensor of shape (n_hidden,)
    """

    orders = (1, 2)
    family = "Potts RBMs"

    def __init__(self, weights: Tensor, visible_bias: Tensor, hidden_bias: Tensor):
        self.weights = weights
        self.visible_bias = visible_bias
        self.hidden_bias = hidden_bias
        n, q, nh = weights.shape
        self.flat = weights.reshape(n * q, nh)
        self.flat2 = self.flat**2

    def _site_means(self, m: Tensor) -> Tensor:
        """sum_μ m_iμ W_iμa, shape (n, n_visible, n_hidden)."""
        return torch.einsum("niq,iqa->nia", m, self.weights)

    def free_energy(self, m: Tensor, mh: Tensor, order: int = 2) -> Tensor:
        """F(m, m^h), shape (n,), for profiles m (n, n_visible, q) and mh (n, n_hidden)."""
        self.check_order(order)
        flat = m.reshape(m.shape[0], -1)
        minus_f = (-torch.xlogy(flat, flat).sum(-1) + _entropy_binary(mh)
                   + flat @ self.visible_bias.reshape(-1) + mh @ self.hidden_bias
                   + ((flat @ self.flat) * mh).sum(-1))
        if order >= 2:
            dh = mh - mh**2
            minus_f = minus_f + 0.5 * (dh * self._variance_sum(m, flat)).sum(-1)
        return -minus_f

    def _variance_sum(self, m: Tensor, flat: Tensor) -> Tensor:
        """sum_i V_ia, shape (n, n_hidden)."""
        return flat @ self.flat2 - (self._site_means(m) ** 2).sum(1)

    def hidden_field(self, m: Tensor, mh: Tensor, order: int) -> Tensor:
        flat = m.reshape(m.shape[0], -1)
        field = torch.addmm(self.hidden_bias, flat, self.flat)
        if order >= 2:
            field = field + (0.5 - mh) * self._variance_sum(m, flat)
        return field

    def visible_field(self, m: Tensor, mh: Tensor, order: int) -> Tensor:
        """Logits of the visible update, shape (n, n_visible, q)."""
        n, nv, q = m.shape
        field = torch.addmm(self.visible_bias.reshape(-1), mh, self.flat.T).reshape(n, nv, q)
        if order >= 2:
            dh = mh - mh**2
            field = field + 0.5 * (dh @ self.flat2.T).reshape(n, nv, q)
            # sum_a W_iμa d^h_a (sum_ν m_iν W_iνa)
            field = field - torch.einsum("iqa,nia->niq", self.weights, self._site_means(m) * dh[:, None, :])
        return field

    def update_visible(self, m: Tensor, mh: Tensor, order: int) -> Tensor:
        return torch.softmax(self.visible_field(m, mh, order), -1)


class _Kernel(NamedTuple):
    """A TAP kernel with the maps between the model's units and the kernel's."""

    tap: BernoulliTAP | PottsTAP
    potts: bool
    spin: bool
    shift: float  # F_model = F_kernel + shift (exact; ±1 models)
    n_states: int  # states of a visible unit (2 for binary units)

    @property
    def n_hidden(self) -> int:
        return self.tap.hidden_bias.shape[0]


def _at_beta(model, beta: float):
    """The model at inverse temperature ``beta``: a copy with every parameter times beta."""
    if beta == 1.0:
        return model
    # scale the model, not its {0,1} form: the ±1 -> {0,1} map is linear in the parameters only up
    # to rounding, and scaling first is what TreeRBM's annealing variant has always done
    scaled = model.clone()
    with torch.no_grad():
        for tensor in scaled.parameters().values():
            tensor.mul_(beta)
    return scaled


def tap_kernel(model, beta: float = 1.0) -> _Kernel:
    """The TAP kernel of ``model`` (a :class:`~boltzkit.models.capabilities.LayeredEnergy`) at
    inverse temperature ``beta`` (all parameters times beta)."""
    require(model, LayeredEnergy, "TAP free energies")
    space = model.visible
    form = _at_beta(model, beta).as_bernoulli()
    tap = (PottsTAP if space.categorical else BernoulliTAP)(form.weights, form.visible_bias, form.hidden_bias)
    # log Z_model = log Z_form - shift  =>  F_model = F_form + shift
    return _Kernel(tap, space.categorical, space.name == "spin", form.shift, space.n_states)


def _to_kernel_units(kernel: _Kernel, m: Tensor) -> Tensor:
    return (m + 1) / 2 if kernel.spin else m


def _to_model_units(kernel: _Kernel, m: Tensor) -> Tensor:
    return 2 * m - 1 if kernel.spin else m


def _visible_start(model, kernel: _Kernel, x: Tensor) -> Tensor:
    """Visible magnetisations (kernel units, a new tensor) from data or magnetisations in the model's units."""
    x = x.to(device=model.device, dtype=model.dtype, copy=True)  # tap_fixed_points writes into it
    if x.ndim >= 2 and x.shape[1] != model.n_visible:
        raise BoltzkitError(f"TAP: {x.shape[1]} visible values per point, the model has "
                            f"{model.n_visible} visible units")
    if kernel.potts:
        if x.ndim == 2:  # codes
            return F_.one_hot(x.round().long(), kernel.n_states).to(model.dtype)
        if x.ndim == 3:
            return x
        raise BoltzkitError(f"Potts TAP: expected codes (n, n_visible) or profiles (n, n_visible, q), "
                            f"got shape {tuple(x.shape)}")
    if x.ndim != 2:
        raise BoltzkitError(f"TAP: expected magnetisations of shape (n, n_visible), got {tuple(x.shape)}")
    return _to_kernel_units(kernel, x)


def initial_magnetisations(model, x: Tensor, beta: float = 1.0) -> tuple[Tensor, Tensor]:
    """Starting state of the iteration from data: (m^v, m^h) = (x, <h | x>) in the model's units.

    Parameters
    ----------
    x : Tensor of shape (n, n_visible) (configurations, or magnetisations, in the model's units;
        Potts: codes, or profiles of shape (n, n_visible, q))

    Returns
    -------
    visible : Tensor of shape (n, n_visible) or (n, n_visible, q)
    hidden : Tensor of shape (n, n_hidden), sigmoid(beta (c + W^T x)) in the model's units
    """
    kernel, mv, mh = _kernel_state(model, x, None, beta, 1)
    return _to_model_units(kernel, mv), _to_model_units(kernel, mh)


def tap_free_energy(model, visible: Tensor, hidden: Tensor, order: int = 2,
                    beta: float = 1.0) -> Tensor:
    """TAP / Plefka free energy at given magnetisations (≈ -log Z at a minimum).

    Parameters
    ----------
    model : a LayeredEnergy: RBM with {0,1}, ±1 or categorical visible units
    visible : Tensor of shape (n, n_visible) in the model's units, or (n, n_visible, q) profiles
    hidden : Tensor of shape (n, n_hidden) in the model's units
    order : 1 (naive mean field), 2 (TAP) or 3 (binary only)
    beta : inverse temperature (multiplies every parameter)

    Returns
    -------
    Tensor of shape (n,)
    """
    kernel, mv, mh = _kernel_state(model, visible, hidden, beta, order)
    return kernel.tap.free_energy(mv, mh, order) + kernel.shift


def _kernel_state(model, visible: Tensor, hidden: Tensor | None, beta: float, order: int
                  ) -> tuple[_Kernel, Tensor, Tensor]:
    """The kernel at ``beta`` (checked to have ``order``) and the magnetisations given in the
    model's units, as new tensors in the kernel's; ``hidden`` None: <h | visible> (see
    :func:`initial_magnetisations`)."""
    kernel = tap_kernel(model, beta)
    kernel.tap.check_order(order)
    mv = _visible_start(model, kernel, visible)
    if hidden is None:
        return kernel, mv, kernel.tap.update_hidden(mv, mv.new_zeros(len(mv), kernel.n_hidden), 1)
    return kernel, mv, _to_kernel_units(kernel, hidden.to(device=model.device, dtype=model.dtype, copy=True))


def tap_step(model, visible: Tensor, hidden: Tensor, order: int = 2,
             beta: float = 1.0) -> tuple[Tensor, Tensor]:
    """One undamped sweep of the self-consistent equations: hidden layer, then visible layer.

    Shapes and units as in :func:`tap_free_energy`; returns the new (visible, hidden).
    """
    kernel, mv, mh = _kernel_state(model, visible, hidden, beta, order)
    mv, mh = _sweep(kernel.tap, mv, mh, order)
    return _to_model_units(kernel, mv), _to_model_units(kernel, mh)


def _sweep(tap: BernoulliTAP | PottsTAP, mv: Tensor, mh: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """One undamped sweep in the kernel's units: the new (visible, hidden)."""
    mh = tap.update_hidden(mv, mh, order)
    return tap.update_visible(mv, mh, order), mh


def _default_batch(model, kernel: _Kernel, n: int) -> int:
    if not kernel.potts:
        return max(n, 1)
    # the Potts second-order terms hold (batch, n_visible, n_hidden) temporaries: about 2**24 entries
    per_point = model.n_visible * max(kernel.n_hidden, 1) * 3
    return max(1, min(n, (1 << 24) // per_point))


#: Oscillation detection of :func:`tap_fixed_points` (automatic damping). A 2-cycle: for
#: ``CYCLE_PATIENCE`` sweeps in a row a point moved by at least ``tol`` but came back to within
#: ``CYCLE_RATIO`` times that distance of where it was two sweeps before. Any other oscillation
#: (longer cycles, chaos): over a window of ``STALL_WINDOW`` sweeps its steps did not keep one
#: direction (mean cosine of successive steps below ``STALL_COSINE``) and its last move did not
#: shrink below ``STALL_FACTOR`` times the first one. Monotone slow convergence (steps aligned,
#: cosine near +1) is not damped: damping would only slow it down.
CYCLE_RATIO = 0.1
CYCLE_PATIENCE = 10
STALL_WINDOW = 50
STALL_FACTOR = 0.5
STALL_COSINE = 0.5
#: The largest damping the automatic rule uses by default (a larger starting damping raises it).
DEFAULT_MAX_DAMPING = 0.97


@torch.no_grad()
def tap_fixed_points(model, visible: Tensor, hidden: Tensor | None = None, order: int = 2,
                     beta: float = 1.0, damping: float = 0.0, tol: float = 1e-6,
                     max_iter: int = 2000, batch_size: int | None = None,
                     auto_damping: bool = True, max_damping: float | None = None,
                     progress: Callable[[int, int], None] | None = None) -> TAPResult:
    """Iterate the TAP equations from many starting points at once until each converges.

    Every sweep updates the hidden layer, then the visible layer, each damped as
    m <- d * m_old + (1 - d) * m_new, with d the point's damping (``damping`` at the start). A
    point has converged when the *undamped* map moves it by less than ``tol`` (max |F(m) - m| over
    both layers; the damped step is only (1 - d) times that, so it is not the criterion); it is
    then frozen (the others go on), so each point's result does not depend on the rest of the
    batch.

    Automatic damping (``auto_damping``). The Onsager terms of orders 2 and 3 feed a unit's own
    magnetisation back into its field with a negative slope; for strong couplings the undamped
    map then overshoots and the iteration locks into a period-2 cycle, a longer cycle or chaos, or
    converges very slowly while alternating. Each point is watched on its own (see
    ``CYCLE_RATIO``, ``STALL_WINDOW``): a 2-cycle shows as |m_t - m_{t-2}| -> 0 at constant
    |m_t - m_{t-1}|; other oscillations as successive steps that do not keep a direction while
    the moves do not shrink. The damping of an oscillating point is raised,
    d <- (1 + d) / 2 (0 -> 0.5 -> 0.75 -> ..., at most ``max_damping``), and it continues from
    the midpoint of its last two states.
    Damping does not move the fixed points (a fixed point of the damped map is one of the
    undamped map), only the way to them; the damping each point ended with is returned.

    Parameters
    ----------
    model : a LayeredEnergy: RBM with {0,1}, ±1 or categorical visible units (float64
        recommended for tight tolerances)
    visible : Tensor of shape (n_points, n_visible)
        Starting points in the model's units: data configurations or magnetisations (Potts: codes,
        or profiles of shape (n_points, n_visible, q)).
    hidden : Tensor of shape (n_points, n_hidden), optional
        Starting hidden magnetisations; default <h | visible> (see :func:`initial_magnetisations`).
    order : 1, 2 or 3 (binary); 1 or 2 (Potts)
    beta : inverse temperature (multiplies every parameter)
    damping : float in [0, 1), the starting damping of every point
    tol : convergence threshold on the undamped max |F(m) - m| (in {0,1} / profile units)
    max_iter : maximum number of sweeps per point (all damping levels together)
    batch_size : points iterated together (default: all for binary RBMs; bounded memory for Potts)
    auto_damping : raise the damping of the points caught in a 2-cycle (see above)
    max_damping : float in [damping, 1), the largest damping the automatic rule uses (default
        max(0.97, damping))
    progress : callable, optional
        Called as ``progress(done, n_points)``: the points finished (converged or at
        ``max_iter``), each point still iterated counted by the fraction of ``max_iter`` sweeps it
        made (rounded down); ``(0, n_points)`` once the arguments are checked, then at most every
        0.5 % of the points, the last call ``(n_points, n_points)``.

    Returns
    -------
    TAPResult (with ``damping``: the damping of each point at the end)
    """
    max_damping = _checked_max_damping(damping, max_damping, auto_damping, tol, max_iter)
    kernel, mv, mh = _kernel_state(model, visible, hidden, beta, order)
    # the per-point outputs, written in place (the free energy is computed at the end)
    n = len(mv)
    out = TAPResult(mv, mh, None, mv.new_zeros(n, dtype=torch.bool), mv.new_zeros(n, dtype=torch.int64),
                    mv.new_full((n,), float(damping)))
    settings = _Settings(kernel.tap, order, tol, auto_damping, max_damping)
    batch = batch_size or _default_batch(model, kernel, n)
    report = _Progress(progress, n, max_iter)
    for idx in torch.arange(n, device=mv.device).split(batch):
        _iterate_batch(settings, _DampingState.start(idx, out), out, max_iter, report)
    free_energy = kernel.tap.free_energy(out.visible, out.hidden, order) + kernel.shift
    return out._replace(visible=_to_model_units(kernel, out.visible), hidden=_to_model_units(kernel, out.hidden),
                        free_energy=free_energy)


def _checked_max_damping(damping: float, max_damping: float | None, auto_damping: bool,
                         tol: float, max_iter: int) -> float:
    """Check the iteration settings of :func:`tap_fixed_points`; return the damping cap."""
    if not 0.0 <= damping < 1.0:
        raise BoltzkitError(f"damping must be in [0, 1); got {damping}")
    if max_damping is None:
        max_damping = max(DEFAULT_MAX_DAMPING, damping)
    if auto_damping and not damping <= max_damping < 1.0:
        raise BoltzkitError(f"max_damping must be in [damping, 1); got {max_damping}")
    if tol <= 0 or max_iter < 1:
        raise BoltzkitError("tol must be > 0 and max_iter >= 1")
    return max_damping


class _Settings(NamedTuple):
    """The settings of :func:`tap_fixed_points` that every step of the iteration uses."""

    tap: BernoulliTAP | PottsTAP
    order: int
    tol: float
    auto_damping: bool
    max_damping: float


class _DampingState(NamedTuple):
    """The points of a batch still iterated (kernel units), with their oscillation watch.

    b is the number of such points; every field has b rows and is compacted at once by
    :meth:`select`.

    Attributes
    ----------
    idx : int64 Tensor of shape (b,), the points' rows in the whole set
    visible : Tensor of shape (b, n_visible) or (b, n_visible, q), the current state
    hidden : Tensor of shape (b, n_hidden)
    damping : Tensor of shape (b,), each point's damping
    old_visible, old_hidden : the state one sweep back (for |m_t - m_{t-2}|), shapes as above
    streak : int64 Tensor of shape (b,), the run of 2-cycle-like sweeps
    last_step : Tensor of shape (b, n_visible [* q] + n_hidden), the previous step (Potts: its
        visible part scaled by 1/sqrt(2), see :func:`_watch_oscillations`)
    win_n : int64 Tensor of shape (b,), sweeps in the current stall window
    win_first : Tensor of shape (b,), the window's first move
    win_cos : Tensor of shape (b,), the window's summed cosines of successive steps
    """

    idx: Tensor
    visible: Tensor
    hidden: Tensor
    damping: Tensor
    old_visible: Tensor
    old_hidden: Tensor
    streak: Tensor
    last_step: Tensor
    win_n: Tensor
    win_first: Tensor
    win_cos: Tensor

    @classmethod
    def start(cls, idx: Tensor, out: TAPResult) -> _DampingState:
        """Rows ``idx`` of ``out``, with an empty watch."""
        mv, mh = out.visible[idx], out.hidden[idx]
        streak, win_first = torch.zeros_like(idx), mv.new_zeros(len(idx))
        last_step = mv.new_zeros(len(idx), mv[0].numel() + mh.shape[1])
        return cls(idx, mv, mh, out.damping[idx], mv, mh, streak, last_step,
                   torch.zeros_like(streak), win_first, torch.zeros_like(win_first))

    def select(self, mask: Tensor) -> _DampingState:
        """The points where the bool ``mask`` of shape (b,) is True, every field compacted."""
        return _DampingState(*(field[mask] for field in self))


class _Progress:
    """The ``progress(done, n_points)`` of :func:`tap_fixed_points`, told after every sweep how many
    points of the current batch are still iterated; calls it at most every 0.5 % of the points."""

    def __init__(self, progress: Callable[[int, int], None] | None, n_points: int, max_iter: int):
        self.progress, self.n_points, self.max_iter = progress, n_points, max_iter
        self.before = self.reported = 0  # points of the batches done; the last value reported
        if progress is not None:
            progress(0, n_points)

    def sweep(self, batch: int, sweeps: int, active: int) -> None:
        """After ``sweeps`` sweeps of a batch of ``batch`` points, ``active`` of them still iterated
        (0 when the batch is over: its points then count as done)."""
        if self.progress is None:
            return
        done = self.before + batch - active + active * sweeps // self.max_iter
        if done > self.reported and (done - self.reported >= self.n_points / 200 or done == self.n_points):
            self.progress(done, self.n_points)
            self.reported = done
        if active == 0:
            self.before += batch


def _iterate_batch(settings: _Settings, state: _DampingState, out: TAPResult, max_iter: int,
                   report: _Progress) -> None:
    """Sweep the points of ``state`` until each converges or ``max_iter``; results into ``out``."""
    batch = len(state.idx)
    for sweep in range(1, max_iter + 1):
        new_v, new_h, delta = _damped_sweep(settings, state)
        out.n_iterations[state.idx] += 1
        if settings.auto_damping:
            state, caught = _watch_oscillations(state, new_v, new_h, delta, settings)
            if caught.any():
                state, new_v, new_h, delta = _raise_damping(state, caught, new_v, new_h, delta, settings.max_damping)
        state = state._replace(visible=new_v, hidden=new_h)
        done = _converged(settings, state, delta)
        if done.any():
            _write_back(out, state.select(done))
            out.converged[state.idx[done]] = True
            state = state.select(~done)
            if len(state.idx) == 0:
                break
        report.sweep(batch, sweep, len(state.idx))
    _write_back(out, state)  # the points still iterated (none when all converged)
    report.sweep(batch, max_iter, 0)


def _damped_sweep(settings: _Settings, state: _DampingState) -> tuple[Tensor, Tensor, Tensor]:
    """One damped sweep, hidden layer then visible layer (a damping of 0 gives the undamped
    update exactly).

    Returns
    -------
    visible, hidden : the new state, shapes as ``state.visible`` and ``state.hidden``
    delta : Tensor of shape (b,), the damped step max |m_new - m_old| over both layers
    """
    mv, mh, d = state.visible, state.hidden, state.damping
    dh, dv = d[:, None], _per_point(d, mv)
    new_h = dh * mh + (1 - dh) * settings.tap.update_hidden(mv, mh, settings.order)
    new_v = dv * mv + (1 - dv) * settings.tap.update_visible(mv, new_h, settings.order)
    return new_v, new_h, _max_change(new_v, new_h, mv, mh)


def _watch_oscillations(state: _DampingState, new_v: Tensor, new_h: Tensor, delta: Tensor,
                        settings: _Settings) -> tuple[_DampingState, Tensor]:
    """Update the watch with the sweep ``state`` -> (new_v, new_h) of damped step ``delta`` (b,).

    Returns the state with the watch updated (``old_visible/old_hidden`` now the state before the
    sweep; ``visible/hidden`` not replaced yet) and the bool Tensor of shape (b,) of the points
    caught: in a 2-cycle for ``CYCLE_PATIENCE`` sweeps or stalled over a full window
    (``STALL_WINDOW``), not converged yet (damped step >= tol) and below the damping cap.
    """
    mv, mh = state.visible, state.hidden
    back = _max_change(new_v, new_h, state.old_visible, state.old_hidden)
    cycling = (delta >= settings.tol) & (back < CYCLE_RATIO * delta)
    streak = (state.streak + 1).masked_fill(~cycling, 0)
    # Potts profiles: the metric |Δm_i|²/2 per site, so that q = 2 equals the binary RBM
    step_v = (new_v - mv).reshape(len(mv), -1) * (0.5**0.5 if mv.ndim == 3 else 1.0)
    step = torch.cat([step_v, new_h - mh], 1)
    last = state.last_step
    cosine = (step * last).sum(1) / (step.norm(dim=1) * last.norm(dim=1)
                                     ).clamp_min(torch.finfo(step.dtype).tiny)
    win_first = torch.where(state.win_n == 0, delta, state.win_first)
    win_cos, win_n = state.win_cos + cosine, state.win_n + 1
    full = win_n >= STALL_WINDOW
    stalled = full & (win_cos < STALL_COSINE * STALL_WINDOW) & (delta > STALL_FACTOR * win_first)
    win_n, win_cos = win_n.masked_fill(full, 0), win_cos.masked_fill(full, 0)
    state = state._replace(old_visible=mv, old_hidden=mh, streak=streak, last_step=step,
                           win_n=win_n, win_first=win_first, win_cos=win_cos)
    oscillating = (streak >= CYCLE_PATIENCE) | stalled
    return state, oscillating & (delta >= settings.tol) & (state.damping < settings.max_damping)


def _raise_damping(state: _DampingState, caught: Tensor, new_v: Tensor, new_h: Tensor,
                   delta: Tensor, max_damping: float
                   ) -> tuple[_DampingState, Tensor, Tensor, Tensor]:
    """Raise the damping of the ``caught`` points (bool, shape (b,)), d <- (1 + d) / 2.

    Returns the state with their damping raised and their watch reset, the new visible and hidden
    magnetisations (theirs moved to the midpoint of ``state`` and the new state), and ``delta``
    with theirs set to inf (so that they are not taken as converged on this sweep).
    """
    # continue from the middle of the cycle with a stronger damping
    mv, mh = state.visible, state.hidden
    d = torch.where(caught, torch.clamp((1 + state.damping) / 2, max=max_damping), state.damping)
    cv, ch = _per_point(caught, mv), caught[:, None]
    new_v = torch.where(cv, (new_v + mv) / 2, new_v)
    new_h = torch.where(ch, (new_h + mh) / 2, new_h)
    state = state._replace(
        damping=d,
        old_visible=torch.where(cv, new_v, state.old_visible),
        old_hidden=torch.where(ch, new_h, state.old_hidden),
        streak=state.streak.masked_fill(caught, 0), win_n=state.win_n.masked_fill(caught, 0),
        win_cos=state.win_cos.masked_fill(caught, 0), last_step=state.last_step.masked_fill(ch, 0))
    return state, new_v, new_h, delta.masked_fill(caught, float("inf"))


def _converged(settings: _Settings, state: _DampingState, delta: Tensor) -> Tensor:
    """The points of ``state`` that converged, bool Tensor of shape (b,).

    ``state`` is the state after the sweep, ``delta`` (shape (b,)) that sweep's damped step.
    """
    # per layer new - old = (1 - d) (F - old): the undamped residual of the old state is
    # delta / (1 - d). Its candidates are confirmed on the state actually returned: one
    # undamped sweep from it must move it by less than tol.
    done = delta < settings.tol * (1 - state.damping)
    if done.any():
        cand = done.nonzero().squeeze(1)
        mv, mh = state.visible[cand], state.hidden[cand]
        done[cand] = _max_change(*_sweep(settings.tap, mv, mh, settings.order), mv, mh) < settings.tol
    return done


def _write_back(out: TAPResult, state: _DampingState) -> None:
    """Store the state and damping of the points of ``state`` in their rows of ``out``."""
    out.visible[state.idx], out.hidden[state.idx], out.damping[state.idx] = state.visible, state.hidden, state.damping


def _per_point(x: Tensor, like: Tensor) -> Tensor:
    """``x`` of shape (b,) viewed so as to broadcast against ``like`` of shape (b, ...)."""
    return x.reshape(-1, *([1] * (like.ndim - 1)))


def _max_change(new_v: Tensor, new_h: Tensor, old_v: Tensor, old_h: Tensor) -> Tensor:
    """max |new - old| per point over both layers, shape (n,)."""
    change = (new_v - old_v).abs().reshape(new_v.shape[0], -1).amax(1)
    if old_h.shape[1]:  # a layer of no unit does not move
        change = torch.maximum(change, (new_h - old_h).abs().amax(1))
    return change
