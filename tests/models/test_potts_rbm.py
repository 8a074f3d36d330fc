"""Potts–Bernoulli RBM: energies, exact log Z, gauge, sampling, gradient, AIS, registry."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from boltzkit.models.base import Chains
from boltzkit.models.potts_rbm import (PottsRBM, _weighted_state_counts, enumerate_codes,
                                       independent_site_potts, site_frequencies)
from boltzkit.models.registry import model_from_config
from boltzkit.sampling.ais import ais_log_partition
from boltzkit.sampling.gibbs import run_chains
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def random_model(n_visible: int, q: int, n_hidden: int, scale: float = 1.0, seed: int = 0,
                 gauge: bool = False, bias_scale: float = 1.0) -> PottsRBM:
    g = torch.Generator().manual_seed(seed)
    model = PottsRBM(scale * torch.randn(n_visible, q, n_hidden, generator=g, dtype=torch.float64),
                     bias_scale * torch.randn(n_visible, q, generator=g, dtype=torch.float64),
                     torch.randn(n_hidden, generator=g, dtype=torch.float64))
    return model.zero_sum_gauge() if gauge else model


def all_hidden(n_hidden: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_hidden)), dtype=torch.float64)


def brute_force_log_z(model: PottsRBM) -> float:
    """log sum_{v,h} exp(-E(v, h)) over both layers with the joint energy."""
    v = enumerate_codes(model.n_visible, model.n_states)
    h = all_hidden(model.n_hidden)
    vv = v.repeat_interleave(len(h), 0)
    hh = h.repeat(len(v), 1)
    return float(torch.logsumexp(-model.energy(vv, hh), 0))


def exact_probabilities(model: PottsRBM) -> tuple[torch.Tensor, torch.Tensor]:
    states = model.enumerate_visible()
    return states, torch.softmax(-model.free_energy(states), 0)


def state_index(codes: torch.Tensor, q: int) -> torch.Tensor:
    powers = q ** torch.arange(codes.shape[1] - 1, -1, -1)
    return (codes.long() * powers).sum(1)


def test_free_energy_sums_out_hidden_units():
    model = random_model(3, 4, 5)
    v = enumerate_codes(3, 4)
    h = all_hidden(5)
    joint = -model.energy(v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)).reshape(len(v), len(h))
    assert torch.allclose(-model.free_energy(v), torch.logsumexp(joint, 1), atol=1e-12)
    hidden_marginal = torch.logsumexp(joint, 0)
    assert torch.allclose(-model.hidden_free_energy(h), hidden_marginal, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 3, 6)])  # hidden (32 < 81) / visible (27 < 64)
def test_exact_log_partition_matches_brute_force_over_both_layers(shape):
    model = random_model(*shape, scale=0.8)
    assert model.log_partition_exact() == pytest.approx(brute_force_log_z(model), abs=1e-10)


def test_zero_sum_gauge_leaves_the_distribution_unchanged():
    model = random_model(4, 3, 4, seed=3)  # not in the gauge
    gauged = model.zero_sum_gauge()
    assert torch.allclose(gauged.weights.sum(1), torch.zeros(4, 4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(gauged.visible_bias.sum(1), torch.zeros(4, dtype=torch.float64), atol=1e-12)
    states = model.enumerate_visible()
    shift = gauged.free_energy(states) - model.free_energy(states)
    # free energies move by one constant: sum_i mean_mu b_i^mu
    assert torch.allclose(shift, torch.full_like(shift, float(model.visible_bias.mean(1).sum())),
                          atol=1e-12)
    ll = -model.free_energy(states) - model.log_partition_exact()
    ll_gauged = -gauged.free_energy(states) - gauged.log_partition_exact()
    assert torch.allclose(ll, ll_gauged, atol=1e-12)


def test_after_update_is_in_place():
    model = random_model(3, 3, 2, seed=1)
    w, b, c = model.weights, model.visible_bias, model.hidden_bias
    model.after_update()
    assert model.weights is w and model.visible_bias is b and model.hidden_bias is c
    assert float(model.weights.sum(1).abs().max()) < 1e-12


def test_block_gibbs_reproduces_the_exact_distribution():
    """Chi-square of the joint histogram of 20000 independent chains (one final state each, so the
    samples are independent) against the exact p(v) over the 81 states. With a fixed seed the test
    is deterministic; p > 1e-3 is the acceptance level (a correct sampler fails it for 1 seed in
    1000), and the same samples must reject a perturbed model with p < 1e-6."""
    model = random_model(4, 3, 3, scale=0.7, seed=2, gauge=True, bias_scale=0.4)
    g = torch.Generator().manual_seed(0)
    n = 20000
    chains = run_chains(model.to(dtype=torch.float32), model.init_chains(n, g), 20, g)
    counts = torch.bincount(state_index(chains.visible, 3), minlength=81).double()
    _, p = exact_probabilities(model)
    assert float(p.min()) * n > 5  # every cell has enough expected counts for the chi-square law
    assert chisquare(counts.numpy(), (p * n).numpy()).pvalue > 1e-3

    wrong = model.clone()
    wrong.weights[0, 1, 0] += 0.3
    _, p_wrong = exact_probabilities(wrong)
    assert chisquare(counts.numpy(), (p_wrong * n).numpy()).pvalue < 1e-6


def exact_mean_log_likelihood(model: PottsRBM, data: torch.Tensor, weights: torch.Tensor) -> float:
    states = model.enumerate_visible()
    log_z = torch.logsumexp(-model.free_energy(states), 0)
    return float((weights / weights.sum()) @ (-model.free_energy(data) - log_z))


def test_gradient_matches_finite_differences_of_the_exact_log_likelihood():
    model = random_model(3, 3, 2, scale=0.8, seed=4)
    g = torch.Generator().manual_seed(5)
    data = torch.randint(0, 3, (40, 3), generator=g).double()
    weights = torch.rand(40, generator=g, dtype=torch.float64)
    states, p = exact_probabilities(model)
    exact_chains = Chains(states, None, p)
    grads = model.log_likelihood_gradient(data, exact_chains, weights, centered=False)

    eps = 1e-6
    for name, tensor in model.parameters().items():
        numeric = torch.zeros_like(tensor)
        for idx in itertools.product(*map(range, tensor.shape)):
            old = float(tensor[idx])
            tensor[idx] = old + eps
            up = exact_mean_log_likelihood(model, data, weights)
            tensor[idx] = old - eps
            down = exact_mean_log_likelihood(model, data, weights)
            tensor[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        assert torch.allclose(grads[name], numeric, atol=1e-7), name

    # the centered gradient is a fixed linear transform of the plain one (docs/methods.md section 6.1)
    centered = model.log_likelihood_gradient(data, exact_chains, weights, centered=True)
    w = weights / weights.sum()
    v_bar = w @ model.one_hot(data)
    h_bar = w @ model.transform(data)
    dw = grads["weights"].reshape(9, 2)
    db = grads["visible_bias"].reshape(9)
    dc = grads["hidden_bias"]
    cw = dw - torch.outer(v_bar, dc) - torch.outer(db, h_bar)
    assert torch.allclose(centered["weights"].reshape(9, 2), cw, atol=1e-12)
    assert torch.allclose(centered["visible_bias"].reshape(9), db - cw @ h_bar, atol=1e-12)
    assert torch.allclose(centered["hidden_bias"], dc - v_bar @ cw, atol=1e-12)
    # the trainer's centered coordinates (W, b', c'): same W gradient by the chain rule
    centering = model.centering(data, weights)
    assert torch.allclose(centering.to_centered(grads)["weights"], centered["weights"], atol=1e-12)


def test_centered_coordinates_map_back_to_the_same_model():
    """Moving W in the centered parametrisation and restoring (b, c) leaves every energy equal to
    the centered-form energy with the new W and the old (b', c')."""
    model = random_model(3, 3, 2, seed=12)
    g = torch.Generator().manual_seed(13)
    data = torch.randint(0, 3, (30, 3), generator=g).double()
    centering = model.centering(data)
    x_bar, h_bar = centering.visible.reshape(-1), centering.hidden
    w = model.weights.reshape(9, 2)
    b_prime = model.visible_bias.reshape(-1) + w @ h_bar
    c_prime = model.hidden_bias + x_bar @ w
    previous = {k: v.clone() for k, v in model.parameters().items()}
    model.weights.add_(0.3 * torch.randn(3, 3, 2, generator=g, dtype=torch.float64))
    centering.restore(model.parameters(), previous)
    v = enumerate_codes(3, 3)
    h = all_hidden(2)
    vv, hh = v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)
    xc = model.one_hot(vv) - x_bar
    hc = hh - h_bar
    centered_energy = -((xc @ model.weights.reshape(9, 2)) * hc).sum(-1) - xc @ b_prime - hc @ c_prime
    difference = model.energy(vv, hh) - centered_energy
    assert float(difference.max() - difference.min()) < 1e-12


def test_ais_matches_exact_log_partition():
    model = random_model(8, 4, 6, scale=0.6, seed=6, gauge=True).to(dtype=torch.float32)
    exact = model.log_partition_exact()
    g = torch.Generator().manual_seed(0)
    result = ais_log_partition(model, n_chains=400, n_steps=300, n_runs=8, generator=g)
    assert abs(result.log_z - exact) < max(4 * result.error, 0.05)


def test_annealing_base_is_the_independent_site_model():
    model = random_model(3, 3, 4, seed=7)
    base = model.annealed(0.0)
    assert base.log_partition_exact() == pytest.approx(model.annealing_base_log_partition(), abs=1e-10)
    assert torch.equal(model.annealed(1.0).weights, model.weights)


def test_init_from_data_and_independent_site_model():
    g = torch.Generator().manual_seed(8)
    data = torch.randint(0, 4, (500, 5), generator=g)
    weights = torch.rand(500, generator=g, dtype=torch.float64)
    model = PottsRBM.init_from_data(data.float(), 7, 4, g, data_weights=weights.float(),
                                    pseudocount=0.0)
    assert model.weights.shape == (5, 4, 7) and model.dtype == torch.float32
    assert float(model.weights.sum(1).abs().max()) < 1e-6
    f = torch.nn.functional.one_hot(data, 4).double()
    f = torch.einsum("m,miq->iq", weights / weights.sum(), f)
    assert torch.allclose(torch.softmax(model.visible_bias.double(), 1), f, atol=1e-5)

    # independent-site log-likelihood = sum_i sum_mu f log f (no pseudocount)
    indep = independent_site_potts(data, 4, weights, pseudocount=0.0)
    ll = exact_mean_log_likelihood(indep, data.double(), weights)
    assert ll == pytest.approx(float((f * torch.log(f)).sum()), abs=1e-10)


def one_hot_frequencies(codes: torch.Tensor, q: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The direct computation: the float64 one-hot tensor of every sample, averaged."""
    x = torch.nn.functional.one_hot(codes.long(), q).double()
    return x.mean(0) if weights is None else torch.einsum("m,miq->iq", weights.double() / weights.sum(), x)


