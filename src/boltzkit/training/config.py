"""Training hyper-parameters, stored whole in the run file so a run is reproducible."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from boltzkit.checks import choice, integer, number
from boltzkit.errors import InvalidValue

METHODS = ("pcd", "cd", "rdm", "exact", "plm")
DTYPES = ("float32", "float64")
#: Each setting as the user types it: the CLI flag, then the Python name where it differs.
FLAGS = {"method": "--method", "n_updates": "--updates (n_updates)", "batch_size": "--batch-size",
         "n_chains": "--chains (n_chains)", "gibbs_steps": "--gibbs-steps",
         "learning_rate": "--lr (learning_rate)", "lr_schedule": "--lr-schedule",
         "lr_final": "--lr-final", "optimizer": "--optimizer", "l1": "--l1", "l2": "--l2",
         "n_checkpoints": "--checkpoints (n_checkpoints)", "spacing": "--spacing",
         "save_every": "--save-every", "seed": "--seed", "dtype": "--dtype",
         "sampler": "--sampler", "track_log_z": "--track-log-z", "pretrain": "--pretrain",
         "pretrain_dims": "--pretrain-dims"}
OPTIMIZERS = ("sgd", "adam")
#: Learning-rate schedules of the Trainer (:mod:`boltzkit.training.schedule`).
LR_SCHEDULES = ("constant", "geometric", "cosine")
SPACINGS = ("log", "linear")
#: The negative phase's chains: the model's own step, parallel tempering, trajectory tempering.
TRAINING_SAMPLERS = ("gibbs", "pt", "ptt")
#: Starting points fitted before training (docs/methods.md 6.5).
PRETRAININGS = ("none", "low-rank")


@dataclass
class TrainingConfig:
    """Maximum-likelihood training by stochastic gradient ascent with MCMC for the model term.

    method : "pcd" (persistent chains), "cd" (chains restarted at the minibatch), or "rdm" (chains
        restarted from uniform random configurations at every update); ``gibbs_steps`` steps each.
        "exact" computes the model term by enumerating the visible states (tiny models: a
        reference for the others). "plm" is pseudo-likelihood maximisation of pairwise models
        (run by :func:`boltzkit.training.plm.fit_plm`, not by the Trainer; ``n_updates`` is then
        the maximum number of solver iterations).
    learning_rate, lr_schedule, lr_final : the step size η of the first update and its schedule over
        the ``n_updates`` updates: "constant" (η throughout), "geometric" or "cosine" (from η at
        the first update to ``lr_final`` at the last; docs/methods.md section 6.6, and
        :mod:`boltzkit.training.schedule`). ``lr_final`` is required by a decaying schedule and
        refused without one. Methods trained by the Trainer only (not "plm").
    centered : use the centered gradient (docs/methods.md section 6.1).
    l1, l2 : penalties on the weights (added to the loss as l1 |W| + l2/2 W^2); on the parameters
        a model lists in ``penalized_parameters`` (pairwise models: the couplings).
    n_checkpoints, spacing : models saved along training, log- or linearly spaced in updates.
    save_every : also save the resume state every this many updates (0: only at checkpoints).
    sampler : the negative phase's chains (docs/methods.md 6.4): "gibbs" (the model's own step),
        "pt" (parallel tempering on the annealing path from the data's independent-site model,
        the ladder grown where exchanges fall below 0.3) or "ptt" (trajectory tempering over
        models frozen along the run), for method pcd; any other name is a step variant
        the family declares (e.g. the Gaussian RBM's "gibbs-langevin"), run as the model's step.
    track_log_z : follow log Z along training by trajectory AIS (docs/methods.md 6.3) with this
        many chains (0: off); its value is stored at every checkpoint.
    pretrain, pretrain_dims : "low-rank" fits the restricted Coulomb machine on the data's first
        ``pretrain_dims`` principal directions (1 to 4) and starts training from the RBM it
        converts to (docs/methods.md 6.5); "none" starts from the family's usual start.
    """

    method: str = "pcd"
    n_updates: int = 10000
    batch_size: int = 500
    n_chains: int = 500
    gibbs_steps: int = 10
    learning_rate: float = 0.01
    lr_schedule: str = "constant"
    lr_final: float | None = None
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
    sampler: str = "gibbs"
    track_log_z: int = 0
    pretrain: str = "none"
    pretrain_dims: int | None = None  # 2 with --pretrain low-rank when not given

    def __post_init__(self) -> None:
        """Every setting checked at the door, the message naming its CLI flag (:data:`FLAGS`)."""
        name = FLAGS.get
        self.method = choice(self.method, name("method"), METHODS)
        self.optimizer = choice(self.optimizer, name("optimizer"), OPTIMIZERS)
        self.spacing = choice(self.spacing, name("spacing"), SPACINGS)
        self.dtype = choice(self.dtype, name("dtype"), DTYPES)
        for field_name in ("n_updates", "batch_size", "n_chains", "n_checkpoints"):
            setattr(self, field_name, integer(getattr(self, field_name), name(field_name), 1))
        # MCMC steps: at least one, except where the chains are not run (exact, plm)
        steps_minimum = 0 if self.method in ("exact", "plm") else 1
        self.gibbs_steps = integer(self.gibbs_steps, name("gibbs_steps"), steps_minimum)
        self.save_every = integer(self.save_every, name("save_every"), 0)
        self.seed = integer(self.seed, name("seed"), 0)
        self.learning_rate = number(self.learning_rate, name("learning_rate"), 0.0, low_open=True)
        self.lr_schedule = choice(self.lr_schedule, name("lr_schedule"), LR_SCHEDULES)
        if self.lr_final is not None:
            self.lr_final = number(self.lr_final, name("lr_final"), 0.0, low_open=True)
        if self.lr_schedule == "constant" and self.lr_final is not None:
            raise InvalidValue(f"{name('lr_final')} is where a decaying schedule ends: give it with "
                               "--lr-schedule geometric or cosine (the default is constant)")
        if self.lr_schedule != "constant" and self.lr_final is None:
            raise InvalidValue(f"{name('lr_schedule')} {self.lr_schedule} needs --lr-final, the "
                               "learning rate of the last update")
        self.l1 = number(self.l1, name("l1"), 0.0)
        self.l2 = number(self.l2, name("l2"), 0.0)
        self._check_chains()

    def _check_chains(self) -> None:
        """The sampler, log Z tracking and pre-training settings, and the methods they fit."""
        name = FLAGS.get
        if not isinstance(self.sampler, str) or not self.sampler:
            raise InvalidValue(f"{name('sampler')} must name a sampler ({' | '.join(TRAINING_SAMPLERS)} "
                               "or a step variant of the family)")
        # another name is a step variant of the family's (checked when the model is built)
        if self.sampler in TRAINING_SAMPLERS[1:] and self.method != "pcd":
            raise InvalidValue(f"{name('sampler')} {self.sampler}: persistent tempering chains of "
                               "the negative phase of --method pcd, not of " + self.method)
        self.track_log_z = integer(self.track_log_z, name("track_log_z"), 0)
        if self.track_log_z == 1:
            raise InvalidValue(f"{name('track_log_z')} is a number of chains: 0 (off) or at least 2")
        if self.track_log_z and self.method in ("exact", "plm"):
            raise InvalidValue(f"{name('track_log_z')}: follows log Z along the updates of --method "
                               f"pcd | cd | rdm, not of {self.method}")
        self.pretrain = choice(self.pretrain, name("pretrain"), PRETRAININGS)
        if self.pretrain == "none" and self.pretrain_dims is not None:
            raise InvalidValue(f"{name('pretrain_dims')}: the directions of --pretrain low-rank "
                               "(without it there is no pre-training)")
        if self.pretrain != "none":
            self.pretrain_dims = integer(2 if self.pretrain_dims is None else self.pretrain_dims,
                                         name("pretrain_dims"), 1, 4)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainingConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def checkpoint_schedule(n_updates: int, n_checkpoints: int, spacing: str = "log") -> list[int]:
    """Update numbers at which models are saved: ``n_checkpoints`` distinct updates in increasing
    order, the last one ``n_updates``.

    "log": the updates nearest to ``n_checkpoints`` log-spaced points from 1 to ``n_updates``;
    where rounding makes two points collide (the early ones, when ``n_checkpoints`` is large next
    to the decades spanned) the later one moves to the next free update, so that the first
    checkpoints become consecutive updates 1, 2, 3, ... and exactly ``n_checkpoints`` are saved.
    "linear": every ``n_updates / n_checkpoints`` updates, rounded.
    When ``n_checkpoints > n_updates`` every update is saved (``n_updates`` checkpoints), with a
    one-line warning naming both flags.
    """
    if n_checkpoints > n_updates:
        warnings.warn(f"{FLAGS['n_checkpoints']} {n_checkpoints} > {FLAGS['n_updates']} {n_updates}: "
                      f"saving {n_updates} checkpoints, one at every update", UserWarning, stacklevel=2)
        return list(range(1, n_updates + 1))
    if spacing == "log":
        grid = np.logspace(0, np.log10(n_updates), n_checkpoints)
    else:
        grid = np.linspace(n_updates / n_checkpoints, n_updates, n_checkpoints)
    points: list[int] = []
    for i, p in enumerate(np.round(grid).astype(int).tolist()):
        # after a collision, the next free update; never so late that the rest cannot fit (the
        # bound is not reached for log or linear grids, whose points lie below the straight line
        # from 1 to n_updates: kept as a guarantee)
        p = max(p, points[-1] + 1 if points else 1)
        points.append(min(p, n_updates - (n_checkpoints - 1 - i)))
    points[-1] = n_updates
    return points
