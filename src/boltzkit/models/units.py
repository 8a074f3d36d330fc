"""Unit types of a layer: the values a unit takes and the functions of its local field.

A unit with local field ``f`` has conditional probability p(x) ∝ exp(x * f) over its values.
Each unit type gives the log-normaliser log Σ_x exp(x f) (the hidden part of a marginal free
energy), the conditional mean, a sampler, and the enumeration of all configurations of a
layer (for exact sums on small models, :func:`exact_log_sum`).

* :data:`BERNOULLI` — x ∈ {0, 1}: log-normaliser softplus(f), mean sigmoid(f).
* :data:`SPIN` — x ∈ {−1, +1} (σ, τ in docs/methods.md section 1.1): log-normaliser log 2cosh(f),
  mean tanh(f).

The samplers compare one uniform number per unit with P(high); :func:`random_uniform` draws
those numbers (the law of ``torch.rand``, less than half its cost on CPU in large blocks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# Random bits per uniform draw: 24 for float32 (the mantissa, as torch.rand), 53 for float64.
_UNIFORM_BITS = {torch.float32: (24, np.int32), torch.float64: (53, np.int64)}


def random_uniform(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Uniform draws on [0, 1), driven by ``generator`` (torch's global generator when None).

    Same law as ``torch.rand`` (multiples of 2**-24 in float32, of 2**-53 in float64), faster on
    CPU, where torch's generator (mt19937, one number at a time: about 3 ns per number here) made
    about half the cost of a block-Gibbs step of a small RBM. One 63-bit seed is drawn from
    ``generator`` and seeds numpy's SFC64 (Small Fast Chaotic, through numpy's SeedSequence, so
    that nearby seeds give unrelated streams); its raw 64-bit words are cut into 32-bit
    (float32) or used as 64-bit (float64) integers and scaled in place. Measured on one thread:
    32000 numbers cost 84 us in one call against 96 us with ``torch.rand``, and 37 us each when
    drawn 640000 at a time (:meth:`boltzkit.models.rbm.RBM.sample_steps` draws the numbers of
    several Gibbs steps together). The draws are a deterministic function of the generator's
    state, which advances by one number per call: a saved generator state reproduces them
    exactly. Other devices and dtypes use ``torch.rand`` (fast there).
    """
    device = torch.device(device)
    if device.type != "cpu" or dtype not in _UNIFORM_BITS:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)
    bits, int_dtype = _UNIFORM_BITS[dtype]
    n = math.prod(shape)
    seed = int(torch.randint(0, 2**63 - 1, (), generator=generator))
    per_word = 8 // np.dtype(int_dtype).itemsize  # integers of int_dtype in one 64-bit word
    raw = np.random.SFC64(seed).random_raw(-(-n // per_word)).view(int_dtype)[:n]
    # The low `bits` bits of each integer (exactly representable in dtype), converted in place
    # (the float of each integer overwrites it: same size, element by element; no second
    # buffer) and scaled to [0, 1).
    k = torch.from_numpy(raw).bitwise_and_((1 << bits) - 1)
    u = k.view(dtype)
    u.copy_(k)
    return u.mul_(2.0 ** -bits).view(tuple(shape))


@dataclass(frozen=True)
class UnitType:
    """Binary unit type; subclasses fix the two values."""

    name: str
    low: float
    high: float

    def __reduce__(self):
        """Unpickled as the module's own instance (``units is SPIN`` holds after pickling)."""
        return (_unit_type, (self.name,))

    def log_normalizer(self, field: Tensor) -> Tensor:
        raise NotImplementedError

    def mean(self, field: Tensor) -> Tensor:
        raise NotImplementedError

    def prob_high_(self, field: Tensor) -> Tensor:
        """In place on ``field``: P(x = high | field)."""
        raise NotImplementedError

    def prob_high(self, field: Tensor) -> Tensor:
        """P(x = high | field), elementwise."""
        return self.prob_high_(field.clone())

    def sample(self, field: Tensor, generator: torch.Generator | None = None,
               uniform: Tensor | None = None, *, overwrite: bool = False) -> Tensor:
        """Draw x ~ p(x | field) independently for every entry.

        ``uniform`` : optional draws on [0, 1) of the shape of ``field`` (e.g. a slice of a block
        from :func:`random_uniform` drawn once for several Gibbs steps); drawn here when None.
        ``overwrite`` : ``field`` is a temporary of the caller's, and becomes the result (saves
        a tensor of that size).
        """
        if uniform is None:
            uniform = random_uniform(field.shape, generator, field.device, field.dtype)
        p = self.prob_high_(field) if overwrite else self.prob_high(field)
        # x = [p + u >= 1], i.e. 1 exactly when u >= 1 - p (prob. p), computed in place on the
        # tensor of probabilities: about 2x faster on CPU than torch.bernoulli. Not floor(p + u):
        # where sigmoid saturates at p = 1 the largest u, 1 - 2**-24, makes p + u round to 2.0
        # (and ceil(p - u) gives -0.0).
        x = p.add_(uniform).ge_(1.0)
        if self.low == 0.0 and self.high == 1.0:
            return x
        return x.mul_(self.high - self.low).add_(self.low)

    def random(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
        """Uniformly random configurations."""
        u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
        return torch.where(u < 0.5, self.high, self.low).to(dtype)

    def enumerate(self, n: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64,
                  start: int = 0, stop: int | None = None) -> Tensor:
        """The configurations of n units numbered ``start`` to ``stop - 1`` (default: all 2**n),
        shape (stop - start, n); the first unit varies slowest, low before high."""
        if n > 30:
            raise ValueError(f"cannot enumerate 2**{n} configurations")
        codes = torch.arange(start, 2**n if stop is None else stop, device=device)
        bits = (codes.unsqueeze(1) >> torch.arange(n - 1, -1, -1, device=device)) & 1
        return torch.where(bits.bool(), self.high, self.low).to(dtype)

    def from_bernoulli(self, x: Tensor) -> Tensor:
        """Map {0, 1} data to this unit's values."""
        return x * (self.high - self.low) + self.low


class _Bernoulli(UnitType):
    def log_normalizer(self, field: Tensor) -> Tensor:
        return F.softplus(field)

    def mean(self, field: Tensor) -> Tensor:
        return torch.sigmoid(field)

    def prob_high_(self, field: Tensor) -> Tensor:
        return field.sigmoid_()


class _Spin(UnitType):
    def log_normalizer(self, field: Tensor) -> Tensor:
        # log(e^f + e^-f) = |f| + softplus(-2|f|): stable for large |f|
        a = field.abs()
        return a + F.softplus(-2.0 * a)

    def mean(self, field: Tensor) -> Tensor:
        return torch.tanh(field)

    def prob_high_(self, field: Tensor) -> Tensor:
        return field.mul_(2.0).sigmoid_()


BERNOULLI = _Bernoulli("bernoulli", 0.0, 1.0)
SPIN = _Spin("spin", -1.0, 1.0)

UNIT_TYPES = {u.name: u for u in (BERNOULLI, SPIN)}


def _unit_type(name: str) -> UnitType:
    return UNIT_TYPES[name]


def exact_log_sum(energy: Callable[[Tensor], Tensor], chunks: Iterable[Tensor]) -> float:
    """log sum_x exp(-energy(x)) over the configurations x of ``chunks`` (tensors of shape
    (m, n)), one chunk at a time: an exact log Z (or log of a marginal) on a small model."""
    return float(torch.logsumexp(torch.stack([torch.logsumexp(-energy(x), 0) for x in chunks]), 0))


__all__ = ["UnitType", "BERNOULLI", "SPIN", "UNIT_TYPES", "random_uniform", "exact_log_sum"]
