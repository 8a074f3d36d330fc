"""Damaged and tampered run files: one line naming the file and what is wrong, exit 2, for every
command that reads them (issue "Nothing lost, every bad input a clear error")."""

from __future__ import annotations

import io
import json
import pickle
import shutil

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app

runner = CliRunner()


@pytest.fixture
def run(tiny_run):
    return tiny_run


def _config(f, change):
    config = json.loads(f.attrs["config"])
    change(config)
    f.attrs["config"] = json.dumps(config)


def _last(f):
    return f["checkpoints"][sorted(f["checkpoints"])[-1]]


def _pickled_optimizer(f):
    del f["state"]["optimizer"]
    f["state"].create_dataset("optimizer", data=np.frombuffer(pickle.dumps({"x": io.BytesIO()}), np.uint8))


DAMAGES = {
    "truncated": (None, "not an HDF5 file"),
    "config not JSON": (lambda f: f.attrs.__setitem__("config", "{not json"), "not valid JSON"),
    "kind of another family": (lambda f: _config(f, lambda c: c["model"].__setitem__("kind", "potts-rbm")),
                               "do not fit its 'potts-rbm' model"),
    "unknown kind": (lambda f: _config(f, lambda c: c["model"].__setitem__("kind", "quantum")),
                     "unknown model 'quantum'"),
    "wrong shape": (lambda f: (_last(f).__delitem__("weights"),
                               _last(f).create_dataset("weights", data=np.zeros((3, 3), np.float32))),
                    "do not fit its 'bernoulli-rbm' model"),
    "no checkpoint": (lambda f: [f["checkpoints"].__delitem__(k) for k in list(f["checkpoints"])],
                      "holds no checkpoint"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("command", ["sample", "evaluate", "report", "couplings"])
def test_a_damaged_run_file_is_one_line(run, tmp_path, damage, command):
    bad = tmp_path / "bad.h5"
    edit, message = DAMAGES[damage]
    if edit is None:
        bad.write_bytes(run.read_bytes()[:100])
    else:
        shutil.copy(run, bad)
        with h5py.File(bad, "r+") as f:
            edit(f)
    args = {"sample": ["-o", tmp_path / "s.npy"], "evaluate": [], "report": ["-o", tmp_path / "r.html"],
            "couplings": ["-o", tmp_path / "c.h5"]}[command]
    result = runner.invoke(app, [command, str(bad), *map(str, args)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and message in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]  # nothing written


def test_a_pickle_in_the_resume_state_is_refused_without_running_it(run, tmp_path):
    bad = tmp_path / "bad.h5"
    shutil.copy(run, bad)
    with h5py.File(bad, "r+") as f:
        _pickled_optimizer(f)
    result = runner.invoke(app, ["train", str(run.parent / "x.npy"), "-o", str(bad), "--resume", "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {bad}: the resume state is damaged (UnpicklingError); " \
                                    "start a new run (--overwrite)"


@pytest.mark.parametrize(("content", "reason"), [
    (lambda: pickle.dumps({"x": io.BytesIO()}), "UnpicklingError"),
    (lambda: _torch_bytes({"last_epoch": 3}), "KeyError"),  # not a scheduler's state
])
def test_a_damaged_scheduler_state_is_refused_in_one_line(run, tmp_path, content, reason):
    bad = tmp_path / "bad.h5"
    shutil.copy(run, bad)
    with h5py.File(bad, "r+") as f:
        assert "scheduler" in f["state"]  # the learning-rate schedule's state (docs/methods.md 6.6)
        del f["state"]["scheduler"]
        f["state"].create_dataset("scheduler", data=np.frombuffer(content(), np.uint8))
    result = runner.invoke(app, ["train", str(run.parent / "x.npy"), "-o", str(bad), "--resume", "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {bad}: the resume state is damaged ({reason}); " \
                                    "start a new run (--overwrite)"


def _torch_bytes(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
