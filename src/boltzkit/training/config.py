"""Training hyper-parameters, stored whole in the run file so a run is reproducible."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from boltzkit.errors import BoltzkitError

METHODS = ("pcd", "cd", "rdm", "exact", "plm")
OPTIMIZERS = ("sgd", "adam")
SPACINGS = ("log", "linear")


@dataclass
class TrainingConfig:
    """Maximum-likelihood training by stochastic gradient ascent with MCMC for the model term.

    method : "pcd" (persistent chains), "cd" (chains restarted at the minibatch), or "rdm" (chains
        restarted from uniform random configurations at every update); ``gibbs_steps`` steps each.
        "exact" computes the model term by enumerating the visible states (tiny models: a
        reference for the others). "plm" is pseudo-likelihood maximisation of pairwise models
        (run by :func:`boltzkit.training.plm.fit_plm`, not by the Trainer; ``n_updates`` is then
        the maximum number of solver iterations).
    centered : use the centered gradient (docs/methods.md section 6.1).
    l1, l2 : penalties on the weights (added to the loss as l1 |W| + l2/2 W^2); on the parameters
        a model lists in ``penalized_parameters`` (pairwise models: the couplings).
    n_checkpoints, spacing : models saved along training, log- or linearly spaced in updates.
    save_every : also save the resume state every this many updates (0: only at checkpoints).
    """

    method: str = "pcd"
    n_updates: int = 10000
    batch_size: int = 500
    n_chains: int = 500
    gibbs_steps: int = 10
    learning_rate: float = 0.01
    optimizer: str = "sgd"
    centered: bool = True
    l1: float = 0.0
    l2: float = 0.0
    n_checkpoints: int = 20
    spacing: str = "log"
    save_every: int = 0
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise BoltzkitError(f"unknown training method {self.method!r} (choose {', '.join(METHODS)})")
        if self.optimizer not in OPTIMIZERS:
            raise BoltzkitError(f"unknown optimizer {self.optimizer!r} (choose {', '.join(OPTIMIZERS)})")
        if self.spacing not in SPACINGS:
            raise BoltzkitError(f"unknown checkpoint spacing {self.spacing!r} (choose log, linear)")
        for name in ("n_updates", "batch_size", "n_chains", "n_checkpoints"):
            if getattr(self, name) < 1:
                raise BoltzkitError(f"{name} must be at least 1")
        if self.gibbs_steps < 0 or self.learning_rate <= 0 or self.l1 < 0 or self.l2 < 0:
            raise BoltzkitError("gibbs_steps, l1, l2 must be >= 0 and learning_rate > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainingConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def checkpoint_schedule(n_updates: int, n_checkpoints: int, spacing: str = "log") -> list[int]:
    """Update numbers at which models are saved: distinct, increasing, ending at ``n_updates``."""
    if spacing == "log":
        points = np.unique(np.round(np.logspace(0, np.log10(n_updates), n_checkpoints)).astype(int))
    else:
        points = np.unique(np.round(np.linspace(n_updates / n_checkpoints, n_updates,
                                                n_checkpoints)).astype(int))
    points = points[(points >= 1) & (points <= n_updates)]
    return sorted(set(points.tolist()) | {n_updates})
