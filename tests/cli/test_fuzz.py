"""Fuzz suite: generated malformed inputs across every command, run in one process.

Each case is one valid command line with one thing made hostile: a numeric flag out of range or
not finite, an input file that is empty, random, truncated or of the wrong shape, a damaged run
file, or an output path that would destroy an input. Every case must end the same way: exit 2,
one line ``error: ...`` naming the flag or the file as typed, no traceback, and nothing in the
folder written or changed (issue "Nothing lost, every bad input a clear error").
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io.adabmdca import write_adabmdca_params

runner = CliRunner()

# ----------------------------------------------------------------------------------- valid bases
#: One valid command line per command (files of the fixture folder below); each case changes one
#: thing. The label names the command in the test ids.
BASES = {
    "train": ["train", "x.npy", "-o", "new.h5", "--quiet"],
    "train-plm": ["train", "x.npy", "-o", "new.h5", "--quiet", "--model", "ising-bm", "--method", "plm"],
    "train-msa": ["train", "a.fasta", "-o", "new.h5", "--quiet", "--model", "potts-bm"],
    "sample": ["sample", "r.h5", "-o", "s.npy"],
    "evaluate": ["evaluate", "r.h5"],
    "report": ["report", "r.h5", "-o", "rep.html"],
    "couplings": ["couplings", "r.h5", "-o", "c.h5"],
    "landscape": ["landscape", "r.h5", "x.npy", "-o", "l.h5"],
    "tree": ["tree", "r.h5", "x.npy", "-o", "t.nwk"],
    "msa-info": ["msa-info", "a.fasta"],
    "contacts": ["contacts", "p.dat", "--struct", "st.dat"],
    "generate": ["generate", "ising1d", "-o", "g.h5", "--beta", "0.5", "--size", "8", "--n-samples", "10", "--quiet"],
    "demo": ["demo", "--out", "d"],
}

# ------------------------------------------------------------------------------- numeric flags
NOT_FINITE = ["nan", "inf", "-inf"]
BELOW_ONE = ["0", "-1", "-7"]
NEGATIVE = ["-1", "-0.5"]
#: (base, flag, hostile values)
NUMERIC = [
    ("train", "--hidden", BELOW_ONE), ("train", "--updates", BELOW_ONE),
    ("train", "--batch-size", BELOW_ONE), ("train", "--chains", BELOW_ONE),
    ("train", "--gibbs-steps", BELOW_ONE), ("train", "--lr", NOT_FINITE + ["0", "-0.1"]),
    ("train", "--l1", NOT_FINITE + NEGATIVE), ("train", "--l2", NOT_FINITE + NEGATIVE),
    ("train", "--checkpoints", BELOW_ONE), ("train", "--save-every", ["-1", "-5"]),
    ("train", "--test-fraction", NOT_FINITE + ["-0.1", "1", "1.5"]),
    ("train", "--seed", ["-1"]), ("train", "--threads", BELOW_ONE),
    ("train", "--max-memory", NOT_FINITE + ["0", "-1"]),
    ("train-plm", "--lambda-h", NOT_FINITE + NEGATIVE), ("train-plm", "--lambda-j", NOT_FINITE + NEGATIVE),
    ("train-msa", "--threshold", NOT_FINITE + ["-0.1", "1.5"]),
    ("train-msa", "--pseudocount", NOT_FINITE + NEGATIVE),
    ("sample", "--n", BELOW_ONE), ("sample", "--gibbs-steps", ["-1"]), ("sample", "--seed", ["-1"]),
    ("sample", "--threads", BELOW_ONE), ("sample", "--checkpoint", ["-1", "99999"]),
    ("evaluate", "--ais-chains", BELOW_ONE), ("evaluate", "--ais-steps", BELOW_ONE),
    ("evaluate", "--ais-runs", BELOW_ONE), ("evaluate", "--moment-samples", BELOW_ONE),
    ("evaluate", "--moment-steps", ["-1"]), ("evaluate", "--checkpoint", ["99999"]),
    ("report", "--curve-points", BELOW_ONE), ("report", "--ais-chains", BELOW_ONE),
    ("report", "--samples", BELOW_ONE), ("report", "--gibbs-steps", ["-1"]),
    ("couplings", "--order", ["0", "1", "4"]), ("couplings", "--samples", BELOW_ONE),
    ("couplings", "--quadrature", BELOW_ONE),
    ("landscape", "--beta", NOT_FINITE + ["0", "-1"]), ("landscape", "--damping", NOT_FINITE + ["-0.1", "1"]),
    ("landscape", "--tol", NOT_FINITE + ["0", "-1"]), ("landscape", "--max-iter", BELOW_ONE),
    ("landscape", "--n-points", ["-1", "-7"]),  # 0: every row
    ("tree", "--eps", NOT_FINITE + ["0", "-1"]), ("tree", "--n-points", ["-1", "-7"]),
    ("tree", "--beta-steps", BELOW_ONE), ("tree", "--beta-min", NOT_FINITE + ["-1", "2"]),
    ("tree", "--max-iter", BELOW_ONE),
    ("msa-info", "--threshold", NOT_FINITE + ["-0.1", "1.5"]), ("msa-info", "--threads", BELOW_ONE),
    ("contacts", "--min-separation", ["-1"]), ("contacts", "--distance-cutoff", NOT_FINITE + ["0", "-1"]),
    ("generate", "--beta", NOT_FINITE + ["-1"]), ("generate", "--size", BELOW_ONE),
    ("generate", "--n-samples", BELOW_ONE), ("generate", "--chains", BELOW_ONE),
    ("generate", "--sweeps-between", BELOW_ONE), ("generate", "--coupling", NOT_FINITE),
    ("generate", "--field", NOT_FINITE),
    ("demo", "--hidden", BELOW_ONE), ("demo", "--updates", BELOW_ONE), ("demo", "--threads", BELOW_ONE),
]
#: Values no number parser takes.
UNPARSABLE = [("train", "--lr", "abc"), ("train", "--hidden", "2.5"), ("sample", "--n", "ten"),
              ("evaluate", "--ais-chains", "1e3x"), ("landscape", "--beta", "--")]

# ---------------------------------------------------------------------------- hostile contents
def _gzip_truncated() -> bytes:
    return gzip.compress(b">s\nACDE\n" * 200)[:40]


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


#: name -> (file name, bytes or None for a directory); a data file of each kind made hostile
CONTENTS = {
    "empty": ("empty.npy", b""),
    "random-bytes": ("random-bytes.npy", bytes(np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8))),
    "truncated-gzip": ("truncated-gzip.fasta.gz", _gzip_truncated()),
    "hdf5-header-only": ("bad.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64),
    "nan-matrix": ("nan-matrix.npy", _npy(np.full((20, 8), np.nan))),
    "one-dimensional": ("one-dimensional.npy", _npy(np.zeros(8))),
    "four-dimensional": ("four-dimensional.npy", _npy(np.zeros((2, 2, 2, 2)))),
    "pickled-objects": ("pickled-objects.npy", _npy(np.array([{"a": 1}], dtype=object))),
    "non-binary-text": ("non-binary-text.txt", b"0 1 2 1 0 1 0 1\n1 1 1 1 1 1 1 1\n"),
    "ragged-text": ("ragged-text.txt", b"0 1 0\n1 1\n"),
    "wrong-width": ("wrong-width.npy", _npy(np.zeros((10, 5), dtype=np.uint8))),
    "ragged-fasta": ("ragged-fasta.fasta", b">a\nACDE\n>b\nACD\n"),
    "no-sequence-fasta": ("no-sequence-fasta.fasta", b">a\n>b\n"),
    "a-directory": ("a-directory.dir", None),
}
#: (base, index of the data argument in the base) for the commands that read data
DATA_ARGUMENTS = [("train", 1), ("landscape", 2), ("tree", 2), ("msa-info", 1)]
#: hostile run files: (name, how to make it from a good run file's bytes)
RUNS = {
    "empty": lambda good: b"",
    "random-bytes": lambda good: bytes(range(256)) * 8,
    "truncated": lambda good: good[: len(good) // 2],
    "plain-hdf5": None,  # an HDF5 file that is not a run (made below)
    "bad-config": None,  # a run whose config is not JSON (made below)
    "a-directory": lambda good: None,
}
RUN_ARGUMENTS = [("sample", 1), ("evaluate", 1), ("report", 1), ("couplings", 1), ("landscape", 1),
                 ("tree", 1), ("contacts", 1)]
#: outputs that would destroy an input or cannot be written: (base, output flag value, why)
OUTPUTS = [
    ("train", "x.npy", "the data"), ("train", "r.h5", "an existing run"), ("train", "sub", "a directory"),
    ("train", "x.npy/new.h5", "under a file"),
    ("sample", "r.h5", "the run"), ("sample", "sub", "a directory"), ("sample", "x.npy/s.npy", "under a file"),
    ("report", "r.h5", "the run"), ("report", "sub", "a directory"),
    ("couplings", "r.h5", "the run"), ("couplings", "sub/", "a directory"), ("couplings", "c.txt", "not .h5"),
    ("landscape", "r.h5", "the run"), ("landscape", "x.npy", "the data"), ("landscape", "sub", "a directory"),
    ("landscape", "l.png", "its own figure"), ("tree", "t.png", "its own figure"),
    ("tree", "r.h5", "the run"), ("tree", "x.npy", "the data"), ("tree", "t.h5", "not .nwk"),
    ("generate", "r.h5", "an existing run"), ("generate", "sub", "a directory"),
    ("demo", "x.npy", "an existing file"),
]


def _with(base: str, index: int, value: str) -> list[str]:
    args = list(BASES[base])
    args[index] = value
    return args


def _with_option(base: str, flag: str, value: str) -> list[str]:
    args = list(BASES[base])
    for short in ("-o", "--out"):
        if flag == "--out" and short in args:
            args[args.index(short) + 1] = value
            return args
    return args + [flag, value]


def _cases() -> list[tuple[str, list[str], str]]:
    """(id, command line, text the error line must contain)."""
    cases = []
    for base, flag, values in NUMERIC:
        for value in values:
            # a missing checkpoint is a fact of the run file: the message names the file
            needle = "checkpoint" if flag == "--checkpoint" else flag
            cases.append((f"{base} {flag} {value}", _with_option(base, flag, value), needle))
    for base, flag, value in UNPARSABLE:
        cases.append((f"{base} {flag} {value}", _with_option(base, flag, value), flag))
    for base, index in DATA_ARGUMENTS:
        for name, (file_name, _) in CONTENTS.items():
            if name == "wrong-width" and base == "train":
                continue  # any width trains a new model
            cases.append((f"{base} data={name}", _with(base, index, file_name), file_name))
        cases.append((f"{base} data=missing", _with(base, index, "missing.npy"), "missing.npy"))
    for base, index in RUN_ARGUMENTS:
        for name in RUNS:
            cases.append((f"{base} run={name}", _with(base, index, f"run-{name}.h5"), f"run-{name}.h5"))
        cases.append((f"{base} run=missing", _with(base, index, "none.h5"), "none.h5"))
    for base, out, why in OUTPUTS:
        cases.append((f"{base} --out {out} ({why})", _with_option(base, "--out", out), out.rstrip("/")))
    cases.append(("boltzkit --bogus", ["--bogus"], "--bogus"))
    cases.append(("generate --bogus", ["generate", "--bogus"], "--bogus"))
    cases.append(("contacts --struct missing", _with_option("contacts", "--struct", "none.dat"), "none.dat"))
    cases.append(("contacts --struct random", ["contacts", "p.dat", "--struct", "ragged-text.txt"], "ragged-text.txt"))
    cases.append(("couplings --truth random", BASES["couplings"] + ["--truth", "random-bytes.npy"], "random-bytes.npy"))
    cases.append(("train --labels ragged", BASES["train"] + ["--labels", "ragged-text.txt"], "ragged-text.txt"))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def folder(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny run's folder with an alignment, an adabmDCA model, a distance table,
    a sub-folder and every hostile file of CONTENTS and RUNS."""
    root = tmp_path_factory.mktemp("fuzz")
    for name in ("x.npy", "r.h5"):
        shutil.copy(tiny_run.parent / name, root / name)
    (root / "sub").mkdir()
    rng = np.random.default_rng(0)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
    (root / "a.fasta").write_text("".join(f">s{i}\n{''.join(rng.choice(letters, 10))}\n" for i in range(30)))
    generator = torch.Generator().manual_seed(0)
    j = torch.randn(10, 10, 21, 21, generator=generator) * 0.1
    j = (j + j.permute(1, 0, 3, 2)) / 2
    j[torch.arange(10), torch.arange(10)] = 0
    write_adabmdca_params(root / "p.dat", torch.zeros(10, 21), j, "protein")
    (root / "st.dat").write_text("".join(f"{i} {k} 0 {4.0 if k - i == 5 else 20.0}\n"
                                         for i in range(1, 11) for k in range(i + 1, 11)))
    for file_name, content in CONTENTS.values():
        if content is None:
            (root / file_name).mkdir(exist_ok=True)
        else:
            (root / file_name).write_bytes(content)
    good = (root / "r.h5").read_bytes()
    for name, make in RUNS.items():
        path = root / f"run-{name}.h5"
        if name == "plain-hdf5":
            with h5py.File(path, "w") as f:
                f["samples"] = np.zeros((3, 3))
        elif name == "bad-config":
            shutil.copy(root / "r.h5", path)
            with h5py.File(path, "r+") as f:
                f.attrs["config"] = "{not json"
        elif make(good) is None:
            path.mkdir()
        else:
            path.write_bytes(make(good))
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def test_the_suite_is_large_enough():
    assert len(CASES) >= 300  # the issue asked for 200; docs/architecture.md promises over 300


@pytest.mark.parametrize(("args", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_exit_2_nothing_written(folder, monkeypatch, args, needle):
    monkeypatch.chdir(folder)
    before = _snapshot(folder)
    result = runner.invoke(app, args)
    after = _snapshot(folder)
    for name in sorted(set(after) - set(before), reverse=True):  # a clean folder for the next case
        path = folder / name
        path.rmdir() if path.is_dir() else path.unlink()
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0], lines[0]
    assert after == before
