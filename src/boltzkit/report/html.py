"""One self-contained HTML report per run (what ``boltzkit report`` writes).

The page is a list of :class:`~boltzkit.report.fragments.Section` objects (a title and an HTML
fragment) built by small functions, the *section builders*, from a shared
:class:`~boltzkit.report.context.ReportContext`. Figures are embedded as base64 PNG ``<img>``
tags and the CSS is inline: the file opens anywhere, offline, with no script and no external
resource.

Every run goes through the same page, whatever its model: each builder looks at what the model
declares (its visible space ``model.visible`` and its capabilities,
:mod:`boltzkit.models.capabilities`) and returns ``None`` when it does not apply, with a note on
the page when a capability it needs is missing. The builders live in section modules that this
module imports (the dependencies go one way: fragments <- context <- sections <- page):

* :mod:`boltzkit.report.sections` — summary, training curve, and for binary visible units the
  samples (image grids when the data have an image shape), PCA, moments and receptive fields;
* :mod:`boltzkit.report.categorical` — for categorical visible units: sequence logos, the
  C_ij(a, b) scatter, the contact map;
* :mod:`boltzkit.report.coupling_figures` — effective couplings against a generating Hamiltonian;
* :mod:`boltzkit.report.tree_figures` — TAP landscape and TreeRBM hierarchy (layered energies).

Adding a section
----------------
Write a function that takes the context and returns a ``Section``, or ``None`` when it does not
apply to the run (ask the model for a capability, never for its kind), and register it::

    from boltzkit.models.capabilities import LayeredEnergy
    from boltzkit.report.fragments import Section, table_html
    from boltzkit.report.html import register_section
    from boltzkit.report.sections import weights_section

    def hidden_bias_section(ctx) -> Section | None:
        if not isinstance(ctx.model, LayeredEnergy):   # RBMs of every visible kind
            return None
        rows = [(j, float(c)) for j, c in enumerate(ctx.model.hidden_bias.cpu())]
        return Section("Hidden biases", table_html(rows, ("hidden unit j", "bias c_j")))

    register_section(hidden_bias_section, after=weights_section)

or pass ``builders=[...]`` to :func:`write_report` for a one-off page. Expensive quantities that
several sections share belong on ``ReportContext`` as ``cached_property`` attributes.
Helpers for the fragments (:mod:`boltzkit.report.fragments`): :func:`figure_html` (a Figure as
an embedded PNG), :func:`img_html` (PNG bytes), :func:`table_html` (rows of cells, escaped).
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from boltzkit import __version__
from boltzkit.errors import DataError
from boltzkit.evaluation.contacts import read_struct, require_eligible_pairs
from boltzkit.io.atomic import write_text_atomic
from boltzkit.io.outputs import check_outputs
from boltzkit.report.categorical import contact_map_section, correlations_section, sequences_section
from boltzkit.report.context import CurvePoint, ReportContext, ReportOptions, select_checkpoints
from boltzkit.report.coupling_figures import couplings_section
from boltzkit.report.fragments import Section, figure_html, figure_png, img_html, table_html
from boltzkit.report.sections import (moments_section, pca_section, samples_section,
                                      summary_section, training_curve_section, weights_section)
from boltzkit.report.tree_figures import landscape_section, tree_section

__all__ = ["ReportOptions", "Section", "ReportContext", "CurvePoint", "SECTION_BUILDERS",
           "register_section", "select_checkpoints", "write_report", "render_html",
           "figure_html", "figure_png", "img_html", "table_html", "summary_section",
           "training_curve_section", "samples_section", "pca_section", "moments_section",
           "weights_section"]

SectionBuilder = Callable[[ReportContext], "Section | None"]


# ------------------------------------------------------------------------------ optional sections
def _optional_couplings_section(ctx: ReportContext) -> Section | None:
    return couplings_section(ctx) if ctx.options.couplings else None


#: The builders of the default page, in page order (see the module docstring to add one).
SECTION_BUILDERS: list[SectionBuilder] = [
    summary_section, training_curve_section, samples_section, sequences_section, pca_section,
    moments_section, correlations_section, contact_map_section, weights_section,
    _optional_couplings_section, landscape_section, tree_section,
]


def register_section(builder: SectionBuilder, after: SectionBuilder | None = None) -> None:
    """Add ``builder`` to the default page, after ``after`` (default: at the end)."""
    if builder not in SECTION_BUILDERS:
        at = SECTION_BUILDERS.index(after) + 1 if after in SECTION_BUILDERS else len(SECTION_BUILDERS)
        SECTION_BUILDERS.insert(at, builder)


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
    seen: Counter[str] = Counter()
    toc, body = [], []
    for s in sections:
        seen[s.anchor] += 1  # a title used twice: the second anchor is "<anchor>-2"
        anchor = s.anchor if seen[s.anchor] == 1 else f"{s.anchor}-{seen[s.anchor]}"
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


class _Progress:
    """The report's percentage: the shared quantities (curve, samples) fill the first half as
    they are computed, each section builder a share of the second; never backwards."""

    def __init__(self, report: Callable[[int], None] | None):
        self.report, self.done = report or (lambda percent: None), 0

    def __call__(self, percent: int) -> None:
        if percent > self.done:
            self.done = percent
            self.report(percent)


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
    options = options or ReportOptions()
    if options.struct is not None and not Path(options.struct).is_file():
        raise DataError(options.struct, "file not found")
    check_outputs({"--out": out_html}, {"RUN": run_path, "--struct": options.struct})
    advance = _Progress(progress)
    ctx = ReportContext(run_path, options, lambda percent: advance(percent // 2))
    if options.struct is not None and ctx.model.visible.categorical:  # one line before any work
        require_eligible_pairs(read_struct(options.struct, options.distance_cutoff, length=ctx.model.n_visible),
                               options.struct, options.min_separation)
    sections = []
    builders = list(builders or SECTION_BUILDERS)
    for i, build in enumerate(builders):
        sections.append(build(ctx))
        advance(50 + 49 * (i + 1) // len(builders))
    sections = [s for s in sections if s is not None]
    opts = ", ".join(f"{k}={v}" for k, v in asdict(options).items())
    text = render_html(f"boltzkit report — {ctx.run_path.name}", sections,
                       f"{ctx.config.get('model', {}).get('kind', 'model')} · run file "
                       f"{ctx.run_path} · {len(ctx.updates)} checkpoints",
                       f"boltzkit {__version__} · report options: {opts}", ctx.notes)
    write_text_atomic(out_html, text)
    advance(100)
    return Path(out_html)
