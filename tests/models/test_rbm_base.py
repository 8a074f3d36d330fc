"""The code the binary RBM and the Potts RBM share (boltzkit.models.rbm_base)."""

import pytest
import torch

from boltzkit.models.base import Chains
from boltzkit.models.potts_rbm import PottsRBM, one_hot_flat
from boltzkit.models.rbm import RBM
from boltzkit.models.rbm_base import Centering, RBMBase, gradient_terms
from boltzkit.models.units import BERNOULLI, SPIN, random_uniform


def potts_model(seed=0, n_visible=4, q=3, n_hidden=3, dtype=torch.float64) -> PottsRBM:
    g = torch.Generator().manual_seed(seed)
    return PottsRBM(0.7 * torch.randn(n_visible, q, n_hidden, generator=g, dtype=dtype),
                    0.4 * torch.randn(n_visible, q, generator=g, dtype=dtype),
                    torch.randn(n_hidden, generator=g, dtype=dtype))


def spin_model(seed=0) -> RBM:
    g = torch.Generator().manual_seed(seed)
    return RBM(0.5 * torch.randn(5, 3, generator=g, dtype=torch.float64),
               torch.randn(5, generator=g, dtype=torch.float64),
               torch.randn(3, generator=g, dtype=torch.float64), SPIN, SPIN)


def test_copies_keep_the_class_and_units_and_potts_is_not_an_rbm():
    """Dispatch in interpret/ tests isinstance(model, PottsRBM) before RBM: the base must not make
    a Potts RBM an RBM, and copies must keep the class and the unit types."""
    rbm, potts = spin_model(), potts_model()
    assert isinstance(rbm, RBMBase) and isinstance(potts, RBMBase) and not isinstance(potts, RBM)
    for copy in (rbm.clone(), rbm.to(dtype=torch.float32), rbm.annealed(0.5)):
        assert type(copy) is RBM and (copy.visible_units, copy.hidden_units) == (SPIN, SPIN)
    for copy in (potts.clone(), potts.to(dtype=torch.float32), potts.annealed(0.5)):
        assert type(copy) is PottsRBM and copy.n_states == 3 and copy.n_hidden == 3
    assert potts.clone().weights is not potts.weights
    assert torch.equal(potts.annealed(0.5).weights, 0.5 * potts.weights)
    assert torch.equal(potts.annealed(0.5).visible_bias, potts.visible_bias)
    with pytest.raises(ValueError, match="do not match"):
        PottsRBM(potts.weights, potts.visible_bias[:, :2], potts.hidden_bias)
    with pytest.raises(ValueError, match="do not match"):
        RBM(rbm.weights, rbm.visible_bias, rbm.hidden_bias[:2])
    with pytest.raises(ValueError, match="n_visible, n_hidden"):
        RBM(potts.weights, potts.visible_bias, potts.hidden_bias)


def test_potts_hidden_sampling_uses_the_fast_uniforms_and_is_reproducible():
    """h ~ p(h|v) is [sigmoid(beta x) + u >= 1] with u from random_uniform driven by the generator:
    the same generator state gives the same draws, bit for bit."""
    model = potts_model(dtype=torch.float32)
    v = torch.randint(0, 3, (200, 4), generator=torch.Generator().manual_seed(1)).float()
    h = model.sample_hidden(v, torch.Generator().manual_seed(7), beta=0.6)
    u = random_uniform((200, 3), torch.Generator().manual_seed(7), dtype=torch.float32)
    expected = (torch.sigmoid(0.6 * model.hidden_field(v)) + u >= 1.0).float()
    assert h.dtype == torch.float32 and torch.equal(h, expected)
    assert torch.equal(h, model.sample_hidden(v, torch.Generator().manual_seed(7), beta=0.6))


def test_potts_hidden_sampling_has_the_conditional_law():
    """Mean of 40000 draws of h | v against sigmoid(field); the standard error is at most
    0.5 / sqrt(40000) = 0.0025, so a 5-sigma tolerance of 0.0125 fails a correct sampler with
    probability < 1e-5 per unit (and the seed is fixed)."""
    model = potts_model(seed=3)
    v = torch.tensor([[0.0, 2.0, 1.0, 1.0]]).expand(40000, 4)
    h = model.sample_hidden(v, torch.Generator().manual_seed(0))
    assert torch.allclose(h.mean(0), model.transform(v[:1])[0], atol=0.0125)


