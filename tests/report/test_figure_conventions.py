"""One set of figure conventions across the report: alignment columns numbered from 1 and one
colour per letter in every logo (report/categorical.py and the TreeRBM logos of
report/tree_figures.py), label strips and cluster strips of the dendrogram in palettes that share
no colour, readable dendrogram ticks and a legend titled by the label set's name, not its file.
Figures are rendered with matplotlib's Agg backend (``Figure.savefig``)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest

from boltzkit.interpret.tree import HierarchicalTree, TreeLevel
from boltzkit.report.categorical import LETTER_COLORS, letter_colors, logo_figure
from boltzkit.report.tree_figures import (cluster_colors, dendrogram_figure, fixed_points_figure,
                                          label_colors, label_set_name, sequence_logo_figure)

ALPHABET = "-ACDEFGHIKLMNPQRSTVWY"


def render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=50)


def profiles(k: int, length: int, q: int, seed: int = 0) -> np.ndarray:
    """k random profiles (k, length, q), peaked (Dirichlet 0.2) so that logos have tall letters."""
    return np.random.default_rng(seed).dirichlet(np.full(q, 0.2), size=(k, length))


def visible_ticks(ax) -> list[float]:
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def glyph_centres(ax) -> list[float]:
    """x of the centre of every letter of a logo (patches or one PatchCollection)."""
    paths = [p.get_path() for p in ax.patches]
    for collection in ax.collections:
        paths += list(collection.get_paths())
    return [float(path.get_extents().x0 + path.get_extents().x1) / 2 for path in paths]


# ------------------------------------------------------------------------------ logos
@pytest.mark.parametrize("which", ["sequences", "tree"])
def test_logos_number_columns_from_1(which):
    length = 17
    p = profiles(2, length, len(ALPHABET))
    fig = (logo_figure(list(p), ["a", "b"], ALPHABET) if which == "sequences"
           else sequence_logo_figure(p, ALPHABET, ["a", "b"]))
    render(fig)
    ax = fig.axes[-1]
    ticks = visible_ticks(ax)
    assert ticks and min(ticks) >= 1 and max(ticks) <= length
    assert all(float(t).is_integer() for t in ticks)
    assert "from 1" in ax.get_xlabel()
    # the letters of the first column are centred on x = 1, the last column's on x = length
    centres = glyph_centres(fig.axes[0])
    assert min(centres) == pytest.approx(1.0, abs=0.06)
    assert max(centres) == pytest.approx(length, abs=0.06)


def test_every_logo_uses_one_colour_per_letter():
    assert letter_colors(ALPHABET) == [LETTER_COLORS[c] for c in ALPHABET]
    assert letter_colors("-ACGU")[0] == LETTER_COLORS["-"]
    # one pure column of each letter: the colour of its glyph, in both kinds of logo
    q = len(ALPHABET)
    p = np.zeros((1, q, q))
    p[0, np.arange(q), np.arange(q)] = 1.0
    rgba = matplotlib.colors.to_rgba

    def colours(fig):
        ax = fig.axes[0]
        if ax.patches:
            return [rgba(patch.get_facecolor()) for patch in ax.patches]
        return [tuple(c) for c in ax.collections[0].get_facecolors()]

    expected = [rgba(c) for c in letter_colors(ALPHABET)]
    assert colours(logo_figure([p[0]], ["a"], ALPHABET)) == expected
    assert colours(sequence_logo_figure(p, ALPHABET)) == expected
    # codes without letters (digits): one colour per state, the same in both functions
    digits = letter_colors("0123")
    assert len(set(map(tuple, digits))) == 4


def test_potts_fixed_point_profiles_number_columns_from_1():
    fig = fixed_points_figure(profiles(2, 9, 4), alphabet="-ACG")
    render(fig)
    ax = fig.axes[-1]
    assert ax.get_xlim() == (0.5, 9.5) and "from 1" in ax.get_xlabel()
    assert min(visible_ticks(ax)) >= 1


# ------------------------------------------------------------------------------ the tree
def three_level_tree(n: int = 60) -> tuple[HierarchicalTree, np.ndarray]:
    """2 clusters, then 4, then 8, nested; and labels that agree with the 4-cluster level."""
    leaf = np.repeat(np.arange(8), n // 8)
    levels = [TreeLevel(leaf // div, np.zeros((8 // div, 5)), np.zeros(8 // div), age)
              for div, age in ((4, 10.0), (2, 100.0), (1, 1000.0))]
    populations = np.array(["AFR", "AMR", "EAS", "EUR"])[leaf // 2]
    return HierarchicalTree(levels), populations


def test_label_and_cluster_strips_share_no_colour():
    _, populations = three_level_tree()
    classes, colours = label_colors(populations)
    assert list(classes) == ["AFR", "AMR", "EAS", "EUR"]
    clusters = np.repeat(np.arange(12), 5)
    shades = cluster_colors(clusters)
    label_set = {tuple(np.round(c, 6)) for c in label_colors(np.arange(25).astype(str))[1]}
    for n_classes in (4, 12, 18):                      # tab10, tab20 and beyond
        label_set |= {tuple(np.round(c, 6)) for c in label_colors(np.arange(n_classes))[1]}
    cluster_set = {tuple(np.round(c, 6)) for c in shades}
    assert not label_set & cluster_set
    # clusters are greys, labels are hues: "cluster 0" is never "AFR" blue
    assert all(c[0] == c[1] == c[2] for c in cluster_set)
    assert all(max(c[:3]) - min(c[:3]) > 0.1 for c in label_set)
    # neighbouring blocks of a strip (in the leaves' order) differ
    assert all((shades[i] != shades[i + 5]).any() for i in range(0, 55, 5))


def test_dendrogram_is_readable_and_titles_the_legend_by_the_label_set():
    tree, populations = three_level_tree()
    fig = dendrogram_figure(tree, {"population": populations})
    render(fig)
    tree_ax, strip_ax = fig.axes[:2]
    assert all(t.get_fontsize() >= 8 for t in tree_ax.get_xticklabels() + strip_ax.get_xticklabels())
    (legend,) = fig.legends
    assert legend.get_title().get_text() == "population"
    assert [t.get_text() for t in legend.get_texts()] == ["AFR", "AMR", "EAS", "EUR"]
    # one array of labels: the legend says "label" (or what the caller names it)
    fig = dendrogram_figure(tree, populations, legend_title="super-population")
    assert fig.legends[0].get_title().get_text() == "super-population"
    assert dendrogram_figure(tree, populations).legends[0].get_title().get_text() == "label"
    # the strips: the label strip in the label palette, the level strips in greys
    image = strip_ax.get_images()[0].get_array()
    assert image.shape[1] == 1 + 3
    label_rgba = {tuple(np.round(c, 6)) for c in label_colors(populations)[1]}
    assert {tuple(np.round(c, 6)) for c in np.asarray(image[:, 0])} == label_rgba
    assert all(np.allclose(c[0], c[1]) and np.allclose(c[1], c[2])
               for c in np.asarray(image[:, 1:]).reshape(-1, 4))


def test_label_set_name_is_never_the_label_file():
    def ctx(dataset=None, **data):
        return SimpleNamespace(datasets=(dataset, None), config={"data": data})

    assert label_set_name(ctx(labels_path="/data/hgd_labels.txt")) == "label"
    assert label_set_name(ctx(labels_path="/x/l.txt", labels_name="population")) == "population"
    table = SimpleNamespace(labels_column="class")  # a categorical table's label column
    assert label_set_name(ctx(table, labels_path="/x/mushrooms.csv")) == "class"
