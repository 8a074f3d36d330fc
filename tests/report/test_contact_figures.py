"""The contact map figure of DCA predictions (report/contact_figures.py)."""

from __future__ import annotations

import numpy as np

from boltzkit.evaluation.contacts import ContactMap
from boltzkit.report.contact_figures import plot_contact_map


def toy_contact_map() -> ContactMap:
    d = np.full((10, 10), 20.0)
    np.fill_diagonal(d, np.nan)
    for i, j in [(0, 5), (1, 6), (2, 8), (3, 9), (0, 1)]:
        d[i, j] = d[j, i] = 4.0
    return ContactMap(d, 8.0)


def test_plot_contact_map_writes_a_png(tmp_path):
    cmap = toy_contact_map()
    S = np.random.default_rng(0).random((10, 10))
    S = S + S.T
    path = plot_contact_map(S, cmap, tmp_path / "fig" / "contacts.png", top="L")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["contacts.png"]  # no temporary file left