@pytest.mark.parametrize("codes_dtype", [torch.int64, torch.int8, torch.float32])
def test_site_frequencies_by_bins_equal_the_one_hot_average(codes_dtype):
    g = torch.Generator().manual_seed(5)
    codes = torch.randint(0, 6, (700, 9), generator=g)
    codes[:100, 3] = 0  # a gap-rich column
    codes[:, 5] = 2  # a constant column: the other states are 0
    weights = torch.rand(700, generator=g, dtype=torch.float64)
    for w in (None, weights, weights.float()):
        got = site_frequencies(codes.to(codes_dtype), 6, w)
        assert got.shape == (9, 6) and got.dtype == torch.float64
        ref = one_hot_frequencies(codes, 6, None if w is None else w.double())
        # float64 sums of 700 terms in another order: 1e-12 is far above their rounding (~1e-16)
        assert torch.allclose(got, ref, rtol=0, atol=1e-12)
    lam = 0.1
    got = site_frequencies(codes.to(codes_dtype), 6, weights, pseudocount=lam, dtype=torch.float32)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), (1 - lam) * one_hot_frequencies(codes, 6, weights) + lam / 6,
                          rtol=0, atol=1e-7)  # float32 result: its rounding
    # blocks of 5 rows (45 codes): ragged blocks give the same sums
    blocked = _weighted_state_counts(codes, 6, weights, block=45)
    assert torch.allclose(blocked, _weighted_state_counts(codes, 6, weights), rtol=0, atol=1e-12)


