"""What the sections of a report share: the run, its data and the quantities computed once.

:class:`ReportContext` reads the run file once and computes, lazily and only once, what several
sections need: the last model, the stored data sample (as the model's values), the held-out split,
the log-likelihood curve along the checkpoints, generated samples, the moments. Everything that
depends on the model goes through what the model declares: its visible space
(:class:`~boltzkit.models.visible.VisibleSpace`: data values -> model values, the moments to
compare, the independent-site baseline) and its capabilities (:mod:`boltzkit.models.capabilities`).

Real visible values (docs/methods.md section 11.6): the stored data rows are in the data's units,
over the columns the model sees; :meth:`ReportContext.file_layout` puts the columns the reader left
out back (the run's stored data spec), so that images are drawn whole; the model's values, hence
PCA and moments, are standardised (unless the run turned standardisation off).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from boltzkit.checks import integer, number
from boltzkit.data.specs import DATA_SAMPLE_ROWS, spec_from_config
from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.log_partition import LogPartition, LogPartitionUnavailable, resolve_method
from boltzkit.evaluation.moments import MomentComparison, compare_categorical_moments, compare_moments
from boltzkit.evaluation.run_evaluation import TRACKED, LikelihoodSettings, run_likelihoods
from boltzkit.io import trajectory
from boltzkit.models.capabilities import HiddenLayer, SamplerVariants, require
from boltzkit.sampling.gibbs import sample

__all__ = ["ReportOptions", "CurvePoint", "ReportContext", "select_checkpoints", "one_line"]


@dataclass
class ReportOptions:
    """Settings of a report.

    curve_points : checkpoints on the log-likelihood curve (evenly spaced in log-update, the last
        one always included).
    ais_chains, ais_steps, ais_runs : AIS settings for log Z of the last model when it is too
        large for exact enumeration (``ais_chains`` in all, split into ``ais_runs`` groups for the
        error bar): ``boltzkit evaluate``'s defaults, so that both give (and share, through the
        run file) the same numbers.
    curve_ais_chains, curve_ais_steps : the cheaper AIS of the earlier checkpoints of the curve.
    n_samples, gibbs_steps : generated samples (from the model's random starts: uniform, Gaussian
        noise for real values) and their Monte Carlo steps.
    seed : seeds AIS and the sampler.
    device : "cpu" or "cuda[:N]".
    landscape, tree : add the TAP free-energy landscape and the TreeRBM tree of ``tree_points``
        stored data rows (the tree walks every checkpoint: the slowest section).
    struct : a ``*_struct.dat`` distance table: categorical runs get a contact-map section (also
        when the run's config names one under ``struct``); ``min_separation`` and
        ``distance_cutoff`` as in ``boltzkit contacts``.
    couplings : the effective-couplings section (:mod:`boltzkit.report.coupling_figures`).
    """

    curve_points: int = 10
    ais_chains: int = 1000
    ais_steps: int = 5000
    n_samples: int = 500
    gibbs_steps: int = 1000
    seed: int = 0
    device: str = "cpu"
    ais_runs: int = 10
    curve_ais_chains: int = 200
    curve_ais_steps: int = 1000
    landscape: bool = True
    tree: bool = True
    tree_points: int = 300
    struct: str | None = None
    min_separation: int = 5
    distance_cutoff: float = 8.0
    couplings: bool = True

    def __post_init__(self) -> None:
        """The one-line errors of ``boltzkit report``, naming its flags."""
        for name, minimum in (("curve_points", 1), ("ais_chains", 1), ("ais_steps", 1), ("ais_runs", 1),
                              ("curve_ais_chains", 1), ("curve_ais_steps", 1),
                              ("n_samples", 1), ("gibbs_steps", 0), ("seed", 0), ("tree_points", 1),
                              ("min_separation", 1)):
            flag = "--samples" if name == "n_samples" else "--" + name.replace("_", "-")
            integer(getattr(self, name), flag, minimum)
        number(self.distance_cutoff, "--distance-cutoff", 0.0, low_open=True)


@dataclass(frozen=True)
class CurvePoint:
    """The model at one checkpoint: its log Z and the mean log-likelihoods (nats per sample)."""

    update: int
    log_z: LogPartition | None  # None: not computable (a large pairwise model)
    train: float | None
    test: float | None


def select_checkpoints(updates: Sequence[int], n: int) -> list[int]:
    """At most ``n`` of the saved ``updates``, evenly spaced in log(update), the last included.

    Each target of a uniform grid in log(update) takes the nearest saved update not taken yet.
    """
    updates = sorted(set(int(u) for u in updates))
    if n >= len(updates):
        return updates
    if n <= 1:
        return updates[-1:]
    logs = np.log(np.maximum(np.asarray(updates, dtype=float), 1.0))
    chosen = {len(updates) - 1}
    for target in np.linspace(logs[0], logs[-1], n)[:-1]:
        chosen.add(min(set(range(len(updates))) - chosen, key=lambda i: (abs(logs[i] - target), i)))
    return [updates[i] for i in sorted(chosen)]


def one_line(e: BaseException) -> str:
    """The first line of an error's message (its type when it has none), for a note."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class ReportContext:
    """What the section builders share: the run's config and checkpoints, read at once, and the
    expensive quantities, computed on first use (``cached_property``).

    Data are given as the model's values (``model.visible``: {0,1} for bernoulli units, ±1 for
    spins, float codes 0..q-1 for categorical units, standardised values for real units unless the
    run turned standardisation off). ``notes`` collects one-line remarks shown at the top of the
    page (e.g. a missing test file, a section the model has no capability for).
    """

    def __init__(self, run_path: str | os.PathLike, options: ReportOptions | None = None,
                 progress: Callable[[int], None] | None = None):
        self.run_path = Path(run_path)
        self.options = options or ReportOptions()
        self.device = torch.device(self.options.device)
        self.progress = progress or (lambda percent: None)
        self.config: dict[str, Any] = trajectory.read_config(run_path)
        self.updates: list[int] = trajectory.checkpoint_updates(run_path)
        if not self.updates:
            raise BoltzkitError(f"{run_path}: the run file holds no checkpoint yet")
        self.last_update = self.updates[-1]
        self.checkpoint_info: list[dict[str, float]] = trajectory.checkpoint_info(run_path)
        self.notes: list[str] = []

    @cached_property
    def model(self):
        """The last saved model, on the report's device."""
        return trajectory.load_model(self.run_path).to(self.device)

    @property
    def categorical(self) -> bool:
        """True for categorical visible units (codes 0..q-1): logos and sequences instead of
        image grids, PCA and binary moments."""
        return self.model.visible.categorical

    @property
    def real(self) -> bool:
        """True for real visible values (grey levels and data units instead of {0,1})."""
        return self.model.visible.real

    @property
    def units(self) -> str:
        """The model's visible values, as shown in captions."""
        space = self.model.visible
        if space.real:
            return "standardised values" if space.scale is not None else "real values"
        if space.categorical:
            return f"codes 0..{space.n_states - 1}"
        return "{-1,+1}" if space.name == "spin" else "{0,1}"

    @property
    def starts(self) -> str:
        """Where the generated chains start, in captions: the model's random starts (Gaussian
        noise for real values, docs/methods.md section 11.4; uniformly random configurations
        otherwise)."""
        return "Gaussian noise starts" if self.model.visible.real else "uniformly random starts"

    @property
    def step_name(self) -> str:
        """What one Monte Carlo step of the model is, in captions: a step of the variant the model
        runs (capability SamplerVariants, e.g. gibbs-langevin) unless it is the plain one, else a
        block-Gibbs step (hidden and visible layer) for models with a hidden layer, else a sweep
        over the sites."""
        model = self.model
        if isinstance(model, SamplerVariants) and model.sampler_name != model.samplers[0]:
            return f"{model.sampler_name} steps"
        return "block-Gibbs steps" if isinstance(model, HiddenLayer) else "sweeps"

    def has(self, capability: type, section: str, purpose: str) -> bool:
        """Whether the model has ``capability``; if not, a note on the page says why ``section``
        is missing (the family and what it lacks, :func:`~boltzkit.models.capabilities.require`),
        ``purpose`` being what needs the capability."""
        try:
            require(self.model, capability, purpose)
        except BoltzkitError as e:
            self.notes.append(f"no {section} section: {one_line(e)}")
            return False
        return True

    def model_values(self, rows: np.ndarray) -> torch.Tensor:
        """Data values (shape (n, N): {0,1}, or codes) as a tensor of the model's values, dtype
        and device."""
        return self.model.visible.tensor(np.asarray(rows), self.model.dtype, self.device)

    @cached_property
    def datasets(self) -> tuple[Any, Any]:
        """(train, test) Datasets rebuilt from the run's data file, or (None, None) when the
        run does not name one or the file cannot be read (the report goes on without it)."""
        if "data" not in self.config:  # a run fitted from arrays: no file to go back to
            return None, None
        try:
            return trajectory.run_datasets(self.run_path)
        except (BoltzkitError, OSError, ValueError, KeyError, TypeError) as e:
            self.notes.append(f"no test log-likelihood: the training data cannot be rebuilt "
                              f"({one_line(e)})")
            return None, None

    @cached_property
    def data_sample(self) -> tuple[np.ndarray | None, np.ndarray | None, tuple[int, int] | None]:
        """(data values as float32 of shape (n, N), labels, image_shape) of the training data:
        the sample stored in the run file, else the first rows of the rebuilt training set."""
        rows, labels, image_shape = trajectory.read_data_sample(self.run_path)
        if rows is None:
            train, _ = self.datasets
            if train is None:
                self.notes.append("no data stored in the run file: no log-likelihood, PCA or "
                                  "moments")
                return None, None, None
            rows, labels, image_shape = (train.samples[:DATA_SAMPLE_ROWS], train.labels,
                                         train.image_shape)
            labels = None if labels is None else labels[:DATA_SAMPLE_ROWS]
        return self.model.visible.stored_rows(rows).astype(np.float32), labels, image_shape

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """The data file's image shape (its columns; see :meth:`file_layout`), or None."""
        return self.data_sample[2]

    @cached_property
    def _data_spec(self) -> Any:
        """The run's stored data spec, or None (a run fitted from arrays, or a spec that cannot
        be read: the rows are then shown as the model sees them)."""
        if "data" not in self.config:
            return None
        try:
            return spec_from_config(self.config, self.run_path)
        except BoltzkitError as e:
            self.notes.append(f"rows shown as the model sees them: {one_line(e)}")
            return None

    def file_layout(self, rows: np.ndarray) -> np.ndarray:
        """Rows in the data's units over the model's columns, shape (n, N), in the data file's
        layout (the stored spec's ``expand``: columns the reader left out hold their value; the
        rows themselves without a spec)."""
        spec = self._data_spec
        return np.asarray(rows) if spec is None else spec.expand(np.asarray(rows))

    @cached_property
    def train_x(self) -> torch.Tensor | None:
        """The stored data sample as the model's values, or None without data."""
        rows = self.data_sample[0]
        return None if rows is None else self.model_values(rows)

    @cached_property
    def test(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """(test data as the model's values, weights or None), or None without a held-out split."""
        test = self.datasets[1] if self.config.get("data", {}).get("test_fraction") else None
        if test is None:
            return None
        if test.samples.shape[1] != self.model.n_visible:
            self.notes.append(f"the test split has {test.samples.shape[1]} columns, the model "
                              f"{self.model.n_visible} visible units: test skipped")
            return None
        w = None if test.weights is None else torch.as_tensor(test.weights, dtype=torch.float64)
        return self.model_values(test.samples), w

    @cached_property
    def curve(self) -> list[CurvePoint]:
        """Log Z ("auto": exact or AIS; None with a note when it cannot be computed) and
        log-likelihoods of :attr:`baseline_data` at up to ``curve_points`` checkpoints (the last
        included), by :func:`~boltzkit.evaluation.run_evaluation.run_likelihoods`: the last
        checkpoint with ``--ais-*``, ``boltzkit evaluate``'s settings (the numbers it prints, reused
        from the run file when it stored them), the others with the cheaper ``--curve-ais-*``, or
        the values followed in training when the run has them (``train --track-log-z``)."""
        o = self.options
        chosen = select_checkpoints(self.updates, o.curve_points)
        points = []
        for i, update in enumerate(chosen):
            model = (self.model if update == self.last_update
                     else trajectory.load_model(self.run_path, update).to(self.device))
            r = self.likelihoods(update, model)
            lz = None if r["log_z_method"] is None else LogPartition(r["log_z"], r["log_z_error"],
                                                                     r["log_z_method"])
            points.append(CurvePoint(update, lz, r["log_likelihood"]["train"], r["log_likelihood"]["test"]))
            self.progress(int(80 * (i + 1) / len(chosen)))
        return points

    def curve_settings(self, update: int) -> LikelihoodSettings:
        """The settings of the log Z at ``update``: ``--ais-*`` (``evaluate``'s) for the last
        checkpoint, ``--curve-ais-*`` for the others."""
        o = self.options
        if update == self.last_update:
            return LikelihoodSettings("auto", o.ais_chains, o.ais_steps, o.ais_runs, o.seed)
        if self.tracked_log_z:  # followed along training (train --track-log-z): free
            return LikelihoodSettings(TRACKED, o.curve_ais_chains, o.curve_ais_steps, o.ais_runs, o.seed)
        return LikelihoodSettings("auto", o.curve_ais_chains, o.curve_ais_steps, o.ais_runs, o.seed)

    @cached_property
    def tracked_log_z(self) -> bool:
        """Whether the curve shows the log Z followed in training: the run has it at every
        checkpoint (``train --track-log-z``) and the model is too large for the exact one."""
        tracked = bool(self.checkpoint_info) and all("log_z" in i for i in self.checkpoint_info)
        try:
            exact = resolve_method(self.model, "auto") == "exact"
        except LogPartitionUnavailable:
            exact = False
        return tracked and not exact

    def likelihoods(self, update: int, model) -> dict[str, Any]:
        """:func:`~boltzkit.evaluation.run_evaluation.run_likelihoods` of the model at ``update``
        on :attr:`baseline_data` (stored in the run file when they are the run's own rows)."""
        own = self.datasets[0] is not None and "source" not in self.config  # the run's own rows
        r = run_likelihoods(self.run_path, update, model, self.baseline_data, self.test,
                            self.curve_settings(update), store=own)
        if r["log_z_method"] is None and r.get("log_z_unavailable"):
            note = f"no log-likelihood: {one_line(BoltzkitError(r['log_z_unavailable']))}"
            if note not in self.notes:
                self.notes.append(note)
        return r

    @cached_property
    def baseline_data(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """(rows as the model's values, float64 weights or None) the likelihoods are averaged over
        and the independent-site baseline is fitted to: the whole training set when the run's data
        file can be read (as ``boltzkit evaluate`` does), else the stored data sample; None
        without data."""
        train, _ = self.datasets
        if train is not None and train.samples.shape[1] == self.model.n_visible:
            weights = None if train.weights is None else torch.as_tensor(
                train.weights, dtype=torch.float64, device=self.device)
            return self.model_values(train.samples), weights
        return None if self.train_x is None else (self.train_x, None)

    @cached_property
    def baselines(self) -> dict[str, dict[str, float | None]]:
        """Log-likelihoods (train, test) of every baseline of the model's visible space
        (:func:`boltzkit.models.baseline.baselines`: "independent-site", and "full-covariance" for
        real values) fitted to :attr:`baseline_data`, by name; empty without data."""
        if self.baseline_data is None:
            return {}
        r = self.likelihoods(self.last_update, self.model)
        return r.get("baseline_log_likelihood") or {"independent-site": r["independent_site_log_likelihood"]}

    @cached_property
    def samples(self) -> np.ndarray:
        """``n_samples`` configurations of the last model after ``gibbs_steps`` Monte Carlo steps
        from its random starts (:attr:`starts`), shape (n_samples, N), as the model's values."""
        generator = torch.Generator(device=self.device).manual_seed(self.options.seed)
        x = sample(self.model, self.options.n_samples, self.options.gibbs_steps, generator)
        self.progress(90)
        return x.cpu().numpy()

    @cached_property
    def moments(self) -> MomentComparison | None:
        """Data vs generated-sample moments; for categorical models the one-site frequencies and
        the C_ij(a, b) of the whole reweighted training set (:attr:`baseline_data`)."""
        if self.train_x is None:
            return None
        if self.categorical:
            rows, weights = self.baseline_data
            return compare_categorical_moments(rows, torch.as_tensor(self.samples),
                                               self.model.visible.n_states, weights)
        return compare_moments(self.train_x, torch.as_tensor(self.samples, device=self.device))
