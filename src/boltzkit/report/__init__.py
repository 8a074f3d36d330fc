"""Figures and the self-contained HTML report of a run.

* :mod:`boltzkit.report.images` — samples to ``.npy`` / ``.txt`` / ``.png`` (grids, rasters);
* :mod:`boltzkit.report.figures` — matplotlib figures (training curve, samples, PCA, moments,
  receptive fields), each a function returning a Figure;
* :mod:`boltzkit.report.html` — :func:`write_report`, one HTML page per run built from sections.
"""

from boltzkit.report.html import ReportOptions, Section, write_report
from boltzkit.report.images import image_grid, save_samples

__all__ = ["ReportOptions", "Section", "write_report", "save_samples", "image_grid"]
