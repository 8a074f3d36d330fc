"""TreeRBM (Decelle, Seoane & Rosset 2023; docs/methods.md section 4.1): the walk over checkpoints and over
temperatures, the tree (levels, Newick, CSV), the scores against labels, and ``boltzkit tree`` —
on designed checkpoints whose fixed points merge along a known tree, and on an RBM trained with
boltzkit on synthetic hierarchical data (adjusted Rand index >= 0.9 at every true level)."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from boltzkit.errors import BoltzkitError, DataError
from boltzkit.interpret.tree import (HierarchicalTree, TreeLevel, cluster_fixed_points, newick_name,
                                     tree_from_annealing, tree_from_checkpoints, write_tree_outputs)
from boltzkit.interpret.tree_metrics import (adjusted_rand_index, level_scores, purity, read_label_sets,
                                             tree_agreement, triplet_agreement)
from boltzkit.synthetic.hierarchical import hierarchical

sys.path.insert(0, str(Path(__file__).parent))
from test_landscape import prototype_rbm  # noqa: E402


pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest


# ------------------------------------------------------------------------- designed checkpoints
@pytest.fixture(scope="module")
def designed():
    """Three 'checkpoints' of a 4-hidden-unit RBM: no weights (update 10), one hidden unit per
    level-1 node of a known tree (update 20), one per leaf (update 30); data are noisy leaves."""
    d = hierarchical(levels=2, branching=2, n_features=60, flip_probs=[0.35, 0.1, 0.02],
                     n_samples=120, seed=0)
    models = [(30, prototype_rbm(d.nodes[1], n_hidden=4)), (10, prototype_rbm(np.zeros((0, 60)), n_hidden=4)),
              (20, prototype_rbm(d.nodes[0], n_hidden=4))]
    return d, models, torch.tensor(d.samples, dtype=torch.float64)


def test_walk_recovers_the_designed_tree(designed):
    d, models, x = designed
    tree = tree_from_checkpoints(models, x, order=2, eps=1.0)
    assert [lv.n_clusters for lv in tree.levels] == [1, 2, 4]
    assert [lv.age for lv in tree.levels] == [10, 20, 30]
    assert [t["age"] for t in tree.trace] == [30, 20, 10]  # most trained first
    a = tree.assignments()
    assert adjusted_rand_index(d.labels[:, 0], a[:, 1]) == 1.0
    assert adjusted_rand_index(d.labels[:, 1], a[:, 2]) == 1.0
    # nested levels, numbered along the tree
    np.testing.assert_array_equal(tree.parents(2), [0, 0, 1, 1])
    # node features: the fixed points are the prototypes of their level
    for level, nodes in ((1, d.nodes[0]), (2, d.nodes[1])):
        got = np.round(tree.levels[level].fixed_points)
        assert sorted(int(np.flatnonzero((g == nodes).all(1))[0]) for g in got) == list(range(len(nodes)))
    assert triplet_agreement(a, d.level_labels()) == 1.0


def test_hidden_clustering_and_order1_give_the_same_tree(designed):
    d, models, x = designed
    for kwargs in ({"cluster_on": "hidden", "eps": 0.5}, {"order": 1}):
        tree = tree_from_checkpoints(models, x, **kwargs)
        assert [lv.n_clusters for lv in tree.levels] == [1, 2, 4]
        assert adjusted_rand_index(d.labels[:, 1], tree.assignments()[:, 2]) == 1.0


def test_potts_checkpoints_with_q2_embedding_give_the_binary_tree(designed):
    from boltzkit.models.potts_rbm import PottsRBM

    d, models, x = designed

    def as_potts(rbm):  # state 1 carries the binary unit, state 0 has zero weights and bias
        w, b = rbm.weights, rbm.visible_bias
        return PottsRBM(torch.stack([torch.zeros_like(w), w], 1),
                        torch.stack([torch.zeros_like(b), b], 1), rbm.hidden_bias.clone())

    binary = tree_from_checkpoints(models, x, order=2)
    potts = tree_from_checkpoints([(u, as_potts(m)) for u, m in models], x, order=2)
    np.testing.assert_array_equal(potts.assignments(), binary.assignments())
    np.testing.assert_allclose(potts.levels[-1].fixed_points[..., 1], binary.levels[-1].fixed_points,
                               atol=1e-10)
    # Newick branch lengths need the data in the fixed points' units (one-hot codes)
    one_hot = np.eye(2)[d.samples.astype(int)]
    assert potts.newick(data=one_hot).count("I3_") == 4


def test_annealing_variant_merges_as_temperature_rises(designed):
    d, models, x = designed
    final = dict(models)[30]
    tree = tree_from_annealing(final, x, beta_min=0.1, n_steps=20, max_iter=2000)
    counts = [lv.n_clusters for lv in tree.levels]
    assert counts[0] == 1 and counts[-1] == 4 and counts == sorted(counts)
    ages = [lv.age for lv in tree.levels]
    assert ages == sorted(ages) and ages[-1] == 1.0
    assert adjusted_rand_index(d.labels[:, 1], tree.assignments()[:, -1]) == 1.0
    assert tree.variant == "annealing" and tree.trace[0]["age"] == 1.0
    with pytest.raises(BoltzkitError, match="beta_min"):
        tree_from_annealing(final, x, beta_min=1.5)


def test_newick_and_csv_outputs(designed, tmp_path):
    d, models, x = designed
    tree = tree_from_checkpoints(models, x, order=2, eps=1.0)
    names = [f"seq {i}" if i == 0 else f"s{i}" for i in range(len(x))]
    text = tree.newick(names, data=x.numpy())
    assert text.startswith("(") and text.endswith(";") and text.count("(") == text.count(")")
    assert "'seq 0'" in text
    leaves = re.findall(r"[(,]('?[\w ]+'?):", text)
    assert len(leaves) == len(x)
    # single top cluster: it is the root (no branch length after it)
    assert re.search(r"\)I1_0;$", text)
    # internal nodes: one per cluster at every level
    assert len(re.findall(r"\)I\d+_\d+", text)) == 1 + 2 + 4
    paths = write_tree_outputs(tree, tmp_path / "tree.nwk", names, x.numpy(), d.level_labels(),
                               level_scores(tree.assignments(), d.level_labels()))
    assert Path(paths["levels"]).name == "tree_levels.csv"
    rows = list(csv.DictReader(open(paths["levels"])))
    assert [int(r["n_clusters"]) for r in rows] == [1, 2, 4]
    assert float(rows[2]["ari:level_2"]) == 1.0 and float(rows[1]["purity:level_1"]) == 1.0
    assign = list(csv.DictReader(open(paths["assignments"])))
    assert len(assign) == len(x) and assign[0]["name"] == "seq 0" and "label:level_1" in assign[0]
    assert Path(paths["newick"]).read_text().strip() == text


def test_newick_with_several_top_clusters_and_names():
    levels = [TreeLevel(np.array([0, 0, 1]), np.array([[0.1, 0.2], [0.9, 0.8]]), np.zeros(2), 5.0),
              TreeLevel(np.array([0, 1, 2]), np.array([[0.0, 0.2], [0.2, 0.2], [1.0, 0.8]]),
                        np.zeros(3), 9.0)]
    tree = HierarchicalTree(levels)
    text = tree.newick(["a", "b", "c"], branch_lengths=False)
    assert text == "(((a)I2_0,(b)I2_1)I1_0,((c)I2_2)I1_1)root;"
    assert newick_name("x(y)") == "'x(y)'" and newick_name("it's") == "'it''s'"
    with pytest.raises(BoltzkitError):
        tree.newick(["a"])


def test_cluster_fixed_points_is_single_linkage_at_eps():
    pts = np.array([[0.0], [0.6], [1.2], [5.0]])
    assert cluster_fixed_points(pts, 0.7).tolist() == [0, 0, 0, 1]
    assert len(set(cluster_fixed_points(pts, 0.5).tolist())) == 4
    assert cluster_fixed_points(pts[:1], 0.5).tolist() == [0]


# ------------------------------------------------------------------------- metrics
def test_purity_ari_agreement_and_triplets():
    truth = np.array([0, 0, 1, 1, 2, 2])
    assert purity(truth, [0, 0, 0, 1, 1, 1]) == pytest.approx(4 / 6)
    assert purity(truth, np.arange(6)) == 1.0
    assert adjusted_rand_index(truth, [5, 5, 7, 7, 9, 9]) == 1.0
    scores = level_scores(np.c_[np.zeros(6, int), truth], {"t": truth, "s": np.array(list("aabbcc"))})
    assert scores[1]["ari"] == {"t": 1.0, "s": 1.0} and scores[0]["n_clusters"] == 1
    one = level_scores(np.c_[truth], truth)
    assert one[0]["ari"] == 1.0 and one[0]["purity"] == 1.0
    # missing labels are left out
    with_missing = np.array(["x", "x", "y", "y", "", "nan"], dtype=object)
    assert level_scores(np.c_[truth], {"m": with_missing})[0]["ari"]["m"] == 1.0
    coarse = truth // 2
    levels = np.c_[coarse, truth]
    agree = tree_agreement(levels, [coarse, truth])
    assert [a["best_level"] for a in agree] == [1, 2] and all(a["ari"] == 1.0 for a in agree)
    assert triplet_agreement(levels, [coarse, truth], n_triplets=500) == 1.0
    rng = np.random.default_rng(0)
    big_truth = np.c_[np.repeat([0, 1], 40), np.repeat([0, 1, 2, 3], 20)]
    shuffled = big_truth[rng.permutation(80)]
    assert triplet_agreement(shuffled, big_truth.T, n_triplets=2000) < 0.6


def test_read_label_sets(tmp_path):
    import h5py

    (tmp_path / "l.txt").write_text("a\nb\na\n")
    assert read_label_sets(tmp_path / "l.txt")["l"].tolist() == ["a", "b", "a"]
    np.save(tmp_path / "m.npy", np.array([[0, 1], [0, 2], [1, 3]]))
    assert list(read_label_sets(tmp_path / "m.npy")) == ["m_1", "m_2"]
    d = hierarchical(levels=3, branching=2, n_features=10, n_samples=16, seed=0)
    d.save(tmp_path / "h.h5")
    sets = read_label_sets("labels", tmp_path / "h.h5")
    assert list(sets) == ["level_1", "level_2", "level_3"]
    assert read_label_sets("labels/level_2", tmp_path / "h.h5")["level_2"].tolist() == d.labels[:, 1].tolist()
    with pytest.raises(DataError, match="no labels dataset"):
        read_label_sets("nothing", tmp_path / "h.h5")
    with pytest.raises(DataError, match="needs an HDF5"):
        read_label_sets("labels/level_1", tmp_path / "l.txt")
    with pytest.raises(DataError, match="3 values for 4 samples"):
        read_label_sets(tmp_path / "l.txt", n_points=4)
    with h5py.File(tmp_path / "h.h5", "a") as f:
        f["labels2d"] = np.zeros((16, 2))
    with pytest.raises(DataError, match="1-D"):
        read_label_sets("labels2d", tmp_path / "h.h5")


def test_dendrogram_figure(designed, tmp_path):
    from boltzkit.report.tree_figures import clusters_trace_figure, dendrogram_figure

    d, models, x = designed
    tree = tree_from_checkpoints(models, x, order=2)
    dendrogram_figure(tree, d.level_labels()).savefig(tmp_path / "t.png")
    dendrogram_figure(tree, None, show_levels=False).savefig(tmp_path / "t2.png")
    clusters_trace_figure(tree).savefig(tmp_path / "c.png")
    assert (tmp_path / "t.png").stat().st_size > 5000


# ------------------------------------------------------------------------- trained on synthetic data
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """An RBM trained with boltzkit's own API on 3-level binary hierarchical data, 50 checkpoints."""
    import boltzkit

    folder = tmp_path_factory.mktemp("tree")
    data = hierarchical(levels=3, branching=2, n_features=80, flip_probs=[0.25, 0.15, 0.1, 0.02],
                        n_samples=600, seed=0)
    data.save(folder / "data.h5")
    run = folder / "run.h5"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        boltzkit.BernoulliRBM(n_hidden=30, n_updates=1000, batch_size=100, n_chains=100,
                              gibbs_steps=5, learning_rate=0.2, n_checkpoints=50, spacing="linear",
                              random_state=0, out=run).fit(data.samples)
    finally:
        torch.set_num_threads(previous)
    return data, run, folder