def test_site_frequencies_edge_cases_and_checks():
    one = torch.tensor([[0, 3, 1]])
    assert torch.equal(site_frequencies(one, 4), torch.nn.functional.one_hot(one[0], 4).double())
    same = one.repeat(5, 1)
    w = torch.tensor([1.0, 2.0, 0.0, 0.5, 3.0])
    assert torch.allclose(site_frequencies(same, 4, w), site_frequencies(one, 4), rtol=0, atol=1e-15)
    gaps = torch.zeros(4, 2, dtype=torch.int64)
    expected = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.equal(site_frequencies(gaps, 3), expected)
    assert torch.allclose(site_frequencies(gaps, 3, pseudocount=0.3), 0.7 * expected + 0.1)
    with pytest.raises(ValueError, match="codes"):
        site_frequencies(same, 3)
    with pytest.raises(ValueError, match="codes"):
        site_frequencies(same[:0], 4)
    with pytest.raises(ValueError, match="weights"):
        site_frequencies(same, 4, -w)
    with pytest.raises(ValueError, match="weights"):
        site_frequencies(same, 4, w[:3])
    with pytest.raises(ValueError, match="pseudocount"):
        site_frequencies(same, 4, pseudocount=1.5)
    with pytest.raises(ValueError, match="q"):
        site_frequencies(same, 0)


