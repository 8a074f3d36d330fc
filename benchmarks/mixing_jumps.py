"""Inter-cluster jumps per chain and per CPU second for Gibbs, PT and PTT (docs/methods.md 6.4).

For a run file and its data, the three samplers of ``boltzkit mixing`` (``report/mixing.py``:
Gibbs from random training rows, temperature PT on the adaptive ladder from the data's
independent-site model, PTT on the run's checkpoints) run the same number of MCMC steps (10^4 by
default) with the same number of target chains and the same torch thread count. Measured per
sampler, with the library's own functions (``sampling/mixing.py``: ``principal_directions``,
``cluster_jumps``; ``report/mixing.py``: ``cluster_centres``):

* jumps per target chain between the data's clusters (centres of the labels in the space of the
  first 5 principal components; k-means when there are no labels), recorded every
  ``ceil(steps / 1000)`` steps as ``boltzkit mixing`` does;
* the process CPU time of the steps (``time.process_time``; each replica's step counts, so PT and
  PTT pay for all their replicas) and of the set-up (ladder, checkpoint walk) apart;
* jumps per CPU second and the ratios of jumps per chain and per CPU second to Gibbs;
* the configurations the exchanges carried from replica 0 to the target, per chain;
* the fraction of each cluster's label (the nearest centre) among the recorded states of the
  second half, against the data's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mixing_jumps.py /tmp/m01/m01.h5 /tmp/m01/m01.npy \\
        --labels /tmp/m01/m01_labels.txt --threads 1
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import threads_from_argv  # noqa: E402

THREADS = threads_from_argv(sys.argv, 1)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from boltzkit.io import trajectory  # noqa: E402
from boltzkit.models.baseline import INDEPENDENT_SITE, baselines  # noqa: E402
from boltzkit.report.mixing import MAX_FRAMES, cluster_centres, mixing_sampler, training_rows  # noqa: E402
from boltzkit.sampling.mixing import cluster_jumps, principal_directions  # noqa: E402

SAMPLERS = ("gibbs", "pt", "ptt")
N_PC = 5


def measure(run, model, sampler, rows, base, chains, steps, seed, mean, directions, centres) -> dict:
    """One sampler: set-up and step CPU times, jumps per chain, label fractions of the second half."""
    g = torch.Generator(device=model.device).manual_seed(seed)
    t0 = time.process_time()
    chosen = mixing_sampler(run, model, sampler, rows, base, chains, g)
    t1 = time.process_time()
    stride = math.ceil(steps / MAX_FRAMES)
    frames = []
    for _ in range(steps // stride):
        frames.append((chosen.advance(stride).double().cpu() - mean) @ directions)
    cpu = time.process_time() - t1
    projections = torch.stack(frames)  # (T, chains, k)
    jumps = cluster_jumps(projections, centres).double()
    half = projections[len(frames) // 2:].reshape(-1, projections.shape[-1])
    nearest = torch.cdist(half, centres).argmin(1)
    passages = chosen.passages()
    return {"sampler": sampler, "replicas": chosen.replicas, "setup_cpu_s": t1 - t0, "cpu_s": cpu,
            "jumps_per_chain": float(jumps.mean()), "jumps_per_cpu_s": float(jumps.sum()) / cpu,
            "passages_per_chain": None if passages is None else passages / chains,
            "fractions": torch.bincount(nearest, minlength=len(centres)).double().div(len(nearest)).tolist(),
            "acceptance_min": None if chosen.acceptance() is None else min(chosen.acceptance())}


def ratio(a: float, b: float) -> str:
    return "inf" if b == 0 else f"{a / b:.1f}"


def table(results: list[dict], data_fractions: list[float], names: list[str], steps: int, chains: int) -> str:
    gibbs = next(r for r in results if r["sampler"] == "gibbs")
    head = (f"{steps} MCMC steps x {chains} chains, {THREADS} thread(s)\n"
            f"{'sampler':7} {'repl':>4} {'setup s':>8} {'CPU s':>7} {'jumps/ch':>9} {'jumps/CPU s':>11} "
            f"{'x gibbs':>7} {'x gibbs/s':>9} {'pass/ch':>8} {'acc min':>7} "
            + " ".join(f"{'frac ' + n:>9}" for n in names))
    lines = [head]
    for r in results:
        passages = "-" if r["passages_per_chain"] is None else f"{r['passages_per_chain']:.2f}"
        acc = "-" if r["acceptance_min"] is None else f"{r['acceptance_min']:.3f}"
        lines.append(f"{r['sampler']:7} {r['replicas']:4d} {r['setup_cpu_s']:8.1f} {r['cpu_s']:7.1f} "
                     f"{r['jumps_per_chain']:9.3f} {r['jumps_per_cpu_s']:11.3f} "
                     f"{ratio(r['jumps_per_chain'], gibbs['jumps_per_chain']):>7} "
                     f"{ratio(r['jumps_per_cpu_s'], gibbs['jumps_per_cpu_s']):>9} {passages:>8} {acc:>7} "
                     + " ".join(f"{f:9.3f}" for f in r["fractions"]))
    lines.append(f"{'data':7} " + " " * 77 + " ".join(f"{f:9.3f}" for f in data_fractions))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("data")
    parser.add_argument("--labels", help="one label per data row (else the rows' own labels, or k-means)")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    model = trajectory.load_model(args.run)
    rows, labels = training_rows(args.run, args.data, model)
    if args.labels:
        labels = np.loadtxt(args.labels, dtype=str)
    base = baselines(model.visible, rows).get(INDEPENDENT_SITE)
    mean, directions = principal_directions(rows, min(N_PC, model.n_visible))
    data_pc = (rows.double().cpu() - mean) @ directions
    centres = cluster_centres(data_pc, labels, None, args.seed)
    names = [str(v) for v in np.unique(labels)] if labels is not None else [str(k) for k in range(len(centres))]
    data_nearest = torch.cdist(data_pc, centres).argmin(1)
    data_fractions = torch.bincount(data_nearest, minlength=len(centres)).double().div(len(rows)).tolist()
    results = []
    for sampler in args.samplers.split(","):
        results.append(measure(args.run, model, sampler, rows, base, args.chains, args.steps, args.seed,
                               mean, directions, centres))
        print(f"{sampler}: done in {results[-1]['cpu_s']:.1f} CPU s", file=sys.stderr, flush=True)
    print(table(results, data_fractions, names, args.steps, args.chains))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "data_fractions": data_fractions,
                                               "labels": names}, indent=1))


if __name__ == "__main__":
    main()
