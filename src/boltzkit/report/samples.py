"""Samples of a saved run written to a file: what ``boltzkit sample`` calls, for every family.

The format follows the suffix and the model's visible space: categorical models write FASTA with
the run's alphabet (``.fasta``, ``.fa``, ``.gz``...) or integer codes (``.npy``, ``.txt``); binary
models write ``.npy`` (values as sampled, {0,1} or ±1), ``.txt`` (0/1) or a ``.png`` image grid
(:func:`boltzkit.report.images.save_samples`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from boltzkit.checks import integer
from boltzkit.data.msa import write_fasta
from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.io.atomic import atomic_path
from boltzkit.io.outputs import check_outputs
from boltzkit.report.images import save_samples
from boltzkit.sampling.gibbs import sample
from boltzkit.training.memory import check_chains_memory

__all__ = ["write_run_samples"]


def write_run_samples(run: str | os.PathLike, out: str | os.PathLike, n: int = 100,
                      gibbs_steps: int = 1000, checkpoint: int | None = None, seed: int = 0,
                      device: str = "cpu", max_memory: float | None = None) -> str:
    """Draw ``n`` samples after ``gibbs_steps`` Monte Carlo steps from uniformly random starts of
    the model of ``run`` (at ``checkpoint``, default the last) and write them to ``out``
    (``max_memory``: GiB the chains may use, in place of the memory available).

    Returns what was written, in words ("100 sequences", "100 samples").
    """
    out = Path(out)
    n = integer(n, "--n", 1)
    gibbs_steps = integer(gibbs_steps, "--gibbs-steps", 0)
    seed = integer(seed, "--seed", 0)
    check_outputs({"--out": out}, {"RUN": run})
    model = trajectory.load_model(run, checkpoint).to(device)
    check_chains_memory(model, n, "--n", device, max_memory)
    generator = torch.Generator(device=device).manual_seed(seed)
    x = sample(model, n, gibbs_steps, generator).cpu().numpy()
    space = model.visible
    if not space.categorical:
        _, _, image_shape = trajectory.read_data_sample(run)
        save_samples(out, x, image_shape)
        return f"{n} samples"
    codes = space.to_data(x)
    if out.suffix.lower() in (".npy", ".txt"):
        # np.save would append ".npy" to the temporary name; an open file keeps it as is
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            if out.suffix.lower() == ".txt":
                np.savetxt(f, codes, fmt="%d")
            else:
                np.save(f, codes.astype(np.int8))
        return f"{n} samples"
    alphabet = trajectory.read_config(run).get("alphabet")
    if alphabet is None:
        raise BoltzkitError(f"{out}: the run has no alphabet to write sequences with (use .npy or .txt)")
    write_fasta(out, codes.astype(np.int8), alphabet, [f"sample_{i}" for i in range(n)])
    return f"{n} sequences"
