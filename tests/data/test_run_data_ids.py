"""The names of the training rows (haplotype IDs, alignment headers) travel from the data into
the run file (``data_ids``), whatever the training method, and old or foreign files without
them read as None."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from boltzkit.data.specs import DATA_SAMPLE_ROWS, make_spec
from boltzkit.io import trajectory
from boltzkit.models.registry import family
from boltzkit.training.config import TrainingConfig
from boltzkit.training.run import TrainingData, train_run

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs_v0_1"
RBMS = Path(__file__).resolve().parent / "rbms"
TINY = dict(n_updates=3, batch_size=10, n_chains=10, gibbs_steps=1, n_checkpoints=2)


def _hapt(path: Path, n: int = 24, n_sites: int = 10) -> tuple[Path, list[str]]:
    values = (np.random.default_rng(2).random((n, n_sites)) < 0.5).astype(int)
    ids = [f"HG{i:05d}_{'AB'[i % 2]}" for i in range(n)]
    text = "\n".join(f"Real {name} " + " ".join(map(str, row)) for name, row in zip(ids, values))
    path.write_bytes(gzip.compress((text + "\n").encode()))
    return path, ids


@pytest.mark.parametrize("kind,method", [("bernoulli-rbm", "pcd"), ("ising-bm", "plm"),
                                         ("hybrid", "plm")])
def test_every_method_stores_the_haplotype_ids(tmp_path, kind, method):
    data, ids = _hapt(tmp_path / "toy.hapt.gz")
    out = tmp_path / "run.h5"
    options = {"n_hidden": 3} if "n_hidden" in family(kind).options else {}
    if kind == "hybrid":
        options["nn_hidden"] = 4
    train_run(make_spec("binary", data), out, kind, config=TrainingConfig(method=method, **TINY),
              options=options)
    assert trajectory.read_data_ids(out) == ids
    rows, _, _ = trajectory.read_data_sample(out)
    assert len(rows) == len(ids)


def test_split_runs_store_the_ids_of_their_training_rows(tmp_path):
    data, ids = _hapt(tmp_path / "toy.hapt.gz")
    spec = make_spec("binary", data, test_fraction=0.25, split_seed=3)
    out = tmp_path / "run.h5"
    train_run(spec, out, "bernoulli-rbm", 2, TrainingConfig(**TINY))
    train, _ = spec.load()
    stored = trajectory.read_data_ids(out)
    assert stored == list(train.ids) and len(stored) == 18
    rows, _, _ = trajectory.read_data_sample(out)
    np.testing.assert_array_equal(rows, train.samples)


def test_alignment_headers_are_the_ids(tmp_path):
    headers = ["sp|P1|A HUMAN", "tr|Q2|B/3-40", "plain"]
    (tmp_path / "a.fasta").write_text("".join(f">{h}\n{seq}\n" for h, seq in
                                              zip(headers, ["ACG", "CCA", "GAA"])))
    out = tmp_path / "run.h5"
    train_run(make_spec("categorical", tmp_path / "a.fasta"), out, "potts-rbm", 2, TrainingConfig(**TINY))
    assert trajectory.read_data_ids(out) == headers


def test_ids_of_an_npz_round_trip_in_utf8(tmp_path):
    ids = np.array(["échantillon_1", "β-2", "plain", "四"])
    np.savez(tmp_path / "x.npz", samples=np.eye(4, dtype=np.uint8), ids=ids)
    out = tmp_path / "run.h5"
    train_run(make_spec("binary", tmp_path / "x.npz"), out, "bernoulli-rbm", 2, TrainingConfig(**TINY))
    assert trajectory.read_data_ids(out) == list(ids)


def test_only_the_stored_rows_get_their_ids():
    n = DATA_SAMPLE_ROWS + 5
    space = family("bernoulli-rbm").space(2)
    data = TrainingData(np.zeros((n, 3), np.float32), None, space, TrainingConfig(**TINY),
                        ids=np.array([f"r{i}" for i in range(n)]))
    assert data.sample_ids() == [f"r{i}" for i in range(DATA_SAMPLE_ROWS)]
    assert TrainingData(np.zeros((4, 3), np.float32), None, space, TrainingConfig(**TINY)).sample_ids() is None
    with pytest.raises(ValueError):
        TrainingData(np.zeros((4, 3), np.float32), None, space, TrainingConfig(**TINY), ids=["a"])


def test_data_without_names_and_old_or_foreign_files_have_none(tmp_path):
    np.save(tmp_path / "x.npy", (np.random.default_rng(0).random((20, 5)) < 0.5).astype(np.uint8))
    out = tmp_path / "run.h5"
    train_run(make_spec("binary", tmp_path / "x.npy"), out, "bernoulli-rbm", 2, TrainingConfig(**TINY))
    assert trajectory.read_data_ids(out) is None
    assert trajectory.read_data_ids(FIXTURES / "bernoulli-rbm.h5") is None  # boltzkit 0.1.0
    assert trajectory.read_data_ids(RBMS / "bbrbm.h5") is None  # an archive of the rbms package
