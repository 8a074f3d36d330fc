"""The report sections every run has, and those of binary and real visible units.

* :func:`summary_section`, :func:`training_curve_section`: every run (with a line per baseline of
  the visible space: independent-site, and full-covariance for real values);
* :func:`samples_section` (image grids when the data have an image shape), :func:`pca_section`,
  :func:`moments_section`: models with binary ({0,1} or ±1) or real visible units — categorical
  models get logos and C_ij(a, b) from :mod:`boltzkit.report.categorical` instead. Real samples
  are shown in the data's units as grey levels: images over the data's range, whole (the columns
  the reader left out put back), other data as standardised values on [-3, 3]
  (:mod:`boltzkit.report.images`; docs/methods.md section 11.6); PCA and moments use the model's
  (standardised) values;
* :func:`weights_section`: receptive fields of models with a layered energy
  (:class:`~boltzkit.models.capabilities.LayeredEnergy`) and binary visible units.

Each builder takes the :class:`~boltzkit.report.context.ReportContext` and returns a
:class:`~boltzkit.report.fragments.Section`, or None when it does not apply to the run.
"""

from __future__ import annotations

import html
import math

import numpy as np

from boltzkit.evaluation.log_partition import LogPartition
from boltzkit.models.capabilities import LayeredEnergy
from boltzkit.report import figures
from boltzkit.report.context import ReportContext
from boltzkit.report.fragments import Section, figure_html, table_html
from boltzkit.report.images import STANDARD_RANGE, data_range, standard_scores

__all__ = ["summary_section", "training_curve_section", "samples_section", "pca_section",
           "moments_section", "weights_section"]


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


