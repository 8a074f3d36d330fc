"""Trajectory AIS against temperature AIS at equal numbers of Gibbs steps (docs/methods.md 6.3).

An RBM with ``--hidden`` (<= 20) hidden units is trained by PCD (the negative phase's chains run by
``--sampler`` gibbs, pt or ptt) on the bundled MNIST digits (or the
{0,1} rows of ``--data``); the
model after every update is kept. For each ladder size K of ``--ladders`` and each of ``--seeds``
seeds, with ``--chains`` chains:

- trajectory AIS: temperature AIS from the data's independent-site model to the starting model
  (``--start-steps`` temperatures), then one Gibbs step per model along K models of the training
  trajectory (``--spacing log``: the updates of a log-spaced checkpoint schedule of K, as ``train
  --checkpoints K`` saves; ``linear``: evenly spaced), the last one the final model;
- temperature AIS on the final model with as many temperatures as trajectory AIS took Gibbs steps
  in all (start steps + K), from the same independent-site model, and from the model's own visible
  fields (b, 0, 0) as the reference code starts it;

and both are compared with the exact log Z (2^hidden hidden states). Prints, per ladder size, the
mean absolute error and the root mean square error of each over the seeds, and their ratio. The
claim checked (Béreux et al., ICLR 2025): trajectory AIS's error is at most temperature AIS's, for
every ladder size.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/trajectory_ais.py --threads 1
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from boltzkit.data import load_mnist
from boltzkit.models.baseline import independent_site_model
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI
from boltzkit.sampling.ais import ais_log_partition
from boltzkit.sampling.trajectory_ais import TrajectoryAIS
from boltzkit.training.config import TrainingConfig, checkpoint_schedule
from boltzkit.training.trainer import Trainer


def trained_path(x: torch.Tensor, hidden: int, args) -> list[RBM]:
    """The model before training and after each of ``args.updates`` PCD updates."""
    p = x.double().mean(0).clamp(1e-3, 1 - 1e-3)
    g = torch.Generator().manual_seed(0)
    model = RBM(0.01 * torch.randn(x.shape[1], hidden, generator=g), torch.log(p / (1 - p)).float(),
                torch.zeros(hidden), BERNOULLI, BERNOULLI)
    cfg = TrainingConfig(method="pcd", n_updates=args.updates, batch_size=args.batch, n_chains=args.train_chains,
                         gibbs_steps=args.gibbs_steps, learning_rate=args.lr, n_checkpoints=1,
                         sampler=args.sampler)
    trainer = Trainer(model, x, cfg)
    path = [model.clone()]
    trainer.run(lambda update: path.append(trainer.model.clone()))
    return path


def trajectory_estimate(path, chains: int, seed: int, base, start_steps: int) -> float:
    tracker = TrajectoryAIS.start(path[0], chains, torch.Generator().manual_seed(seed), base, start_steps)
    for old, new in zip(path, path[1:]):
        tracker.before(old)
        tracker.after(new)
    return tracker.estimate().log_z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--sampler", default="gibbs", help="the training's negative phase: gibbs | pt | ptt")
    parser.add_argument("--train-chains", type=int, default=500, help="persistent chains of the training")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--gibbs-steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--data", default=None, help="a .npy of {0,1} rows (default: the bundled MNIST digits)")
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--ladders", default="10,30,100,300,1000,2000")
    parser.add_argument("--start-steps", type=int, default=10)
    parser.add_argument("--spacing", default="log", help="log | linear: the K models along the updates")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = load_mnist(n=args.rows).samples if args.data is None else np.load(args.data)[:args.rows]
    x = torch.as_tensor(rows, dtype=torch.float32)
    t0 = time.perf_counter()
    path = trained_path(x, args.hidden, args)
    exact = path[-1].to(dtype=torch.float64).log_partition_exact()
    base = independent_site_model(path[-1].visible, x)
    print(f"RBM {x.shape[1]} x {args.hidden}, {args.updates} PCD-{args.gibbs_steps} updates ({args.sampler} "
          f"negative phase, {args.train_chains} chains, lr {args.lr}) on {len(x)} rows of "
          f"{args.data or 'MNIST'} "
          f"in {time.perf_counter() - t0:.0f} s; exact log Z {exact:.4f}; {args.chains} chains, "
          f"{args.seeds} seeds, {args.start_steps} start temperatures, {args.spacing} spacing; "
          f"{args.threads} thread(s)")
    print("rms error of log Z over the seeds (mean |error| in brackets); temperature AIS from the data's "
          "independent-site model (ours) and from the model's own visible fields (the reference's start)")
    print(f"{'K':>5} {'steps':>6} | {'trajectory':>17} | {'temperature, data':>17} | "
          f"{'temperature, own':>17} | {'tr / data':>9} {'tr / own':>9}")
    for k in [int(v) for v in args.ladders.split(",")]:
        k = min(k, args.updates)
        chosen = [path[0]] + [path[u] for u in checkpoint_schedule(args.updates, k, args.spacing)]
        steps = args.start_steps + k
        errors: dict[str, list[float]] = {"trajectory": [], "data": [], "own": []}
        for seed in range(args.seeds):
            errors["trajectory"].append(trajectory_estimate(chosen, args.chains, seed, base, args.start_steps) - exact)
            for name, start in [("data", base), ("own", None)]:
                errors[name].append(ais_log_partition(path[-1], args.chains, steps, 10,
                                                      torch.Generator().manual_seed(seed), base=start).log_z - exact)
        rms = {name: math.sqrt(sum(v * v for v in values) / len(values)) for name, values in errors.items()}
        mean = {name: sum(abs(v) for v in values) / len(values) for name, values in errors.items()}
        cells = " | ".join(f"{rms[n]:>8.4f} ({mean[n]:.4f})" for n in errors)
        print(f"{k:>5} {steps:>6} | {cells} | {rms['trajectory'] / rms['data']:>9.2f} "
              f"{rms['trajectory'] / rms['own']:>9.2f}", flush=True)

if __name__ == "__main__":
    main()
