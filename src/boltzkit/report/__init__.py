"""Figures and the self-contained HTML report of a run.

* :mod:`boltzkit.report.images` — samples to ``.npy`` / ``.txt`` / ``.png`` (grids, rasters);
* :mod:`boltzkit.report.samples` — a run's samples written to a file (``boltzkit sample``);
* :mod:`boltzkit.report.figures` — matplotlib figures (training curve, samples, PCA, moments,
  receptive fields), each a function returning a Figure;
* :mod:`boltzkit.report.network_figures` — :func:`network_figure`, the interaction network of a
  model's couplings (the strongest pairs as edges, on a layout or on a protein's structure);
* :mod:`boltzkit.report.html` — :func:`write_report`, one HTML page per run built from sections
  (:mod:`~boltzkit.report.sections`, :mod:`~boltzkit.report.categorical`,
  :mod:`~boltzkit.report.coupling_figures`, :mod:`~boltzkit.report.tree_figures`) that share a
  :class:`~boltzkit.report.context.ReportContext` and the fragments of
  :mod:`~boltzkit.report.fragments`.

The names below are imported on first use, so that ``boltzkit.report.images`` and
``boltzkit.report.samples`` (``boltzkit sample``) do not load the report's sections (matplotlib,
the interpretation layer).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ReportOptions", "Section", "write_report", "save_samples", "image_grid", "network_figure"]

_WHERE = {"ReportOptions": "boltzkit.report.context", "Section": "boltzkit.report.fragments",
          "write_report": "boltzkit.report.html", "save_samples": "boltzkit.report.images",
          "image_grid": "boltzkit.report.images", "network_figure": "boltzkit.report.network_figures"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'boltzkit.report' has no attribute {name!r}")
