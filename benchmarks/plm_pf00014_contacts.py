"""plmDCA contact prediction on PF00014 (Kunitz/BPTI domain): precision of the top-L pairs.

Pseudo-likelihood (:func:`boltzkit.training.plm.fit_plm`, symmetric, L-BFGS) on
``PF00014_mgap6.fasta.gz`` with plmc-convention sequence weights (identity >= 0.8), then
Frobenius norm of the zero-sum couplings without the gap state + APC, precision of the top-L pairs
with j - i >= 5 against ``PF00014_struct.dat.gz`` (contact: distance < 8 Å). References measured
with the same evaluator conventions (shared/data/msa/README.md): plmc 1.000, adabmDCA
mean-field 0.962.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/plm_pf00014_contacts.py [--max-iter 200]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from boltzkit.data.msa import read_msa
from boltzkit.data.reweighting import sequence_weights
from boltzkit.evaluation.contacts import contact_precision, frobenius_scores, read_struct
from boltzkit.training.plm import fit_plm

DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "msa" / "PF00014") + "/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--lambda-h", type=float, default=0.01)
    parser.add_argument("--lambda-j", type=float, default=0.01)
    parser.add_argument("--threshold", type=float, default=0.8, help="reweighting identity")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args()

    t0 = time.perf_counter()
    msa = read_msa(DATA + "PF00014_mgap6.fasta.gz", alphabet="protein")
    weights = sequence_weights(msa, args.threshold)
    t_weights = time.perf_counter() - t0
    evaluations = []

    def progress(k: int, value: float) -> None:
        evaluations.append(value)
        if k % 20 == 0:
            print(f"evaluation {k}: objective {value:.5f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    t1 = time.perf_counter()
    model = fit_plm(msa.sequences, "potts-bm", q=msa.q, weights=weights, lambda_h=args.lambda_h,
                    lambda_J=args.lambda_j, max_iter=args.max_iter,
                    dtype=getattr(torch, args.dtype), callback=progress)
    t_fit = time.perf_counter() - t1
    scores = frobenius_scores(model.couplings)
    contacts = read_struct(DATA + "PF00014_struct.dat.gz", threshold=8.0, length=msa.length)
    precision = contact_precision(scores, contacts, min_separation=5)
    print(json.dumps({
        "sequences": msa.n_sequences, "length": msa.length, "q": msa.q,
        "m_eff": float(weights.sum()), "lambda_h": args.lambda_h, "lambda_J": args.lambda_j,
        "objective_evaluations": len(evaluations), "final_objective": evaluations[-1],
        "precision": precision, "weights_seconds": round(t_weights, 1),
        "fit_seconds": round(t_fit, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
