"""Data as shipped, end to end through the command line: a table of categorical columns trained
with a Potts RBM (``--labels-column``), sampled back to value names, evaluated, and placed in a
landscape and a tree labelled by its labels column; a haplotype file (.hapt.gz) trained with an
RBM, whose tree leaves are the haplotype IDs. The real files of the shared data (the UCI mushroom
table, the 805-SNP haplotypes) run the same commands on small settings when they are present."""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory

SHARED_DATA = Path(os.environ.get("BOLTZKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest

runner = CliRunner()
MUSHROOM = SHARED_DATA / "uci_mushroom" / "agaricus-lepiota.data"
HAPT = SHARED_DATA / "human_genome_805snp" / "805_SNP_1000G_real.hapt.gz"
# a tree needs several checkpoints; linear spacing puts them along the whole run
SMALL = ["--updates", "30", "--batch-size", "20", "--chains", "20", "--gibbs-steps", "2",
         "--checkpoints", "6", "--spacing", "linear", "--seed", "0", "--quiet"]
COLUMNS = ["group", "colour", "shape", "ring"]
VALUES = {"colour": ["blue", "green", "red"], "shape": ["b", "f", "k", "s", "x"], "ring": ["?", "y"]}


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def _write_table(path: Path, n: int = 60, seed: int = 0) -> Path:
    """Rows of two groups (the first column) whose colour and shape follow the group."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        group = "AB"[i % 2]
        colour = ("red" if group == "A" else "blue") if rng.random() < 0.8 else "green"
        shape = rng.choice(["x", "b"] if group == "A" else ["f", "k", "s"])
        rows.append(f"{group},{colour},{shape},{'?' if rng.random() < 0.3 else 'y'}")
    path.write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    data = _write_table(folder / "toy.csv")
    run = folder / "run.h5"
    r = invoke("train", data, "--out", run, "--model", "potts-rbm", "--hidden", "3",
               "--labels-column", "group", *SMALL)
    assert r.exit_code == 0, r.output
    return folder, data, run


def test_the_labels_column_is_kept_out_of_the_model_and_stored(table_run):
    _, data, run = table_run
    config = trajectory.read_config(run)
    assert config["data"]["labels_column"] == "group"
    assert config["data"]["columns"] == COLUMNS[1:]
    assert config["model"]["n_visible"] == 3 and config["model"]["n_states"] == 5
    rows, labels, _ = trajectory.read_data_sample(run)
    assert rows.shape == (60, 3)
    assert list(labels[:4]) == ["A", "B", "A", "B"]
    assert trajectory.read_data_ids(run)[:2] == ["sample_0", "sample_1"]


def test_labels_column_by_position_and_refusals(tmp_path, table_run):
    _, data, _ = table_run
    r = invoke("train", data, "--out", tmp_path / "p.h5", "--model", "potts-rbm", "--hidden", "2",
               "--labels-column", "0", *SMALL)
    assert r.exit_code == 0, r.output
    assert trajectory.read_config(tmp_path / "p.h5")["data"]["columns"] == COLUMNS[1:]
    # not a column: one line naming the file, nothing written
    r = invoke("train", data, "--out", tmp_path / "q.h5", "--model", "potts-rbm",
               "--labels-column", "size", *SMALL)
    assert r.exit_code == 2 and "size" in r.output and "toy.csv" in r.output
    assert not (tmp_path / "q.h5").exists()
    # other data: refused in one line
    np.save(tmp_path / "x.npy", np.zeros((10, 4), np.uint8))
    r = invoke("train", tmp_path / "x.npy", "--out", tmp_path / "b.h5", "--labels-column", "0", *SMALL)
    assert r.exit_code == 2 and "--labels-column" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "b.h5").exists()


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_sample_writes_value_names_of_each_column(table_run, suffix):
    folder, _, run = table_run
    out = folder / f"samples{suffix}"
    r = invoke("sample", run, "--out", out, "--n", "40", "--gibbs-steps", "20")
    assert r.exit_code == 0, r.output
    with open(out, newline="") as f:
        rows = list(csv.reader(f, delimiter="," if suffix == ".csv" else "\t"))
    assert rows[0] == COLUMNS[1:] and len(rows) == 41
    # every value is a real category of its column: the fields of the states a column never had
    # start at log(1e-4 / q) (about -10.7) and training only lowers them, so with 40 x 3 cells the
    # chance of one such state is below 40 * 3 * 5 * exp(-10.7) ~ 1e-2 for this fixed seed (and
    # the draw is deterministic)
    for j, name in enumerate(COLUMNS[1:]):
        assert {row[j] for row in rows[1:]} <= set(VALUES[name])


def test_sample_csv_of_a_non_table_run_is_refused(tiny_run, tmp_path):
    out = tmp_path / "s.csv"
    r = invoke("sample", tiny_run, "--out", out, "--n", "5")
    assert r.exit_code == 2 and "--out" in r.output and "table" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not out.exists()


def test_a_table_run_refuses_fasta(table_run, tmp_path):
    _, _, run = table_run
    r = invoke("sample", run, "--out", tmp_path / "s.fasta", "--n", "5")
    assert r.exit_code == 2 and ".csv" in r.output and not (tmp_path / "s.fasta").exists()


def test_evaluate_and_landscape_of_a_table_run(table_run):
    folder, data, run = table_run
    r = invoke("evaluate", run, "--json", "--ais-chains", "20", "--ais-steps", "20", "--ais-runs", "2",
               "--moment-samples", "50", "--moment-steps", "10")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert np.isfinite(result["log_likelihood"]["train"])
    out = folder / "land.h5"
    r = invoke("landscape", run, data, "--out", out, "--json", "--n-points", "0")
    assert r.exit_code == 0, r.output
    with h5py.File(out, "r") as f:
        assert f["points/basin"].shape == (60,)
        assert f["fixed_points/visible"].shape[1:] == (3, 5)


def test_tree_of_a_table_run_uses_its_labels_column(table_run):
    folder, data, run = table_run
    out = folder / "tree.nwk"
    r = invoke("tree", run, data, "--out", out, "--json", "--n-points", "0", "--quiet")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert "group" in summary["labels"]
    assert [a["labels"] for a in summary["agreement"]] == ["group"]
    with open(folder / "tree_assignments.csv") as f:
        header = f.readline().strip().split(",")
    assert "label:group" in header
    # another column of the table as labels, by name
    r = invoke("tree", run, data, "--out", folder / "tree2.nwk", "--json", "--labels", "colour",
               "--n-points", "0", "--quiet")
    assert r.exit_code == 0, r.output
    assert [a["labels"] for a in json.loads(r.output)["agreement"]] == ["colour"]
    # a column that does not exist: one line naming the table
    r = invoke("tree", run, data, "--out", folder / "tree3.nwk", "--labels", "size", "--quiet")
    assert r.exit_code == 2 and "size" in r.output and not (folder / "tree3.nwk").exists()


def _hapt(path: Path, n: int = 40, n_sites: int = 16, seed: int = 0) -> tuple[Path, list[str]]:
    """Two populations of haplotypes (each site flips its population's prototype w.p. 0.1)."""
    rng = np.random.default_rng(seed)
    proto = (rng.random((2, n_sites)) < 0.5).astype(int)
    ids = [f"HG{i:05d}_{'AB'[i % 2]}" for i in range(n)]
    values = proto[np.arange(n) % 2] ^ (rng.random((n, n_sites)) < 0.1)
    text = "\n".join(f"Real {name} " + " ".join(map(str, row)) for name, row in zip(ids, values))
    path.write_bytes(gzip.compress((text + "\n").encode()))
    return path, ids


def _newick_leaves(path: Path) -> set[str]:
    text = path.read_text()
    tokens = text.replace("(", ",").replace(")", ",").replace(";", ",").split(",")
    return {t.split(":")[0].strip().strip("'") for t in tokens if t.split(":")[0].strip()}


def test_haplotype_run_keeps_ids_and_names_tree_leaves(tmp_path):
    data, ids = _hapt(tmp_path / "toy.hapt.gz")
    run = tmp_path / "run.h5"
    r = invoke("train", data, "--out", run, "--hidden", "4", *SMALL)
    assert r.exit_code == 0, r.output
    assert trajectory.read_data_ids(run) == ids
    r = invoke("tree", run, data, "--out", tmp_path / "tree.nwk", "--n-points", "0", "--json", "--quiet")
    assert r.exit_code == 0, r.output
    leaves = _newick_leaves(tmp_path / "tree.nwk") & set(ids)
    assert leaves == set(ids)
    assert not any(leaf.startswith("s1") for leaf in _newick_leaves(tmp_path / "tree.nwk"))


@pytest.mark.skipif(not MUSHROOM.is_file(), reason=f"shared mushroom data not found at {MUSHROOM}")
def test_real_mushroom_table(tmp_path):
    run = tmp_path / "run.h5"
    r = invoke("train", MUSHROOM, "--out", run, "--model", "potts-rbm", "--hidden", "4",
               "--labels-column", "0", "--no-reweight", "--updates", "10", "--batch-size", "200",
               "--chains", "50", "--gibbs-steps", "1", "--checkpoints", "3", "--spacing", "linear",
               "--quiet")
    assert r.exit_code == 0, r.output
    config = trajectory.read_config(run)
    categories = config["data"]["categories"]
    r = invoke("sample", run, "--out", tmp_path / "s.csv", "--n", "20", "--gibbs-steps", "5")
    assert r.exit_code == 0, r.output
    with open(tmp_path / "s.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 20 + int(config["data"]["header"] is True)
    r = invoke("tree", run, MUSHROOM, "--out", tmp_path / "tree.nwk", "--n-points", "40", "--json",
               "--quiet")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["agreement"][0]["labels"] == "0"
    assert len(categories) == 22


@pytest.mark.skipif(not HAPT.is_file(), reason=f"shared haplotype data not found at {HAPT}")
def test_real_haplotypes_tree_leaves_are_sample_ids(tmp_path):
    run = tmp_path / "run.h5"
    r = invoke("train", HAPT, "--out", run, "--hidden", "4", "--updates", "6", "--batch-size", "200",
               "--chains", "50", "--gibbs-steps", "1", "--checkpoints", "3", "--spacing", "linear",
               "--quiet")
    assert r.exit_code == 0, r.output
    assert trajectory.read_data_ids(run)[0] == "HG00096_A"
    r = invoke("tree", run, HAPT, "--out", tmp_path / "tree.nwk", "--n-points", "30", "--json", "--quiet")
    assert r.exit_code == 0, r.output
    assert any(leaf.startswith("HG") for leaf in _newick_leaves(tmp_path / "tree.nwk"))


def test_resume_compares_the_labels_column(tmp_path):
    data = _write_table(tmp_path / "toy.csv")
    run = tmp_path / "run.h5"
    flags = ["--model", "potts-rbm", "--hidden", "2", "--checkpoints", "2", "--batch-size", "20",
             "--chains", "20", "--gibbs-steps", "1", "--quiet"]
    r = invoke("train", data, "--out", run, "--labels-column", "0", "--updates", "4", *flags)
    assert r.exit_code == 0, r.output
    r = invoke("train", data, "--out", run, "--labels-column", "0", "--updates", "6", "--resume", *flags)
    assert r.exit_code == 0, r.output
    r = invoke("train", data, "--out", run, "--labels-column", "colour", "--updates", "8", "--resume",
               *flags)
    assert r.exit_code == 2 and "--labels-column colour (the run has 0)" in r.output


def test_evaluate_another_table_coded_the_run_way(table_run, tmp_path):
    _, data, run = table_run
    # the same rows in reverse order (column values first met in another order)
    lines = data.read_text().splitlines()
    other = tmp_path / "rev.csv"
    other.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    args = ["--json", "--ais-chains", "20", "--ais-steps", "20", "--ais-runs", "2",
            "--moment-samples", "50", "--moment-steps", "10", "--log-z", "exact"]
    own = json.loads(invoke("evaluate", run, *args).output)
    r = invoke("evaluate", run, other, *args)
    assert r.exit_code == 0, r.output
    # the same rows coded the same way: the same mean log-likelihood (float64 sums in another
    # order: 1e-9)
    assert json.loads(r.output)["log_likelihood"]["train"] == pytest.approx(
        own["log_likelihood"]["train"], abs=1e-9)
