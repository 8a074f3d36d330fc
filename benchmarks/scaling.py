"""Updates/s against the number of processes (data-parallel training, docs/methods.md 6.7), and
on a GPU when there is one.

Three jobs, each run by the real command line (``python -m boltzkit train`` for one process,
``torchrun --standalone --nproc-per-node N -m boltzkit train`` for N), every process on one
thread, so that N processes use N cores; one process on N threads is printed beside them (the
same cores, shared by torch's intra-op threads instead):

* ``rbm``: the 784 x 500 Bernoulli RBM on the bundled MNIST digits (binarised at 0.5), PCD-10,
  batch 500, 500 chains, SGD lr 0.01;
* ``bmdca``: the Potts model on PF00014 (../shared/data/msa/PF00014), full batch (bmDCA), 2000 chains,
  2 sweeps per update, lr 0.25 (``--chains`` must divide by N);
* ``plm``: plmDCA on PF00014 (L-BFGS: objective evaluations per second).

Updates/s are read from the run file: the training wall time the trainer records (set-up, data
reading and the process group's start are left out). With a CUDA device the same jobs run on it
(one process) and the script prints the GPU's float32 GEMM rate (the roof of these dense jobs).

    .venv/bin/python benchmarks/scaling.py [--jobs rbm,bmdca,plm] [--processes 1,2] [--updates 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _threads import SHARED_DATA

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PF00014 = SHARED_DATA / "msa" / "PF00014" / "PF00014_mgap6.fasta.gz"
JOBS = {
    "rbm": lambda data: [str(data["mnist"]), "--hidden", "500", "--batch-size", "500", "--chains", "500",
                         "--gibbs-steps", "10", "--lr", "0.01"],
    "bmdca": lambda data: [str(PF00014), "--model", "potts-bm", "--method", "pcd", "--batch-size", "1000000",
                           "--chains", "2000", "--gibbs-steps", "2", "--lr", "0.25"],
    "plm": lambda data: [str(PF00014), "--model", "potts-bm", "--method", "plm"],
}


def run(job: str, data: dict, processes: int, threads: int, updates: int, device: str, folder: Path) -> float:
    """Updates (plm: objective evaluations) per second of one training, from its run file."""
    from boltzkit.io import trajectory

    out = folder / f"{job}-{processes}x{threads}-{device}.h5"
    train = ["train", *JOBS[job](data), "--out", str(out), "--updates", str(updates), "--checkpoints", "1",
             "--quiet", "--no-check", "--threads", str(threads), "--device", device, "--overwrite"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if processes == 1:
        command = [sys.executable, "-m", "boltzkit", *train]
    else:
        torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
        command = [torchrun, "--standalone", "--nproc-per-node", str(processes), "-m", "boltzkit", *train]
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=folder)
    if result.returncode != 0:
        raise SystemExit(f"{job} with {processes} process(es) failed:\n{result.stderr[-2000:]}")
    info = trajectory.checkpoint_info(out)[-1]
    return info["update"] / info["wall_time"]


def mnist(folder: Path) -> Path:
    """The bundled MNIST test digits binarised at 0.5, as a .npy the three tools read alike."""
    from boltzkit.data import load_mnist

    path = folder / "mnist.npy"
    np.save(path, load_mnist().samples)
    return path


def gemm_tflops(device: str) -> float:
    """float32 matrix-product rate of ``device`` (8192^3 products), in TFLOP/s."""
    import torch

    a = torch.randn(8192, 8192, device=device)
    b = torch.randn(8192, 8192, device=device)
    torch.matmul(a, b)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    return 10 * 2 * 8192 ** 3 / (time.perf_counter() - t0) / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="rbm,bmdca,plm")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--updates", type=int, default=100, help="updates per run (plm: L-BFGS iterations)")
    args = parser.parse_args()
    import torch

    jobs = [j for j in args.jobs.split(",") if j]
    counts = [int(n) for n in args.processes.split(",")]
    if any(j in ("bmdca", "plm") for j in jobs) and not PF00014.exists():
        raise SystemExit(f"{PF00014} is missing (../shared/data beside the repository)")
    print(f"cores: {os.cpu_count()} (each process runs one thread); {args.updates} updates per run")
    print(f"{'job':<7}{'setting':<26}{'updates/s':>11}{'vs 1 process':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = {"mnist": mnist(folder)}
        for job in jobs:
            one = None
            for n in counts:
                rate = run(job, data, n, 1, args.updates, "cpu", folder)
                one = rate if n == 1 else one
                ratio = f"{rate / one:.2f}x" if one else ""
                print(f"{job:<7}{f'{n} process(es) x 1 thread':<26}{rate:>11.2f}{ratio:>14}", flush=True)
            top = max(counts)
            if top > 1:
                rate = run(job, data, 1, top, args.updates, "cpu", folder)
                ratio = f"{rate / one:.2f}x" if one else ""
                print(f"{job:<7}{f'1 process x {top} threads':<26}{rate:>11.2f}{ratio:>14}", flush=True)
            if torch.cuda.is_available():
                rate = run(job, data, 1, 1, args.updates, "cuda", folder)
                ratio = f"{rate / one:.2f}x" if one else ""
                print(f"{job:<7}{'1 process, cuda':<26}{rate:>11.2f}{ratio:>14}", flush=True)
    if torch.cuda.is_available():
        print(f"GPU {torch.cuda.get_device_name()}: float32 GEMM {gemm_tflops('cuda'):.1f} TFLOP/s")


if __name__ == "__main__":
    main()
