"""The log-likelihood gradient of the binary RBM against finite differences of the exact
log-likelihood, and the centered gradient against its definition (docs/methods.md section 6.1).

L(theta) = sum_n w_n (-F(x_n)) / sum_n w_n - log Z(theta), with log Z by double enumeration
(tests/conftest.py), so the reference shares no code with the gradient under test.
"""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.base import Chains
from boltzkit.models.rbm import RBM
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")

# Central differences with step 1e-5 in float64: truncation h^2/6 |L'''| ~ 1e-11 and round-off
# eps |L| / h ~ 1e-10; 1e-6 (the brief's target) is 1e4 above both and far below any real error
# (a missing term of the gradient is O(0.1) for these parameters).
FD_STEP = 1e-5
TOL_GRAD = 1e-6


def exact_mean_log_likelihood(model: RBM, data: torch.Tensor, weights: torch.Tensor | None,
                              brute) -> float:
    w = torch.ones(len(data), dtype=torch.float64) if weights is None else weights.double()
    mean_minus_f = float((w * -brute.free_energy(model, data)).sum() / w.sum())
    return mean_minus_f - brute.log_z(model)


def finite_difference_gradient(model: RBM, data, weights, brute) -> dict[str, torch.Tensor]:
    grads = {}
    for name, tensor in model.parameters().items():
        g = torch.zeros_like(tensor)
        flat, gflat = tensor.view(-1), g.view(-1)
        for k in range(flat.numel()):
            old = float(flat[k])
            flat[k] = old + FD_STEP
            up = exact_mean_log_likelihood(model, data, weights, brute)
            flat[k] = old - FD_STEP
            down = exact_mean_log_likelihood(model, data, weights, brute)
            flat[k] = old
            gflat[k] = (up - down) / (2 * FD_STEP)
        grads[name] = g
    return grads


def exact_model_chains(model: RBM, brute) -> Chains:
    """Every visible state with its exact probability (double enumeration)."""
    states, probs = brute.distribution(model)
    return Chains(states, None, probs)


@pytest.fixture
def tiny_problem(make_rbm):
    def make(units: str, weighted: bool):
        model = make_rbm(5, 3, units, scale=0.7, seed=21 if units == "bernoulli" else 22)
        g = torch.Generator().manual_seed(4)
        data = (torch.rand(40, 5, generator=g, dtype=torch.float64) < 0.3).double()
        data = model.visible_units.from_bernoulli(data)
        weights = torch.rand(40, generator=g, dtype=torch.float64) + 0.2 if weighted else None
        return model, data, weights

    return make


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_gradient_matches_finite_differences(tiny_problem, brute, units, weighted):
    model, data, weights = tiny_problem(units, weighted)
    fd = finite_difference_gradient(model, data, weights, brute)
    grads = model.log_likelihood_gradient(data, exact_model_chains(model, brute), weights,
                                          centered=False)
    assert set(grads) == set(model.parameters())
    for name in fd:
        torch.testing.assert_close(grads[name], fd[name], rtol=0, atol=TOL_GRAD, msg=name)


def test_gradient_is_not_trivially_small(tiny_problem, brute):
    """Guard of the test above: the gradient is O(0.1), so 1e-6 agreement means something."""
    model, data, _ = tiny_problem("bernoulli", False)
    fd = finite_difference_gradient(model, data, None, brute)
    assert all(float(g.abs().max()) > 1e-2 for g in fd.values())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_centered_gradient_follows_its_definition(tiny_problem, brute, units, weighted):
    """docs/methods.md section 6.1: centre v and h on the data means (v̄, h̄);
    ΔW = <(v-v̄)(h-h̄)ᵀ>_D - <(v-v̄)(h-h̄)ᵀ>_M, Δb = <v>_D - <v>_M - ΔW h̄, Δc = <h>_D - <h>_M - v̄ᵀΔW."""
    model, data, weights = tiny_problem(units, weighted)
    chains = exact_model_chains(model, brute)
    wd = (torch.ones(len(data), dtype=torch.float64) if weights is None else weights)
    wd = wd / wd.sum()
    hd, hm = model.transform(data), model.transform(chains.visible)
    v_bar, h_bar = wd @ data, wd @ hd
    outer_d = torch.einsum("n,ni,na->ia", wd, data - v_bar, hd - h_bar)
    outer_m = torch.einsum("n,ni,na->ia", chains.weights, chains.visible - v_bar, hm - h_bar)
    dw = outer_d - outer_m
    db = v_bar - chains.weights @ chains.visible - dw @ h_bar
    dc = h_bar - chains.weights @ hm - v_bar @ dw

    got = model.log_likelihood_gradient(data, chains, weights, centered=True)
    # A few float64 sums of O(1) terms.
    torch.testing.assert_close(got["weights"], dw, rtol=0, atol=1e-12)
    torch.testing.assert_close(got["visible_bias"], db, rtol=0, atol=1e-12)
    torch.testing.assert_close(got["hidden_bias"], dc, rtol=0, atol=1e-12)

    # Centering changes the direction but not the fixed point: the centered gradient is an
    # invertible linear map of the plain one, so it vanishes exactly when the plain one does.
    plain = model.log_likelihood_gradient(data, chains, weights, centered=False)
    assert not torch.allclose(got["weights"], plain["weights"], atol=1e-3)


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_exact_training_step_ascends_the_exact_gradient(tiny_problem, brute, units):
    """Trainer(method="exact"): the model term enumerates the visible states with weights p(v);
    one full-batch SGD step with learning rate 1 moves theta by exactly dL/dtheta."""
    model, data, _ = tiny_problem(units, False)
    fd = finite_difference_gradient(model, data, None, brute)
    before = {k: v.clone() for k, v in model.parameters().items()}
    config = TrainingConfig(method="exact", n_updates=1, batch_size=len(data), learning_rate=1.0,
                            optimizer="sgd", centered=False, dtype="float64")
    trainer = Trainer(model, data, config)
    chains = trainer._negative_chains(data)
    states, probs = brute.distribution(model)
    order = brute.index(chains.visible, model.visible_units)
    torch.testing.assert_close(chains.weights, probs[order], rtol=0, atol=1e-12)
    trainer.step()
    for name, tensor in model.parameters().items():
        torch.testing.assert_close(tensor - before[name], fd[name], rtol=0, atol=TOL_GRAD,
                                   msg=name)


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.3), (0.05, 0.0), (0.05, 0.3)])
def test_weight_penalties_are_the_documented_loss(tiny_problem, brute, l1, l2):
    """TrainingConfig: penalties added to the loss as l1 |W| + l2/2 W^2 (weights only)."""
    model, data, _ = tiny_problem("bernoulli", False)
    fd = finite_difference_gradient(model, data, None, brute)
    w0 = model.weights.clone()
    fd["weights"] -= l1 * torch.sign(w0) + l2 * w0  # d/dW of -(l1 |W| + l2/2 W^2)
    before = {k: v.clone() for k, v in model.parameters().items()}
    config = TrainingConfig(method="exact", n_updates=1, batch_size=len(data), learning_rate=1.0,
                            centered=False, l1=l1, l2=l2, dtype="float64")
    Trainer(model, data, config).step()
    for name, tensor in model.parameters().items():
        torch.testing.assert_close(tensor - before[name], fd[name], rtol=0, atol=TOL_GRAD,
                                   msg=name)


