"""Outputs never destroy inputs (io/outputs.py): refused in one line, exit 2, nothing written."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.errors import BoltzkitError
from boltzkit.io.atomic import atomic_path, remove_stale_temporaries
from boltzkit.io.outputs import RunLock, check_outputs

runner = CliRunner()
TRAIN = ["--hidden", "3", "--updates", "4", "--batch-size", "20", "--chains", "20",
         "--gibbs-steps", "1", "--checkpoints", "2", "--quiet"]


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, (np.random.default_rng(0).random((40, 6)) < 0.5).astype(np.uint8))
    return path


def refused(args, *fragments):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_check_outputs_names_the_input_and_the_output(tmp_path):
    data = tmp_path / "d.npy"
    data.write_bytes(b"x")
    link = tmp_path / "link.npy"
    link.symlink_to(data)
    with pytest.raises(BoltzkitError, match=r"--out .*link.npy: this is the input DATA"):
        check_outputs({"--out": link}, {"DATA": data})  # through a symlink
    with pytest.raises(BoltzkitError, match="the same file as --out"):
        check_outputs({"--out": tmp_path / "a.h5", "its figure": tmp_path / "a.h5"})
    with pytest.raises(BoltzkitError, match="is a folder"):
        check_outputs({"--out": tmp_path})
    with pytest.raises(BoltzkitError, match="is a file, not a folder"):
        check_outputs({"--out": data / "under" / "a.h5"})
    check_outputs({"--out": tmp_path / "new" / "deeper" / "a.h5"}, {"DATA": data})  # fine


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_outputs_refuses_an_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(BoltzkitError, match="not writable"):
        check_outputs({"--out": folder / "a.h5"})


def test_train_never_writes_over_its_data_nor_an_existing_run(data, tmp_path):
    before = data.read_bytes()
    refused(["train", data, "--out", data, *TRAIN], "this is the input DATA")
    assert data.read_bytes() == before
    run = tmp_path / "run.h5"
    assert runner.invoke(app, ["train", str(data), "--out", str(run), *TRAIN]).exit_code == 0
    stamp = run.read_bytes()
    refused(["train", data, "--out", run, *TRAIN], "--resume continues", "--overwrite replaces")
    assert run.read_bytes() == stamp
    assert runner.invoke(app, ["train", str(data), "--out", str(run), *TRAIN, "--seed", "3",
                               "--overwrite"]).exit_code == 0
    assert run.read_bytes() != stamp


def test_commands_never_write_over_the_run(data, tmp_path):
    run = tmp_path / "run.h5"
    assert runner.invoke(app, ["train", str(data), "--out", str(run), *TRAIN]).exit_code == 0
    stamp = run.read_bytes()
    refused(["report", run, "-o", run], "this is the input RUN")
    refused(["sample", run, "-o", run], "this is the input RUN")
    refused(["couplings", run, "--out", run], "this is the input RUN")
    refused(["landscape", run, data, "--out", run], "this is the input RUN")
    refused(["landscape", run, data, "--out", tmp_path / "basins.png"], "its figure")
    refused(["tree", run, data, "--out", data.with_suffix(".nwk"), "--labels", data.with_suffix(".nwk")],
            "this is the input --labels")
    assert run.read_bytes() == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "x.npy"]


def test_demo_refuses_a_file_as_its_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep")
    refused(["demo", "--out", target], "is a file")
    assert target.read_text() == "keep"


def test_a_second_writer_of_a_run_is_refused(tmp_path):
    run = tmp_path / "run.h5"
    code = ("import sys, time; from boltzkit.io.outputs import RunLock\n"
            f"with RunLock({str(run)!r}):\n    print('locked', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BoltzkitError, match=rf"process {holder.pid} is writing this run"):
            with RunLock(run):
                pass
    finally:
        holder.kill()
        holder.wait()
    with RunLock(run):  # the lock of a killed process is released
        pass
    assert not (tmp_path / ".run.h5.lock").exists()


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "run.h5"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".run.h5.{dead.pid}.abcd.tmp"
    stale.write_bytes(b"half")
    mine = tmp_path / f".run.h5.{os.getpid()}.efgh.tmp"
    mine.write_bytes(b"in progress")
    time.sleep(0.01)
    assert remove_stale_temporaries(target) == [stale]
    with atomic_path(target) as tmp:  # and every atomic write cleans up first
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and not stale.exists() and mine.exists()


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A tmpfs of ``size`` mounted on ``folder`` for the block (needs root and the right to mount:
    the test is skipped elsewhere)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 300 KiB tmpfs."""
    with tmpfs(tmp_path / "small", "300k") as folder:
        yield folder


def test_a_full_disk_is_one_line_and_keeps_the_run_readable(small_disk, data):
    from boltzkit.io import trajectory

    (small_disk / "x.npy").write_bytes(data.read_bytes())
    run = small_disk / "run.h5"
    args = ["train", small_disk / "x.npy", "--out", run, "--hidden", "3", "--updates", "300",
            "--batch-size", "20", "--chains", "20", "--gibbs-steps", "1", "--checkpoints", "300",
            "--spacing", "linear", "--quiet"]
    line = refused(args, "No space left on device")
    assert line.startswith(f"error: {run}: ")
    saved = trajectory.checkpoint_updates(run)  # the run file is whole, with what fitted
    assert 1 <= len(saved) < 300 and trajectory.load_model(run).n_hidden == 3
    assert sorted(p.name for p in small_disk.iterdir()) == ["run.h5", "x.npy"]  # no temporary file


@pytest.fixture
def full_disk(tmp_path, tiny_run):
    """A 4 MiB tmpfs holding the tiny run and its data, filled up but for 2 KiB."""
    with tmpfs(tmp_path / "full", "4m") as folder:
        for name in ("r.h5", "x.npy"):
            (folder / name).write_bytes((tiny_run.parent / name).read_bytes())
        free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
        (folder / "filler").write_bytes(b"\0" * max(0, free - 2048))
        yield folder


@pytest.mark.parametrize("args", [
    ["generate", "ising1d", "--beta", "0.5", "--size", "20", "--n-samples", "2000", "-o", "g.h5", "--quiet"],
    ["sample", "r.h5", "-o", "s.npy", "--n", "2000", "--gibbs-steps", "1"],
    ["report", "r.h5", "-o", "r.html", "--no-landscape", "--no-tree", "--no-couplings", "--curve-points", "2",
     "--samples", "20", "--gibbs-steps", "1", "--ais-chains", "10", "--ais-steps", "10", "--quiet"],
    ["couplings", "r.h5", "-o", "c.h5", "--no-plots"],
    ["train", "x.npy", "-o", "t.h5", "--hidden", "3", "--updates", "5", "--checkpoints", "2", "--quiet"],
], ids=lambda args: args[0])
def test_every_writer_on_a_full_disk_is_one_line_and_leaves_nothing(full_disk, monkeypatch, args):
    """The issue's disk-full cases (generate and train crashed in the HDF5 library, sample and
    report gave tracebacks): one line naming the file, no temporary file left, the inputs intact."""
    monkeypatch.chdir(full_disk)
    before = {p.name: p.read_bytes() for p in full_disk.iterdir() if p.name != "filler"}
    line = refused([str(a) for a in args], "No space left on device")
    out = args[args.index("-o") + 1]
    assert line.startswith("error: ") and out in line, line  # names the file it could not write
    after = {p.name: p.read_bytes() for p in full_disk.iterdir() if p.name != "filler"}
    assert after == before, line
