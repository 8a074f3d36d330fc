"""The interaction-network figures (report/network_figures.py) and where they are shown: the
``<out>_network.png`` of ``boltzkit couplings`` (write_coupling_figures) and the report's contact
map section. Every figure is rendered with matplotlib's Agg backend (``Figure.savefig``, no pyplot).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from boltzkit.evaluation.contacts import ContactMap, frobenius_scores
from boltzkit.interpret.expansion import EffectiveCouplings, PottsCouplings
from boltzkit.models.gauge import zero_sum_gauge
from boltzkit.report.coupling_figures import heatmap_figure, write_coupling_figures
from boltzkit.report.network_figures import (EDGES_GID, NetworkScores, circular_layout,
                                             default_edge_count, network_figure, network_scores,
                                             spring_layout, strongest_pairs, structure_layout)


def render(fig) -> bytes:
    """Draw with Agg (what the report and the CLI do); returns the PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def edge_collections(fig) -> list:
    return [c for ax in fig.axes for c in ax.collections if c.get_gid() == EDGES_GID]


def random_couplings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    j = rng.standard_normal((n, n))
    j = (j + j.T) / 2
    np.fill_diagonal(j, 0.0)
    return j


def chain(n: int) -> np.ndarray:
    """A 1D chain with alternating signs: n - 1 non-zero pairs."""
    j = np.zeros((n, n))
    for i in range(n - 1):
        j[i, i + 1] = j[i + 1, i] = (-1.0) ** i
    return j


# ------------------------------------------------------------------------------ pairs
def test_strongest_pairs_default_to_2n_ranked_by_strength():
    n = 12
    scores = network_scores(random_couplings(n))
    assert scores.signed and scores.first_index == 0
    pairs = strongest_pairs(scores)
    assert default_edge_count(n) == 2 * n and pairs.shape == (2 * n, 2)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    strength = np.abs(scores.matrix[pairs[:, 0], pairs[:, 1]])
    assert (np.diff(strength) <= 0).all()
    # the k-th strongest is at least as strong as every pair left out
    i, j = np.triu_indices(n, 1)
    assert strength[-1] == pytest.approx(np.sort(np.abs(scores.matrix[i, j]))[::-1][2 * n - 1])
    # unsigned scores (Potts, with APC) are ranked by value: negative ones are never edges
    unsigned = NetworkScores(scores.matrix, False, "test")
    values = unsigned.matrix[tuple(strongest_pairs(unsigned, 1000).T)]
    assert (values > 0).all() and (np.diff(values) <= 0).all()
    # zero pairs are no edges; min_separation keeps |i - j| >= it
    assert len(strongest_pairs(network_scores(chain(n)))) == n - 1
    assert len(strongest_pairs(network_scores(chain(n)), min_separation=2)) == 0


# ------------------------------------------------------------------------------ figures
@pytest.mark.parametrize("n, k, expected", [(10, None, 20), (10, 5, 5), (40, None, 80)])
def test_network_figure_draws_the_k_strongest_pairs(n, k, expected):
    fig = network_figure(random_couplings(n, seed=n), k=k)
    collections = edge_collections(fig)
    assert len(collections) == 2                         # circular and force-directed panels
    assert [len(c.get_segments()) for c in collections] == [expected, expected]
    assert render(fig)[:4] == b"\x89PNG"


def test_network_edges_follow_sign_and_strength():
    j = chain(8)
    j[0, 1] = j[1, 0] = 3.0                               # the strongest pair, positive
    fig = network_figure(j, layouts=("circular",))
    (edges,) = edge_collections(fig)
    assert len(edges.get_segments()) == 7                 # only the non-zero pairs
    widths, colors = edges.get_linewidths(), edges.get_colors()
    # drawn weakest first: the last edge is the strongest (0, 1), the widest, red (J > 0)
    assert widths[-1] == max(widths) and widths[-1] > widths[0]
    assert colors[-1][0] > colors[-1][2]
    weak = [c for c, w in zip(colors, widths) if w < max(widths)]
    signs = [np.sign(j[i, i + 1]) for i in range(1, 7)]
    # the weaker edges: red for J > 0, blue for J < 0 (RdBu_r, as the heat map)
    assert sorted(np.sign(c[0] - c[2]) for c in weak) == sorted(signs)
    labels = sorted(int(t.get_text()) for t in fig.axes[0].texts)
    assert labels == list(range(8))                       # binary sites from 0


def potts_couplings(n: int = 7, q: int = 4, seed: int = 0) -> PottsCouplings:
    rng = np.random.default_rng(seed)
    c = torch.tensor(rng.standard_normal((n, n, q, q)) * 0.1)
    c[1, 4] += torch.tensor(rng.standard_normal((q, q)))  # one strong pair
    c = (c + c.permute(1, 0, 3, 2)) / 2
    c[range(n), range(n)] = 0.0
    couplings, _ = zero_sum_gauge(c)
    return PottsCouplings(torch.zeros(n, q, dtype=torch.float64), couplings)


