"""The pieces a report page is made of: :class:`Section` and the HTML fragments sections build.

Every section module (:mod:`boltzkit.report.sections`, :mod:`~boltzkit.report.categorical`,
:mod:`~boltzkit.report.coupling_figures`, :mod:`~boltzkit.report.tree_figures`) imports these;
the page itself (:mod:`boltzkit.report.html`) imports the sections. This module imports no other
module of the report, so the dependencies go one way.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Section", "img_html", "figure_png", "figure_html", "table_html"]


@dataclass
class Section:
    """One part of the page: a title (also its table-of-contents entry) and an HTML fragment."""

    title: str
    html: str

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


def img_html(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib Figure rendered as PNG bytes."""
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

    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(x)}</td>" for x in row) + "</tr>" for row in rows)
    return f"<table>{cap}{head}{body}</table>"
