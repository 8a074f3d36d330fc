"""Log-likelihoods of data under a model with a known log Z."""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def log_likelihood(model, data: Tensor, log_z: float, weights: Tensor | None = None,
                   batch_size: int = 4096) -> tuple[float, Tensor]:
    """Mean log p(x) over ``data`` (weighted if ``weights``) and the per-sample values, in the
    data's units: for a real visible space with a standardisation, the log-density of the model
    values plus the space's ``log_jacobian`` (docs/methods.md section 11.6).

    Parameters
    ----------
    data : Tensor of shape (n_samples, n_visible), in the model's unit values.
    Returns
    -------
    mean : float
    per_sample : Tensor of shape (n_samples,), float64
    """
    data = data.to(model.device, model.dtype)
    values = torch.cat([-model.free_energy(data[i:i + batch_size]).double()
                        for i in range(0, len(data), batch_size)]) - log_z + model.visible.log_jacobian
    if weights is None:
        return float(values.mean()), values
    w = weights.to(values.device, torch.float64)
    return float((w * values).sum() / w.sum()), values
