"""The README runs as written: its Python block and every line of its CLI tour, on small sizes.

The commands are read from README.md itself (nothing here copies them), so a README command that no
longer parses or fails makes a test fail. What this file adds is only how to run them small:

* the README's input files, made small, under the names it uses (:data:`INPUTS`);
* placeholders (``DATA``, ``N``, ...) -> values (:data:`PLACEHOLDERS`);
* ``a|b|c`` -> its first choice; every optional part ``[...]`` is kept (its first choice), except
  :data:`RUN_TWICE`: the line runs without it, then again with it;
* sizes: ``--flag value`` pairs replaced (:data:`SIZES`) and flags added (:data:`EXTRA`);
* :data:`NOT_RUN`: the lines that are not run, each with the reason.

The tour runs in one folder, in README order except that the ``generate`` lines run first (``DATA``
is their output): a line selected alone (``-k``) may lack the files of the lines before it. Every
entry of every table must still match the README (a stale entry fails). On one thread the file takes
about 25 s of CPU, most of it in the three reports.
"""

from __future__ import annotations

import gzip
import re
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from boltzkit.cli.main import app

pytestmark = pytest.mark.usefixtures("single_thread")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared" / "data"
HAPT = SHARED / "human_genome_805snp" / "805_SNP_1000G_real.hapt.gz"
HAPT_LABELS = SHARED / "human_genome_805snp" / "805_SNP_1000G_haplotype_labels.tsv"
MSA = ROOT / "tests" / "fixtures" / "runs_v0_1" / "msa.fasta"      # 60 sequences, L = 8
RBMS_ARCHIVE = ROOT / "tests" / "data" / "rbms" / "bbrbm.h5"       # written by the rbms package
HGD_ROWS = 200                                                     # haplotypes kept (of 5008)

# T: a saved update (log-spaced checkpoints of a 40-update run save 1..15 each); an unsaved one is refused
PLACEHOLDERS = {"DATA": "data.h5", "FILE": "labels.txt", "N": "60", "T": "10"}
RUN_TWICE = {"[--resume [--updates N] | --overwrite]": "a new run first, then resumed to N updates"}
SIZES = {("--updates", "10000"): "40", ("--updates", "2000"): "20", ("--updates", "3000"): "20",
         ("--updates", "900"): "4", ("--hidden", "128"): "6", ("--hidden", "100"): "6", ("--hidden", "50"): "4",
         ("--batch-size", "500"): "100", ("--chains", "500"): "100", ("--batch-size", "256"): "100",
         ("--chains", "256"): "100", ("--batch-size", "1000"): "100", ("--chains", "1000"): "100",
         ("--chains", "20000"): "100", ("--n-samples", "10000"): "400", ("--n-samples", "100000"): "400",
         ("--n-samples", "1000"): "64", ("--n-features", "100"): "20", ("--checkpoints", "100"): "5",
         ("--gibbs-steps", "1000"): "20", ("--n", "1000"): "20", ("--ais-chains", "1000"): "16",
         ("--ais-chains", "300"): "16", ("--ais-steps", "5000"): "30", ("--ais-steps", "2000"): "30",
         ("--n-points", "500"): "40", ("--nn-hidden", "128"): "8", ("--updates", "5000"): "20",
         ("--hidden", "16"): "4", ("--steps", "10000"): "200"}
_FAST_AIS = ["--ais-chains", "16", "--ais-steps", "30", "--ais-runs", "2"]
# (command, words it has) -> flags added
EXTRA = {("evaluate", ""): [*_FAST_AIS, "--moment-samples", "50", "--moment-steps", "20"],
         ("report", ""): ["--ais-chains", "16", "--ais-steps", "30", "--samples", "40", "--gibbs-steps", "20",
                          "--tree-points", "40", "--curve-points", "3", "--quiet"],
         ("train", "--model potts-rbm"): ["--updates", "4"], ("train", "--model hybrid"): ["--updates", "20"],
         ("generate", "--beta"): ["--sweeps-thermalize", "20"]}
NOT_RUN = {"boltzkit demo": "trains 2000 updates on all of MNIST and writes the full report (2 min; its "
                            "fixed AIS and report settings cost 20 s even at --updates 5); `make demo` runs it"}
# lines that need the shared data (../shared/data): skipped with the reason when it is absent
NEEDS_SHARED = {"805_SNP_1000G_real.hapt.gz": HAPT, "hgd.h5": HAPT}

