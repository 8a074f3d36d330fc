"""Exact training converges to its fixed point: moment matching (docs/methods.md section 6.1).

The maximum-likelihood fixed point of an RBM is <v_i>_D = <v_i>_M, <h_a>_D = <h_a>_M and
<v_i h_a>_D = <v_i h_a>_M, with the data terms Rao-Blackwellised (h replaced by <h|v>). With an
L2 penalty l2/2 |W|^2 on the weights, the fixed point becomes <v_i h_a>_D - <v_i h_a>_M = l2 W_ia
with the bias moments still matched. Training with method="exact" (full batch, model term by
enumeration) must reach it whatever the optimizer or the centering, since centering only
preconditions the gradient.

Why the two set-ups below. On 300 rows drawn from a 6-unit distribution, an RBM with 4 hidden
units has no finite maximum-likelihood point within reach: its weights keep growing (|W|max
2.0 -> 4.6 -> 5.4 after 10^3, 10^4, 2.10^4 exact SGD updates, log-likelihood -3.114 -> -3.082 ->
-3.076) while the largest moment mismatch creeps down (1.7e-3, 1.0e-3, 5.9e-4), so "converged to
1e-3" depends on the budget rather than on the code. Two problems with a finite
optimum are used instead:

* realizable data: all 64 states weighted by the probabilities of a teacher RBM with the same
  shape, so that the maximum is the teacher's distribution itself (moments match exactly);
* 300 structured rows with a small L2 penalty (l2 = 0.01), which makes the optimum finite.
"""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.rbm import RBM
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

pytestmark = pytest.mark.usefixtures("single_thread")

# Target of the brief. The runs below reach 2e-6..2e-4 (measured), a margin of >= 5.
TOL_MOMENTS = 1e-3


def exact_moments(model: RBM, data: torch.Tensor, weights: torch.Tensor | None):
    """(<v>, <h>, <v h^T>) of the data (Rao-Blackwellised) and of the model (exact), float64."""
    w = torch.full((len(data),), 1.0 / len(data), dtype=torch.float64) if weights is None \
        else weights / weights.sum()
    hd = model.transform(data)
    states = model.enumerate_visible()
    p = torch.softmax(-model.free_energy(states), 0)
    hm = model.transform(states)
    data_m = (w @ data, w @ hd, torch.einsum("n,ni,na->ia", w, data, hd))
    model_m = (p @ states, p @ hm, torch.einsum("n,ni,na->ia", p, states, hm))
    return data_m, model_m


def train_exact(model, data, weights, *, centered, optimizer, learning_rate, n_updates, l2=0.0):
    config = TrainingConfig(method="exact", n_updates=n_updates, batch_size=len(data),
                            learning_rate=learning_rate, optimizer=optimizer, centered=centered,
                            l2=l2, dtype="float64", n_checkpoints=1)
    return Trainer(model, data, config, data_weights=weights).run()


SETTINGS = [  # (centered, optimizer, learning rate, updates): measured to reach <= 2e-4
    pytest.param(True, "sgd", 1.0, 2000, id="centered-sgd"),
    pytest.param(False, "sgd", 1.0, 2000, id="plain-sgd"),
    pytest.param(True, "adam", 0.003, 1000, id="centered-adam"),
    pytest.param(False, "adam", 0.003, 1000, id="plain-adam"),
]


@pytest.mark.parametrize(("centered", "optimizer", "learning_rate", "n_updates"), SETTINGS)
def test_exact_training_matches_moments_of_realizable_data(make_rbm, centered, optimizer,
                                                           learning_rate, n_updates):
    teacher = make_rbm(6, 4, "bernoulli", scale=1.0, seed=5)
    data = teacher.enumerate_visible()
    weights = torch.softmax(-teacher.free_energy(data), 0)
    g = torch.Generator().manual_seed(0)
    student = RBM.init_from_data(data, 4, generator=g, weight_std=0.1, data_weights=weights)

    (v0, h0, vh0), (mv0, mh0, mvh0) = exact_moments(student, data, weights)
    assert (vh0 - mvh0).abs().max() > 10 * TOL_MOMENTS  # the start is far from the fixed point

    train_exact(student, data, weights, centered=centered, optimizer=optimizer,
                learning_rate=learning_rate, n_updates=n_updates)
    (v, h, vh), (mv, mh, mvh) = exact_moments(student, data, weights)
    torch.testing.assert_close(mv, v, rtol=0, atol=TOL_MOMENTS)
    torch.testing.assert_close(mh, h, rtol=0, atol=TOL_MOMENTS)
    torch.testing.assert_close(mvh, vh, rtol=0, atol=TOL_MOMENTS)


# Measured with the fix: 2e-5 (centered Adam), 2e-6 (plain Adam), 7e-5 (centered SGD). Plain SGD
# needs lr <= 0.5 here (lr 1 cycles) and 2000+ updates: it is covered by the realizable test.
@pytest.mark.parametrize(("centered", "optimizer", "learning_rate", "n_updates"), [
    pytest.param(True, "adam", 0.01, 750, id="centered-adam"),
    pytest.param(False, "adam", 0.01, 1000, id="plain-adam"),
    pytest.param(True, "sgd", 1.0, 1000, id="centered-sgd"),
])
def test_exact_training_with_l2_reaches_the_penalised_fixed_point(structured_data, centered,
                                                                   optimizer, learning_rate,
                                                                   n_updates):
    l2 = 0.01
    data = structured_data(300, 6, seed=0)
    g = torch.Generator().manual_seed(0)
    model = RBM.init_from_data(data, 4, generator=g, weight_std=0.1)
    train_exact(model, data, None, centered=centered, optimizer=optimizer,
                learning_rate=learning_rate, n_updates=n_updates, l2=l2)
    (v, h, vh), (mv, mh, mvh) = exact_moments(model, data, None)
    # Guard: the penalty term is not negligible, so the two fixed points differ measurably.
    assert float((l2 * model.weights).abs().max()) > 5 * TOL_MOMENTS
    torch.testing.assert_close(mv, v, rtol=0, atol=TOL_MOMENTS)
    torch.testing.assert_close(mh, h, rtol=0, atol=TOL_MOMENTS)
    torch.testing.assert_close(vh - mvh, l2 * model.weights, rtol=0, atol=TOL_MOMENTS)
