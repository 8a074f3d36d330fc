"""Model files of other tools read by every command that reads a run file (boltzkit.io.foreign):
the authors' older archive layout, adabmDCA ``params.dat`` and plmc's binary parameter file."""

from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.io.adabmdca import write_adabmdca_params
from boltzkit.io.foreign import foreign_format
from boltzkit.models.pairwise import PottsModel
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM

runner = CliRunner()
PROTEIN = "-ACDEFGHIKLMNPQRSTVWY"


def _older_archive(path: Path, updates: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """The authors' older layout: update_<k>/{weight_matrix, vbias, hbias}, no model_type."""
    with h5py.File(path, "w") as f:
        for update, (w, b, c) in updates.items():
            group = f.create_group(f"update_{update}")
            group["weight_matrix"], group["vbias"], group["hbias"] = w, b, c
    return path


@pytest.fixture(scope="module")
def blume(tmp_path_factory) -> Path:
    """A Potts RBM in the older layout with the shapes of the published Blume-Capel model
    (one checkpoint update_5000000, weights (q, N, Nh) = (3, 51, 250), fields (3, 51))."""
    rng = np.random.default_rng(0)
    tensors = (rng.normal(0, 0.1, (3, 51, 250)).astype(np.float32),
               rng.normal(0, 0.1, (3, 51)).astype(np.float32),
               rng.normal(0, 0.1, 250).astype(np.float32))
    return _older_archive(tmp_path_factory.mktemp("blume") / "blume.h5", {5_000_000: tensors})


@pytest.fixture(scope="module")
def binary_archive(tmp_path_factory) -> Path:
    """A binary RBM in the older layout, shapes of the EA L = 7 models (N, Nh) = (49, 100), two
    checkpoints, beside 200 rows of data."""
    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp("ea")
    np.save(folder / "x.npy", (rng.random((200, 49)) < 0.5).astype(np.uint8))
    updates = {k: (rng.normal(0, 0.1, (49, 100)).astype(np.float32),
                   rng.normal(0, 0.1, 49).astype(np.float32),
                   rng.normal(0, 0.1, 100).astype(np.float32)) for k in (1000, 2000)}
    return _older_archive(folder / "ea.h5", updates)


@pytest.fixture(scope="module")
def params_dat(tmp_path_factory) -> Path:
    """An adabmDCA params.dat (letters, protein alphabet) of a random 10-site Potts model."""
    generator = torch.Generator().manual_seed(2)
    h = torch.randn(10, 21, generator=generator, dtype=torch.float64) * 0.3
    j = torch.randn(10, 10, 21, 21, generator=generator, dtype=torch.float64) * 0.1
    j = (j + j.permute(1, 0, 3, 2)) / 2
    j[torch.arange(10), torch.arange(10)] = 0
    return write_adabmdca_params(tmp_path_factory.mktemp("adabmdca") / "params.dat", h, j, "protein")


def _plmc_file(path: Path, fields: np.ndarray, couplings: np.ndarray, alphabet: str) -> Path:
    """plmc's OutputParametersFull layout (see boltzkit.io.adabmdca), with zero frequencies."""
    length, q = fields.shape
    iu, ju = np.triu_indices(length, k=1)
    raw = struct.pack("<5i", length, q, 3, 0, 50) + struct.pack("<5f", 0.2, 0.01, 16.0, 0.0, 2.5)
    raw += alphabet.encode() + struct.pack("<3f", 1, 1, 1) + b"A" * length
    raw += struct.pack(f"<{length}i", *range(1, length + 1))
    blocks = [np.zeros((length, q)), fields, np.zeros((len(iu), q, q)), couplings[iu, ju]]
    path.write_bytes(raw + b"".join(np.asarray(b, dtype="<f4").tobytes() for b in blocks))
    return path


def _invoke(folder: Path, monkeypatch, *args: str):
    monkeypatch.chdir(folder)
    return runner.invoke(app, list(args))


def test_older_layout_potts_keeps_the_state_order(blume):
    """F(v) of the imported model equals the published formula on the file's own tensors,
    F(v) = -sum_i b[v_i, i] - sum_a softplus(c_a + sum_i W[v_i, i, a]) (index order (q, N, Nh))."""
    assert foreign_format(blume) == "rbms archive"
    assert trajectory.checkpoint_updates(blume) == [5_000_000]
    model = trajectory.load_model(blume)
    assert isinstance(model, PottsRBM) and model.n_visible == 51 and model.n_states == 3
    with h5py.File(blume) as f:
        w, b, c = (torch.from_numpy(f["update_5000000"][k][()]).double()
                   for k in ("weight_matrix", "vbias", "hbias"))
    v = torch.randint(0, 3, (64, 51), generator=torch.Generator().manual_seed(0))
    sites = torch.arange(51)
    by_hand = -b[v, sites].sum(1) - torch.nn.functional.softplus(c + w[v, sites].sum(1)).sum(1)
    assert torch.allclose(model.to(dtype=torch.float64).free_energy(v), by_hand, atol=1e-9)
    assert trajectory.read_config(blume)["model"]["kind"] == "potts-rbm"


def test_older_layout_binary_checkpoints(binary_archive):
    assert trajectory.checkpoint_updates(binary_archive) == [1000, 2000]
    first = trajectory.load_model(binary_archive, 1000)
    assert isinstance(first, RBM) and first.weights.shape == (49, 100)
    with h5py.File(binary_archive) as f:
        assert np.array_equal(first.weights.numpy(), f["update_1000/weight_matrix"][()])
    assert [u for u, _ in trajectory.load_models(binary_archive)] == [1000, 2000]


def test_commands_read_an_older_binary_archive(binary_archive, monkeypatch):
    folder = binary_archive.parent
    for args, output in [
        (["sample", "ea.h5", "-o", "s.npy", "--n", "20", "--gibbs-steps", "5"], "s.npy"),
        (["couplings", "ea.h5", "-o", "c.h5", "--method", "gaussian"], "c.h5"),
        (["landscape", "ea.h5", "x.npy", "-o", "l.h5"], "l.h5"),
        (["tree", "ea.h5", "x.npy", "-o", "t.nwk"], "t.nwk"),
        (["evaluate", "ea.h5", "x.npy", "--ais-chains", "20", "--ais-steps", "50",
          "--ais-runs", "2", "--moment-samples", "50", "--moment-steps", "5", "--json"], None),
    ]:
        result = _invoke(folder, monkeypatch, *args)
        assert result.exit_code == 0, (args, result.output)
        if output is not None:
            assert (folder / output).is_file()
    assert np.load(folder / "s.npy").shape == (20, 49)


def test_evaluate_of_an_archive_needs_data(binary_archive, monkeypatch):
    result = _invoke(binary_archive.parent, monkeypatch, "evaluate", "ea.h5")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: ea.h5: this rbms archive holds no training data: give DATA"]


def test_adabmdca_params_in_every_command(params_dat, monkeypatch):
    folder = params_dat.parent
    config = trajectory.read_config(params_dat)
    assert config["source"] == "adabmDCA parameter file" and config["alphabet"] == PROTEIN
    model = trajectory.load_model(params_dat)
    assert isinstance(model, PottsModel) and model.fields.shape == (10, 21)
    result = _invoke(folder, monkeypatch, "sample", "params.dat", "-o", "s.fasta", "--n", "30",
                     "--gibbs-steps", "5")
    assert result.exit_code == 0, result.output
    lines = (folder / "s.fasta").read_text().splitlines()
    assert len(lines) == 60 and set("".join(lines[1::2])) <= set(PROTEIN)
    result = _invoke(folder, monkeypatch, "couplings", "params.dat", "-o", "c.h5")
    assert result.exit_code == 0, result.output
    with (folder / "struct.dat").open("w") as f:  # 1-based i j score distance, all pairs
        for i in range(1, 11):
            for j in range(i + 1, 11):
                f.write(f"{i} {j} 0 {4.0 if j - i in (5, 7) else 20.0}\n")
    result = _invoke(folder, monkeypatch, "contacts", "params.dat", "--struct", "struct.dat", "--json")
    assert result.exit_code == 0, result.output
    result = _invoke(folder, monkeypatch, "evaluate", "params.dat", "s.fasta", "--moment-samples", "50",
                     "--moment-steps", "5", "--ais-chains", "20", "--ais-steps", "50", "--ais-runs", "2")
    assert result.exit_code == 0, result.output
    result = _invoke(folder, monkeypatch, "sample", "params.dat", "-o", "t.npy", "--checkpoint", "3")
    assert result.exit_code == 2
    assert "params.dat: no checkpoint 3" in result.output


def test_adabmdca_integer_codes_tell_the_alphabet(tmp_path):
    (tmp_path / "p.dat").write_text("J 0 1 0 4 0.5\nh 0 3 0.1\nh 1 2 -0.1\n")
    assert trajectory.read_config(tmp_path / "p.dat")["alphabet"] == "-ACGU"
    assert trajectory.load_model(tmp_path / "p.dat").n_states == 5


def test_plmc_parameter_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    fields = rng.normal(0, 0.3, (6, 4))
    couplings = rng.normal(0, 0.2, (6, 6, 4, 4))
    couplings = (couplings + couplings.transpose(1, 0, 3, 2)) / 2
    couplings[np.arange(6), np.arange(6)] = 0
    path = _plmc_file(tmp_path / "model.params", fields, couplings, "ACGT")
    assert foreign_format(path) == "plmc parameter file"
    model = trajectory.load_model(path)
    assert np.allclose(model.fields.numpy(), fields, atol=1e-6)
    assert np.allclose(model.couplings.numpy(), couplings, atol=1e-6)
    assert trajectory.read_config(path)["alphabet"] == "ACGT"
    result = _invoke(tmp_path, monkeypatch, "sample", "model.params", "-o", "s.fasta", "--n", "10")
    assert result.exit_code == 0, result.output
    assert set("".join((tmp_path / "s.fasta").read_text().splitlines()[1::2])) <= set("ACGT")


def test_not_a_model_file_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("hello\n")
    result = _invoke(tmp_path, monkeypatch, "sample", "notes.txt", "-o", "s.npy")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: notes.txt: not an HDF5 file: neither a boltzkit run file nor a model file of rbms, adabmDCA or plmc"]


def test_an_older_archive_whose_shapes_disagree_is_one_line(tmp_path, monkeypatch):
    """Fields stored (N,) beside (q, N, Nh) weights: refused naming the file's own shapes."""
    _older_archive(tmp_path / "bad.h5", {10: (np.zeros((3, 5, 4), np.float32), np.zeros(5, np.float32),
                                              np.zeros(4, np.float32))})
    result = _invoke(tmp_path, monkeypatch, "couplings", "bad.h5", "-o", "c.h5")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: bad.h5: update_10: vbias (5,) does not match weight_matrix (3, 5, 4) (the older layout "
        "stores (q, N) and (q, N, Nh))"]


def test_commands_that_need_a_run_say_what_the_file_is(params_dat, monkeypatch):
    """report and train --resume need a boltzkit run: a foreign model file is named for what it is."""
    folder = params_dat.parent
    result = _invoke(folder, monkeypatch, "report", "params.dat", "-o", "r.html")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: params.dat: the model file of another tool (adabmDCA parameter file), not a boltzkit run: "
        "this needs the run that trained it"]
    np.save(folder / "x.npy", np.zeros((4, 10), np.uint8))
    result = _invoke(folder, monkeypatch, "train", "x.npy", "-o", "params.dat", "--resume")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: params.dat: the model file of another tool (adabmDCA parameter file), not a boltzkit run: "
        "nothing to resume"]
    assert not (folder / "r.html").exists()


def test_a_parameter_file_is_read_again_when_it_changes(tmp_path):
    """The parse is kept between the config and the model of one command, never across a change
    of the file; each caller gets its own copy of the tensors."""
    path = tmp_path / "p.dat"
    path.write_text("h 0 A 0.5\nh 1 C -0.5\n")
    first = trajectory.load_model(path)
    first.fields.zero_()  # a caller changing its copy changes nothing for the next one
    assert float(trajectory.load_model(path).fields[0, 1]) == pytest.approx(0.5)
    path.write_text("h 0 A 0.25\nh 1 C -0.5\n")
    assert float(trajectory.load_model(path).fields[0, 1]) == pytest.approx(0.25)