def test_potts_network_uses_the_contact_score_and_columns_from_1():
    found = potts_couplings()
    scores = network_scores(found)
    expected = frobenius_scores(found.couplings, exclude_gap=True, apc=True).numpy()
    np.testing.assert_allclose(scores.matrix, expected, rtol=0, atol=1e-12)  # same numbers
    assert not scores.signed and scores.first_index == 1 and scores.node_name == "column"
    assert tuple(strongest_pairs(scores, 1)[0]) == (1, 4)
    every_state = network_scores(found, gap_state=None)
    np.testing.assert_allclose(every_state.matrix, frobenius_scores(found.couplings, exclude_gap=False),
                               rtol=0, atol=1e-12)
    fig = network_figure(found)
    # 2N = 14 edges at most, and only pairs the APC leaves positive (11 here)
    i, j = np.triu_indices(7, 1)
    n_positive = int((scores.matrix[i, j] > 0).sum())
    assert n_positive < 14
    assert [len(c.get_segments()) for c in edge_collections(fig)] == [n_positive, n_positive]
    assert sorted(int(t.get_text()) for t in fig.axes[0].texts) == list(range(1, 8))
    render(fig)


# ------------------------------------------------------------------------------ layouts
def test_layouts_are_deterministic_and_unfold_a_chain():
    n = 20
    pairs = strongest_pairs(network_scores(chain(n)))
    circle = circular_layout(n)
    np.testing.assert_allclose(np.linalg.norm(circle, axis=1), 1.0)
    np.testing.assert_allclose(circle[0], [0.0, 1.0], atol=1e-12)  # the first node on top
    pos = spring_layout(n, pairs)
    np.testing.assert_array_equal(pos, spring_layout(n, pairs))   # no randomness
    assert np.abs(pos).max() == pytest.approx(1.0)
    # a chain is drawn unfolded: neighbours closer than the two ends
    step = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    assert step.max() < np.linalg.norm(pos[0] - pos[-1])


def test_structure_layout_recovers_a_planar_fold():
    # residues in a plane: classical MDS recovers their distances up to the scale of the drawing
    rng = np.random.default_rng(3)
    xyz = np.c_[rng.uniform(0, 20, (15, 2)), np.zeros(15)]
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    np.fill_diagonal(d, np.nan)
    i, j = np.triu_indices(15, 1)

    def ratios(distances):
        pos = structure_layout(ContactMap(distances, 8.0))
        drawn = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[i, j]
        return drawn / d[i, j]

    # exact up to rounding (1e-9): planar distances are Euclidean, MDS embeds them exactly
    ratio = ratios(d)
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-9)
    # an unknown distance becomes a shortest path through known ones (an upper bound): the
    # drawing is distorted a little, not broken (measured: ratios within 0.23% of their mean;
    # taking 0 for the unknown distance instead is off by 13%)
    partial = d.copy()
    partial[0, 14] = partial[14, 0] = np.nan
    ratio = ratios(partial)
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=0.02)


def test_network_on_the_contact_map_colours_edges_by_contact():
    n = 12
    d = np.full((n, n), 20.0)
    for i in range(n - 1):                                 # the chain and one long-range contact
        d[i, i + 1] = d[i + 1, i] = 3.8
    d[2, 9] = d[9, 2] = 5.0
    np.fill_diagonal(d, np.nan)
    contact_map = ContactMap(d, 8.0)
    scores = NetworkScores(random_couplings(n, seed=5) ** 2, False, "test", 1, "column")
    scores.matrix[2, 9] = scores.matrix[9, 2] = 10.0          # the top pair is the contact
    fig = network_figure(scores, k=6, contact_map=contact_map, min_separation=4)
    panels = edge_collections(fig)
    assert [len(c.get_segments()) for c in panels] == [6, 6]   # structure and circle
    blue = matplotlib.colors.to_rgba("tab:blue")
    colors = [tuple(c) for c in panels[0].get_colors()]
    assert colors.count(blue) == 1 and colors[-1] == blue      # drawn last: the strongest
    render(fig)
    with pytest.raises(ValueError, match="contact map has 12 columns"):
        network_figure(np.zeros((5, 5)), contact_map=contact_map)


# ------------------------------------------------------------------------------ couplings files
def test_write_coupling_figures_adds_the_network_beside_the_heat_map(tmp_path):
    n = 6
    pairs = torch.tensor([[i, i + 1] for i in range(n - 1)])
    found = EffectiveCouplings(torch.zeros(n, dtype=torch.float64),
                               {2: (pairs, torch.linspace(-1, 1, n - 1, dtype=torch.float64))})
    written = write_coupling_figures(tmp_path / "out.h5", found)
    assert [Path(p).name for p in written] == ["out_heatmap.png", "out_network.png"]
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_heatmap.png", "out_network.png"]


def test_heatmap_numbers_potts_columns_from_1_and_binary_sites_from_0():
    fig = heatmap_figure(potts_couplings(n=7))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "column j" and ax.get_xlim() == (0.5, 7.5)
    ticks = [t for t in ax.get_xticks() if 0.5 <= t <= 7.5]
    assert min(ticks) >= 1 and all(float(t).is_integer() for t in ticks)
    n = 5
    binary = EffectiveCouplings(torch.zeros(n, dtype=torch.float64),
                                {2: (torch.tensor([[0, 1]]), torch.tensor([0.5], dtype=torch.float64))})
    ax = heatmap_figure(binary).axes[0]
    assert ax.get_xlabel() == "site j" and ax.get_xlim() == (-0.5, 4.5)
