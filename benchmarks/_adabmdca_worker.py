"""Train bmDCA with the ``adabmDCA`` package (PyPI 1.0.0); run by bench_adabmdca.py.

This script runs inside its own environment (``benchmarks/.envs/adabmdca``), never in
boltzkit's: it imports nothing from boltzkit. It trains with ``adabmDCA.api.training.
train_model`` -- the function behind ``adabmDCA train -m bmDCA`` -- with an output folder, as
its command line does: ``params.dat``, ``chains.fasta`` and its log are saved every
``--checkpoint-interval`` updates (adabmDCA's default 100) and at the end. It also writes one
line per update to ``trace.txt`` (update, Pearson, time) and, at the end, ``result.json``.

What is timed: adabmDCA's history column ``Time``, the time since its training loop
(``train_graph``) started, recorded after each update; it covers the parameter update, the AIS
log-weights, the sweeps, the chains' statistics, its Pearson test and its per-update bookkeeping
(log-likelihood and entropy estimates, periodic saves), and leaves out reading the alignment, the sequence
weights and the data statistics. ``end_to_end_s`` is the whole ``train_model`` call.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FASTA alignment")
    parser.add_argument("--out", required=True, help="folder for params.dat and result.json")
    parser.add_argument("--chains", type=int, required=True)
    parser.add_argument("--sweeps", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--sampler", default="gibbs", choices=("gibbs", "metropolis"))
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--max-updates", type=int, default=5000)
    parser.add_argument("--pseudocount", type=float, default=None, help="default 1/M_eff")
    parser.add_argument("--threshold", type=float, default=0.8, help="clustering identity")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-interval", type=int, default=100,
                        help="adabmDCA's periodic save of params.dat and chains (its default 100)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from adabmDCA import __version__
    from adabmDCA.api.training import train_model

    trace: list[tuple[int, float]] = []
    os.makedirs(args.out, exist_ok=True)
    # one line per update, flushed: what was reached survives if the run is stopped at a time cap
    stream = open(os.path.join(args.out, "trace.txt"), "w")

    def progress(event) -> None:
        k, r = int(event.gradient_steps), float(event.metrics.get("Pearson", float("nan")))
        trace.append((k, r))
        stream.write(f"{k} {r} {float(event.metrics.get('Time', float('nan')))}\n")
        stream.flush()

    t0 = time.perf_counter()
    result = train_model(
        args.data, model_type="bmDCA", alphabet="protein", learning_rate=args.lr,
        n_sweeps=args.sweeps, sampler=args.sampler, n_chains=args.chains,
        target_pearson=args.target, max_epochs=args.max_updates, pseudocount=args.pseudocount,
        clustering_seqid=args.threshold, seed=args.seed, device="cpu", dtype="float32",
        output_dir=args.out, checkpoint_interval=args.checkpoint_interval, progress=progress)
    end_to_end = time.perf_counter() - t0
    params_path = os.path.join(args.out, "params.dat")  # adabmDCA's final save
    # energies of the first 100 chains under adabmDCA's own energy function, from the saved file:
    # the benchmark checks that boltzkit's reading of params.dat gives the same energies
    from adabmDCA.io import load_params
    from adabmDCA.statmech import compute_energy

    check = result.chains[:100].argmax(-1)
    saved = load_params(params_path, tokens="-ACDEFGHIKLMNPQRSTVWY", device="cpu",
                        dtype=torch.float64)
    energies = compute_energy(torch.nn.functional.one_hot(check, saved["bias"].shape[1]).double(),
                              saved)
    history = {k: [float(v) for v in vals] for k, vals in result.history.items()
               if k in ("Epochs", "Pearson", "Time")}
    info = {
        "version": __version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "stop_reason": result.stop_reason, "converged": bool(result.converged),
        "updates": int(result.gradient_steps), "sweeps": int(result.sweeps),
        "pseudocount": float(result.pseudocount), "num_sequences": int(result.num_sequences),
        "effective_sequences": float(result.effective_sequences),
        "loop_s": history["Time"][-1] if history.get("Time") else float("nan"),
        "end_to_end_s": end_to_end, "final_pearson": history["Pearson"][-1],
        "history": history, "trace": trace,
        "params": params_path, "check_codes": check.tolist(), "check_energies": energies.tolist(),
    }
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main()