PYTHON_SIZES = {"n_hidden=128": "n_hidden=6", "n_updates=2000": "n_updates=20", "batch_size=256": "batch_size=100",
                "n_chains=256": "n_chains=100", 'n_chains=300, n_steps=2000': 'n_chains=16, n_steps=30, n_runs=2',
                "gibbs_steps=1000": "gibbs_steps=20"}


# ---------------------------------------------------------------------------------- the README
def readme_block(section: str, language: str) -> tuple[int, str]:
    """(first line number, text) of the first ```language block under ``## section``."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    fence = text.index(f"```{language}\n", start) + len(f"```{language}\n")
    assert fence < text.find("\n## ", start + 1), f"no {language} block under ## {section}"
    return text.count("\n", 0, fence) + 1, text[fence:text.index("```\n", fence)]


def tour_commands() -> list[tuple[int, str]]:
    """(README line, command) of each command of the CLI tour: continuation lines joined, comments
    (a ``#`` that starts a word) removed."""
    first, block = readme_block("CLI tour", "bash")
    commands, pending, start = [], "", 0
    for number, line in enumerate(block.splitlines(), first):
        code = re.sub(r"(^|\s)#.*", "", line).rstrip()
        if not pending:
            start = number
        pending += " " + code.rstrip("\\").strip()
        if code.endswith("\\"):
            continue
        if pending.strip():
            commands.append((start, " ".join(pending.split())))
        pending = ""
    return commands


def _groups(text: str) -> list[tuple[int, int]]:
    """(start, end) of the outermost ``[...]`` of ``text``."""
    spans, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "[":
            start, depth = (i if depth == 0 else start), depth + 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
    return spans


def resolve(command: str, drop: frozenset[str] = frozenset()) -> str:
    """The command with its optional parts kept (their first choice) or dropped (those in
    ``drop``), and each ``a|b|c`` word replaced by ``a``."""
    for start, end in reversed(_groups(command)):
        part = command[start:end]
        inner = "" if part in drop else resolve(re.split(r"\s\|\s", part[1:-1])[0], drop)
        command = command[:start] + inner + command[end:]
    return " ".join(word.split("|")[0] for word in command.split())


def small(words: list[str]) -> list[str]:
    """Placeholders filled, sizes of :data:`SIZES` replaced and flags of :data:`EXTRA` added."""
    words = [PLACEHOLDERS.get(w, w) for w in words]
    words = [SIZES.get((words[i - 1], w), w) if i else w for i, w in enumerate(words)]
    command = " ".join(words)
    for (name, has), extra in EXTRA.items():
        if words[0] == name and has in command:
            words = words + extra
    return words


def runs(command: str) -> list[list[str]]:
    """The argument lists (after ``boltzkit``) one tour command runs as."""
    twice = [part for part in RUN_TWICE if part in command]
    variants = [resolve(command, frozenset(RUN_TWICE))] + ([resolve(command)] if twice else [])
    return [small(v.split()[1:]) for v in variants]


TOUR = tour_commands()
ORDER = sorted(TOUR, key=lambda item: (not item[1].startswith("boltzkit generate"), item[0]))


def _id(item: tuple[int, str]) -> str:
    return f"README.md:{item[0]} " + " ".join(resolve(item[1]).split()[1:3])


# ---------------------------------------------------------------------------------- inputs
def _struct_file(path: Path, length: int) -> None:
    """A distance table (i j score distance, 1-based) of ``length`` sites: |i - j| % 3 == 0 in contact."""
    lines = [f"{i} {j} 0.0 {5.0 if (j - i) % 3 == 0 else 12.0}"
             for i in range(1, length + 1) for j in range(i + 1, length + 1)]
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")


def _hgd_subset(folder: Path) -> None:
    """The first HGD_ROWS haplotypes of the shared file as shipped, and their super-populations."""
    with gzip.open(HAPT, "rt") as f:
        rows = [next(f) for _ in range(HGD_ROWS)]
    with gzip.open(folder / "805_SNP_1000G_real.hapt.gz", "wt") as f:
        f.writelines(rows)
    labels = [line.split("\t")[5] for line in HAPT_LABELS.read_text().splitlines()[1:HGD_ROWS + 1]]
    (folder / "super_pop.txt").write_text("\n".join(labels) + "\n")


def _labels_for_data(folder: Path) -> None:
    """labels.txt (the README's FILE): one label per row of data.h5, the sign of its magnetisation."""
    with h5py.File(folder / "data.h5") as f:
        m = np.asarray(f["samples"]).sum(1)
    (folder / "labels.txt").write_text("\n".join("up" if v >= 0 else "down" for v in m) + "\n")


INPUTS = {"t10k-images-idx3-ubyte.gz", "PF00014.fasta.gz", "PF00014_struct.dat.gz", "test.fasta",
          "rbms_archive.h5", "805_SNP_1000G_real.hapt.gz", "super_pop.txt", "labels.txt", "features.csv"}


@pytest.fixture(scope="module")
def tour_folder(tmp_path_factory) -> Path:
    from boltzkit.data import bundled_path

    folder = tmp_path_factory.mktemp("tour")
    (folder / "t10k-images-idx3-ubyte.gz").symlink_to(bundled_path("t10k-images-idx3-ubyte.gz"))
    with gzip.open(folder / "PF00014.fasta.gz", "wt") as f:
        f.write(MSA.read_text())
    shutil.copy(MSA, folder / "test.fasta")
    _struct_file(folder / "PF00014_struct.dat.gz", 8)
    shutil.copy(RBMS_ARCHIVE, folder / "rbms_archive.h5")
    _features_table(folder / "features.csv")
    if HAPT.exists() and HAPT_LABELS.exists():
        _hgd_subset(folder)
    return folder


def _features_table(path: Path) -> None:
    """scikit-learn's breast cancer features (569 rows, 30 real columns) as a CSV with a header."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    np.savetxt(path, data.data, delimiter=",", header=",".join(data.feature_names), comments="")


# ---------------------------------------------------------------------------------- the tests
def test_every_table_entry_still_matches_the_readme():
    commands = [c for _, c in TOUR]
    words = [w for c in commands for w in resolve(c).split()] + [w for c in commands for w in c.split()]
    pairs = {(a, b) for c in commands for a, b in zip(resolve(c).split(), resolve(c).split()[1:])}
    assert set(SIZES) <= pairs, set(SIZES) - pairs
    assert all(any(part in c for c in commands) for part in RUN_TWICE)
    assert all(any(c == line for c in commands) for line in NOT_RUN)
    assert all(any(c.split()[1] == name and has in c for c in commands) for name, has in EXTRA)
    assert set(PLACEHOLDERS) <= set(words)
    mentioned = {w for c in commands for w in resolve(c).split()}
    assert INPUTS - {"labels.txt"} <= mentioned, INPUTS - mentioned
    python = readme_block("Python API", "python")[1]
    assert all(old in python for old in PYTHON_SIZES), [old for old in PYTHON_SIZES if old not in python]


def test_the_tour_has_the_commands_it_documents():
    """The parser sees the tour as the README shows it: each command starts with ``boltzkit``."""
    assert len(TOUR) >= 25
    assert all(c.startswith("boltzkit ") for _, c in TOUR), [c for _, c in TOUR if not c.startswith("boltzkit ")]


@pytest.mark.parametrize("item", ORDER, ids=[_id(i) for i in ORDER])
def test_tour_line_runs(item, tour_folder, monkeypatch):
    line, command = item
    if command in NOT_RUN:
        pytest.skip(f"README.md:{line} not run: {NOT_RUN[command]}")
    missing = [str(path) for name, path in NEEDS_SHARED.items() if name in command.split() and not path.exists()]
    if missing:
        pytest.skip(f"README.md:{line} needs the shared data {missing[0]} (absent)")
    monkeypatch.chdir(tour_folder)
    for args in runs(command):
        if "labels.txt" in args and not (tour_folder / "labels.txt").exists():
            _labels_for_data(tour_folder)
        needed = [w for w in args if w in INPUTS and not (tour_folder / w).exists()]
        assert not needed, f"README.md:{line}: inputs {needed} missing"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, f"README.md:{line}: boltzkit {' '.join(args)}\n{result.output}"


def test_python_block_runs(tmp_path, monkeypatch):
    first, code = readme_block("Python API", "python")
    for old, new in PYTHON_SIZES.items():
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile("\n" * (first - 1) + code, str(README), "exec"), scope)
    assert scope["digits"].shape == (100, 784)
    # 20 updates here: update 100 was not saved, so the last one is loaded, with the warning the README promises
    assert scope["early"].checkpoint_ == 20
    assert any("no checkpoint at update 100" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert np.isfinite(scope["rbm"].log_partition_error_)
