"""Evaluation of categorical / pairwise runs: C_ij(a,b) moments, log Z "auto" for Potts models,
and evaluate_run on potts-bm, potts-rbm and ising-bm run files (exact answers on tiny models)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from boltzkit.data.msa import write_fasta
from boltzkit.data.reweighting import sequence_weights
from boltzkit.errors import DataError
from boltzkit.evaluation.log_partition import (
    EXACT_MAX_UNITS,
    LogPartitionUnavailable,
    log_partition,
)
from boltzkit.evaluation.moments import categorical_moments, compare_categorical_moments
from boltzkit.evaluation.run_evaluation import evaluate_run
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.models.potts_rbm import PottsRBM
from boltzkit.training.config import TrainingConfig
from boltzkit.data.specs import DataSpec
from boltzkit.data.specs import MSASpec
from boltzkit.training.run import train_run

pytestmark = pytest.mark.usefixtures("single_thread")


def random_potts(length: int, q: int, seed: int, scale: float = 0.5) -> PottsModel:
    g = torch.Generator().manual_seed(seed)
    j = scale * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    return PottsModel(scale * torch.randn(length, q, generator=g, dtype=torch.float64), j)


def brute_log_z(model: PottsModel) -> float:
    """log Z from the definition E(s) = -sum_i h_i(s_i) - sum_{i<j} J_ij(s_i, s_j), itertools."""
    h, j = model.fields.double(), model.couplings.double()
    length, q = h.shape
    values = []
    for s in itertools.product(range(q), repeat=length):
        e = -sum(float(h[i, s[i]]) for i in range(length))
        e -= sum(float(j[i, k, s[i], s[k]]) for i in range(length) for k in range(i + 1, length))
        values.append(-e)
    return float(torch.logsumexp(torch.tensor(values, dtype=torch.float64), 0))


def exact_samples(model, n: int, seed: int) -> torch.Tensor:
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    idx = torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))
    return states[idx]


# ------------------------------------------------------------------------------ moments
def test_categorical_moments_by_hand():
    codes = torch.tensor([[0, 1], [1, 0]])
    f, c = categorical_moments(codes, 2)
    torch.testing.assert_close(f, torch.full((2, 2), 0.5, dtype=torch.float64))
    # f_01(a, b) = 1/2 on (0,1) and (1,0): C_01 = f_01 - 1/4
    expected = torch.tensor([[-0.25, 0.25], [0.25, -0.25]], dtype=torch.float64)
    torch.testing.assert_close(c[0, 1], expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(c[1, 0], expected.T, rtol=0, atol=1e-15)


def test_weights_equal_duplication_and_identical_sets_give_r_one():
    rng = np.random.default_rng(0)
    codes = torch.as_tensor(rng.integers(0, 4, (30, 5)))
    counts = torch.as_tensor(rng.integers(1, 4, 30))
    weighted = categorical_moments(codes, 4, counts.double())
    repeated = categorical_moments(codes.repeat_interleave(counts, 0), 4)
    for a, b in zip(weighted, repeated):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
    m = compare_categorical_moments(codes, codes, 4)
    assert m.means_pearson == pytest.approx(1.0, abs=1e-12)
    assert m.correlations_pearson == pytest.approx(1.0, abs=1e-12)
    assert m.correlations_slope == pytest.approx(1.0, abs=1e-12)
    assert m.data_correlations.shape == (10 * 16,)  # L(L-1)/2 pairs x q^2 states
    assert m.data_means.shape == (20,)


def test_exact_samples_reproduce_model_correlations():
    """20000 exact draws of a 4-site q=3 Potts model vs its enumerated C_ij: r close to 1
    (sampling noise on C ~ 1/sqrt(20000) ~ 0.007 against a spread ~0.05)."""
    model = random_potts(4, 3, seed=1, scale=0.8)
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    draws = exact_samples(model, 20000, seed=2)
    m = compare_categorical_moments(states, draws, 3, p)
    assert m.correlations_pearson > 0.98 and m.means_pearson > 0.995
    assert 0.9 < m.correlations_slope < 1.1


# ------------------------------------------------------------------------------ log Z
def test_auto_is_exact_for_small_potts_models_and_matches_brute_force():
    model = random_potts(5, 3, seed=3)
    r = log_partition(model, "auto")
    assert r.method == "exact" and r.error == 0.0
    assert r.value == pytest.approx(brute_log_z(model), abs=1e-10)  # float64 round-off


def test_auto_runs_ais_on_large_pairwise_models():
    """3**30 configurations: too many to enumerate, so AIS along the temperature path of the
    couplings; with J = 0 every importance weight is 1 and the estimate is exact, 30 log 3."""
    model = PottsModel.zeros(30, 3, dtype=torch.float64)
    assert model.enumeration_log2_size() == pytest.approx(30 * math.log2(3))
    r = log_partition(model, "auto", n_chains=20, n_steps=10, n_runs=2)
    assert r.method == "ais" and r.value == pytest.approx(30 * math.log(3), abs=1e-9)
    with pytest.raises(LogPartitionUnavailable, match="too large|configurations|enumerat"):
        log_partition(model, "exact")


def test_potts_rbm_auto_enumerates_the_hidden_layer_or_runs_ais():
    """q^N too large: exact over 2^H when H is small, else AIS. With W = 0 AIS is exact:
    log Z = sum_i logsumexp_a b_i(a) + sum_a softplus(c_a)."""
    g = torch.Generator().manual_seed(4)
    n, q = 30, 4
    b = torch.randn(n, q, generator=g, dtype=torch.float64)
    small = PottsRBM(0.3 * torch.randn(n, q, 6, generator=g, dtype=torch.float64), b,
                     torch.randn(6, generator=g, dtype=torch.float64))
    assert log_partition(small, "auto").method == "exact"
    h = EXACT_MAX_UNITS + 2
    c = torch.randn(h, generator=g, dtype=torch.float64)
    flat = PottsRBM(torch.zeros(n, q, h, dtype=torch.float64), b, c)
    r = log_partition(flat, "auto", n_chains=20, n_steps=10, n_runs=4)
    assert r.method == "ais"
    expected = float(torch.logsumexp(b, 1).sum() + torch.nn.functional.softplus(c).sum())
    assert r.value == pytest.approx(expected, abs=1e-9)  # telescoping float64 sums


# ------------------------------------------------------------------------------ run files
@pytest.fixture(scope="module")
def tiny_alignment(tmp_path_factory):
    """300 + 100 exact draws of a 4-site RNA-alphabet Potts model (q = 5), train and test FASTA."""
    folder = tmp_path_factory.mktemp("cat_eval")
    model = random_potts(4, 5, seed=5, scale=0.7)
    draws = exact_samples(model, 400, seed=6).long().numpy()
    write_fasta(folder / "train.fasta", draws[:300], "rna")
    write_fasta(folder / "test.fasta", draws[300:], "rna")
    return folder


def test_evaluate_potts_bm_run_exact(tiny_alignment, tmp_path):
    spec = MSASpec(str(tiny_alignment / "train.fasta"), alphabet="rna")
    config = TrainingConfig(method="exact", n_updates=30, batch_size=1000, learning_rate=0.05,
                            optimizer="adam", n_checkpoints=2)
    model = train_run(spec, tmp_path / "bm.h5", "potts-bm", 0, config)
    result = evaluate_run(tmp_path / "bm.h5", test=tiny_alignment / "test.fasta",
                          moment_samples=3000, moment_steps=30)
    assert result["log_z_method"] == "exact" and result["kind"] == "potts-bm"
    assert result["log_z"] == pytest.approx(brute_log_z(model), abs=1e-6)
    # the weighted mean of -E(s) - log Z by hand, with the reweighting of the run's spec
    from boltzkit.data.msa import read_msa

    for split in ("train", "test"):
        msa = read_msa(tiny_alignment / f"{split}.fasta", alphabet="rna")
        w = sequence_weights(msa, 0.8)
        x = torch.as_tensor(msa.sequences.astype(np.int64))
        lp = -model.to(dtype=torch.float64).energy(x).numpy() - result["log_z"]
        assert result["log_likelihood"][split] == pytest.approx(float((w * lp).sum() / w.sum()),
                                                                abs=1e-5)
        assert result["independent_site_log_likelihood"][split] < 0
    # 3000 samples x 30 sweeps of a 4-site model: near-exact; the fitted model matches the means
    assert result["moments_pearson"]["means"] > 0.95
    assert set(result["moments_pearson"]) == {"means", "correlations"}
    assert "gap included" in result["moments_convention"]


def test_evaluate_rejects_an_alignment_of_another_length(tiny_alignment, tmp_path):
    spec = MSASpec(str(tiny_alignment / "train.fasta"), alphabet="rna")
    config = TrainingConfig(method="exact", n_updates=2, batch_size=1000, n_checkpoints=1)
    train_run(spec, tmp_path / "bm.h5", "potts-bm", 0, config)
    other = tmp_path / "other.fasta"
    write_fasta(other, np.ones((3, 6), dtype=np.int8), "rna")
    with pytest.raises(DataError, match="6 columns; the model has 4"):
        evaluate_run(tmp_path / "bm.h5", other, moment_samples=10, moment_steps=1)


def test_evaluate_potts_rbm_run_and_large_pairwise_run(tiny_alignment, tmp_path):
    spec = MSASpec(str(tiny_alignment / "train.fasta"), alphabet="rna", test_fraction=0.25)
    config = TrainingConfig(method="pcd", n_updates=20, batch_size=50, n_chains=50,
                            gibbs_steps=2, learning_rate=0.05, n_checkpoints=2)
    rbm = train_run(spec, tmp_path / "rbm.h5", "potts-rbm", 3, config)
    result = evaluate_run(tmp_path / "rbm.h5", moment_samples=200, moment_steps=5)
    assert result["log_z_method"] == "exact"
    assert result["log_z"] == pytest.approx(rbm.to(dtype=torch.float64).log_partition_exact(), abs=1e-5)
    assert result["log_likelihood"]["test"] is not None  # the run's own 25 % split

    # a Potts model too large to enumerate: log Z and log-likelihoods are None, with the reason
    rng = np.random.default_rng(0)
    wide = tmp_path / "wide.fasta"
    write_fasta(wide, rng.integers(1, 5, (40, 12)).astype(np.int8), "rna")  # 5^12 > 2^22
    config = TrainingConfig(method="pcd", n_updates=2, batch_size=100, n_chains=20, gibbs_steps=1,
                            n_checkpoints=1)
    train_run(MSASpec(str(wide), alphabet="rna"), tmp_path / "wide.h5", "potts-bm", 0, config)
    result = evaluate_run(tmp_path / "wide.h5", moment_samples=50, moment_steps=2, ais_chains=50,
                          ais_steps=50, ais_runs=5)
    assert result["log_z_method"] == "ais"  # too many to enumerate: AIS along the coupling path
    assert result["log_likelihood"]["train"] is not None
    assert result["independent_site_log_likelihood"]["train"] < 0
    assert math.isfinite(result["moments_pearson"]["correlations"])


def test_evaluate_ising_bm_run(tmp_path):
    """±1 pairwise model on {0,1} data: exact log Z (N = 6) against the definition."""
    model = IsingModel(0.3 * torch.randn(6, generator=torch.Generator().manual_seed(7),
                                         dtype=torch.float64),
                       torch.zeros(6, 6, dtype=torch.float64))
    j = 0.4 * torch.randn(6, 6, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    model.couplings = torch.triu(j, 1) + torch.triu(j, 1).T
    spins = exact_samples(model, 500, seed=9)
    np.save(tmp_path / "x.npy", ((spins.numpy() + 1) / 2).astype(np.uint8))
    config = TrainingConfig(method="plm", n_updates=50, n_checkpoints=1)
    fitted = train_run(DataSpec(str(tmp_path / "x.npy"), binarize="none"), tmp_path / "i.h5",
                             "ising-bm", 0, config)
    result = evaluate_run(tmp_path / "i.h5", moment_samples=2000, moment_steps=20)
    s = torch.as_tensor(list(itertools.product([-1.0, 1.0], repeat=6)), dtype=torch.float64)
    f = fitted.to(dtype=torch.float64)
    log_z = float(torch.logsumexp(s @ f.fields + 0.5 * ((s @ f.couplings) * s).sum(1), 0))
    assert result["log_z"] == pytest.approx(log_z, abs=1e-9)
    ll = float((-f.energy(spins) - log_z).mean())
    assert result["log_likelihood"]["train"] == pytest.approx(ll, abs=1e-5)
    # plm on 500 exact draws: the fitted model reproduces the data's C_ij
    assert result["moments_pearson"]["correlations"] > 0.9
    assert "±1 spins" in result["moments_convention"]


def test_evaluate_a_run_without_data_spec_reads_the_alignment_with_its_alphabet(tiny_alignment,
                                                                                 tmp_path):
    """A run file written from Python (no data spec, only the alphabet): evaluate on a file."""
    from boltzkit.io import trajectory

    model = random_potts(4, 5, seed=5, scale=0.7).to(dtype=torch.float32)
    trajectory.create(tmp_path / "m.h5", {"model": model.config(), "alphabet": "-ACGU"})
    trajectory.append(tmp_path / "m.h5", 1, model.parameters(), 0.0, 0.0, checkpoint=True)
    result = evaluate_run(tmp_path / "m.h5", tiny_alignment / "train.fasta", moment_samples=100,
                          moment_steps=2)
    assert result["log_z"] == pytest.approx(brute_log_z(model.to(dtype=torch.float64)), abs=1e-4)
    assert result["log_likelihood"]["train"] < 0 and result["log_likelihood"]["test"] is None


def test_ais_matches_exact_log_z_of_a_small_potts_rbm():
    """AIS (forced) on a coupled Potts RBM (N = 6, q = 4, H = 5) against enumeration of 4^6
    states. 400 chains x 300 temperatures: the standard error across 8 runs is 0.004-0.009 over
    seeds 0-3 (deviations from exact <= 0.01); allow 4
    standard errors plus 0.02 for the (downward) AIS bias."""
    g = torch.Generator().manual_seed(11)
    rbm = PottsRBM(0.6 * torch.randn(6, 4, 5, generator=g, dtype=torch.float64),
                   0.5 * torch.randn(6, 4, generator=g, dtype=torch.float64),
                   0.5 * torch.randn(5, generator=g, dtype=torch.float64))
    exact = log_partition(rbm, "exact").value
    ais = log_partition(rbm, "ais", n_chains=400, n_steps=300, n_runs=8, seed=1)
    assert ais.method == "ais" and ais.error < 0.05
    assert abs(ais.value - exact) < 4 * ais.error + 0.02


def test_moment_sampling_reports_progress_and_gives_the_same_samples(tiny_alignment, tmp_path):
    """The moment samples are drawn in chunks of sweeps with the progress advanced between them
    (60 -> 99): the same samples as one `sample` call for Potts, Potts RBM and Ising models, and
    evaluate_run reports intermediate values during the sampling."""
    from boltzkit.evaluation.run_evaluation import _sample_with_progress
    from boltzkit.sampling.gibbs import sample

    g = torch.Generator().manual_seed(1)
    models = [random_potts(5, 3, seed=2),
              PottsRBM(torch.randn(5, 3, 2, generator=g), torch.zeros(5, 3), torch.zeros(2)),
              IsingModel(0.3 * torch.randn(6, generator=g),
                         0.1 * torch.ones(6, 6) - 0.1 * torch.eye(6))]
    for model in models:
        for steps in (1, 7, 83):
            seen = []
            chunked = _sample_with_progress(model, 40, steps, torch.Generator().manual_seed(5),
                                            seen.append)
            assert torch.equal(chunked, sample(model, 40, steps, torch.Generator().manual_seed(5)))
            assert seen == sorted(seen) and seen[-1] == 99 and all(60 <= v <= 99 for v in seen)
            assert len(seen) == {1: 1, 7: 7, 83: 28}[steps]  # chunks of ceil(steps / 40) sweeps
    spec = MSASpec(str(tiny_alignment / "train.fasta"), alphabet="rna")
    config = TrainingConfig(method="exact", n_updates=2, batch_size=1000, n_checkpoints=1)
    train_run(spec, tmp_path / "bm.h5", "potts-bm", 0, config)
    seen = []
    evaluate_run(tmp_path / "bm.h5", moment_samples=20, moment_steps=80, progress=seen.append)
    during = [v for v in seen if 60 < v < 100]
    assert len(during) >= 20 and during == sorted(during) and seen[-1] == 100
