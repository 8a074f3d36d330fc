"""bmDCA on PF00014, boltzkit vs adabmDCA (PyPI 1.0.0), side by side at equal settings.

Both train the same Boltzmann machine (Potts model, all couplings) on the same alignment by the
same algorithm and are stopped by the same rule:

* data: ``PF00014_mgap6.fasta.gz`` without exact duplicates (adabmDCA drops them when it reads an
  alignment; the de-duplicated FASTA is written once and given to both), sequence weights
  1 / #neighbours at identity 0.8 (adabmDCA: ``> 0.8 L``, boltzkit: ``>= 0.8 L``, the same here
  because 0.8 x 53 is not an integer), pseudocount 1 / M_eff on the target frequencies;
* start: fields log f_i, couplings 0, persistent chains drawn from that profile model;
* update: plain gradient ascent ``theta += lr (f - p)`` with p the chains' statistics after
  ``--sweeps`` sweeps of the same sampler (heat bath by default), ``--chains`` chains;
* stop: the Pearson r of the chains' connected correlations C_ij(a, b) (i < j, all q^2 states,
  data weighted) reaches ``--target`` -- adabmDCA's rule, computed the same way by both;
* same thread count in both processes (``torch.set_num_threads`` and ``OMP_NUM_THREADS``).

Reported for each: wall time of the training loop to the target (adabmDCA's own ``Time`` column;
boltzkit's updates plus its Pearson tests), end-to-end time (reading, weights, statistics
included), updates and sweeps, and the precision at L of the final model's contacts, computed by
boltzkit's code for both (Frobenius norm of the zero-sum couplings without the gap state, APC,
|i - j| >= 4, contact: distance < 8 Å; adabmDCA's model read from its ``params.dat``). As an
independent check, both final models are also resampled here (fresh chains from the profile
model, ``--check-sweeps`` sweeps) and the C_ij Pearson of those samples is reported.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_adabmdca.py --threads 1 --json out.json

adabmDCA runs in its own environment, ``benchmarks/.envs/adabmdca`` (created on first use, see
benchmarks/README.md), through ``benchmarks/_adabmdca_worker.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path


from _threads import SHARED_DATA, threads_from_argv  # noqa: E402  (before torch)

_THREADS = threads_from_argv(sys.argv, default=1)

import torch  # noqa: E402

from boltzkit.data.msa import read_msa, write_fasta  # noqa: E402
from boltzkit.data.reweighting import frequencies, sequence_weights, unique_sequences  # noqa: E402
from boltzkit.evaluation.contacts import contact_precision, frobenius_scores, read_struct  # noqa: E402
from boltzkit.io.adabmdca import read_adabmdca_params  # noqa: E402
from boltzkit.models.pairwise import PottsModel  # noqa: E402
from boltzkit.models.statistics import PairwiseStatistics, correlation_pearson  # noqa: E402
from boltzkit.training.config import TrainingConfig  # noqa: E402
from boltzkit.data.specs import MSASpec  # noqa: E402
from boltzkit.training.run import train_run  # noqa: E402

HERE = Path(__file__).resolve().parent
ENV_DIR = HERE / ".envs" / "adabmdca"
WORKER = HERE / "_adabmdca_worker.py"
DATA = SHARED_DATA / "msa" / "PF00014"
ADABMDCA_VERSION = "1.0.0"
# adabmDCA 1.0.0's declared dependencies (besides torch), pinned to the versions installed and
# checked here (`pip check` clean). wandb is only imported with --wandb but is a hard requirement.
ADABMDCA_DEPS = ["numpy==2.4.6", "pandas==3.1.1", "tqdm==4.70.1", "matplotlib==3.11.2",
                 "biopython==1.88", "seaborn==0.13.2", "wandb==0.31.0"]


def ensure_adabmdca_env() -> Path:
    """Create benchmarks/.envs/adabmdca (boltzkit's torch version first: the local CPU wheel)."""
    python = ENV_DIR / "bin" / "python"
    marker = ENV_DIR / ".bench_ready"
    torch_spec = "torch==" + torch.__version__.split("+")[0]
    if python.exists() and subprocess.run(
            [str(python), "-c", f"import adabmDCA; assert adabmDCA.__version__ == '{ADABMDCA_VERSION}'"],
            capture_output=True).returncode == 0:
        return python
    print(f"creating {ENV_DIR} ({torch_spec}, adabmDCA=={ADABMDCA_VERSION}) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(ENV_DIR)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    # torch pinned first: unpinned, pip would pull the CUDA build (several GB)
    steps = [[torch_spec], ADABMDCA_DEPS, ["--no-deps", f"adabmDCA=={ADABMDCA_VERSION}"]]
    with open(ENV_DIR / "install.log", "w") as log:
        for step in steps:
            if subprocess.run(pip + step, stdout=log, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"installing {' '.join(step)} failed (log: {ENV_DIR / 'install.log'})")
    marker.write_text(torch_spec)
    return python


def precision_at_l(couplings: torch.Tensor, length: int) -> float:
    contacts = read_struct(DATA / "PF00014_struct.dat.gz", threshold=8.0, length=length)
    return float(contact_precision(frobenius_scores(couplings), contacts, min_separation=4)["L"])


def resampled_pearson(model: PottsModel, target: PairwiseStatistics, n: int, sweeps: int,
                      seed: int) -> float:
    """C_ij Pearson of fresh chains (profile start, ``sweeps`` heat-bath sweeps) vs the data."""
    g = torch.Generator().manual_seed(seed)
    start = PottsModel(torch.log(target.fields), torch.zeros_like(model.couplings))
    chains = model.sample_steps(start.sample_profile(n, g), sweeps, g)
    return correlation_pearson(target, model.data_statistics(chains.visible))


def run_boltzkit(fasta: Path, args, workdir: Path) -> tuple[dict, PottsModel]:
    trace: list[tuple[int, float, float]] = []
    config = TrainingConfig(method="pcd", n_updates=args.max_updates, batch_size=10**9,
                            n_chains=args.chains, gibbs_steps=args.sweeps, learning_rate=args.lr,
                            optimizer="sgd", n_checkpoints=1, seed=args.seed)
    out = workdir / "boltzkit_run.h5"
    out.unlink(missing_ok=True)
    spec = MSASpec(str(fasta), alphabet="protein", reweight=True, threshold=args.threshold)
    t0 = time.perf_counter()
    model = train_run(spec, out, "potts-bm", 0, config, target_pearson=args.target,
                            on_pearson=lambda k, r, s: trace.append((k, r, s)))
    end_to_end = time.perf_counter() - t0
    model.sampler = args.sampler
    return {"updates": trace[-1][0], "sweeps": trace[-1][0] * args.sweeps,
            "loop_s": trace[-1][2], "end_to_end_s": end_to_end, "final_pearson": trace[-1][1],
            "converged": trace[-1][1] >= args.target,
            "trace": [(k, round(r, 5), round(s, 3)) for k, r, s in trace]}, model


def start_adabmdca(fasta: Path, args, workdir: Path) -> tuple[subprocess.Popen, Path, float]:
    python = ensure_adabmdca_env()
    out = workdir / "adabmdca"
    for name in ("result.json", "trace.txt", "params.dat"):
        (out / name).unlink(missing_ok=True)
    cmd = [str(python), str(WORKER), "--data", str(fasta), "--out", str(out),
           "--chains", str(args.chains), "--sweeps", str(args.sweeps), "--lr", str(args.lr),
           "--sampler", args.sampler, "--target", str(args.target),
           "--max-updates", str(args.max_updates), "--threshold", str(args.threshold),
           "--threads", str(args.threads), "--seed", str(args.seed)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    log = open(workdir / "adabmdca.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), out, time.time()


def finish_adabmdca(proc: subprocess.Popen, out: Path, started: float, args,
                    workdir: Path) -> tuple[dict, PottsModel | None]:
    """Wait for the worker until ``--max-minutes`` after its start; at the cap, stop it and keep
    what it reached (its streamed trace and its last periodic params.dat)."""
    try:
        proc.wait(timeout=max(1.0, started + 60 * args.max_minutes - time.time()))
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
    if (out / "result.json").exists():
        info = json.loads((out / "result.json").read_text())
        history = info.pop("history")
        info["trace"] = [(int(k), round(r, 5), round(t, 3)) for k, r, t in
                         zip(history["Epochs"], history["Pearson"], history["Time"])]
    elif proc.returncode not in (None, 0) and not (out / "trace.txt").exists():
        sys.stderr.write((workdir / "adabmdca.log").read_text()[-5000:])
        raise SystemExit(f"adabmDCA worker failed (exit {proc.returncode})")
    else:  # stopped at the time cap
        rows = [line.split() for line in (out / "trace.txt").read_text().splitlines()]
        trace = [(int(k), round(float(r), 5), round(float(t), 3)) for k, r, t in rows]
        if not trace:
            raise SystemExit(f"adabmDCA made no update within --max-minutes {args.max_minutes}")
        info = {"stopped_at_cap_min": args.max_minutes, "trace": trace,
                "updates": trace[-1][0], "sweeps": trace[-1][0] * args.sweeps,
                "loop_s": trace[-1][2], "end_to_end_s": time.time() - started,
                "final_pearson": trace[-1][1],
                "params_from": "last periodic save (every 100 updates)"}
    info["converged"] = info["final_pearson"] >= args.target
    if not (out / "params.dat").exists():
        return info, None
    fields, couplings = read_adabmdca_params(out / "params.dat", "protein", dtype=torch.float64)
    model = PottsModel(fields, couplings, args.sampler)
    if "check_codes" in info:  # params.dat read by boltzkit gives adabmDCA's own energies
        theirs = torch.tensor(info.pop("check_energies"), dtype=torch.float64)
        gap = float((model.energy(torch.tensor(info.pop("check_codes"))) - theirs).abs().max())
        info["energy_check_max_abs_diff"] = gap
        if gap > 1e-6 * max(1.0, float(theirs.abs().max())):
            raise SystemExit(f"adabmDCA -> boltzkit conversion: energies differ by {gap:g}")
    return info, model.to(dtype=torch.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=20000)
    parser.add_argument("--sweeps", type=int, default=2, help="sweeps per update")
    parser.add_argument("--lr", type=float, default=0.25)
    parser.add_argument("--sampler", default="gibbs", choices=("gibbs", "metropolis"))
    parser.add_argument("--target", type=float, default=0.95, help="C_ij Pearson to reach")
    parser.add_argument("--max-updates", type=int, default=900)
    parser.add_argument("--threshold", type=float, default=0.8, help="reweighting identity")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-sweeps", type=int, default=50,
                        help="sweeps of the independent resampling check (0: skip)")
    parser.add_argument("--only", choices=("boltzkit", "adabmdca"), help="run one side only")
    parser.add_argument("--max-minutes", type=float, default=55.0,
                        help="stop adabmDCA after this long and report what it reached")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_adabmdca"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)

    msa = read_msa(DATA / "PF00014_mgap6.fasta.gz", alphabet="protein")
    msa = msa.select(unique_sequences(msa))
    fasta = write_fasta(args.workdir / "PF00014_unique.fasta", msa.sequences, msa.alphabet,
                        msa.headers)
    weights = sequence_weights(msa, args.threshold)
    pseudocount = 1.0 / float(weights.sum())
    target = PairwiseStatistics(*frequencies(msa.sequences, msa.q, weights, pseudocount))
    results = {"settings": {"data": f"PF00014 ({msa.n_sequences} distinct sequences, L "
                                    f"{msa.length}, q {msa.q}, M_eff {weights.sum():.1f})",
                            "chains": args.chains, "sweeps_per_update": args.sweeps,
                            "lr": args.lr, "sampler": args.sampler, "target": args.target,
                            "pseudocount": pseudocount, "threads": args.threads,
                            "torch": torch.__version__},
               "load_average_start": os.getloadavg()[0]}
    # Both run at the same time, so that they share the same (fluctuating) machine load.
    models = {}
    load0 = os.getloadavg()[0]
    if args.only != "boltzkit":
        print("starting adabmDCA ...", flush=True)
        proc, out, started = start_adabmdca(fasta, args, args.workdir)
    if args.only != "adabmdca":
        print("running boltzkit ...", flush=True)
        results["boltzkit"], models["boltzkit"] = run_boltzkit(fasta, args, args.workdir)
        results["boltzkit"]["load_average"] = (load0, os.getloadavg()[0])
    if args.only != "boltzkit":
        print("waiting for adabmDCA ...", flush=True)
        results["adabmdca"], models["adabmdca"] = finish_adabmdca(proc, out, started, args,
                                                                 args.workdir)
        results["adabmdca"]["load_average"] = (load0, os.getloadavg()[0])
    for name, model in models.items():
        row = results[name]
        row["precision_at_L"] = None if model is None else precision_at_l(model.couplings,
                                                                          msa.length)
        if args.check_sweeps and model is not None:
            row["resampled_pearson"] = resampled_pearson(model, target, args.chains,
                                                         args.check_sweeps, args.seed + 1)
        print(name, json.dumps({k: v for k, v in row.items() if k != "trace"}), flush=True)
    for name in ("adabmdca", "boltzkit"):
        if name in results:  # first update (and its time) at which each Pearson level is reached
            results[name]["reached"] = {
                f"{level:.2f}": next(([k, t] for k, r, t in results[name]["trace"] if r >= level),
                                     None) for level in LEVELS}
    if "boltzkit" in results and "adabmdca" in results and results["adabmdca"]["converged"]:
        results["speedup_loop"] = results["adabmdca"]["loop_s"] / results["boltzkit"]["loop_s"]
        results["speedup_end_to_end"] = (results["adabmdca"]["end_to_end_s"]
                                         / results["boltzkit"]["end_to_end_s"])
    print_table(results)
    if args.json:
        from boltzkit.io.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(results, indent=2, default=float))


LEVELS = (0.8, 0.9, 0.95)


def print_table(results: dict) -> None:
    s = results["settings"]
    print(f"\n{s['data']}; {s['chains']} chains, {s['sweeps_per_update']} {s['sampler']} sweeps "
          f"per update, lr {s['lr']}, pseudocount {s['pseudocount']:.3g}, {s['threads']} thread(s)")
    print("| library | loop s to Pearson >= target | end-to-end s | updates | sweeps | "
          "final chains Pearson | resampled Pearson | precision@L |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("adabmdca", "boltzkit"):
        if name in results:
            r = results[name]
            loop = f"{r['loop_s']:.1f}" + ("" if r["converged"] else " (not reached)")
            prec = "-" if r["precision_at_L"] is None else f"{r['precision_at_L']:.3f}"
            print(f"| {name} | {loop} | {r['end_to_end_s']:.1f} | {r['updates']} | "
                  f"{r['sweeps']} | {r['final_pearson']:.4f} | "
                  f"{r.get('resampled_pearson', float('nan')):.4f} | {prec} |")
    print("| library | " + " | ".join(f"update, s to r >= {v:.2f}" for v in LEVELS) + " |")
    print("|---|" + "---|" * len(LEVELS))
    for name in ("adabmdca", "boltzkit"):
        if name in results:
            cells = [("not reached" if c is None else f"{c[0]}, {c[1]:.1f} s")
                     for c in results[name]["reached"].values()]
            print(f"| {name} | " + " | ".join(cells) + " |")
    if "boltzkit" in results and "adabmdca" in results:
        a, b = results["adabmdca"], results["boltzkit"]
        print(f"seconds per update: adabmDCA {a['loop_s'] / a['updates']:.2f}, boltzkit "
              f"{b['loop_s'] / b['updates']:.2f}")
    if "speedup_loop" in results:
        print(f"boltzkit is {results['speedup_loop']:.2f}x faster (training loop), "
              f"{results['speedup_end_to_end']:.2f}x end to end")


if __name__ == "__main__":
    main()
