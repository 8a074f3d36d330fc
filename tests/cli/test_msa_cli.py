"""``boltzkit msa-info`` and ``boltzkit contacts``: exact answers on hand-made alignments and
coupling matrices, the PF00014 M_eff, and one-line user errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.io import trajectory
from boltzkit.models.pairwise import PottsModel

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("single_thread")
MSA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "msa"
PF00014 = MSA_DIR / "PF00014" / "PF00014_mgap6.fasta.gz"


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------------------ msa-info
@pytest.fixture
def tiny(tmp_path) -> Path:
    """L = 5, threshold 0.8: the cut-off 4 matches is an integer, so >= and > differ.
    AAAAC has exactly 4 matches with AAAAA (neighbours under >=, not under >)."""
    path = tmp_path / "tiny.fasta"
    path.write_text(">a\nAAAAA\n>b\nAAAAC\n>c\nAAAAA\n>d\nCCCXC\n")
    return path


def test_msa_info_weights_and_conventions_by_hand(tiny):
    result = invoke("msa-info", tiny, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["n_sequences"], info["length"], info["q"], info["alphabet"]) == (4, 5, 21, "protein")
    # >= : a, b, c are each other's neighbours (weights 1/3), d alone: M_eff = 1 + 1 = 2
    assert info["m_eff"] == pytest.approx(2.0, abs=1e-12)
    assert info["weights_convention"]["comparison"] == ">="
    assert info["weights_convention"]["duplicates"] == "kept"
    assert info["n_unique"] == 3
    assert info["unknown_letters"] == {"count": 1, "sequences": 1,
                                       "rule": info["unknown_letters"]["rule"]}
    assert "gap" in info["unknown_letters"]["rule"]
    assert info["gap_fraction"] == pytest.approx(1 / 20)  # the X mapped to the gap
    # > : a and c (5 matches) pair up, b and d alone: 1/2 + 1 + 1/2 + 1 = 3
    info = json.loads(invoke("msa-info", tiny, "--json", "--convention", "morcos").output)
    assert info["m_eff"] == pytest.approx(3.0, abs=1e-12)
    assert info["weights_convention"]["comparison"] == ">"
    text = invoke("msa-info", tiny, "--threshold", "0.8")
    assert text.exit_code == 0 and "M_eff (identity >= 0.8)" in text.output and "2.00" in text.output


@pytest.mark.skipif(not PF00014.exists(),
                    reason=f"{PF00014} not available (../shared is not beside the repository)")
def test_msa_info_pf00014_m_eff_plmc_convention():
    """plmc (-t 0.2) reports 4363.9 on PF00014_mgap6 (../shared/data/msa/README.md)."""
    info = json.loads(invoke("msa-info", PF00014, "--json", "--threads", "1").output)
    assert (info["n_sequences"], info["length"], info["n_unique"]) == (13600, 53, 8871)
    assert info["m_eff"] == pytest.approx(4363.9, abs=0.05)


def test_msa_info_user_errors_are_one_line(tmp_path, tiny):
    bad = tmp_path / "bad.fasta"
    bad.write_text(">a\nACDE\n>b\nACD\n")
    for args, message in [((bad,), f"{bad}:3: sequence 'b' has 3 columns"),
                          ((tmp_path / "empty.fa",), "file not found"),
                          ((tiny, "--unknown", "error"), f"{tiny}:8: letter 'X'"),
                          ((tiny, "--threshold", "1.5"), "--threshold must lie in [0, 1]"),
                          ((tiny, "--alphabet", "AAB"), "repeats a letter")]:
        result = invoke("msa-info", *args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_msa_info_custom_alphabet_gap_warning_and_gap_column_message(tmp_path):
    """A custom alphabet's first letter is the gap state: msa-info says so in one line when it
    is not '-'. An all-gap column is a one-line error that tells CLI users what to do."""
    path = tmp_path / "rna.fa"
    path.write_text(">a\nACGU\n>b\nCGGU\n")
    result = invoke("msa-info", path, "--alphabet", "ACGU")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "'A' is the gap state (index 0)" in warning[0], result.output
    assert "warning" not in invoke("msa-info", path, "--alphabet", "-ACGU").output
    import typer

    commands = typer.main.get_command(app).commands
    for name in ("msa-info", "train"):
        alphabet = next(p for p in commands[name].params if p.name == "alphabet")
        assert "the first letter is the gap state, index 0" in alphabet.help
    gap = tmp_path / "gapcol.fa"
    gap.write_text(">a\nA-GU\n>b\nC-GU\n")
    result = invoke("msa-info", gap)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "column 2 is a gap in every sequence" in lines[0], lines
    assert "remove" in lines[0]


# ------------------------------------------------------------------------------ contacts
def potts_run(path: Path, length: int = 10, q: int = 3, pair=(2, 8)) -> None:
    """A potts-bm run file whose only non-zero coupling block is ``pair`` (non-gap states)."""
    j = torch.zeros(length, length, q, q, dtype=torch.float64)
    block = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, -1.0], [0.0, -1.0, 1.0]], dtype=torch.float64)
    j[pair[0], pair[1]] = block
    j[pair[1], pair[0]] = block.T
    model = PottsModel(torch.zeros(length, q, dtype=torch.float64), j)
    trajectory.create(path, {"model": model.config(), "alphabet": "-AC"})
    trajectory.append(path, 7, model.parameters(), 0.0, 0.0, checkpoint=True)


def struct_file(path: Path, length: int = 10, contacts=((2, 8), (0, 5))) -> Path:
    lines = []
    for i in range(length):
        for k in range(i + 1, length):
            d = 5.0 if (i, k) in contacts else 12.0
            lines.append(f"{i + 1} {k + 1} 0.0 {d}")
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_contacts_precision_by_hand(tmp_path):
    """One coupled pair (2, 8): after APC it scores f/2 and every other pair exactly 0, so the
    ranking is (2, 8) then the eligible pairs in (i, j) order: (0, 5), (0, 6), ...
    j - i >= 5 leaves 15 pairs, 2 of them contacts."""
    potts_run(tmp_path / "run.h5")
    struct = struct_file(tmp_path / "s_struct.dat.gz")
    fig = tmp_path / "map.png"
    result = invoke("contacts", tmp_path / "run.h5", "--struct", struct, "--json", "--out", fig)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["precision"] == pytest.approx({"L/5": 1.0, "L/2": 2 / 5, "L": 2 / 10, "2L": 2 / 15})
    assert list(out["precision"]) == ["L/5", "L/2", "L", "2L"]
    assert (out["length"], out["n_pairs"], out["n_contacts"], out["checkpoint"]) == (10, 15, 2, 7)
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # j - i >= 7 drops (2, 8) and (0, 5): no contact left among the 6 eligible pairs
    out = json.loads(invoke("contacts", tmp_path / "run.h5", "--struct", struct, "--json",
                            "--min-separation", "7", "--out", fig).output)
    assert out["precision"] == {"L/5": 0.0, "L/2": 0.0, "L": 0.0, "2L": 0.0}
    # a cut-off below 5 A: no contact at all
    out = json.loads(invoke("contacts", tmp_path / "run.h5", "--struct", struct, "--json",
                            "--distance-cutoff", "4", "--out", fig).output)
    assert out["n_contacts"] == 0
    table = invoke("contacts", tmp_path / "run.h5", "--struct", struct, "--out", fig)
    assert table.exit_code == 0 and "2L" in table.output and "0.133" in table.output


def test_contacts_of_a_potts_rbm_run_and_errors(tmp_path):
    from boltzkit.models.potts_rbm import PottsRBM

    g = torch.Generator().manual_seed(0)
    rbm = PottsRBM(torch.randn(10, 3, 4, generator=g), torch.zeros(10, 3), torch.zeros(4))
    trajectory.create(tmp_path / "rbm.h5", {"model": rbm.config()})
    trajectory.append(tmp_path / "rbm.h5", 3, rbm.parameters(), 0.0, 0.0, checkpoint=True)
    struct = struct_file(tmp_path / "s.dat.gz")
    result = invoke("contacts", tmp_path / "rbm.h5", "--struct", struct, "--json",
                    "--out", tmp_path / "m.png")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "Potts RBM" in out["couplings"] and set(out["precision"]) == {"L/5", "L/2", "L", "2L"}
    short = struct_file(tmp_path / "short.dat.gz", length=12)
    result = invoke("contacts", tmp_path / "rbm.h5", "--struct", short, "--out", tmp_path / "m.png")
    assert result.exit_code == 2 and "exceeds length=10" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_contacts_without_eligible_pairs_or_with_l_below_5(tmp_path):
    """No pair j - i >= S with a known distance: one-line error naming the struct file, exit 2.
    L = 4: "L/5" is 0 pairs by floor, counted as the top pair (k = max(1, L // 5)); every key is
    present. The single coupled pair (0, 3) is the top-scored one and a contact: precision 1."""
    potts_run(tmp_path / "run.h5")
    only = tmp_path / "only_struct.dat"
    only.write_text("1 2 0 3.0\n")
    result = invoke("contacts", tmp_path / "run.h5", "--struct", only, "--min-separation", "5",
                    "--out", tmp_path / "m.png")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(only) in lines[0], lines
    assert "no pair" in lines[0] and not (tmp_path / "m.png").exists()
    potts_run(tmp_path / "short.h5", length=4, pair=(0, 3))
    struct = struct_file(tmp_path / "s4.dat.gz", length=4, contacts=((0, 3),))
    result = invoke("contacts", tmp_path / "short.h5", "--struct", struct, "--json",
                    "--min-separation", "1", "--out", tmp_path / "m4.png")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out["precision"]) == ["L/5", "L/2", "L", "2L"]
    assert out["precision"]["L/5"] == 1.0 and out["n_pairs"] == 6


def test_contacts_checks_its_arguments_in_the_api_and_prints_the_library_counts(tmp_path):
    """The checks of ``boltzkit contacts`` live in the Python API (same one-line messages), and the
    table prints the pair counts of the library: with L = 4, "L/5" is the top pair, not 0 pairs."""
    from boltzkit.errors import BoltzkitError
    from boltzkit.evaluation.contacts import prediction_counts, run_contacts

    potts_run(tmp_path / "short.h5", length=4, pair=(0, 3))
    struct = struct_file(tmp_path / "s4.dat.gz", length=4, contacts=((0, 3),))
    for kwargs, message in [({"min_separation": 0}, "--min-separation must be >= 1, got 0"),
                            ({"distance_cutoff": 0.0}, "--distance-cutoff must be > 0, got 0"),
                            ({"distance_cutoff": float("inf")}, "--distance-cutoff must be finite, got inf"),
                            ({"rbm_method": "magic"}, "unknown coupling method 'magic'")]:
        with pytest.raises(BoltzkitError, match=message):
            run_contacts(tmp_path / "short.h5", struct, **kwargs)
        flags = [f"--{k.replace('_', '-')}" if k != "rbm_method" else "--rbm-couplings" for k in kwargs]
        result = invoke("contacts", tmp_path / "short.h5", "--struct", struct, flags[0],
                        *[str(v) for v in kwargs.values()], "--out", tmp_path / "m.png")
        assert result.exit_code == 2 and message in result.output, result.output
    assert prediction_counts(4, 6) == {"L/5": 1, "L/2": 2, "L": 4, "2L": 6}
    result = invoke("contacts", tmp_path / "short.h5", "--struct", struct, "--min-separation", "1",
                    "--out", tmp_path / "m.png")
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line.split()[3] for line in result.output.splitlines()
            if line.split()[1:2] and line.split()[1] in ("L/5", "L/2", "L", "2L")}
    assert rows == {"L/5": "1", "L/2": "2", "L": "4", "2L": "6"}, result.output


# ------------------------------------------------------------------------------ evaluate
def test_evaluate_potts_runs_from_the_cli(tmp_path):
    """plm on a 12-column RNA alignment (5^12 > 2^22: log Z by AIS) and a 3-column one (exact)."""
    from boltzkit.data.msa import write_fasta

    rng = np.random.default_rng(3)
    for name, length in (("wide", 12), ("narrow", 3)):
        codes = rng.integers(1, 5, (80, length)).astype(np.int8)
        codes[:, 1] = codes[:, 0]
        write_fasta(tmp_path / f"{name}.fasta", codes, "rna")
        result = invoke("train", tmp_path / f"{name}.fasta", "-o", tmp_path / f"{name}.h5",
                        "--model", "potts-bm", "--method", "plm", "--updates", "30", "--quiet")
        assert result.exit_code == 0, result.output
    args = ("--moment-samples", "300", "--moment-steps", "5", "--threads", "1", "--ais-chains", "100",
            "--ais-steps", "200")
    out = json.loads(invoke("evaluate", tmp_path / "wide.h5", "--json", *args).output)
    assert out["log_z_method"] == "ais" and out["log_z_error"] < 0.05  # weak couplings: an easy path
    assert out["log_likelihood"]["train"] > out["independent_site_log_likelihood"]["train"]
    assert set(out["moments_pearson"]) == {"means", "correlations"}
    assert set(out["moments_slope"]) == {"means", "correlations"}
    # columns 0 and 1 are copies: the fitted model reproduces the strong C_01(a,b)
    assert out["moments_pearson"]["correlations"] > 0.8
    table = invoke("evaluate", tmp_path / "wide.h5", *args)
    assert table.exit_code == 0 and "ais" in table.output and "C_ij" in table.output
    out = json.loads(invoke("evaluate", tmp_path / "narrow.h5", tmp_path / "narrow.fasta",
                            "--test", tmp_path / "narrow.fasta", "--json", *args).output)
    assert out["log_z_method"] == "exact"
    # the same file as data and test: the same weighted mean log-likelihood
    assert out["log_likelihood"]["test"] == pytest.approx(out["log_likelihood"]["train"], abs=1e-9)
    assert out["log_likelihood"]["train"] > out["independent_site_log_likelihood"]["train"]
    bad = invoke("evaluate", tmp_path / "narrow.h5", tmp_path / "wide.fasta", *args)
    assert bad.exit_code == 2 and "12 columns; the model has 3" in bad.output