def centering_map(g: dict[str, torch.Tensor], v_bar: torch.Tensor, h_bar: torch.Tensor):
    """The centered update as a linear map of the plain gradient (docs/methods.md section 6.1, expanded):
    ΔW = g_W - v̄ g_cᵀ - g_b h̄ᵀ, Δb = g_b - ΔW h̄, Δc = g_c - ΔWᵀ v̄."""
    dw = g["weights"] - torch.outer(v_bar, g["hidden_bias"]) - torch.outer(g["visible_bias"], h_bar)
    return {"weights": dw, "visible_bias": g["visible_bias"] - dw @ h_bar,
            "hidden_bias": g["hidden_bias"] - v_bar @ dw}


def test_centering_map_reproduces_the_centered_gradient(tiny_problem, brute):
    """Sanity of the expansion used below: map(plain gradient) == centered gradient."""
    model, data, _ = tiny_problem("bernoulli", False)
    chains = exact_model_chains(model, brute)
    plain = model.log_likelihood_gradient(data, chains, centered=False)
    centered = model.log_likelihood_gradient(data, chains, centered=True)
    mapped = centering_map(plain, data.mean(0), model.transform(data).mean(0))
    for name in centered:
        torch.testing.assert_close(mapped[name], centered[name], rtol=0, atol=1e-12, msg=name)


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.3), (0.05, 0.0)])
def test_centered_update_is_the_centering_of_the_penalised_gradient(tiny_problem, brute, l1, l2):
    """Centering preconditions the gradient of the *penalised* objective L - l1|W| - l2/2 W^2:
    the update must be map(d/dθ of it), which vanishes exactly at the penalised optimum."""
    model, data, _ = tiny_problem("bernoulli", False)
    fd = finite_difference_gradient(model, data, None, brute)
    w0 = model.weights.clone()
    fd["weights"] -= l1 * torch.sign(w0) + l2 * w0
    expected = centering_map(fd, data.mean(0), model.transform(data).mean(0))
    before = {k: v.clone() for k, v in model.parameters().items()}
    config = TrainingConfig(method="exact", n_updates=1, batch_size=len(data), learning_rate=1.0,
                            centered=True, l1=l1, l2=l2, dtype="float64")
    Trainer(model, data, config).step()
    for name, tensor in model.parameters().items():
        torch.testing.assert_close(tensor - before[name], expected[name], rtol=0, atol=TOL_GRAD,
                                   msg=name)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gradient_reuses_the_hidden_means_of_the_centering(tiny_problem, weighted):
    """centering() keeps <h|v> of the data; passed back as data_hidden, the gradient is the same
    (bit for bit: the same tensor enters the same operations)."""
    model, data, weights = tiny_problem("bernoulli", weighted)
    chains = model.init_chains(30, torch.Generator().manual_seed(3))
    centering = model.centering(data, weights)
    assert torch.equal(centering.data_hidden, model.transform(data))
    for centered in (False, True):
        plain = model.log_likelihood_gradient(data, chains, weights, centered)
        reused = model.log_likelihood_gradient(data, chains, weights, centered,
                                               data_hidden=centering.data_hidden)
        for name in plain:
            assert torch.equal(plain[name], reused[name])