def test_tree_of_trained_rbm_recovers_the_three_true_levels(trained_run):
    from boltzkit.io.trajectory import load_models

    data, run, _ = trained_run
    n = 300
    models = load_models(run)
    assert len(models) == 50
    tree = tree_from_checkpoints(models, torch.tensor(data.samples[:n], dtype=torch.float64), order=2,
                                 eps=1.0, max_iter=2000)
    truth = {k: v[:n] for k, v in data.level_labels().items()}
    agreement = tree_agreement(tree.assignments(), truth)
    for a in agreement:
        assert a["ari"] >= 0.9, agreement
    assert [a["n_true"] for a in agreement] == [2, 4, 8]
    assert triplet_agreement(tree.assignments(), truth) >= 0.9


def test_cli_tree_and_generate(trained_run, tmp_path):
    from boltzkit.cli.interpret_landscape import register

    data, run, folder = trained_run
    app = typer.Typer()
    register(app)
    out = tmp_path / "tree.nwk"
    r = CliRunner().invoke(app, ["tree", str(run), str(folder / "data.h5"), "--labels", "labels",
                                 "--n-points", "200", "--max-iter", "2000", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    levels = summary["levels"]
    assert levels[0]["n_clusters"] == 1 and all("ari" in lv and "purity" in lv for lv in levels)
    assert set(levels[-1]["ari"]) == {"level_1", "level_2", "level_3"}
    assert min(a["ari"] for a in summary["agreement"]) >= 0.9
    for name in ("tree.nwk", "tree.png", "tree_levels.csv", "tree_assignments.csv"):
        assert (tmp_path / name).exists()
    assert out.read_text().count("s") >= 200
    # one label dataset: plain numbers; the table output
    r = CliRunner().invoke(app, ["tree", str(run), str(folder / "data.h5"), "--labels", "labels/level_1",
                                 "--n-points", "100", "--max-iter", "500", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "ARI" in r.output and "purity" in r.output
    r = CliRunner().invoke(app, ["tree", str(run), str(folder / "data.h5"), "--variant", "annealing",
                                 "--beta-steps", "10", "--n-points", "50", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["variant"] == "annealing"
    # user errors
    r = CliRunner().invoke(app, ["tree", str(run), str(folder / "data.h5"), "--labels", "nope",
                                 "--out", str(out)])
    assert r.exit_code == 2 and "nope" in r.output
    r = CliRunner().invoke(app, ["tree", str(run), str(folder / "data.h5"), "--variant", "x",
                                 "--out", str(out)])
    assert r.exit_code == 2 and "--variant" in r.output


def test_report_sections(designed, tmp_path):
    from boltzkit.io import trajectory
    from boltzkit.report.html import ReportContext, Section
    from boltzkit.report.tree_figures import landscape_section, tree_section

    d, models, x = designed
    run = tmp_path / "run.h5"
    config = {"model": models[0][1].config(), "training": {}}
    trajectory.create(run, config, d.samples, d.labels[:, 1], None)
    for update, model in sorted(models, key=lambda um: um[0]):
        trajectory.append(run, update, model.parameters(), 0.0, 0.1, checkpoint=True)
    ctx = ReportContext(run)
    section = tree_section(ctx)
    assert isinstance(section, Section) and section.title.startswith("Hierarchical")
    assert "<img" in section.html and "ARI" in section.html
    section = landscape_section(ctx)
    assert isinstance(section, Section) and "<img" in section.html and "basin size" in section.html