def _config_rows(ctx: ReportContext) -> list[tuple[str, object]]:
    """The run's settings, as (setting, value) rows of the summary."""
    model_cfg, training, data = (ctx.config.get("model", {}), ctx.config.get("training", {}),
                                 ctx.config.get("data", {}))
    wall = ctx.checkpoint_info[-1].get("wall_time") if ctx.checkpoint_info else None
    rate = training.get("learning_rate")
    if training.get("lr_schedule", "constant") != "constant":  # first → last update's
        rate = f"{rate} → {training.get('lr_final')} ({training['lr_schedule']})"
    rows = [
        ("model", model_cfg.get("kind")),
        ("visible units N", model_cfg.get("n_visible")),
        ("hidden units", model_cfg.get("n_hidden")),
        ("method", training.get("method")),
        ("Gibbs steps per update k", training.get("gibbs_steps")),
        ("learning rate", rate),
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
        rows.append(("pseudo-likelihood (λ_h, λ_J, solver)",
                     f"{plm.get('lambda_h')}, {plm.get('lambda_J')}, {plm.get('solver')}"))
    if ctx.config.get("alphabet"):
        rows.append(("alphabet (q)", f"{ctx.config['alphabet']} ({len(ctx.config['alphabet'])})"))
    if data.get("path"):
        rows.append(("data file", data["path"]))
        if data.get("test_fraction"):
            rows.append(("test fraction", data["test_fraction"]))
    return rows


def summary_section(ctx: ReportContext) -> Section:
    """The run's configuration and the final numbers of the last model."""
    final = ctx.curve[-1]
    numbers = [("log Z", _log_z_text(final.log_z)),
               ("log-likelihood, train (nats/sample)", final.train),
               ("log-likelihood, test (nats/sample)", final.test)]
    for name, values in ctx.baselines.items():
        numbers += [(f"{name}, train", values["train"]), (f"{name}, test", values["test"])]
    if ctx.moments is not None:
        numbers += [("Pearson r, means", ctx.moments.means_pearson),
                    ("Pearson r, correlations C_ij", ctx.moments.correlations_pearson)]
    numbers += [("train rows scored", None if ctx.baseline_data is None else len(ctx.baseline_data[0])),
                ("test rows scored", None if ctx.test is None else len(ctx.test[0]))]
    body = ('<div class="row">'
            + table_html(_config_rows(ctx), ("setting", "value"), "Configuration")
            + table_html(numbers, ("quantity", "value"), f"Final model (update {ctx.last_update})")
            + "</div>")
    return Section("Summary", body)


def training_curve_section(ctx: ReportContext) -> Section:
    """Log-likelihood along the checkpoints, with a line per baseline of the visible space."""
    points = ctx.curve
    rows = [(p.update, _log_z_text(p.log_z), p.train, p.test) for p in points]
    table = table_html(rows, ("update", "log Z", "train log-lik.", "test log-lik."))
    if ctx.train_x is None:
        return Section("Training curve", "<p>No data in the run: only log Z is shown.</p>" + table)
    if any(p.log_z is None for p in points):
        return Section("Training curve", "<p>log Z cannot be computed for this model (too many "
                                         "configurations to enumerate, no AIS path): no "
                                         "log-likelihood.</p>" + table)
    baseline = {f"{name} ({split})": value for name, values in ctx.baselines.items()
                for split, value in values.items() if value is not None}
    has_test = all(p.test is not None for p in points)
    fig = figures.likelihood_curve([p.update for p in points], [p.train for p in points],
                                   [p.test for p in points] if has_test else None, baseline,
                                   [p.log_z.error for p in points])
    o, last = ctx.options, ctx.curve_settings(ctx.last_update)
    if all(p.log_z.method == "exact" for p in points):
        how = ("log Z is exact (a sum over the discrete units, the Gaussian integral over the "
               "real ones in closed form)." if ctx.real
               else "log Z is exact (enumeration of the smaller layer).")
    elif ctx.tracked_log_z:
        final = "exact" if points[-1].log_z.method == "exact" else f"AIS ({last.ais_chains} chains, {last.ais_steps} temperatures)"
        how = ("log Z followed during training by trajectory AIS (train --track-log-z; error bars: one "
               f"standard error), and for the last checkpoint {final}, as boltzkit evaluate.")
    else:
        how = (f"log Z by AIS from the independent-site model (error bars: one standard error), with "
               f"{o.curve_ais_chains} chains and {o.curve_ais_steps} temperatures, and for the last "
               f"checkpoint {last.ais_chains} chains and {last.ais_steps} temperatures, as boltzkit "
               "evaluate.")
    names = " and ".join(f"the {name} model" for name in ctx.baselines) or "the baselines"
    density = " (densities in the data's units)" if ctx.real else ""
    caption = (f"Mean log p(x) = −F(x) − log Z{density} over {len(ctx.baseline_data[0])} training rows"
               + (f" and {len(ctx.test[0])} test rows" if has_test else "")
               + f", at {len(points)} of the {len(ctx.updates)} checkpoints; the horizontal lines are "
               f"{names}, fitted to the same training rows. {how}")
    return Section("Training curve", figure_html(fig, "log-likelihood along training", caption)
                   + table)


def samples_section(ctx: ReportContext) -> Section | None:
    """Generated samples next to training data (binary or real visible units; categorical ones:
    :func:`boltzkit.report.categorical.sequences_section`)."""
    if ctx.categorical:
        return None
    o = ctx.options
    shown, image_shape, value_range, scale = _shown_samples(ctx)
    n_show = min(100 if image_shape is not None else 60, o.n_samples)
    parts = [figure_html(figures.samples_figure(x, image_shape, n_show, what, value_range), what)
             for what, x in shown if x is not None]
    caption = (f"Generated: {o.n_samples} independent chains of the last model (update "
               f"{ctx.last_update}), {o.gibbs_steps} {ctx.step_name} from {ctx.starts}, seed "
               f"{o.seed}; the first {n_show} are shown. {scale}")
    return Section("Samples", f'<div class="row">{"".join(parts)}</div><p class="caption">'
                              f"{html.escape(caption)}</p>")


def _shown_samples(ctx: ReportContext) -> tuple[list, tuple[int, int] | None,
                                                tuple[float, float] | None, str]:
    """([(title, rows)] of training data and generated samples as drawn, image shape or None,
    grey-scale range or None (binary values), the scale in words)."""
    rows, samples = ctx.data_sample[0], ctx.samples
    if not ctx.real:
        return ([("training data", rows), ("generated samples", samples)], ctx.image_shape, None,
                "Black = 1 (or +1).")
    space = ctx.model.visible
    data = None if rows is None else ctx.file_layout(rows)
    generated = ctx.file_layout(space.to_data(samples))
    shape = ctx.image_shape
    if shape is not None and shape[0] * shape[1] == generated.shape[1]:  # images: data units
        low, high = data_range(generated if data is None else data)
        return ([("training data", data), ("generated samples", generated)], shape, (low, high),
                f"Grey levels in the data's units, {low:.3g} white to {high:.3g} black (the "
                "data's range), values outside clipped.")
    reference = None if rows is None else np.asarray(rows, dtype=np.float64)
    scored = [(what, None if x is None else standard_scores(space, x, reference))
              for what, x in (("training data", rows), ("generated samples", space.to_data(samples)))]
    low, high = STANDARD_RANGE
    return (scored, None, STANDARD_RANGE, f"Standardised values, {low:g} white to {high:g} black, "
            "values outside clipped.")


def pca_section(ctx: ReportContext) -> Section | None:
    """Data and samples on the principal directions of the data (binary or real visible units,
    in the model's values)."""
    if ctx.train_x is None or ctx.categorical:
        return None
    data = ctx.train_x.cpu().numpy()
    fig = figures.pca_figure(data, ctx.samples, ctx.data_sample[1])
    caption = (f"x in {html.escape(ctx.units)}; u<sub>α</sub>: principal directions of the "
               f"{len(data)} stored training rows (centred); N = {data.shape[1]}.")
    return Section("PCA projections", figure_html(fig, "PCA projections", caption))


def moments_section(ctx: ReportContext) -> Section | None:
    """Means and connected correlations of generated samples vs data (binary or real visible
    units, in the model's values)."""
    m = ctx.moments
    if m is None or ctx.categorical:
        return None
    fig = figures.moments_figure(m.data_means, m.model_means, m.data_correlations,
                                 m.model_correlations, ctx.units)
    table = table_html([("means ⟨x_i⟩", m.means_pearson, m.means_slope),
                        ("correlations C_ij", m.correlations_pearson, m.correlations_slope)],
                       ("moment", "Pearson r", "slope (model on data)"))
    caption = None
    if ctx.real and ctx.model.visible.scale is not None:  # standardised on (nearly) these rows
        caption = ("Values standardised on the training rows: the data's means are about 0 by "
                   "construction, so the Pearson r and slope of the means say little; the largest "
                   f"|⟨x_i⟩| of the samples is {float(abs(figures.as_numpy(m.model_means)).max()):.3g}.")
    return Section("Moments", figure_html(fig, "moments of samples vs data",
                                          caption and html.escape(caption)) + table)


def weights_section(ctx: ReportContext) -> Section | None:
    """Receptive fields (images) or a heat map of the weights W (N, H) of a layered energy with
    binary visible units (a note says why it is missing for other binary models)."""
    if ctx.categorical or not ctx.has(LayeredEnergy, "weights", "receptive fields"):
        return None
    w = ctx.model.weights
    if w.shape[-1] == 0:
        return None
    title = "Receptive fields" if ctx.image_shape is not None else "Weights"
    return Section(title, figure_html(figures.weights_figure(w, ctx.image_shape), title.lower()))
