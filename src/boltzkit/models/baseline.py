"""The independent-site baseline of any visible space: the model that reproduces the data's
one-site frequencies and nothing else, with an exact log Z (the reference every likelihood is
compared with)."""

from __future__ import annotations

from torch import Tensor

from boltzkit.models.potts_rbm import PottsRBM, independent_site_potts
from boltzkit.models.rbm import RBM
from boltzkit.models.rbm import independent_site_model as independent_binary_model
from boltzkit.models.units import BERNOULLI, SPIN
from boltzkit.models.visible import VisibleSpace

__all__ = ["independent_site_model"]


def independent_site_model(space: VisibleSpace, x: Tensor, weights: Tensor | None = None) -> RBM | PottsRBM:
    """The independent-site model fitted to ``x`` (model values of ``space``, shape
    (n, n_visible)), weighted by ``weights``: an RBM without hidden units, in float64 (Potts
    frequencies with a pseudocount 1e-4, binary ones clamped to [1e-4, 1 - 1e-4])."""
    if space.categorical:
        return independent_site_potts(x, space.n_states, weights)
    return independent_binary_model(x.double(), SPIN if space.name == "spin" else BERNOULLI, weights)
