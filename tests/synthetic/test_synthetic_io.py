"""The HDF5 file: samples, unscaled truth with beta, attributes, atomic writes."""

import json
import os

import h5py
import pytest
import torch

from boltzkit.errors import DataError
from boltzkit.synthetic import generators as gen
from boltzkit.synthetic.io import ground_truth, read_attributes, read_samples, write_dataset


def test_ising_file_layout_and_scaled_truth(tmp_path):
    data = gen.ising_kbody(8, 0.4, 60, kbody_coupling=0.5, field=0.1, chains=20, sweeps_thermalize=5, seed=1)
    path = data.save(tmp_path / "kbody.h5")
    with h5py.File(path, "r") as f:
        assert f["samples"].shape == (60, 8) and f["samples"].dtype == "int8"
        assert set(f["samples"][...].flatten().tolist()) <= {-1, 1}
        assert f["truth/couplings"].shape == (8, 8)
        assert f["truth/order_3/indices"].shape == (8, 3) and f["truth/order_2/values"].shape == (8,)
        assert f.attrs["convention"] == "ising" and f.attrs["generator"] == "ising-kbody"
        params = json.loads(f.attrs["parameters"])
        assert params["size"] == 8 and params["sweeps_thermalize"] == 5 and params["seed"] == 1
        assert f["diagnostics"].attrs["n_chains"] == 20 and f["diagnostics/energy"].shape == (3, 20)
        # stored unscaled: the couplings are the generating J = 1 and the 3-body 0.5
        assert f["truth/order_2/values"][...].tolist() == [1.0] * 8
        assert f["truth/couplings"][0, 1] == 1.0 and f["truth/couplings"][0, 0] == 0.0
    truth = ground_truth(path)  # scaled by default
    assert truth.beta == 0.4 and truth.scaled
    assert torch.allclose(truth.couplings[3][1], torch.full((8,), 0.2, dtype=torch.float64))
    assert torch.allclose(truth.fields, torch.full((8,), 0.04, dtype=torch.float64))
    raw = ground_truth(path, scaled=False)
    assert torch.allclose(raw.pair_matrix(), data.hamiltonian.pair_matrix())
    assert torch.equal(read_samples(path), data.samples)
    attrs = read_attributes(path)
    assert attrs["state_values"] == [-1.0, 1.0] and 0 < attrs["diagnostics"]["acceptance_rate"] <= 1


def test_potts_and_blume_capel_layouts(tmp_path):
    p = gen.potts(5, 0.5, 20, q=4, field=0.3, chains=10, sweeps_thermalize=2).save(tmp_path / "potts.h5")
    truth = ground_truth(p, scaled=False)
    assert truth.fields.shape == (5, 4) and truth.pair_matrix().shape == (5, 5, 4, 4)
    assert torch.equal(truth.pair_matrix()[0, 1], torch.eye(4, dtype=torch.float64))
    assert truth.couplings[2][1].shape == (5, 4, 4)
    assert int(read_samples(p).max()) <= 3
    b = gen.blume_capel(6, 0.5, 20, three_body=2.0, crystal_field=0.5, chains=10, sweeps_thermalize=2)
    path = b.save(tmp_path / "bc.h5")
    truth = ground_truth(path)
    assert torch.allclose(truth.crystal_field, torch.full((6,), 0.25, dtype=torch.float64))
    assert 3 in truth.couplings
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["state_values"]) == [-1.0, 1.0, 0.0]
        assert set(f["samples"][...].flatten().tolist()) <= {0, 1, 2}


def test_lattice_gas_samples_are_occupations(tmp_path):
    path = gen.lattice_gas(6, 0.5, 30, chains=10, sweeps_thermalize=2).save(tmp_path / "lg.h5")
    assert set(read_samples(path).flatten().tolist()) <= {0, 1}
    assert ground_truth(path).convention == "lattice-gas"


def test_write_is_atomic(tmp_path):
    data = gen.ising1d(5, 0.3, 10, chains=5, sweeps_thermalize=1)
    path = data.save(tmp_path / "a.h5")
    before = read_samples(path)
    with pytest.raises(TypeError):  # a parameter that cannot be written fails mid-write
        write_dataset(path, data.samples * 0 + 1, data.hamiltonian, 0.3, "ising1d", {"bad": object()})
    assert torch.equal(read_samples(path), before)            # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["a.h5"]            # no temporary file left behind


def test_reading_a_foreign_file_is_a_user_error(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["samples"] = [[1, -1]]
    with pytest.raises(DataError, match="not a boltzkit.synthetic file"):
        ground_truth(tmp_path / "other.h5")
    with pytest.raises(DataError, match="no such file"):
        read_samples(tmp_path / "missing.h5")
