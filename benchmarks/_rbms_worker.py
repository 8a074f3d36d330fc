"""Train a Bernoulli RBM with the ``rbms`` package (DsysDML/rbms, PyPI 0.6.0); run by bench_rbms.py.

This script runs inside its own environment (``benchmarks/.envs/rbms``), never in boltzkit's:
it imports nothing from boltzkit. It reads the training set from an ``.npz`` file, trains with
``rbms.training.pcd.train`` -- rbms' own training loop, set up the way its command-line entry
point ``rbms.scripts.train_rbm`` sets it up -- and writes the final parameters and the time
stamp of every update to another ``.npz`` file.

What is timed: each update's time stamp is taken in the sampler's ``post_grad_update`` hook,
which rbms' loop calls once per update right after the optimizer step, so the stamps cover
the whole update (minibatch draw, sampling, gradient, optimizer step, rbms' bookkeeping and
its progress bar) and leave out the set-up before the loop and the HDF5 write after the last
update.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

# rbms 0.6.0 declares Python >= 3.12 because it imports ``typing.override`` (new in 3.12) at
# import time; on 3.11 the same decorator comes from typing_extensions. It only marks methods,
# so the shim changes no behaviour. It must run before the first ``import rbms``.
import typing

if not hasattr(typing, "override"):
    import typing_extensions

    typing.override = typing_extensions.override


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help=".npz with 'train' (n_samples, n_visible) in {0,1}")
    parser.add_argument("--out", required=True, help=".npz written with the parameters and timings")
    parser.add_argument("--n-hidden", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--n-chains", type=int, required=True)
    parser.add_argument("--gibbs-steps", type=int, required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--updates", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-center", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # rbms draws everything from torch's global generator
    np.random.seed(args.seed)

    from rbms.bernoulli_bernoulli.classes import BBRBM
    from rbms.dataset.dataset_class import RBMDataset
    from rbms.optim import setup_optim
    from rbms.pre_grad import build_pre_grad_update
    from rbms.sampler import PCD
    from rbms.training.pcd import train

    dtype, device = torch.float32, "cpu"
    train_x = np.load(args.data)["train"].astype(np.float32)
    n = len(train_x)
    dataset = RBMDataset(data=train_x, labels=np.zeros(n, dtype=np.int64),
                         weights=np.ones(n, dtype=np.float32), names=np.arange(n).astype(str),
                         dataset_name="bench", variable_type="bernoulli", device=device,
                         dtype=dtype)

    # The same steps as rbms.training.implement._init_training / _restore_training and
    # rbms.scripts.train_rbm.main, without the HDF5 round trip between them.
    params = BBRBM.init_parameters(num_hiddens=args.n_hidden, dataset=dataset, device=device,
                                   dtype=dtype)  # W ~ 1e-4 N(0,1), vbias = logit(freq), hbias 0
    chains = params.init_chains(num_samples=args.n_chains)
    chains = params.sample_state(chains=chains, n_steps=args.gibbs_steps)
    params.init_grad()
    optimizer = setup_optim("sgd", {"learning_rate": args.learning_rate,
                                    "max_lr": args.learning_rate, "scale_lr": False,
                                    "mult_optim": False, "optim": "sgd"}, params)
    pre_grad_update = build_pre_grad_update(optimizer=optimizer, lambda_l1=0.0, lambda_l2=0.0,
                                            normalize_grad=False, max_grad_norm=0.0)

    stamps: list[float] = []
    cpu: list[float] = []

    class TimedPCD(PCD):
        def post_grad_update(self, params):  # called once per update, after opt.step()
            super().post_grad_update(params)
            stamps.append(time.perf_counter())
            cpu.append(time.process_time())

    sampler = TimedPCD(params=params, chains=chains, num_steps=args.gibbs_steps, beta=1.0)

    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "rbms_run.h5")
        start = time.perf_counter()
        # Only the last update is a checkpoint: one HDF5 write, after the last stamp.
        train(train_dataset=dataset, test_dataset=dataset, params=params, sampler=sampler,
              optimizer=optimizer, batch_size=args.batch_size, centered=not args.no_center,
              curr_update=0, pre_grad_update=pre_grad_update, elapsed_time=0.0,
              checkpoints=np.array([args.updates]), num_updates=args.updates,
              filename=archive)
        total = time.perf_counter() - start

    from importlib.metadata import version

    info = {"rbms_version": version("rbms"), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "python": sys.version.split()[0]}
    # rbms' own free energies of a few samples: the caller checks its conversion against them.
    check = torch.from_numpy(np.load(args.data)["check"].astype(np.float32))
    check_free_energy = params.compute_energy_visibles(check).cpu().numpy()
    np.savez(args.out, check_free_energy=check_free_energy,
             weights=params.weight_matrix.detach().cpu().numpy(),
             visible_bias=params.vbias.detach().cpu().numpy(),
             hidden_bias=params.hbias.detach().cpu().numpy(),
             stamps=np.asarray(stamps), cpu=np.asarray(cpu), start=start, total=total, info=json.dumps(info))


if __name__ == "__main__":
    main()
