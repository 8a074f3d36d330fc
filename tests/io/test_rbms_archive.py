"""Import of archives written by the ``rbms`` package (tests/data/rbms, made by the real package with
tests/data/make_rbms_fixtures.py): the imported model has rbms' own marginal energies."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from boltzkit.errors import DataError
from boltzkit.io.rbms_archive import is_rbms_archive, load_rbms, rbms_model_type, rbms_updates
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN

pytestmark = pytest.mark.usefixtures("single_thread")

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "rbms"


@pytest.mark.parametrize("name, cls", [("bbrbm", RBM), ("pbrbm", PottsRBM)])
def test_free_energy_equals_rbms(name, cls):
    path = FIXTURES / f"{name}.h5"
    check = np.load(FIXTURES / f"{name}_check.npz")
    assert is_rbms_archive(path)
    assert rbms_updates(path) == [1, int(check["update"])]
    model = load_rbms(path)
    assert isinstance(model, cls)
    v = torch.as_tensor(check["visible"])
    if cls is PottsRBM:
        v = v.long()
        assert model.n_states == 3
    ours = model.to(dtype=torch.float64).free_energy(v.double() if cls is RBM else v).numpy()
    # rbms computed its energies in float32 (parameters float32): agreement to float32 rounding
    np.testing.assert_allclose(ours, check["free_energy"], rtol=1e-5, atol=1e-5)
    # the weights were trained away from their 1e-4 initialisation: the check is not trivial
    assert float(model.weights.abs().max()) > 0.05


def test_checkpoint_selection_and_errors(tmp_path):
    path = FIXTURES / "bbrbm.h5"
    first = load_rbms(path, checkpoint=1)
    last = load_rbms(path)
    assert first.visible_units is BERNOULLI and first.hidden_units is BERNOULLI
    assert not torch.equal(first.weights, last.weights)
    with pytest.raises(DataError, match="no update 7"):
        load_rbms(path, checkpoint=7)
    assert rbms_model_type(FIXTURES / "pbrbm.h5") == "PBRBM"
    assert not is_rbms_archive(tmp_path / "missing.h5")
    with pytest.raises(DataError, match="no such file"):
        load_rbms(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    assert not is_rbms_archive(other)
    with pytest.raises(DataError, match="not an rbms archive"):
        load_rbms(other)


def _write_archive(path, model_type, params, nested=True):
    with h5py.File(path, "w") as f:
        f["model_type"] = model_type
        g = f.create_group("update_5")
        target = g.create_group("params") if nested else g
        for k, v in params.items():
            target[k] = v


def test_ising_archive_and_old_layout(tmp_path):
    """IIRBM (±1 units, log 2cosh) and the older layout without params/ (parameters in update_k)."""
    rng = np.random.default_rng(0)
    w, b, c = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    path = tmp_path / "iirbm.h5"
    _write_archive(path, "IIRBM", {"weight_matrix": w, "vbias": b, "hbias": c}, nested=False)
    model = load_rbms(path)
    assert model.visible_units is SPIN and model.hidden_units is SPIN
    v = torch.as_tensor(2.0 * rng.integers(0, 2, size=(7, 5)) - 1.0)
    expected = -(v.numpy() @ b) - np.log(2 * np.cosh(c + v.numpy() @ w)).sum(1)
    np.testing.assert_allclose(model.free_energy(v).numpy(), expected, rtol=1e-12)


def test_unsupported_type(tmp_path):
    path = tmp_path / "bgrbm.h5"
    _write_archive(path, "BGRBM", {"weight_matrix": np.zeros((2, 2)), "vbias": np.zeros(2), "hbias": np.zeros(2)})
    with pytest.raises(DataError, match="BGRBM"):
        load_rbms(path)


@pytest.mark.parametrize("nested", [True, False])
def test_missing_parameter_is_named(tmp_path, nested):
    """The message names the missing dataset and the file in one line (not h5py's own text)."""
    path = tmp_path / "nop.h5"
    _write_archive(path, "BBRBM", {"vbias": np.zeros(2), "hbias": np.zeros(2)}, nested=nested)
    with pytest.raises(DataError) as info:
        load_rbms(path)
    message = str(info.value)
    group = "/update_5/params" if nested else "/update_5"
    assert message == f"{path}: update_5: missing parameter dataset {group}/weight_matrix"
    assert "\n" not in message and "Unable" not in message
