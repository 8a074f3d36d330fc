"""The training loop: maximum likelihood with PCD-k, CD-k or Rdm-k.

Written against the :class:`~boltzkit.models.base.EnergyModel` interface: the model gives the
gradient estimate from a minibatch and the negative-phase chains, the trainer owns the chains,
the optimizer, the minibatch order, the checkpoints and the resume state.

Full-batch training (``batch_size`` >= number of samples, as in bmDCA): when the model provides
``data_statistics(data, data_weights)`` (the
:class:`~boltzkit.models.capabilities.MomentMatching` capability) — sufficient statistics of the positive phase that do not
depend on the parameters (pairwise models) — they are computed once here and passed to
``log_likelihood_gradient`` in place of the data at every update. A caller with its own target
statistics (e.g. bmDCA's pseudocounted frequencies) passes them as ``data_statistics=`` instead, and
nothing is computed from the data.

Reproducibility: two generators drive everything — ``data_rng`` (CPU, minibatch order) and
``rng`` (on the model's device, MCMC). Both are saved with the chains, the optimizer state and the
learning-rate scheduler's state (:mod:`boltzkit.training.schedule`), so a resumed run continues
exactly where the saved one stopped.

Data-parallel (:mod:`boltzkit.distributed`): inside a process group of ``world`` > 1
ranks, every rank takes the same minibatches and holds ``n_chains / world`` of the chains (CD: its
part of the minibatch as chain starts), the ranks' gradients are averaged before the identical
update, rank 0 writes the run file with every rank's chains and generator, and the run records its
world size (a resume with another one is refused).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from boltzkit.checks import all_finite
from boltzkit.errors import BoltzkitError, TrainingDiverged
from boltzkit.io import trajectory
from boltzkit.models.base import Chains, EnergyModel
from boltzkit.models.capabilities import (CenteredGradient, Constrained, ExactEnumeration, HiddenLayer,
                                          ExactModelAverage, MomentMatching, Penalised, require)
from boltzkit.models.baseline import independent_site_model
from boltzkit.sampling.gibbs import run_chains
from boltzkit.sampling.tempered_chains import SCHEMES, TemperedChains
from boltzkit.sampling.trajectory_ais import TrajectoryAIS
from boltzkit import distributed
from boltzkit.training.config import TrainingConfig, checkpoint_schedule
from boltzkit.training.memory import refuse_beyond
from boltzkit.training.schedule import make_scheduler


#: Exact training sums 2^k states at every update: at most 2^22 of them.
EXACT_MAX_LOG2 = 22


def _check_exact(model: EnergyModel, config: TrainingConfig) -> None:
    """Refuse ``--method exact`` in one line, before any file is written, when the model cannot
    average exactly or its states per update (every hidden state of an ExactModelAverage model,
    every visible state otherwise) are beyond :data:`EXACT_MAX_LOG2` or the memory."""
    if isinstance(model, ExactModelAverage):
        log2 = model.enumeration_log2_size()
        width = model.n_visible + (model.n_hidden if isinstance(model, HiddenLayer) else 0)
    else:
        require(model, ExactEnumeration, "--method exact")
        log2, width = model.n_visible * math.log2(model.visible.n_states), model.n_visible
    if log2 > EXACT_MAX_LOG2:
        raise BoltzkitError(f"--method exact sums 2^{log2:g} states of this {model.kind} model at "
                            f"every update: at most 2^{EXACT_MAX_LOG2} (fewer units, or pcd)")
    # the states, their products and energies: about 4 copies of 2^k x width in the model's dtype
    need = 4 * (2 ** int(math.ceil(log2))) * width * model.dtype.itemsize
    refuse_beyond(need, f"--method exact ({2 ** int(math.ceil(log2))} states per update)", "use pcd",
                  config.device)


class Trainer:
    """Trains ``model`` in place on ``data`` (shape (n_samples, n_visible), in the model's unit values).

    Parameters
    ----------
    model : EnergyModel
    data : Tensor of shape (n_samples, n_visible)
    config : TrainingConfig
    data_weights : Tensor of shape (n_samples,), optional
        Sample weights (e.g. sequence reweighting); minibatch statistics are weighted.
    out : path, optional
        The run file; created by :meth:`start`, continued by :meth:`resume`.
    run_config : dict, optional
        Extra entries of the run file's config (e.g. ``data``).
    data_statistics : optional
        Full batch only: precomputed positive-phase statistics, in the type of the model's
        ``data_statistics`` (e.g. :class:`~boltzkit.models.statistics.PairwiseStatistics` with
        pseudocounted frequencies), used in place of the data at every update. Default: the
        model's ``data_statistics(data, data_weights)`` when the model has it and the batch is full.
    start : optional
        A law sampled exactly near the starting model (the low-rank mesh law of ``--pretrain
        low-rank``, :class:`~boltzkit.models.mesh_mixture.MeshMixture`): PCD's persistent chains are
        first drawn from it (``--sampler gibbs``), and it is the first replica of ``--sampler ptt``
        in place of the data's independent-site model. Stored in the run file
        (:func:`~boltzkit.io.trajectory.create`).
    """

    def __init__(self, model: EnergyModel, data: Tensor, config: TrainingConfig,
                 data_weights: Tensor | None = None, out: str | os.PathLike | None = None,
                 run_config: dict[str, Any] | None = None, data_statistics: Any | None = None,
                 start: Any = None):
        self.model = model
        self.config = config
        self.device = torch.device(config.device)
        self.data = data.to(self.device)
        self.data_weights = None if data_weights is None else data_weights.to(self.device, data.dtype)
        self.ranks = distributed.current()
        self.run_path = out  # read by every rank (resume); written by rank 0 alone
        self.out = out if self.ranks.writes else None
        self.run_config = dict(run_config or {})
        self.exact_start = None if start is None else start.to(self.device, data.dtype)
        if self.ranks.parallel:
            self.run_config["distributed"] = {"world_size": self.ranks.world}
        # this rank's part of the chains (all of them alone; exact training has none to split)
        cd = config.method == "cd"
        self.chain_part = slice(None) if config.method == "exact" else distributed.share(
            min(config.batch_size, len(data)) if cd else config.n_chains, self.ranks,
            "--batch-size (the minibatch, CD's chain starts)" if cd else "--chains (n_chains)")
        self.params = list(model.parameters().values())
        for p in self.params:
            p.requires_grad_(False)
        optimizer = torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD
        self.optimizer = optimizer(self.params, lr=config.learning_rate)
        # the learning rate of every update (docs/methods.md section 6.6); steps after the optimizer's
        self.scheduler = make_scheduler(self.optimizer, config)
        self.rng = torch.Generator(device=self.device).manual_seed(
            distributed.rank_seed(config.seed, self.ranks))
        self.data_rng = torch.Generator().manual_seed(config.seed + 1)
        # trajectory AIS (--track-log-z): its own stream, so that following log Z leaves the
        # training itself unchanged
        self.tracker: TrajectoryAIS | None = None
        self.track_part = None if not config.track_log_z else distributed.share(
            config.track_log_z, self.ranks, "--track-log-z")
        # --sampler pt | ptt: the negative phase's persistent chains run by replica exchange
        self.tempered = None if config.sampler not in SCHEMES else TemperedChains(
            config.sampler, self._tempering_base(), self.n_local_chains,
            self.rng, ranks=self.ranks)
        self.schedule = set(checkpoint_schedule(config.n_updates, config.n_checkpoints, config.spacing))
        self.update = 0
        self.last_saved: int | None = None  # the update of the last state written to the run file
        self.wall_time = 0.0
        self.last_learning_rate = config.learning_rate  # the step size of the last update
        self.permutation = torch.randperm(len(data), generator=self.data_rng).numpy()
        self.cursor = 0
        self.chains: Chains | None = None
        if config.method == "plm":
            raise ValueError("method 'plm' is pseudo-likelihood maximisation: use "
                             "boltzkit.training.plm.fit_plm, not the Trainer")
        if config.method == "exact":
            _check_exact(model, config)
        full_batch = config.batch_size >= len(data) and isinstance(model, MomentMatching)
        if data_statistics is not None and not full_batch:
            raise ValueError("data_statistics replace the data of full-batch training: they need "
                             "batch_size >= number of samples and a model with data_statistics")
        if data_statistics is None and full_batch:
            data_statistics = model.data_statistics(self.data, self.data_weights)
        self.data_statistics = data_statistics
        # what the model can do, asked once (the loop runs thousands of times)
        self._centering = config.centered and isinstance(model, CenteredGradient)
        self._penalised = model.penalized_parameters if isinstance(model, Penalised) else ("weights",)
        self._constrained = isinstance(model, Constrained)

    # ------------------------------------------------------------------ state
    @property
    def n_local_chains(self) -> int:
        """The persistent chains this rank runs (all of them alone)."""
        return len(range(self.config.n_chains)[self.chain_part])

    def _state(self) -> dict[str, Any]:
        """What a resume needs; in a process group, every rank's chains (in rank order) and
        generator (``rank_rngs``), gathered (a collective: every rank calls it)."""
        visible, hidden = (None, None) if self.chains is None else (self.chains.visible, self.chains.hidden)
        ranks = self.ranks
        if ranks.parallel and visible is not None:
            visible = distributed.gather(visible, ranks)
            hidden = None if hidden is None else distributed.gather(hidden, ranks)
        rank_rngs = None if not ranks.parallel else distributed.gather(
            self.rng.get_state().to(self.device).unsqueeze(0), ranks, "gathering the generators").cpu()
        track = {} if self.tracker is None else {
            f"track_{name}": distributed.gather(
                t.to(self.device).unsqueeze(0) if name == "rng" else t.to(self.device),
                ranks, "gathering the log Z chains").cpu()
            for name, t in self.tracker.state().items()}
        tempered = {} if self.tempered is None else {
            f"tempering_{name}": t if name.startswith(TemperedChains.SHARED) else
            distributed.gather(t.to(self.device), ranks, "gathering the tempering chains").cpu()
            for name, t in self.tempered.state().items()}
        return {**track, **tempered, "chains": visible, "chains_hidden": hidden, "rank_rngs": rank_rngs,
                "rng": self.rng.get_state(), "data_rng": self.data_rng.get_state(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "permutation": self.permutation, "cursor": self.cursor}

    def start(self, data_sample: np.ndarray | None = None, labels: np.ndarray | None = None,
              image_shape: tuple[int, int] | None = None) -> None:
        """Create the run file with the config and the initial model (update 0 is not saved)."""
        if self.out is not None:
            config = dict(self.run_config, model=self.model.config(), training=self.config.to_dict())
            trajectory.create(self.out, config, data_sample, labels, image_shape,
                              tempering_start=self.exact_start)
        if self.exact_start is not None and self.config.method == "pcd" and self.tempered is None:  # the first persistent chains
            self.chains = Chains(self.exact_start.init_chains(self.n_local_chains, self.rng).visible)
        if self.track_part is not None:  # log Z of the starting model, by temperature AIS
            n = len(range(self.config.track_log_z)[self.track_part])
            self.tracker = TrajectoryAIS.start(self.model, n, self._track_generator(), self._base())

    def _base(self) -> Any:
        """The data's independent-site model (float64): where annealing and tempering start."""
        return independent_site_model(self.model.visible, self.data, self.data_weights)

    def _tempering_base(self) -> Any:
        """The first replica of --sampler pt | ptt: the data's independent-site model (pt's
        annealing path starts there), or for ptt the exact start when the run has one."""
        if self.config.sampler == "ptt" and self.exact_start is not None:
            return self.exact_start
        return self._base().to(self.device, self.data.dtype)

    def _track_generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(
            distributed.rank_seed(self.config.seed + 2, self.ranks))

    def resume(self) -> None:
        """Load the state saved in the run file and continue from it.

        The learning-rate scheduler is restored exactly. When the run's total number of updates
        has changed since the save (``--resume --updates N``), a decaying schedule is recomputed
        over the new total: the next update uses the rate that a run of N updates uses at that
        update (docs/methods.md section 6.6).
        """
        state = trajectory.read_state(self.run_path)
        stored = trajectory.read_config(self.run_path).get("distributed", {}).get("world_size", 1)
        if stored != self.ranks.world:
            raise BoltzkitError(f"{self.run_path}: the run was trained by {stored} process"
                                f"{'es' if stored > 1 else ''}; resume it with {stored} (now "
                                f"{self.ranks.world}: the chains and generators are split per process)")
        for name, tensor in self.model.parameters().items():
            tensor.copy_(state.params[name].to(tensor.device, tensor.dtype))
        self.optimizer.load_state_dict(state.optimizer)
        if state.scheduler is None:
            # a run file written before schedules existed: its runs had a constant learning rate
            self.scheduler.load_state_dict(dict(self.scheduler.state_dict(), last_epoch=state.update))
        else:
            self.scheduler.load_state_dict(state.scheduler)
        factor = self.scheduler.lr_lambdas[0]
        if factor.n_updates != self.config.n_updates:
            if self.config.lr_schedule == "constant":
                factor.n_updates = self.config.n_updates  # η does not depend on it
            else:
                self.scheduler = make_scheduler(self.optimizer, self.config, done=state.update)
        # (a row of rank_rngs is copied: set_state reads a tensor from the start of its storage)
        self.rng.set_state(state.rng if state.rank_rngs is None else state.rank_rngs[self.ranks.rank].clone())
        self.data_rng.set_state(state.data_rng)
        self.permutation = state.permutation
        self.cursor = state.cursor
        self.update = state.update
        self.wall_time = state.wall_time
        if state.track is not None:
            self.tracker = self._tracker_from(state.track)
        if state.tempering is not None and self.tempered is not None:
            self.tempered.restore(state.tempering, self.model, self.chain_part, self.ranks.rank)
        if state.chains is not None:  # this rank's part of the stored chains
            part = self.chain_part if self.ranks.parallel else slice(None)
            hidden = None if state.chains_hidden is None else \
                state.chains_hidden[part].to(self.device, self.data.dtype)
            self.chains = Chains(state.chains[part].to(self.device, self.data.dtype), hidden)

    def _tracker_from(self, stored: dict[str, Tensor]) -> TrajectoryAIS:
        """This rank's part of the stored trajectory-AIS population."""
        groups, rank = len(stored["log_z0"]) // self.ranks.world, self.ranks.rank
        own = {"chains": stored["chains"][self.track_part], "log_w": stored["log_w"][self.track_part],
               "log_z0": stored["log_z0"][rank * groups:(rank + 1) * groups], "rng": stored["rng"][rank]}
        return TrajectoryAIS.from_state(own, self._track_generator(), self.device, self.data.dtype)

    def save(self, checkpoint: bool) -> None:
        """Write a checkpoint and/or the resume state (rank 0; in a process group every rank
        calls it, for the gathering of the chains)."""
        if self.run_path is None:
            return
        state = self._state()
        self.last_saved = self.update
        log_z = None
        if checkpoint and self.tracker is not None:  # a collective: every rank estimates
            estimate = self.tracker.estimate(self.ranks)
            log_z = {"log_z": estimate.log_z, "log_z_error": estimate.error}
        if self.out is not None:
            trajectory.append(self.out, self.update, self.model.parameters(), self.wall_time,
                              self.last_learning_rate, checkpoint, state, log_z)

    # ------------------------------------------------------------------ loop
    def _next_batch(self) -> tuple[Tensor, Tensor | None]:
        n, b = len(self.data), min(self.config.batch_size, len(self.data))
        if self.cursor + b > n:
            self.permutation = torch.randperm(n, generator=self.data_rng).numpy()
            self.cursor = 0
        idx = torch.from_numpy(self.permutation[self.cursor:self.cursor + b]).to(self.device)
        self.cursor += b
        # index_select: the same rows as data[idx], about twice as fast on CPU
        weights = None if self.data_weights is None else self.data_weights.index_select(0, idx)
        return self.data.index_select(0, idx), weights

    def _negative_chains(self, batch: Tensor) -> Chains:
        method = self.config.method
        if method == "exact":
            if isinstance(self.model, ExactModelAverage):  # e.g. every hidden state of a Gaussian RBM
                return self.model.exact_chains()
            # the exact model average: every visible state weighted by p(v) = exp(-F(v)) / Z
            states = self.model.enumerate_visible()
            return Chains(states, None, torch.softmax(-self.model.free_energy(states), 0))
        if method == "cd":
            return self.model.chains_from(batch[self.chain_part])
        if method == "rdm" or self.chains is None:
            return self.model.init_chains(self.n_local_chains, self.rng)
        return self.chains

    @torch.no_grad()
    def step(self) -> None:
        """One parameter update."""
        if self.tracker is not None:
            self.tracker.before(self.model)  # a step of the chains under the model before the update
        batch, weights = self._next_batch()
        if self.tempered is not None:
            chains = self.tempered.run(self.model, self.config.gibbs_steps)
        else:
            chains = self._negative_chains(batch)
            if self.config.method != "exact":
                chains = run_chains(self.model, chains, self.config.gibbs_steps, self.rng)
        if self.config.method == "pcd":
            self.chains = chains
        positive = batch if self.data_statistics is None else self.data_statistics
        # Models with a centered parametrisation: the optimizer works on the centered parameters
        # and its step is mapped back afterwards (a centered *gradient* handed to Adam, or
        # penalised after its bias corrections, does not ascend the penalised likelihood).
        centering = self.model.centering(batch, weights) if self._centering else None
        extra = {}
        if positive is batch and centering is not None and centering.data_hidden is not None:
            extra["data_hidden"] = centering.data_hidden  # <h|v> of the batch, computed once
        grads = self.model.log_likelihood_gradient(positive, chains, weights,
                                                   self.config.centered and centering is None,
                                                   **extra)
        if self.config.method != "exact":  # the ranks' chains: the mean of their gradients
            distributed.average(grads, self.ranks)
        if self.config.l1 or self.config.l2:
            params = self.model.parameters()
            for name in self._penalised:
                if name in grads:
                    w = params[name]
                    grads[name] -= self.config.l2 * w + self.config.l1 * torch.sign(w)
        if centering is not None:
            grads = centering.to_centered(grads)
            previous = {name: p.clone() for name, p in self.model.parameters().items()}
        for name, p in self.model.parameters().items():
            p.grad = -grads[name]  # the optimizers minimise; we ascend the log-likelihood
        self.last_learning_rate = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        if centering is not None:
            centering.restore(self.model.parameters(), previous)
        if self._constrained:
            self.model.after_update()  # e.g. re-impose a gauge
        if self.tracker is not None:
            self.tracker.after(self.model)  # the weights follow the update
        self.update += 1

    def _check_finite(self) -> None:
        """Stop a diverging run before a non-finite model is saved (the file keeps the last good one)."""
        if all_finite(self.params):
            return
        kept = "nothing was saved" if self.last_saved is None else \
            f"{self.out} keeps the state of update {self.last_saved}"
        raise TrainingDiverged(f"training diverged at update {self.update}: the parameters are no "
                               f"longer finite ({kept}); lower --lr or add --l2")

    def run(self, on_update: Callable[[int], None] | None = None,
            stop_after: int | None = None) -> EnergyModel:
        """Train until ``n_updates`` (or until ``stop_after`` updates, to simulate interruptions)."""
        end = self.config.n_updates if stop_after is None else min(stop_after, self.config.n_updates)
        save_every = self.config.save_every
        while self.update < end:
            t0 = time.perf_counter()
            self.step()
            self.wall_time += time.perf_counter() - t0
            self._check_finite()
            is_checkpoint = self.update in self.schedule
            if is_checkpoint or (save_every and self.update % save_every == 0):
                self.save(checkpoint=is_checkpoint)
            if on_update is not None:
                on_update(self.update)
        return self.model
