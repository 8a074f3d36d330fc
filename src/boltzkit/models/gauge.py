"""The zero-sum (Ising) gauge of pairwise Potts parameters — the one implementation in boltzkit.

Used by :meth:`boltzkit.models.pairwise.PottsModel.zero_sum_gauge`, by the contact scores
(:func:`boltzkit.evaluation.contacts.frobenius_scores`) and by the synthetic generators
(:func:`boltzkit.synthetic.conversion.potts_zero_sum_gauge`).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["zero_sum_gauge"]


def zero_sum_gauge(
    couplings: torch.Tensor | np.ndarray, fields: torch.Tensor | np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move Potts parameters to the zero-sum (Ising) gauge without changing p(s).

    ``J'_ij(a, b) = J_ij(a, b) - J_ij(., b) - J_ij(a, .) + J_ij(., .)`` (``.`` = mean over q) and
    ``h'_i(a) = h_i(a) - h_i(.) + sum_{j != i} [J_ij(a, .) - J_ij(., .)]``, so every energy
    changes by the same constant (docs/methods.md section 1.5). Diagonal blocks J_ii are set to zero.
    Every row and column of each J'_ij and every h'_i sums to zero.

    Parameters
    ----------
    couplings : Tensor or ndarray of shape (L, L, q, q), with ``J[j, i] == J[i, j].T``
    fields : Tensor or ndarray of shape (L, q), optional

    Returns
    -------
    couplings : Tensor of shape (L, L, q, q) (float64 if the input was not floating point)
    fields : Tensor of shape (L, q), or None when no fields were given
    """
    J = torch.as_tensor(couplings)
    if J.ndim != 4 or J.shape[0] != J.shape[1] or J.shape[2] != J.shape[3]:
        raise ValueError(f"couplings must have shape (L, L, q, q), got {tuple(J.shape)}")
    if not J.is_floating_point():
        J = J.to(torch.float64)
    length = J.shape[0]
    off = ~torch.eye(length, dtype=torch.bool, device=J.device)
    J = J * off[:, :, None, None]
    row_mean = J.mean(dim=3, keepdim=True)  # J_ij(a, .)
    col_mean = J.mean(dim=2, keepdim=True)  # J_ij(., b)
    all_mean = J.mean(dim=(2, 3), keepdim=True)
    J_zs = J - row_mean - col_mean + all_mean
    if fields is None:
        return J_zs, None
    h = torch.as_tensor(fields).to(device=J.device, dtype=J.dtype)
    if h.shape != (length, J.shape[2]):
        raise ValueError(f"fields must have shape ({length}, {J.shape[2]}), got {tuple(h.shape)}")
    h_zs = h - h.mean(dim=1, keepdim=True) + (row_mean - all_mean).squeeze(3).sum(dim=1)
    return J_zs, h_zs
