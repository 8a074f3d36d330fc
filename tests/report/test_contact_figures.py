"""The contact map figure of DCA predictions (report/contact_figures.py)."""

from __future__ import annotations

import numpy as np

from boltzkit.report.contact_figures import plot_contact_map


def test_plot_contact_map_writes_a_png(tmp_path, toy_contact_map):
    cmap = toy_contact_map
    S = np.random.default_rng(0).random((10, 10))
    S = S + S.T
    path = plot_contact_map(S, cmap, tmp_path / "fig" / "contacts.png", top="L")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["contacts.png"]  # no temporary file left