def test_exact_training_increases_likelihood_and_keeps_the_gauge():
    true = random_model(4, 3, 3, scale=1.0, seed=9, gauge=True)
    states, p = exact_probabilities(true)
    g = torch.Generator().manual_seed(1)
    data = states[torch.multinomial(p, 3000, replacement=True, generator=g)].float()
    model = PottsRBM.init_from_data(data, 3, 3, g, weight_std=0.1)
    before = exact_mean_log_likelihood(model.to(dtype=torch.float64), data.double(),
                                       torch.ones(len(data), dtype=torch.float64))
    config = TrainingConfig(method="exact", n_updates=150, batch_size=3000, learning_rate=0.05,
                            optimizer="adam", n_checkpoints=1)
    Trainer(model, data, config).run()
    after = exact_mean_log_likelihood(model.to(dtype=torch.float64), data.double(),
                                      torch.ones(len(data), dtype=torch.float64))
    assert after > before + 0.01
    assert float(model.weights.sum(1).abs().max()) < 1e-5


def test_registry_round_trip_and_shapes():
    model = random_model(3, 5, 2).to(dtype=torch.float32)
    config = model.config()
    assert config == {"kind": "potts-rbm", "family": "potts-rbm", "n_visible": 3, "n_states": 5,
                      "n_hidden": 2}
    rebuilt = model_from_config(config, {k: v.clone() for k, v in model.parameters().items()})
    v = model.init_chains(10, torch.Generator().manual_seed(0)).visible
    assert v.dtype == torch.float32 and v.shape == (10, 3)
    assert torch.equal(rebuilt.free_energy(v), model.free_energy(v))
    # integer and float codes give the same energies
    assert torch.equal(model.free_energy(v.long()), model.free_energy(v))
    step = model.sample_step(Chains(v), torch.Generator().manual_seed(1))
    assert step.visible.shape == (10, 3) and step.hidden.shape == (10, 2)
    assert bool(((step.visible >= 0) & (step.visible < 5)).all())


def test_int8_codes_are_accepted():
    # data from read_msa are int8 ndarrays: they go through torch.as_tensor unchanged
    codes = np.array([[0, 1, 2], [2, 2, 0]], dtype=np.int8)
    model = random_model(3, 3, 2)
    x = torch.as_tensor(codes)
    assert model.free_energy(x).shape == (2,)


PF00072 = Path(__file__).resolve().parents[3] / "shared" / "data" / "msa" / "PF00072"


def test_short_training_on_pf00072_beats_the_independent_site_model():
    """1500 training / 1000 test sequences of PF00072, 8 hidden units, 100 Adam updates of PCD-5:
    the exact test log-likelihood (log Z over the 2**8 hidden states) beats the independent-site
    model fitted on the same reweighted sequences by several nats per sequence (≈ 13 here; the
    full benchmark is benchmarks/potts_rbm_pf00072.py)."""
    from boltzkit.data.msa import read_msa
    from boltzkit.data.reweighting import sequence_weights
    from boltzkit.evaluation.likelihood import log_likelihood

    train_file, test_file = PF00072 / "PF00072_train=0.6.fasta.gz", PF00072 / "PF00072_test=0.4.fasta.gz"
    if not (train_file.exists() and test_file.exists()):
        pytest.skip("PF00072 split not available")
    rng = np.random.default_rng(0)
    train, test = read_msa(train_file), read_msa(test_file)
    x_train = torch.as_tensor(train.sequences[rng.choice(train.n_sequences, 1500, replace=False)]
                              .astype(np.int64)).float()
    x_test = torch.as_tensor(test.sequences[rng.choice(test.n_sequences, 1000, replace=False)]
                             .astype(np.int64)).float()
    weights = torch.as_tensor(sequence_weights(x_train.long(), 0.8, q=21))
    baseline = independent_site_potts(x_train, 21, weights, pseudocount=3e-3)
    baseline_ll = log_likelihood(baseline, x_test, baseline.log_partition_exact())[0]
    model = PottsRBM.init_from_data(x_train, 8, 21, torch.Generator().manual_seed(0),
                                    data_weights=weights.float(), pseudocount=3e-3)
    config = TrainingConfig(method="pcd", n_updates=100, batch_size=300, n_chains=300,
                            gibbs_steps=5, learning_rate=0.01, optimizer="adam", n_checkpoints=1)
    Trainer(model, x_train, config, weights).run()
    rbm_ll = log_likelihood(model, x_test, model.log_partition_exact())[0]
    print(f"PF00072 test log-likelihood: Potts RBM {rbm_ll:.2f}, independent sites {baseline_ll:.2f}")
    assert rbm_ll > baseline_ll + 3.0
