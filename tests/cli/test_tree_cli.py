"""``boltzkit train --labels`` (the run stores the labels of its data for reports) and
``boltzkit tree`` / ``boltzkit landscape`` on alignments with Potts RBM runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.data.msa import write_fasta
from boltzkit.io import trajectory

sys.path.insert(0, str(Path(__file__).parents[1] / "report"))
from test_tree_report import potts_prototype_model  # noqa: E402

runner = CliRunner()
ALPHABET = "-ACDEFGHIKLMNPQRSTVWY"


pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest


def test_train_stores_the_labels_of_its_data(tmp_path):
    rng = np.random.default_rng(0)
    proto = np.array([[1] * 6 + [0] * 6, [0] * 6 + [1] * 6])
    labels = rng.integers(0, 2, 300)
    x = proto[labels]
    np.save(tmp_path / "x.npy", x.astype(np.uint8))
    (tmp_path / "y.txt").write_text("\n".join(["left", "right"][v] for v in labels) + "\n")
    common = ["--hidden", "4", "--updates", "20", "--batch-size", "100", "--chains", "50",
              "--gibbs-steps", "2", "--checkpoints", "3", "--quiet"]
    r = runner.invoke(app, ["train", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.txt"),
                            "--out", str(tmp_path / "run.h5"), *common])
    assert r.exit_code == 0, r.output
    rows, stored, _ = trajectory.read_data_sample(tmp_path / "run.h5")
    np.testing.assert_array_equal(stored, np.array(["left", "right"])[labels])
    np.testing.assert_array_equal(rows, x)
    assert trajectory.read_config(tmp_path / "run.h5")["data"]["labels_path"].endswith("y.txt")
    # one label too few: one line, exit 2
    (tmp_path / "short.txt").write_text("\n".join("a" for _ in range(299)) + "\n")
    r = runner.invoke(app, ["train", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "short.txt"),
                            "--out", str(tmp_path / "bad.h5"), *common])
    assert r.exit_code == 2 and "short.txt" in r.output
    # alignments take their labels in `boltzkit tree --labels`
    write_fasta(tmp_path / "a.fasta", np.zeros((5, 4), np.int8) + 1, ALPHABET)
    r = runner.invoke(app, ["train", str(tmp_path / "a.fasta"), "--model", "potts-rbm", "--labels",
                            str(tmp_path / "y.txt"), "--out", str(tmp_path / "p.h5"), *common])
    assert r.exit_code == 2 and "--labels" in r.output


@pytest.fixture(scope="module")
def potts_run(tmp_path_factory):
    """A Potts RBM run whose checkpoints hold 0, 2 and 4 prototype sequences (a known 2-level tree),
    and an alignment of noisy copies of the 4 leaves with their labels."""
    folder = tmp_path_factory.mktemp("potts")
    rng = np.random.default_rng(3)
    q, n = len(ALPHABET), 30
    root = rng.integers(1, q, n)

    def mutate(seq, frac):
        out = seq.copy()
        sites = rng.random(n) < frac
        out[sites] = rng.integers(1, q, sites.sum())
        return out

    mid = np.stack([mutate(root, 0.6) for _ in range(2)])
    leaves = np.stack([mutate(mid[i // 2], 0.4) for i in range(4)])
    labels = np.repeat(np.arange(4), 20)
    x = leaves[labels].copy()
    noise = rng.random(x.shape) < 0.03
    x[noise] = rng.integers(1, q, noise.sum())
    write_fasta(folder / "msa.fasta", x.astype(np.int8), ALPHABET, [f"seq{i}" for i in range(len(x))])
    (folder / "family.txt").write_text("\n".join(f"sub{v // 2}.{v % 2}" for v in labels) + "\n")
    models = [(10, potts_prototype_model(np.zeros((0, n), int), q, 4)),
              (20, potts_prototype_model(mid, q, 4)), (30, potts_prototype_model(leaves, q, 4))]
    run = folder / "run.h5"
    trajectory.create(run, {"model": models[0][1].config(), "training": {}, "alphabet": ALPHABET},
                      x.astype(np.int8))
    for update, model in models:
        trajectory.append(run, update, model.parameters(), 0.0, 0.1, checkpoint=True)
    return folder, run, labels


def test_tree_and_landscape_on_an_alignment(potts_run):
    folder, run, labels = potts_run
    out = folder / "tree.nwk"
    r = runner.invoke(app, ["tree", str(run), str(folder / "msa.fasta"), "--labels",
                            str(folder / "family.txt"), "--n-points", "0", "--out", str(out), "--json",
                            "--threads", "1"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    # root (no weights), the 2 subfamilies, the 4 leaves
    assert [lv["n_clusters"] for lv in summary["levels"]] == [1, 2, 4]
    # the leaves are recovered exactly; each subfamily cluster holds two labels, 20 + 20 points
    assert summary["levels"][2]["ari"] == pytest.approx(1.0)
    assert summary["levels"][2]["purity"] == pytest.approx(1.0)
    assert summary["levels"][1]["purity"] == pytest.approx(0.5)
    assert summary["n_unconverged"] == 0 and "n_damped" in summary
    newick = out.read_text()
    assert newick.count("seq") == 80 and newick.strip().endswith(";")
    assert Path(summary["files"]["figure"]).stat().st_size > 1000

    basins = folder / "basins.h5"
    r = runner.invoke(app, ["landscape", str(run), str(folder / "msa.fasta"), "--out", str(basins),
                            "--json", "--threads", "1"])
    assert r.exit_code == 0, r.output
    land = json.loads(r.output)
    assert land["n_fixed_points"] == 4 and land["n_unconverged"] == 0
    assert sorted(row["basin_size"] for row in land["fixed_points"]) == [20, 20, 20, 20]
    assert land["n_damped"] == 0 and land["max_damping"] == 0.0

    # an alignment of another width than the model's: one line, exit 2
    write_fasta(folder / "short.fasta", np.ones((4, 25), np.int8), ALPHABET)
    r = runner.invoke(app, ["tree", str(run), str(folder / "short.fasta"), "--out", str(out)])
    assert r.exit_code == 2 and "short.fasta" in r.output and "25 columns" in r.output


def test_landscape_reports_the_automatic_damping(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "interpret"))
    from test_tap_damping import cycling_rbm

    model, x = cycling_rbm()  # every undamped order-2 iteration oscillates
    np.save(tmp_path / "x.npy", x.numpy().astype(np.uint8))
    run = tmp_path / "run.h5"
    trajectory.create(run, {"model": model.config(), "training": {}})
    trajectory.append(run, 1, model.parameters(), 0.0, 0.1, checkpoint=True)
    args = ["landscape", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "b.h5"),
            "--tol", "1e-10", "--max-iter", "3000", "--threads", "1"]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    land = json.loads(r.output)
    assert land["n_unconverged"] == 0 and land["n_damped"] == 20 and land["max_damping"] == 0.5
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "damped automatically" in r.output
    r = runner.invoke(app, [*args, "--no-auto-damping", "--max-iter", "300", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["n_unconverged"] == 20
