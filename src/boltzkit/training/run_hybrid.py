"""Training runs of the hybrid EBM (what ``boltzkit train --model hybrid --method plm`` calls;
:func:`boltzkit.training.run.train_run` dispatches here).

The hybrid model (:class:`~boltzkit.models.hybrid.HybridEBM`, Feinauer & Lucibello, arXiv:2012.06625)
is E(s) = -h.s - sum_{i<j} J_ij s_i s_j + E_NN(s) on ±1 spins, trained by pseudo-likelihood
(:func:`~boltzkit.training.pseudo_likelihood.fit_pseudo_likelihood`: all N single-flip energies of a
minibatch in one batched call, Adam). Binary data are read like the binary RBMs'
(:class:`~boltzkit.training.run.DataSpec`) and mapped to s = 2x - 1.

Settings taken from :class:`~boltzkit.training.config.TrainingConfig`: ``n_updates`` Adam steps
(rounded up to whole epochs of ``batch_size`` rows), ``learning_rate``, ``l2`` (the same strength on
the couplings, l2 * sum_{i<j} J_ij^2, and on the network's weight matrices), ``n_checkpoints``
(evenly over the epochs), ``seed`` (minibatch order and network initialisation), ``dtype``,
``device``. ``parts`` chooses the model: ``both`` (the hybrid), ``pair`` (pairwise only: an Ising
Boltzmann machine fitted by PLM) or ``nn`` (network only).

The run file (:mod:`boltzkit.io.trajectory`) holds the model config (family ``hybrid``), the data
spec, ``hybrid`` (parts, width, epochs) and one checkpoint per saved epoch (update = epoch);
``boltzkit couplings RUN.h5 --method exact|sampling`` reads it. PLM runs cannot be resumed.
"""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.training.config import TrainingConfig

__all__ = ["HYBRID_KINDS", "HYBRID_PARTS", "train_hybrid_run"]

HYBRID_KINDS = ("hybrid",)
#: ``parts`` -> (pairwise, neural)
HYBRID_PARTS = {"both": (True, True), "pair": (True, False), "nn": (False, True)}
DATA_SAMPLE_ROWS = 2000
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def train_hybrid_run(spec, out: str | os.PathLike | None, config: TrainingConfig, nn_hidden: int = 128,
                     parts: str = "both", activation: str = "silu",
                     on_update: Callable[[int], None] | None = None):
    """Train a hybrid EBM by pseudo-likelihood on the binary data of ``spec``; returns the model.

    Parameters
    ----------
    spec : :class:`~boltzkit.training.run.DataSpec`
    out : run file to write (None: nothing written)
    config : TrainingConfig with ``method="plm"``
    nn_hidden : width of the network's hidden layer (one hidden layer)
    parts : {"both", "pair", "nn"}
    activation : the network's activation (:data:`~boltzkit.models.hybrid.ACTIVATIONS`)
    on_update : called with the number of Adam steps done, once per epoch
    """
    from boltzkit.models.hybrid import ACTIVATIONS, HybridEBM
    from boltzkit.training.pseudo_likelihood import PseudoLikelihoodConfig, fit_pseudo_likelihood

    if config.method != "plm":
        raise BoltzkitError(f"model hybrid is trained by pseudo-likelihood: use --method plm, not {config.method}")
    if parts not in HYBRID_PARTS:
        raise BoltzkitError(f"hybrid parts {parts!r}: choose {', '.join(HYBRID_PARTS)}")
    if nn_hidden < 1:
        raise BoltzkitError(f"--nn-hidden {nn_hidden}: the network needs at least one hidden unit")
    if activation not in ACTIVATIONS:
        raise BoltzkitError(f"activation {activation!r}: choose {', '.join(ACTIVATIONS)}")
    train, _ = spec.load()
    spins = torch.as_tensor(2.0 * train.samples - 1.0, dtype=_DTYPES[config.dtype]).to(config.device)
    m, n = spins.shape
    if m < 1:
        raise BoltzkitError(f"{spec.path}: no training rows")
    weights = None if train.weights is None else torch.as_tensor(train.weights, dtype=torch.float64)
    batch = min(config.batch_size, m)
    steps_per_epoch = max(1, m // batch)
    n_epochs = max(1, math.ceil(config.n_updates / steps_per_epoch))
    pairwise, neural = HYBRID_PARTS[parts]
    model = HybridEBM(n, nn_hidden, activation, pairwise, neural, config.seed, _DTYPES[config.dtype], config.device)
    pl_config = PseudoLikelihoodConfig(n_epochs=n_epochs, batch_size=batch, learning_rate=config.learning_rate,
                                       l2_couplings=config.l2, l2_fields=0.0, l2_network=config.l2,
                                       seed=config.seed, n_checkpoints=min(config.n_checkpoints, n_epochs))
    run_config = {"data": dict(spec.__dict__),
                  "hybrid": {"parts": parts, "nn_hidden": nn_hidden, "activation": activation,
                             "n_epochs": n_epochs, "steps_per_epoch": steps_per_epoch,
                             "requested_updates": config.n_updates, "cli_training": config.to_dict()}}

    def on_epoch(entry: dict[str, float]) -> None:
        if on_update is not None:
            on_update(min(config.n_updates, int(entry["epoch"]) * steps_per_epoch))

    labels = None if train.labels is None else train.labels[:DATA_SAMPLE_ROWS]
    sample = (np.asarray(train.samples[:DATA_SAMPLE_ROWS]).astype(np.uint8), labels, train.image_shape)
    fit_pseudo_likelihood(model, spins, pl_config, weights, out=out, run_config=run_config, on_epoch=on_epoch,
                          data_sample=sample)
    return model
