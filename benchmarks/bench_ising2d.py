"""Spin updates per second of the synthetic-data sampler on a 64 x 64 periodic 2D Ising lattice.

What is timed: ``SpinKernel.sweep_internal`` (checkerboard Metropolis or heat-bath sweeps over all
chains at once, the inner loop of ``boltzkit generate ising2d``) after a few warm-up sweeps; the
compilation of the kernel, the initial state and the recording of samples are left out. One sweep
updates every spin of every chain once: updates per second = chains * L^2 * sweeps / seconds.
Each configuration is timed ``--repeats`` times and the best time is reported (the machine may be
shared; the best run is the least disturbed one).

Usage::

    OMP_NUM_THREADS=2 python benchmarks/bench_ising2d.py --threads 2
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from boltzkit.synthetic.hamiltonians import Interactions, SpinHamiltonian
from boltzkit.synthetic.lattices import lattice_colouring, square_bonds
from boltzkit.synthetic.mcmc import SpinKernel


def time_sweeps(kernel: SpinKernel, chains: int, beta: float, algorithm: str, sweeps: int, repeats: int,
                seed: int) -> float:
    generator = torch.Generator(device=kernel.device).manual_seed(seed)
    internal = kernel.to_internal(kernel.random_states(chains, generator))
    kernel.sweep_internal(internal, beta, algorithm, generator, 3)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if kernel.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        kernel.sweep_internal(internal, beta, algorithm, generator, sweeps)
        if kernel.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (set explicitly)")
    parser.add_argument("--size", type=int, default=64, help="linear size L")
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--beta", type=float, default=0.44)
    parser.add_argument("--sweeps", type=int, default=10, help="timed sweeps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    bonds = square_bonds(args.size, periodic=True)
    n = args.size * args.size
    hamiltonian = SpinHamiltonian(torch.zeros(n, dtype=torch.float64),
                                  {2: Interactions(bonds, torch.ones(len(bonds), dtype=torch.float64))})
    colours = lattice_colouring((args.size, args.size), True)
    kernel = SpinKernel(hamiltonian, colours, device=args.device, dtype=dtype)

    print(f"2D Ising {args.size}x{args.size} periodic, {args.chains} chains, beta={args.beta}, {args.dtype}, "
          f"device={args.device}, torch threads={torch.get_num_threads()}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"{kernel.n_colours} colours per sweep; best of {args.repeats} x {args.sweeps} sweeps")
    header = f"{'algorithm':<12}{'pair path':>10}{'s/sweep':>10}{'M updates/s':>13}{'ns/update':>11}"
    print(header)
    print("-" * len(header))
    path = "dense" if kernel.dense_pairs is not None else "sparse"
    for algorithm in ("metropolis", "heat-bath"):
        seconds = time_sweeps(kernel, args.chains, args.beta, algorithm, args.sweeps, args.repeats, args.seed)
        updates = args.chains * n * args.sweeps
        print(f"{algorithm:<12}{path:>10}{seconds / args.sweeps:>10.4f}{updates / seconds / 1e6:>13.2f}"
              f"{seconds / updates * 1e9:>11.2f}")


if __name__ == "__main__":
    main()
