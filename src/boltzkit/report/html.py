"""One self-contained HTML report per run (what ``boltzkit report`` writes).

The page is a list of :class:`Section` objects (a title and an HTML fragment) built by small
functions, the *section builders*, from a shared :class:`ReportContext`. The context reads the run
file once and computes, lazily and only once, what several sections need: the last model, the
stored data sample (in the model's units), the held-out split, the log-likelihood curve along the
checkpoints, generated samples, the moments. Figures are embedded as base64 PNG ``<img>`` tags and
the CSS is inline: the file opens anywhere, offline, with no script and no external resource.
Categorical (Potts) runs swap the binary samples / PCA / moments sections for those of
:mod:`boltzkit.report.categorical` (sequence logos, the C_ij(a,b) scatter, the contact map).

Adding a section
----------------
Write a function that takes the context and returns a :class:`Section`, or ``None`` when it does
not apply to the run (e.g. a contact map for a model without couplings), and register it::

    from boltzkit.report.html import ReportContext, Section, figure_html, register_section

    def contact_map_section(ctx: ReportContext) -> Section | None:
        if ctx.model.kind != "potts-rbm":
            return None
        fig = contact_map_figure(...)           # a function of boltzkit.report.figures
        return Section("Contact map", figure_html(fig, "contact map") + "<p>...</p>")

    register_section(contact_map_section, after=moments_section)

or pass ``builders=[...]`` to :func:`write_report` for a one-off page. Expensive quantities that
several sections share belong on :class:`ReportContext` as ``cached_property`` attributes.
Helpers for the fragments: :func:`figure_html` (a Figure as an embedded PNG), :func:`img_html`
(PNG bytes), :func:`table_html` (rows of cells, escaped).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import LogPartition, LogPartitionUnavailable, log_partition
from boltzkit.evaluation.moments import MomentComparison, compare_categorical_moments, compare_moments
from boltzkit.io import trajectory
from boltzkit.io.atomic import write_text_atomic
from boltzkit.report import figures
from boltzkit.sampling.gibbs import sample

__all__ = ["ReportOptions", "Section", "ReportContext", "CurvePoint", "SECTION_BUILDERS",
           "register_section", "select_checkpoints", "write_report", "render_html",
           "figure_html", "figure_png", "img_html", "table_html", "summary_section",
           "training_curve_section", "samples_section", "pca_section", "moments_section",
           "weights_section"]

DATA_SAMPLE_ROWS = 2000  # rows used for the training log-likelihood, PCA and moments
CATEGORICAL_KINDS = ("potts-rbm", "potts-bm")  # codes 0..q-1: sections of report.categorical


@dataclass
class ReportOptions:
    """Settings of a report.

    curve_points : checkpoints on the log-likelihood curve (evenly spaced in log-update, the last
        one always included).
    ais_chains, ais_steps, ais_runs : AIS settings for log Z when the model is too large for exact
        enumeration (``ais_chains`` in all, split into ``ais_runs`` groups for the error bar).
    n_samples, gibbs_steps : generated samples (from uniformly random starts) and their Gibbs steps.
    seed : seeds AIS and the sampler.
    device : "cpu" or "cuda[:N]".
    landscape, tree : add the TAP free-energy landscape and the TreeRBM tree of ``tree_points``
        stored data rows (the tree walks every checkpoint: the slowest section).
    struct : a ``*_struct.dat`` distance table: Potts runs get a contact-map section (also when the
        run's config names one under ``struct``); ``min_separation`` and ``distance_cutoff`` as in
        ``boltzkit contacts``.
    """

    curve_points: int = 10
    ais_chains: int = 200
    ais_steps: int = 1000
    n_samples: int = 500
    gibbs_steps: int = 1000
    seed: int = 0
    device: str = "cpu"
    ais_runs: int = 10
    landscape: bool = True
    tree: bool = True
    tree_points: int = 300
    struct: str | None = None
    min_separation: int = 5
    distance_cutoff: float = 8.0
    couplings: bool = True  # effective couplings section (report/coupling_figures.py)


@dataclass
class Section:
    """One part of the page: a title (also its table-of-contents entry) and an HTML fragment."""

    title: str
    html: str

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


@dataclass(frozen=True)
class CurvePoint:
    """The model at one checkpoint: its log Z and the mean log-likelihoods (nats per sample)."""

    update: int
    log_z: LogPartition | None  # None: not computable (a large pairwise model)
    train: float | None
    test: float | None


# ------------------------------------------------------------------------------ HTML helpers
def img_html(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def figure_png(fig, dpi: int = 100) -> bytes:
    # metadata={"Software": None}: no version string (and no URL) inside the PNG
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def figure_html(fig, alt: str, caption: str | None = None) -> str:
    """A matplotlib Figure as an embedded PNG, with an optional caption (HTML, not escaped)."""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{img_html(figure_png(fig), alt)}{cap}</figure>"


def table_html(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None,
               caption: str | None = None) -> str:
    """A table of escaped cells; floats are shown with 4 significant decimals."""
    def cell(x: Any) -> str:
        if isinstance(x, float):
            return "—" if math.isnan(x) else f"{x:.4f}"
        return "—" if x is None else html.escape(str(x))

    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    if header:
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{cell(x)}</td>" for x in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)


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
        free = [i for i in range(len(updates)) if i not in chosen]
        chosen.add(min(free, key=lambda i: (abs(logs[i] - target), i)))
    return [updates[i] for i in sorted(chosen)]


# ------------------------------------------------------------------------------ the context
class ReportContext:
    """What the section builders share: the run's config and checkpoints, read at once, and the
    expensive quantities, computed on first use (``cached_property``).

    Data are in the model's units ({0,1} for "bernoulli-rbm", ±1 for "ising-rbm" and "ising-bm",
    float codes 0..q-1 for the categorical kinds "potts-rbm" and "potts-bm").
    ``notes`` collects one-line remarks shown in the summary (e.g. a missing test file).
    """

    def __init__(self, run_path: str | os.PathLike, options: ReportOptions | None = None,
                 progress: Callable[[int], None] | None = None):
        self.run_path = Path(run_path)
        self.options = options or ReportOptions()
        self.progress = progress
        self.config: dict[str, Any] = trajectory.read_config(run_path)
        self.updates: list[int] = trajectory.checkpoint_updates(run_path)
        if not self.updates:
            raise BoltzkitError(f"{run_path}: the run file holds no checkpoint yet")
        self.checkpoint_info: list[dict[str, float]] = trajectory.checkpoint_info(run_path)
        self.notes: list[str] = []

    def _progress(self, percent: float) -> None:
        if self.progress is not None:
            self.progress(int(percent))

    @property
    def device(self) -> torch.device:
        return torch.device(self.options.device)

    @property
    def last_update(self) -> int:
        return self.updates[-1]

    @cached_property
    def model(self):
        """The last saved model, on the report's device."""
        return trajectory.load_model(self.run_path).to(self.device)

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def categorical(self) -> bool:
        """True for Potts models (codes 0..q-1): the binary-only sections step aside."""
        return self.kind in CATEGORICAL_KINDS

    @property
    def units(self) -> str:
        if self.categorical:
            return f"codes 0..{self.model.n_states - 1}"
        return "{-1,+1}" if self.kind in ("ising-rbm", "ising-bm") else "{0,1}"

    def to_units(self, rows: np.ndarray) -> torch.Tensor:
        """{0,1} rows (codes for Potts models) as a tensor in the model's units, dtype and device."""
        from boltzkit.training.run import units_values

        rows = np.asarray(rows, dtype=np.float32)
        values = 2.0 * rows - 1.0 if self.kind == "ising-bm" else units_values(rows, self.kind)
        return torch.as_tensor(values, dtype=self.model.dtype, device=self.device)

    @cached_property
    def datasets(self) -> tuple[Any, Any]:
        """(train, test) Datasets rebuilt from the run's data file, or (None, None) when the
        run does not name one or the file cannot be read (the report goes on without it)."""
        from boltzkit.training.run import run_datasets

        if "data" not in self.config:  # a run fitted from arrays: no file to go back to
            return None, None
        try:
            return run_datasets(self.run_path)
        except (BoltzkitError, OSError, ValueError, KeyError, TypeError) as e:
            self.notes.append(f"no test log-likelihood: the training data cannot be rebuilt "
                              f"({_one_line(e)})")
            return None, None

    @cached_property
    def data_sample(self) -> tuple[np.ndarray | None, np.ndarray | None, tuple[int, int] | None]:
        """(rows in {0,1} as float32 of shape (n, N), labels, image_shape) of the training data:
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
        rows = np.asarray(rows)
        if rows.size and rows.min() < 0:  # a sample stored as ±1
            rows = (rows + 1) // 2
        return rows.astype(np.float32), labels, image_shape

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self.data_sample[2]

    @cached_property
    def train_x(self) -> torch.Tensor | None:
        rows = self.data_sample[0]
        return None if rows is None else self.to_units(rows)

    @cached_property
    def test(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """(test data in the model's units, weights or None), or None without a held-out split."""
        if not self.config.get("data", {}).get("test_fraction"):
            return None
        _, test = self.datasets
        if test is None:
            return None
        if test.samples.shape[1] != self.model.n_visible:
            self.notes.append(f"the test split has {test.samples.shape[1]} columns, the model "
                              f"{self.model.n_visible} visible units: test skipped")
            return None
        w = None if test.weights is None else torch.as_tensor(test.weights, dtype=torch.float64)
        return self.to_units(test.samples), w

    def log_z(self, model) -> LogPartition | None:
        """log Z ("auto": exact or AIS), or None with a note when it cannot be computed."""
        o = self.options
        try:
            return log_partition(model, "auto", n_chains=o.ais_chains, n_steps=o.ais_steps,
                                 n_runs=o.ais_runs, seed=o.seed)
        except LogPartitionUnavailable as e:
            self.notes.append(f"no log-likelihood: {_one_line(e)}")
            return None

    @cached_property
    def curve(self) -> list[CurvePoint]:
        """Log Z and log-likelihoods at up to ``curve_points`` checkpoints (the last included)."""
        chosen = select_checkpoints(self.updates, self.options.curve_points)
        points = []
        for i, update in enumerate(chosen):
            model = (self.model if update == self.last_update
                     else trajectory.load_model(self.run_path, update).to(self.device))
            lz = self.log_z(model)
            train = test = None
            if lz is not None and self.train_x is not None:
                train = log_likelihood(model, self.train_x, lz.value)[0]
            if lz is not None and self.test is not None:
                test = log_likelihood(model, self.test[0], lz.value, self.test[1])[0]
            points.append(CurvePoint(update, lz, train, test))
            self._progress(80 * (i + 1) / len(chosen))
        return points

    @property
    def final(self) -> CurvePoint:
        return self.curve[-1]

    @cached_property
    def baseline_data(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """(rows, weights) the independent-site baseline is fitted to: the whole training set
        when the run's data file can be read (as ``boltzkit evaluate`` does), else the stored
        data sample; None without data."""
        train, _ = self.datasets
        if train is not None and train.samples.shape[1] == self.model.n_visible:
            weights = None if train.weights is None else torch.as_tensor(
                train.weights, dtype=self.model.dtype, device=self.device)
            return self.to_units(train.samples), weights
        return None if self.train_x is None else (self.train_x, None)

    @cached_property
    def baseline(self) -> dict[str, float | None] | None:
        """Log-likelihoods (train: the stored data sample; test) of the independent-site model
        fitted to :attr:`baseline_data`."""
        from boltzkit.evaluation.run_evaluation import independent_site_baseline
        from boltzkit.models.rbm import independent_site_model

        if self.baseline_data is None:
            return None
        rows, weights = self.baseline_data
        if hasattr(self.model, "visible_units"):
            model = independent_site_model(rows, self.model.visible_units, weights)
        elif self.kind in CATEGORICAL_KINDS + ("ising-bm",):
            model = independent_site_baseline(self.model, rows, weights)
        else:
            return None
        lz = model.log_partition_exact()
        out: dict[str, float | None] = {"train": log_likelihood(model, self.train_x, lz)[0],
                                        "test": None}
        if self.test is not None:
            out["test"] = log_likelihood(model, self.test[0], lz, self.test[1])[0]
        return out

    @cached_property
    def samples(self) -> np.ndarray:
        """``n_samples`` configurations of the last model after ``gibbs_steps`` Gibbs steps from
        uniformly random starts, shape (n_samples, N), in the model's units."""
        generator = torch.Generator(device=self.device).manual_seed(self.options.seed)
        x = sample(self.model, self.options.n_samples, self.options.gibbs_steps, generator)
        self._progress(90)
        return x.cpu().numpy()

    @cached_property
    def moments(self) -> MomentComparison | None:
        """Data vs generated-sample moments; for Potts models the one-site frequencies and the
        C_ij(a, b) of the whole reweighted training set (:attr:`baseline_data`)."""
        if self.train_x is None:
            return None
        if self.categorical:
            rows, weights = self.baseline_data
            return compare_categorical_moments(rows, torch.as_tensor(self.samples),
                                               self.model.n_states, weights)
        return compare_moments(self.train_x, torch.as_tensor(self.samples, device=self.device))


def _one_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# ------------------------------------------------------------------------------ sections
def _fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {s:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def _log_z_text(lz: LogPartition | None) -> str:
    if lz is None:
        return "— (not computable)"
    if lz.method == "exact":
        return f"{lz.value:.4f} (exact)"
    return f"{lz.value:.4f} ± {lz.error:.4f} (AIS)"


def summary_section(ctx: ReportContext) -> Section:
    """The run's configuration and the final numbers of the last model."""
    model_cfg, training, data = (ctx.config.get("model", {}), ctx.config.get("training", {}),
                                 ctx.config.get("data", {}))
    wall = ctx.checkpoint_info[-1].get("wall_time") if ctx.checkpoint_info else None
    config_rows = [
        ("model", model_cfg.get("kind")),
        ("visible units N", model_cfg.get("n_visible")),
        ("hidden units", model_cfg.get("n_hidden")),
        ("method", training.get("method")),
        ("Gibbs steps per update k", training.get("gibbs_steps")),
        ("learning rate", training.get("learning_rate")),
        ("optimizer", training.get("optimizer")),
        ("centred gradient", training.get("centered")),
        ("batch size / chains", f"{training.get('batch_size')} / {training.get('n_chains')}"),
        ("updates (last checkpoint)", ctx.last_update),
        ("checkpoints saved", len(ctx.updates)),
        ("training wall time", _fmt_time(None if wall is None else float(wall))),
        ("seed", training.get("seed")),
        ("device / dtype", f"{training.get('device')} / {training.get('dtype')}"),
    ]
    if ctx.config.get("plm"):
        plm = ctx.config["plm"]
        config_rows.append(("pseudo-likelihood (λ_h, λ_J, solver)",
                            f"{plm.get('lambda_h')}, {plm.get('lambda_J')}, {plm.get('solver')}"))
    if ctx.config.get("alphabet"):
        config_rows.append(("alphabet (q)", f"{ctx.config['alphabet']} ({len(ctx.config['alphabet'])})"))
    if data.get("path"):
        config_rows.append(("data file", data["path"]))
        if data.get("test_fraction"):
            config_rows.append(("test fraction", data["test_fraction"]))
    rows_x = ctx.data_sample[0]
    final = ctx.final
    numbers = [("log Z", _log_z_text(final.log_z)),
               ("log-likelihood, train (nats/sample)", final.train),
               ("log-likelihood, test (nats/sample)", final.test)]
    if ctx.baseline is not None:
        numbers += [("independent-site, train", ctx.baseline["train"]),
                    ("independent-site, test", ctx.baseline["test"])]
    if ctx.moments is not None:
        numbers += [("Pearson r, means", ctx.moments.means_pearson),
                    ("Pearson r, correlations C_ij", ctx.moments.correlations_pearson)]
    numbers += [("train rows scored", None if rows_x is None else len(rows_x)),
                ("test rows scored", None if ctx.test is None else len(ctx.test[0]))]
    body = ('<div class="row">'
            + table_html(config_rows, ("setting", "value"), "Configuration")
            + table_html(numbers, ("quantity", "value"), f"Final model (update {ctx.last_update})")
            + "</div>")
    return Section("Summary", body)


def training_curve_section(ctx: ReportContext) -> Section:
    """Log-likelihood along the checkpoints, with the independent-site baseline."""
    points = ctx.curve
    rows = [(p.update, _log_z_text(p.log_z), p.train, p.test) for p in points]
    table = table_html(rows, ("update", "log Z", "train log-lik.", "test log-lik."))
    if ctx.train_x is None:
        return Section("Training curve", "<p>No data in the run: only log Z is shown.</p>" + table)
    if any(p.log_z is None for p in points):
        return Section("Training curve", "<p>log Z cannot be computed for this model (too many "
                                         "configurations to enumerate, no AIS path): no "
                                         "log-likelihood.</p>" + table)
    baseline = None
    if ctx.baseline is not None:
        baseline = {"independent-site (train)": ctx.baseline["train"]}
        if ctx.baseline["test"] is not None:
            baseline["independent-site (test)"] = ctx.baseline["test"]
    has_test = all(p.test is not None for p in points)
    fig = figures.likelihood_curve([p.update for p in points], [p.train for p in points],
                                   [p.test for p in points] if has_test else None, baseline,
                                   [p.log_z.error for p in points])
    o = ctx.options
    if all(p.log_z.method == "exact" for p in points):
        how = "log Z is exact (enumeration of the smaller layer)."
    else:
        how = (f"log Z by AIS ({o.ais_chains} chains, {o.ais_steps} temperatures; error bars: "
               f"standard error over {o.ais_runs} runs).")
    caption = (f"Mean log p(x) = −F(x) − log Z over {len(ctx.train_x)} stored training rows"
               + (f" and {len(ctx.test[0])} test rows" if has_test else "")
               + f", at {len(points)} of the {len(ctx.updates)} checkpoints; the grey lines are "
               f"the independent-site model fitted to {len(ctx.baseline_data[0])} training rows. "
               f"{how}")
    return Section("Training curve", figure_html(fig, "log-likelihood along training", caption)
                   + table)


def samples_section(ctx: ReportContext) -> Section | None:
    """Generated samples next to training data (binary models; Potts models: report.categorical)."""
    if ctx.categorical:
        return None
    o = ctx.options
    n_show = 100 if ctx.image_shape is not None else 60
    parts = []
    if ctx.data_sample[0] is not None:
        parts.append(figure_html(figures.samples_figure(ctx.data_sample[0], ctx.image_shape, n_show,
                                                        "training data"), "training data"))
    parts.append(figure_html(figures.samples_figure(ctx.samples, ctx.image_shape, n_show,
                                                    "generated samples"), "generated samples"))
    caption = (f"Generated: {o.n_samples} independent chains of the last model (update "
               f"{ctx.last_update}), {o.gibbs_steps} block-Gibbs steps from uniformly random "
               f"starts, seed {o.seed}; the first {n_show} are shown. Black = 1 (or +1).")
    return Section("Samples", f'<div class="row">{"".join(parts)}</div><p class="caption">'
                              f"{html.escape(caption)}</p>")


def pca_section(ctx: ReportContext) -> Section | None:
    """Data and samples on the principal directions of the data."""
    if ctx.train_x is None or ctx.categorical:
        return None
    data = ctx.train_x.cpu().numpy()
    fig = figures.pca_figure(data, ctx.samples, ctx.data_sample[1])
    caption = (f"x in {html.escape(ctx.units)}; u<sub>α</sub>: principal directions of the "
               f"{len(data)} stored training rows (centred); N = {data.shape[1]}.")
    return Section("PCA projections", figure_html(fig, "PCA projections", caption))


def moments_section(ctx: ReportContext) -> Section | None:
    """Means and connected correlations of generated samples vs data."""
    m = ctx.moments
    if m is None or ctx.categorical:
        return None
    fig = figures.moments_figure(m.data_means, m.model_means, m.data_correlations,
                                 m.model_correlations, ctx.units)
    table = table_html([("means ⟨x_i⟩", m.means_pearson, m.means_slope),
                        ("correlations C_ij", m.correlations_pearson, m.correlations_slope)],
                       ("moment", "Pearson r", "slope (model on data)"))
    return Section("Moments", figure_html(fig, "moments of samples vs data") + table)


def weights_section(ctx: ReportContext) -> Section | None:
    """Receptive fields (images) or a heat map of the weights."""
    w = ctx.model.parameters().get("weights")
    if w is None or w.ndim != 2 or w.shape[1] == 0:
        return None
    title = "Receptive fields" if ctx.image_shape is not None else "Weights"
    return Section(title, figure_html(figures.weights_figure(w, ctx.image_shape), title.lower()))


SectionBuilder = Callable[[ReportContext], "Section | None"]

#: The builders of the default page, in page order (see the module docstring to add one).
SECTION_BUILDERS: list[SectionBuilder] = [summary_section, training_curve_section, samples_section,
                                          pca_section, moments_section, weights_section]


def register_section(builder: SectionBuilder, after: SectionBuilder | None = None) -> None:
    """Add ``builder`` to the default page, after ``after`` (default: at the end)."""
    if builder in SECTION_BUILDERS:
        return
    if after in SECTION_BUILDERS:
        SECTION_BUILDERS.insert(SECTION_BUILDERS.index(after) + 1, builder)
    else:
        SECTION_BUILDERS.append(builder)


# ------------------------------------------------------------------------------ the page
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1120px;padding:1.2em 1.6em;color:#222;background:#fff;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #ddd;
 padding-bottom:.2em;margin-top:1.6em}
.sub{color:#666;margin:0 0 1em}nav ol{columns:2;margin:.4em 0 1em;padding-left:1.4em}
nav a{color:#1f5fa8;text-decoration:none}
table{border-collapse:collapse;margin:.6em 1.2em .6em 0;font-size:.92em;vertical-align:top;
 max-width:100%}
td{overflow-wrap:anywhere}.row>table{flex:0 1 auto;max-width:540px}
caption{text-align:left;font-weight:600;padding:.2em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f4f6f8}
td:nth-child(n+2){font-variant-numeric:tabular-nums}
.row{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.8em}
figure{margin:.6em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.caption{color:#555;font-size:.9em;max-width:60em}
.notes{color:#8a5a00;font-size:.9em}footer{color:#888;font-size:.85em;margin-top:2em}
"""


def render_html(title: str, sections: Sequence[Section], subtitle: str = "",
                footer: str = "", notes: Sequence[str] = ()) -> str:
    """The page: a title, one-line ``notes`` (what could not be shown and why), a table of
    contents and the sections, with inline CSS only."""
    anchors: dict[str, int] = {}
    toc, body = [], []
    for s in sections:
        anchor = s.anchor
        anchors[anchor] = anchors.get(anchor, 0) + 1
        if anchors[anchor] > 1:
            anchor = f"{anchor}-{anchors[anchor]}"
        toc.append(f'<li><a href="#{anchor}">{html.escape(s.title)}</a></li>')
        body.append(f'<section id="{anchor}"><h2>{html.escape(s.title)}</h2>\n{s.html}\n</section>')
    notes_html = ("<ul class=\"notes\">" + "".join(f"<li>{html.escape(n)}</li>"
                                                   for n in dict.fromkeys(notes)) + "</ul>"
                  if notes else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{html.escape(title)}</h1><p class=\"sub\">{html.escape(subtitle)}</p>"
            f"{notes_html}</header>\n<nav><ol>{''.join(toc)}</ol></nav>\n" + "\n".join(body)
            + f"\n<footer>{html.escape(footer)}</footer>\n</body>\n</html>\n")


def write_report(run_path: str | os.PathLike, out_html: str | os.PathLike,
                 options: ReportOptions | None = None,
                 builders: Sequence[SectionBuilder] | None = None,
                 progress: Callable[[int], None] | None = None) -> Path:
    """Write the HTML report of a run; returns the path written.

    Parameters
    ----------
    run_path : the run file (HDF5) written by training
    out_html : the page to write (atomically: a temporary file, then a rename)
    options : :class:`ReportOptions` (defaults if None)
    builders : the section builders, in page order (default :data:`SECTION_BUILDERS`)
    progress : callable, optional
        Called with a percentage (0-100) as the expensive parts complete.
    """
    from boltzkit import __version__

    options = options or ReportOptions()
    ctx = ReportContext(run_path, options, progress)
    built = (build(ctx) for build in (builders or SECTION_BUILDERS))
    sections = [s for s in built if s is not None]
    opts = ", ".join(f"{k}={v}" for k, v in asdict(options).items())
    text = render_html(f"boltzkit report — {ctx.run_path.name}", sections,
                       f"{ctx.config.get('model', {}).get('kind', 'model')} · run file "
                       f"{ctx.run_path} · {len(ctx.updates)} checkpoints",
                       f"boltzkit {__version__} · report options: {opts}", ctx.notes)
    write_text_atomic(out_html, text)
    if progress is not None:
        progress(100)
    return Path(out_html)


def _optional_landscape_section(ctx: ReportContext) -> Section | None:
    from boltzkit.report.tree_figures import landscape_section

    return landscape_section(ctx) if ctx.options.landscape else None


def _optional_tree_section(ctx: ReportContext) -> Section | None:
    from boltzkit.report.tree_figures import tree_section

    return tree_section(ctx, n_points=ctx.options.tree_points) if ctx.options.tree else None


register_section(_optional_landscape_section, after=weights_section)
register_section(_optional_tree_section, after=_optional_landscape_section)


def _optional_couplings_section(ctx: ReportContext) -> Section | None:
    from boltzkit.report.coupling_figures import couplings_section

    return couplings_section(ctx) if ctx.options.couplings else None


register_section(_optional_couplings_section, after=weights_section)

# the sections of categorical (Potts) runs register themselves (after the names above exist)
from boltzkit.report import categorical as _categorical  # noqa: F401
