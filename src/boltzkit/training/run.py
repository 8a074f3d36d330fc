"""Train a model from a data file into a run file (what ``boltzkit train`` calls).

The run file records where the data came from and how it was split, so that ``evaluate`` and
``report`` can rebuild the same train/test sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.training.config import TrainingConfig

RBM_KINDS = ("bernoulli-rbm", "ising-rbm")
DATA_SAMPLE_ROWS = 2000


@dataclass
class DataSpec:
    """How the training data were read and split (stored in the run file's config)."""

    path: str
    dataset: str = "samples"
    binarize: str = "threshold"
    threshold: float = 0.5
    test_fraction: float = 0.0
    split_seed: int = 0
    labels_path: str | None = None

    def load(self):
        """(train, test) Datasets (test is None without a split)."""
        from boltzkit.data.binary import load_binary
        from boltzkit.data.split import train_test_split

        data = load_binary(self.path, dataset=self.dataset, binarize=self.binarize,
                           threshold=self.threshold, seed=self.split_seed,
                           labels_path=self.labels_path)
        if self.test_fraction > 0:
            return train_test_split(data, self.test_fraction, self.split_seed)
        return data, None


def units_values(samples: np.ndarray, kind: str) -> np.ndarray:
    """{0,1} samples in the values of the model's units."""
    return 2.0 * samples - 1.0 if kind == "ising-rbm" else samples


def estimator_for(kind: str, n_hidden: int, config: TrainingConfig, out: str | os.PathLike):
    from boltzkit.estimator import BernoulliRBM, IsingRBM

    if kind not in RBM_KINDS:
        raise BoltzkitError(f"unknown model {kind!r} for binary data (choose {', '.join(RBM_KINDS)})")
    cls = BernoulliRBM if kind == "bernoulli-rbm" else IsingRBM
    return cls(n_hidden=n_hidden, method=config.method, n_updates=config.n_updates,
               batch_size=config.batch_size, n_chains=config.n_chains,
               gibbs_steps=config.gibbs_steps, learning_rate=config.learning_rate,
               optimizer=config.optimizer, centered=config.centered, l1=config.l1, l2=config.l2,
               n_checkpoints=config.n_checkpoints, spacing=config.spacing,
               random_state=config.seed, device=config.device, dtype=config.dtype, out=out)


def train_run(spec: DataSpec, out: str | os.PathLike, kind: str, n_hidden: int,
              config: TrainingConfig, resume: bool = False,
              on_update: Callable[[int], None] | None = None, **options):
    """Train (or resume) a run; returns the fitted estimator.

    ``hybrid`` (``options``: ``nn_hidden``, ``hybrid_parts``) is trained by pseudo-likelihood in
    :func:`boltzkit.training.run_hybrid.train_hybrid_run` and returns the model.
    The kinds ``potts-rbm``, ``potts-bm`` (``spec`` an :class:`~boltzkit.training.run_models.MSASpec`)
    and ``ising-bm`` are trained by :func:`boltzkit.training.run_models.train_model_run` (which
    takes ``options``: ``lambda_h``, ``lambda_J`` for ``method="plm"``) and return the model.
    """
    from boltzkit.training.run_hybrid import HYBRID_KINDS, train_hybrid_run
    from boltzkit.training.run_models import MODEL_KINDS, stored_kind, train_model_run

    nn_hidden, parts = options.pop("nn_hidden", 128), options.pop("hybrid_parts", "both")
    if (stored_kind(out) if resume else kind) in HYBRID_KINDS:  # pseudo-likelihood: training/run_hybrid.py
        if resume:
            raise BoltzkitError(f"{out}: a pseudo-likelihood (hybrid) run cannot be resumed (run it again)")
        return train_hybrid_run(spec, out, config, nn_hidden, parts, on_update=on_update)
    if (stored_kind(out) if resume else kind) in MODEL_KINDS:
        return train_model_run(spec, out, kind, n_hidden, config, resume, on_update, **options)
    if resume:
        if not Path(out).exists():
            raise BoltzkitError(f"{out}: cannot resume, no such run file")
        stored = trajectory.read_config(out)
        spec = DataSpec(**stored["data"])
        kind = stored["model"]["kind"]
        n_hidden = stored["model"]["n_hidden"]
        config = TrainingConfig.from_dict(stored["training"])
    train, _ = spec.load()
    est = estimator_for(kind, n_hidden, config, out)
    est.run_info_ = {"data": spec.__dict__}
    rows = train.samples[:DATA_SAMPLE_ROWS].astype(np.uint8)
    labels = None if train.labels is None else train.labels[:DATA_SAMPLE_ROWS]
    est._data_sample = (rows, labels, train.image_shape)
    est.fit(units_values(train.samples, kind), sample_weight=train.weights, resume=resume,
            on_update=on_update)
    return est


def run_datasets(run_path: str | os.PathLike):
    """The (train, test) Datasets a run was trained on, rebuilt from its config."""
    stored = trajectory.read_config(run_path)
    if "data" not in stored:
        raise BoltzkitError(f"{run_path}: the run file does not say which data it was trained on")
    if stored["data"].get("format") == "msa":
        from boltzkit.training.run_models import MSASpec

        return MSASpec(**stored["data"]).load()
    return DataSpec(**stored["data"]).load()


__all__ = ["DataSpec", "train_run", "run_datasets", "units_values", "RBM_KINDS"]

