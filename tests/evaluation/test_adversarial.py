"""Nearest-neighbour adversarial accuracy: its three regimes (indistinguishable, copies, apart), the
Hamming distances against a direct count, and its place in ``evaluate --json``."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.evaluation.adversarial import adversarial_accuracy, distances


def test_samples_of_the_same_law_are_indistinguishable():
    g = torch.Generator().manual_seed(0)
    real, generated = (torch.randn(2000, 5, generator=g) for _ in range(2))
    r = adversarial_accuracy(real, generated, discrete=False)
    # i.i.d. sets: each indicator is a fair coin (nearest of 2n - 1 points equally likely in either
    # set); n = 2000 gives a standard error of about 0.011 on each accuracy
    assert abs(r["aa_true"] - 0.5) < 0.05 and abs(r["aa_synth"] - 0.5) < 0.05
    assert r["aa_ts"] == pytest.approx((r["aa_true"] + r["aa_synth"]) / 2)


def test_copies_score_zero_and_separated_sets_score_one():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(500, 4, generator=g)
    copies = real + 1e-6 * torch.randn(500, 4, generator=g)
    assert adversarial_accuracy(real, copies, discrete=False)["aa_ts"] == 0.0
    assert adversarial_accuracy(real, real + 10.0, discrete=False)["aa_ts"] == 1.0


def test_hamming_distances_count_differing_units():
    g = torch.Generator().manual_seed(2)
    a = torch.randint(0, 3, (7, 9), generator=g).double()
    b = torch.randint(0, 3, (5, 9), generator=g).double()
    direct = (a.unsqueeze(1) != b.unsqueeze(0)).sum(-1).double()
    torch.testing.assert_close(distances(a, b, discrete=True), direct)
    spins = torch.where(a > 0, 1.0, -1.0)
    assert torch.equal(distances(spins, spins, True).diagonal(), torch.zeros(7, dtype=torch.float64))
    with pytest.raises(ValueError, match="equal size"):
        adversarial_accuracy(a, b, True)


def test_evaluate_reports_aats_and_the_privacy_loss(tiny_run):
    result = CliRunner().invoke(app, ["evaluate", str(tiny_run), "--json", "--moment-samples", "40",
                                      "--moment-steps", "5"])
    assert result.exit_code == 0, result.output
    aats = json.loads(result.stdout)["aats"]
    assert aats["distance"] == "hamming" and aats["n"] == 40
    assert set(aats["train"]) == {"aa_true", "aa_synth", "aa_ts"} and 0.0 <= aats["train"]["aa_ts"] <= 1.0
    assert aats["test"] is None and aats["privacy_loss"] is None  # the tiny run has no held-out split
