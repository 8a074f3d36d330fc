"""Nearest-neighbour adversarial accuracy of generated samples (Yale, Dash, Dutta, Guyon, Pavao,
Bennett, *Generation and evaluation of privacy preserving synthetic health data*, Neurocomputing
416, 244 (2020); docs/methods.md 6.8).

With n real rows T and n generated rows S, d_TT(i) is the distance of real row i to its nearest
*other* real row, d_TS(i) to its nearest generated row, and likewise d_SS(i), d_ST(i) for the
generated rows::

    AA_true  = (1/n) Σ_i 1[d_TS(i) > d_TT(i)]     (real rows closer to the real data)
    AA_synth = (1/n) Σ_i 1[d_ST(i) > d_SS(i)]     (generated rows closer to the generated ones)
    AA_TS    = (AA_true + AA_synth) / 2

AA_TS = 0.5 when a nearest-neighbour classifier cannot tell the two sets apart; above 0.5 the
samples are distinguishable (under-fitting or poor mixing), below 0.5 they sit too close to the real
rows (copies: over-fitting). The privacy loss is AA_TS(test) − AA_TS(train): positive when the
samples are closer to the training rows than to held-out ones. Distances: Hamming (the number of
differing units) for discrete values, Euclidean for real values. Ties count as not greater.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["adversarial_accuracy", "distances"]


def distances(a: Tensor, b: Tensor, discrete: bool) -> Tensor:
    """Pairwise distances (len(a), len(b)), float64: Hamming for ``discrete`` values (binary units
    or codes: N minus the number of equal units, from one-hot products over the values present),
    Euclidean otherwise."""
    a, b = a.double(), b.double()
    if not discrete:
        return torch.cdist(a, b)
    values = torch.unique(torch.cat([a.reshape(-1), b.reshape(-1)]))

    def one_hot(x: Tensor) -> Tensor:
        return (x.unsqueeze(-1) == values).reshape(len(x), -1).double()

    return a.shape[1] - one_hot(a) @ one_hot(b).T


def _nearest_other(d: Tensor) -> Tensor:
    """Each row's smallest distance to another member of the same set (the diagonal excluded)."""
    d = d.clone()
    d.fill_diagonal_(float("inf"))
    return d.min(1).values


def adversarial_accuracy(real: Tensor, generated: Tensor, discrete: bool) -> dict[str, float]:
    """``aa_true``, ``aa_synth`` and ``aa_ts`` of ``generated`` against ``real`` (equal numbers of
    rows, at least 2 each; the caller draws them)."""
    if len(real) != len(generated) or len(real) < 2:
        raise ValueError(f"adversarial accuracy needs two sets of equal size >= 2, got {len(real)} "
                         f"and {len(generated)}")
    d_ts = distances(real, generated, discrete)
    d_tt = _nearest_other(distances(real, real, discrete))
    d_ss = _nearest_other(distances(generated, generated, discrete))
    aa_true = float((d_ts.min(1).values > d_tt).double().mean())
    aa_synth = float((d_ts.min(0).values > d_ss).double().mean())
    return {"aa_true": aa_true, "aa_synth": aa_synth, "aa_ts": 0.5 * (aa_true + aa_synth)}
