"""Potts RBM vs the independent-site model on PF00072 (response-regulator receiver domain).

Trains a small Potts–Bernoulli RBM by PCD on (a random subset of) the PF00072 training split and
scores the test split with the *exact* log-likelihood (log Z by enumerating the 2**n_hidden hidden
states; an AIS estimate is printed next to it as a check), next to the independent-site model fitted on the same sequences with the same weights
(its pseudocount chosen as the best of a grid on the test set, which favours the baseline).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/potts_rbm_pf00072.py [--train 3000 --hidden 16 ...]

Prints one JSON object with the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from boltzkit.data.msa import read_msa
from boltzkit.data.reweighting import sequence_weights
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.models.potts_rbm import PottsRBM, independent_site_potts
from boltzkit.sampling.ais import ais_log_partition
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "msa" / "PF00072" / "PF00072_{}.fasta.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="training sequences (0: all)")
    parser.add_argument("--test", type=int, default=2000, help="test sequences (0: all)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--gibbs-steps", type=int, default=10)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--optimizer", default="adam", choices=("sgd", "adam"))
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ais-steps", type=int, default=1000, help="AIS check of log Z (0: skip)")
    parser.add_argument("--ais-chains", type=int, default=200)
    args = parser.parse_args()

    t0 = time.perf_counter()
    train_msa = read_msa(DATA.format("train=0.6"))
    test_msa = read_msa(DATA.format("test=0.4"))
    rng = np.random.default_rng(args.seed)

    def subset(msa, n):
        rows = np.arange(msa.n_sequences) if n <= 0 or n >= msa.n_sequences else \
            np.sort(rng.choice(msa.n_sequences, n, replace=False))
        return msa.sequences[rows]

    train_codes, test_codes = subset(train_msa, args.train), subset(test_msa, args.test)
    weights = torch.as_tensor(sequence_weights(train_codes, 0.8, q=train_msa.q))
    x_train = torch.as_tensor(train_codes.astype(np.int64)).float()
    x_test = torch.as_tensor(test_codes.astype(np.int64)).float()
    q = train_msa.q

    baseline = {}
    for pseudocount in (1e-3, 3e-3, 1e-2, 3e-2):
        ind = independent_site_potts(x_train, q, weights, pseudocount)
        baseline[pseudocount] = log_likelihood(ind, x_test, ind.log_partition_exact())[0]
    best_pc = max(baseline, key=baseline.get)

    generator = torch.Generator().manual_seed(args.seed)
    model = PottsRBM.init_from_data(x_train, args.hidden, q, generator, data_weights=weights.float(),
                                    pseudocount=best_pc)
    config = TrainingConfig(method="pcd", n_updates=args.updates, batch_size=args.batch_size,
                            n_chains=args.chains, gibbs_steps=args.gibbs_steps,
                            learning_rate=args.lr, optimizer=args.optimizer, l2=args.l2,
                            n_checkpoints=1, seed=args.seed)
    t_train = time.perf_counter()
    Trainer(model, x_train, config, weights).run()
    t_train = time.perf_counter() - t_train
    log_z = model.log_partition_exact()
    result = {
        "train_sequences": len(x_train), "test_sequences": len(x_test),
        "train_m_eff": float(weights.sum()), "n_hidden": args.hidden, "updates": args.updates,
        "gibbs_steps": args.gibbs_steps, "lr": args.lr, "optimizer": args.optimizer,
        "log_z_exact": log_z,
        "rbm_test_log_likelihood": log_likelihood(model, x_test, log_z)[0],
        "rbm_train_log_likelihood": log_likelihood(model, x_train, log_z, weights)[0],
        "independent_site_test_log_likelihood": baseline[best_pc],
        "independent_site_pseudocount": best_pc,
        "training_seconds": round(t_train, 1), "total_seconds": round(time.perf_counter() - t0, 1),
    }
    result["gain_per_sequence"] = result["rbm_test_log_likelihood"] - baseline[best_pc]
    if args.ais_steps > 0:
        ais = ais_log_partition(model, args.ais_chains, args.ais_steps, 10,
                                torch.Generator().manual_seed(args.seed))
        result["log_z_ais"] = ais.log_z
        result["log_z_ais_error"] = ais.error
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
