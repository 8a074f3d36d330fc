"""The report's landscape and TreeRBM sections on the runs they are for: Potts runs (sequence logos
and consensus sequences of the fixed points) and binary runs whose data file is sorted by label
(the tree is built from a random subset of the whole training set, with the run's labels)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from boltzkit.data.msa import decode
from boltzkit.io import trajectory
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.report.html import ReportContext, Section
from boltzkit.report.tree_figures import (consensus_sequences, landscape_section,
                                          sequence_logo_figure, tree_section)

sys.path.insert(0, str(Path(__file__).parents[1] / "interpret"))
from test_landscape import balanced_prototypes, prototype_rbm  # noqa: E402

ALPHABET = "-ACG"


pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest


def potts_prototype_model(proto: np.ndarray, q: int, n_hidden: int, strength: float = 6.0) -> PottsRBM:
    """One hidden unit per prototype sequence (W_i,proto_i,a = strength) with a bias that switches it
    on within half the smallest Hamming distance: the TAP fixed points near the data are the
    prototypes (each site's profile ~ 0.99 on its letter for q = 4)."""
    k, n = proto.shape
    w = torch.zeros(n, q, n_hidden, dtype=torch.float64)
    c = torch.full((n_hidden,), -10.0, dtype=torch.float64)
    if k:
        for a in range(k):
            w[np.arange(n), proto[a], a] = strength
        ham = (proto[:, None] != proto[None]).sum(-1) + np.eye(k, dtype=int) * n
        c[:k] = torch.tensor(-strength * (n - (ham.min() if k > 1 else n) / 2), dtype=torch.float64)
    return PottsRBM(w, torch.zeros(n, q, dtype=torch.float64), c)


def test_consensus_sequences_and_logo():
    p = np.zeros((2, 3, 4))
    p[0, [0, 1, 2], [1, 2, 3]] = 1.0           # A C G, all sure
    p[1, 0] = [0.1, 0.6, 0.2, 0.1]             # A (0.6: sure)
    p[1, 1] = [0.4, 0.3, 0.3, 0.0]             # gap, undecided (0.4)
    p[1, 2] = [0.0, 0.0, 0.45, 0.55]           # G
    assert consensus_sequences(p, ALPHABET) == ["ACG", "A-G"]
    assert consensus_sequences(p[:, :, :4], None) == ["123", "103"]
    fig = sequence_logo_figure(p, ALPHABET, ["a", "b"])
    assert len(fig.axes) == 2
    # one glyph per (site, letter) of non-negligible height: 3 in the sure profile
    assert len(fig.axes[0].patches) == 3


def test_potts_run_sections_show_the_fixed_points_as_sequences(tmp_path):
    rng = np.random.default_rng(0)
    q, n = len(ALPHABET), 40
    root = rng.integers(0, q, n)

    def mutate(seq, frac):
        out = seq.copy()
        sites = rng.random(n) < frac
        out[sites] = (out[sites] + rng.integers(1, q, sites.sum())) % q
        return out

    mid = np.stack([mutate(root, 0.5) for _ in range(2)])
    leaves = np.stack([mutate(mid[i // 2], 0.25) for i in range(4)])
    labels = np.repeat(np.arange(4), 25)
    x = leaves[labels].copy()
    noise = rng.random(x.shape) < 0.04
    x[noise] = rng.integers(0, q, noise.sum())
    models = [(10, potts_prototype_model(np.zeros((0, n), int), q, 4)),
              (20, potts_prototype_model(mid, q, 4)), (30, potts_prototype_model(leaves, q, 4))]
    run = tmp_path / "potts.h5"
    config = {"model": models[0][1].config(), "training": {}, "alphabet": ALPHABET}
    trajectory.create(run, config, x.astype(np.int8), labels, None)
    for update, model in models:
        trajectory.append(run, update, model.parameters(), 0.0, 0.1, checkpoint=True)
    ctx = ReportContext(run)
    section = tree_section(ctx, n_points=100)
    assert isinstance(section, Section)
    assert "sequence logos" in section.html and "ARI" in section.html
    # the level with 4 clusters shows the 4 leaf prototypes, spelled with the run's alphabet
    for seq in decode(leaves.astype(np.int8), ALPHABET):
        assert f"<code>{seq}</code>" in section.html
    land = landscape_section(ctx, n_points=100)
    assert isinstance(land, Section) and "lowest fixed points as sequences" in land.html
    assert land.html.count("<code>") == 4


def test_binary_tree_section_samples_the_whole_labelled_training_file(tmp_path):
    from boltzkit.data.specs import DataSpec

    rng = np.random.default_rng(1)
    proto = balanced_prototypes(3, 60, seed=1)
    labels = np.repeat(np.arange(3), 50)               # the file is sorted by label
    x = proto[labels].copy()
    flip = rng.random(x.shape) < 0.05
    x[flip] = 1 - x[flip]
    data, label_file = tmp_path / "data.npy", tmp_path / "labels.txt"
    np.save(data, x.astype(np.uint8))
    label_file.write_text("\n".join(f"class{v}" for v in labels) + "\n")
    models = [(10, prototype_rbm(np.zeros((0, 60)), n_hidden=3)), (20, prototype_rbm(proto)),
              (30, prototype_rbm(proto))]
    run = tmp_path / "run.h5"
    config = {"model": models[0][1].config(), "training": {},
              "data": DataSpec(str(data), labels_path=str(label_file)).__dict__}
    # the stored sample is the head of the file: one class only
    trajectory.create(run, config, x[:40].astype(np.uint8), np.array([f"class{v}" for v in labels[:40]]),
                      None)
    for update, model in models:
        trajectory.append(run, update, model.parameters(), 0.0, 0.1, checkpoint=True)
    section = tree_section(ReportContext(run), n_points=60)
    assert isinstance(section, Section)
    # a random subset of all 150 rows: the three classes, each its own cluster (ARI 1)
    for c in range(3):
        assert f"mostly class{c}" in section.html
    assert "labels.txt" in section.html
    assert "<td>3</td><td>1.0000</td><td>1.0000</td>" in section.html
