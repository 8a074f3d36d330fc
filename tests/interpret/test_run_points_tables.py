"""The data placed in a landscape or a tree are read the run's way: a table of categorical
columns coded with the run's categories (whatever rows the file holds), its labels column as the
points' labels, and the rows named by their IDs where the data have them."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pytest
import torch

from boltzkit.data.specs import make_spec
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.interpret.landscape import free_energy_landscape, load_run_points, save_landscape
from boltzkit.interpret.run_interpretation import tree_labels
from boltzkit.io import trajectory
from boltzkit.training.config import TrainingConfig
from boltzkit.training.run import train_run

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest

TINY = TrainingConfig(n_updates=3, batch_size=10, n_chains=10, gibbs_steps=1, n_checkpoints=2)
ROWS = ["kind,colour,shape", "A,red,x", "B,blue,f", "A,red,b", "B,green,k", "A,blue,x", "B,blue,s"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table_points")
    data = folder / "toy.csv"
    data.write_text("\n".join(ROWS) + "\n")
    run = folder / "run.h5"
    train_run(make_spec("categorical", data, labels_column="kind"), run, "potts-rbm", 2, TINY)
    return folder, data, run


def test_a_table_is_coded_with_the_run_categories(table_run):
    folder, data, run = table_run
    categories = trajectory.read_config(run)["data"]["categories"]
    assert categories == [["blue", "green", "red"], ["b", "f", "k", "s", "x"]]
    points = load_run_points(run, data)
    np.testing.assert_array_equal(points.x.numpy(), [[2, 4], [0, 1], [2, 0], [1, 2], [0, 4], [0, 3]])
    assert list(points.labels) == ["A", "B", "A", "B", "A", "B"] and points.labels_name == "kind"
    assert points.names == [f"sample_{i}" for i in range(6)] and points.alphabet is not None
    # another file with fewer values per column (alone it would code 'red' as 0): the run's codes
    other = folder / "other.csv"
    other.write_text("kind,colour,shape\nB,red,s\nA,red,x\n")
    np.testing.assert_array_equal(load_run_points(run, other).x.numpy(), [[2, 3], [2, 4]])
    # a value the run never saw, a column it does not have: one line naming the file
    (folder / "new.csv").write_text("kind,colour,shape\nA,pink,x\n")
    with pytest.raises(DataError, match="new.csv.*pink"):
        load_run_points(run, folder / "new.csv")
    (folder / "cols.csv").write_text("kind,colour,size\nA,red,x\n")
    with pytest.raises(DataError, match="cols.csv"):
        load_run_points(run, folder / "cols.csv")


def test_tree_labels_of_a_table(table_run):
    _, data, run = table_run
    points = load_run_points(run, data, n_points=4, seed=1)
    sets, source = tree_labels(None, data, points)  # the run's labels column, by its name
    assert list(sets) == ["kind"] and "kind" in source
    np.testing.assert_array_equal(sets["kind"], np.array(["A", "B"] * 3)[points.index])
    sets, _ = tree_labels("colour", data, points)  # another column, by name ...
    np.testing.assert_array_equal(sets["colour"],
                                  np.array(["red", "blue", "red", "green", "blue", "blue"])[points.index])
    sets, _ = tree_labels("2", data, points)  # ... or by position
    assert list(sets) == ["shape"]
    with pytest.raises(DataError, match="no column named 'size'"):
        tree_labels("size", data, points)


def test_tree_labels_from_a_file_still_win(table_run, tmp_path):
    _, data, run = table_run
    points = load_run_points(run, data)
    (tmp_path / "y.txt").write_text("\n".join("uvwxyz") + "\n")
    sets, _ = tree_labels(str(tmp_path / "y.txt"), data, points)
    assert list(sets["y"]) == list("uvwxyz")
    (tmp_path / "short.txt").write_text("u\nv\n")
    with pytest.raises(BoltzkitError, match="2 values for 6 data rows"):
        tree_labels(str(tmp_path / "short.txt"), data, points)


def test_binary_points_are_named_by_their_ids(tmp_path):
    rng = np.random.default_rng(0)
    values = (rng.random((12, 6)) < 0.5).astype(int)
    ids = [f"HG{i:05d}_{'AB'[i % 2]}" for i in range(12)]
    data = tmp_path / "toy.hapt.gz"
    text = "\n".join(f"Real {name} " + " ".join(map(str, row)) for name, row in zip(ids, values))
    data.write_bytes(gzip.compress((text + "\n").encode()))
    run = tmp_path / "run.h5"
    train_run(make_spec("binary", data), run, "bernoulli-rbm", 2, TINY)
    points = load_run_points(run, data, n_points=5, seed=0)
    assert points.names == [ids[i] for i in points.index]
    # without IDs: s<row>, as before
    np.save(tmp_path / "x.npy", values.astype(np.uint8))
    assert load_run_points(run, tmp_path / "x.npy").names == [f"s{i}" for i in range(12)]
    # the landscape file names its points
    model = trajectory.load_model(run).to(dtype=torch.float64)
    land = free_energy_landscape(model, points.x, max_iter=50)
    save_landscape(tmp_path / "land.h5", land, points)
    with h5py.File(tmp_path / "land.h5", "r") as f:
        assert [n.decode() for n in f["points/names"][()]] == points.names
        np.testing.assert_array_equal(f["points/index"][()], points.index)