def test_one_centering_class_serves_both_models():
    """The Potts RBM's centering is the binary RBM's Centering; it keeps <h|v> of the data, and
    the gradient given that <h|v> is the gradient computed without it."""
    model = potts_model(seed=2)
    g = torch.Generator().manual_seed(4)
    data = torch.randint(0, 3, (30, 4), generator=g).double()
    weights = torch.rand(30, generator=g, dtype=torch.float64)
    chains = Chains(torch.randint(0, 3, (20, 4), generator=g).double())
    centering = model.centering(data, weights)
    assert type(centering) is Centering
    assert centering.visible.shape == (4, 3) and centering.hidden.shape == (3,)
    assert torch.equal(centering.data_hidden, model.transform(data))
    for centered in (True, False):
        with_h = model.log_likelihood_gradient(data, chains, weights, centered,
                                               data_hidden=centering.data_hidden)
        without = model.log_likelihood_gradient(data, chains, weights, centered)
        for name in with_h:
            assert torch.equal(with_h[name], without[name])


def test_potts_gradient_is_the_binary_gradient_of_the_one_hot_units():
    """gradient_terms on the flattened one-hot encoding, reshaped, is the Potts RBM's gradient;
    uniform weights (None) equal explicit weights 1/n up to rounding."""
    model = potts_model(seed=5)
    g = torch.Generator().manual_seed(6)
    data = torch.randint(0, 3, (25, 4), generator=g).double()
    chains = Chains(torch.randint(0, 3, (15, 4), generator=g).double())
    x_d, x_m = one_hot_flat(data, 3, torch.float64), one_hot_flat(chains.visible, 3, torch.float64)
    h_d, h_m = model.transform(data), model.transform(chains.visible)
    uniform_d, uniform_m = torch.full((25,), 1 / 25, dtype=torch.float64), torch.full((15,), 1 / 15, dtype=torch.float64)
    for centered in (True, False):
        grads = model.log_likelihood_gradient(data, chains, None, centered)
        gw, gb, gc = gradient_terms(x_d, h_d, uniform_d, x_m, h_m, uniform_m, centered)
        assert torch.allclose(grads["weights"], gw.reshape(4, 3, 3), atol=1e-14)
        assert torch.allclose(grads["visible_bias"], gb.reshape(4, 3), atol=1e-14)
        assert torch.allclose(grads["hidden_bias"], gc, atol=1e-14)


@pytest.mark.parametrize("n_hidden", [2, 9])
def test_potts_exact_log_partition_over_either_layer(n_hidden):
    """2 hidden units: the sum runs over the 4 hidden states (shared binary-layer enumeration);
    9: over the 81 visible states. Both against the brute-force sum of exp(-F(v))."""
    model = potts_model(seed=n_hidden, n_hidden=n_hidden)
    states = model.enumerate_visible()
    brute = float(torch.logsumexp(-model.free_energy(states), 0))
    assert model.log_partition_exact(chunk_size=3) == pytest.approx(brute, abs=1e-12)


def test_binary_centering_restore_is_the_same_model():
    """Restore after a step in centered coordinates (W, b', c') gives b = b' - W h̄, c = c' - Wᵀ v̄
    for the binary RBM too (shared class): the centered energy is unchanged up to a constant."""
    model = RBM.init_from_data((torch.rand(50, 5, generator=torch.Generator().manual_seed(2)) < 0.4).double(),
                               3, BERNOULLI, torch.Generator().manual_seed(3), weight_std=0.5)
    data = (torch.rand(50, 5, generator=torch.Generator().manual_seed(2)) < 0.4).double()
    centering = model.centering(data)
    v, h = BERNOULLI.enumerate(5, dtype=torch.float64), torch.ones(32, 3, dtype=torch.float64)

    def centered_energy(m, b_prime, c_prime):
        return -(((v - centering.visible) @ m.weights) * (h - centering.hidden)).sum(-1) \
            - (v - centering.visible) @ b_prime - (h - centering.hidden) @ c_prime

    b_prime = model.visible_bias + model.weights @ centering.hidden
    c_prime = model.hidden_bias + centering.visible @ model.weights
    previous = {k: t.clone() for k, t in model.parameters().items()}
    model.weights.add_(0.2)
    centering.restore(model.parameters(), previous)
    diff = model.energy(v, h) - centered_energy(model, b_prime, c_prime)
    assert float(diff.max() - diff.min()) < 1e-12
