"""Controlled inverse experiments: known Hamiltonian -> samples -> RBM -> effective couplings.

The pipeline of Decelle, Furtlehner, Navas Gómez & Seoane (SciPost Phys. 16, 095, 2024; docs/methods.md
sections 1 and 2): equilibrium samples of a known model from :mod:`boltzkit.synthetic.generators`, a
Bernoulli RBM trained by PCD on them, and the generalized Ising model of the trained RBM
(:func:`boltzkit.interpret.rbm_couplings.rbm_couplings`), compared with the beta-scaled truth per order
(:func:`boltzkit.interpret.couplings_file.compare_with_truth`, epsilon = ||J_hat - J|| / ||J|| over all
sets of the order, spurious couplings on non-edges included).

Experiments:

* ``ising1d-3body``: periodic chain, N = 16, E = -J sum s_i s_{i+1} - J3 sum s_i s_{i+1} s_{i+2}, J = J3 = 1,
  beta = 0.2 — fields, pairs and triplets, couplings by exact enumeration (and the CLT for comparison).
* ``ea2d``: 2D Edwards-Anderson ±J, L = 7 periodic (N = 49), p = 0.5, beta = 0.2 (the SciPost reference
  model) — fields and pairs by the central-limit method (N too large to enumerate). Also reports the
  notebook's Delta (denominator: unscaled ±1 couplings, docs/methods.md section 1.6: Delta 0.02 there).

Training: PCD-10, 1000 chains, minibatches of 1000, Adam with the step size decaying geometrically
from 0.01 to 0.0005 (``lr_schedule="geometric"``, docs/methods.md section 6.6), W ~ 1e-4 N(0, 1)
initially, visible bias from the data frequencies.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/couplings_controlled.py [--quick] [--threads 2]

``--quick`` divides samples and updates by 5 (a smoke run). Prints one table; ``--json FILE`` also
writes the numbers. ``--out DIR`` keeps the generated data (``DIR/<experiment>_data.h5``, with its
ground truth) and the trained RBM as a run file (``DIR/<experiment>_run.h5``, its config naming the
data file), so that ``boltzkit couplings DIR/ea2d_run.h5 --method gaussian --truth DIR/ea2d_data.h5``
and ``boltzkit report DIR/ea2d_run.h5`` (couplings section: scatter vs truth, epsilon per order)
can be run on them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch

from boltzkit.interpret.couplings_file import compare_with_truth
from boltzkit.interpret.rbm_couplings import rbm_couplings
from boltzkit.models.rbm import RBM
from boltzkit.synthetic.generators import edwards_anderson2d, ising_kbody
from boltzkit.training.config import TrainingConfig
from boltzkit.data.specs import DataSpec
from boltzkit.training.trainer import Trainer

LR_START, LR_END = 0.01, 0.0005

EXPERIMENTS = {
    "ising1d-3body": dict(make=lambda m, seed: ising_kbody(16, 0.2, m, order=3, coupling=1.0, kbody_coupling=1.0,
                                                           chains=100, sweeps_thermalize=500, sweeps_between=10,
                                                           seed=seed),
                          samples=50_000, hidden=64, updates=10_000, order=3, methods=("exact", "gaussian", "cossu")),
    "ea2d": dict(make=lambda m, seed: edwards_anderson2d(7, 0.2, m, chains=100, sweeps_thermalize=1000,
                                                          sweeps_between=10, seed=seed),
                 samples=100_000, hidden=100, updates=10_000, order=2, methods=("gaussian", "cossu")),
}


def run(name: str, spec: dict, scale: float, seed: int, out_dir: str | None = None) -> dict:
    m = int(spec["samples"] * scale)
    t0 = time.perf_counter()
    data = spec["make"](m, seed)
    t_generate = time.perf_counter() - t0
    run_path = run_config = None
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        data_path = data.save(os.path.join(out_dir, f"{name}_data.h5"))
        run_path = os.path.join(out_dir, f"{name}_run.h5")
        run_config = {"data": DataSpec(str(os.path.abspath(data_path))).__dict__}
    v = ((data.samples.double() + 1) / 2).float()          # ±1 spins -> {0,1} visible units
    # Adam: plain SGD barely leaves the W ~ 1e-4 start at beta = 0.2 (weak correlations, tiny
    # gradients); the step size decays geometrically (the trainer's geometric schedule,
    # docs/methods.md section 6.6) so that the final model is not dominated by the optimizer's noise.
    n_updates = int(spec["updates"] * scale)
    config = TrainingConfig(method="pcd", n_updates=n_updates, batch_size=1000, n_chains=1000, gibbs_steps=10,
                            learning_rate=LR_START, lr_schedule="geometric", lr_final=LR_END,
                            optimizer="adam", n_checkpoints=1, seed=seed)
    rbm = RBM.init_from_data(v, spec["hidden"], generator=torch.Generator().manual_seed(seed))
    trainer = Trainer(rbm, v, config, out=run_path, run_config=run_config)
    if run_path is not None:
        trainer.start(v[:2000].numpy().astype("uint8"))
    truth = data.ground_truth()                              # beta-scaled
    unscaled = data.ground_truth(scaled=False)
    curve = []
    t0 = time.perf_counter()
    for update in range(1, n_updates + 1):
        trainer.step()
        if update % max(1, n_updates // 5) == 0:
            errors = compare_with_truth(rbm_couplings(rbm, 2, "gaussian"), truth)
            curve.append((update, round(errors[2].epsilon, 4)))
            print(f"  {name} update {update}: eps pairs (gaussian) {errors[2].epsilon:.4f} "
                  f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    t_train = time.perf_counter() - t0
    if run_path is not None:
        trainer.save(checkpoint=True)
    row = {"experiment": name, "N": data.hamiltonian.n_sites, "M": m, "Nh": spec["hidden"],
           "updates": config.n_updates, "tau_energy": data.run.tau_energy if data.run else None,
           "generate_s": round(t_generate, 1), "train_s": round(t_train, 1), "curve": curve}
    for method in spec["methods"]:
        t0 = time.perf_counter()
        found = rbm_couplings(rbm, spec["order"], method)
        elapsed = time.perf_counter() - t0
        errors = compare_with_truth(found, truth)
        row[method] = {"time_s": round(elapsed, 2),
                       "epsilon": {k: e.epsilon for k, e in errors.items()},
                       "rmse": {k: e.rmse for k, e in errors.items()}}
        if name == "ea2d":
            ref = compare_with_truth(found, truth, "reference", unscaled)
            row[method]["delta_notebook"] = ref[2].epsilon
        # mean inferred coupling on true edges (vs beta J) and spread on non-edges
        J = found.pair_matrix()
        T = truth.hamiltonian().pair_matrix()
        iu = torch.triu_indices(len(J), len(J), 1)
        j, t = J[iu[0], iu[1]], T[iu[0], iu[1]]
        row[method]["edges_mean_abs"] = float(j[t != 0].abs().mean())
        row[method]["nonedges_std"] = float(j[t == 0].std())
    return row


def fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(EXPERIMENTS), default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--out", default=None, help="folder for the data and run files")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scale = 0.2 if args.quick else 1.0
    rows = []
    for name, spec in EXPERIMENTS.items():
        if args.only and name != args.only:
            continue
        row = run(name, spec, scale, args.seed, args.out)
        rows.append(row)
        print(f"\n{name}: N={row['N']} M={row['M']} Nh={row['Nh']} PCD-10 (Adam {LR_START}->{LR_END}) "
              f"updates={row['updates']} "
              f"(generate {row['generate_s']} s, tau_E {fmt(row['tau_energy'])}; train {row['train_s']} s)")
        print(f"  {'method':9s} {'eps fields':>10s} {'eps pairs':>10s} {'eps trip':>10s} {'rmse fields':>11s} "
              f"{'rmse pairs':>10s} {'|J| edges':>10s} {'sd nonedge':>10s} {'time s':>7s}")
        for method in EXPERIMENTS[name]["methods"]:
            r = row[method]
            eps, rm = r["epsilon"], r["rmse"]
            print(f"  {method:9s} {fmt(eps.get(1)):>10s} {fmt(eps.get(2)):>10s} {fmt(eps.get(3)):>10s} "
                  f"{fmt(rm.get(1)):>11s} {fmt(rm.get(2)):>10s} {fmt(r['edges_mean_abs']):>10s} "
                  f"{fmt(r['nonedges_std']):>10s} {r['time_s']:>7.2f}")
            if "delta_notebook" in r:
                print(f"  {'':9s} notebook Delta (unscaled denominator): {r['delta_notebook']:.4f}")
    print("\nepsilon: relative to the beta-scaled truth over all sets of the order (fields: truth 0 -> n/a)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2, default=float)


if __name__ == "__main__":
    main()
