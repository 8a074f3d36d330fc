"""Regenerate the rbms archives of tests/data/rbms/ with the real ``rbms`` package (PyPI 0.6.0).

Run inside rbms' own environment (never boltzkit's)::

    OMP_NUM_THREADS=1 benchmarks/.envs/rbms/bin/python tests/data/make_rbms_fixtures.py

For each model type (BBRBM: Bernoulli-Bernoulli, PBRBM: Potts-Bernoulli) it trains a tiny RBM for
a few PCD updates (archive checkpoints: update 1 and the last) on a small random data set with rbms' own loop, set up as
``rbms.scripts.train_rbm`` sets it up (``_init_training`` writes the archive and update 1,
``_restore_training`` reloads it, ``rbms.training.pcd.train`` runs and saves the checkpoints), so
the archives are exactly what a user of rbms gets. Next to each archive, ``*_check.npz`` holds
random visible configurations and rbms' own marginal energies of them
(``compute_energy_visibles``) at the last update: the tests check that boltzkit's imported model
gives the same free energies.
"""

from __future__ import annotations

import os
import sys
import typing
from pathlib import Path

# rbms 0.6.0 imports typing.override (Python >= 3.12); on 3.11 it comes from typing_extensions
# (see benchmarks/_rbms_worker.py). It only marks methods.
if not hasattr(typing, "override"):
    import typing_extensions

    typing.override = typing_extensions.override

HERE = Path(__file__).resolve().parent / "rbms"


def _train(kind: str, data, variable_type: str, n_hidden: int, filename: Path, n_updates: int,
           learning_rate: float) -> None:
    import numpy as np
    import torch
    from rbms.dataset.dataset_class import RBMDataset
    from rbms.optim import setup_optim
    from rbms.pre_grad import build_pre_grad_update
    from rbms.sampler import PCD
    from rbms.training.implement import _init_training, _restore_training
    from rbms.training.pcd import train

    n = len(data)
    dataset = RBMDataset(data=data, labels=np.zeros(n, dtype=np.int64), weights=np.ones(n, dtype=np.float32),
                         names=np.arange(n).astype(str), dataset_name="fixture", variable_type=variable_type,
                         device="cpu", dtype=torch.float32)
    if filename.exists():
        filename.unlink()
    _init_training(train_dataset=dataset, seed=0, train_size=1.0, test_size=0.0, num_hiddens=n_hidden,
                   num_chains=50, model_type=kind, filename=str(filename), n_save=2, spacing="linear",
                   batch_size=50, optim="sgd", mult_optim=False, training_type="pcd",
                   learning_rate=learning_rate, max_lr=learning_rate, gibbs_steps=5, beta=1.0, centered=True,
                   L1=0.0, L2=0.0, normalize_grad=False, max_norm_grad=0.0, subset_labels=None,
                   use_weights=False, alphabet="protein", remove_duplicates=False, dtype=torch.float32,
                   device="cpu", flags=[])
    params, chains, start, elapsed, train_set, test_set = _restore_training(
        filename=str(filename), train_dataset=dataset, test_dataset=dataset, num_updates=n_updates,
        target_update=1, seed=0, train_size=1.0, test_size=0.0, device="cpu", dtype=torch.float32)
    optimizer = setup_optim("sgd", {"learning_rate": learning_rate, "max_lr": learning_rate, "scale_lr": False,
                                    "mult_optim": False, "optim": "sgd"}, params)
    pre_grad = build_pre_grad_update(optimizer=optimizer, lambda_l1=0.0, lambda_l2=0.0, normalize_grad=False,
                                     max_grad_norm=0.0)
    sampler = PCD(params=params, chains=chains, num_steps=5, beta=1.0)
    train(train_dataset=train_set, test_dataset=test_set, params=params, sampler=sampler, optimizer=optimizer,
          batch_size=50, centered=True, curr_update=start, pre_grad_update=pre_grad, elapsed_time=elapsed,
          checkpoints=np.array([n_updates]), num_updates=n_updates, filename=str(filename))
    # rbms' own marginal energies of random configurations, at the last update
    rng = np.random.default_rng(1)
    if variable_type == "categorical":
        q = params.num_states
        check = rng.integers(0, q, size=(32, params.num_visibles)).astype(np.float32)
    else:
        check = rng.integers(0, 2, size=(32, params.num_visibles)).astype(np.float32)
    with torch.no_grad():
        energy = params.compute_energy_visibles(torch.from_numpy(check)).double().numpy()
    np.savez(filename.with_name(filename.stem + "_check.npz"), visible=check, free_energy=energy,
             update=n_updates)


def main() -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)  # rbms draws from torch's global generator
    np.random.seed(0)
    HERE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    # correlated binary data: two noisy copies of a random pattern
    pattern = rng.integers(0, 2, size=(2, 8))
    rows = pattern[rng.integers(0, 2, size=300)]
    binary = np.where(rng.random(rows.shape) < 0.15, 1 - rows, rows).astype(np.float32)
    _train("BBRBM", binary, "bernoulli", 4, HERE / "bbrbm.h5", 300, 0.2)
    # Potts data, q = 3: sites 0-2 copy one state, the others are noisy
    base = rng.integers(0, 3, size=(300, 1))
    codes = np.concatenate([np.repeat(base, 3, axis=1), rng.integers(0, 3, size=(300, 3))], axis=1)
    codes = np.where(rng.random(codes.shape) < 0.2, rng.integers(0, 3, size=codes.shape), codes)
    _train("PBRBM", codes.astype(np.float32), "categorical", 3, HERE / "pbrbm.h5", 600, 0.5)
    for path in sorted(HERE.iterdir()):
        print(path.name, os.path.getsize(path), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
