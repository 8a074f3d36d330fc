"""Learning-rate schedules of the Trainer: constant, geometric and cosine decay over a run.

The schedule is a :class:`torch.optim.lr_scheduler.LambdaLR` whose factor is a
:class:`LearningRateFactor`. The scheduler steps once after every optimizer step, so the
update number t + 1 (t = 0, 1, ..., T − 1 updates already done, T = ``n_updates``) uses

* constant:  η_t = η
* geometric: η_t = η (η_final / η)^(t / (T − 1))
* cosine:    η_t = η_final + (η − η_final) (1 + cos(π t / (T − 1))) / 2
  (cosine annealing without restarts; I. Loshchilov & F. Hutter, *SGDR: Stochastic gradient
  descent with warm restarts*, ICLR 2017, eq. 5 with T_max = T − 1)

with η = ``learning_rate`` (``--lr``) and η_final = ``lr_final`` (``--lr-final``): the first update
uses η, the last one η_final (docs/methods.md section 6.6). A run of
one update uses η. The factor is a callable object, so its settings (schedule, ratio, T) are
part of the scheduler's ``state_dict`` and of the run file's resume state.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from boltzkit.training.config import TrainingConfig

__all__ = ["LearningRateFactor", "make_scheduler", "learning_rates"]


class LearningRateFactor:
    """η_t / η after ``t`` updates, for a run of ``n_updates`` updates (see the module docstring).

    Parameters
    ----------
    schedule : "constant", "geometric" or "cosine"
    ratio : float
        η_final / η (ignored by "constant").
    n_updates : int
        T, the run's total number of updates.
    """

    def __init__(self, schedule: str, ratio: float, n_updates: int):
        self.schedule = schedule
        self.ratio = float(ratio)
        self.n_updates = int(n_updates)

    def __call__(self, t: int) -> float:
        if self.schedule == "constant" or self.n_updates <= 1:
            return 1.0
        fraction = min(t, self.n_updates - 1) / (self.n_updates - 1)
        if self.schedule == "geometric":
            return self.ratio ** fraction
        return self.ratio + (1.0 - self.ratio) * (1.0 + math.cos(math.pi * fraction)) / 2.0


def _factor(config: TrainingConfig) -> LearningRateFactor:
    ratio = 1.0 if config.lr_final is None else config.lr_final / config.learning_rate
    return LearningRateFactor(config.lr_schedule, ratio, config.n_updates)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig,
                   done: int = 0) -> LambdaLR:
    """The schedule of ``config`` on ``optimizer`` (whose learning rate is ``config.learning_rate``).

    ``done`` > 0 builds it at that update of a resumed run whose optimizer state is loaded (its
    param groups hold ``initial_lr``): the next update then uses η_done of the run's total
    ``config.n_updates``, which is how ``--resume --updates N`` recomputes a decaying schedule.
    """
    return LambdaLR(optimizer, _factor(config), last_epoch=done - 1)


def learning_rates(config: TrainingConfig) -> list[float]:
    """The learning rate of each of the ``n_updates`` updates, η_0 ... η_{T−1}, as the Trainer
    applies them (base learning rate times the factor, in float64)."""
    factor = _factor(config)
    return [config.learning_rate * factor(t) for t in range(config.n_updates)]
