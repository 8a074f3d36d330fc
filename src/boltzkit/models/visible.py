"""The visible space of a model: what values its visible units take and how data map to them.

Every model declares one :class:`VisibleSpace` (``model.visible``). The layers above ``models/``
use it, never the model's kind, to convert data to the model's values and back, to check user
input, to choose the moments to compare and to build the baselines
(:func:`boltzkit.models.baseline.baselines`):

============  ==================  ====================  =============================
``name``      model values        data values           data files (``data_kind``)
============  ==================  ====================  =============================
bernoulli     {0, 1}              {0, 1}                binary (matrices, images)
spin          {-1, +1}            {0, 1} (x = 2b - 1)   binary (matrices, images)
categorical   codes 0..q-1        codes 0..q-1          categorical (alignments, ...)
real          reals (x - o) / s   reals x               continuous (matrices, grey levels)
============  ==================  ====================  =============================

A real space may carry a per-feature ``offset`` o and ``scale`` s (standardisation, fitted to the
training data by :meth:`VisibleSpace.fitted`): the model sees (x - o) / s, and a log-density of the
model values becomes one in the data's units by adding :attr:`VisibleSpace.log_jacobian`
(docs/methods.md section 11.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from boltzkit.errors import InvalidValue

if TYPE_CHECKING:
    import torch

__all__ = ["VisibleSpace", "VISIBLE_KINDS", "BERNOULLI_SPACE", "SPIN_SPACE", "REAL_SPACE",
           "categorical_space", "real_space"]


@dataclass(frozen=True)
class VisibleSpace:
    """The values of a model's visible units.

    Attributes
    ----------
    name : {"bernoulli", "spin", "categorical", "real"}
    n_states : int
        States per unit: 2 for bernoulli and spin units, q for categorical ones, 1 for real ones
        (no discrete states; any other value given for a real space is replaced by 1).
    offset, scale : tuple of float, optional
        Real spaces only: model value = (data value - offset) / scale, per feature (both or neither).
    """

    name: str
    n_states: int = 2
    offset: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.name not in VISIBLE_KINDS:
            raise ValueError(f"unknown visible space {self.name!r} (known: {', '.join(VISIBLE_KINDS)})")
        if self.name == "real":
            object.__setattr__(self, "n_states", 1)
        if (self.offset is None) != (self.scale is None):
            raise ValueError("a visible space has both an offset and a scale, or neither")
        if self.offset is None:
            return
        if self.name != "real":
            raise ValueError(f"only a real visible space has an offset and a scale, not {self.name!r}")
        offset, scale = (tuple(float(t) for t in np.asarray(a, dtype=np.float64).reshape(-1))
                         for a in (self.offset, self.scale))
        if len(offset) != len(scale) or not np.isfinite(offset + scale).all() or min(scale, default=1) <= 0:
            raise ValueError("offset and scale must be finite, of one length, with every scale > 0")
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "scale", scale)

    @property
    def storage_dtype(self) -> type:
        """The dtype of data rows kept in run files: int8 codes, uint8 {0,1}, float32 reals."""
        if self.real:
            return np.float32
        return np.int8 if self.categorical else np.uint8

    @property
    def moments_convention(self) -> str:
        """What the data-vs-model moments of ``evaluate`` compare, in words."""
        if self.real and self.scale is None:
            return _MOMENTS["real"].replace("of the standardized values (the model's values)",
                                            "of the values (not standardized)")
        return _MOMENTS[self.name]

    @property
    def data_kind(self) -> str:
        """Which reader of :mod:`boltzkit.data.specs` gives this model its data: "binary",
        "categorical" or "continuous"."""
        if self.real:
            return "continuous"
        return "categorical" if self.categorical else "binary"

    @property
    def categorical(self) -> bool:
        return self.name == "categorical"

    @property
    def real(self) -> bool:
        return self.name == "real"

    @property
    def values_text(self) -> str:
        """The values in words, for messages."""
        if self.real:
            return "real values"
        if self.categorical:
            return f"integer codes 0..{self.n_states - 1}"
        return "±1 spins, values in {-1, 1}" if self.name == "spin" else "values in {0, 1}"

    @property
    def log_jacobian(self) -> float:
        """log |d(model value)/d(data value)| summed over the features, -sum(log scale): a
        log-density of model values plus this is the log-density in the data's units (0 for
        discrete spaces and for a real space without scale)."""
        return 0.0 if self.scale is None else float(-np.log(np.asarray(self.scale)).sum())

    # ------------------------------------------------------------------ conversions
    def from_data(self, samples: np.ndarray) -> np.ndarray:
        """Data values (array of shape (n, n_visible)) as model values, float64."""
        x = np.asarray(samples, dtype=np.float64)
        if self.scale is not None:
            return (x - np.asarray(self.offset)) / np.asarray(self.scale)
        return 2.0 * x - 1.0 if self.name == "spin" else x

    def to_data(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Model values back to data values: uint8 {0,1} for binary data, int64 codes, float64
        reals (x * scale + offset)."""
        if not isinstance(x, np.ndarray):  # a tensor
            x = x.detach().cpu().numpy()
        if self.real:
            x = np.asarray(x, dtype=np.float64)
            return x if self.scale is None else x * np.asarray(self.scale) + np.asarray(self.offset)
        if self.categorical:
            return x.astype(np.int64)
        return ((x + 1.0) / 2.0 if self.name == "spin" else x).astype(np.uint8)

    def stored_rows(self, rows: np.ndarray) -> np.ndarray:
        """Training rows kept in a run file as data values, float64: spin runs of some versions
        kept ±1 spins (model values), turned back into {0,1} here; other rows as they are."""
        rows = np.asarray(rows, dtype=np.float64)
        if self.name == "spin" and rows.size and rows.min() < 0:
            return self.to_data(rows).astype(np.float64)
        return rows

    def from_api(self, x: np.ndarray) -> np.ndarray:
        """Values as the Python API takes them (array of shape (n, n_visible)) as model values:
        discrete spaces take their model values (``{0,1}``, ±1, codes) as they are, a real space
        takes the data's units (standardised here)."""
        return self.from_data(x) if self.real else np.asarray(x, dtype=np.float64)

    def to_api(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Model values as the Python API returns them: the inverse of :meth:`from_api` (codes as
        integers, real values in the data's units, other values as they are)."""
        if self.real or self.categorical:
            return self.to_data(x)
        return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()

    def tensor(self, samples: np.ndarray, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        """Data values as a tensor of model values."""
        import torch  # heavy: the space itself is plain data, read by the registry (CLI --help)

        return torch.as_tensor(self.from_data(samples), dtype=dtype, device=device)

    def check(self, x: np.ndarray, what: str = "X") -> None:
        """Raise a one-line error unless ``x`` (shape (n, n_visible)) holds model values."""
        if not np.isfinite(x).all():
            raise InvalidValue(f"{what} contains NaN or infinite values")
        if self.real:
            return
        if self.categorical:
            ok = (x == np.round(x)).all() and x.min(initial=0) >= 0 and x.max(initial=0) < self.n_states
        else:
            ok = np.isin(x, (-1.0, 1.0) if self.name == "spin" else (0.0, 1.0)).all()
        if not ok:
            raise InvalidValue(f"{what} must hold {self.values_text}")

    def fitted(self, samples: np.ndarray, weights: np.ndarray | None = None,
               standardize: bool = True) -> "VisibleSpace":
        """This space fitted to training data ``samples`` (data values, shape (n, n_visible)).

        A real space with ``standardize``: offset = the (weighted) column means, scale = the
        (weighted, population) column standard deviations; a constant column (std <= 1e-12 *
        max(1, |mean|)) is refused with a one-line :class:`~boltzkit.errors.InvalidValue` naming its
        0-based columns. A real space without ``standardize``: no offset or scale. Discrete spaces
        return themselves.
        """
        if not self.real:
            return self
        x = np.asarray(samples, dtype=np.float64)
        if not standardize:  # a constant column is no density either way
            if x.ndim == 2 and len(x) > 1 and np.isfinite(x).all():
                _refuse_constant(x.std(0), x.mean(0))
            return REAL_SPACE
        if x.ndim != 2 or len(x) == 0 or not np.isfinite(x).all():
            raise InvalidValue("standardisation needs a non-empty 2-D array of finite values")
        if len(x) < 2:
            raise InvalidValue("cannot standardise 1 sample: real values need at least 2 rows "
                               "(or standardize=False)")
        w = np.full(len(x), 1.0 / len(x)) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (len(x),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InvalidValue("standardisation weights must be finite, non-negative, one per row, "
                               "not all zero")
        w = w / w.sum()
        mean = w @ x
        std = np.sqrt(w @ (x - mean) ** 2)
        _refuse_constant(std, mean)
        return real_space(mean, std)


def _refuse_constant(std: np.ndarray, mean: np.ndarray) -> None:
    """One line naming the columns (0-based) whose std <= 1e-12 * max(1, |mean|)."""
    constant = np.flatnonzero(std <= 1e-12 * np.maximum(1.0, np.abs(mean)))
    if constant.size:
        raise InvalidValue(f"cannot model constant columns (0-based) {', '.join(map(str, constant[:20]))}"
                           + (f" and {constant.size - 20} more" if constant.size > 20 else "")
                           + ": a Gaussian of zero width is no density (leave them out)")


_MOMENTS = {
    "categorical": ("f_i(a) and C_ij(a,b) = f_ij(a,b) - f_i(a) f_j(b) for i < j, all q states (gap "
                    "included); data weighted by the run's sequence weights, no pseudocount; model: "
                    "samples from uniformly random starts"),
    "spin": ("<s_i> and C_ij = <s_i s_j> - <s_i><s_j> for i < j of ±1 spins; data weighted by "
             "their weights if any; model: samples from uniformly random starts"),
    "bernoulli": ("<v_i> and C_ij = <v_i v_j> - <v_i><v_j> for i < j of {0,1} units; data weighted "
                  "by their weights if any; model: samples from uniformly random starts"),
    "real": ("<x_i> and C_ij = <x_i x_j> - <x_i><x_j> for i < j of the standardized values (the "
             "model's values); data weighted by their weights if any; model: samples from Gaussian "
             "noise starts"),
}

#: The names of the visible spaces.
VISIBLE_KINDS = tuple(_MOMENTS)

BERNOULLI_SPACE = VisibleSpace("bernoulli")
SPIN_SPACE = VisibleSpace("spin")
REAL_SPACE = VisibleSpace("real", 1)


def categorical_space(q: int) -> VisibleSpace:
    """Categorical units with ``q`` states."""
    return VisibleSpace("categorical", int(q))


def real_space(offset=None, scale=None) -> VisibleSpace:
    """Real-valued units; with ``offset`` and ``scale`` (sequences of one float per feature), model
    values are (x - offset) / scale."""
    if offset is None and scale is None:
        return REAL_SPACE
    return VisibleSpace("real", 1, tuple(np.asarray(offset, np.float64).reshape(-1)),
                        tuple(np.asarray(scale, np.float64).reshape(-1)))
