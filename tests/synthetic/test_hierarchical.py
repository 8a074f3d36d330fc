"""The synthetic hierarchical generator: the branching mutation process, its labels and true tree,
the HDF5 file that ``boltzkit train`` reads, and ``boltzkit generate hierarchical``."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from boltzkit.errors import BoltzkitError
from boltzkit.synthetic.hierarchical import (default_flip_probs, hierarchical, read_level_labels,
                                             true_newick)


def test_labels_are_nested_and_balanced():
    d = hierarchical(levels=3, branching=3, n_features=50, n_samples=270, seed=1)
    assert d.samples.shape == (270, 50) and d.samples.dtype == np.uint8
    assert set(np.unique(d.samples)) <= {0, 1}
    assert d.labels.shape == (270, 3)
    for l in range(1, 3):
        np.testing.assert_array_equal(d.labels[:, l] // 3, d.labels[:, l - 1])
    assert [len(np.unique(d.labels[:, l])) for l in range(3)] == [3, 9, 27]
    np.testing.assert_array_equal(np.bincount(d.labels[:, 2]), np.full(27, 10))
    assert [n.shape for n in d.nodes] == [(3, 50), (9, 50), (27, 50)]
    assert len(d.flip_probs) == 4 and d.flip_probs == default_flip_probs(3)


def test_mutation_rates_match_the_flip_probabilities():
    probs = [0.3, 0.15, 0.05, 0.02]
    d = hierarchical(levels=3, branching=2, n_features=4000, flip_probs=probs, n_samples=400, seed=2)
    parents = [d.root[None, :]] + d.nodes[:-1]
    for l in range(3):
        children = d.nodes[l]
        rate = (children != np.repeat(parents[l], 2, axis=0)).mean()
        assert rate == pytest.approx(probs[l], abs=0.01)
    leaf = d.nodes[-1][d.labels[:, -1]]
    assert (d.samples != leaf).mean() == pytest.approx(probs[-1], abs=0.002)
    # samples are closer to members of their own leaf than to the rest
    same = d.labels[:, -1][:, None] == d.labels[:, -1][None]
    ham = (d.samples[:50, None] != d.samples[None, :50]).mean(-1)
    assert ham[same[:50, :50]].mean() < ham[~same[:50, :50]].mean()


def test_reproducible_and_validated():
    a = hierarchical(levels=2, n_features=20, n_samples=30, seed=5)
    b = hierarchical(levels=2, n_features=20, n_samples=30, seed=5)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.samples, hierarchical(levels=2, n_features=20, n_samples=30, seed=6).samples)
    # levels values: no sample noise
    c = hierarchical(levels=2, n_features=20, n_samples=8, flip_probs=[0.2, 0.1], seed=0)
    np.testing.assert_array_equal(c.samples, c.nodes[-1][c.labels[:, -1]])
    for kwargs, match in (({"flip_probs": [0.1]}, "needs 4 values"), ({"flip_probs": [0.6, 0.1, 0.0]}, r"\[0, 0.5\]"),
                          ({"branching": 1}, "branching >= 2"), ({"levels": 0}, "levels >= 1")):
        with pytest.raises(BoltzkitError, match=match):
            hierarchical(n_samples=10, **kwargs)


def test_true_newick():
    assert true_newick(2, 2) == "((L2_0,L2_1)L1_0,(L2_2,L2_3)L1_1)root;"
    assert true_newick(1, 3) == "(L1_0,L1_1,L1_2)root;"


def test_file_layout_is_read_by_load_binary(tmp_path):
    from boltzkit.data.binary import load_binary

    d = hierarchical(levels=3, branching=2, n_features=30, n_samples=40, seed=3)
    path = d.save(tmp_path / "h.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["h.h5"]  # no temporary file left
    loaded = load_binary(path)
    np.testing.assert_array_equal(loaded.samples, d.samples)
    assert loaded.labels is None  # a group of per-level labels, not one label per sample
    levels = read_level_labels(path)
    assert list(levels) == ["level_1", "level_2", "level_3"]
    np.testing.assert_array_equal(levels["level_2"], d.labels[:, 1])
    with h5py.File(path) as f:
        assert f.attrs["generator"] == "hierarchical" and f.attrs["levels"] == 3
        np.testing.assert_allclose(f.attrs["flip_probs"], d.flip_probs)
        assert f["truth/nodes/level_3"].shape == (8, 30)
        assert f["truth/newick"][()].decode() == true_newick(3, 2)


def test_cli_generate_hierarchical(tmp_path):
    from boltzkit.cli.interpret_landscape import register_generate

    generate = typer.Typer()
    register_generate(generate)

    @generate.command("other")  # a group with two commands, as ``boltzkit generate``
    def other() -> None:
        pass

    out = tmp_path / "d.h5"
    args = ["hierarchical", "--levels", "3", "--branching", "3", "--n-features", "40",
            "--flip-probs", "0.3,0.2,0.1,0.01", "--n-samples", "90", "--seed", "4", "--out", str(out)]
    r = CliRunner().invoke(generate, args)
    assert r.exit_code == 0, r.output
    assert "27 leaves" in r.output
    with h5py.File(out) as f:
        assert f["samples"].shape == (90, 40)
        assert sorted(f["labels"]) == ["level_1", "level_2", "level_3"]
    expected = hierarchical(3, 3, 40, [0.3, 0.2, 0.1, 0.01], 90, 4)
    np.testing.assert_array_equal(read_level_labels(out)["level_3"], expected.labels[:, 2])
    r = CliRunner().invoke(generate, ["hierarchical", "--flip-probs", "0.3,x", "--out", str(out)])
    assert r.exit_code == 2 and "comma-separated" in r.output
    r = CliRunner().invoke(generate, ["hierarchical", "--out", str(tmp_path / "d.npy")])
    assert r.exit_code == 2 and ".h5" in r.output
