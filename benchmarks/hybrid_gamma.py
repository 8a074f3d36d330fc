"""Pairwise couplings reconstructed by pairwise-only, NN-only and hybrid EBMs vs the strength of
higher-order interactions (the 004 seed: Feinauer & Lucibello, arXiv:2012.06625; docs/methods.md section 5).

Data: :func:`boltzkit.synthetic.generators.higher_order` — a pairwise model on a random graph
(mean degree 3, J_ij = coupling * N(0, 1)) plus N random 3-body terms sqrt(gamma) xi_I s_I, sampled by
Monte Carlo at beta = 1. Since the monomials are orthogonal, the Walsh pair coefficients of the true
energy are exactly J: the 3-body terms add no pairwise truth.

Models (:class:`boltzkit.models.hybrid.HybridEBM`), all trained by pseudo-likelihood with Adam
(:func:`boltzkit.training.pseudo_likelihood.fit_pseudo_likelihood`):

* ``pairwise``: E = -h.s - sum J s s (the plmDCA-like baseline);
* ``nn``: E = E_NN(s), an MLP with one hidden layer of 128 SiLU units;
* ``hybrid``: both.

Couplings: J_eff_ij = -<E(s) s_i s_j>_uniform by exact enumeration (N = 20)
(:func:`boltzkit.interpret.energy_couplings.model_couplings`). Error: epsilon = ||J_eff - J|| / ||J|| over
the i<j pairs (the seed's definition).

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/hybrid_gamma.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from boltzkit.evaluation.reconstruction import reconstruction_error
from boltzkit.interpret.rbm_couplings import model_couplings
from boltzkit.models.hybrid import HybridEBM
from boltzkit.synthetic.generators import higher_order
from boltzkit.training.pseudo_likelihood import PseudoLikelihoodConfig, fit_pseudo_likelihood

MODELS = {
    "pairwise": dict(pairwise=True, neural=False),
    "nn": dict(pairwise=False, neural=True),
    "hybrid": dict(pairwise=True, neural=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs (smoke run)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--gammas", type=float, nargs="+", default=[0.0, 0.05, 0.2, 0.5])
    parser.add_argument("--coupling", type=float, default=0.5)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--l2-couplings", type=float, default=1e-4)
    parser.add_argument("--l2-network", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.samples, args.epochs = args.samples // 4, max(5, args.epochs // 4)
    rows = []
    print(f"N={args.size}, M={args.samples}, beta=1, pairs: random graph degree 3, J ~ {args.coupling} N(0,1); "
          f"3-body: N terms sqrt(gamma) N(0,1); PL + Adam, {args.epochs} epochs, batch 256, "
          f"lr 1e-2 -> 1e-4, L2 J {args.l2_couplings}, L2 NN {args.l2_network}, MLP {args.hidden} SiLU")
    print(f"{'gamma':>6s} " + " ".join(f"{m:>9s}" for m in MODELS) + "   (epsilon on J; seconds per model)")
    for gamma in args.gammas:
        t0 = time.perf_counter()
        data = higher_order(args.size, 1.0, args.samples, gamma=gamma, order=3, coupling=args.coupling,
                            chains=100, sweeps_thermalize=1000, sweeps_between=10, seed=args.seed)
        t_data = time.perf_counter() - t0
        s = data.samples.float()
        truth = data.ground_truth().pair_matrix()
        row = {"gamma": gamma, "tau_energy": data.run.tau_energy, "data_s": round(t_data, 1)}
        for name, parts in MODELS.items():
            model = HybridEBM(args.size, args.hidden, "silu", seed=args.seed, **parts)
            config = PseudoLikelihoodConfig(n_epochs=args.epochs, batch_size=256, learning_rate=1e-2,
                                            final_learning_rate=1e-4, l2_couplings=args.l2_couplings,
                                            l2_network=args.l2_network, seed=args.seed, n_checkpoints=0)
            t0 = time.perf_counter()
            result = fit_pseudo_likelihood(model, s, config)
            t_fit = time.perf_counter() - t0
            found = model_couplings(model, orders=2, method="exact")
            row[name] = {"epsilon": reconstruction_error(truth, found.pair_matrix()),
                         "pseudo_log_likelihood": result.history[-1]["pseudo_log_likelihood"],
                         "fit_s": round(t_fit, 1)}
        rows.append(row)
        print(f"{gamma:6.2f} " + " ".join(f"{row[m]['epsilon']:9.4f}" for m in MODELS) + "   " +
              " ".join(f"{row[m]['fit_s']:.0f}" for m in MODELS) + f"  (tau_E {row['tau_energy']:.2f})",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
