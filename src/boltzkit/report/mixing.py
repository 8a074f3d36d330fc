"""``boltzkit mixing``: how well Gibbs, parallel tempering and parallel trajectory tempering mix on
a trained model (docs/methods.md 6.4): integrated autocorrelation times of the visible
configuration and of its projections on the data's first principal directions, jumps between the
data's clusters per chain, and the exchange acceptance per neighbouring pair of replicas; a figure
with the autocorrelation curves and the PC1 trace of a few chains.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
from matplotlib.figure import Figure

from boltzkit.checks import choice, integer
from boltzkit.errors import BoltzkitError
from boltzkit.io import trajectory
from boltzkit.io.atomic import atomic_path
from boltzkit.io.outputs import check_outputs
from boltzkit.models.baseline import INDEPENDENT_SITE, baselines
from boltzkit.sampling.choice import SAMPLERS, TEMPERING, TRAJECTORY_TEMPERING
from boltzkit.sampling.gibbs import run_chains
from boltzkit.sampling.mixing import autocorrelation, cluster_jumps, integrated_time, principal_directions
from boltzkit.sampling.tempering import ParallelTempering, adaptive_ladder, most_trajectory_replicas
from boltzkit.training.memory import check_chains_memory, refuse_beyond

__all__ = ["run_mixing", "MAX_FRAMES", "MixingSampler", "mixing_sampler", "training_rows", "cluster_centres"]

#: Recorded states per chain (every ``ceil(steps / MAX_FRAMES)`` steps).
MAX_FRAMES = 1000
_N_PC = 5


def run_mixing(run: str | os.PathLike, data: str | os.PathLike | None = None, sampler: str = "gibbs",
               steps: int = 10000, chains: int = 100, clusters: int | None = None, seed: int = 0,
               figure: str | os.PathLike | None = None, device: str = "cpu") -> dict[str, Any]:
    """Mixing diagnostics of the last model of ``run`` under ``sampler`` (gibbs | pt | ptt) over
    ``steps`` MCMC steps of ``chains`` chains (gibbs chains start at random training rows); the data
    (``data``, read like the run's, or the run's stored rows) give the principal directions and the
    clusters: the labels' centres when the rows have labels, else ``clusters`` k-means centres (2 by
    default) in the space of the first 5 principal components. Returns the JSON keys ``sampler``,
    ``steps``, ``chains``, ``tau_int`` (``configuration``, ``pc1``, ``pc2``: τ and its window, in
    MCMC steps), ``jumps`` (``per_chain`` mean, ``total``, ``clusters``), ``acceptance`` (per pair,
    None for gibbs), ``replicas``, ``passages`` (configurations carried from replica 0 to the
    target, per chain; None for gibbs); writes ``figure`` (PNG) when given."""
    choice(sampler, "--sampler", SAMPLERS)
    steps, chains, seed = integer(steps, "--steps", 2), integer(chains, "--chains", 1), integer(seed, "--seed", 0)
    if figure is not None:
        check_outputs({"--figure": figure}, {"RUN": run, "DATA": data})
    model = trajectory.load_model(run).to(device)
    rows, labels = training_rows(run, data, model)
    stride = math.ceil(steps / MAX_FRAMES)
    frames = steps // stride
    refuse_beyond(4 * frames * chains * model.n_visible, f"--steps {steps} x --chains {chains}: the "
                  f"recorded states ({frames} per chain)", "ask for fewer chains", device)
    if sampler == TRAJECTORY_TEMPERING:  # the start, every checkpoint, the bridges
        check_chains_memory(model, chains, "--chains", device, None,
                            most_trajectory_replicas(trajectory.checkpoints_up_to(run)))
    g = torch.Generator(device=model.device).manual_seed(seed)
    base = baselines(model.visible, rows).get(INDEPENDENT_SITE)
    chosen = mixing_sampler(run, model, sampler, rows, base, chains, g)
    mean, directions = principal_directions(rows, min(_N_PC, model.n_visible))
    states = torch.empty(frames, chains, model.n_visible, dtype=torch.float32)
    for t in range(frames):
        states[t] = chosen.advance(stride).cpu().float()
    result = _diagnostics(states, mean, directions, rows, labels, clusters, stride, steps, chains, sampler,
                          chosen.acceptance(), chosen.replicas, figure, seed)
    passages = chosen.passages()
    result["passages"] = None if passages is None else passages / chains
    return result


def training_rows(run, data, model) -> tuple[torch.Tensor, np.ndarray | None]:
    """(training rows as the model's values, their labels or None): ``data`` read like the run's
    data, else the run's stored rows."""
    if data is not None:
        from boltzkit.data.specs import datasets_like

        train, _ = datasets_like(trajectory.read_config(run), data, data_kind=model.visible.data_kind,
                                 source=run)
        samples, labels = train.samples, train.labels
    else:
        samples, labels, _ = trajectory.read_data_sample(run)
        if samples is None:
            raise BoltzkitError(f"{run}: the run stores no training rows: give DATA")
        samples = model.visible.stored_rows(samples)
    x = model.visible.tensor(np.asarray(samples, dtype=np.float64), torch.float64, model.device)
    return x, labels


class MixingSampler(NamedTuple):
    """``advance(n)``: the target chains' visible states after n more steps; ``acceptance()``:
    the exchange acceptance per pair (None for gibbs); ``replicas``: the models stepped per MCMC
    step; ``passages()``: configurations carried from replica 0 to the target (None for gibbs)."""

    advance: Callable[[int], torch.Tensor]
    acceptance: Callable[[], list | None]
    replicas: int
    passages: Callable[[], float | None]


def mixing_sampler(run, model, sampler, rows, base, chains, g) -> MixingSampler:
    """The ``sampler`` (gibbs | pt | ptt) of ``model`` (the last model of ``run``) with ``chains``
    chains: gibbs from random ``rows``; pt on an adaptive ladder from ``base``; ptt on the run's
    checkpoints after the run's tempering start (the low-rank law of ``--pretrain low-rank``) or
    else ``base``. Exchange counts start after the set-up."""
    if sampler == "gibbs":
        start = rows[torch.randint(len(rows), (chains,), generator=torch.Generator().manual_seed(g.initial_seed()))]
        state = [model.chains_from(start.to(model.dtype))]

        def advance(n: int) -> torch.Tensor:
            state[0] = run_chains(model, state[0], n, g)
            return state[0].visible
        return MixingSampler(advance, lambda: None, 1, lambda: None)
    if sampler == TEMPERING:
        pt = ParallelTempering.on_path(model, adaptive_ladder(model, min(chains, 500), generator=g, base=base),
                                       chains, g, base)
    else:
        pt = ParallelTempering.trajectory(trajectory.tempering_models(run, model, base), chains, g)
    pt.reset_counts()
    return MixingSampler(lambda n: pt.step(n).visible, lambda: [float(a) for a in pt.acceptance],
                         len(pt.replicas), lambda: pt.passages)


def cluster_centres(projections: torch.Tensor, labels: np.ndarray | None, clusters: int | None,
             seed: int) -> torch.Tensor:
    """Cluster centres in the principal-component space: per label, else k-means."""
    if labels is not None and clusters is None and len(np.unique(labels)) > 1:
        values = np.asarray(labels)[: len(projections)]
        return torch.stack([projections[torch.as_tensor(values == v)].mean(0) for v in np.unique(values)])
    from sklearn.cluster import KMeans

    k = integer(2 if clusters is None else clusters, "--clusters", 2)
    fit = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(projections.numpy())
    return torch.as_tensor(fit.cluster_centers_, dtype=torch.float64)


def _diagnostics(states, mean, directions, rows, labels, clusters, stride, steps, chains, sampler,
                 acceptance, replicas, figure, seed) -> dict[str, Any]:
    projections = (states.double() - mean.cpu()) @ directions.cpu()  # (T, chains, k)
    rho_config = autocorrelation(states)
    tau = {"configuration": integrated_time(rho_config)}
    rho_pc = [autocorrelation(projections[:, :, j]) for j in range(min(2, projections.shape[-1]))]
    for j, rho in enumerate(rho_pc):
        tau[f"pc{j + 1}"] = integrated_time(rho)
    centres = cluster_centres(((rows.cpu() - mean.cpu()) @ directions.cpu()), labels, clusters, seed)
    jumps = cluster_jumps(projections, centres)
    result = {"sampler": sampler, "steps": steps, "chains": chains, "stride": stride, "replicas": replicas,
              "tau_int": {name: {"tau": t * stride, "window": m * stride} for name, (t, m) in tau.items()},
              "jumps": {"per_chain": float(jumps.double().mean()), "total": int(jumps.sum()),
                        "clusters": len(centres)},
              "acceptance": acceptance}
    if figure is not None:
        _figure(Path(figure), rho_config, rho_pc, projections, stride, sampler)
    return result


def _figure(path: Path, rho_config, rho_pc, projections, stride, sampler) -> None:
    """Autocorrelation curves (left) and the PC1 trace of 5 chains (right), as a PNG."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    lags = np.arange(len(rho_config)) * stride
    left.plot(lags, rho_config.numpy(), label="configuration")
    for j, rho in enumerate(rho_pc):
        left.plot(lags, rho.numpy(), label=f"PC{j + 1}")
    left.set_xscale("symlog", linthresh=max(1, stride))
    left.set(xlabel="lag (MCMC steps)", ylabel="autocorrelation", title=f"{sampler}: autocorrelation")
    left.axhline(0, color="0.6", lw=0.8)
    left.legend()
    times = np.arange(projections.shape[0]) * stride
    for c in range(min(5, projections.shape[1])):
        right.plot(times, projections[:, c, 0].numpy(), lw=0.8)
    right.set(xlabel="MCMC steps", ylabel="projection on PC1", title=f"{sampler}: PC1 of 5 chains")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
