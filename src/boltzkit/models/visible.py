"""The visible space of a model: what values its visible units take and how data map to them.

Every model declares one :class:`VisibleSpace` (``model.visible``). The layers above ``models/``
use it, never the model's kind, to convert data to the model's values and back, to check user
input, to choose the moments to compare and to build the independent-site baseline
(:func:`boltzkit.models.baseline.independent_site_model`):

============  ==================  ====================  =============================
``name``      model values        data values           data files (``data_kind``)
============  ==================  ====================  =============================
bernoulli     {0, 1}              {0, 1}                binary (matrices, images)
spin          {-1, +1}            {0, 1} (x = 2b - 1)   binary (matrices, images)
categorical   codes 0..q-1        codes 0..q-1          categorical (alignments, ...)
============  ==================  ====================  =============================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from boltzkit.errors import InvalidValue

if TYPE_CHECKING:
    import torch

__all__ = ["VisibleSpace", "VISIBLE_KINDS", "BERNOULLI_SPACE", "SPIN_SPACE", "categorical_space"]


@dataclass(frozen=True)
class VisibleSpace:
    """The values of a model's visible units.

    Attributes
    ----------
    name : {"bernoulli", "spin", "categorical"}
    n_states : int
        States per unit: 2 for bernoulli and spin units, q for categorical ones.
    """

    name: str
    n_states: int = 2

    def __post_init__(self) -> None:
        if self.name not in VISIBLE_KINDS:
            raise ValueError(f"unknown visible space {self.name!r} (known: {', '.join(VISIBLE_KINDS)})")

    @property
    def storage_dtype(self) -> type:
        """The dtype of data rows kept in run files: int8 codes, uint8 {0,1}."""
        return np.int8 if self.categorical else np.uint8

    @property
    def moments_convention(self) -> str:
        """What the data-vs-model moments of ``evaluate`` compare, in words."""
        return _MOMENTS[self.name]

    @property
    def data_kind(self) -> str:
        """Which reader of :mod:`boltzkit.data.specs` gives this model its data."""
        return "categorical" if self.categorical else "binary"

    @property
    def categorical(self) -> bool:
        return self.name == "categorical"

    @property
    def values_text(self) -> str:
        """The values in words, for messages."""
        if self.categorical:
            return f"integer codes 0..{self.n_states - 1}"
        return "±1 spins, values in {-1, 1}" if self.name == "spin" else "values in {0, 1}"

    # ------------------------------------------------------------------ conversions
    def from_data(self, samples: np.ndarray) -> np.ndarray:
        """Data values (array of shape (n, n_visible)) as model values, float64."""
        x = np.asarray(samples, dtype=np.float64)
        return 2.0 * x - 1.0 if self.name == "spin" else x

    def to_data(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Model values back to data values: uint8 {0,1} for binary data, int64 codes."""
        if not isinstance(x, np.ndarray):  # a tensor
            x = x.detach().cpu().numpy()
        if self.categorical:
            return x.astype(np.int64)
        return ((x + 1.0) / 2.0 if self.name == "spin" else x).astype(np.uint8)

    def tensor(self, samples: np.ndarray, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        """Data values as a tensor of model values."""
        import torch  # heavy: the space itself is plain data, read by the registry (CLI --help)

        return torch.as_tensor(self.from_data(samples), dtype=dtype, device=device)

    def check(self, x: np.ndarray, what: str = "X") -> None:
        """Raise a one-line error unless ``x`` (shape (n, n_visible)) holds model values."""
        if not np.isfinite(x).all():
            raise InvalidValue(f"{what} contains NaN or infinite values")
        if self.categorical:
            ok = (x == np.round(x)).all() and x.min(initial=0) >= 0 and x.max(initial=0) < self.n_states
        else:
            ok = np.isin(x, (-1.0, 1.0) if self.name == "spin" else (0.0, 1.0)).all()
        if not ok:
            raise InvalidValue(f"{what} must hold {self.values_text}")


_MOMENTS = {
    "categorical": ("f_i(a) and C_ij(a,b) = f_ij(a,b) - f_i(a) f_j(b) for i < j, all q states (gap "
                    "included); data weighted by the run's sequence weights, no pseudocount; model: "
                    "samples from uniformly random starts"),
    "spin": ("<s_i> and C_ij = <s_i s_j> - <s_i><s_j> for i < j of ±1 spins; data weighted by "
             "their weights if any; model: samples from uniformly random starts"),
    "bernoulli": ("<v_i> and C_ij = <v_i v_j> - <v_i><v_j> for i < j of {0,1} units; data weighted "
                  "by their weights if any; model: samples from uniformly random starts"),
}

#: The names of the visible spaces.
VISIBLE_KINDS = tuple(_MOMENTS)

BERNOULLI_SPACE = VisibleSpace("bernoulli")
SPIN_SPACE = VisibleSpace("spin")


def categorical_space(q: int) -> VisibleSpace:
    """Categorical units with ``q`` states."""
    return VisibleSpace("categorical", int(q))
